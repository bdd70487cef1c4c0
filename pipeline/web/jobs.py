"""Jobs of the web workbench: drafts and reviews that survive a restart.

Every job has a row in a SQLite table (`<data>/jobs.sqlite3`, WAL, stdlib `sqlite3`) and a folder
`<data>/jobs/<job id>/` holding what its pages need: the downloads, `view.json` (the coloured report,
the findings, the summary) and the metrics file it was checked against (for live re-checking of an
edited text). A result page reads the folder, never memory, so a restarted server shows yesterday's
work; jobs that were queued or running when the server stopped are marked failed on start.

At most `max_running` jobs run at once; the rest wait in order and their page shows how many are
ahead. A job runs in a worker process of `workers.WorkerPool` (one per slot): at `time_limit`
seconds after it got its slot the worker is killed, the job is marked failed with a Chinese message
and the pool starts a replacement; a worker that dies mid-job fails its job the same way, never
leaving it 进行中. Without a pool (tests: `run_jobs_inline`) the task runs in the calling thread and
the limit is checked at each progress step of the drafter.

Retention: after each finished job the oldest finished jobs go first while there are more than
`keep_count`, while they are older than `keep_days`, or while all job folders together exceed
`keep_bytes`.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import ShuzhiError
from pipeline.facts.diff import SECTION_NAMES
from pipeline.web.tasks import (
    RESULT_FILES,
    DraftTask,
    JobTimeout,
    Task,
    TaskContext,
    TaskCrashed,
    TaskOutcome,
    WorkerDied,
    run_task,
)
from pipeline.web.workers import WorkerPool

JOB_ID_RE = re.compile(r"[0-9a-f]{32}")
MAX_MESSAGES = 50
DEFAULT_MAX_RUNNING = 2
DEFAULT_TIME_LIMIT = 300.0
DEFAULT_KEEP_COUNT = 500
DEFAULT_KEEP_DAYS = 180.0
DEFAULT_KEEP_BYTES = 2 * 1024 * 1024 * 1024
KIND_NAMES = {"draft": "起草", "review": "审核"}
UNFINISHED_MESSAGE = "工作台停止或重启时这个任务还没有完成；请重新提交。"
STATUS_NAMES = {"queued": "排队中", "running": "进行中", "done": "完成", "error": "失败"}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    label TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    finished REAL,
    error TEXT,
    ok INTEGER,
    bad INTEGER NOT NULL DEFAULT 0,
    bytes INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs(created);
"""


def valid_job_id(job_id: str) -> bool:
    """A job id is 32 lowercase hex digits (uuid4().hex): never a path, never user-chosen."""
    return bool(JOB_ID_RE.fullmatch(job_id))


@dataclass
class DraftJob:
    """The live state of a job while it runs (progress bar, phase, messages)."""

    job_id: str
    out_dir: Path
    sections: tuple[str, ...]              # section keys in writing order
    status: str = "queued"                 # queued | running | done | error
    current: str | None = None             # section key being written
    seen: list[str] = field(default_factory=list)          # sections started, in order
    finished: list[str] = field(default_factory=list)      # sections written, in order
    phase: str = "排队中"
    messages: list[str] = field(default_factory=list)
    error: str | None = None
    files: tuple[str, ...] = ()            # the downloads, once done
    deadline: float | None = None          # time.monotonic() after which the job stops
    ahead: int = 0                         # jobs queued before this one
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def done_sections(self) -> int:
        return len(self.sections) if self.status == "done" else len(self.finished)

    def to_json(self) -> dict[str, Any]:
        with self.lock:
            phase = self.phase
            if self.status == "queued":
                phase = f"排队中：前面还有 {self.ahead} 个任务" if self.ahead else self.phase
            return {
                "id": self.job_id,
                "status": self.status,
                "done": self.done_sections,
                "total": len(self.sections),
                "current": self.current,
                "current_name": SECTION_NAMES.get(self.current or "", self.current or ""),
                "phase": phase,
                "ahead": self.ahead,
                "messages": list(self.messages[-10:]),
                "error": self.error,
                "files": sorted(self.files),
            }

    def _note(self, message: str) -> None:
        self.messages.append(message)
        del self.messages[:-MAX_MESSAGES]

    def on_progress(self, event: Any) -> None:
        """`draft_report`'s progress callback: section events move the progress bar, the rest are notes.

        Section events for keys outside `sections` (the fixed closing) are ignored, so the bar ends at
        `total`. A plain `str` (a message without a kind) is kept as a note. Past the deadline it
        raises `JobTimeout`, which ends the draft at the next section (and kills its worker).
        """
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise JobTimeout
        kind = getattr(event, "kind", None)
        key = getattr(event, "section", None)
        with self.lock:
            if kind == "section_start":
                if key in self.sections:
                    if key not in self.seen:
                        self.seen.append(key)
                    self.current = key
                    self.phase = f"正在写：{SECTION_NAMES.get(key, key)}"
            elif kind == "section_done":
                if key in self.sections and key not in self.finished:
                    self.finished.append(key)
                    # A concurrent engine may still be writing sections started earlier: show the latest.
                    running = [k for k in self.seen if k not in self.finished]
                    if running:
                        self.current = running[-1]
                        self.phase = f"正在写：{SECTION_NAMES.get(self.current, self.current)}"
                    elif len(self.finished) == len(self.sections):
                        self.phase = "正在核对数字"
            else:                           # repair, done, or a plain message
                if kind == "repair":
                    self.phase = "正在修正有问题的数字"
                elif kind == "done":        # drafted and checked: the worker writes the files next
                    self.phase, self.current = "正在写出 Word 文件", None
                self._note(str(event))


