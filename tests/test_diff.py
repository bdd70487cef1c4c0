"""`shuzhi diff`: section-aligned sentence diff, figure changes, copied share, the three renderers."""

from __future__ import annotations

import json
import re

import pytest

from pipeline.cli import run
from pipeline.facts.diff import diff_reports, diff_to_html, diff_to_json, diff_to_table, figure_changes
from pipeline.models import Report, Section


def _report(source: str, *sections: tuple[str, str, list[str]]) -> Report:
    built = tuple(Section(key=key, heading=heading, level=1, paragraphs=tuple(paragraphs))
                  for key, heading, paragraphs in sections)
    return Report(source=source, title=None, year=None, region=None, sections=built,
                  text="\n".join(p for s in built for p in s.paragraphs))


OPENING = "一年来，在市委的正确领导下，我认真履行第一书记职责。现将履职情况报告如下："
CLOSING = "我的述职完毕，不妥之处，请各位领导批评指正。"

A = _report(
    "a.txt",
    ("opening", "", [OPENING]),
    ("systems", "二、坚持制度，推动措施落地", [
        "一是推进民兵改革训练。全县基干民兵分三批参加集中轮训，参训率96％。",
        "二是完成新兵征集任务。全年向部队输送合格青年215人，大学生征集比例达到55％。",
        "三是做好退役安置。县财政拨付72万元补助自谋职业退役士兵。",
    ]),
    ("foundation", "三、夯实基础，加强人武部建设", ["投入资金改造营区，改善办公条件。"]),
    ("closing", "", [CLOSING]),
)
B = _report(
    "b.txt",
    ("opening", "", [OPENING]),
    ("systems", "二、以制度落实为抓手，提升整体质效", [
        "一是推进民兵改革训练。全县基干民兵分三批参加集中轮训，参训率98％。",
        "二是完成新兵征集任务。全年向部队输送合格青年230人，大学生征集比例达到55％。",
        "四是拥军优属扎实有效。全年走访慰问驻地部队20次。",
    ]),
    ("plans", "", ["一是进一步加强民兵队伍建设。"]),
    ("closing", "", [CLOSING]),
)


def test_sections_align_by_key_with_added_removed_changed():
    diff = diff_reports(A, B)
    keys = [s.key for s in diff.sections]
    assert keys == ["opening", "systems", "foundation", "plans", "closing"]
    systems = next(s for s in diff.sections if s.key == "systems")
    assert (systems.heading_a, systems.heading_b) == ("二、坚持制度，推动措施落地", "二、以制度落实为抓手，提升整体质效")
    assert [(c.a, c.b) for c in systems.changed] == [
        ("全县基干民兵分三批参加集中轮训，参训率96％。", "全县基干民兵分三批参加集中轮训，参训率98％。"),
        ("全年向部队输送合格青年215人，大学生征集比例达到55％。", "全年向部队输送合格青年230人，大学生征集比例达到55％。"),
    ]
    assert systems.removed == ("三是做好退役安置。", "县财政拨付72万元补助自谋职业退役士兵。")
    assert systems.added == ("四是拥军优属扎实有效。", "全年走访慰问驻地部队20次。")
    assert systems.unchanged == 2
    foundation = next(s for s in diff.sections if s.key == "foundation")
    assert (foundation.heading_b, foundation.removed, foundation.added) == (None, ("投入资金改造营区，改善办公条件。",), ())
    plans = next(s for s in diff.sections if s.key == "plans")
    assert (plans.heading_a, plans.added) == (None, ("一是进一步加强民兵队伍建设。",))


def test_figure_changes_old_to_new_with_label():
    systems = next(s for s in diff_reports(A, B).sections if s.key == "systems")
    figures = [(f.old, f.new, f.label) for c in systems.changed for f in c.figures]
    assert figures == [("96％", "98％", "参训率"), ("215人", "230人", "全年向部队输送合格青年")]
    assert diff_reports(A, B).figure_changes == 2


@pytest.mark.parametrize(("a", "b", "expected"), [
    ("输送合格青年215人。", "输送合格青年215人。", []),
    ("输送合格青年215人。", "输送合格青年230人。", [("215人", "230人")]),
    ("2022年输送合格青年215人。", "2023年输送合格青年215人。", []),           # years are not figures
    ("拨付72万元，补助146名。", "拨付84万元，补助158名。", [("72万元", "84万元"), ("146名", "158名")]),
    ("走访慰问17次。", "走访慰问17次，发放慰问金28万元。", [("", "28万元")]),
])
def test_figure_change_pairs(a, b, expected):
    assert [(f.old, f.new) for f in figure_changes(a, b)] == expected


