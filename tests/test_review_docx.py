"""The reviewer's copy (`check --review-docx`): a Word comment on the exact characters of each finding."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from docx import Document
from docx.oxml.ns import qn

from pipeline.cli import run
from pipeline.facts.check import check_file
from pipeline.facts.metrics import load_metrics
from pipeline.output.review_docx import finding_comment, write_review_docx

ROOT = Path(__file__).resolve().parent.parent
METRICS = ROOT / "corpus" / "metrics" / "lanchuan-2024.yaml"
PRIOR = ROOT / "corpus" / "metrics" / "lanchuan-2023.yaml"
REPORT = ROOT / "corpus" / "reports" / "lanchuan-2024.txt"


def comments_with_anchors(path: Path) -> list[tuple[str, str]]:
    """(anchored text, comment text) of every comment, read back with python-docx."""
    doc = Document(str(path))
    texts = {c.comment_id: c.text for c in doc.comments}
    open_ranges: dict[int, list[str]] = {}
    anchored: dict[int, str] = {}
    for element in doc.element.body.iter():
        if element.tag == qn("w:commentRangeStart"):
            open_ranges[int(element.get(qn("w:id")))] = []
        elif element.tag == qn("w:commentRangeEnd"):
            key = int(element.get(qn("w:id")))
            anchored[key] = "".join(open_ranges.pop(key, []))
        elif element.tag == qn("w:t"):
            for pieces in open_ranges.values():
                pieces.append(element.text or "")
    return [(anchored.get(key, ""), texts[key]) for key in sorted(texts)]


def char_formats(path: Path) -> list[tuple[str, bool, str | None]]:
    """(character, bold, East Asian font) of every character in body paragraphs and table cells."""
    doc = Document(str(path))
    out = []
    paragraphs = list(doc.paragraphs) + [p for t in doc.tables for row in t.rows for c in row.cells
                                          for p in c.paragraphs]
    for paragraph in paragraphs:
        for r in paragraph.runs:
            fonts = r._r.rPr.rFonts if r._r.rPr is not None else None
            east = fonts.get(qn("w:eastAsia")) if fonts is not None else None
            out += [(ch, bool(r.bold), east) for ch in r.text]
    return out


def _wrong_docx(path: Path) -> Path:
    """A Word report in the reviewer's own formatting: a bold run, a figure over two runs, a table."""
    doc = Document()
    doc.add_paragraph("岚川县委书记2024年度党管武装工作述职报告").runs[0].bold = True
    doc.add_paragraph("")
    p = doc.add_paragraph("\u3000\u3000一年来，全县完成民兵整组，")
    run_ = p.add_run("基干民兵15")
    run_.bold = True
    run_._r.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), "仿宋_GB2312")
    p.add_run("53人，普通民兵9610人。县人武部被评为“全省征兵工作先进单位”。")
    table = doc.add_table(rows=2, cols=2)
    for cell, value in zip(table.rows[0].cells + table.rows[1].cells, ("项目", "人数", "基干民兵", "1553人"),
                           strict=True):
        cell.text = value
    doc.add_paragraph("我的述职完毕，请批评指正。")
    doc.save(path)
    return path


def test_docx_review_copy_keeps_the_file_and_comments_each_finding_on_its_characters(tmp_path: Path) -> None:
    source = _wrong_docx(tmp_path / "report.docx")
    result = check_file(source, METRICS, prior_path=PRIOR)
    out = write_review_docx(result, source, tmp_path / "review.docx", load_metrics(METRICS),
                            prior=load_metrics(PRIOR))
    comments = comments_with_anchors(out)
    assert len(comments) == len(result.findings) + 1
    # The summary sits on the title.
    assert comments[0][0] == "岚川县委书记2024年度党管武装工作述职报告"
    assert comments[0][1].startswith("核对结果：共") and "矛盾" in comments[0][1]
    # Every finding: the comment covers exactly its characters, figures split over runs included.
    assert sorted(anchor for anchor, _ in comments[1:]) == sorted(f.text for f in result.findings)
    wrong = [note for anchor, note in comments if anchor == "1553人"]
    assert len(wrong) == 2                           # the paragraph's figure and the table's
    assert all(n.startswith("【矛盾】指标：基干民兵（militia.primary）；数据：1535人") for n in wrong)
    assert "上年：" in wrong[0] and "说明：" in wrong[0]
    assert any(anchor == "“全省征兵工作先进单位”" and note.startswith("【有据】类别：荣誉") for anchor, note in comments)
    assert not any(str(tmp_path) in note or ".yaml" in note or "/" in note for _, note in comments)
    # Formatting untouched: same paragraphs, same characters, each with its own bold and font.
    assert [p.text for p in Document(str(out)).paragraphs] == [p.text for p in Document(str(source)).paragraphs]
    assert char_formats(out) == char_formats(source)


