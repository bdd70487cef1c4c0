"""The web server's worker processes: drafts and reviews run here, not in the server.

Why processes: a draft is ~80 ms of pure-Python CPU; run in a server thread it holds the GIL, and 20
drafts made every search wait seconds (eval/bench_web.py). A thread also cannot be stopped, so the
time limit could only be asked for, never enforced. A worker process has its own interpreter and
can be killed.

The pool (`WorkerPool`):
- has `size` workers (the server's concurrent-jobs setting: one per job slot), all started when the
  first job arrives (a server that only searches never starts one);
- starts each as a fresh interpreter (`python -c BOOT`, a socket pair to talk over; nothing is
  inherited from the threaded server, not its listening socket, and the server's `__main__` is not
  re-imported as multiprocessing's spawn would) from one long-lived thread, and each worker warms
  up before it says ready: opens the index, loads the segmenter and the default profile and drafts
  the sample once, so a job pays none of that;
- runs workers at a lower CPU priority (`nice`), so the pages and searches of the server come first;
- recycles a worker after `recycle_after` jobs (its memory returns to the system; the replacement
  warms up at once);
- kills the worker of a job past its deadline (`JobTimeout`) or whose caller gave up, and replaces
  it; a worker that dies mid-job (killed, out of memory) ends the job with `WorkerDied`;
- is closed with the server (FastAPI lifespan); workers also die with the server however it dies
  (`pipeline.procutil.die_with_parent`: PR_SET_PDEATHSIG plus a watch on the parent pid).

A job talks to its worker over the socket pair (pickled messages, `multiprocessing.connection`):
the worker first receives its `WorkerSettings`, answers ("ready", pid); then per job ("task", task)
→ ("progress", event)* → ("done", outcome) or ("error", exception).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pipeline.web.tasks import (
    JobTimeout,
    Task,
    TaskContext,
    TaskOutcome,
    WorkerDied,
    portable_error,
    run_task,
)

DEFAULT_RECYCLE_AFTER = 100        # jobs per worker before it is replaced
WORKER_NICE = 10                   # added to the workers' niceness: interactive requests first
READY_TIMEOUT = 120.0              # a worker that cannot warm up in this time is broken
STOP_TIMEOUT = 3.0                 # a retiring worker gets this long to exit by itself
SAMPLE_METRICS = Path(__file__).resolve().parent.parent.parent / "corpus" / "sample" / "metrics.yaml"
DIED_MESSAGE = ("后台处理进程意外退出（可能内存不足或被系统结束），这个任务没有完成；请重新提交。"
                "如果再次出现，请把这个页面的地址和时间告诉维护人员。")
STOPPING_MESSAGE = "工作台正在停止，这个任务没有完成；请在工作台重新启动后重新提交。"
# A worker's command line: the server's import path, then the worker's loop on the inherited socket.
BOOT = ("import json, os, sys; sys.path[:0] = json.loads(os.environ.pop('SHUZHI_WORKER_PATH', '[]')); "
        "from pipeline.web.workers import worker_entry; worker_entry(int(sys.argv[1]))")


@dataclass(frozen=True)
class WorkerSettings:
    """What a worker needs to start (picklable: sent to the spawned interpreter)."""

    index_dir: Path | None
    parent_pid: int = 0                  # filled in when a worker is started: the server's pid
    nice: int = WORKER_NICE
    warm: bool = True


class _Worker:
    """One worker process as the server sees it."""

    def __init__(self, process: subprocess.Popen, conn: Any):
        self.process = process
        self.conn = conn
        self.pid: int = process.pid
        self.ready = False
        self.jobs = 0

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.process.kill()

    def reap(self, timeout: float) -> None:
        """Wait for the process to end (killing it after `timeout`) and close our end of the pipe."""
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(5)
        with contextlib.suppress(OSError):
            self.conn.close()


class WorkerPool:
    """`size` worker processes; `run(task)` blocks the calling thread until the task ends."""

    def __init__(self, size: int, settings: WorkerSettings, *, recycle_after: int = DEFAULT_RECYCLE_AFTER):
        self.size = max(1, size)
        self.settings = settings
        self.recycle_after = max(1, recycle_after)
        self._cond = threading.Condition()
        self._idle: list[_Worker] = []          # started (maybe still warming up), not running a job
        self._all: set[_Worker] = set()
        self._started = False
        self._closed = False
        self._requests: queue.Queue[tuple[str, _Worker | None] | None] = queue.Queue()
        self._spawner: threading.Thread | None = None

    # ------------------------------------------------------------------ public

    def run(self, task: Task, *, deadline: float, on_event: Callable[[Any], None] | None = None) -> TaskOutcome:
        """Run `task` in a worker. Raises what the task raised (re-raised here), `JobTimeout` at
        `deadline` (time.monotonic(); the worker is killed), `WorkerDied` if the worker ended."""
        worker = self._checkout(deadline)
        busy = True
        try:
            worker.conn.send(("task", task))
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise JobTimeout
                if not worker.conn.poll(min(remaining, 0.5)):
                    if not worker.alive() and not worker.conn.poll(0):
                        raise WorkerDied(STOPPING_MESSAGE if self._closed else DIED_MESSAGE)
                    continue
                kind, payload = worker.conn.recv()
                if kind == "progress":
                    if on_event is not None:
                        on_event(payload)
                    continue
                busy = False
                worker.jobs += 1
                if kind == "done":
                    return payload
                raise payload
        except (EOFError, OSError) as exc:
            raise WorkerDied(STOPPING_MESSAGE if self._closed else DIED_MESSAGE) from exc
        finally:
            # A worker still busy here is abandoned mid-task (deadline, death, a failing callback,
            # the server stopping): kill it rather than wait for it.
            self._checkin(worker, kill=busy)

    def pids(self) -> list[int]:
        """The worker processes alive now (tests, the load benchmark)."""
        with self._cond:
            return sorted(w.pid for w in self._all if w.alive())

    def close(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop every worker (idle ones are asked, busy ones killed; their jobs end with
        `WorkerDied`) and the thread that starts them. Safe to call twice."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            workers = list(self._all)
            idle = set(self._idle)
            self._idle.clear()
            self._cond.notify_all()
        self._requests.put(None)
        for worker in workers:
            if worker in idle:
                with contextlib.suppress(OSError, ValueError):
                    worker.conn.send(("stop", None))
            else:
                worker.kill()              # its job's thread sees the pipe close: WorkerDied
        end = time.monotonic() + timeout
        for worker in workers:
            try:
                worker.process.wait(max(0.0, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                worker.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    worker.process.wait(5)
            if worker in idle:
                with contextlib.suppress(OSError):
                    worker.conn.close()
        if self._spawner is not None and self._spawner is not threading.current_thread():
            self._spawner.join(timeout)

    # ------------------------------------------------------------------ checkout

    def _checkout(self, deadline: float) -> _Worker:
        """An idle worker that is alive and warmed up (starting the pool on first use)."""
        failures: list[str] = []
        while True:
            with self._cond:
                if not self._started:
                    self._start_pool()
                while not self._idle:
                    if self._closed:
                        raise WorkerDied(STOPPING_MESSAGE)
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise JobTimeout
                    self._cond.wait(min(remaining, 0.5))
                if self._closed:
                    raise WorkerDied(STOPPING_MESSAGE)
                worker = self._idle.pop(0)
            problem = self._wait_ready(worker, deadline)
            if problem is None:
                return worker
            # Died while idle or could not start: replace it and try another, but not forever.
            self._checkin(worker, kill=True)
            failures.append(problem)
            if len(failures) >= 3:
                raise WorkerDied("后台处理进程无法启动：" + failures[-1] + "。请把这条信息告诉维护人员。")

    def _wait_ready(self, worker: _Worker, deadline: float) -> str | None:
        if worker.ready:
            return None if worker.alive() else "进程已退出"
        limit = min(deadline, time.monotonic() + READY_TIMEOUT)
        try:
            while True:
                remaining = limit - time.monotonic()
                if remaining <= 0:
                    if deadline <= time.monotonic():
                        with self._cond:               # not its fault: give it back, still warming up
                            if not self._closed:
                                self._idle.insert(0, worker)
                                self._cond.notify_all()
                                raise JobTimeout
                        worker.kill()
                        raise JobTimeout
                    return "准备超时"
                if worker.conn.poll(min(remaining, 0.5)):
                    kind, payload = worker.conn.recv()
                    if kind == "ready":
                        worker.ready = True
                        return None
                    return str(payload)
                if not worker.alive() and not worker.conn.poll(0):
                    return f"进程退出（退出码 {worker.process.returncode}）"
        except (EOFError, OSError):
            return f"进程退出（退出码 {worker.process.poll()}）"

    def _checkin(self, worker: _Worker, *, kill: bool) -> None:
        retire = kill or worker.jobs >= self.recycle_after or not worker.alive()
        with self._cond:
            if self._closed:
                retire = True
            if not retire:
                self._idle.append(worker)
                self._cond.notify_all()
                return
            self._all.discard(worker)
            closed = self._closed
        if kill:
            worker.kill()
        else:
            with contextlib.suppress(OSError, ValueError):
                worker.conn.send(("stop", None))
        if not closed:
            self._requests.put(("start", None))      # the replacement warms up while the old one exits
        self._requests.put(("reap", worker))

    # ------------------------------------------------------------------ the spawner thread

    def _start_pool(self) -> None:
        """Called with the lock held, once: the thread that starts workers, and `size` of them.

        One long-lived thread starts every worker: PR_SET_PDEATHSIG fires when the *thread* that
        started a process ends, so a worker started from a short-lived request thread would be
        killed when that thread is retired."""
        self._started = True
        atexit.register(self.close)       # a process that never ran the lifespan shutdown (scripts, tests)
        self._spawner = threading.Thread(target=self._spawn_loop, name="shuzhi-workers", daemon=True)
        self._spawner.start()
        for _ in range(self.size):
            self._requests.put(("start", None))

    def _spawn_loop(self) -> None:
        while True:
            request = self._requests.get()
            if request is None:
                return
            what, worker = request
            if what == "reap" and worker is not None:
                worker.reap(STOP_TIMEOUT)
            elif what == "start":
                self._spawn_one()

    def _spawn_one(self) -> None:
        with self._cond:
            if self._closed:
                return
        from multiprocessing.connection import Connection

        ours, theirs = socket.socketpair()
        env = dict(os.environ, SHUZHI_WORKER_PATH=json.dumps(sys.path))
        try:
            process = subprocess.Popen([sys.executable, "-c", BOOT, str(theirs.fileno())], env=env,
                                       pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL)
        except OSError:
            # Cannot start a process now (no memory, too many processes): wait and try again; the job
            # waiting for a worker meanwhile ends at its deadline.
            ours.close()
            theirs.close()
            time.sleep(1.0)
            self._requests.put(("start", None))
            return
        theirs.close()
        conn = Connection(ours.detach())
        try:
            conn.send(replace(self.settings, parent_pid=os.getpid()))
        except OSError:
            pass                                    # died at once: `_checkout` sees it and replaces it
        worker = _Worker(process, conn)
        with self._cond:
            closed = self._closed
            if not closed:
                self._all.add(worker)
                self._idle.append(worker)
                self._cond.notify_all()
        if closed:                                  # the pool closed while this one started
            worker.kill()
            worker.reap(STOP_TIMEOUT)


# ---------------------------------------------------------------------- the worker process

def worker_entry(fd: int) -> None:
    """The worker's `main` (see `BOOT`): its settings come first over the inherited socket."""
    from multiprocessing.connection import Connection

    conn = Connection(fd)
    try:
        settings = conn.recv()
    except (EOFError, OSError):
        return
    worker_main(conn, settings)


