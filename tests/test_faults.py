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
