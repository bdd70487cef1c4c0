"""Write a corpus report as .docx with python-docx.

Used by build_corpus.py; also runnable alone: `python corpus/tools/make_docx.py SRC.txt OUT.docx [--autonum]`
where SRC is plain report text (tags already rendered). Three layouts exist because the parser must survive
them all: plain paragraphs, headings whose `一、` lives in a Word numbering definition (not in the text), and
a body table of figures (lines written as `|a|b|c|` in the source).
"""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

from docx import Document
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Pt

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pipeline.fsutil import atomic_write_bytes  # noqa: E402

HEADING_RE = re.compile(r"^([一二三四五六七八九十]+)、")
TABLE_ROW_RE = re.compile(r"^\|(.+)\|$")
# A title line: short, no sentence punctuation, ends like the genre's titles; it may open with the year
# (`2023年度岚川县…`) or the region (`澄浦县2023年度…`), so only the ending is fixed.
TITLE_RE = re.compile(r"^[^，。；：]{4,50}(述职报告|述职)$")
# The line under a title naming the speaker (`岚川县委书记 林某某`), centred like the title.
BYLINE_RE = re.compile(r"^[^，。；：\s]{2,20}(书记|县长|区长)\s+[^，。；：\s]{2,4}$")
# numId chosen high so it cannot clash with numbering python-docx's default template already defines.
CHINESE_NUM_ID = 41
CHINESE_ABSTRACT_ID = 41


def _set_east_asian_font(run, name: str, size: float | None = None) -> None:
    # Word only uses an East Asian font for CJK text when it is set on w:eastAsia, not just font.name.
    run.font.name = name
    rpr = run._element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.append(fonts)
    fonts.set(qn("w:eastAsia"), name)
    if size is not None:
        run.font.size = Pt(size)


def _add_chinese_numbering(document) -> int:
    """Add an abstractNum whose level 0 prints 一、二、三、 (chineseCounting, "%1、"); return its numId."""
    numbering = document.part.numbering_part.element
    abstract = OxmlElement("w:abstractNum")
    abstract.set(qn("w:abstractNumId"), str(CHINESE_ABSTRACT_ID))
    multi = OxmlElement("w:multiLevelType")
    multi.set(qn("w:val"), "singleLevel")
    abstract.append(multi)
    lvl = OxmlElement("w:lvl")
    lvl.set(qn("w:ilvl"), "0")
    for tag, val in (
        ("w:start", "1"),
        ("w:numFmt", "chineseCounting"),
        ("w:suff", "nothing"),
        ("w:lvlText", "%1、"),
        ("w:lvlJc", "left"),
    ):
        child = OxmlElement(tag)
        child.set(qn("w:val"), val)
        lvl.append(child)
    abstract.append(lvl)
    # abstractNum elements must precede num elements in numbering.xml.
    first_num = numbering.find(qn("w:num"))
    if first_num is not None:
        first_num.addprevious(abstract)
    else:
        numbering.append(abstract)
    num = OxmlElement("w:num")
    num.set(qn("w:numId"), str(CHINESE_NUM_ID))
    ref = OxmlElement("w:abstractNumId")
    ref.set(qn("w:val"), str(CHINESE_ABSTRACT_ID))
    num.append(ref)
    numbering.append(num)
    return CHINESE_NUM_ID


def _attach_numbering(paragraph, num_id: int) -> None:
    ppr = paragraph._p.get_or_add_pPr()
    num_pr = OxmlElement("w:numPr")
    ilvl = OxmlElement("w:ilvl")
    ilvl.set(qn("w:val"), "0")
    nid = OxmlElement("w:numId")
    nid.set(qn("w:val"), str(num_id))
    num_pr.append(ilvl)
    num_pr.append(nid)
    ppr.insert(0, num_pr)


def build_docx(text: str, autonum: bool = False) -> bytes:
    """Lay the report text out as a Word document and return the file bytes."""
    document = Document()
    num_id = _add_chinese_numbering(document) if autonum else None
    lines = [line for line in text.split("\n") if line.strip()]
    i = 0
    while i < len(lines):
        line = lines[i]
        if TABLE_ROW_RE.match(line):
            rows: list[list[str]] = []
            while i < len(lines) and TABLE_ROW_RE.match(lines[i]):
                rows.append([cell.strip() for cell in TABLE_ROW_RE.match(lines[i]).group(1).split("|")])
                i += 1
            table = document.add_table(rows=len(rows), cols=len(rows[0]))
            table.style = "Table Grid"
            for r, row in enumerate(rows):
                for c, cell in enumerate(row):
                    table.cell(r, c).text = cell
            continue
        if i == 0 and TITLE_RE.match(line):
            para = document.add_paragraph()
            run = para.add_run(line)
            _set_east_asian_font(run, "方正小标宋简体", 22)
            para.alignment = 1
        elif i == 1 and BYLINE_RE.match(line) and TITLE_RE.match(lines[0]):
            para = document.add_paragraph()
            run = para.add_run(line)
            _set_east_asian_font(run, "楷体_GB2312", 16)
            para.alignment = 1
        elif HEADING_RE.match(line):
            para = document.add_paragraph()
            body = line
            if num_id is not None:
                body = HEADING_RE.sub("", line, count=1)
                _attach_numbering(para, num_id)
            run = para.add_run(body)
            _set_east_asian_font(run, "黑体", 16)
        else:
            para = document.add_paragraph()
            para.paragraph_format.first_line_indent = Pt(32)
            run = para.add_run(line)
            _set_east_asian_font(run, "仿宋_GB2312", 16)
        i += 1
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def write_docx(text: str, out: Path, autonum: bool = False) -> Path:
    return atomic_write_bytes(out, build_docx(text, autonum=autonum))


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("用法：python corpus/tools/make_docx.py 源文本.txt 输出.docx [--autonum]")
        return 2
    src, out = Path(argv[0]), Path(argv[1])
    write_docx(src.read_text(encoding="utf-8"), out, autonum="--autonum" in argv[2:])
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