def test_copied_share_counts_b_sentences_found_verbatim_in_a():
    diff = diff_reports(A, B)
    # B has 10 sentences; opening (2), 一是/二是 topic clauses (2) and the closing (1) are verbatim in A.
    assert (diff.copied, diff.b_sentences) == (5, 10)
    assert diff.copied_share == 0.5
    same = diff_reports(A, A)
    assert same.copied_share == 1.0 and same.figure_changes == 0
    assert all(not s.added and not s.removed and not s.changed for s in same.sections)


def test_whitespace_does_not_make_a_sentence_new():
    spaced = _report("c.txt", ("opening", "", [OPENING.replace("，", "， ")]))
    diff = diff_reports(_report("d.txt", ("opening", "", [OPENING])), spaced)
    assert diff.copied_share == 1.0 and diff.sections[0].unchanged == 2


def test_json_shape():
    data = json.loads(diff_to_json(diff_reports(A, B)))
    assert set(data) >= {"sections", "copied_share", "figure_changes"}
    assert data["copied_share"] == 0.5 and data["figure_changes"] == 2
    section = data["sections"][1]
    assert set(section) >= {"key", "heading_a", "heading_b", "added", "removed", "changed"}
    assert section["changed"][1]["figures"][0] == {"old": "215人", "new": "230人", "label": "全年向部队输送合格青年"}
    assert set(section["changed"][0]) >= {"a", "b", "figures"}


def test_table_lists_changes():
    text = diff_to_table(diff_reports(A, B))
    assert "B 共 10 句，其中 5 句与 A 完全相同（照抄比例 50.0%）；数字变化 2 处。" in text
    assert "【制度落实】二、坚持制度，推动措施落地 → 二、以制度落实为抓手，提升整体质效" in text
    assert "    数字：全年向部队输送合格青年：215人 → 230人" in text
    assert "  - 县财政拨付72万元补助自谋职业退役士兵。" in text
    assert "  + 全年走访慰问驻地部队20次。" in text
    assert "【基础建设】仅 A 有：三、夯实基础，加强人武部建设" in text


def test_html_escapes_every_piece_of_report_text():
    evil_a = _report("<a>.txt", ("duty", "一、<b>履职</b>", ["学习<script>alert(1)</script>三次。", "旧句<img src=x onerror=y>。"]))
    evil_b = _report("b&c.txt", ("duty", "一、<i>履职</i>", ["学习<script>alert(1)</script>四次。", "新句<iframe>。"]))
    page = diff_to_html(diff_reports(evil_a, evil_b))
    assert "<script" not in page and "<img" not in page and "<iframe" not in page
    assert "<b>" not in page and "<i>" not in page
    assert "&lt;script&gt;" in page and "&lt;img src=x onerror=y&gt;" in page and "&lt;iframe&gt;" in page
    assert "b&amp;c.txt" in page and "&lt;a&gt;.txt" in page


def test_html_is_self_contained_and_marks_changes():
    page = diff_to_html(diff_reports(A, B))
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page
    assert not re.search(r"(src|href)\s*=", page)            # no external assets
    assert "2<del>15</del>人" in page and "2<ins>30</ins>人" in page
    assert "数字：全年向部队输送合格青年：215人 → 230人" in page


# --------------------------------------------------------------------------- CLI

TEXT_A = """2022年度党管武装工作述职报告
2022年以来，在市委、市政府和军分区党委的正确领导下，我认真履行第一书记职责。现将履职情况报告如下：
一、立足岗位，提升能力素质
全年召开县委常委会专题研究武装工作四次。我带头协调解决实际问题12个。
二、坚持制度，推动措施落地
一是推进民兵改革训练。全县基干民兵1190人分三批参加集中轮训，参训率96％。二是完成新兵征集任务。全年输送合格青年175人。
我的述职完毕，不妥之处，请各位领导批评指正。
"""
TEXT_B = TEXT_A.replace("2022", "2023").replace("1190人", "1160人").replace("175人", "190人")


