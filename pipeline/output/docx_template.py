"""The python-docx side of the Word output: the prepared template (the stock template with this project's
defaults, styles, page set-up, footers and font table) and a whole document built through python-docx,
which annotated copies (comments add parts to the package) and unusual drafts use. A plain draft's
body is written as XML by `pipeline.output.docx_writer` on top of the template this module prepares;
`tests/test_docx_package.py` holds the two writers' files side by side. Layout: `docx_layout`.
"""

from __future__ import annotations

import copy
import io
import os
from collections.abc import Sequence
from datetime import datetime
from functools import cache

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.style import WD_STYLE_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Twips
from docx.text.paragraph import Paragraph
from docx.text.run import Run

from pipeline.models import WordBlock
from pipeline.output.docx_layout import (
    CHAR,
    FONT_FALLBACKS,
    INDENT_2CHARS,
    LATIN_FONT,
    LAYOUT,
    NO_INDENT,
    STYLES,
    XML_ILLEGAL,
    Para,
    StyleSpec,
    char_space,
)

# --------------------------------------------------------------------------- low-level XML

def _element(tag: str, **attrs: str) -> OxmlElement:
    el = OxmlElement(tag)
    for key, val in attrs.items():
        el.set(qn(f"w:{key}"), val)
    return el


def _rpr_children(east_asia: str, size: int, *, bold: bool = False, latin: str = LATIN_FONT,
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
        # keep a paragraph's own pStyle (style-level pPr has none); never used on a pPr holding a sectPr
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
    for spec in STYLES.values():
        if spec.style_id == "Normal":
            style = doc.styles["Normal"]
        else:
            style = doc.styles.add_style(spec.name, WD_STYLE_TYPE.PARAGRAPH)
            style.base_style = doc.styles["Normal"]
            style.quick_style = True
        element = style.element
        element.set(qn("w:styleId"), spec.style_id)
        indent = dict(INDENT_2CHARS) if spec.indent else dict(NO_INDENT)
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
    indent = dict(NO_INDENT)
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

def _right_indent(paragraph: Paragraph, chars: float) -> None:
    ind = paragraph._p.get_or_add_pPr().get_or_add_ind()
    ind.set(qn("w:rightChars"), str(round(chars * 100)))
    ind.set(qn("w:right"), str(round(chars * CHAR)))


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
def _run_rpr(spec: StyleSpec) -> OxmlElement:
    """The w:rPr every run of `spec` carries; callers insert a deep copy, never this element."""
    rpr = _element("w:rPr")
    for child in _rpr_children(spec.east_asia, spec.size, bold=spec.bold):
        rpr.append(child)
    return rpr


def _add_runs(doc: DocxDocument, paragraph: Paragraph, block: WordBlock, spec: StyleSpec,
              *, annotate: bool, author: str) -> None:
    text = block.text
    comments = [(s, e, XML_ILLEGAL.sub("", note)) for s, e, note in block.comments] if annotate else []
    cuts = _boundaries(text, comments)
    runs: dict[int, Run] = {}
    for start, end in zip(cuts, cuts[1:], strict=False):
        if start == end:
            continue
        run = paragraph.add_run(XML_ILLEGAL.sub("", text[start:end]))
        # a copy of the style's run properties: building them element by element per run costs more
        run._r.insert(0, copy.deepcopy(_run_rpr(spec)))
        runs[start] = run
    ordered = sorted(runs)
    for start, end, note in comments:
        # each span is a whole number of runs because every span edge is a cut
        covered = [runs[pos] for pos in ordered if start <= pos < end]
        initials = author[:1] if author else ""
        doc.add_comment(covered, text=note, author=author, initials=initials)




def build_template() -> bytes:
    """The prepared template's bytes (`docx_writer._prepared_template` keeps them)."""
    doc = Document()
    # the stock template starts with one empty paragraph; a report starts with its title
    body = doc.element.body
    for p in list(body.iterchildren(qn("w:p"))):
        body.remove(p)
    _setup_defaults(doc)
    _setup_styles(doc)
    _setup_section(doc)
    _font_table(doc)
    return save(doc)


def build_document(template: bytes, paragraphs: Sequence[Para], *, annotate: bool, author: str,
                   comment_author: str, title: str, when: datetime) -> DocxDocument:
    """The draft through python-docx on a copy of the prepared template."""
    doc = Document(io.BytesIO(template))
    core = doc.core_properties
    # The file belongs to whoever reports: the stock template's author and its 2013 dates go.
    core.author = author
    core.last_modified_by = author
    core.title = title
    core.comments = ""
    core.revision = 1
    core.created = when
    core.modified = when
    printed = core._element.find(qn("cp:lastPrinted"))
    if printed is not None:             # the stock template's 2013 print date
        core._element.remove(printed)
    for para in paragraphs:
        paragraph = doc.add_paragraph()
        # The style id straight into w:pPr/w:pStyle: `add_paragraph(style=…)` resolves the style by
        # scanning every style in styles.xml per paragraph, the largest cost of a write. Like
        # python-docx, the default style (Normal) gets an empty w:pPr and no w:pStyle.
        paragraph._p.style = None if para.spec.style_id == "Normal" else para.spec.style_id
        _add_runs(doc, paragraph, para.block, para.spec, annotate=annotate, author=comment_author)
        if para.space_after is not None:
            paragraph._p.get_or_add_pPr().get_or_add_spacing().set(qn("w:after"), str(para.space_after))
        if para.space_before is not None:
            _space_before(paragraph, para.space_before)
        if para.right_chars is not None:
            _right_indent(paragraph, para.right_chars)
    return doc


def save(doc: DocxDocument) -> bytes:
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()