def worker_main(conn: Any, settings: WorkerSettings) -> None:
    """A worker's life: warm up, say ready, run tasks until told to stop or the pipe closes."""
    import signal

    from pipeline.procutil import die_with_parent

    signal.signal(signal.SIGINT, signal.SIG_IGN)       # Ctrl-C is for the server, which stops us
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    die_with_parent(settings.parent_pid)
    if settings.nice:
        with contextlib.suppress(OSError):
            os.nice(settings.nice)
    try:
        context = _worker_context(settings)
    except Exception as exc:  # noqa: BLE001 - told to the server, which fails the job with it
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", os.getpid()))
    sending = threading.Lock()          # the drafter calls back one at a time; this keeps it so

    def progress(event: Any) -> None:
        with sending:
            conn.send(("progress", event))

    while True:
        try:
            kind, task = conn.recv()
        except (EOFError, OSError):
            return
        if kind != "task":
            return
        try:
            reply: tuple[str, Any] = ("done", run_task(task, context, progress))
        except Exception as exc:  # noqa: BLE001 - every failure goes back to the job, none ends the worker
            reply = ("error", portable_error(exc))
        with sending:
            conn.send(reply)


def _worker_context(settings: WorkerSettings) -> TaskContext:
    """The worker's index (read-only, opened once; it reloads itself after an ingest) and a warm-up."""
    opened: dict[str, Any] = {}

    def index() -> Any:
        from pipeline.index.hybrid import HybridIndex

        folder = settings.index_dir
        if folder is None or not (folder / "state.json").is_file():
            return None
        if "read" not in opened:
            opened["read"] = HybridIndex.open(folder, read_only=True)
        return opened["read"]

    context = TaskContext(index, cache_engines=True)
    if settings.warm:
        _warm_up(context)
    return context


def _warm_up(context: TaskContext) -> None:
    """Load what every job needs now, not during the first job: the segmenter, the default
    profile, the index, the modules of a review, and one draft of the sample in memory (which
    loads every table a draft uses)."""
    import pipeline.facts.check  # noqa: F401 - imported for the first review
    import pipeline.output.draft_files  # noqa: F401
    import pipeline.output.review_docx  # noqa: F401
    import pipeline.web.views  # noqa: F401
    from pipeline.drafting.draft import draft_report
    from pipeline.drafting.plan import load_profile
    from pipeline.profile.catalog import DEFAULT_PROFILE
    from pipeline.reading import segment

    segment.tokenize("党管武装")
    load_profile(DEFAULT_PROFILE)
    index = context.index()
    if SAMPLE_METRICS.is_file():
        from pipeline.facts.metrics import load_metrics

        metrics = load_metrics(SAMPLE_METRICS)
        draft_report(metrics, engine=context.engine("template", metrics.meta.profile), index=index, seed=0)
