"""Batch drafting: discovery, a bad unit, resume, atomic unit folders, Ctrl-C, the check-only mode."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import zipfile
from pathlib import Path

import pytest
import yaml
from openpyxl import Workbook

from pipeline.batch import runner as batch_mod
from pipeline.batch.runner import BATCH_LOCK, BatchSettings, discover_units, run_batch, safe_unit_name
from pipeline.cli import run
from pipeline.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "corpus" / "sample"
# The sample's next-year metrics: one unit each, plus the broken one the fixture adds.
GOOD_UNITS = 1 + len(list((SAMPLE / "next").glob("*.yaml")))


@pytest.fixture
def units_dir(tmp_path: Path) -> Path:
    """The corpus's next-year metrics plus one deliberately broken file."""
    folder = tmp_path / "units"
    folder.mkdir()
    shutil.copy(SAMPLE / "metrics.yaml", folder / "lanchuan-2025.yaml")
    for path in sorted((SAMPLE / "next").glob("*.yaml")):
        shutil.copy(path, folder / path.name)
    (folder / "broken.yaml").write_text("meta:\n  region: 坏县\nmetrics:\n  militia.primary: 很多\n", encoding="utf-8")
    return folder


def test_safe_unit_name_never_escapes_the_output_folder():
    assert safe_unit_name("../../etc/passwd") == "etc_passwd"
    assert safe_unit_name("岚川县 人武部") == "岚川县_人武部"
    assert safe_unit_name("...") == "unit"


def test_discover_folder_and_missing(units_dir: Path, tmp_path: Path):
    names = [t.name for t in discover_units(units_dir)]
    assert names == sorted(names) and "broken" in names and len(names) == GOOD_UNITS + 1
    with pytest.raises(InputError, match="找不到批量输入"):
        discover_units(tmp_path / "nope")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="没有指标文件"):
        discover_units(empty)


def test_discover_wide_workbook(tmp_path: Path):
    book = Workbook()
    sheet = book.active
    sheet.title = "units"
    sheet.append(["单位", "meta.year", "conscription.recruits", "militia.primary", "honours"])
    sheet.append(["甲县", 2025, 120, 900, "双拥模范县；先进单位"])
    sheet.append(["乙县", 2025, 95, 700, None])
    path = tmp_path / "wide.xlsx"
    book.save(path)
    tasks = discover_units(path)
    assert [t.name for t in tasks] == ["甲县", "乙县"]
    mapping = json.loads(tasks[0].mapping_json)
    assert mapping["meta"] == {"region": "甲县", "year": 2025}
    assert mapping["metrics"]["conscription.recruits"] == {"value": 120}
    assert mapping["honours"] == ["双拥模范县", "先进单位"]


def test_wide_workbook_without_unit_column_names_the_sheet(tmp_path: Path):
    book = Workbook()
    book.active.title = "数据"
    book.active.append(["conscription.recruits", "militia.primary"])
    book.active.append([1, 2])
    path = tmp_path / "bad.xlsx"
    book.save(path)
    with pytest.raises(InputError, match="数据"):
        discover_units(path)


def _settings(out: Path, **kw) -> BatchSettings:
    return BatchSettings(out_dir=str(out), **kw)


