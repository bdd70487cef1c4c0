"""Draft benchmark: in-process time per draft with the template engine, by stage, with and without the
index, and the time to write the four output files.

Usage: .venv/bin/python eval/bench.py draft [--drafts 200]

Drafts cycle through every metrics file of the corpus and the samples with a new seed each time, in
one process (profile, jieba, parser and index loaded once, as the batch does). Floor: p50 < 2 s
(aim < 300 ms).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evalkit import percentile, write_json, write_markdown  # noqa: E402

from pipeline.drafting.draft import draft_report  # noqa: E402
from pipeline.facts.metrics import load_metrics  # noqa: E402
from pipeline.index.hybrid import HybridIndex  # noqa: E402
from pipeline.output.draft_files import write_draft_outputs  # noqa: E402

WORK = ROOT / "eval" / "_work" / "bench_draft"
FLOOR = 2.0



def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.py draft", description=__doc__)
    parser.add_argument("--drafts", type=int, default=200, help="drafts per configuration (default 200)")
    args = parser.parse_args(argv)

    corpus = ROOT / "corpus"
    files = sorted((corpus / "metrics").glob("*.yaml")) + [corpus / "sample" / "metrics.yaml"] + sorted(
        (corpus / "sample" / "next").glob("*.yaml"))
    metrics = [load_metrics(p) for p in files if p.exists()]
    if WORK.exists():
        shutil.rmtree(WORK)
    index = HybridIndex.open(WORK / "index")
    index.ingest([corpus / "reports"])

    rows = {}
    for label, idx in (("no index", None), ("with index", index)):
        draft_report(metrics[0], index=idx)             # warm-up: first parse/jieba load is not per-draft cost
        totals: list[float] = []
        stages: dict[str, list[float]] = {}
        bad = 0
        for i in range(args.drafts):
            t0 = time.perf_counter()
            result = draft_report(metrics[i % len(metrics)], index=idx, seed=i)
            totals.append(time.perf_counter() - t0)
            bad += not result.check.ok
            for stage, seconds in result.timings.items():
                stages.setdefault(stage, []).append(seconds)
        rows[label] = {
            "drafts": args.drafts, "p50": statistics.median(totals), "p95": percentile(totals, 0.95), "max": max(totals),
            "stages_p50": {k: statistics.median(v) for k, v in stages.items() if k != "total"},
            "not_clean": bad,
        }
    write_times = []
    result = draft_report(metrics[0], index=index)
    for i in range(20):
        t0 = time.perf_counter()
        write_draft_outputs(result, WORK / "out" / str(i), annotate=True)
        write_times.append(time.perf_counter() - t0)
    write_p50 = statistics.median(write_times)

    ok = all(r["p50"] < FLOOR for r in rows.values())
    summary = {"configurations": rows, "write_outputs_p50": write_p50, "floor_p50_seconds": FLOOR, "floor_met": ok}
    write_json("bench_draft", summary)
    md = [
        "## Benchmark: drafting time (template engine, in process)",
        "",
        f"`.venv/bin/python eval/bench.py draft --drafts {args.drafts}` — {len(metrics)} metrics files cycled, "
        "a new seed per draft; times include the checker and the repair loop.",
        "",
        "| configuration | p50 | p95 | max | plan+write p50 | check p50 | drafts not clean |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, r in rows.items():
        s = r["stages_p50"]
        md.append(f"| {label} | {r['p50'] * 1000:.0f} ms | {r['p95'] * 1000:.0f} ms | {r['max'] * 1000:.0f} ms | "
                  f"{(s.get('plan', 0) + s.get('write', 0)) * 1000:.1f} ms | {s.get('check', 0) * 1000:.0f} ms | "
                  f"{r['not_clean']} |")
    md += ["", f"Writing draft.docx + draft-review.docx + draft.md + draft.json + check.html: p50 "
               f"{write_p50 * 1000:.0f} ms.", "",
           f"Floor p50 < {FLOOR:.0f} s: {'met' if ok else 'NOT met'}.", ""]
    write_markdown("bench_draft", md)
    print("\n".join(md))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