class _Slots:
    """At most `n` holders at a time, served in arrival order; `ahead(job)` counts who waits before."""

    def __init__(self, n: int):
        self.n = max(1, n)
        self.running = 0
        self.waiting: list[DraftJob] = []
        self.cond = threading.Condition()

    def acquire(self, job: DraftJob) -> None:
        with self.cond:
            self.waiting.append(job)
            self._recount()
            while self.running >= self.n or self.waiting[0] is not job:
                self.cond.wait()
            self.waiting.pop(0)
            self.running += 1
            self._recount()
            self.cond.notify_all()

    def release(self) -> None:
        with self.cond:
            self.running -= 1
            self.cond.notify_all()

    def queued(self) -> int:
        with self.cond:
            return len(self.waiting)

    def _recount(self) -> None:
        for i, waiting in enumerate(self.waiting):
            with waiting.lock:
                waiting.ahead = i


@dataclass(frozen=True)
class JobRow:
    job_id: str
    kind: str
    status: str
    title: str
    label: str
    created: float
    finished: float | None
    error: str | None
    ok: bool | None
    bad: int
    bytes: int

    @property
    def kind_name(self) -> str:
        return KIND_NAMES.get(self.kind, self.kind)

    @property
    def status_name(self) -> str:
        return STATUS_NAMES.get(self.status, self.status)

    @property
    def created_text(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(self.created))

    @property
    def url(self) -> str:
        return f"/{self.kind}/jobs/{self.job_id}"