def test_batch_with_a_broken_unit_then_resume(units_dir: Path, tmp_path: Path):
    out = tmp_path / "out"
    report = run_batch(units_dir, _settings(out), workers=2, progress=False)
    by_name = {r.name: r for r in report.results}
    assert by_name["broken"].status == "failed"
    assert "broken.yaml" in by_name["broken"].error
    done = [r for r in report.results if r.status == "done"]
    assert len(done) == GOOD_UNITS >= 3
    for r in done:
        folder = out / r.name
        assert {"draft.docx", "draft.md", "draft.json", "check.html", ".done.json"} <= {p.name for p in folder.iterdir()}
        assert not any(v for k, v in r.findings.items() if k in ("contradicted", "stale", "unsupported", "masked"))
    assert not (out / "broken").exists()
    summary = json.loads((out / "summary.json").read_text("utf-8"))
    assert summary["counts"] == {"done": GOOD_UNITS, "failed": 1, "skipped": 0}
    # Two worker processes ran the units (and the parent, which drafts the first unit to warm
    # everything the forked workers then share); each reports its peak memory.
    assert 1 <= len(summary["workers"]) <= 3
    assert all(w["peak_rss_mb"] > 10 for w in summary["workers"].values())
    csv_text = (out / "summary.csv").read_text("utf-8-sig")
    assert csv_text.splitlines()[0].startswith("unit,status,supported")
    assert "broken,failed" in csv_text
    assert "失败" in (out / "summary.html").read_text("utf-8")

    # The workers send each unit's summary with its result; it is what reading draft.json back gives.
    from dataclasses import replace

    from pipeline.output.batch_report import _unit_summaries

    assert all(r.summary is not None for r in done)
    read_back = replace(report, results=[replace(r, summary=None) for r in report.results])
    assert _unit_summaries(report) == _unit_summaries(read_back)
    assert not any("summary" in u for u in summary["units"])

    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("draft.md")}
    again = run_batch(units_dir, _settings(out), workers=2, resume=True, progress=False)
    statuses = {r.name: r.status for r in again.results}
    assert statuses == {"broken": "failed", **{r.name: "skipped" for r in done}}
    assert {p: p.stat().st_mtime_ns for p in out.rglob("draft.md")} == mtimes
    # A skipped unit keeps its findings in the new summary.
    kept = {r.name: r.findings for r in again.results}
    assert all(kept[r.name] == r.findings for r in done)

    # A Word file cut short (its unit's files are not fsynced: a power cut) makes the unit not done.
    cut = out / done[0].name / "draft.docx"
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    third = run_batch(units_dir, _settings(out), workers=2, resume=True, progress=False)
    statuses = {r.name: r.status for r in third.results}
    assert statuses[done[0].name] == "done"
    assert all(statuses[r.name] == "skipped" for r in done[1:])
    assert zipfile.is_zipfile(cut)

    # Changing one input redoes that unit only; changing a setting redoes all.
    target = units_dir / "heting-2025.yaml"
    data = yaml.safe_load(target.read_text("utf-8"))
    data["metrics"]["conscription.recruits"]["value"] += 1
    target.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    third = run_batch(units_dir, _settings(out), workers=1, resume=True, progress=False)
    assert {r.name for r in third.results if r.status == "done"} == {"heting-2025"}
    fourth = run_batch(units_dir, _settings(out, seed=7), workers=1, resume=True, progress=False)
    assert sum(r.status == "done" for r in fourth.results) == GOOD_UNITS


def test_cli_exit_code_is_one_when_a_unit_fails(units_dir: Path, tmp_path: Path, capsys):
    code = run(["batch", str(units_dir), "-o", str(tmp_path / "o"), "--workers", "1", "-q"])
    captured = capsys.readouterr()
    assert code == 1
    assert "失败 1 个" in captured.out
    assert "broken" in captured.err
    (units_dir / "broken.yaml").unlink()
    assert run(["batch", str(units_dir), "-o", str(tmp_path / "o"), "--workers", "1", "-q", "--resume"]) == 0


def test_a_unit_that_dies_while_writing_leaves_nothing(units_dir: Path, tmp_path: Path, monkeypatch):
    """Simulates a crash after the first output file: no unit folder, no done marker, no staging left."""
    import pipeline.output.draft_files as draft_mod

    real = draft_mod.write_draft_outputs

    def dying(result, out_dir, **kw):
        (Path(out_dir) / "draft.md").write_text("half", encoding="utf-8")
        raise KeyboardInterrupt

    monkeypatch.setattr(draft_mod, "write_draft_outputs", dying)
    monkeypatch.setenv("SHUZHI_BATCH_INPROCESS", "1")
    (units_dir / "broken.yaml").unlink()
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run_batch(units_dir, _settings(out), workers=1, progress=False)
    assert [p.name for p in out.iterdir() if p.is_dir()] == []
    monkeypatch.setattr(draft_mod, "write_draft_outputs", real)
    report = run_batch(units_dir, _settings(out), workers=1, resume=True, progress=False)
    assert report.counts()["done"] == GOOD_UNITS


