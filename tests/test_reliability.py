"""Nothing hangs, crashes or is lost: the reliability table (`tests/reliability_cases.py`), each case a
real `shuzhi` process under a timeout, plus write faults injected in process (disk full, read-only,
no permission, Ctrl-C mid-write) and the index's tidying after a crash."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from pipeline.cli import run
from pipeline.errors import OutputError
from tests.reliability_cases import CASES, METRICS, REPORT, check_case

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_reliability_case(case, tmp_path: Path) -> None:
    outcome, found = check_case(case, tmp_path / "case")
    assert not found, f"{case.id}: {found}\nstdout: {outcome.stdout[-800:]}\nstderr: {outcome.stderr[-1500:]}"


def test_the_table_is_large_and_names_are_unique() -> None:
    assert len(CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES)


# --------------------------------------------------------------------------- write faults in process

def _fail_fsync(code: int):
    def fail(fd):  # noqa: ANN001 - os.fsync's signature
        raise OSError(code, os.strerror(code))
    return fail


def _interrupt(fd):  # noqa: ANN001
    raise KeyboardInterrupt


FAULTS = {
    "disk-full": (_fail_fsync(errno.ENOSPC), 1, "磁盘空间不足"),
    "read-only": (_fail_fsync(errno.EROFS), 1, "只读"),
    "no-permission": (_fail_fsync(errno.EACCES), 1, "没有写入权限"),
    "ctrl-c": (_interrupt, 130, "已中断"),
}
WRITERS = {
    "check-o": lambda d: ["check", str(REPORT), "--metrics", str(METRICS), "--format", "json", "-o", str(d / "r.json")],
    "facts-out": lambda d: ["facts", str(REPORT), "--out", str(d / "f.json")],
    "draft-o": lambda d: ["draft", str(METRICS), "-o", str(d / "out")],
    "metrics-init-o": lambda d: ["metrics", "init", "-o", str(d / "m.yaml")],
}


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("writer", list(WRITERS))
def test_a_failed_write_is_one_line_and_leaves_nothing(writer, fault, tmp_path, monkeypatch, capsys) -> None:
    injected, code, words = FAULTS[fault]
    out = tmp_path / "w"
    out.mkdir()
    monkeypatch.setattr(os, "fsync", injected)
    assert run(WRITERS[writer](out)) == code
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
    assert len([line for line in err.splitlines() if line.startswith(("错误：", "已中断"))]) == 1
    assert [p.name for p in out.rglob("*")] == [], "nothing may be left, not even a temporary file"


def test_atomic_write_names_the_target_not_the_temp(tmp_path, monkeypatch) -> None:
    from pipeline.fsutil import atomic_write_text

    monkeypatch.setattr(os, "fsync", _fail_fsync(errno.ENOSPC))
    with pytest.raises(OutputError) as info:
        atomic_write_text(tmp_path / "a.txt", "x")
    assert str(tmp_path / "a.txt") in str(info.value) and ".tmp" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- the index after a crash

def test_an_orphan_collection_and_crash_temp_files_are_removed(tmp_path: Path) -> None:
    from pipeline.index.hybrid import CHROMA_DIR, HybridIndex
    from pipeline.index.vectors import open_chroma, release_chroma

    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "r.txt").write_bytes(REPORT.read_bytes())
    idx = tmp_path / "idx"
    # What an ingest killed before its first commit leaves: a collection no state names, a temp file.
    client = open_chroma(str(idx / CHROMA_DIR), None)
    client.get_or_create_collection("shuzhi-deadbeef0000", embedding_function=None).add(
        ids=["x"], embeddings=[[0.1] * 8])
    release_chroma(str(idx / CHROMA_DIR))
    (idx / ".state.json.abc.tmp").write_text("{", encoding="utf-8")
    spill = idx / ".ingest-spill-abc123"          # a killed ingest's worker vectors
    spill.mkdir()
    (spill / "101-0.npy").write_bytes(b"\x93NUMPY")
    (idx / ".ingest-spill-notadir").write_text("a user's file, not ours to delete", encoding="utf-8")

    index = HybridIndex.open(idx)
    assert index.ingest([reports]).ok
    client = open_chroma(str(idx / CHROMA_DIR), None)
    names = sorted(c.name for c in client.list_collections())
    release_chroma(str(idx / CHROMA_DIR))
    state = json.loads((idx / "state.json").read_text(encoding="utf-8"))
    # The orphan is gone; the index's own collection exists only when it keeps a Chroma copy.
    assert names == ([f"shuzhi-{state['index_id']}"] if index.local_chroma else [])
    assert not list(idx.glob(".*.tmp"))
    assert not spill.exists() and (idx / ".ingest-spill-notadir").is_file()


def test_a_waiting_ingest_says_whom_it_waits_for(tmp_path: Path) -> None:
    import fcntl

    from pipeline.errors import IndexLockedError
    from pipeline.index.hybrid import HybridIndex

    idx = tmp_path / "idx"
    idx.mkdir()
    heard: list[str] = []
    with open(idx / ".lock", "a+") as holder:
        fcntl.flock(holder.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        holder.write(json.dumps({"pid": 4242, "since": "2026-12-01T09:00:00+08:00"}))
        holder.flush()
        with pytest.raises(IndexLockedError, match="进程 4242"):
            HybridIndex.open(idx, lock_timeout=0.3).ingest([REPORT], notice=heard.append)
    assert heard and "进程 4242" in heard[0] and "2026-12-01T09:00:00+08:00" in heard[0]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")], ids=["nan", "inf", "-inf"])
def test_a_mapping_with_a_non_finite_figure_is_refused_naming_the_key(value) -> None:
    # What a web form's JSON or a library caller can hand over without any YAML in between.
    from decimal import Decimal

    from pipeline.facts.metrics import MetricsError, metrics_from_mapping

    for given in (value, Decimal(repr(value))):
        with pytest.raises(MetricsError, match=r"militia\.primary.*不是有效数字"):
            metrics_from_mapping({"meta": {"year": 2024, "region": "青岚县"}, "metrics": {"militia.primary": given}})
