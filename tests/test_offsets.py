"""Offsets point into the file: `facts`, `check` and `parse` report spans in the text as read.

Each layout below (blank lines, indentation, full-width spaces, tabs, CRLF, BOM, Markdown, Word
with a table) is the same report written differently; whatever the layout, a span must cut the
same figure out of the file's own text, and `check`'s `line:col` must name the file's own line.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pipeline.cli import run
from pipeline.reading.readers import read_text
from pipeline.reading.textview import clean_view, line_column

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "corpus" / "reports" / "lanchuan-2024.txt"
METRICS = ROOT / "corpus" / "metrics" / "lanchuan-2024.yaml"
PRIOR = ROOT / "corpus" / "metrics" / "lanchuan-2023.yaml"


def _lines() -> list[str]:
    # One injected error so that `check` prints a row with its position.
    return REPORT.read_text("utf-8").replace("基干民兵1535人", "基干民兵1553人").split("\n")


LAYOUTS = {
    "blank_lines": lambda ls: "\n\n".join(ls),
    "indent_fullwidth": lambda ls: "\n".join("\u3000\u3000" + ln for ln in ls),
    "indent_spaces_tabs": lambda ls: "\n".join(("\t" if i % 2 else "    ") + ln + "  " for i, ln in enumerate(ls)),
    "crlf_blank": lambda ls: "\r\n\r\n".join("  " + ln for ln in ls) + "\r\n",
    "nbsp_zero_width": lambda ls: "\n".join("\u00a0" + ln.replace("，", "，\u200b", 1) for ln in ls),
    "markdown": lambda ls: "\n\n".join(("## " + ln) if re.match("^[一二三四五]、", ln) else ln for ln in ls),
}


def _write(tmp_path: Path, name: str, text: str, *, bom: bool = False) -> Path:
    path = tmp_path / (name + (".md" if name == "markdown" else ".txt"))
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def _json(capsys, args: list[str]) -> object:
    capsys.readouterr()
    assert run(args) in (0, 1)
    return json.loads(capsys.readouterr().out)


def _clean_reference(capsys, tmp_path: Path) -> tuple[list[dict], list[dict]]:
    plain = _write(tmp_path, "plain", "\n".join(_lines()))
    facts = _json(capsys, ["facts", str(plain), "--json"])
    check = _json(capsys, ["check", str(plain), "--metrics", str(METRICS), "--prior", str(PRIOR), "-f", "json"])
    return facts, check["findings"]


@pytest.mark.parametrize("layout", sorted(LAYOUTS) + ["bom"])
def test_facts_and_check_spans_cut_the_same_figures_out_of_the_file(capsys, tmp_path: Path, layout: str) -> None:
    ref_facts, ref_findings = _clean_reference(capsys, tmp_path)
    text = LAYOUTS.get(layout, lambda ls: "\n\n".join(ls))(_lines())
    path = _write(tmp_path, layout, text, bom=layout == "bom")
    as_read = read_text(path)
    assert as_read == text.replace("\r\n", "\n")       # only line ends change on reading

    facts = _json(capsys, ["facts", str(path), "--json"])
    assert [q["text"] for q in facts] == [q["text"] for q in ref_facts]
    for q in facts:
        assert as_read[q["start"]:q["end"]].replace("\u200b", "") == q["text"]

    check = _json(capsys, ["check", str(path), "--metrics", str(METRICS), "--prior", str(PRIOR), "-f", "json"])
    findings = check["findings"]
    assert [(f["text"], f["verdict"]) for f in findings] == [(f["text"], f["verdict"]) for f in ref_findings]
    for f in findings:
        assert as_read[f["start"]:f["end"]].replace("\u200b", "") == f["text"]


@pytest.mark.parametrize("layout", ["blank_lines", "indent_fullwidth", "crlf_blank", "markdown"])
def test_check_line_column_counts_the_files_own_lines(capsys, tmp_path: Path, layout: str) -> None:
    path = _write(tmp_path, layout, LAYOUTS[layout](_lines()))
    capsys.readouterr()
    run(["check", str(path), "--metrics", str(METRICS), "--prior", str(PRIOR)])
    row = next(line for line in capsys.readouterr().out.splitlines() if "1553人" in line)
    line, column = map(int, row.split()[0].split(":"))
    # As an editor counts: the file's lines (CRLF is one line end), columns in characters from 1.
    with open(path, encoding="utf-8", newline=None) as handle:
        file_lines = handle.read().split("\n")
    assert file_lines[line - 1][column - 1:].startswith("1553人")


def test_parse_sections_point_into_the_file(capsys, tmp_path: Path) -> None:
    path = _write(tmp_path, "indent", LAYOUTS["blank_lines"]([("\u3000\u3000" + ln) for ln in _lines()]))
    as_read = read_text(path)
    data = _json(capsys, ["parse", str(path), "--json"])
    numbered = [s for s in data["sections"] if s["heading"]]
    assert len(numbered) >= 4
    for s in numbered:
        assert as_read[s["start"]:s["end"]].startswith(s["heading"])
        assert as_read.split("\n")[s["line"] - 1].strip() == s["heading"]
    closing = data["sections"][-1]
    assert as_read[closing["start"]:closing["end"]].endswith(closing["text"].split("\n")[-1][-10:])


def _docx_with_table(path: Path) -> Path:
    from docx import Document

    doc = Document()
    doc.add_paragraph("岚川县党管武装工作述职报告")
    doc.add_paragraph("")
    doc.add_paragraph("\u3000\u3000一、坚持制度，推动落实")
    p = doc.add_paragraph("\u3000\u3000全县完成民兵整组，")
    p.add_run("基干民兵")
    p.add_run("15")
    p.add_run("53人。")              # a figure split over two runs
    table = doc.add_table(rows=2, cols=3)
    for cell, value in zip(table.rows[0].cells, ("项目", "本年", "上年"), strict=True):
        cell.text = value
    for cell, value in zip(table.rows[1].cells, ("普通民兵", "9610人", "9480人"), strict=True):
        cell.text = value
    doc.add_paragraph("")
    doc.add_paragraph("我的述职完毕，请批评指正。")
    doc.save(path)
    return path


def test_docx_spans_index_paragraphs_joined_by_newlines(capsys, tmp_path: Path) -> None:
    path = _docx_with_table(tmp_path / "r.docx")
    as_read = read_text(path)
    assert as_read.split("\n") == [
        "岚川县党管武装工作述职报告", "", "\u3000\u3000一、坚持制度，推动落实",
        "\u3000\u3000全县完成民兵整组，基干民兵1553人。", "项目\t本年\t上年", "普通民兵\t9610人\t9480人", "",
        "我的述职完毕，请批评指正。",
    ]
    facts = _json(capsys, ["facts", str(path), "--json"])
    assert {q["text"] for q in facts} >= {"1553人", "9610人"}
    for q in facts:
        assert as_read[q["start"]:q["end"]] == q["text"]
    findings = _json(capsys, ["check", str(path), "--metrics", str(METRICS), "-f", "json"])["findings"]
    assert findings
    for f in findings:
        assert as_read[f["start"]:f["end"]] == f["text"]
    wrong = next(f for f in findings if f["text"] == "1553人")
    assert line_column(as_read, wrong["start"]) == (4, 16)


@pytest.mark.parametrize("source", [
    "", "正文", "\n\n  一、标题\r\n\u3000\u3000正文\u200b12人。\t\n\n", "\ufeff# 标题\n> 引\n**二、加粗**\n",
    "a\u2028b\x0cc", "\u3000\u3000\n \t \n",
])
def test_clean_view_maps_every_character_back(source: str) -> None:
    view = clean_view(source)
    for i, char in enumerate(view.text):
        back = view.position(i)
        if char == "\n":
            assert source[back] in "\n\r\u2028\x0c"
        else:
            assert source[back] == char or (char == " " and source[back] == "\u00a0")
    if view.text:
        assert view.span(0, len(view.text))[1] <= len(source)