def test_text_report_becomes_a_gbt9704_file_with_the_same_comments(tmp_path: Path) -> None:
    lines = REPORT.read_text("utf-8").replace("基干民兵1535人", "基干民兵1553人").split("\n")
    source = tmp_path / "wrong.txt"
    source.write_text("\n\n".join("\u3000\u3000" + line for line in lines), encoding="utf-8")
    result = check_file(source, METRICS, prior_path=PRIOR)
    out = write_review_docx(result, source, tmp_path / "review.docx", load_metrics(METRICS))
    comments = comments_with_anchors(out)
    assert comments[0][0] == lines[0] and comments[0][1].startswith("核对结果：")
    assert [anchor for anchor, _ in comments[1:]] == [f.text for f in result.findings]
    doc = Document(str(out))
    styles = {p.text: p.style.name for p in doc.paragraphs}
    assert styles[lines[0]] != styles[lines[1]]                       # the title is styled as a title
    heading = next(line for line in lines if line.startswith("一、"))
    assert styles[heading] not in (styles[lines[1]], styles[lines[0]])  # and level-1 headings as such
    assert "" not in [p.text for p in doc.paragraphs]                  # blank lines are layout


def test_comment_text_names_verdict_label_data_last_year_and_reason_but_no_path(tmp_path: Path) -> None:
    result = check_file(REPORT, METRICS, prior_path=PRIOR)
    metrics = load_metrics(METRICS)
    finding = next(f for f in result.findings if f.metric == "militia.primary")
    note = finding_comment(finding, metrics)
    assert note.startswith("【有据】指标：基干民兵（militia.primary）；数据：")
    assert "上年：" in note and "说明：" in note
    from dataclasses import replace

    leaky = replace(finding, reason=f"见往年报告 {tmp_path}/past/2023.txt 与 C:\\data\\m.yaml")
    cleaned = finding_comment(leaky, metrics)
    assert str(tmp_path) not in cleaned and "C:\\data" not in cleaned and "2023.txt" in cleaned


def test_cli_check_writes_the_review_copy(tmp_path: Path, capsys) -> None:
    source = _wrong_docx(tmp_path / "report.docx")
    out = tmp_path / "审阅稿.docx"
    code = run(["check", str(source), "--metrics", str(METRICS), "--review-docx", str(out), "--strict"])
    assert code == 1
    assert out.exists() and "已写出审阅稿" in capsys.readouterr().err
    assert run(["check", str(source), "--metrics", str(METRICS), "--review-docx", str(tmp_path / "x.pdf")]) == 2


@pytest.mark.skipif(not (shutil.which("soffice") or shutil.which("libreoffice")), reason="LibreOffice not installed")
def test_comments_survive_a_libreoffice_round_trip(tmp_path: Path) -> None:
    source = _wrong_docx(tmp_path / "report.docx")
    result = check_file(source, METRICS)
    out = write_review_docx(result, source, tmp_path / "review.docx", load_metrics(METRICS))
    binary = shutil.which("soffice") or shutil.which("libreoffice")
    converted = tmp_path / "lo"
    subprocess.run([binary, f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}", "--headless",
                    "--convert-to", "docx", "--outdir", str(converted), str(out)],
                   capture_output=True, timeout=180, check=False, env={**os.environ, "HOME": str(tmp_path)})
    back = converted / "review.docx"
    assert back.exists(), "LibreOffice did not convert the review copy"
    before, after = comments_with_anchors(out), comments_with_anchors(back)
    assert len(after) == len(before)
    assert sorted(anchor for anchor, _ in after) == sorted(anchor for anchor, _ in before)
    assert sorted(note for _, note in after) == sorted(note for _, note in before)