def test_check_only_batch(tmp_path: Path):
    drafts = tmp_path / "drafts"
    metrics = tmp_path / "metrics"
    drafts.mkdir()
    metrics.mkdir()
    for name in ("heting-2024", "lanchuan-2024"):
        report = next((ROOT / "corpus" / "reports").glob(f"{name}.*"))
        shutil.copy(report, drafts / report.name)
        shutil.copy(ROOT / "corpus" / "metrics" / f"{name}.yaml", metrics / f"{name}.yaml")
    # A draft without metrics is a failed unit, not a crash.
    (drafts / "orphan.txt").write_text("一、测试\n输送合格青年100人。", encoding="utf-8")
    out = tmp_path / "out"
    report = run_batch(metrics, _settings(out, check_only=True), drafts_dir=drafts, workers=1, progress=False)
    status = {r.name: r.status for r in report.results}
    assert status == {"heting-2024": "done", "lanchuan-2024": "done", "orphan": "failed"}
    assert (out / "heting-2024" / "check.html").exists()
    findings = json.loads((out / "heting-2024" / "check.json").read_text("utf-8"))
    assert findings["summary"]["supported"] > 5


def test_unknown_executor_is_a_usage_error(units_dir: Path, tmp_path: Path):
    assert run(["batch", str(units_dir), "-o", str(tmp_path / "o"), "--executor", "spark", "-q"]) == 2


def test_inprocess_state_is_built_once(units_dir: Path, tmp_path: Path, monkeypatch):
    built = []
    real_init = batch_mod._WorkerState.__init__

    def counting(self, settings):
        built.append(1)
        real_init(self, settings)

    monkeypatch.setattr(batch_mod._WorkerState, "__init__", counting)
    monkeypatch.setenv("SHUZHI_BATCH_INPROCESS", "1")
    run_batch(units_dir, _settings(tmp_path / "o"), workers=1, progress=False)
    assert len(built) == 1


# --------------------------------------------------------------------------- workbooks

def _long_rows(data: dict) -> list[list]:
    """A metrics YAML as the long sheet layout: key | label | value | unit | previous | scope."""
    rows: list[list] = [["key", "label", "value", "unit", "previous", "scope"]]
    for key, value in data["meta"].items():
        rows.append([f"meta.{key}", None, "；".join(value) if isinstance(value, list) else str(value)])
    for key, spec in data["metrics"].items():
        rows.append([key, spec.get("label"), spec.get("value"), spec.get("unit"), spec.get("previous"),
                     spec.get("scope")])
    for key in ("honours", "documents", "partners", "plans", "highlights"):
        if data.get(key):
            rows.append([key, None, "；".join(str(v) for v in data[key])])
    return rows


def _sheet_workbook(path: Path, sources: dict[str, Path]) -> None:
    book = Workbook()
    book.remove(book.active)
    for title, source in sources.items():
        sheet = book.create_sheet(title)
        sheet.append(["（各单位指标，一张表一个单位）"])      # a title row above the header
        for row in _long_rows(yaml.safe_load(source.read_text("utf-8"))):
            sheet.append(row)
    book.save(path)


