"""What a job does — draft a report, or review an uploaded one — as plain functions of a frozen task.

The server runs a task in one of its worker processes (`workers.WorkerPool`), so a draft never holds
the server's GIL and an over-time draft can be killed; tests (`create_app(run_jobs_inline=True)`)
call `run_task` in the request. Either way the task writes its downloads and `view.json` (what the
result page shows) into the job folder atomically and returns a small `TaskOutcome`; the server
records it in the job table, which stays the only source of truth about a job's state.

Everything that crosses to a worker (tasks, progress events, outcomes, errors) is picklable.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pipeline.errors import ShuzhiError
from pipeline.models import Metrics

VIEW_FILE = "view.json"
# Everything a task writes into its job folder (a failed job's leftovers are removed by these names).
RESULT_FILES = ("draft.docx", "draft-review.docx", "draft.md", "draft.json", "check.html", "review.docx", VIEW_FILE)


class JobTimeout(Exception):
    """A job ran past its time limit (raised in the job's thread; its worker has been killed)."""


class WorkerDied(Exception):
    """The worker process running a job ended without an answer (killed, out of memory, stopping).
    The message is Chinese and shown on the job's page."""


class TaskCrashed(Exception):
    """An unexpected (non-`ShuzhiError`) exception inside a task, carried across the process
    boundary by its type name and message (the original may not be picklable)."""

    def __init__(self, type_name: str, message: str):
        self.type_name = type_name
        self.message = message
        super().__init__(type_name, message)

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class DraftTask:
    """Draft from metrics already loaded and validated by the request."""

    job_id: str
    folder: Path
    metrics: Metrics
    prior: Metrics | None
    engine: str
    seed: int


@dataclass(frozen=True)
class ReviewTask:
    """Check an uploaded report (`report`, saved under the job folder) against uploaded metrics."""

    job_id: str
    folder: Path
    report: Path
    report_label: str
    metrics_file: Path
    metrics_label: str
    prior_file: Path | None = None
    prior_label: str = ""


Task = DraftTask | ReviewTask


@dataclass(frozen=True)
class TaskOutcome:
    """What the job table records of a finished task (the rest is in the job folder)."""

    title: str
    ok: bool
    bad: int
    files: tuple[str, ...] = ()


class TaskContext:
    """What tasks share within one process: the read-only index (opened once) and, in a worker,
    the engines (a local model is loaded once per worker, not once per draft)."""

    def __init__(self, index: Callable[[], Any] | None = None, *, cache_engines: bool = False):
        self._index = index
        self._engines: dict[tuple[str, str], Any] = {}
        self.cache_engines = cache_engines

    def index(self) -> Any:
        return self._index() if self._index is not None else None

    def engine(self, spec: str, profile: str) -> Any:
        # Looked up at call time (tests replace `get_engine`).
        from pipeline.drafting import engines

        if not self.cache_engines:
            return engines.get_engine(spec, profile=profile)
        key = (spec, profile)
        if key not in self._engines:
            while len(self._engines) >= 4:
                self._engines.pop(next(iter(self._engines)))
            self._engines[key] = engines.get_engine(spec, profile=profile)
        return self._engines[key]


def run_task(task: Task, context: TaskContext, progress: Callable[[Any], None] | None = None) -> TaskOutcome:
    """Run one task to the end: files and `view.json` in `task.folder`, or an exception."""
    if isinstance(task, DraftTask):
        return _draft(task, context, progress)
    return _review(task, context)


def write_view(folder: Path, view: dict[str, Any]) -> None:
    from pipeline.fsutil import atomic_write_text

    atomic_write_text(folder / VIEW_FILE, json.dumps(view, ensure_ascii=False))


def _draft(task: DraftTask, context: TaskContext, progress: Callable[[Any], None] | None) -> TaskOutcome:
    from pipeline.drafting.draft import draft_report
    from pipeline.output.draft_files import write_draft_outputs
    from pipeline.web.views import draft_view

    engine = context.engine(task.engine, task.metrics.meta.profile)
    result = draft_report(task.metrics, engine=engine, index=context.index(), seed=task.seed, prior=task.prior,
                          progress=progress)
    files = write_draft_outputs(result, task.folder, annotate=True)
    view = draft_view(result)
    write_view(task.folder, view)
    return TaskOutcome(title=result.draft.title, ok=bool(view["ok"]), bad=int(view["bad"]), files=tuple(sorted(files)))


def _review(task: ReviewTask, context: TaskContext) -> TaskOutcome:
    from pipeline.facts.check import check_document, load_check_metrics
    from pipeline.output.review_docx import write_review_docx
    from pipeline.web.views import review_view

    metrics, last_year = load_check_metrics(task.metrics_file, task.prior_file)
    checked = check_document(task.report, metrics, prior=last_year, index=context.index())
    # The reviewer's own file back with a Word comment on every finding (a .txt/.md report comes
    # back as a GB/T 9704 file); written before the upload folder is removed.
    write_review_docx(checked, task.report, task.folder / "review.docx", metrics, prior=last_year)
    checked = replace(checked, source=task.report_label)
    title = f"核对结果：{task.report_label}"
    view = review_view(checked, metrics, title=title,
                       labels_of_files={"report": task.report_label, "metrics": task.metrics_label,
                                        "prior": task.prior_label})
    write_view(task.folder, view)
    return TaskOutcome(title=f"核对：{task.report_label}", ok=bool(view["ok"]), bad=int(view["bad"]),
                       files=("review.docx",))


def portable_error(exc: BaseException) -> BaseException:
    """`exc` if it survives pickling (every `ShuzhiError` does), else a `TaskCrashed` naming it."""
    import pickle

    if isinstance(exc, ShuzhiError | JobTimeout | WorkerDied | TaskCrashed):
        try:
            pickle.loads(pickle.dumps(exc))
            return exc
        except Exception:  # noqa: BLE001 - any pickling failure: fall back to the message
            if isinstance(exc, ShuzhiError):
                return ShuzhiError(str(exc))
    return TaskCrashed(type(exc).__name__, str(exc))
