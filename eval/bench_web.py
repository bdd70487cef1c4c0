"""Load test of the web workbench over loopback HTTP: concurrent searches while drafts run, many
drafts for memory growth, and how fast hostile uploads are refused.

Usage: .venv/bin/python eval/bench.py web [--searchers 50] [--rounds 4] [--concurrent-drafts 20]
                                          [--drafts 200] [--max-jobs 2]

The server is the real app under uvicorn in a child process (as `shuzhi serve` runs it), bound to
127.0.0.1 (nothing leaves the machine), over an index of corpus/reports; its RSS is read from
/proc/<pid>/status, so the load generator's own threads and memory are not counted. Phase 1: `--searchers` client threads each run `--rounds`
searches while `--concurrent-drafts` drafts are submitted at the same moment and polled to the end
(the queue holds all but `--max-jobs`). Phase 2: `--drafts` more drafts, 20 at a time. The server's
RSS is read three times: warm (after one draft and one search: imports and the index loaded), after
phase 1 (the server's thread pool and per-seed caches have grown to their working size) and after
phase 2. The floor is on the growth across phase 2's drafts (a leak grows there; a warm-up does not);
the growth from the warm start is reported next to it. Phase 3: each hostile upload of issue 13, timed from
request to refusal. Floors: 0 errors, search p95 < 300 ms under load, RSS growth < 100 MB, every
hostile upload refused in < 1 s.
"""

from __future__ import annotations

import argparse
import io
import shutil
import socket
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evalkit import percentile, write_json, write_markdown  # noqa: E402

WORK = ROOT / "eval" / "_work" / "bench_web"
SAMPLE = ROOT / "corpus" / "sample" / "metrics.yaml"
FLOOR_SEARCH_P95_MS = 300.0
FLOOR_RSS_GROWTH_MB = 100.0
FLOOR_REFUSE_S = 1.0
QUERIES = ["民兵整组", "基干民兵集中轮训参训率", "征兵宣传发动", "大学生征集比例", "议军会研究武装工作",
           "双拥共建走访慰问", "退役士兵安置", "国防教育进校园", "军事日活动", "专武干部队伍建设"]
SECTIONS = ["", "systems", "duty", "plans"]


SERVER = """
import sys, uvicorn
from pathlib import Path
from pipeline.web.app import create_app
app = create_app(Path(sys.argv[1]), work_dir=Path(sys.argv[2]), max_jobs=int(sys.argv[4]), keep_count=10_000)
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[3]), log_level="error", limit_concurrency=1000)
"""


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def hostile_files() -> list[tuple[str, str, str, bytes]]:
    """(what, url, field, name, content): the uploads issue 13 measured hanging or exhausting memory."""
    para = b"<w:p><w:r><w:t>" + "民兵整组".encode() * 40 + b"</w:t></w:r></w:p>"
    docx = _zip({"[Content_Types].xml": b"<Types/>",
                 "word/document.xml": b"<w:document><w:body>" + para * (190 * 1024 * 1024 // len(para))
                 + b"</w:body></w:document>"})
    row = b'<row r="%d"><c r="A%d" t="s"><v>0</v></c><c r="B%d"><v>1</v></c></row>'
    sheet = b"".join(row % (i, i, i) for i in range(1, 940_002))
    xlsx = _zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>",
                 "xl/worksheets/sheet1.xml": b"<worksheet><sheetData>" + sheet + b"</sheetData></worksheet>"})
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for i, name in enumerate("bcdefghi"):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{'abcdefghi'[i]}"] * 9) + "]")
    laughs = ("\n".join(lines) + "\n").encode()
    return [
        (f".docx, document.xml 190 MB expanded ({len(docx) // 1024} KB sent)", "/review", "report_file", "bomb.docx", docx),
        (f".xlsx, 940,001 rows ({len(xlsx) // 1024} KB sent)", "/draft", "metrics_file", "rows.xlsx", xlsx),
        (f"YAML alias bomb ({len(laughs)} bytes)", "/draft", "metrics_file", "laughs.yaml", laughs),
    ]


