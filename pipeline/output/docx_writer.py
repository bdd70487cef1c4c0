"""Word output laid out after GB/T 9704-2012 (党政机关公文格式) as it applies to a report.

The layout numbers live in one place (`Layout`) so a reviewer can hold them against the standard:
A4, margins 37/35/28/26 mm, 22 lines of 28 characters, title 22 pt 方正小标宋简体, body 16 pt
仿宋_GB2312, level-1 headings 黑体, level-2 楷体_GB2312, page numbers `— N —` in 14 pt 宋体, odd
pages right and even pages left.

Word picks the font of a CJK character from `w:rFonts/@w:eastAsia`; python-docx's `font.name`
only sets `ascii`/`hAnsi`, so every style and every run gets its East Asian font written
explicitly (an office machine without 仿宋_GB2312 then still shows the intended name in the font
box, and substitutes visibly rather than silently falling back to Calibri); the font table names
an alternate for each (宋体/仿宋/楷体/黑体), so a machine without them keeps four distinct faces.

The page has Word's line-and-character grid (22 × 28). LibreOffice gives a 16 pt character two
cells of a grid narrower than 16 pt, so it shows such a file with spaced-out lines; Word and WPS
set 28 characters a line. `SHUZHI_DOCX_CHAR_GRID=0` writes the line grid only (for LibreOffice
previews: 28 characters through the tightened glyphs; Word then fits 27). The core properties name the reporter as author and carry the draft's time.
"""

from __future__ import annotations

import copy
import io
import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, lru_cache
from pathlib import Path

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.style import WD_STYLE_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Twips
from docx.text.paragraph import Paragraph
from docx.text.run import Run

from pipeline.drafting.fill import format_cn_date
from pipeline.fsutil import atomic_write_bytes
from pipeline.models import WordBlock

__all__ = ["BLOCK_STYLES", "Layout", "LAYOUT", "docx_bytes", "format_cn_date", "write_docx"]


@dataclass(frozen=True)
class Layout:
    """Page geometry in twips (1/20 pt; 1 mm = 56.69 twips)."""

    page_width: int = 11906        # A4 210 mm
    page_height: int = 16838       # A4 297 mm
    margin_top: int = 2098         # 37 mm (天头)
    margin_bottom: int = 1984      # 35 mm
    margin_left: int = 1587        # 28 mm (订口)
    margin_right: int = 1474       # 26 mm
    # The standard puts the page number 7 mm below the text block; Word measures the footer from
    # the page edge to the bottom of the footer line, so 35 mm - 7 mm - one 14 pt line ≈ 22 mm.
    footer_distance: int = 1247    # 22 mm
    header_distance: int = 851     # 15 mm; no header is written, Word still wants a value
    line_pitch: int = 579          # 28.95 pt: 22 lines fill the 225 mm text block
    # 156 mm holds 27.6 glyphs of 16 pt; tightening each by 0.25 pt (in 1/20 pt) makes it 28 for a
    # reader that ignores the character grid (LibreOffice); Word lays CJK text on the grid below.
    char_spacing: int = -5
    chars_per_line: int = 28       # the document grid's characters per line (GB/T 9704: 28)
    body_size: int = 32            # half-points: 16 pt (三号)
    title_size: int = 44           # 22 pt (二号)
    page_number_size: int = 28     # 14 pt (四号)


LAYOUT = Layout()

# Body text is 16 pt, so one character is 320 twips; "2 characters" is also written as
# firstLineChars=200 so Word keeps the indent right if a user changes the font size.
_CHAR = 320
_INDENT_2CHARS = {"firstLineChars": "200", "firstLine": str(2 * _CHAR)}
_NO_INDENT = {"firstLineChars": "0", "firstLine": "0", "leftChars": "0", "left": "0"}

_LATIN_FONT = "Times New Roman"   # digits and Latin letters in 公文 are set in a roman face


@dataclass(frozen=True)
class _StyleSpec:
    style_id: str
    name: str
    east_asia: str
    size: int
    bold: bool = False
    align: str = "both"
    indent: bool = True
    outline: int | None = None
    keep_next: bool = False


