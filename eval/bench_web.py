"""Load test of the web workbench over loopback HTTP: concurrent searches while drafts run, many
drafts for memory growth, and how fast hostile uploads are refused.

Usage: .venv/bin/python eval/bench.py web [--searchers 50] [--rounds 4] [--concurrent-drafts 20]
                                          [--drafts 200] [--max-jobs 2]

The server is the real app under uvicorn in a child process (as `shuzhi serve` runs it), bound to
127.0.0.1 (nothing leaves the machine), over an index of corpus/reports. Drafts run in the server's
worker processes, so memory is read for the whole service: the server and every process below it
(the workers), VmRSS from /proc/<pid>/status summed (shared pages
counted once per process: an over-count, never an under-count); the load generator is not counted.
Phase 1: `--searchers` client threads each run `--rounds` searches while `--concurrent-drafts`
drafts are submitted at the same moment and polled to the end (the queue holds all but
`--max-jobs`). Phase 2: `--drafts` more drafts, 20 at a time (workers are recycled on the way).
Memory is read warm (after one draft and one search: imports, the index, the worker pool started),
after phase 1 and after phase 2, each time once the pool is back to `--max-jobs` warmed workers (a
recycled worker being replaced would otherwise hide its memory); a sampler also records the peak
every 0.25 s. The floor is on the growth from the warm start to the end (phase 1 and all drafts).
Phase 3: each hostile upload of issue 13, timed from request to refusal. Then the server is stopped
(SIGTERM) and no worker may outlive it. Floors: 0 errors, search p95 < 300 ms under load, RSS growth
< 100 MB, every hostile upload refused in < 1 s, no process left behind.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import socket
import ssl
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

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


def timed_search(port: int, i: int) -> tuple[float, str]:
    """One search on its own connection, as a browser's first visit: (ms, problem or "")."""
    target = "/corpus?" + urlencode({"q": QUERIES[i % len(QUERIES)], "section": SECTIONS[i % len(SECTIONS)]})
    started = time.perf_counter()
    status, body = http_get(port, target)
    took = (time.perf_counter() - started) * 1000
    if status != 200 or b'id="hits"' not in body or not body.rstrip().endswith(b"</html>"):
        return took, f"search {status}"
    return took, ""


def search_load(port: int, searchers: int, rounds: int, start_at: float) -> dict:
    """`searchers` threads, each running `rounds` searches one after another from `start_at`."""
    def searcher(n: int) -> list[tuple[float, str]]:
        time.sleep(max(0.0, start_at - time.time()))
        return [timed_search(port, n * rounds + k) for k in range(rounds)]

    with ThreadPoolExecutor(searchers) as pool:
        results = [r for rs in pool.map(searcher, range(searchers)) for r in rs]
    return {"ms": [t for t, _ in results], "errors": [e for _, e in results if e]}


def http_get(port: int, target: str) -> tuple[int, bytes]:
    """GET over a plain socket, `Connection: close`: (status, body). The searchers use this rather
    than httpx, whose ~1–2 ms of client CPU per request (×50 threads under the load generator's own
    GIL) was being measured as server latency; the server sees the same requests either way."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
        parts = []
        while data := sock.recv(1 << 16):
            parts.append(data)
    head, _, body = b"".join(parts).partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:                         # the process ended between listing and reading
        pass
    return 0.0


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (children, their children…), from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def worker_pids(pid: int) -> list[int]:
    """The server's workers (their command line runs `worker_entry`)."""
    out = []
    for child in descendants(pid):
        try:
            if b"worker_entry" in Path(f"/proc/{child}/cmdline").read_bytes():
                out.append(child)
        except OSError:
            pass
    return out


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def service_rss(pid: int) -> tuple[float, float]:
    """(server MB, everything below it MB)."""
    return rss_mb(pid), sum(rss_mb(child) for child in descendants(pid))


