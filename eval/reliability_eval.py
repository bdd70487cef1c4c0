"""Reliability: run the table of bad inputs, bad outputs and unlucky states (tests/reliability_cases.py)
and the seeded kill -9 run (tests/reliability_faults.py); record per case the exit code, whether it
passed, time and peak memory, and the alias/nesting bombs' figures against their floors
(refused in < 1 s, peak < 200 MB).

Usage: python eval/reliability_eval.py [--no-faults] [--seed N]
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path

from evalkit import ROOT, write_json, write_markdown

sys.path.insert(0, str(ROOT))

from tests.reliability_cases import CASES, check_case  # noqa: E402
from tests.reliability_faults import run_faults  # noqa: E402

BOMBS = ("yaml-alias-bomb-validate", "yaml-alias-bomb-check", "yaml-alias-bomb-draft", "yaml-5000-deep-validate",
         "json-5000-deep-validate", "xlsx-zip-bomb", "docx-zip-bomb")


def _bomb_in_process() -> dict[str, dict[str, float]]:
    """The loader alone on each bomb: how long until it refuses, and the Python memory it used."""
    import time
    import tracemalloc

    from pipeline.errors import InputError
    from pipeline.facts.metrics import load_metrics
    from tests.reliability_cases import _DEEP_JSON, _DEEP_YAML, alias_bomb

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, suffix, text in (("alias bomb", ".yaml", alias_bomb()), ("5000-deep YAML", ".yaml", _DEEP_YAML),
                                   ("5000-deep JSON", ".json", _DEEP_JSON)):
            path = Path(tmp) / f"m{suffix}"
            path.write_text(text, encoding="utf-8")
            tracemalloc.start()
            started = time.perf_counter()
            try:
                load_metrics(path)
                refused = False
            except InputError:
                refused = True
            ms = (time.perf_counter() - started) * 1000
            peak = tracemalloc.get_traced_memory()[1] / 1024
            tracemalloc.stop()
            out[name] = {"refused": refused, "ms": round(ms, 2), "peak_kb": round(peak, 1)}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-faults", action="store_true", help="skip the kill -9 run")
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="shuzhi-reliability-") as tmp:
        for n, case in enumerate(CASES):
            outcome, found = check_case(case, Path(tmp) / f"c{n}")
            rows.append({"id": case.id, "expected": case.code, "exit": outcome.code, "ok": not found,
                         "problems": found, "seconds": round(outcome.seconds, 3),
                         "peak_mb": None if math.isnan(outcome.peak_mb) else round(outcome.peak_mb, 1)})
            print(f"{'ok ' if not found else 'BAD'} {case.id}: exit {outcome.code}, {outcome.seconds:.2f} s, "
                  f"{outcome.peak_mb:.0f} MB {found or ''}", flush=True)
        faults = None
        if args.no_faults:
            # Keep the last kill -9 run's figures (marked as such) rather than drop them.
            from evalkit import RESULTS

            try:
                import json

                faults = json.loads((RESULTS / "reliability_eval.json").read_text(encoding="utf-8")).get("faults")
                if faults:
                    faults["from_previous_run"] = True
            except (OSError, ValueError):
                faults = None
        else:
            report = run_faults(Path(tmp) / "faults", seed=args.seed)
            faults = {"seed": report.seed, "kills": len(report.kills), "killed_mid_run": report.killed,
                      "ok": report.ok, "problems": report.problems, "seconds": report.seconds,
                      "baseline": report.baseline, "runs": report.kills}
    inprocess = _bomb_in_process()
    passed = sum(r["ok"] for r in rows)
    by_code = {code: sum(1 for r in rows if r["expected"] == code) for code in (0, 1, 2)}
    bombs = [r for r in rows if r["id"] in BOMBS]
    figures = {"cases": len(rows), "passed": passed, "by_expected_exit": by_code, "rows": rows,
               "bombs": bombs, "bombs_in_process": inprocess, "faults": faults}
    write_json("reliability_eval", figures)
    lines = [
        "## Reliability (bad inputs, outputs and faults)",
        "",
        "`python eval/reliability_eval.py` — the table in `tests/reliability_cases.py`, each case a real "
        "`shuzhi` process (also run by `make test` as `tests/test_reliability.py`), and the seeded kill -9 run "
        "of `tests/reliability_faults.py` (`tests/test_faults.py`).",
        "",
        f"- cases: **{passed} / {len(rows)} pass** (expected exit 0: {by_code[0]}, 1: {by_code[1]}, 2: {by_code[2]}); "
        "each asserts the exit code, one `错误：` line and no traceback, no partial output, inputs untouched, "
        "a memory bound and a timeout",
        f"- slowest case: {max(r['seconds'] for r in rows):.2f} s; highest peak memory: "
        f"{max((r['peak_mb'] or 0) for r in rows):.0f} MB",
    ]
    if faults:
        lines.append(f"- kill -9 run (seed {faults['seed']}): {faults['kills']} runs, {faults['killed_mid_run']} "
                     f"killed mid-run, {'no inconsistency found' if faults['ok'] else 'PROBLEMS: ' + '; '.join(faults['problems'])}"
                     f"; {faults['seconds']:.0f} s in all" + (" (kept from the previous full run)" if faults.get("from_previous_run") else ""))
    lines += ["", "| bomb case | exit | time | peak memory | floor |", "|---|---|---|---|---|"]
    lines += [f"| {r['id']} | {r['exit']} | {r['seconds']:.2f} s | {r['peak_mb']} MB | < 1 s of work, < 200 MB |"
              for r in bombs]
    lines += ["", "Times above include starting Python. In process (the loader alone, `tracemalloc` peak): "
              + "; ".join(f"{name} refused in {r['ms']:.1f} ms, {r['peak_kb']:.0f} KB" for name, r in inprocess.items()),
              ""]
    print(write_markdown("reliability_eval", lines))
    return 0 if passed == len(rows) and (faults is None or faults["ok"]) else 1


if __name__ == "__main__":
    sys.exit(main())
