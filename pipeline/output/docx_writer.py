"""Word output: `write_docx(blocks, path)` writes a draft as a GB/T 9704-styled .docx (layout in
`docx_layout`).

Every file is built on one prepared template (the stock python-docx template with this project's
defaults, styles, page set-up, footers and font table; `docx_template.build_template`), made once and
kept in the temp folder. A plain draft — no comments, ordinary text — is written without python-docx:
its paragraphs become `word/document.xml` here, its core properties `docProps/core.xml`, and every
other part is copied from the template as it is (`docx_package`). The file is byte for byte what
python-docx writes for the same draft (zip entry times aside; `tests/test_docx_package.py`), at a
fraction of the time, and a `shuzhi draft` does not import python-docx at all. An annotated copy
(comments add parts to the package), or a draft python-docx would refuse (a title over 255
characters, a character XML cannot hold), is built through python-docx (`docx_template`).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from pipeline.drafting.fill import format_cn_date
from pipeline.fsutil import atomic_write_bytes
from pipeline.models import WordBlock
from pipeline.output.docx_layout import (
    BLOCK_STYLES,
    CHAR,
    LATIN_FONT,
    LAYOUT,
    XML_ILLEGAL,
    Layout,
    Para,
    StyleSpec,
    char_space,
    draft_time,
    plan_paragraphs,
    title_of,
)

__all__ = ["BLOCK_STYLES", "Layout", "LAYOUT", "char_space", "docx_bytes", "format_cn_date", "write_docx"]


def write_docx(blocks: Sequence[WordBlock], path: str | os.PathLike, *, annotate: bool = False,
               author: str = "", comment_author: str | None = None, created: datetime | None = None) -> Path:
    """Write `blocks` as a GB/T 9704-styled .docx at `path`, atomically; return the path.

    With `annotate=True` each `WordBlock.comments` span becomes a Word comment (批注) by `author`,
    e.g. the metric a figure came from; without it the file carries no comments part at all.
    `author` goes into the core properties (the reporter; never the tool), `created` is the
    draft's time (now when None).
    """
    return atomic_write_bytes(path, docx_bytes(blocks, annotate=annotate, author=author,
                                               comment_author=comment_author, created=created))


def docx_bytes(blocks: Sequence[WordBlock], *, annotate: bool = False, author: str = "",
               comment_author: str | None = None, created: datetime | None = None) -> bytes:
    """The bytes `write_docx` writes (see the module docstring for the two ways they are made)."""
    paragraphs = plan_paragraphs(blocks)
    title = title_of(blocks)
    when = draft_time(created)
    if not annotate:
        data = _plain_docx(paragraphs, author=author, title=title, when=when)
        if data is not None:
            return data
    from pipeline.output.docx_template import build_document, save

    return save(build_document(_prepared_template(), paragraphs, annotate=annotate, author=author,
                               comment_author=comment_author or author or "数据核对", title=title, when=when))


# --------------------------------------------------------------------------- the template

@lru_cache(maxsize=1)
def _prepared_template() -> bytes:
    """The prepared template's bytes, made once per process: building the styles costs more than
    writing a whole report, and it never changes.

    They are also kept in the temp folder, named by what they are made from (the layout and template
    modules' source, python-docx's own files, the grid setting), so a new process reads them instead of
    importing python-docx and building them. The file carries its own SHA-256 and is used only when
    it belongs to this user and no one else may write it (the temp folder is shared); a damaged or
    foreign one is rebuilt."""
    import hashlib
    import tempfile
    from importlib.util import find_spec

    here = Path(__file__).resolve().parent
    spec = find_spec("docx")            # where python-docx is, without importing it
    try:
        installed = Path(spec.origin).resolve().parent if spec and spec.origin else None
        made_from = [(here / name).read_bytes() for name in ("docx_layout.py", "docx_template.py")]
        if installed is not None:
            made_from += [(installed / "__init__.py").read_bytes(), (installed / "templates" / "default.docx").read_bytes()]
    except OSError:
        return _build_template()
    grid = os.environ.get("SHUZHI_DOCX_CHAR_GRID", "1").strip()
    key = hashlib.sha256(b"\0".join([*made_from, grid.encode()])).hexdigest()[:16]
    cache = Path(tempfile.gettempdir()) / f"shuzhi-docx-template-{key}.bin"
    try:
        info = cache.lstat()
        own = not hasattr(os, "getuid") or info.st_uid == os.getuid() and not info.st_mode & 0o022
        if stat.S_ISREG(info.st_mode) and own:
            stored = cache.read_bytes()
            digest, data = stored[:32], stored[32:]
            if data and hashlib.sha256(data).digest() == digest:
                return data
    except OSError:
        pass
    data = _build_template()
    try:
        atomic_write_bytes(cache, hashlib.sha256(data).digest() + data)
    except Exception:  # noqa: BLE001 - a cache that cannot be written only costs time
        pass
    return data


def _build_template() -> bytes:
    from pipeline.output.docx_template import build_template

    return build_template()


# --------------------------------------------------------------------------- a plain draft as XML

# What python-docx refuses (it raises deep in lxml, or over 255 characters of a property): such a
# draft goes through python-docx, which raises as it always has.
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_CORE_TEXT_MAX = 255
_BODY = "<w:body>"
_SECTION = "<w:sectPr"


def _plain_docx(paragraphs: Sequence[Para], *, author: str, title: str, when: datetime) -> bytes | None:
    """The draft's .docx from the template's parts, or None when python-docx must build it."""
    from pipeline.output.docx_package import CORE_PART, DOCUMENT_PART, template_parts

    if len(title) > _CORE_TEXT_MAX or len(author) > _CORE_TEXT_MAX or _NOT_XML.search(title + author) \
            or any(_NOT_XML.search(XML_ILLEGAL.sub("", p.block.text)) for p in paragraphs):
        return None
    parts = template_parts(_prepared_template())
    document, core = parts.document, parts.core
    head, body_end = document.find(_BODY), document.find(_SECTION)
    # The template's body holds its section properties and nothing else.
    if head < 0 or body_end != head + len(_BODY):
        return None
    core_xml = _core_xml(core, author=author, title=title, when=when)
    if core_xml is None:
        return None
    body = "".join(_paragraph_xml(p) for p in paragraphs)
    document_xml = document[:body_end] + body + document[body_end:]
    return parts.package({DOCUMENT_PART: document_xml.encode("utf-8"), CORE_PART: core_xml.encode("utf-8")})


def _text(value: str) -> str:
    """Character data as lxml writes it."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