# Headings keep the body's 2-character indent and add no spacing: in 公文 an `一、` heading sits
# in the text flow like a paragraph, not like a Word "Heading 1".
_STYLES: dict[str, _StyleSpec] = {
    "title": _StyleSpec("ShuzhiTitle", "Shuzhi Title", "方正小标宋简体", LAYOUT.title_size,
                        align="center", indent=False, outline=0, keep_next=True),
    "subtitle": _StyleSpec("ShuzhiSubtitle", "Shuzhi Subtitle", "楷体_GB2312", LAYOUT.body_size,
                           align="center", indent=False, keep_next=True),
    "h1": _StyleSpec("ShuzhiHeading1", "Shuzhi Heading 1", "黑体", LAYOUT.body_size, outline=1,
                     keep_next=True),
    "h2": _StyleSpec("ShuzhiHeading2", "Shuzhi Heading 2", "楷体_GB2312", LAYOUT.body_size, outline=2,
                     keep_next=True),
    "h3": _StyleSpec("ShuzhiHeading3", "Shuzhi Heading 3", "仿宋_GB2312", LAYOUT.body_size, bold=True,
                     outline=3),
    "body": _StyleSpec("Normal", "Normal", "仿宋_GB2312", LAYOUT.body_size),
    "signature": _StyleSpec("ShuzhiSignature", "Shuzhi Signature", "仿宋_GB2312", LAYOUT.body_size,
                            align="right", indent=False),
    "date": _StyleSpec("ShuzhiDate", "Shuzhi Date", "仿宋_GB2312", LAYOUT.body_size,
                       align="right", indent=False),
}

BLOCK_STYLES: tuple[str, ...] = tuple(_STYLES)
"""The `WordBlock.style` values this writer knows."""

# Characters XML 1.0 cannot hold; python-docx would raise on them deep inside lxml.
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


# --------------------------------------------------------------------------- low-level XML

def _element(tag: str, **attrs: str) -> OxmlElement:
    el = OxmlElement(tag)
    for key, val in attrs.items():
        el.set(qn(f"w:{key}"), val)
    return el


def _rpr_children(east_asia: str, size: int, *, bold: bool = False, latin: str = _LATIN_FONT,
                  lang: bool = False, spacing: int | None = None) -> list:
    """Run properties in schema order (rFonts, b, bCs, spacing, sz, szCs, lang)."""
    children = [_element("w:rFonts", ascii=latin, hAnsi=latin, eastAsia=east_asia, cs=latin,
                         hint="eastAsia")]
    if bold:
        children += [_element("w:b"), _element("w:bCs")]
    if spacing:
        children.append(_element("w:spacing", val=str(spacing)))
    children += [_element("w:sz", val=str(size)), _element("w:szCs", val=str(size))]
    if lang:
        children.append(_element("w:lang", val="en-US", eastAsia="zh-CN", bidi="ar-SA"))
    return children


def _replace_rpr(parent, children: list) -> None:
    """Give `parent` (a w:style, w:r or w:rPrDefault) exactly these run properties."""
    old = parent.find(qn("w:rPr"))
    rpr = _element("w:rPr")
    for child in children:
        rpr.append(child)
    if old is not None:
        old.addprevious(rpr)
        parent.remove(old)
    elif parent.tag == qn("w:r"):
        parent.insert(0, rpr)
    else:
        parent.append(rpr)


def _ppr_children(*, align: str, indent: dict[str, str], line: int | None = LAYOUT.line_pitch,
                  before: int = 0, after: int = 0, keep_next: bool = False,
                  outline: int | None = None) -> list:
    """Paragraph properties in schema order (keepNext, snapToGrid, spacing, ind, jc, outlineLvl)."""
    children = []
    if keep_next:
        children.append(_element("w:keepNext"))
    if line is not None:
        children.append(_element("w:spacing", before=str(before), after=str(after), line=str(line),
                                 lineRule="exact"))
    else:
        children.append(_element("w:spacing", before=str(before), after=str(after), line="240",
                                 lineRule="auto"))
    children.append(_element("w:ind", **indent))
    children.append(_element("w:jc", val=align))
    if outline is not None:
        children.append(_element("w:outlineLvl", val=str(outline)))
    return children


