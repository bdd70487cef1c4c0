"""Word output laid out after GB/T 9704-2012 (党政机关公文格式) as it applies to a report: the numbers, the
paragraph styles, and where each paragraph goes (spacing, indents). Shared by the writers in
`pipeline.output.docx_writer` (a draft's body as XML) and `docx_template` (the template and annotated
copies, through python-docx).

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
previews: 28 characters through the tightened glyphs; Word then fits 27). The core properties name
the reporter as author and carry the draft's time.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pipeline.drafting.fill import format_cn_date
from pipeline.models import WordBlock

# The import of python-docx is what a draft's .docx costs most at start-up; this module and the
# writer of a plain draft do without it.


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
CHAR = 320
INDENT_2CHARS = {"firstLineChars": "200", "firstLine": str(2 * CHAR)}
NO_INDENT = {"firstLineChars": "0", "firstLine": "0", "leftChars": "0", "left": "0"}

LATIN_FONT = "Times New Roman"   # digits and Latin letters in 公文 are set in a roman face


@dataclass(frozen=True)
class StyleSpec:
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
STYLES: dict[str, StyleSpec] = {
    "title": StyleSpec("ShuzhiTitle", "Shuzhi Title", "方正小标宋简体", LAYOUT.title_size,
                       align="center", indent=False, outline=0, keep_next=True),
    "subtitle": StyleSpec("ShuzhiSubtitle", "Shuzhi Subtitle", "楷体_GB2312", LAYOUT.body_size,
                          align="center", indent=False, keep_next=True),
    "h1": StyleSpec("ShuzhiHeading1", "Shuzhi Heading 1", "黑体", LAYOUT.body_size, outline=1,
                    keep_next=True),
    "h2": StyleSpec("ShuzhiHeading2", "Shuzhi Heading 2", "楷体_GB2312", LAYOUT.body_size, outline=2,
                    keep_next=True),
    "h3": StyleSpec("ShuzhiHeading3", "Shuzhi Heading 3", "仿宋_GB2312", LAYOUT.body_size, bold=True,
                    outline=3),
    "body": StyleSpec("Normal", "Normal", "仿宋_GB2312", LAYOUT.body_size),
    "signature": StyleSpec("ShuzhiSignature", "Shuzhi Signature", "仿宋_GB2312", LAYOUT.body_size,
                           align="right", indent=False),
    "date": StyleSpec("ShuzhiDate", "Shuzhi Date", "仿宋_GB2312", LAYOUT.body_size,
                      align="right", indent=False),
}

BLOCK_STYLES: tuple[str, ...] = tuple(STYLES)
"""The `WordBlock.style` values this writer knows."""

# Characters XML 1.0 cannot hold; python-docx would raise on them deep inside lxml.
XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


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


# --------------------------------------------------------------------------- paragraphs

@dataclass(frozen=True)
class Para:
    """One paragraph of the document as both writers lay it out."""

    block: WordBlock                  # the date already written out (2025年1月10日)
    spec: StyleSpec
    space_after: int | None = None    # twips: 标题下空一行
    space_before: int | None = None   # twips: 正文下空一行 before the signature block
    right_chars: float | None = None  # right indent in characters (signature, date)


def plan_paragraphs(blocks: Sequence[WordBlock]) -> list[Para]:
    """The paragraphs of `blocks`: style, spacing and indents per GB/T 9704; ValueError on an unknown style."""
    out: list[Para] = []
    previous_style: str | None = None
    for index, block in enumerate(blocks):
        if block.style not in STYLES:
            raise ValueError(f"unknown WordBlock style {block.style!r}; expected one of {', '.join(STYLES)}")
        spec = STYLES[block.style]
        if block.style == "date":
            formatted = format_cn_date(block.text)
            if formatted != block.text:
                # the comment offsets pointed into the ISO text, which is gone
                block = WordBlock(style="date", text=formatted)
        # 标题下空一行: one blank line between the title group and the text
        following = blocks[index + 1].style if index + 1 < len(blocks) else None
        after = (LAYOUT.line_pitch if block.style in ("title", "subtitle")
                 and following not in ("title", "subtitle", None) else None)
        # 正文下空一行 before the signature block (or the date when unsigned)
        before = (LAYOUT.line_pitch if block.style in ("signature", "date")
                  and previous_style not in ("signature", "date", None) else None)
        right = (_date_indent(blocks, index) if block.style == "date"
                 else _signature_indent(blocks, index) if block.style == "signature" else None)
        out.append(Para(block, spec, after, before, right))
        previous_style = block.style
    return out


def draft_time(created: datetime | None) -> datetime:
    """The core properties' time: the draft's (now when None), whole seconds, naive UTC."""
    when = (created or datetime.now(UTC)).replace(microsecond=0)
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return when


def title_of(blocks: Sequence[WordBlock]) -> str:
    return next((b.text for b in blocks if b.style == "title"), "")


def _display_width(text: str) -> float:
    """Width in body characters: CJK and full-width count 1, ASCII half."""
    return sum(0.5 if ord(ch) < 0x2E80 and not ("\uff00" <= ch <= "\uffef") else 1.0 for ch in text)


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