@pytest.fixture
def report_files(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text(TEXT_A, encoding="utf-8")
    b.write_text(TEXT_B, encoding="utf-8")
    return a, b


def test_cli_diff_json(report_files, capsys):
    a, b = report_files
    assert run(["diff", str(a), str(b), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    pairs = {(f["old"], f["new"]) for s in data["sections"] for c in s["changed"] for f in c["figures"]}
    assert pairs == {("1190人", "1160人"), ("175人", "190人")}
    assert data["figure_changes"] == 2
    assert 0 < data["copied_share"] < 1


def test_cli_diff_table_and_html_file(report_files, tmp_path, capsys):
    a, b = report_files
    assert run(["diff", str(a), str(b)]) == 0
    assert "基干民兵" in capsys.readouterr().out
    out = tmp_path / "out" / "diff.html"
    assert run(["diff", str(a), str(b), "--format", "html", "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_cli_diff_bad_format_and_missing_file(report_files, tmp_path, capsys):
    a, b = report_files
    assert run(["diff", str(a), str(b), "--format", "xml"]) == 2
    assert "table | json | html" in capsys.readouterr().err
    assert run(["diff", str(a), str(tmp_path / "nope.txt")]) != 0


def test_repeated_key_pairs_with_the_most_alike_section():
    plans_text = "一是进一步加强民兵队伍建设。二是进一步提高征兵质量。"
    a = _report("a.txt",
                ("duty", "一、履职", ["坚持学习。"]),
                ("plans", "", ["对照上级要求，我还存在差距。"]),      # a stray block the parser called plans
                ("systems", "二、制度", ["落实议军会制度。"]),
                ("plans", "", [plans_text]))
    b = _report("b.txt",
                ("duty", "一、履职", ["坚持学习。"]),
                ("systems", "二、制度", ["落实议军会制度。"]),
                ("plans", "", [plans_text.replace("征兵", "兵员")]))
    diff = diff_reports(a, b)
    assert [(s.key, s.heading_a is not None, s.heading_b is not None) for s in diff.sections] == [
        ("duty", True, True), ("plans", True, False), ("systems", True, True), ("plans", True, True)]
    paired = diff.sections[3]
    assert [c.b for c in paired.changed] == ["二是进一步提高兵员质量。"] and not paired.removed
    assert diff.sections[1].removed == ("对照上级要求，我还存在差距。",)


def test_level_two_sections_fold_into_their_parent_so_years_still_pair() -> None:
    from pipeline.reading.parse import parse_text

    body = "全年主持县委理论学习中心组专题学习4次，重点学习强军思想和国防动员、民兵建设的重要论述，组织乡镇党委书记同步学习。"
    head = ["青岚县2023年度党管武装工作述职报告", "2023年，我认真履行党管武装职责。现将履职情况报告如下："]
    a = parse_text("\n".join([*head, "一、立足岗位，提升履职能力", f"（一）带头学习。{body}", "另组织专题辅导1次。",
                              f"（二）带头研究。{body}", "另到人武部调研2次。", "我的述职完毕，请批评指正。"]))
    b = parse_text("\n".join([*head, "一、立足岗位，提升履职能力", f"一是带头学习。{body}二是带头研究。{body}",
                              "我的述职完毕，请批评指正。"]))
    assert [s.level for s in a.sections].count(2) == 2
    diff = diff_reports(a, b)
    duty = [s for s in diff.sections if s.key == "duty"]
    assert len(duty) == 1 and duty[0].heading_a == duty[0].heading_b == "一、立足岗位，提升履职能力"
    assert any("另组织专题辅导1次" in r for r in duty[0].removed)
def test_reworded_sentence_is_paired_and_its_figure_counted():
    from pipeline.facts.diff import diff_sentences

    a = ["组织党委理论中心组专题学习四次。", "三是做好退役安置。", "县里召开议军会议。"]
    b = ["县里召开议军会议。", "全年党委理论中心组专题学习党管武装工作五次。", "四是拥军优属扎实有效。"]
    section = diff_sentences("duty", "x", "x", a, b)
    assert [(c.a, c.b) for c in section.changed] == [(a[0], b[1])]
    assert [(f.old, f.new) for f in section.changed[0].figures] == [("四次", "五次")]
    # Unrelated sentences stay a deletion and an addition.
    assert section.removed == ("三是做好退役安置。",) and section.added == ("四是拥军优属扎实有效。",)


@pytest.mark.parametrize(("a", "b", "labels"), [
    ("县财政拨付72万元补助自谋职业退役士兵146名。", "县财政拨付84万元补助自谋职业退役士兵158名。",
     ["县财政拨付", "补助自谋职业退役士兵"]),            # never the figure before it
    ("全县11个乡镇（街道）。", "全县12个乡镇（街道）。", ["全县"]),
    ("建成党管武装工作规范化示范点的基层武装部长培训3期。", "建成党管武装工作规范化示范点的基层武装部长培训4期。",
     ["示范点的基层武装部长培训"]),                       # whole words, at most 12 characters
])
def test_figure_labels_are_whole_words_without_other_figures(a, b, labels):
    from pipeline.reading.segment import tokenize

    changes = figure_changes(a, b)
    assert [f.label for f in changes] == labels
    for f in changes:
        assert not any(ch.isdigit() for ch in f.label)
        # Every label starts and ends on a word boundary of the sentence.
        words = tokenize(b)
        bounds = {0}
        for w in words:
            bounds.add(max(bounds) + len(w))
        start = b.index(f.label)
        assert start in bounds and start + len(f.label) in bounds
