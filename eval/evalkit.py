"""What every eval and benchmark shares: where results go, how they are written, percentiles.

Each step writes `eval/results/NAME.json` (figures) and `eval/results/NAME.md` (a section that
`run_all.py` pastes into RESULTS.md), atomically, so an interrupted run never leaves half a table.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "eval" / "results"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pipeline.fsutil import atomic_write_text  # noqa: E402


def write_json(name: str, figures: Any) -> Path:
    return atomic_write_text(RESULTS / f"{name}.json", json.dumps(figures, ensure_ascii=False, indent=2) + "\n")


def write_markdown(name: str, lines: Sequence[str] | str) -> str:
    """Write the section and return its text (scripts also print it)."""
    text = lines if isinstance(lines, str) else "\n".join(lines)
    text = text.rstrip("\n") + "\n"
    atomic_write_text(RESULTS / f"{name}.md", text)
    return text


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1) of a non-empty sample."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]