def main(argv: list[str]) -> int:
    import os
    import subprocess

    import httpx

    from pipeline.index.hybrid import HybridIndex

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--searchers", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--concurrent-drafts", type=int, default=20)
    parser.add_argument("--drafts", type=int, default=200)
    parser.add_argument("--max-jobs", type=int, default=2)
    parser.add_argument("--arena-max", type=int, default=0, help="MALLOC_ARENA_MAX for the server (0: unset)")
    args = parser.parse_args(argv)

    if WORK.exists():
        shutil.rmtree(WORK)
    WORK.mkdir(parents=True)
    index_dir = WORK / "index"
    reports = sorted(p for p in (ROOT / "corpus" / "reports").iterdir() if p.is_file())
    HybridIndex.open(index_dir, read_only=False).ingest(reports)
    with socket.socket() as probe:           # a free loopback port for the child
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, PYTHONPATH=str(ROOT), ANONYMIZED_TELEMETRY="False")
    if args.arena_max:
        env["MALLOC_ARENA_MAX"] = str(args.arena_max)
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(index_dir), str(WORK / "data"), str(port),
                               str(args.max_jobs)], env=env, cwd=ROOT)
    for _ in range(600):
        try:
            if httpx.get(base + "/draft", timeout=5).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        server.kill()
        raise SystemExit("server did not start")
    headers = {"Origin": base}
    sample = SAMPLE.read_bytes()
    errors: list[str] = []

    def search(i: int) -> float:
        with httpx.Client(base_url=base, timeout=60) as client:
            started = time.perf_counter()
            r = client.get("/corpus", params={"q": QUERIES[i % len(QUERIES)], "section": SECTIONS[i % len(SECTIONS)]})
            took = (time.perf_counter() - started) * 1000
            if r.status_code != 200 or 'id="hits"' not in r.text:
                errors.append(f"search {r.status_code}")
            return took

    def searcher(i: int) -> list[float]:
        return [search(i * args.rounds + k) for k in range(args.rounds)]

    def draft(i: int) -> float:
        with httpx.Client(base_url=base, timeout=120, headers=headers) as client:
            started = time.perf_counter()
            r = client.post("/draft", files={"metrics_file": ("metrics.yaml", sample)},
                            data={"engine": "template", "seed": str(i % 50)}, follow_redirects=False)
            if r.status_code != 303:
                errors.append(f"draft submit {r.status_code}")
                return float("nan")
            job_id = r.headers["location"].rsplit("/", 1)[1]
            while True:
                state = client.get(f"/jobs/{job_id}").json()
                if state["status"] in ("done", "error"):
                    break
                time.sleep(0.4)            # a client polling as the page does (every 400 ms)
            if state["status"] != "done":
                errors.append(f"draft {state.get('error')}")
            page = client.get(f"/draft/jobs/{job_id}")
            if page.status_code != 200 or "保存并下载 Word" not in page.text:
                errors.append(f"result page {page.status_code}")
            return (time.perf_counter() - started) * 1000

    # Warm-up: imports, the index, the profile.
    draft(0)
    search(0)
    rss_warm = rss_mb(server.pid)

    # Phase 1: searches while drafts run.
    with ThreadPoolExecutor(args.searchers + args.concurrent_drafts) as pool:
        draft_futures = [pool.submit(draft, i) for i in range(args.concurrent_drafts)]
        search_futures = [pool.submit(searcher, i) for i in range(args.searchers)]
        search_ms = [t for f in search_futures for t in f.result()]
        draft_ms = [f.result() for f in draft_futures]
    rss_before = rss_mb(server.pid)
    # Phase 2: `--drafts` more drafts, 20 at a time.
    done = 0
    more_ms: list[float] = []
    with ThreadPoolExecutor(20) as pool:
        while done < args.drafts:
            batch = min(20, args.drafts - done)
            more_ms += list(pool.map(draft, range(done, done + batch)))
            done += batch
    rss_after = rss_mb(server.pid)

    # Phase 3: hostile uploads.
    refusals: list[tuple[str, int, float]] = []
    with httpx.Client(base_url=base, timeout=120, headers=headers) as client:
        for what, url, field, name, content in hostile_files():
            files = {field: (name, content)}
            if url == "/review":
                files["metrics_file"] = ("metrics.yaml", sample)
            started = time.perf_counter()
            r = client.post(url, files=files, data={"engine": "template"})
            took = time.perf_counter() - started
            if r.status_code not in (400, 413):
                errors.append(f"hostile {name} answered {r.status_code}")
            refusals.append((what, r.status_code, took))
    import sqlite3

    with sqlite3.connect(WORK / "data" / "jobs.sqlite3") as db:
        jobs_kept = db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
    server.terminate()
    server.wait(timeout=20)

    s50, s95 = percentile(search_ms, 0.5), percentile(search_ms, 0.95)
    all_drafts = [t for t in draft_ms + more_ms if t == t]
    d50, d95 = percentile(all_drafts, 0.5), percentile(all_drafts, 0.95)
    growth = rss_after - rss_before
    worst_refusal = max(t for _, _, t in refusals)
    floors = {
        "errors": len(errors) == 0,
        "search_p95": s95 < FLOOR_SEARCH_P95_MS,
        "rss_growth": growth < FLOOR_RSS_GROWTH_MB,
        "refusal": worst_refusal < FLOOR_REFUSE_S,
    }
    figures = {
        "searchers": args.searchers, "searches": len(search_ms), "concurrent_drafts": args.concurrent_drafts,
        "drafts": done, "max_jobs": args.max_jobs, "search_p50_ms": round(s50, 1), "search_p95_ms": round(s95, 1),
        "draft_p50_ms": round(d50, 1), "draft_p95_ms": round(d95, 1), "errors": errors[:20],
        "error_count": len(errors), "rss_before_mb": round(rss_before, 1), "rss_after_mb": round(rss_after, 1),
        "rss_growth_mb": round(growth, 1), "rss_warm_mb": round(rss_warm, 1),
        "rss_growth_from_warm_mb": round(rss_after - rss_warm, 1), "jobs_kept": jobs_kept,
        "refusals": [{"what": w, "status": s, "seconds": round(t, 3)} for w, s, t in refusals],
        "floors_met": floors,
    }
    write_json("bench_web", figures)
    lines = [
        "## Benchmark: web workbench under load (loopback HTTP)",
        "",
        f"`.venv/bin/python eval/bench.py web --searchers {args.searchers} --rounds {args.rounds} "
        f"--concurrent-drafts {args.concurrent_drafts} --drafts {args.drafts} --max-jobs {args.max_jobs}` — the app "
        "under uvicorn on 127.0.0.1, index of corpus/reports; drafts with the template engine, submitted and "
        "polled as the page does, each ending with its result page.",
        "",
        "| measure | value | floor |",
        "|---|---|---|",
        f"| errors (any non-expected answer) | {len(errors)} | 0 |",
        f"| search p50 / p95 ({len(search_ms)} searches by {args.searchers} clients while "
        f"{args.concurrent_drafts} drafts run) | {s50:.0f} ms / {s95:.0f} ms | p95 < {FLOOR_SEARCH_P95_MS:.0f} ms |",
        f"| draft submit → result page p50 / p95 ({len(all_drafts)} drafts, {args.max_jobs} at a time, rest queued) "
        f"| {d50:.0f} ms / {d95:.0f} ms | — |",
        f"| server RSS after phase 1 / after {done} more drafts | {rss_before:.0f} MB / {rss_after:.0f} MB "
        f"(growth {growth:+.0f} MB) | growth < {FLOOR_RSS_GROWTH_MB:.0f} MB |",
        f"| server RSS warm start / end (includes the thread pool and caches growing under load) | "
        f"{rss_warm:.0f} MB / {rss_after:.0f} MB ({rss_after - rss_warm:+.0f} MB) | — |",
        f"| jobs kept in the job table | {jobs_kept} | — |",
    ]
    lines += [f"| hostile upload refused: {w} | {s} in {t * 1000:.0f} ms | < {FLOOR_REFUSE_S:.0f} s |"
              for w, s, t in refusals]
    lines += ["", "Floors: " + ("all met." if all(floors.values()) else
                                "NOT met: " + "、".join(k for k, ok in floors.items() if not ok) + ".")]
    print(write_markdown("bench_web", lines))
    return 0 if all(floors.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