def _replace_ppr(parent, children: list) -> None:
    old = parent.find(qn("w:pPr"))
    ppr = _element("w:pPr")
    for child in children:
        ppr.append(child)
    if old is not None:
        # keep a paragraph's own pStyle/sectPr; style-level pPr has neither
        style = old.find(qn("w:pStyle"))
        if style is not None:
            ppr.insert(0, style)
        old.addprevious(ppr)
        parent.remove(old)
    elif parent.tag == qn("w:p"):
        parent.insert(0, ppr)
    else:
        rpr = parent.find(qn("w:rPr"))
        if rpr is not None:
            rpr.addprevious(ppr)
        else:
            parent.append(ppr)


# --------------------------------------------------------------------------- document set-up

def _setup_defaults(doc: DocxDocument) -> None:
    styles = doc.styles.element
    defaults = styles.find(qn("w:docDefaults"))
    rpr_default = defaults.find(qn("w:rPrDefault"))
    _replace_rpr(rpr_default, _rpr_children("仿宋_GB2312", LAYOUT.body_size, lang=True))
    ppr_default = defaults.find(qn("w:pPrDefault"))
    if ppr_default is not None:
        # the stock template adds 10 pt after every paragraph and 1.15 lines; 公文 has neither
        old = ppr_default.find(qn("w:pPr"))
        if old is not None:
            ppr_default.remove(old)
        ppr = _element("w:pPr")
        ppr.append(_element("w:spacing", before="0", after="0", line="240", lineRule="auto"))
        ppr_default.append(ppr)


def _setup_styles(doc: DocxDocument) -> None:
    for spec in _STYLES.values():
        if spec.style_id == "Normal":
            style = doc.styles["Normal"]
        else:
            style = doc.styles.add_style(spec.name, WD_STYLE_TYPE.PARAGRAPH)
            style.base_style = doc.styles["Normal"]
            style.quick_style = True
        element = style.element
        element.set(qn("w:styleId"), spec.style_id)
        indent = dict(_INDENT_2CHARS) if spec.indent else dict(_NO_INDENT)
        _replace_ppr(element, _ppr_children(align=spec.align, indent=indent, keep_next=spec.keep_next,
                                            outline=spec.outline))
        # only the 16 pt text styles are tightened to 28 characters; the title keeps its own width
        spacing = LAYOUT.char_spacing if spec.size == LAYOUT.body_size else None
        _replace_rpr(element, _rpr_children(spec.east_asia, spec.size, bold=spec.bold, spacing=spacing))


def _setup_section(doc: DocxDocument) -> None:
    section = doc.sections[0]
    section.page_width = Twips(LAYOUT.page_width)
    section.page_height = Twips(LAYOUT.page_height)
    section.top_margin = Twips(LAYOUT.margin_top)
    section.bottom_margin = Twips(LAYOUT.margin_bottom)
    section.left_margin = Twips(LAYOUT.margin_left)
    section.right_margin = Twips(LAYOUT.margin_right)
    section.footer_distance = Twips(LAYOUT.footer_distance)
    section.header_distance = Twips(LAYOUT.header_distance)
    section.gutter = Twips(0)
    sect_pr = section._sectPr
    grid = sect_pr.find(qn("w:docGrid"))
    if grid is None:
        grid = _element("w:docGrid")
        sect_pr.append(grid)
    # The line-and-character grid of GB/T 9704: 22 lines of 28 characters. The line pitch equals
    # the exact line spacing, so snapping changes nothing; `charSpace` is how far (in 1/4096 pt) a
    # grid cell differs from the 16 pt default font, so Word sets exactly 28 characters a line
    # (without it Word fits 27 of the tightened glyphs).
    # SHUZHI_DOCX_CHAR_GRID=0 writes the line grid only: LibreOffice then shows 28 characters a line
    # through the tightened glyphs (for previews), while Word would fit 27.
    if os.environ.get("SHUZHI_DOCX_CHAR_GRID", "1").strip() in ("0", "false", "no"):
        grid.set(qn("w:type"), "lines")
        grid.attrib.pop(qn("w:charSpace"), None)
    else:
        grid.set(qn("w:type"), "linesAndChars")
        grid.set(qn("w:charSpace"), str(char_space()))
    grid.set(qn("w:linePitch"), str(LAYOUT.line_pitch))

    doc.settings.odd_and_even_pages_header_footer = True
    _page_number_paragraph(section.footer.paragraphs[0], odd=True)
    section.even_page_footer.is_linked_to_previous = False
    _page_number_paragraph(section.even_page_footer.paragraphs[0], odd=False)