def test_one_sheet_per_unit_workbook_and_per_sheet_resume(tmp_path: Path):
    nexts = sorted((SAMPLE / "next").glob("*.yaml"))[:2]
    sources = {"岚川县": SAMPLE / "metrics.yaml", **{p.stem.split("-")[0]: p for p in nexts}}
    book_path = tmp_path / "units.xlsx"
    _sheet_workbook(book_path, sources)
    tasks = discover_units(book_path)
    assert [(t.name, t.locator) for t in tasks] == [(n, f"sheet:{n}") for n in sources]
    assert len({t.content_digest for t in tasks}) == len(sources)

    out = tmp_path / "out"
    report = run_batch(book_path, _settings(out), workers=1, progress=False)
    assert report.counts() == {"done": len(sources), "failed": 0, "skipped": 0}, report.failed
    md = (out / "岚川县" / "draft.md").read_text("utf-8")
    assert "岚川县" in md and "238" in md           # the sheet's own figures (conscription.recruits)

    # Editing one sheet redoes that unit only, although the workbook file changed as a whole.
    from openpyxl import load_workbook

    book = load_workbook(book_path)
    sheet = book[next(iter(sources))]
    for row in sheet.iter_rows(min_row=2):
        if row[0].value == "conscription.recruits":
            row[2].value = 239
    book.save(book_path)
    again = run_batch(book_path, _settings(out), workers=1, resume=True, progress=False)
    assert {r.name: r.status for r in again.results} == {
        n: ("done" if n == "岚川县" else "skipped") for n in sources
    }
    assert "239" in (out / "岚川县" / "draft.md").read_text("utf-8")


def test_wide_workbook_batch_drafts_each_row(tmp_path: Path):
    data = yaml.safe_load((SAMPLE / "metrics.yaml").read_text("utf-8"))
    keys = [k for k, spec in data["metrics"].items() if spec.get("value") is not None]
    meta_keys = [k for k in data["meta"] if k != "region"]
    book = Workbook()
    sheet = book.active
    sheet.append(["单位", *(f"meta.{k}" for k in meta_keys), *keys])
    for region, bump in (("甲河县", 0), ("乙山县", 5)):
        # As a secretary types them: superiors in one cell, the date as a real Excel date.
        row = [region, *("、".join(v) if isinstance(v := data["meta"][k], list) else v for k in meta_keys)]
        row += [spec["value"] + bump if not k.startswith("ranking.") and "rate" not in k
                else spec["value"] for k, spec in ((k, data["metrics"][k]) for k in keys)]
        sheet.append(row)
    path = tmp_path / "wide.xlsx"
    book.save(path)
    out = tmp_path / "out"
    report = run_batch(path, _settings(out), workers=1, progress=False)
    assert report.counts()["done"] == 2, report.failed
    text = (out / "乙山县" / "draft.md").read_text("utf-8")
    assert "乙山县" in text and "军分区党委" in text and "2026年1月14日" in text
    recruits = data["metrics"]["conscription.recruits"]["value"]
    assert str(recruits + 5) in (out / "乙山县" / "draft.md").read_text("utf-8")


def test_output_folder_inside_input_is_not_read_as_units(units_dir: Path):
    (units_dir / "broken.yaml").unlink()
    out = units_dir / "out"
    first = run_batch(units_dir, _settings(out), workers=1, progress=False)
    assert first.counts()["done"] == GOOD_UNITS
    second = run_batch(units_dir, _settings(out), workers=1, resume=True, progress=False)
    assert second.counts() == {"done": 0, "failed": 0, "skipped": GOOD_UNITS}


# --------------------------------------------------------------------------- interruption

