"""Background draft jobs for the web workbench: one thread per job, progress polled as JSON.

`draft_report`'s `progress` callback (`DraftJob.on_progress`) receives `DraftEvent`s: `section_start`
and `section_done` drive the current section and the count of sections written, `repair` and `done`
become messages on the page. The job keeps the `DraftResult` in memory so the result page can colour
the figures; the files live under `work_dir/jobs/<job id>/`.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import ShuzhiError
from pipeline.facts.diff import SECTION_NAMES
from pipeline.models import Metrics

JOB_ID_RE = re.compile(r"[0-9a-f]{32}")
MAX_JOBS = 64          # finished jobs kept in memory; older ones are forgotten (their files stay on disk)
MAX_MESSAGES = 50


def valid_job_id(job_id: str) -> bool:
    """A job id is 32 lowercase hex digits (uuid4().hex): never a path, never user-chosen."""
    return bool(JOB_ID_RE.fullmatch(job_id))


@dataclass
class DraftJob:
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
    result: Any = None                     # DraftResult when done
    files: dict[str, Path] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def done_sections(self) -> int:
        return len(self.sections) if self.status == "done" else len(self.finished)

    def to_json(self) -> dict[str, Any]:
        with self.lock:
            return {
                "id": self.job_id,
                "status": self.status,
                "done": self.done_sections,
                "total": len(self.sections),
                "current": self.current,
                "current_name": SECTION_NAMES.get(self.current or "", self.current or ""),
                "phase": self.phase,
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
        `total`. A plain `str` (a message without a kind) is kept as a note.
        """
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
                self._note(str(event))


class JobStore:
    """In-memory registry of draft jobs; outputs under `root/<job id>/`."""

    def __init__(self, root: Path):
        self.root = root
        self._jobs: OrderedDict[str, DraftJob] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, job_id: str) -> DraftJob | None:
        if not valid_job_id(job_id):
            return None
        with self._lock:
            return self._jobs.get(job_id)

    def start_draft(
        self,
        metrics: Metrics,
        *,
        engine: str,
        seed: int,
        prior: Metrics | None,
        index: Any,
        run_inline: bool = False,
    ) -> DraftJob:
        """Create a job and start drafting in a background thread (`run_inline`: in this thread)."""
        from pipeline.drafting.plan import load_profile

        profile = load_profile(metrics.meta.profile)
        # The bar counts sections with sub-points to write: not `closing` (fixed text), whose events
        # `on_progress` ignores.
        keys = tuple(s.key for s in profile.sections if s.facets and s.key != "closing")
        job_id = uuid.uuid4().hex
        job = DraftJob(job_id=job_id, out_dir=self.root / job_id, sections=keys)
        with self._lock:
            self._jobs[job_id] = job
            while len(self._jobs) > MAX_JOBS:
                self._jobs.popitem(last=False)
        args = (job, metrics, engine, seed, prior, index)
        if run_inline:
            _run_draft(*args)
        else:
            threading.Thread(target=_run_draft, args=args, name=f"draft-{job_id[:8]}", daemon=True).start()
        return job


def _run_draft(job: DraftJob, metrics: Metrics, engine: str, seed: int, prior: Metrics | None,
               index: Any) -> None:
    from pipeline.drafting.draft import draft_report
    from pipeline.drafting.engines import get_engine
    from pipeline.output.draft_files import write_draft_outputs

    with job.lock:
        job.status, job.phase = "running", "准备中"
    try:
        engine_obj = get_engine(engine, profile=metrics.meta.profile)
        result = draft_report(metrics, engine=engine_obj, index=index, seed=seed, prior=prior,
                              progress=job.on_progress)
        with job.lock:
            job.phase, job.current = "正在写出 Word 文件", None
        files = write_draft_outputs(result, job.out_dir, annotate=True)
        with job.lock:
            job.result, job.files, job.status, job.phase = result, files, "done", "完成"
    except ShuzhiError as exc:
        with job.lock:
            job.status, job.error, job.phase = "error", str(exc), "失败"
    except Exception as exc:  # noqa: BLE001 - a crashed job must say so on the page, not hang at "running"
        with job.lock:
            job.status, job.phase = "error", "失败"
            job.error = f"起草时出现意外错误（{type(exc).__name__}: {exc}）；请把指标文件和这条信息交给维护人员。"