def char_space(layout: Layout = LAYOUT) -> int:
    """`w:docGrid/@w:charSpace`: (grid pitch − default font size) in 1/4096 pt."""
    text_width_pt = (layout.page_width - layout.margin_left - layout.margin_right) / 20
    pitch = text_width_pt / layout.chars_per_line
    return round((pitch - layout.body_size / 2) * 4096)


# Where the official fonts are missing, the faces an office machine has: named as alternates in the
# font table, so title, headings and body keep distinct faces instead of collapsing into one.
FONT_FALLBACKS: dict[str, tuple[str, str]] = {
    # font: (alternate name, w:family)
    "方正小标宋简体": ("宋体", "roman"),
    "仿宋_GB2312": ("仿宋", "modern"),
    "楷体_GB2312": ("楷体", "script"),
    "黑体": ("SimHei", "modern"),
    "宋体": ("SimSun", "roman"),
}
_W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _font_table(doc: DocxDocument) -> None:
    """Add the official fonts with their alternates (`w:altName`) and the GB2312 charset to fontTable.xml."""
    from lxml import etree

    part = next((p for p in doc.part.package.iter_parts() if str(p.partname) == "/word/fontTable.xml"), None)
    if part is None:
        return
    root = etree.fromstring(part.blob)
    present = {f.get(f"{{{_W_NS}}}name") for f in root.findall(f"{{{_W_NS}}}font")}
    for name, (alt, family) in FONT_FALLBACKS.items():
        if name in present:
            continue
        font = etree.SubElement(root, f"{{{_W_NS}}}font")
        font.set(f"{{{_W_NS}}}name", name)
        etree.SubElement(font, f"{{{_W_NS}}}altName").set(f"{{{_W_NS}}}val", alt)
        etree.SubElement(font, f"{{{_W_NS}}}charset").set(f"{{{_W_NS}}}val", "86")
        etree.SubElement(font, f"{{{_W_NS}}}family").set(f"{{{_W_NS}}}val", family)
        etree.SubElement(font, f"{{{_W_NS}}}pitch").set(f"{{{_W_NS}}}val", "variable")
    part._blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def _page_number_paragraph(paragraph: Paragraph, *, odd: bool) -> None:
    """`— N —` as a PAGE field; odd pages right with one character to the edge, even pages left."""
    one_char = str(LAYOUT.page_number_size * 10)   # a 14 pt character is 280 twips
    indent = dict(_NO_INDENT)
    if odd:
        indent.update(rightChars="100", right=one_char)
    else:
        indent.update(leftChars="100", left=one_char)
    _replace_ppr(paragraph._p, _ppr_children(align="right" if odd else "left", indent=indent, line=None))

    def run(text: str | None = None, *, field: str | None = None, instr: str | None = None) -> None:
        r = paragraph.add_run()
        _replace_rpr(r._r, _rpr_children("宋体", LAYOUT.page_number_size, latin="宋体"))
        if field is not None:
            r._r.append(_element("w:fldChar", fldCharType=field))
        elif instr is not None:
            el = _element("w:instrText")
            el.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
            el.text = instr
            r._r.append(el)
        elif text is not None:
            r.text = text

    run("— ")
    run(field="begin")
    run(instr=" PAGE ")
    run(field="separate")
    run("1")
    run(field="end")
    run(" —")


# --------------------------------------------------------------------------- blocks

def _display_width(text: str) -> float:
    """Width in body characters: CJK and full-width count 1, ASCII half."""
    return sum(0.5 if ord(ch) < 0x2E80 and not ("\uff00" <= ch <= "\uffef") else 1.0 for ch in text)


def _right_indent(paragraph: Paragraph, chars: float) -> None:
    ind = paragraph._p.get_or_add_pPr().get_or_add_ind()
    ind.set(qn("w:rightChars"), str(round(chars * 100)))
    ind.set(qn("w:right"), str(round(chars * _CHAR)))