@lru_cache(maxsize=16)
def _run_properties(spec: StyleSpec) -> str:
    bold = "<w:b/><w:bCs/>" if spec.bold else ""
    return (f'<w:rPr><w:rFonts w:ascii="{LATIN_FONT}" w:hAnsi="{LATIN_FONT}" w:eastAsia="{spec.east_asia}" '
            f'w:cs="{LATIN_FONT}" w:hint="eastAsia"/>{bold}<w:sz w:val="{spec.size}"/><w:szCs w:val="{spec.size}"/>'
            "</w:rPr>")


_RUN_BREAKS = re.compile(r"([\t\r\n])")


def _paragraph_xml(para: Para) -> str:
    """One `w:p` as python-docx writes it for `docx_template.build_document` without comments."""
    props = []
    if para.spec.style_id != "Normal":
        props.append(f'<w:pStyle w:val="{para.spec.style_id}"/>')
    spacing = "".join(f' w:{name}="{value}"' for name, value in (("after", para.space_after),
                                                                  ("before", para.space_before)) if value is not None)
    if spacing:
        props.append(f"<w:spacing{spacing}/>")
    if para.right_chars is not None:
        props.append(f'<w:ind w:rightChars="{round(para.right_chars * 100)}" w:right="{round(para.right_chars * CHAR)}"/>')
    out = ["<w:p>", f"<w:pPr>{''.join(props)}</w:pPr>" if props else "<w:pPr/>"]
    if para.block.text:                 # a run even when nothing of the text is left to write
        out += ["<w:r>", _run_properties(para.spec)]
        text = XML_ILLEGAL.sub("", para.block.text)
        # A tab is a w:tab, a line end a w:br, the rest w:t runs (kept whole when spaces lead or trail).
        for piece in _RUN_BREAKS.split(text):
            if piece == "\t":
                out.append("<w:tab/>")
            elif piece in ("\r", "\n"):
                out.append("<w:br/>")
            elif piece:
                keep = ' xml:space="preserve"' if len(piece.strip()) < len(piece) else ""
                out.append(f"<w:t{keep}>{_text(piece)}</w:t>")
        out.append("</w:r>")
    out.append("</w:p>")
    return "".join(out)


_CORE_ELEMENT = r"<{tag}(?P<attrs>[^>/]*)(?:/>|>[^<]*</{tag}>)"


def _core_xml(core: str, *, author: str, title: str, when: datetime) -> str | None:
    """The template's core properties with the draft's, as `docx_template.build_document` sets them;
    None when the template's differ from what this expects."""
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    values = {"dc:creator": author, "cp:lastModifiedBy": author, "dc:title": title, "dc:description": "",
              "cp:revision": "1", "dcterms:created": stamp, "dcterms:modified": stamp}
    if "cp:lastPrinted" in core:
        return None
    for tag, value in values.items():
        pattern = re.compile(_CORE_ELEMENT.format(tag=re.escape(tag)))
        found = pattern.findall(core)
        if len(found) != 1:
            return None
        attrs = found[0]
        if tag.startswith("dcterms:") and attrs != ' xsi:type="dcterms:W3CDTF"':
            return None
        core = pattern.sub(lambda m, tag=tag, value=value: f"<{tag}{m.group('attrs')}>{_text(value)}</{tag}>", core)
    return core
