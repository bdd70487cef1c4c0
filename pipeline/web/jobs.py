"""Background draft jobs for the web workbench: one thread per job, progress polled as JSON.

`draft_report`'s own `progress` callback reports repairs and completion, not which section is being
written; a thin engine wrapper (`SectionTracker`) sees every facet request, whose `section_key` says
where the orchestrator is. The job keeps the `DraftResult` in memory so the result page can colour
the figures; the files live under `work_dir/jobs/<job id>/`.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.diff import SECTION_NAMES
from pipeline.errors import ShuzhiError
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
    seen: list[str] = field(default_factory=list)
    phase: str = "排队中"
    messages: list[str] = field(default_factory=list)
    error: str | None = None
    result: Any = None                     # DraftResult when done
    files: dict[str, Path] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def done_sections(self) -> int:
        if self.status == "done":
            return len(self.sections)
        # Sections are written in order; every section seen before the current one is finished.
        return max(0, len(self.seen) - 1) if self.status == "running" else 0

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

    def note(self, message: str) -> None:
        with self.lock:
            self.messages.append(message)
            del self.messages[:-MAX_MESSAGES]

    def enter_section(self, key: str) -> None:
        with self.lock:
            if key not in self.seen:
                self.seen.append(key)
            self.current = key
            self.phase = f"正在写：{SECTION_NAMES.get(key, key)}"


class SectionTracker:
    """Wraps an engine and tells the job which section each facet request belongs to.

    It passes every attribute through, so `draft_report` sees the same engine (name, `concurrent`,
    `write_facet_parts` when the engine has it) and its identity checks against the fallback hold.
    """

    _TRACKED = ("write_facet_parts",)

    def __init__(self, inner: Any, on_section: Callable[[str], None]):
        self._inner = inner
        self._on_section = on_section
        self.name = inner.name
        self.concurrent = inner.concurrent

    def write_heading(self, request: Any) -> str:
        return self._inner.write_heading(request)

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_"):
            # Only reached when `_inner` is not set yet (copy, pickle): never recurse into it.
            raise AttributeError(attr)
        target = getattr(self._inner, attr)
        if attr not in self._TRACKED:
            return target

        def tracked(request: Any, *args: Any, **kwargs: Any) -> Any:
            self._on_section(request.section_key)
            return target(request, *args, **kwargs)

        return tracked

    def write_facet(self, request: Any) -> Any:
        self._on_section(request.section_key)
        return self._inner.write_facet(request)


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
        index_dir: Path | None,
        run_inline: bool = False,
    ) -> DraftJob:
        """Create a job and start drafting in a background thread (`run_inline`: in this thread)."""
        from pipeline.plan import load_profile

        profile = load_profile(metrics.meta.profile)
        # The orchestrator skips `closing` (it is fixed text) and sections without facets.
        keys = tuple(s.key for s in profile.sections if s.facets and s.key != "closing")
        job_id = uuid.uuid4().hex
        job = DraftJob(job_id=job_id, out_dir=self.root / job_id, sections=keys)
        with self._lock:
            self._jobs[job_id] = job
            while len(self._jobs) > MAX_JOBS:
                self._jobs.popitem(last=False)
        args = (job, metrics, engine, seed, prior, index_dir)
        if run_inline:
            _run_draft(*args)
        else:
            threading.Thread(target=_run_draft, args=args, name=f"draft-{job_id[:8]}", daemon=True).start()
        return job


def _run_draft(job: DraftJob, metrics: Metrics, engine: str, seed: int, prior: Metrics | None,
               index_dir: Path | None) -> None:
    from pipeline.draft import draft_report, write_draft_outputs
    from pipeline.engines import get_engine

    with job.lock:
        job.status, job.phase = "running", "准备中"
    try:
        inner = get_engine(engine, profile=metrics.meta.profile)
        tracked = SectionTracker(inner, job.enter_section)
        index = None
        if index_dir is not None and (index_dir / "state.json").is_file():
            from pipeline.index import HybridIndex

            index = HybridIndex.open(index_dir, read_only=True)
        result = draft_report(metrics, engine=tracked, index=index, seed=seed, prior=prior, progress=job.note)
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