def _space_before(paragraph: Paragraph, twips: int) -> None:
    spacing = paragraph._p.get_or_add_pPr().get_or_add_spacing()
    spacing.set(qn("w:before"), str(twips))


def _boundaries(text: str, comments: Sequence[tuple[int, int, str]]) -> list[int]:
    cuts = {0, len(text)}
    for start, end, _note in comments:
        if not (0 <= start < end <= len(text)):
            raise ValueError(f"comment span ({start}, {end}) outside text of length {len(text)}: {text[:30]!r}")
        cuts.update((start, end))
    return sorted(cuts)


@cache
def _run_rpr(spec: _StyleSpec) -> OxmlElement:
    """The w:rPr every run of `spec` carries; callers insert a deep copy, never this element."""
    rpr = _element("w:rPr")
    for child in _rpr_children(spec.east_asia, spec.size, bold=spec.bold):
        rpr.append(child)
    return rpr


def _add_runs(doc: DocxDocument, paragraph: Paragraph, block: WordBlock, spec: _StyleSpec,
              *, annotate: bool, author: str) -> None:
    text = block.text
    comments = [(s, e, _XML_ILLEGAL.sub("", note)) for s, e, note in block.comments] if annotate else []
    cuts = _boundaries(text, comments)
    runs: dict[int, Run] = {}
    for start, end in zip(cuts, cuts[1:], strict=False):
        if start == end:
            continue
        run = paragraph.add_run(_XML_ILLEGAL.sub("", text[start:end]))
        # a copy of the style's run properties: building them element by element per run costs more
        run._r.insert(0, copy.deepcopy(_run_rpr(spec)))
        runs[start] = run
    ordered = sorted(runs)
    for start, end, note in comments:
        # each span is a whole number of runs because every span edge is a cut
        covered = [runs[pos] for pos in ordered if start <= pos < end]
        initials = author[:1] if author else ""
        doc.add_comment(covered, text=note, author=author, initials=initials)


