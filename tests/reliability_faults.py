"""The seeded fault run: kill -9 `shuzhi ingest` and `shuzhi batch` at random points, then prove
that what is on disk is consistent after every kill and that the next run completes.

After each kill: no process of the killed command survives (batch workers and the ingest's Chroma
writer die with it); the index is either absent or a committed generation whose files agree with
`state.json` and answers a BM25 search; every visible unit folder of the batch is complete (its
four files and a `.done.json`). At the end one normal run of each completes, and leaves one Chroma
collection, one generation, no temporary files, and every unit done.

Used by `tests/test_faults.py` and `eval/reliability_eval.py`.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPORTS = sorted((ROOT / "corpus" / "reports").glob("*.txt"))[:3]
UNITS = [ROOT / "corpus" / "sample" / "metrics.yaml", *sorted((ROOT / "corpus" / "sample" / "next").glob("*.yaml"))][:3]
UNIT_FILES = ("draft.docx", "draft.md", "draft.json", "check.html", ".done.json")


@dataclass
class FaultReport:
    seed: int
    kills: list[dict] = field(default_factory=list)    # one per kill: command, delay, what was found
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    baseline: dict = field(default_factory=dict)

    @property
    def killed(self) -> int:
        return sum(1 for k in self.kills if k["killed"])

    @property
    def ok(self) -> bool:
        return not self.problems


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SHUZHI_INDEX", "SHUZHI_DEBUG")}
    env.update({"PYTHONPATH": str(ROOT), "ANONYMIZED_TELEMETRY": "False"})
    return env


def _shuzhi(args: list[str], cwd: Path) -> subprocess.Popen:
    # Its own session, so that "did anything outlive it" is one question about that session.
    # SIGINT as a terminal gives it: a runner started in the background passes SIGINT ignored, and
    # Python then never installs its Ctrl-C handler.
    return subprocess.Popen([sys.executable, "-c", "from pipeline.cli import main; main()", *args], cwd=cwd,
                            env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.default_int_handler))


def _session_alive(sid: int) -> list[int]:
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields: state, ppid, pgrp, session …; a zombie waits only for its reaper
        if int(fields[3]) == sid and fields[0] != "Z":
            alive.append(int(entry.name))
    return alive


def _kill_at(proc: subprocess.Popen, delay: float) -> tuple[bool, list[int]]:
    """kill -9 after `delay` s unless it finished; then wait (bounded) for the session to empty."""
    try:
        proc.wait(timeout=delay)
        killed = False
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        killed = True
    deadline = time.monotonic() + 10
    survivors = _session_alive(proc.pid)
    while survivors and time.monotonic() < deadline:
        time.sleep(0.1)
        survivors = _session_alive(proc.pid)
    return killed, survivors


def index_problems(idx: Path) -> list[str]:
    """What is inconsistent about an index folder right now (committed state vs files)."""
    from pipeline.index.hybrid import HybridIndex

    state_path = idx / "state.json"
    if not state_path.exists():
        return []                       # nothing committed yet: the next ingest starts afresh
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
    except ValueError as exc:
        return [f"state.json unreadable: {exc}"]
    gen = idx / f"gen-{int(state['generation']):06d}"
    from pipeline.index.store import STORE_FILES

    required = ("manifest.json", *STORE_FILES)
    if not all((gen / name).is_file() for name in required):
        return [f"{gen.name} incomplete"]
    manifest = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
    found = []
    try:
        chunks = len(HybridIndex.open(idx, read_only=True))
    except Exception as exc:  # noqa: BLE001 - any failure to read is the finding
        return [f"committed index unreadable: {type(exc).__name__}: {exc}"]
    if chunks != state["chunks"] or len(manifest) != state["documents"]:
        found.append(f"{gen.name}: {chunks} chunks / {len(manifest)} documents, state says "
                     f"{state['chunks']} / {state['documents']}")
    try:
        hits = HybridIndex.open(idx, read_only=True).search("民兵", k=1, mode="bm25")
        if state["chunks"] and not hits:
            found.append("committed index finds nothing")
    except Exception as exc:  # noqa: BLE001 - any failure to read is the finding
        found.append(f"committed index unreadable: {type(exc).__name__}: {exc}")
    return found


def units_problems(out: Path) -> list[str]:
    found = []
    if not out.is_dir():
        return found
    for folder in out.iterdir():
        if folder.is_dir() and not folder.name.startswith("."):
            missing = [n for n in UNIT_FILES if not (folder / n).is_file()]
            if missing:
                found.append(f"unit {folder.name} incomplete: lacks {missing}")
    return found


def run_faults(work: Path, *, seed: int = 12, ingest_kills: int = 10, batch_kills: int = 10) -> FaultReport:
    rng = random.Random(seed)
    report = FaultReport(seed=seed)
    started = time.perf_counter()
    reports, units, idx, out = work / "reports", work / "units", work / "idx", work / "out"
    reports.mkdir(parents=True)
    units.mkdir()
    for path in REPORTS:
        shutil.copy(path, reports / path.name)
    for i, path in enumerate(UNITS):
        shutil.copy(path, units / f"unit{i}.yaml")

    # One uninterrupted ingest first, so that most kills hit an update of a committed index.
    report.baseline = {"ingest_s": round(_timed(["ingest", str(reports), "--index", str(idx)], work), 2)}
    for i in range(ingest_kills):
        # Each attempt has work to do: one report gains a paragraph; every third rebuilds.
        victim = reports / REPORTS[i % len(REPORTS)].name
        with open(victim, "a", encoding="utf-8") as handle:
            handle.write(f"\n全年组织第{i + 1}次专题议军会议，研究解决实际问题。\n")
        args = ["ingest", str(reports), "--index", str(idx)] + (["--rebuild"] if i % 3 == 2 else [])
        delay = round(rng.uniform(0.3, 3.0), 2)      # start-up, reading, the vector writer, the commit
        killed, survivors = _kill_at(_shuzhi(args, work), delay)
        found = index_problems(idx) + [f"survivors {survivors}" for _ in survivors[:1]]
        report.kills.append({"command": "ingest" + (" --rebuild" if "--rebuild" in args else ""), "delay_s": delay,
                             "killed": killed, "generation": _generation(idx), "problems": found})
        report.problems += [f"ingest kill {i + 1} at {delay}s: {p}" for p in found]

    for i in range(batch_kills):
        # Every other run redoes all units (an edited profile would), so there is work to kill.
        if i % 2 == 0:
            for path in units.iterdir():
                path.write_text(path.read_text(encoding="utf-8") + f"# 第 {i} 次\n", encoding="utf-8")
        args = ["batch", str(units), "-o", str(out), "--workers", "2", "-q", "--resume"]
        delay = round(rng.uniform(0.5, 5.0), 2)
        killed, survivors = _kill_at(_shuzhi(args, work), delay)
        found = units_problems(out) + [f"survivors {survivors}" for _ in survivors[:1]]
        done = sum(1 for p in out.iterdir() if (p / ".done.json").is_file())
        report.kills.append({"command": "batch --workers 2", "delay_s": delay, "killed": killed,
                             "complete_units": done, "problems": found})
        report.problems += [f"batch kill {i + 1} at {delay}s: {p}" for p in found]

    # The next runs, uninterrupted, complete and leave nothing behind.
    final = subprocess.run([sys.executable, "-c", "from pipeline.cli import main; main()", "ingest", str(reports),
                            "--index", str(idx)], cwd=work, env=_env(), capture_output=True, text=True, timeout=120)
    if final.returncode != 0:
        report.problems.append(f"final ingest exit {final.returncode}: {final.stderr[-300:]}")
    report.problems += index_problems(idx)
    report.problems += _index_is_tidy(idx, reports)
    final = subprocess.run([sys.executable, "-c", "from pipeline.cli import main; main()", "batch", str(units),
                            "-o", str(out), "--workers", "2", "-q", "--resume"], cwd=work, env=_env(),
                           capture_output=True, text=True, timeout=180)
    if final.returncode != 0:
        report.problems.append(f"final batch exit {final.returncode}: {final.stderr[-300:]}")
    report.problems += units_problems(out)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8")) if (out / "summary.json").exists() else {}
    names = {u["name"] for u in summary.get("units", []) if u["status"] in ("done", "skipped")}
    if names != {f"unit{i}" for i in range(len(UNITS))} or summary.get("interrupted"):
        report.problems.append(f"final batch summary lists {sorted(names)}")
    leftovers = [p.name for p in out.iterdir() if p.name.startswith((".tmp-", ".old-", "..tmp"))]
    if leftovers:
        report.problems.append(f"batch leftovers {leftovers}")
    report.seconds = round(time.perf_counter() - started, 1)
    return report


def _timed(args: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "from pipeline.cli import main; main()", *args], cwd=cwd, env=_env(),
                   capture_output=True, timeout=180, check=True)
    return time.perf_counter() - started


def _generation(idx: Path) -> int | None:
    try:
        return int(json.loads((idx / "state.json").read_text(encoding="utf-8"))["generation"])
    except (OSError, ValueError, KeyError):
        return None


def _index_is_tidy(idx: Path, reports: Path) -> list[str]:
    from pipeline.index.hybrid import CHROMA_DIR, HybridIndex
    from pipeline.index.vectors import open_chroma, release_chroma
    from pipeline.reading.readers import content_digest

    found = []
    state = json.loads((idx / "state.json").read_text(encoding="utf-8"))
    gens = sorted(p.name for p in idx.glob("gen-*"))
    if gens != [f"gen-{int(state['generation']):06d}"]:
        found.append(f"generations left: {gens}")
    if list(idx.glob(".*.tmp")):
        found.append("temporary files left in the index")
    index = HybridIndex.open(idx, read_only=True)
    if (idx / CHROMA_DIR).exists():
        # Only the index's own collection survives, and only when it keeps a Chroma copy.
        client = open_chroma(str(idx / CHROMA_DIR), None)
        names = sorted(c.name for c in client.list_collections())
        release_chroma(str(idx / CHROMA_DIR))
        if names != ([f"shuzhi-{state['index_id']}"] if index.local_chroma else []):
            found.append(f"collections: {names}")
    indexed = {d["doc_id"] for d in index.documents()}
    current = {content_digest(p.read_bytes()) for p in reports.iterdir()}
    if indexed != current:
        found.append("the index does not hold the current version of every report")
    if not index.search("民兵整组", k=1):
        found.append("hybrid search finds nothing")
    return found
