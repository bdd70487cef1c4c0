"""Run every eval and benchmark, then rewrite eval/RESULTS.md from eval/results/*.md.

Usage: .venv/bin/python eval/run_all.py [--only NAME ...]
Each step is a separate process so one failure does not hide the others; the table at the top of
RESULTS.md says which steps failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

EVAL = Path(__file__).resolve().parent
ROOT = EVAL.parent
RESULTS = EVAL / "results"

STEPS: list[tuple[str, list[str]]] = [
    ("parse_eval", ["eval/parse_eval.py"]),
    ("extract_eval", ["eval/extract_eval.py"]),
    ("retrieval_eval", ["eval/retrieval_eval.py"]),
    ("checker_eval", ["eval/checker_eval.py"]),
    ("draft_eval", ["eval/draft_eval.py"]),
    ("holdout_eval", ["eval/holdout_eval.py"]),
    ("bench_ingest", ["eval/bench.py", "ingest"]),
    ("bench_search", ["eval/bench.py", "search"]),
    ("bench_check", ["eval/bench.py", "check"]),
    ("bench_draft", ["eval/bench.py", "draft"]),
    ("bench_batch", ["eval/bench.py", "batch", "--ray"]),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", help="run only these steps")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    status: list[tuple[str, str, float]] = []
    env = dict(os.environ, ANONYMIZED_TELEMETRY="False", PYTHONPATH=str(ROOT))
    for name, cmd in STEPS:
        if args.only and name not in args.only:
            continue
        if not (ROOT / cmd[0]).exists():
            status.append((name, "missing", 0.0))
            continue
        print(f"== {name}: python {' '.join(cmd)}", flush=True)
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, *cmd], cwd=ROOT, env=env)
        elapsed = time.perf_counter() - started
        status.append((name, "ok" if proc.returncode == 0 else f"exit {proc.returncode}", elapsed))
    status = merge_status(status)
    write_results(status)
    return 0 if all(s in ("ok", "missing") for _, s, _ in status) else 1


def merge_status(status: list[tuple[str, str, float]]) -> list[tuple[str, str, float]]:
    """Keep the last recorded status of steps not run this time (`--only`), in STEPS order."""
    import json

    path = RESULTS / "run_all_status.json"
    try:
        previous = {row[0]: tuple(row) for row in json.loads(path.read_text(encoding="utf-8"))}
    except (OSError, ValueError):
        previous = {}
    previous.update({name: (name, state, secs) for name, state, secs in status})
    merged = [previous[name] for name, _ in STEPS if name in previous]
    path.write_text(json.dumps(merged, ensure_ascii=False), encoding="utf-8")
    return merged


def write_results(status: list[tuple[str, str, float]]) -> None:
    today = dt.date.today().isoformat()
    lines = [
        "# Evaluation and benchmark results",
        "",
        f"Written by `make eval` (`.venv/bin/python eval/run_all.py`) on {today}, "
        f"on {platform.machine()} with {os.cpu_count()} cores, Python {platform.python_version()}.",
        "Each section below names the command that reproduces it.",
        "",
    ]
    if status:
        lines += ["| step | status | seconds |", "|---|---|---|"]
        lines += [f"| {name} | {state} | {secs:.1f} |" for name, state, secs in status]
        lines.append("")
    for name, _ in STEPS:
        fragment = RESULTS / f"{name}.md"
        if fragment.exists():
            lines.append(fragment.read_text(encoding="utf-8").rstrip())
            lines.append("")
    (EVAL / "RESULTS.md").write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {EVAL / 'RESULTS.md'}")


if __name__ == "__main__":
    sys.exit(main())