@lru_cache(maxsize=1)
def _prepared_template() -> bytes:
    """The stock template with this module's defaults, styles, page set-up and footers, made once per
    process: building the styles costs more than writing a whole report, and it never changes. Each
    write opens its own copy from these bytes, so no document state is shared between writes (or
    threads).

    The bytes are also kept in the temp folder, named by what they are made from (this module's
    source, python-docx's version and stock template, the grid setting), so a new process reads
    them instead of building them (~50 ms of a `shuzhi draft`). The file carries its own SHA-256: a
    damaged or foreign one is rebuilt."""
    import hashlib
    import tempfile

    import docx as docx_package

    stock = Path(docx_package.__file__).resolve().parent / "templates" / "default.docx"
    try:
        made_from = [Path(__file__).read_bytes(), stock.read_bytes()]
    except OSError:
        return _build_template()
    grid = os.environ.get("SHUZHI_DOCX_CHAR_GRID", "1").strip()
    key = hashlib.sha256(b"\0".join([*made_from, getattr(docx_package, "__version__", "").encode(),
                                      grid.encode()])).hexdigest()[:16]
    cache = Path(tempfile.gettempdir()) / f"shuzhi-docx-template-{key}.bin"
    try:
        # Only a file of this user that no one else may write: the temp folder is shared.
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
    doc = Document()
    # the stock template starts with one empty paragraph; a report starts with its title
    body = doc.element.body
    for p in list(body.iterchildren(qn("w:p"))):
        body.remove(p)
    _setup_defaults(doc)
    _setup_styles(doc)
    _setup_section(doc)
    _font_table(doc)
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def _build(blocks: Sequence[WordBlock], *, annotate: bool, author: str, comment_author: str,
           created: datetime | None, doc: DocxDocument | None = None) -> DocxDocument:
    """The draft on the prepared template: `doc` (a pristine copy of it) or a newly opened one."""
    if doc is None:
        doc = Document(io.BytesIO(_prepared_template()))

    title_texts = [b.text for b in blocks if b.style == "title"]
    core = doc.core_properties
    # The file belongs to whoever reports: the stock template's author and its 2013 dates go.
    core.author = author
    core.last_modified_by = author
    core.title = title_texts[0] if title_texts else ""
    core.comments = ""
    core.revision = 1
    when = (created or datetime.now(UTC)).replace(microsecond=0)
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    core.created = when
    core.modified = when
    printed = core._element.find(qn("cp:lastPrinted"))
    if printed is not None:             # the stock template's 2013 print date
        core._element.remove(printed)

    previous_style: str | None = None
    for index, block in enumerate(blocks):
        if block.style not in _STYLES:
            raise ValueError(f"unknown WordBlock style {block.style!r}; expected one of {', '.join(_STYLES)}")
        spec = _STYLES[block.style]
        if block.style == "date":
            formatted = format_cn_date(block.text)
            if formatted != block.text:
                # the comment offsets pointed into the ISO text, which is gone
                block = WordBlock(style="date", text=formatted)
        paragraph = doc.add_paragraph()
        # The style id straight into w:pPr/w:pStyle: `add_paragraph(style=…)` resolves the style by
        # scanning every style in styles.xml per paragraph, the largest cost of a write. Like
        # python-docx, the default style (Normal) gets an empty w:pPr and no w:pStyle.
        paragraph._p.style = None if spec.style_id == "Normal" else spec.style_id
        _add_runs(doc, paragraph, block, spec, annotate=annotate, author=comment_author)

        # 标题下空一行: one blank line between the title group and the text
        following = blocks[index + 1].style if index + 1 < len(blocks) else None
        if block.style in ("title", "subtitle") and following not in ("title", "subtitle", None):
            spacing = paragraph._p.get_or_add_pPr().get_or_add_spacing()
            spacing.set(qn("w:after"), str(LAYOUT.line_pitch))
        # 正文下空一行 before the signature block (or the date when unsigned)
        if block.style in ("signature", "date") and previous_style not in ("signature", "date", None):
            _space_before(paragraph, LAYOUT.line_pitch)
        if block.style == "date":
            _right_indent(paragraph, _date_indent(blocks, index))
        elif block.style == "signature":
            _right_indent(paragraph, _signature_indent(blocks, index))
        previous_style = block.style
    return doc


def _signature_indent(blocks: Sequence[WordBlock], index: int) -> float:
    """Right indent (in characters) of a signature line. GB/T 9704 7.3.5.2: the date sits 右空二字
    and the signature is centred over it; a signature longer than the date keeps 右空二字 itself
    and the date is centred under it instead (`_date_indent`). 2 characters when there is no date."""
    date_block = next((b for b in blocks[index + 1:] if b.style == "date"), None)
    if date_block is None:
        return 2.0
    date_width = _display_width(format_cn_date(date_block.text))
    widest = max(_display_width(b.text) for b in blocks if b.style == "signature")
    sig_width = _display_width(blocks[index].text)
    if widest > date_width:
        return 2 + (widest - sig_width) / 2
    return 2 + (date_width - sig_width) / 2


def _date_indent(blocks: Sequence[WordBlock], index: int) -> float:
    """Right indent of the date: 2 characters, or centred under a longer signature block."""
    signatures = [b for b in blocks[:index] if b.style == "signature"]
    date_width = _display_width(format_cn_date(blocks[index].text))
    widest = max((_display_width(b.text) for b in signatures), default=0.0)
    return 2 + (widest - date_width) / 2 if widest > date_width else 2.0


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
    """The bytes `write_docx` writes. A draft without comments is built on this thread's parsed copy
    of the prepared template and saved with the template's unchanged parts deflated once
    (`docx_package`): the same file python-docx would save, in a fifth of the time. Comments add
    parts to the package, so an annotated copy is opened and saved by python-docx itself."""
    comment_author = comment_author or author or "数据核对"
    if annotate:
        doc = _build(blocks, annotate=True, author=author, comment_author=comment_author, created=created)
        buffer = io.BytesIO()
        doc.save(buffer)
        return buffer.getvalue()
    from pipeline.output.docx_package import template_copy

    copy = template_copy(_prepared_template())
    _build(blocks, annotate=False, author=author, comment_author=comment_author, created=created, doc=copy.fresh())
    return copy.package_bytes()