def settled_rss(pid: int, workers: int) -> tuple[float, float]:
    """The service's memory once the pool has `workers` warmed workers and no draft is running: a
    worker being replaced after recycling is not caught half-started."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if len(worker_pids(pid)) >= workers:
            before = sum(cpu_seconds(w) for w in worker_pids(pid))
            time.sleep(1.0)
            if sum(cpu_seconds(w) for w in worker_pids(pid)) - before < 0.05:      # all idle: warm
                break
        else:
            time.sleep(0.25)
    return service_rss(pid)


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
    import json
    import subprocess
    import threading

    if argv[:1] == ["--search-load"]:           # the searchers' own process (see phase 1)
        port, searchers, rounds, start_at = argv[1:5]
        print(json.dumps(search_load(int(port), int(searchers), int(rounds), float(start_at))))
        return 0

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
    # Every draft opens its own connection; the clients share one TLS context (unused over http://)
    # because building one costs the load generator ~25 ms of CPU under its own GIL, which was being
    # measured as the latency of the searches running beside it.
    tls = ssl.create_default_context()
    sample = SAMPLE.read_bytes()
    errors: list[str] = []

    def search(i: int) -> float:
        took, problem = timed_search(port, i)
        if problem:
            errors.append(problem)
        return took

    def draft(i: int) -> float:
        with httpx.Client(base_url=base, timeout=120, headers=headers, verify=tls) as client:
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

    # Warm-up: imports, the index, the profile, the worker pool.
    load_start = os.getloadavg()
    draft(0)
    search(0)
    warm_server, warm_children = settled_rss(server.pid, args.max_jobs)
    seen_workers: set[int] = set(worker_pids(server.pid))
    peak = {"total": warm_server + warm_children}
    sampling = threading.Event()

    def sample_memory() -> None:
        while not sampling.wait(0.25):
            total = sum(service_rss(server.pid))
            peak["total"] = max(peak["total"], total)
            seen_workers.update(worker_pids(server.pid))

    sampler = threading.Thread(target=sample_memory, daemon=True)
    sampler.start()
    cpu_server_0 = cpu_seconds(server.pid)

    # Phase 1: searches while drafts run, both starting at the same moment. The searchers are a
    # process of their own (as 50 browsers would be): in this one their latencies would include
    # waiting for this interpreter's GIL behind the draft clients' httpx work.
    start_at = time.time() + 2.0
    searchers = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--search-load", str(port),
                                  str(args.searchers), str(args.rounds), repr(start_at)],
                                 env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    time.sleep(max(0.0, start_at - time.time()))
    with ThreadPoolExecutor(max(1, args.concurrent_drafts)) as pool:
        draft_ms = list(pool.map(draft, range(args.concurrent_drafts)))
    out, _ = searchers.communicate(timeout=600)
    loaded = json.loads(out)
    search_ms = loaded["ms"]
    errors += loaded["errors"]
    cpu_server_phase1 = cpu_seconds(server.pid) - cpu_server_0
    load_phase1 = os.getloadavg()
    before_server, before_children = settled_rss(server.pid, args.max_jobs)
    # Phase 2: `--drafts` more drafts, 20 at a time.
    done = 0
    more_ms: list[float] = []
    with ThreadPoolExecutor(20) as pool:
        while done < args.drafts:
            batch = min(20, args.drafts - done)
            more_ms += list(pool.map(draft, range(done, done + batch)))
            done += batch
    after_server, after_children = settled_rss(server.pid, args.max_jobs)
    sampling.set()
    sampler.join()

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
    seen_workers.update(worker_pids(server.pid))
    server.terminate()
    server.wait(timeout=60)
    time.sleep(1.0)
    left = [pid for pid in seen_workers if Path(f"/proc/{pid}").exists()
            and b"worker_entry" in Path(f"/proc/{pid}/cmdline").read_bytes()]
    if left:
        errors.append(f"workers left after the server stopped: {left}")
    load_end = os.getloadavg()

    s50, s95 = percentile(search_ms, 0.5), percentile(search_ms, 0.95)
    all_drafts = [t for t in draft_ms + more_ms if t == t]
    d50, d95 = percentile(all_drafts, 0.5), percentile(all_drafts, 0.95)
    warm, before, after = warm_server + warm_children, before_server + before_children, after_server + after_children
    growth = after - warm
    worst_refusal = max(t for _, _, t in refusals)
    floors = {
        "errors": len(errors) == 0,
        "search_p95": s95 < FLOOR_SEARCH_P95_MS,
        "rss_growth": growth < FLOOR_RSS_GROWTH_MB,
        "refusal": worst_refusal < FLOOR_REFUSE_S,
    }
    loads = {"start": load_start, "after_phase1": load_phase1, "end": load_end}
    figures = {
        "searchers": args.searchers, "searches": len(search_ms), "concurrent_drafts": args.concurrent_drafts,
        "drafts": done, "max_jobs": args.max_jobs, "search_p50_ms": round(s50, 1), "search_p95_ms": round(s95, 1),
        "draft_p50_ms": round(d50, 1), "draft_p95_ms": round(d95, 1), "errors": errors[:20],
        "error_count": len(errors),
        "rss_mb": {name: {"server": round(sv, 1), "workers": round(ch, 1), "total": round(sv + ch, 1)}
                   for name, (sv, ch) in (("warm", (warm_server, warm_children)),
                                          ("after_phase1", (before_server, before_children)),
                                          ("end", (after_server, after_children)))},
        "rss_peak_total_mb": round(peak["total"], 1), "rss_growth_mb": round(growth, 1),
        "rss_growth_phase2_mb": round(after - before, 1), "workers_started": len(seen_workers),
        "server_cpu_phase1_s": round(cpu_server_phase1, 2), "jobs_kept": jobs_kept,
        "refusals": [{"what": w, "status": s, "seconds": round(t, 3)} for w, s, t in refusals],
        "load_average": {k: [round(x, 2) for x in v] for k, v in loads.items()},
        "floors_met": floors,
    }
    write_json("bench_web", figures)
    lines = [
        "## Benchmark: web workbench under load (loopback HTTP)",
        "",
        f"`.venv/bin/python eval/bench.py web --searchers {args.searchers} --rounds {args.rounds} "
        f"--concurrent-drafts {args.concurrent_drafts} --drafts {args.drafts} --max-jobs {args.max_jobs}` — the app "
        "under uvicorn on 127.0.0.1, index of corpus/reports, drafts in its worker processes; drafts with the "
        "template engine, submitted and polled as the page does, each ending with its result page; the searchers "
        "are a process of their own, one connection per search. Memory is the server's plus its workers'.",
        "",
        "| measure | value | floor |",
        "|---|---|---|",
        f"| errors (any non-expected answer) | {len(errors)} | 0 |",
        f"| search p50 / p95 ({len(search_ms)} searches by {args.searchers} clients while "
        f"{args.concurrent_drafts} drafts run) | {s50:.0f} ms / {s95:.0f} ms | p95 < {FLOOR_SEARCH_P95_MS:.0f} ms |",
        f"| draft submit → result page p50 / p95 ({len(all_drafts)} drafts, {args.max_jobs} at a time, rest queued) "
        f"| {d50:.0f} ms / {d95:.0f} ms | — |",
        f"| server CPU during phase 1 (searches, pages, polls; drafts are in the workers) | "
        f"{cpu_server_phase1:.1f} s | — |",
        f"| service RSS (server + workers) warm → after phase 1 → after {done} more drafts | "
        f"{warm:.0f} → {before:.0f} → {after:.0f} MB (growth from warm {growth:+.0f} MB; phase 2 alone "
        f"{after - before:+.0f} MB) | growth < {FLOOR_RSS_GROWTH_MB:.0f} MB |",
        f"| of which the server / the workers: warm → end | {warm_server:.0f} → {after_server:.0f} MB / "
        f"{warm_children:.0f} → {after_children:.0f} MB | — |",
        f"| peak service RSS (sampled every 0.25 s) / worker processes started (recycled after 100 jobs) | "
        f"{peak['total']:.0f} MB / {len(seen_workers)} | — |",
        f"| jobs kept in the job table | {jobs_kept} | — |",
        f"| worker processes left after the server stopped (SIGTERM) | {len(left)} | 0 |",
    ]
    lines += [f"| hostile upload refused: {w} | {s} in {t * 1000:.0f} ms | < {FLOOR_REFUSE_S:.0f} s |"
              for w, s, t in refusals]
    lines += ["", "Load average (1/5/15 min) at start " + "/".join(f"{x:.2f}" for x in load_start)
              + ", after phase 1 " + "/".join(f"{x:.2f}" for x in load_phase1)
              + ", at end " + "/".join(f"{x:.2f}" for x in load_end) + f" on {os.cpu_count()} cores."]
    lines += ["", "Floors: " + ("all met." if all(floors.values()) else
                                "NOT met: " + "、".join(k for k, ok in floors.items() if not ok) + ".")]
    print(write_markdown("bench_web", lines))
    return 0 if all(floors.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
