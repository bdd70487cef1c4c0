"""`shuzhi check`: exit codes, formats, output files and bad input, through `pipeline.cli.run`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.cli import run

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "check"
ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "corpus" / "reports" / "000_82892d5cb8a93b68.txt"
REPORT = FIXTURES / "qinglan_report.txt"
METRICS = FIXTURES / "qinglan_metrics.yaml"


def test_seed_exits_zero_and_lists_masked_figures(capsys):
    code = run(["check", str(SEED), "--metrics", str(FIXTURES / "seed_metrics.yaml")])
    out = capsys.readouterr().out
    assert code == 0
    assert "遮盖 15" in out
    assert "矛盾" not in out and "无据" not in out and "旧数" not in out
    assert "***人" in out


def test_strict_fails_on_masked_seed_and_passes_clean_report(capsys):
    assert run(["check", str(SEED), "--metrics", str(FIXTURES / "seed_metrics.yaml"), "--strict"]) == 1
    assert run(["check", str(REPORT), "--metrics", str(METRICS), "--strict"]) == 0
    assert "未发现问题" in capsys.readouterr().out


def test_wrong_figure_is_named_in_json(tmp_path, capsys):
    wrong = tmp_path / "wrong.txt"
    wrong.write_text(REPORT.read_text(encoding="utf-8").replace("基干民兵精简至1560人", "基干民兵精简至1650人"),
                     encoding="utf-8")
    code = run(["check", str(wrong), "--metrics", str(METRICS), "--format", "json", "--strict"])
    data = json.loads(capsys.readouterr().out)
    assert code == 1
    assert data["summary"]["contradicted"] == 1
    bad = [f for f in data["findings"] if f["verdict"] == "contradicted"]
    assert bad[0]["text"] == "1650人" and bad[0]["metric"] == "militia.primary" and bad[0]["expected"] == "1560人"


def test_html_to_file_is_atomic_and_self_contained(tmp_path, capsys):
    target = tmp_path / "out" / "check.html"
    code = run(["check", str(REPORT), "--metrics", str(METRICS), "--format", "html", "-o", str(target)])
    assert code == 0
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page and "<link" not in page
    assert "v-supported" in page
    assert "已写出" in capsys.readouterr().out
    assert [p.name for p in target.parent.iterdir()] == ["check.html"]


def test_gbk_draft_works(tmp_path, capsys):
    gbk = tmp_path / "draft.txt"
    gbk.write_bytes(REPORT.read_text(encoding="utf-8").encode("gbk"))
    assert run(["check", str(gbk), "--metrics", str(METRICS), "--strict"]) == 0


@pytest.mark.parametrize(("args", "code", "message"), [
    (["check", str(REPORT)], 2, "--metrics"),
    (["check", str(REPORT), "--metrics", str(METRICS), "--format", "pdf"], 2, "table | json | html"),
    (["check", "nope.txt", "--metrics", str(METRICS)], 2, "找不到报告文件"),
    (["check", str(REPORT), "--metrics", "nope.yaml"], 2, "找不到指标文件"),
    (["check", str(REPORT), "--metrics", str(METRICS), "--prior", "nope.yaml"], 2, "上年指标文件"),
])
def test_usage_errors(args, code, message, capsys):
    assert run(args) == code
    captured = capsys.readouterr()
    assert message in captured.err + captured.out
    assert "Traceback" not in captured.err


def test_empty_draft_and_bad_metrics_are_clear_errors(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("SHUZHI_DEBUG", raising=False)
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    assert run(["check", str(empty), "--metrics", str(METRICS)]) == 1
    err = capsys.readouterr().err
    assert "empty.txt" in err and "Traceback" not in err

    bad = tmp_path / "bad.yaml"
    bad.write_text("meta:\n  year: 2023\n  region: 青岚县\nmetrics:\n  militia.primary: 很多\n", encoding="utf-8")
    assert run(["check", str(REPORT), "--metrics", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "bad.yaml" in err and "5" in err and "Traceback" not in err


def test_huge_draft_is_refused(tmp_path, capsys, monkeypatch):
    import pipeline.reading.readers as readers

    monkeypatch.setattr(readers, "DEFAULT_MAX_BYTES", 1000)
    monkeypatch.setattr(readers.read_text, "__kwdefaults__", {"max_bytes": 1000})
    huge = tmp_path / "huge.txt"
    huge.write_text("基干民兵精简至1560人。" * 200, encoding="utf-8")
    assert run(["check", str(huge), "--metrics", str(METRICS)]) == 1
    err = capsys.readouterr().err
    assert "huge.txt" in err and "Traceback" not in err


def test_index_makes_a_past_reports_figure_stale(tmp_path, capsys):
    from pipeline.index.hybrid import HybridIndex

    index_dir = tmp_path / "index"
    HybridIndex.open(index_dir).ingest([FIXTURES / "qinglan_2022.txt"])
    draft = tmp_path / "draft.txt"
    draft.write_text(REPORT.read_text(encoding="utf-8").replace("受教育群众4.5万人次", "受教育群众3.6万人次"),
                     encoding="utf-8")
    base = ["check", str(draft), "--metrics", str(METRICS), "--format", "json"]
    assert run(base) == 0
    without = json.loads(capsys.readouterr().out)
    assert without["summary"]["stale"] == 0 and without["summary"]["contradicted"] == 1
    assert run([*base, "--index", str(index_dir)]) == 0
    data = json.loads(capsys.readouterr().out)
    stale = [f for f in data["findings"] if f["verdict"] == "stale"]
    assert [f["text"] for f in stale] == ["3.6万人次"] and "2022年" in stale[0]["reason"]


def test_corpus_report_with_a_wrong_figure_names_figure_and_metric(tmp_path, capsys):
    """The issue's done-when: a corpus report with one figure changed names that figure and its metric."""
    from pipeline.facts.metrics import load_metrics
    from pipeline.reading.readers import read_text

    metrics_path = ROOT / "corpus" / "metrics" / "lanchuan-2023.yaml"
    report = next((ROOT / "corpus" / "reports").glob("lanchuan-2023.*"))
    recruits = load_metrics(metrics_path).get("conscription.recruits").value
    text = read_text(report)
    shown = f"{recruits}人"
    assert shown in text
    wrong = f"{recruits + 7}人"
    draft = tmp_path / "draft.txt"
    draft.write_text(text.replace(shown, wrong, 1), encoding="utf-8")
    assert run(["check", str(report), "--metrics", str(metrics_path), "--strict"]) == 0
    capsys.readouterr()
    assert run(["check", str(draft), "--metrics", str(metrics_path), "--strict"]) == 1
    out = capsys.readouterr().out
    problem_lines = [line for line in out.splitlines() if "矛盾" in line and wrong in line]
    assert len(problem_lines) == 1
    assert "conscription.recruits" in problem_lines[0] and shown in problem_lines[0]


def test_progress_bar_on_stderr_for_long_texts_only(tmp_path, capsys, monkeypatch):
    from pipeline.facts import check

    monkeypatch.setattr(check, "PROGRESS_MIN_CHARS", 100)    # the real threshold is 200k characters
    report = REPORT.read_text(encoding="utf-8")
    assert len(report) > 100
    code = run(["check", str(REPORT), "--metrics", str(METRICS), "--format", "json"])
    captured = capsys.readouterr()
    assert code == 0
    assert "核对中" in captured.err and "100%" in captured.err
    assert "核对中" not in captured.out
    json.loads(captured.out)                                   # stdout stays the report alone
    monkeypatch.setattr(check, "PROGRESS_MIN_CHARS", 200_000)
    run(["check", str(REPORT), "--metrics", str(METRICS), "--format", "json"])
    assert "核对中" not in capsys.readouterr().err
