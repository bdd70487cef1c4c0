"""Build the .docx members of the parse set (run once; the .docx files are committed).

`30_word_numbering.docx`: level-1 headings numbered by Word (chineseCounting `%1、`) and level-2
headings by `（%2）`, so the labels live in numbering.xml, not in the text; plus a table and a
text box. The expected headings in `30_word_numbering.json` were written by hand.
"""

from __future__ import annotations

from pathlib import Path

import docx
from docx.oxml import parse_xml

HERE = Path(__file__).resolve().parent
W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def _numbered(document, text: str, num_id: int, level: int) -> None:
    paragraph = document.add_paragraph(text)
    paragraph._p.get_or_add_pPr().append(parse_xml(
        f'<w:numPr {W}><w:ilvl w:val="{level}"/><w:numId w:val="{num_id}"/></w:numPr>'))


def main() -> None:
    document = docx.Document()
    numbering = document.part.numbering_part.element
    numbering.insert(0, parse_xml(
        f'<w:abstractNum {W} w:abstractNumId="90">'
        '<w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="chineseCounting"/><w:lvlText w:val="%1、"/></w:lvl>'
        '<w:lvl w:ilvl="1"><w:start w:val="1"/><w:numFmt w:val="chineseCounting"/><w:lvlText w:val="（%2）"/></w:lvl>'
        '</w:abstractNum>'))
    numbering.append(parse_xml(f'<w:num {W} w:numId="90"><w:abstractNumId w:val="90"/></w:num>'))

    document.add_paragraph("枫渚县2024年度党管武装工作述职报告")
    document.add_paragraph("2024年以来，我认真履行县委书记抓武装工作职责，全县武装工作扎实推进。现将履职情况报告如下：")
    _numbered(document, "把牢政治方向，压实党管武装责任", 90, 0)
    _numbered(document, "带头学习", 90, 1)
    document.add_paragraph("全年参加理论学习中心组国防专题学习4次。")
    _numbered(document, "带头研究", 90, 1)
    document.add_paragraph("主持召开县委常委会研究武装工作3次，协调解决实际问题7个。")
    _numbered(document, "健全制度机制，推动武装任务落实", 90, 0)
    document.add_paragraph("一是民兵整组规范有序。二是征兵任务圆满完成。主要数据见下表：")
    table = document.add_table(rows=2, cols=3)
    for i, text in enumerate(("基干民兵", "输送新兵", "大学生比例")):
        table.cell(0, i).text = text
    for i, text in enumerate(("640人", "87人", "83％")):
        table.cell(1, i).text = text
    _numbered(document, "加大投入力度，夯实武装工作基础", 90, 0)
    document.add_paragraph("县财政安排人武部建设经费52万元，国防教育基地完成提档升级。")
    document.add_paragraph("一年来，虽然取得了一定成绩，但与上级要求相比还有差距。下步，我将进一步压实责任。")
    document.add_paragraph("我的述职完毕，请各位领导批评指正。")
    document.save(HERE / "30_word_numbering.docx")
    blank_paragraphs_level2()


# Written the way many offices type in Word: two ideographic spaces of indentation typed by hand
# and an empty paragraph between blocks. `read_text` keeps the empty paragraphs as empty lines.
_LEVEL2_LINES = (
    "苇澄县委书记2023年度党管武装工作述职报告", "",
    "\u3000\u30002023年，在市委和军分区党委的领导下，我坚持党管武装根本原则，全县武装工作稳中有进。"
    "现将履职情况报告如下，请予审议。", "",
    "\u3000\u3000一、扛牢第一责任，强化党管武装政治引领", "",
    "\u3000\u3000（一）抓学习教育", "\u3000\u3000全年主持县委理论学习中心组专题学习强军思想3次，为乡镇党委书记讲授国防教育课1次。", "",
    "\u3000\u3000（二）抓研究部署", "\u3000\u3000主持召开县委常委会研究武装工作2次，召开议军会1次，协调解决实际问题6个。", "",
    "\u3000\u3000二、狠抓制度落实，推动武装工作规范运行", "",
    "\u3000\u3000（一）民兵整组", "\u3000\u3000全县12个乡镇和25个机关企事业单位完成民兵整组，编组基干民兵780人。", "",
    "\u3000\u3000（二）征兵工作", "\u3000\u3000输送合格青年102人，其中大学生84人。", "",
    "\u3000\u3000三、下步打算", "\u3000\u3000一是进一步压实责任；二是进一步抓好民兵训练；三是进一步深化国防教育。", "",
    "\u3000\u3000我的述职完毕，请批评指正。",
)


def blank_paragraphs_level2() -> None:
    """`48_docx_blank_paragraphs_level2.docx`: empty paragraphs, typed indentation, `（一）` level 2."""
    document = docx.Document()
    for line in _LEVEL2_LINES:
        document.add_paragraph(line)
    document.save(HERE / "48_docx_blank_paragraphs_level2.docx")


if __name__ == "__main__":
    main()
