"""Batch benchmark: units per second with 1 and 2 workers, scaling, memory per worker, resume.

Usage: .venv/bin/python eval/bench.py batch [--units 1000] [--workers 1 2] [--ray]

Synthetic units are made by varying the corpus's next-year metrics (every figure scaled by a seeded
random factor, region renamed), so each unit drafts a different report. The index is the corpus
ingested once. Each timed run drafts every unit from scratch into a fresh folder with the template
engine; the resume run repeats the last run with --resume and should do nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.batch import BatchSettings, run_batch, worker_stats  # noqa: E402

WORK = ROOT / "eval" / "_work" / "bench_batch"
RESULTS = ROOT / "eval" / "results"
REGION_STEMS = "东西南北中上下前后左右新旧青白金银松柏梅竹兰菊桃李杏"


def make_units(count: int, folder: Path, seed: int = 2026) -> None:
    rng = random.Random(seed)
    sources = [ROOT / "corpus" / "sample" / "metrics.yaml", *sorted((ROOT / "corpus" / "sample" / "next").glob("*.yaml"))]
    bases = [yaml.safe_load(p.read_text("utf-8")) for p in sources]
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        data = json.loads(json.dumps(bases[i % len(bases)], default=str))
        name = f"{REGION_STEMS[i % len(REGION_STEMS)]}{REGION_STEMS[(i // len(REGION_STEMS)) % len(REGION_STEMS)]}{i:04d}"
        data["meta"]["region"] = f"{name}县"
        data["meta"]["unit"] = f"{name}县人武部"
        data["partners"] = []
        for key, spec in list(data.get("metrics", {}).items()):
            if not isinstance(spec, dict) or spec.get("value") is None:
                continue
            value = Decimal(str(spec["value"]))
            if key.startswith("ranking."):
                spec["value"] = rng.randint(1, 5)
            elif key.endswith("_rate") or key.endswith("_ratio"):
                spec["value"] = min(100, int(value) - rng.randint(0, 5))
            else:
                factor = Decimal(str(round(rng.uniform(0.8, 1.2), 2)))
                scaled = (value * factor).quantize(Decimal("1"))
                spec["value"] = int(max(scaled, 1))
            spec.pop("previous", None)
        (folder / f"unit-{i:04d}.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def ensure_index() -> Path:
    from pipeline.index import HybridIndex

    index_dir = WORK / "index"
    HybridIndex.open(index_dir).ingest([ROOT / "corpus" / "reports"])
    return index_dir


def timed_run(units: Path, out: Path, index_dir: Path, workers: int, resume: bool = False,
              executor: str = "local") -> dict:
    if out.exists() and not resume:
        shutil.rmtree(out)
    settings = BatchSettings(out_dir=str(out), index_dir=str(index_dir))
    started = time.perf_counter()
    report = run_batch(units, settings, workers=workers, resume=resume, progress=False, executor=executor)
    seconds = time.perf_counter() - started
    counts = report.counts()
    stats = worker_stats(report.results)
    ran = [r.seconds for r in report.results if r.status != "skipped"]
    cpu = [r.cpu_seconds for r in report.results if r.status != "skipped"]
    return {
        "executor": executor, "workers": workers, "seconds": round(seconds, 2),
        "units_per_s": round(len(report.results) / seconds, 2), **counts,
        "unit_ms_p50": round(1000 * statistics.median(ran), 1) if ran else None,
        "unit_cpu_ms_mean": round(1000 * statistics.fmean(cpu), 1) if cpu else None,
        "worker_processes": len(stats),
        "peak_worker_rss_mb": max((w["peak_rss_mb"] for w in stats.values()), default=None),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--units", type=int, default=1000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--ray", action="store_true", help="also time the Ray executor (local Ray, 2 workers)")
    args = parser.parse_args(argv)
    units = WORK / f"units-{args.units}"
    if not units.exists():
        make_units(args.units, units)
    index_dir = ensure_index()
    load_before = os.getloadavg()[0]
    runs = []
    for workers in args.workers:
        run = timed_run(units, WORK / f"out-{workers}", index_dir, workers)
        print(f"{workers} worker(s): {run}", flush=True)
        runs.append(run)
    if args.ray:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        run = timed_run(units, WORK / "out-ray", index_dir, 2, executor="ray")
        print(f"ray, 2 workers: {run}", flush=True)
        runs.append(run)
    last = args.workers[-1]
    resume = timed_run(units, WORK / f"out-{last}", index_dir, last, resume=True)
    print(f"resume: {resume}", flush=True)
    local = [r for r in runs if r["executor"] == "local"]
    base = next((r for r in local if r["workers"] == 1), None)
    two = next((r for r in local if r["workers"] == 2), None)
    efficiency = round(two["units_per_s"] / (2 * base["units_per_s"]), 2) if base and two else None
    peak = max((r["peak_worker_rss_mb"] or 0 for r in runs), default=0)
    floor_met = bool(two and two["units_per_s"] >= 5)
    per_worker = two["units_per_s"] / 2 if two else (base["units_per_s"] if base else 0)
    cpu_ms = (two or base or {}).get("unit_cpu_ms_mean")
    ceiling = round(2000 / cpu_ms, 1) if cpu_ms else None
    result = {
        "units": args.units, "cpus": os.cpu_count(), "load_avg_1m_at_start": round(load_before, 2),
        "runs": runs, "scaling_efficiency_1_to_2": efficiency, "peak_worker_rss_mb": peak,
        "resume": resume, "floor_units_per_s_2_workers": 5, "floor_met": floor_met,
        "per_worker_units_per_s": round(per_worker, 2), "cpu_bound_units_per_s_2_cores": ceiling,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench_batch.json").write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    lines = [
        "## Batch throughput (`eval/bench.py batch`)",
        "",
        f"Command: `.venv/bin/python eval/bench.py batch --units {args.units}{' --ray' if args.ray else ''}` — "
        "template engine, corpus index, every unit drafted, checked and written (docx, md, json, check.html, "
        f"done marker). {os.cpu_count()} CPUs; 1-minute load average {load_before:.1f} at start "
        "(other jobs share this machine, so the figures are a lower bound).",
        "",
        "| executor | workers | units | seconds | units/s | unit wall p50 ms | unit CPU mean ms | done | failed "
        "| peak RSS/worker MB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        lines.append(f"| {r['executor']} | {r['workers']} | {args.units} | {r['seconds']} | {r['units_per_s']} | "
                     f"{r['unit_ms_p50']} | {r['unit_cpu_ms_mean']} | {r['done']} | {r['failed']} | "
                     f"{r['peak_worker_rss_mb']} |")
    lines += [
        "",
        f"Scaling efficiency 1→2 workers: {efficiency}. Peak RSS of a worker process: {peak} MB. "
        f"Resume run (nothing changed): {resume['seconds']} s, {resume['skipped']} skipped, "
        f"{resume['done']} redone. Floor 5 units/s with 2 workers: **{'pass' if floor_met else 'FAIL'}**. "
        f"CPU-bound ceiling on 2 idle cores (2 ÷ mean CPU per unit of the 2-worker run): "
        f"{result['cpu_bound_units_per_s_2_cores']} units/s.",
        "",
        "Spreading the run over a Ray cluster: `shuzhi batch UNITS -o OUT --executor ray --ray-address "
        "ray://HEAD:10001` starts one actor per cluster CPU (each loads jieba and the index once); units are "
        "handed out one at a time, so a slow node takes fewer. INPUT, OUT and the index folder must be the same "
        "shared path on every node (NFS/SMB), and `--chroma-url` points every node at one Chroma server. "
        f"Per worker this run drafted {per_worker:.1f} units/s, so a node with C cores should give about "
        f"{per_worker:.1f} × C × {efficiency or 1} units/s "
        f"(e.g. ≈{per_worker * 8 * (efficiency or 1):.0f} units/s for 8 cores) and need about "
        f"{peak:.0f} MB per core; a province's 2,000 units would take a few minutes on four such nodes. "
        "The shared output folder's file creation (≈6 files per unit) becomes the limit before the CPUs do.",
    ]
    (RESULTS / "bench_batch.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0 if floor_met or not two else 1


if __name__ == "__main__":
    sys.exit(main())