def test_ctrl_c_with_the_real_process_pool(units_dir: Path, tmp_path: Path, monkeypatch):
    """A worker sends SIGINT to the parent mid-unit: the batch stops, no unit is half-written."""
    import pipeline.output.draft_files as draft_mod

    real = draft_mod.write_draft_outputs
    victim = "heting-2025"

    def interrupting(result, out_dir, **kw):
        if f".tmp-{victim}-" in str(out_dir):
            (Path(out_dir) / "draft.md").write_text("half", encoding="utf-8")
            os.kill(os.getppid(), signal.SIGINT)
            # Stay in flight until the parent terminates this worker (bounded, so a broken
            # parent fails the test instead of hanging it).
            threading.Event().wait(60)
        return real(result, out_dir, **kw)

    # The pool forks, so the workers inherit this patch.
    monkeypatch.setattr(draft_mod, "write_draft_outputs", interrupting)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run_batch(units_dir, _settings(out), workers=2, progress=False)

    assert not (out / victim).exists()
    for folder in (p for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")):
        marker = json.loads((folder / ".done.json").read_text("utf-8"))
        assert marker["fingerprint"]
        assert (folder / "draft.md").read_text("utf-8") != "half"
    summary = json.loads((out / "summary.json").read_text("utf-8"))
    assert victim not in {u["name"] for u in summary["units"]}
    assert all((out / u["name"]).is_dir() for u in summary["units"] if u["status"] == "done")

    monkeypatch.setattr(draft_mod, "write_draft_outputs", real)
    resumed = run_batch(units_dir, _settings(out), workers=1, resume=True, progress=False)
    statuses = {r.name: r.status for r in resumed.results}
    assert statuses[victim] == "done" and statuses["broken"] == "failed"
    assert sum(s in ("done", "skipped") for s in statuses.values()) == GOOD_UNITS
    assert not [p.name for p in out.iterdir() if p.name.startswith(".") and p.name != BATCH_LOCK]


def test_a_unit_caught_between_renames_is_restored(tmp_path: Path):
    out = tmp_path / "out"
    (out / ".old-岚川-县-1234").mkdir(parents=True)
    (out / ".old-岚川-县-1234" / "draft.md").write_text("old", encoding="utf-8")
    (out / ".tmp-乙-99").mkdir()
    (out / "..tmp-乙-99.abc.tmp").mkdir()
    (out / "甲").mkdir()
    (out / ".old-甲-7").mkdir()
    batch_mod._clean_stale_staging(out)
    assert sorted(p.name for p in out.iterdir()) == ["岚川-县", "甲"]
    assert (out / "岚川-县" / "draft.md").read_text("utf-8") == "old"


def test_progress_logs_a_failed_unit_and_the_rate():
    import io

    stream = io.StringIO()
    bar = batch_mod.Progress(2, stream=stream)
    bar.update(batch_mod.UnitResult(name="甲", status="failed", error="坏数据：第 3 行\n详情"))
    bar.update(batch_mod.UnitResult(name="乙", status="done"))
    text = stream.getvalue()
    # The whole reason on one line, so a log keeps one line per failed unit.
    assert "失败：甲：坏数据：第 3 行 详情\n" in text
    assert "2/2 完成 1 失败 1 跳过 0" in text and "个/秒" in text and text.endswith("\n")


def test_cli_check_only_and_argument_errors(tmp_path: Path, capsys):
    drafts, metrics = tmp_path / "drafts", tmp_path / "metrics"
    drafts.mkdir()
    metrics.mkdir()
    shutil.copy(ROOT / "corpus" / "reports" / "heting-2022.txt", drafts / "heting-2022.txt")
    shutil.copy(ROOT / "corpus" / "metrics" / "heting-2022.yaml", metrics / "heting-2022.yaml")
    out = tmp_path / "out"
    code = run(["batch", "--check-only", str(drafts), "--metrics-dir", str(metrics), "-o", str(out), "-q"])
    assert code == 0, capsys.readouterr().err
    assert "完成 1 个" in capsys.readouterr().out
    assert json.loads((out / "heting-2022" / "check.json").read_text("utf-8"))["summary"]["supported"] > 5
    # Misused options are usage errors (exit 2) with a Chinese message naming the fix.
    assert run(["batch", "--check-only", str(drafts), "-o", str(out)]) == 2
    assert "--metrics-dir" in capsys.readouterr().err
    assert run(["batch", str(drafts), "-o", str(out), "--ray-address", "ray://10.0.0.5:10001"]) == 2
    assert "--executor ray" in capsys.readouterr().err


def test_cli_logs_a_failed_unit_as_it_happens_without_a_terminal(units_dir: Path, tmp_path: Path, capsys):
    code = run(["batch", str(units_dir), "-o", str(tmp_path / "o"), "--workers", "1"])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.err.count("失败：broken：") == 1
    line = next(x for x in captured.err.splitlines() if x.startswith("失败：broken："))
    assert "broken.yaml" in line and "很多" in line        # the reason, not just "1 处错误"
    assert f"完成 {GOOD_UNITS} 个，失败 1 个" in captured.out
