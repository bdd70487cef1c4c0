"""kill -9 at random points (seeded): ingest and batch ten times each, then the next runs complete.
The scenario and its checks live in `tests/reliability_faults.py` (shared with the eval)."""

from __future__ import annotations

import sys

import pytest

from tests.reliability_faults import run_faults


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to find survivors")
def test_kill_minus_nine_twenty_times_leaves_a_consistent_index_and_complete_units(tmp_path) -> None:
    report = run_faults(tmp_path, seed=12, ingest_kills=10, batch_kills=10)
    assert len(report.kills) == 20
    assert report.ok, "\n".join(report.problems)


def _wait_for(path, proc, limit: float = 60.0) -> None:
    """Until `path` exists (the command is past its start-up) or the command ended."""
    import time

    deadline = time.monotonic() + limit
    while not path.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)


SIGNALS = [("batch-sigterm", "TERM", False, 143), ("batch-ctrl-c", "INT", True, 130),
           ("ingest-sigterm", "TERM", False, 143), ("ingest-ctrl-c", "INT", True, 130)]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to find survivors")
@pytest.mark.parametrize("name,signame,group,code", SIGNALS, ids=[s[0] for s in SIGNALS])
def test_sigterm_and_ctrl_c_end_cleanly(name, signame, group, code, tmp_path) -> None:
    import json
    import os
    import shutil
    import signal

    from tests.reliability_faults import (
        REPORTS,
        UNITS,
        _shuzhi,
        index_problems,
        units_problems,
    )

    sig = getattr(signal, f"SIG{signame}")
    if name.startswith("batch"):
        units, out = tmp_path / "units", tmp_path / "out"
        units.mkdir()
        for i in range(8):
            shutil.copy(UNITS[i % len(UNITS)], units / f"unit{i}.yaml")
        proc = _shuzhi(["batch", str(units), "-o", str(out), "--workers", "2", "-q"], tmp_path)
        _wait_for(out / ".shuzhi-batch.lock", proc)
    else:
        reports, idx = tmp_path / "reports", tmp_path / "idx"
        reports.mkdir()
        for path in REPORTS:
            shutil.copy(path, reports / path.name)
        proc = _shuzhi(["ingest", str(reports), "--index", str(idx)], tmp_path)
        _wait_for(idx / ".lock", proc)
    # Ctrl-C in a terminal signals the whole foreground group; SIGTERM comes to the process alone.
    (os.killpg if group else os.kill)(proc.pid, sig)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip(f"the command finished before the signal arrived: {err[-300:]}")
    assert proc.returncode == code, err
    assert "Traceback" not in err and "InvalidStateError" not in err
    assert _wait_empty(proc.pid) == [], "a worker or writer outlived the command"
    if name.startswith("batch"):
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
        assert summary["interrupted"] is True
        assert units_problems(out) == []
        assert not [p.name for p in out.iterdir() if p.name.startswith((".tmp-", ".old-", "..tmp"))]
    else:
        assert index_problems(idx) == []
        assert not list(idx.glob(".*.tmp")) if idx.exists() else True


def _wait_empty(sid: int) -> list[int]:
    import time

    from tests.reliability_faults import _session_alive

    deadline = time.monotonic() + 10
    alive = _session_alive(sid)
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = _session_alive(sid)
    return alive