class JobStore:
    """Jobs in SQLite plus one folder each under `root/jobs/`; live progress in memory.

    `pool`: the worker processes that run the tasks (the server); None runs a task in the calling
    thread with `context` (tests)."""

    def __init__(self, root: Path, *, max_running: int = DEFAULT_MAX_RUNNING,
                 time_limit: float = DEFAULT_TIME_LIMIT, keep_count: int = DEFAULT_KEEP_COUNT,
                 keep_days: float = DEFAULT_KEEP_DAYS, keep_bytes: int = DEFAULT_KEEP_BYTES,
                 pool: WorkerPool | None = None, context: TaskContext | None = None):
        self.root = Path(root)
        self.jobs_dir = self.root / "jobs"
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        self.time_limit = time_limit
        self.keep_count, self.keep_days, self.keep_bytes = keep_count, keep_days, keep_bytes
        self.slots = _Slots(max_running)
        self.pool = pool
        self.context = context or TaskContext()
        # A fixed set of threads that wait for the drafts' workers (not one per job).
        self._threads = ThreadPoolExecutor(max_workers=max(1, max_running), thread_name_prefix="draft")
        self._futures: set[Future] = set()
        self._live: dict[str, DraftJob] = {}
        self._queue: list[DraftJob] = []         # drafts submitted, not yet given a thread
        self._lock = threading.Lock()
        self._closed = False
        self._db_lock = threading.Lock()
        self._db = sqlite3.connect(self.root / "jobs.sqlite3", check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        # Jobs that were queued or running when the server stopped will never finish.
        self._exec("UPDATE jobs SET status='error', finished=?, error=? WHERE status IN ('queued','running')",
                   (time.time(), UNFINISHED_MESSAGE))
        for partial in self.jobs_dir.glob(".*.tmp"):          # a draft's staging folder, killed mid-write
            shutil.rmtree(partial, ignore_errors=True)
        # A folder without a row: a submission the server stopped while checking (see `new_folder`).
        known = {r[0] for r in self._exec("SELECT id FROM jobs")}
        for folder in self.jobs_dir.iterdir():
            if folder.is_dir() and valid_job_id(folder.name) and folder.name not in known:
                shutil.rmtree(folder, ignore_errors=True)

    # ------------------------------------------------------------------ database

    def _exec(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._db_lock:
            return self._db.execute(sql, args).fetchall()

    def close(self, timeout: float = 10.0) -> None:
        """Stop with the server: the workers first (a running job ends as failed), then the threads
        that wait for them, then the table. Safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            futures = set(self._futures)
        if self.pool is not None:
            self.pool.close()
        self._threads.shutdown(wait=False, cancel_futures=True)
        wait_futures(futures, timeout=timeout)
        with self._db_lock:
            self._db.execute("UPDATE jobs SET status='error', finished=?, error=? WHERE status IN ('queued','running')",
                             (time.time(), UNFINISHED_MESSAGE))
            self._db.close()

    def row(self, job_id: str) -> JobRow | None:
        if not valid_job_id(job_id):
            return None
        rows = self._exec("SELECT id, kind, status, title, label, created, finished, error, ok, bad, bytes "
                          "FROM jobs WHERE id=?", (job_id,))
        return _row(rows[0]) if rows else None

    def history(self, limit: int = 200) -> list[JobRow]:
        rows = self._exec("SELECT id, kind, status, title, label, created, finished, error, ok, bad, bytes "
                          "FROM jobs ORDER BY created DESC LIMIT ?", (limit,))
        return [_row(r) for r in rows]

    def count(self) -> int:
        return int(self._exec("SELECT COUNT(*) FROM jobs")[0][0])

    def folder(self, job_id: str) -> Path:
        if not valid_job_id(job_id):
            raise ValueError("invalid job id")
        return self.jobs_dir / job_id

    def view(self, job_id: str) -> dict[str, Any] | None:
        """What the result page shows (written by `finish`), or None."""
        path = self.folder(job_id) / "view.json"
        if not path.is_file():
            return None
        return json.loads(path.read_text(encoding="utf-8"))

    def files(self, job_id: str) -> set[str]:
        folder = self.folder(job_id)
        return {p.name for p in folder.iterdir() if p.is_file()} if folder.is_dir() else set()

    # ------------------------------------------------------------------ lifecycle

    def create(self, kind: str, *, title: str = "", label: str = "", job_id: str | None = None) -> str:
        """A new job row and its folder. `job_id`: a folder made by `new_folder` and filled already."""
        if job_id is None:
            job_id = self.new_folder()
        self._exec("INSERT INTO jobs(id, kind, status, title, label, created) VALUES (?,?,?,?,?,?)",
                   (job_id, kind, "queued", title, label, time.time()))
        return job_id

    def new_folder(self) -> str:
        """A fresh job id and its empty folder, before the job exists: a submission is saved straight
        into it and becomes a job (`create(job_id=…)`) only once it is valid, or the folder goes."""
        job_id = uuid.uuid4().hex
        self.folder(job_id).mkdir(parents=True)
        return job_id

    def delete(self, job_id: str) -> None:
        """Forget a job and its folder (a review whose upload was refused)."""
        shutil.rmtree(self.folder(job_id), ignore_errors=True)
        self._exec("DELETE FROM jobs WHERE id=?", (job_id,))

    def set_status(self, job_id: str, status: str) -> None:
        self._exec("UPDATE jobs SET status=? WHERE id=?", (status, job_id))

    def finish(self, job_id: str, *, outcome: TaskOutcome | None = None, error: str | None = None) -> None:
        """Record the outcome. The task has already written its files and `view.json` (atomically);
        only now does the row say done, so a page never shows a half-written job."""
        folder = self.folder(job_id)
        if outcome is None:
            self._clean_partial(job_id)
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else 0
        ok = None if outcome is None else int(outcome.ok)
        bad = outcome.bad if outcome is not None else 0
        title = outcome.title if outcome is not None else None
        self._exec("UPDATE jobs SET status=?, finished=?, error=?, ok=?, bad=?, bytes=?, "
                   "title=COALESCE(?, title) WHERE id=?",
                   ("error" if error or outcome is None else "done", time.time(), error, ok, bad, size, title,
                    job_id))
        self.prune()

    def _clean_partial(self, job_id: str) -> None:
        """What a failed or killed task may have left: its temporary files and staging folders, and
        any result files (a failed job offers no downloads). The uploaded inputs stay."""
        folder = self.folder(job_id)
        for partial in [*folder.glob(".*.tmp"), *self.jobs_dir.glob(f".{job_id}.*.tmp")]:
            if partial.is_dir():
                shutil.rmtree(partial, ignore_errors=True)
            else:
                partial.unlink(missing_ok=True)
        for name in RESULT_FILES:
            (folder / name).unlink(missing_ok=True)

    def prune(self) -> list[str]:
        """Remove the oldest finished jobs beyond the count, age or size limits; returns their ids."""
        rows = self._exec("SELECT id, created, bytes FROM jobs WHERE status IN ('done','error') "
                          "ORDER BY created ASC")
        total = sum(r[2] for r in rows)
        count = self.count()
        cutoff = time.time() - self.keep_days * 86400
        removed: list[str] = []
        for job_id, created, size in rows:
            if count <= self.keep_count and created >= cutoff and total <= self.keep_bytes:
                break
            shutil.rmtree(self.jobs_dir / job_id, ignore_errors=True)
            self._exec("DELETE FROM jobs WHERE id=?", (job_id,))
            removed.append(job_id)
            count -= 1
            total -= size
        return removed

    # ------------------------------------------------------------------ live drafts

    def get(self, job_id: str) -> DraftJob | None:
        """The live state of a queued or running job (None once it has finished)."""
        if not valid_job_id(job_id):
            return None
        with self._lock:
            return self._live.get(job_id)

    def _recount(self) -> None:
        """Jobs waiting for a worker see how many wait before them (those waiting for a slot first)."""
        with self._lock:
            queue = list(self._queue)
        waiting = self.slots.queued()
        for i, job in enumerate(queue):
            with job.lock:
                job.ahead = waiting + i

    def run_limited(self, job: DraftJob, work: Callable[[], Any]) -> Any:
        """Run `work` in a slot (waiting in line); the job's deadline starts when it gets the slot."""
        with self._lock:
            self._queue = [queued for queued in self._queue if queued is not job]
        self._recount()
        self.slots.acquire(job)
        try:
            with job.lock:
                job.status, job.phase = "running", "准备中"
                job.deadline = time.monotonic() + self.time_limit
            return work()
        finally:
            self.slots.release()

    def execute(self, job: DraftJob, task: Task) -> TaskOutcome:
        """Run `task` in a slot: in a worker process (killed at the deadline), or here without a pool."""

        def work() -> TaskOutcome:
            self.set_status(job.job_id, "running")
            if self.pool is None:
                return run_task(task, self.context, progress=job.on_progress)
            assert job.deadline is not None
            return self.pool.run(task, deadline=job.deadline, on_event=job.on_progress)

        return self.run_limited(job, work)

    def start_draft(self, task: DraftTask, *, run_inline: bool = False) -> DraftJob:
        """Queue a draft (`task.job_id`: a job made by `create` whose folder already holds the
        metrics); a background thread waits for its worker (`run_inline`: runs it in this thread)."""
        from pipeline.drafting.plan import load_profile

        profile = load_profile(task.metrics.meta.profile)
        # The bar counts sections with sub-points to write: not `closing` (fixed text), whose events
        # `on_progress` ignores.
        keys = tuple(s.key for s in profile.sections if s.facets and s.key != "closing")
        job = DraftJob(job_id=task.job_id, out_dir=task.folder, sections=keys)
        with self._lock:
            self._live[task.job_id] = job
        if run_inline:
            _run_draft(self, job, task)
            return job
        with self._lock:
            self._queue.append(job)
        # Not under the lock: submitting may start a thread, and the event loop reads `_live` under it.
        future = self._threads.submit(_run_draft, self, job, task)
        with self._lock:
            self._futures.add(future)
        future.add_done_callback(self._futures.discard)
        self._recount()
        return job

    def _forget(self, job_id: str) -> None:
        with self._lock:
            self._live.pop(job_id, None)


def _row(r: tuple) -> JobRow:
    return JobRow(job_id=r[0], kind=r[1], status=r[2], title=r[3], label=r[4], created=r[5], finished=r[6],
                  error=r[7], ok=None if r[8] is None else bool(r[8]), bad=r[9], bytes=r[10])


def _run_draft(store: JobStore, job: DraftJob, task: DraftTask) -> None:
    """A draft from its slot to its row: done with its files, or failed with a message; never stuck."""
    error: str | None = None
    try:
        outcome = store.execute(job, task)
        store.finish(job.job_id, outcome=outcome)
        with job.lock:
            job.files, job.status, job.phase = outcome.files, "done", "完成"
    except JobTimeout:
        error = (f"起草超过了 {store.time_limit:.0f} 秒的时间上限，已停止。请稍后重试；"
                 "如果用的是本机模型或内网服务，可请管理员放宽时间上限（--job-timeout）。")
    except WorkerDied as exc:
        error = str(exc)
    except ShuzhiError as exc:
        error = str(exc)
    except Exception as exc:  # noqa: BLE001 - a crashed job must say so on the page, not hang at "running"
        name = exc.type_name if isinstance(exc, TaskCrashed) else type(exc).__name__
        error = f"起草时出现意外错误（{name}: {exc}）；请把指标文件和这条信息交给维护人员。"
    if error is not None:
        with job.lock:
            job.status, job.phase, job.error = "error", "失败", error
        try:
            store.finish(job.job_id, error=error)
        except sqlite3.ProgrammingError:
            pass                        # the table was closed under us: the server is stopping
    store._forget(job.job_id)
