"""CLI start: `shuzhi draft` with the demo index and `shuzhi check` as whole processes, wall and
CPU time, and the imports each one makes (`python -X importtime`).

Floors: `shuzhi draft` (demo index) ≤ 0.6 s wall, `shuzhi check` ≤ 0.4 s wall, median of the runs.
On a shared machine wall time includes waiting for a core; the CPU time (user + system of the
process) is reported next to it, with the load average.

Usage: .venv/bin/python eval/bench.py cli [--runs 5]

The package is byte-compiled first (as `pip install` does), so no run pays for compiling sources.
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evalkit import write_json, write_markdown  # noqa: E402

WORK = ROOT / "eval" / "_work" / "bench_cli"
FLOORS = {"draft": 0.6, "check": 0.4, "help": None}
# Modules a command should not import unless it needs them (the list).
HEAVY = ("chromadb", "spacy", "langchain_core", "docx", "openpyxl", "bm25s", "jieba.posseg", "fastapi", "ray")


def commands(index: Path) -> dict[str, list[str]]:
    metrics = ROOT / "corpus" / "metrics" / "lanchuan-2024.yaml"
    return {
        "help": ["--help"],
        "check": ["check", str(ROOT / "corpus" / "reports" / "lanchuan-2024.txt"), "--metrics", str(metrics)],
        "draft": ["draft", str(metrics), "--index", str(index), "-o", str(WORK / "draft")],
    }


def _timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    code = "import sys; from pipeline.cli import run; sys.exit(run(sys.argv[1:]))"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, *argv], env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def importtime(argv: list[str], env: dict[str, str], top: int = 8) -> tuple[list[tuple[str, float]], list[str]]:
    """Top imports by self time (ms) and which of HEAVY were imported."""
    code = "import sys; from pipeline.cli import run; run(sys.argv[1:])"
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", code, *argv], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False).stderr
    rows: list[tuple[str, float]] = []
    for line in out.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = line.split("|")
        try:
            rows.append((parts[2].strip(), int(parts[0].split(":")[1]) / 1000))
        except ValueError:
            continue
    names = {name for name, _ in rows}
    heavy = [h for h in HEAVY if h in names]
    return sorted(rows, key=lambda r: -r[1])[:top], heavy


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.py cli", description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)

    env = dict(os.environ, PYTHONPATH=str(ROOT), ANONYMIZED_TELEMETRY="False")
    compileall.compile_dir(str(ROOT / "pipeline"), quiet=1)
    index = WORK / "index"
    if WORK.exists():
        shutil.rmtree(WORK)
    WORK.mkdir(parents=True)
    subprocess.run([sys.executable, "-c", "import sys; from pipeline.cli import run; sys.exit(run(sys.argv[1:]))",
                    "ingest", str(ROOT / "corpus" / "reports"), "--index", str(index)],
                   env=env, stdout=subprocess.DEVNULL, check=True)

    results: dict[str, dict] = {}
    runs = commands(index)
    for command in runs.values():
        _timed(command, env)          # warm the OS file cache
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
    load_before = os.getloadavg()[0]
    for _ in range(args.runs):            # interleaved, so load changes hit every command alike
        for name, command in runs.items():
            samples[name].append(_timed(command, env))
    load_after = os.getloadavg()[0]
    for name, command in runs.items():
        walls = [w for w, _ in samples[name]]
        cpus = [c for _, c in samples[name]]
        top, heavy = importtime(command, env)
        floor = FLOORS[name]
        wall = statistics.median(walls)
        results[name] = {"wall_s_median": round(wall, 3), "wall_s_min": round(min(walls), 3),
                         "cpu_s_median": round(statistics.median(cpus), 3), "floor_s": floor,
                         "pass": None if floor is None else wall <= floor,
                         "heavy_imports": heavy, "top_imports_ms": [(n, round(ms, 1)) for n, ms in top]}
    load = round(max(load_before, load_after), 2)
    passed = all(r["pass"] is not False for r in results.values())

    print(f"load average {load_before:.1f} → {load_after:.1f} on {os.cpu_count()} cores; {args.runs} runs each")
    for name, r in results.items():
        floor = f"≤ {r['floor_s']} s" if r["floor_s"] else "—"
        print(f"shuzhi {name:6} wall median {r['wall_s_median']:.2f} s (min {r['wall_s_min']:.2f}), "
              f"CPU {r['cpu_s_median']:.2f} s, floor {floor}; heavy imports: {', '.join(r['heavy_imports']) or 'none'}")
        print("   top imports (self ms): " + ", ".join(f"{n} {ms:.0f}" for n, ms in r["top_imports_ms"]))
    print("PASS" if passed else "FAIL")
    write_json("bench_cli", {"commands": results, "runs": args.runs, "load_average_1m": load, "pass": passed})
    md = ["## CLI start", "",
          f"`.venv/bin/python eval/bench.py cli --runs {args.runs}` — whole processes (byte-compiled package), "
          f"median of {args.runs} interleaved runs; load average {load_before:.1f} → {load_after:.1f} on "
          f"{os.cpu_count()} cores (wall includes waiting for a core; CPU does not).", "",
          "| command | wall median | wall min | CPU median | floor | heavy modules imported | top imports (self ms) |",
          "|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        md.append(f"| `shuzhi {name}` | {r['wall_s_median']:.2f} s | {r['wall_s_min']:.2f} s | {r['cpu_s_median']:.2f} s | "
                  f"{'≤ ' + str(r['floor_s']) + ' s' if r['floor_s'] else '—'} | {', '.join(r['heavy_imports']) or 'none'} | "
                  + ", ".join(f"{n} {ms:.0f}" for n, ms in r["top_imports_ms"][:5]) + " |")
    md.append("")
    write_markdown("bench_cli", md)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
