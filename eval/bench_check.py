"""Benchmark: how long `check_text` takes on a ~3,000-character report, in process.

Usage: .venv/bin/python eval/bench.py check [--runs N]   (or .venv/bin/python eval/bench_check.py)

The report is a corpus report grown to about 3,000 characters by appending the body paragraphs of
the same region's other years (the drafter checks reports of this size after every section). Reported:
the first call in the process (jieba's tag table and the per-metrics preparation load then), then p50
and p95 over `--runs` warm calls, and per-paragraph calls (what the drafter does after each section).
Scaling (`--scale-mb`, default 0.5 1 2): the corpus reports joined and repeated to N megabytes of text (a
year's worth of reports pasted into one file), checked once each; reported as wall and CPU seconds per MB.
A check must cost O(N): the floor is ≤ 2 s of CPU per MB at every size, and the per-MB cost of the largest
size must stay within 1.5× of the smallest (so a quadratic step shows even on a fast machine).
Writes eval/results/bench_check.json and eval/results/bench_check.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from evalkit import percentile, write_json, write_markdown  # noqa: E402

TARGET_CHARS = 3000
SECONDS_PER_MB_FLOOR = 2.0


def _big_text(chars: int) -> str:
    from pipeline.reading.readers import read_text

    reports = sorted(p for p in (ROOT / "corpus" / "reports").glob("*") if p.suffix in (".txt", ".md", ".docx"))
    joined = "\n".join(read_text(p) for p in reports)
    return (joined * (chars // len(joined) + 1))[:chars]


def scaling(metrics, sizes_mb: list[float]) -> list[dict]:
    """check_text on N MB of report text: wall and CPU seconds, and per MB."""
    from pipeline.facts.check import check_text

    check_text(_big_text(50_000), metrics)      # warm: jieba's tag table and the per-metrics caches load once
    rows = []
    for mb in sizes_mb:
        text = _big_text(int(mb * 1_000_000))
        t0, c0 = time.perf_counter(), time.process_time()
        result = check_text(text, metrics)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        rows.append({"mb": mb, "chars": len(text), "findings": len(result.findings),
                     "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
                     "wall_s_per_mb": round(wall / mb, 2), "cpu_s_per_mb": round(cpu / mb, 2)})
    return rows


def _report(region: str = "lanchuan") -> tuple[str, Path]:
    from pipeline.reading.readers import read_text

    reports = sorted(p for p in (ROOT / "corpus" / "reports").glob(f"{region}-*") if p.suffix in (".txt", ".md", ".docx"))
    if not reports:
        reports = sorted((ROOT / "corpus" / "reports").glob("*.txt"))
    main_report = reports[-1]
    text = read_text(main_report)
    for other in reports[:-1]:
        if len(text) >= TARGET_CHARS:
            break
        body = [line for line in read_text(other).splitlines() if len(line) > 60]
        for line in body:
            if len(text) >= TARGET_CHARS:
                break
            text += "\n" + line
    metrics_path = ROOT / "corpus" / "metrics" / (main_report.stem + ".yaml")
    return text[: TARGET_CHARS + 200], metrics_path



def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--scale-mb", type=float, nargs="*", default=[0.5, 1.0, 2.0],
                        help="sizes (MB of text) for the linear-cost measurement; none to skip")
    args = parser.parse_args(argv)

    from pipeline.facts.check import check_text
    from pipeline.facts.metrics import load_metrics

    text, metrics_path = _report()
    metrics = load_metrics(metrics_path)
    started = time.perf_counter()
    first = check_text(text, metrics)
    first_ms = (time.perf_counter() - started) * 1000
    times, cpu_times = [], []
    for _ in range(args.runs):
        t0, c0 = time.perf_counter(), time.process_time()
        check_text(text, metrics)
        times.append((time.perf_counter() - t0) * 1000)
        cpu_times.append((time.process_time() - c0) * 1000)
    from pipeline.facts.quantities import extract_quantities

    extract_times = []
    for _ in range(max(1, args.runs // 4)):
        t0 = time.perf_counter()
        extract_quantities(text)
        extract_times.append((time.perf_counter() - t0) * 1000)
    paragraphs = [p for p in text.splitlines() if p.strip()]
    para_times = []
    for _ in range(max(1, args.runs // 20)):
        for p in paragraphs:
            t0 = time.perf_counter()
            check_text(p, metrics)
            para_times.append((time.perf_counter() - t0) * 1000)

    figures = sum(1 for f in first.findings if f.kind == "quantity")
    scale = scaling(metrics, args.scale_mb) if args.scale_mb else []
    linear = bool(scale) and max(r["cpu_s_per_mb"] for r in scale) <= SECONDS_PER_MB_FLOOR \
        and scale[-1]["cpu_s_per_mb"] <= 1.5 * max(scale[0]["cpu_s_per_mb"], 0.1)
    result = {
        "report_chars": len(text),
        "figures": figures,
        "findings": len(first.findings),
        "runs": args.runs,
        "first_call_ms": round(first_ms, 1),
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(percentile(times, 0.95), 2),
        "cpu_p50_ms": round(statistics.median(cpu_times), 2),
        "extract_quantities_p50_ms": round(statistics.median(extract_times), 2),
        "paragraph_p50_ms": round(statistics.median(para_times), 2),
        "paragraph_p95_ms": round(percentile(para_times, 0.95), 2),
        "machine": f"{platform.machine()}, Python {platform.python_version()}",
        "load_average": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "scaling": scale,
        "seconds_per_mb_floor": SECONDS_PER_MB_FLOOR,
        "scaling_floor_met": linear if scale else None,
    }
    print(f"check_text on a {len(text)}-character report ({figures} figures, {len(first.findings)} findings):")
    print(f"  first call {first_ms:.1f} ms (loads jieba's tag table and prepares the metrics)")
    print(f"  warm: p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms over {args.runs} runs")
    print(f"  CPU time per call (less affected by other work on the machine): p50 {result['cpu_p50_ms']} ms")
    print(f"  of which extract_quantities (the extractor stage): p50 {result['extract_quantities_p50_ms']} ms")
    print(f"  one paragraph at a time: p50 {result['paragraph_p50_ms']} ms, p95 {result['paragraph_p95_ms']} ms")
    for r in scale:
        print(f"  {r['mb']} MB ({r['chars']} characters): {r['wall_s']} s wall, {r['cpu_s']} s CPU "
              f"= {r['cpu_s_per_mb']} s CPU per MB")
    if scale:
        print("  linear, ≤ 2 s CPU per MB: " + ("met" if linear else "NOT met"))
    write_json("bench_check", result)
    md = [
        "## Benchmark: checker speed",
        "",
        f"`.venv/bin/python eval/bench.py check` — `check_text` in process on a {len(text)}-character report "
        f"({figures} figures), {args.runs} warm runs; 1-minute load average {result['load_average']} "
        f"on {os.cpu_count()} cores while it ran (other work on the machine inflates these).",
        "",
        "| measure | ms |",
        "|---|---|",
        f"| first call (loads tag table, prepares metrics) | {result['first_call_ms']} |",
        f"| whole report, p50 | {result['p50_ms']} |",
        f"| whole report, p95 | {result['p95_ms']} |",
        f"| whole report, CPU time p50 | {result['cpu_p50_ms']} |",
        f"| of which extract_quantities, p50 | {result['extract_quantities_p50_ms']} |",
        f"| one paragraph, p50 | {result['paragraph_p50_ms']} |",
        f"| one paragraph, p95 | {result['paragraph_p95_ms']} |",
    ]
    if scale:
        md += [
            "",
            "Long texts (the corpus joined and repeated; one `check_text` call each):",
            "",
            "| MB | characters | wall s | CPU s | CPU s per MB |",
            "|---|---|---|---|---|",
            *[f"| {r['mb']} | {r['chars']} | {r['wall_s']} | {r['cpu_s']} | {r['cpu_s_per_mb']} |" for r in scale],
            "",
            f"Floor: ≤ {SECONDS_PER_MB_FLOOR} s CPU per MB at every size and no growth of the per-MB cost beyond "
            f"1.5× from the smallest to the largest size: {'met' if linear else 'NOT met'}.",
        ]
    write_markdown("bench_check", md)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
