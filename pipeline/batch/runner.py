"""Year-end batch: draft (or check) reports for many units, resumably, on a process pool or Ray.

One unit = one metrics source (a file, a sheet of a workbook, or a row of a wide sheet). Every unit
gets `OUT/<unit>/` written as a whole: the worker writes into a hidden temporary folder beside it
and swaps it in with a rename, then writes `.done.json` (the fingerprint of inputs and settings)
last. An interrupted unit therefore has either its old complete folder or none, and never a
`.done.json` that does not match its files. `--resume` skips units whose fingerprint is unchanged.

Executors share one code path: `run_unit(task)` runs inside a worker whose `_WorkerState` (index,
jieba, profile) is built once per worker process (`_init_worker`) or once per Ray actor.

Ctrl-C: workers ignore SIGINT; the parent stops handing out units, terminates the workers (their
in-flight units die inside hidden staging folders, which the next run removes) and still writes the
summary of what finished.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import gc
import hashlib
import json
import os
import re
import resource
import shutil
import signal
import socket
import sys
import time
import traceback
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pipeline import __version__
from pipeline.errors import InputError, ShuzhiError, UsageError
from pipeline.output.batch_report import (  # noqa: F401 - re-exported: callers import them from here
    SUMMARY_VERDICTS,
    BatchReport,
    Progress,
    ProgressFn,
    UnitResult,
    UnitSummary,
    iter_failed_lines,
    one_line,
    summary_html,
    worker_stats,
    write_summary,
)
from pipeline.procutil import die_with_parent

METRICS_SUFFIXES = (".yaml", ".yml", ".json", ".xlsx")
DRAFT_SUFFIXES = (".docx", ".txt", ".md")
DONE_MARKER = ".done.json"
BATCH_LOCK = ".shuzhi-batch.lock"


# --------------------------------------------------------------------------- units

@dataclass(frozen=True)
class UnitTask:
    """What a worker needs to run one unit; small and picklable (sent to processes and Ray)."""

    name: str                       # folder name under OUT, unique within the batch
    source: str                     # the file the unit came from
    locator: str = ""               # "" (whole file), "sheet:NAME" or "row:N" (1-based Excel row)
    mapping_json: str = ""          # for wide-format rows: the metrics as a JSON mapping
    draft_path: str = ""            # check-only: the draft to check
    prior_source: str = ""          # optional last-year metrics
    content_digest: str = ""        # sheet units: hash of that sheet's cells (not the whole workbook)
    fingerprint: str = ""


@dataclass(frozen=True)
class BatchSettings:
    out_dir: str
    engine: str = "template"
    seed: int = 0
    profile: str | None = None
    index_dir: str | None = None
    chroma_url: str | None = None
    check_only: bool = False
    annotate: bool = False

    def fingerprint_part(self) -> str:
        data = asdict(self)
        data.pop("out_dir")
        data["version"] = __version__
        # Phrase banks and plans shape every draft: editing them must redo the units on --resume.
        data["profile_files"] = "" if self.check_only else _profile_stamp(self.profile)
        return json.dumps(data, sort_keys=True, ensure_ascii=False)


def _profile_stamp(profile: str | None) -> str:
    """Hash of the profile files a batch drafts with: the named profile and those it extends, or (no
    --profile: each unit's file chooses) every installed profile."""
    from pipeline.profile.catalog import installed_profiles, profile_chain

    try:
        folders = profile_chain(profile) if profile else tuple(info.path for info in installed_profiles())
    except ShuzhiError:
        return "missing"
    parts = []
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                parts += [f"{folder.name}/{path.relative_to(folder)}".encode(), path.read_bytes()]
    return _hash_bytes(*parts)


_SAFE = re.compile(r"[^\w\u4e00-\u9fff.-]+")


def safe_unit_name(raw: str) -> str:
    """A folder name from a unit label: keeps CJK, letters, digits, dot and dash."""
    name = _SAFE.sub("_", raw.strip()).strip("._")
    return name[:80] or "unit"


def _hash_bytes(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
        digest.update(b"\0")
    return digest.hexdigest()[:24]


def discover_units(input_path: Path, *, prior_dir: Path | None = None,
                   exclude: Path | None = None) -> list[UnitTask]:
    """Units of a batch: every metrics file in a folder, or the sheets/rows of one workbook.

    `exclude` (the output folder) is skipped when it lies inside the input folder, so a rerun does
    not mistake last run's draft.json and summary.json for units.
    """
    if not input_path.exists():
        raise InputError("找不到批量输入：请给出一个装有指标文件的文件夹，或一个 Excel 工作簿。", path=str(input_path))
    if input_path.is_dir():
        skip = exclude.resolve() if exclude is not None else None
        files = sorted(
            p for p in input_path.rglob("*")
            if p.is_file() and p.suffix.lower() in METRICS_SUFFIXES and not p.name.startswith((".", "~$"))
            and not (skip is not None and p.resolve().is_relative_to(skip))
        )
        if not files:
            raise InputError(
                f"文件夹里没有指标文件（{'、'.join(METRICS_SUFFIXES)}）。", path=str(input_path)
            )
        tasks = []
        seen: dict[str, int] = {}
        for path in files:
            name = _unique(safe_unit_name(path.stem), seen)
            prior = _prior_for(path, prior_dir)
            tasks.append(UnitTask(name=name, source=str(path), prior_source=str(prior) if prior else ""))
        return tasks
    if input_path.suffix.lower() == ".xlsx":
        return _workbook_units(input_path)
    if input_path.suffix.lower() in METRICS_SUFFIXES:
        return [UnitTask(name=_unique(safe_unit_name(input_path.stem), {}), source=str(input_path))]
    raise InputError(
        "批量输入应为文件夹或 .xlsx 工作簿（每个单位一张表，或每个单位一行）。", path=str(input_path)
    )


# Names a unit folder may not take: the batch's own files in OUT.
RESERVED_NAMES = frozenset({"summary.csv", "summary.json", "summary.html", "summary.xlsx"})


def _unique(name: str, seen: dict[str, int]) -> str:
    """A unit folder name not used yet in this batch and not one of OUT's own files
    (`summary.json` as a unit would stop the summary from being written)."""
    if name.lower() in RESERVED_NAMES or name.lower().startswith("summary."):
        name = f"{name}-单位"
    candidate, number = name, 1
    while candidate in seen:        # `a`, `a` → `a`, `a-2` (and past an `a-2` given as a name)
        number += 1
        candidate = f"{name}-{number}"
    seen[candidate] = 1
    return candidate


def _prior_for(path: Path, prior_dir: Path | None) -> Path | None:
    if prior_dir is None:
        return None
    for suffix in METRICS_SUFFIXES:
        candidate = prior_dir / f"{path.stem}{suffix}"
        if candidate.exists():
            return candidate
    return None


# Header words of the long (one sheet per unit) layout, as the metrics reader accepts them.
_LONG_KEY_HEADS = {"key", "指标", "指标键", "键", "代码"}
_LONG_VALUE_HEADS = {"value", "数值", "值", "本年", "本年数值"}


def _is_long_sheet(rows: list[tuple]) -> bool:
    """A sheet is one unit (key | label | value …) when one of its first 10 rows is that header."""
    for row in rows[:10]:
        heads = {str(c).strip().lower() for c in row if isinstance(c, str)}
        if heads & _LONG_KEY_HEADS and heads & _LONG_VALUE_HEADS:
            return True
    return False


def _workbook_units(path: Path) -> list[UnitTask]:
    """One unit per sheet (long format: key | label | value …) or one per row (wide format)."""
    from pipeline.reading.limits import MAX_XLSX_EXPANDED, check_sheet_size, open_zip_checked

    open_zip_checked(path, str(path), kind=".xlsx", max_expanded=MAX_XLSX_EXPANDED).close()
    try:
        from openpyxl import load_workbook

        workbook = load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many types for a broken file
        raise InputError(f"无法打开 Excel 工作簿：{exc}", path=str(path)) from exc
    tasks: list[UnitTask] = []
    seen: dict[str, int] = {}
    try:
        for sheet in workbook.worksheets:
            # The used range as the sheet declares it, before a single row is materialised: a
            # stray cell at XFD1048576 would otherwise make 16,384-wide tuples a million times.
            check_sheet_size(sheet.max_row, sheet.max_column, str(path), sheet.title)
            rows = list(sheet.iter_rows(values_only=True))
            rows = [r for r in rows if any(c not in (None, "") for c in r)]
            if not rows:
                continue
            header = [str(c).strip() if c is not None else "" for c in rows[0]]
            if _is_long_sheet(rows):
                cells = json.dumps([list(r) for r in rows], ensure_ascii=False, default=str)
                tasks.append(UnitTask(
                    name=_unique(safe_unit_name(sheet.title), seen), source=str(path),
                    locator=f"sheet:{sheet.title}", content_digest=_hash_bytes(cells.encode()),
                ))
                continue
            tasks.extend(_wide_rows(path, sheet.title, header, rows[1:], seen))
    finally:
        workbook.close()
    if not tasks:
        raise InputError("工作簿中没有可用的单位：既没有“key | label | value”格式的表，也没有每行一个单位的宽表。",
                         path=str(path))
    return tasks


# Plain column headers of a wide sheet that are meta fields (besides `meta.*`).
_META_COLUMNS = {"profile": "profile", "配置": "profile", "level": "level", "层级": "level", "级别": "level",
                 "reporter": "reporter", "述职人": "reporter", "职务": "reporter_title", "year": "year", "年度": "year"}


def _wide_rows(path: Path, sheet: str, header: list[str], rows: list[tuple], seen: dict[str, int]) -> list[UnitTask]:
    """Wide format: a column per metric key (`conscription.recruits`) or meta field (`meta.region`)."""
    unit_col = next((i for i, h in enumerate(header) if h in ("unit", "单位", "meta.region", "region", "地区")), None)
    if unit_col is None:
        raise InputError(
            f"工作表“{sheet}”第 1 行没有表头“单位”或“meta.region”：宽表每行一个单位，需要一列写单位名称。",
            path=str(path), location=f"表 {sheet} 第 1 行",
        )
    tasks = []
    for offset, row in enumerate(rows, start=2):
        mapping: dict[str, Any] = {"meta": {}, "metrics": {}}
        for col, head in enumerate(header):
            if not head or col >= len(row):
                continue
            value = row[col]
            if value is None or value == "":
                continue
            if head in ("unit", "单位", "region", "地区"):
                mapping["meta"]["region"] = str(value).strip()
            elif head in _META_COLUMNS:
                # A county's 述职会 mixes levels: each row names its profile or level (县 / 镇 / 街道).
                field_name = _META_COLUMNS[head]
                cell = _cell_value(value)
                mapping["meta"][field_name] = cell if field_name == "year" else str(cell).strip()
            elif head == "meta.superiors":
                mapping["meta"]["superiors"] = [s.strip() for s in re.split(r"[；;、，,\n]", str(value)) if s.strip()]
            elif head.startswith("meta."):
                mapping["meta"][head[5:]] = _cell_value(value)
            elif head in ("honours", "documents", "partners", "plans", "highlights"):
                mapping[head] = [s.strip() for s in re.split(r"[；;\n]", str(value)) if s.strip()]
            elif head.endswith((".previous", ".scope")):
                base, _, part = head.rpartition(".")
                mapping["metrics"].setdefault(base, {})[part] = _cell_value(value)
            else:
                mapping["metrics"].setdefault(head, {})["value"] = _cell_value(value)
        label = str(row[unit_col]).strip() if unit_col < len(row) and row[unit_col] is not None else f"row{offset}"
        tasks.append(UnitTask(
            name=_unique(safe_unit_name(label), seen), source=str(path), locator=f"row:{sheet}:{offset}",
            mapping_json=json.dumps(mapping, ensure_ascii=False, default=str),
        ))
    return tasks


def _cell_value(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, datetime.datetime | datetime.date):
        # Excel stores a typed date as a datetime; the metrics want 2026-01-14.
        return value.isoformat()[:10]
    return value


def fingerprint(task: UnitTask, settings: BatchSettings, settings_part: str | None = None) -> str:
    """Hash of everything a unit's output depends on: input bytes, prior, settings, version.

    A row or sheet of a workbook is hashed by its own cells, so editing one unit's sheet does not
    redo every other unit of the same workbook.
    """
    part = settings_part if settings_part is not None else settings.fingerprint_part()
    parts = [part.encode(), task.locator.encode(), task.mapping_json.encode(), task.content_digest.encode()]
    for path in (task.source, task.prior_source, task.draft_path):
        if not path:
            continue
        own_cells = path == task.source and (task.mapping_json or task.content_digest)
        parts.append(b"" if own_cells else Path(path).read_bytes())
    return _hash_bytes(*parts)


def done_record(out_dir: Path, task: UnitTask) -> dict[str, Any] | None:
    """The `.done.json` of a unit if it matches the unit's current fingerprint, else None."""
    marker = out_dir / task.name / DONE_MARKER
    try:
        record = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not (isinstance(record, dict) and record.get("fingerprint") == task.fingerprint):
        return None
    # A unit's Word file is not fsynced (see output.draft_files): after a power cut the marker may
    # survive beside an empty or cut-off draft.docx. Such a unit is not done; resume drafts it again.
    docx = out_dir / task.name / "draft.docx"
    try:
        with open(docx, "rb") as handle:
            if handle.read(4) != b"PK\x03\x04" or handle.seek(-22, os.SEEK_END) < 0 \
                    or handle.read(4) != b"PK\x05\x06":
                return None
    except OSError:
        return None
    return record


def is_done(out_dir: Path, task: UnitTask) -> bool:
    return done_record(out_dir, task) is not None


# --------------------------------------------------------------------------- worker side

class _WorkerState:
    """Per-worker resources, built once per process or actor, never per unit."""

    def __init__(self, settings: BatchSettings):
        self.settings = settings
        self.index = None
        if settings.index_dir or settings.chroma_url:
            from pipeline.index.hybrid import HybridIndex

            self.index = HybridIndex.open(
                Path(settings.index_dir) if settings.index_dir else None,
                chroma_url=settings.chroma_url, read_only=True,
            )
        from pipeline.reading import segment

        segment.tokenize("党管武装")          # loads jieba and the user dictionary now
        self.engine = None
        if not settings.check_only:
            from pipeline.drafting.engines import get_engine

            self.engine = get_engine(settings.engine, profile=settings.profile or "dangguan-wuzhuang")

    @property
    def worker(self) -> str:
        # A property: a state built in the parent and inherited by forked workers names each child.
        return f"{socket.gethostname()}:{os.getpid()}"

    def past_texts(self, region: str, year: int | None) -> list[tuple[str, int | None]]:
        """The region's earlier reports, one (text, year) per document, for stale detection."""
        if self.index is None:
            return []
        return self.index.past_reports(region, before_year=year)


_STATE: _WorkerState | None = None


def _init_worker(settings: BatchSettings, parent_pid: int | None = None) -> None:
    global _STATE
    # A worker ignores Ctrl-C: the parent decides what to do with in-flight units.
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)     # the parent's SIGTERM handler is not ours
    die_with_parent(parent_pid if parent_pid is not None else os.getppid())
    if _STATE is not None and _STATE.settings == settings:
        return              # forked from a parent that already loaded (and warmed) everything
    _STATE = _WorkerState(settings)


def _load_unit_metrics(task: UnitTask, profile: str | None):
    from pipeline.facts.metrics import load_metrics, metrics_from_mapping

    if task.mapping_json:
        return metrics_from_mapping(json.loads(task.mapping_json), source=f"{task.source} {task.locator}",
                                    profile=profile)
    if task.locator.startswith("sheet:"):
        from pipeline.facts.metrics import load_metrics_sheet

        return load_metrics_sheet(Path(task.source), task.locator[len("sheet:"):], profile=profile)
    return load_metrics(task.source, profile=profile)


def run_unit(task: UnitTask, state: _WorkerState | None = None) -> UnitResult:
    """Draft (or check) one unit and swap its folder into place. Never raises."""
    state = state or _STATE
    if state is None:
        raise RuntimeError("worker not initialised")
    started, cpu_started = time.perf_counter(), time.process_time()
    out_root = Path(state.settings.out_dir)
    summary = None
    try:
        if state.settings.check_only:
            findings, warnings = _check_unit(task, state, out_root)
        else:
            findings, warnings, summary = _draft_unit(task, state, out_root)
        status, error = "done", ""
    except ShuzhiError as exc:
        findings, warnings, status, error = {}, 0, "failed", str(exc)
    except Exception as exc:  # a bad unit must never stop the batch
        findings, warnings, status = {}, 0, "failed"
        error = f"{type(exc).__name__}: {exc}"
        if os.environ.get("SHUZHI_DEBUG"):
            error += "\n" + traceback.format_exc()
    return UnitResult(
        name=task.name, status=status, source=task.source + (f" {task.locator}" if task.locator else ""),
        seconds=round(time.perf_counter() - started, 4), cpu_seconds=round(time.process_time() - cpu_started, 4),
        findings=findings, error=error, warnings=warnings, worker=state.worker, worker_rss_mb=_peak_rss_mb(),
        summary=summary,
    )


def _peak_rss_mb() -> float:
    # Linux reports ru_maxrss in KiB, macOS in bytes.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def _draft_unit(task: UnitTask, state: _WorkerState, out_root: Path) -> tuple[dict[str, int], int, UnitSummary]:
    from pipeline.drafting.draft import draft_report
    from pipeline.facts.metrics import load_metrics
    from pipeline.output.batch_units import unit_summary
    from pipeline.output.draft_files import write_draft_outputs

    metrics = _load_unit_metrics(task, state.settings.profile)
    prior = load_metrics(task.prior_source, profile=state.settings.profile) if task.prior_source else None
    result = draft_report(
        metrics, engine=state.engine, index=state.index, profile=state.settings.profile,
        seed=state.settings.seed, prior=prior,
    )
    summary = {k: v for k, v in result.check.summary.items() if v}
    warnings = len(result.draft.warnings)
    data = result.to_json()
    with _staged_unit_dir(out_root, task, summary, warnings) as staging:
        write_draft_outputs(result, staging, annotate=state.settings.annotate, data=data, in_place=True)
    # The batch summary's view of the unit, from the draft.json just written (the parent would
    # otherwise read every unit's file back, one after another, after the last unit).
    return summary, warnings, unit_summary(task.name, data)


def _check_unit(task: UnitTask, state: _WorkerState, out_root: Path) -> tuple[dict[str, int], int]:
    from pipeline.facts.check import check_text
    from pipeline.facts.metrics import load_metrics
    from pipeline.output.check_html import render_check_html
    from pipeline.output.json_text import dumps_indented
    from pipeline.reading.readers import read_text

    if not Path(task.source).exists():
        raise InputError(
            f"草稿 {Path(task.draft_path).name} 没有同名的指标文件；请在指标文件夹中放入 "
            f"{Path(task.draft_path).stem}.yaml（或 .json/.xlsx）。", path=task.source,
        )
    text = read_text(task.draft_path)
    metrics = load_metrics(task.source, profile=state.settings.profile)
    prior = load_metrics(task.prior_source, profile=state.settings.profile) if task.prior_source else None
    result = check_text(text, metrics, prior=prior,
                        past_texts=state.past_texts(metrics.meta.region, metrics.meta.year),
                        source=task.draft_path)
    summary = {k: v for k, v in result.summary.items() if v}
    with _staged_unit_dir(out_root, task, summary, 0) as staging:
        (staging / "check.json").write_text(dumps_indented(result.to_json()),
                                            encoding="utf-8")
        (staging / "check.html").write_text(
            render_check_html(result, title=f"{Path(task.draft_path).name} 核对结果"), encoding="utf-8")
    return summary, 0


class _staged_unit_dir:
    """Write a unit's files into a hidden sibling folder, then swap it in and mark it done."""

    def __init__(self, out_root: Path, task: UnitTask, findings: dict[str, int], warnings: int):
        self.final = out_root / task.name
        self.task = task
        self.record = {"fingerprint": task.fingerprint, "source": task.source, "locator": task.locator,
                       "findings": findings, "warnings": warnings}
        self.staging = out_root / f".tmp-{task.name}-{os.getpid()}"

    def __enter__(self) -> Path:
        shutil.rmtree(self.staging, ignore_errors=True)
        self.staging.mkdir(parents=True)
        return self.staging

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            return
        (self.staging / DONE_MARKER).write_text(json.dumps(self.record, ensure_ascii=False), encoding="utf-8")
        # Killed between these two renames, the old folder survives as .old-NAME-PID and the next
        # run puts it back (`_clean_stale_staging`); the unit is simply not done.
        trash = self.final.parent / f".old-{self.task.name}-{os.getpid()}"
        if self.final.exists():
            os.replace(self.final, trash)
        os.replace(self.staging, self.final)
        shutil.rmtree(trash, ignore_errors=True)


# --------------------------------------------------------------------------- executors

def _run_local(tasks: Sequence[UnitTask], settings: BatchSettings, workers: int,
               on_result: ProgressFn) -> None:
    if workers <= 1 and os.environ.get("SHUZHI_BATCH_INPROCESS"):
        state = _WorkerState(settings)
        for task in tasks:
            on_result(run_unit(task, state))
        return
    import multiprocessing

    global _STATE
    workers = max(1, min(workers if workers > 0 else (os.cpu_count() or 1), len(tasks)))
    forking = sys.platform != "darwin"
    context = multiprocessing.get_context("fork" if forking else "spawn")
    iterator = iter(tasks)
    # From here Ctrl-C and SIGTERM only set a flag (see the loop below): a signal landing while the
    # warm-up below imports modules would otherwise surface wrapped in whatever was being built.
    _STOP["requested"] = False
    previous_sigint = _catch_sigint()
    _STOP["running"] = True

    def release() -> None:
        global _STATE
        _STATE = None
        _STOP["running"] = False
        if previous_sigint is not None:
            signal.signal(signal.SIGINT, previous_sigint)

    try:
        _warm_up(forking and len(tasks) > workers, settings, iterator, on_result)
    except BaseException:
        release()
        raise
    if _STOP["requested"]:
        release()
        raise KeyboardInterrupt
    # The warm objects (index, tables, modules) go to the collector's permanent generation before
    # the fork: a worker's collections then neither walk them nor write to (and so copy) their pages.
    gc.freeze()
    try:
        pool = ProcessPoolExecutor(max_workers=max(1, workers), mp_context=context,
                                   initializer=_init_worker, initargs=(settings, os.getpid()))
    except BaseException:
        gc.unfreeze()
        release()
        raise
    pending: set[Future] = set()
    try:
        # Keep a short queue per worker so Ctrl-C abandons few units and memory stays flat.
        for task in _take(iterator, workers * 4):
            pending.add(pool.submit(run_unit, task))
        while pending:
            # Ctrl-C and SIGTERM only set a flag while the pool runs (an exception raised by a
            # signal handler can land inside a finaliser, where Python prints it and drops it);
            # the bounded wait turns the flag into the interrupt here, in plain code.
            done, pending = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
            if _STOP["requested"]:
                raise KeyboardInterrupt
            for future in done:
                on_result(future.result())
                for task in _take(iterator, 1):
                    pending.add(pool.submit(run_unit, task))
    except BaseException:
        # Ctrl-C (or a crash in the parent): stop now rather than finish the queued units. A killed
        # worker leaves at most a hidden staging folder; every visible unit folder stays complete.
        # The queued futures are left pending, not cancelled: the pool's manager thread marks
        # them broken when the workers die, and setting that on a cancelled future raises
        # InvalidStateError in that thread (a traceback on the user's screen).
        _terminate_workers(pool)
        with contextlib.suppress(Exception):
            pool.shutdown(wait=False)
        # The killed workers' staging folders: gone now, not at the next run.
        _clean_stale_staging(Path(settings.out_dir))
        raise
    finally:
        gc.unfreeze()       # this process may live on (tests, the web server): collect as before
        _STATE = None       # the next batch (other settings, a changed profile) starts fresh
        _STOP["running"] = False
        if previous_sigint is not None:
            signal.signal(signal.SIGINT, previous_sigint)
    pool.shutdown(wait=True)


def _warm_up(fork_warm: bool, settings: BatchSettings, iterator: Iterator[UnitTask],
             on_result: ProgressFn) -> None:
    """Load the index, the segmenter, the profile and the engine once, here, and draft the first unit
    here too (which loads every table and module a unit needs): the workers are forked from this warm
    process and share all of it (the index is memory-mapped), instead of each paying the start-up that
    made 2 workers only 1.2–1.7× one (eval/bench_batch.py)."""
    global _STATE
    if not fork_warm:
        return
    _STATE = _WorkerState(settings)
    from pipeline.reading import segment

    # Pure jieba (some units need its dictionary: custom metric labels, place names) costs 3–5 s to
    # load; loaded here it is loaded once, not once per worker.
    segment._jieba()
    on_result(run_unit(next(iterator), _STATE))


def _catch_sigint():  # noqa: ANN202 - the previous handler, whatever it was
    """Ctrl-C sets the stop flag instead of raising anywhere; returns the handler to restore."""
    try:
        return signal.signal(signal.SIGINT, lambda signum, frame: request_stop())
    except ValueError:          # not the main thread: leave Ctrl-C as it is
        return None


def _terminate_workers(pool: ProcessPoolExecutor) -> None:
    # `_processes` is private but has been stable since 3.2; without it the interpreter would wait
    # at exit for every queued unit to finish.
    processes = dict(getattr(pool, "_processes", None) or {})
    for process in processes.values():
        if process.is_alive():
            process.terminate()
    for process in processes.values():
        process.join(timeout=10)


_STOP = {"requested": False, "running": False}


def request_stop() -> bool:
    """Ask a running batch to stop as after Ctrl-C (the CLI's SIGTERM handler calls this).
    True when a process pool is running and will stop within a second by itself."""
    _STOP["requested"] = True
    return _STOP["running"]


def _take(iterator: Iterator[UnitTask], n: int) -> list[UnitTask]:
    out = []
    for _ in range(n):
        try:
            out.append(next(iterator))
        except StopIteration:
            break
    return out


def _run_ray(tasks: Sequence[UnitTask], settings: BatchSettings, workers: int, address: str | None,
             on_result: ProgressFn) -> None:
    try:
        import ray
        from ray.util import ActorPool
    except ImportError as exc:
        raise UsageError("使用 --executor ray 需要安装 Ray：pip install 'shuzhi[ray]'。") from exc

    # Air-gapped offices: never let Ray phone home with usage statistics.
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    started_here = not ray.is_initialized()
    if started_here:
        init_kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                       "configure_logging": False}
        if address:
            init_kwargs["address"] = address
        else:
            init_kwargs["num_cpus"] = workers if workers > 0 else (os.cpu_count() or 1)
        ray.init(**init_kwargs)
    try:
        if workers <= 0:
            # One actor per CPU of the cluster (every node's cores), not of this machine.
            workers = max(1, int(ray.cluster_resources().get("CPU", 1)))

        @ray.remote(num_cpus=1)
        class UnitActor:
            def __init__(self, batch_settings: BatchSettings):
                self.state = _WorkerState(batch_settings)

            def run(self, task: UnitTask) -> UnitResult:
                return run_unit(task, self.state)

        # No more actors than units: each one pays the start-up (jieba, index) once.
        actors = [UnitActor.remote(settings) for _ in range(max(1, min(workers, len(tasks))))]
        try:
            actor_pool = ActorPool(actors)
            for result in actor_pool.map_unordered(lambda actor, task: actor.run.remote(task), list(tasks)):
                on_result(result)
        finally:
            # On a shared cluster the actors must not outlive the batch (Ctrl-C included): they
            # hold CPUs that the next batch would wait for.
            for actor in actors:
                ray.kill(actor)
    finally:
        if started_here:
            ray.shutdown()


# --------------------------------------------------------------------------- the batch

def run_batch(
    input_path: Path,
    settings: BatchSettings,
    *,
    workers: int = 1,
    executor: str = "local",
    ray_address: str | None = None,
    resume: bool = False,
    drafts_dir: Path | None = None,
    prior_dir: Path | None = None,
    progress: bool = True,
    on_result: ProgressFn | None = None,
) -> BatchReport:
    """Run a batch and write OUT/summary.{csv,json,html}. Returns the per-unit results."""
    from dataclasses import replace

    # Absolute paths: Ray workers do not share the driver's working directory (and on a cluster
    # the paths must name the same shared folder on every node).
    settings = replace(
        settings, out_dir=str(Path(settings.out_dir).resolve()),
        index_dir=str(Path(settings.index_dir).resolve()) if settings.index_dir else None,
    )
    input_path = Path(input_path).resolve()
    drafts_dir = Path(drafts_dir).resolve() if drafts_dir is not None else None
    prior_dir = Path(prior_dir).resolve() if prior_dir is not None else None
    out_dir = Path(settings.out_dir)
    started = time.perf_counter()
    if settings.check_only:
        if drafts_dir is None:
            raise UsageError("--check-only 需要草稿文件夹（DRAFTS_DIR）和 --metrics-dir。")
        tasks = discover_check_units(drafts_dir, input_path, prior_dir=prior_dir)
    else:
        tasks = discover_units(input_path, prior_dir=prior_dir, exclude=out_dir)
    _check_writable(out_dir)
    _validate_settings(settings)
    try:
        with _batch_lock(out_dir):
            return _run_locked(tasks, settings, out_dir, started, workers=workers, executor=executor,
                               ray_address=ray_address, resume=resume, progress=progress, on_result=on_result)
    except KeyboardInterrupt:
        # A signal between taking the lock and the run's own summary still leaves one.
        ensure_interrupted_summary(out_dir, started)
        raise


@contextlib.contextmanager
def _batch_lock(out_dir: Path) -> Iterator[None]:
    """One batch per OUT: a second one would draft every unit twice and race on the swaps."""
    path = out_dir / BATCH_LOCK
    try:
        handle = open(path, "a+")  # noqa: SIM115 - held for the whole batch
    except OSError as exc:
        raise InputError(f"无法在输出文件夹中建立锁文件：{exc.strerror}。", path=str(out_dir)) from exc
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            try:
                holder = json.loads(handle.read() or "{}")
            except ValueError:
                holder = {}
            who = f"进程 {holder['pid']}（自 {holder.get('since', '?')} 起）" if holder.get("pid") else "另一个批量任务"
            raise UsageError(f"{who}正在向这个输出文件夹写入；请等它结束后再运行（或用 -o 换一个文件夹）。",
                             path=str(out_dir)) from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "since": datetime.datetime.now().astimezone().isoformat(timespec="seconds")}))
        handle.flush()
        yield
    finally:
        handle.close()


def _run_locked(tasks: list[UnitTask], settings: BatchSettings, out_dir: Path, started: float, *, workers: int,
                executor: str, ray_address: str | None, resume: bool, progress: bool,
                on_result: ProgressFn | None) -> BatchReport:
    results: list[UnitResult] = []
    todo: list[UnitTask] = []
    bar = Progress(len(tasks), enabled=progress)

    def collect(result: UnitResult) -> None:
        results.append(result)
        bar.update(result)
        if on_result:
            on_result(result)

    interrupted = False
    # Everything under the lock is inside the try: a signal at any point (even while the fingerprints
    # are taken) still leaves a summary that says the run was interrupted.
    try:
        _clean_stale_staging(out_dir)
        settings_part = settings.fingerprint_part()
        tasks = [_with_fingerprint(t, settings, settings_part) for t in tasks]
        for task in tasks:
            record = done_record(out_dir, task) if resume else None
            if record is not None:
                # A skipped unit keeps the findings it had when it was done.
                skipped = UnitResult(name=task.name, status="skipped",
                                     source=task.source + (f" {task.locator}" if task.locator else ""),
                                     findings=dict(record.get("findings") or {}),
                                     warnings=int(record.get("warnings") or 0))
                results.append(skipped)
                bar.update(skipped)
            else:
                todo.append(task)
        if todo:
            if executor == "ray":
                _run_ray(todo, settings, workers, ray_address, collect)
            elif executor == "local":
                _run_local(todo, settings, workers, collect)
            else:
                raise UsageError(f"未知的执行器“{executor}”；可用：local、ray。")
    except KeyboardInterrupt:          # Ctrl-C, or SIGTERM turned into one by the CLI
        interrupted = True
        raise
    finally:
        # Even after Ctrl-C the summary says what finished; unfinished units are simply absent.
        pending = (len(todo) if todo or not interrupted else len(tasks)) \
            - sum(1 for r in results if r.status != "skipped")
        report = BatchReport(results=sorted(results, key=lambda r: r.name), out_dir=out_dir,
                             seconds=time.perf_counter() - started, interrupted=interrupted,
                             pending=max(0, pending))
        write_summary(report)
    return report


def ensure_interrupted_summary(out_dir: Path, started: float) -> None:
    """After an interruption: if the signal came before the batch could write its summary (between
    taking the OUT lock and starting), write one that says so, with no unit done."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir() or (out_dir / "summary.json").exists():
        return
    with contextlib.suppress(OSError, ShuzhiError):
        write_summary(BatchReport(results=[], out_dir=out_dir, seconds=time.perf_counter() - started,
                                  interrupted=True, pending=0))


def discover_check_units(drafts_dir: Path, metrics_dir: Path, *, prior_dir: Path | None = None) -> list[UnitTask]:
    """Check-only units: each draft in DRAFTS_DIR paired with METRICS_DIR/<same stem>.(yaml|json|xlsx)."""
    if not drafts_dir.is_dir():
        raise InputError("草稿文件夹不存在或不是文件夹。", path=str(drafts_dir))
    if not metrics_dir.is_dir():
        raise InputError("指标文件夹（--metrics-dir）不存在或不是文件夹。", path=str(metrics_dir))
    drafts = sorted(p for p in drafts_dir.iterdir()
                    if p.is_file() and p.suffix.lower() in DRAFT_SUFFIXES and not p.name.startswith((".", "~$")))
    if not drafts:
        raise InputError(f"草稿文件夹里没有 {'、'.join(DRAFT_SUFFIXES)} 文件。", path=str(drafts_dir))
    tasks, seen = [], {}
    for draft in drafts:
        metrics = next((metrics_dir / f"{draft.stem}{s}" for s in METRICS_SUFFIXES
                        if (metrics_dir / f"{draft.stem}{s}").exists()), None)
        prior = _prior_for(draft, prior_dir)
        tasks.append(UnitTask(
            name=_unique(safe_unit_name(draft.stem), seen),
            source=str(metrics) if metrics else str(metrics_dir / f"{draft.stem}.yaml"),
            draft_path=str(draft), prior_source=str(prior) if prior else "",
        ))
    return tasks


def _with_fingerprint(task: UnitTask, settings: BatchSettings, settings_part: str | None = None) -> UnitTask:
    from dataclasses import replace

    try:
        return replace(task, fingerprint=fingerprint(task, settings, settings_part))
    except OSError:
        # Unreadable input: never matches a done marker, and the worker reports why it failed.
        return replace(task, fingerprint="unreadable")


def _validate_settings(settings: BatchSettings) -> None:
    """Fail once, in the parent, on what would otherwise kill every worker at start-up."""
    if settings.index_dir or settings.chroma_url:
        from pipeline.index.hybrid import HybridIndex

        index = HybridIndex.open(Path(settings.index_dir) if settings.index_dir else None,
                                 chroma_url=settings.chroma_url, read_only=True)
        if settings.chroma_url:
            # The drafter treats a retrieval failure as "no exemplars" and carries on; with a dead
            # shared server that would quietly give thousands of plainer drafts. Ask it once here.
            try:
                index.search("民兵", k=1, mode="vector")
            except ShuzhiError as exc:
                raise ShuzhiError(
                    f"共享 Chroma 服务 {settings.chroma_url} 不可用，批量未开始：{exc}"
                    "请先启动服务（chroma run --host 0.0.0.0 --port 8000 --path 数据目录），或去掉 --chroma-url。"
                ) from exc
    if not settings.check_only:
        from pipeline.drafting.engines import get_engine

        get_engine(settings.engine, profile=settings.profile or "dangguan-wuzhuang")


def _check_writable(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"无法创建输出文件夹：{exc.strerror}。", path=str(out_dir)) from exc
    if not out_dir.is_dir() or not os.access(out_dir, os.W_OK):
        raise InputError("输出文件夹不可写。", path=str(out_dir))


_OLD_DIR = re.compile(r"\.old-(?P<name>.+)-\d+")


def _clean_stale_staging(out_dir: Path) -> None:
    """Remove what an interrupted run left: staging folders, and restore a unit caught mid-swap."""
    for leftover in out_dir.glob(".old-*"):
        match = _OLD_DIR.fullmatch(leftover.name)
        final = out_dir / match.group("name") if match else None
        if final is not None and leftover.is_dir() and not final.exists():
            os.replace(leftover, final)
        else:
            shutil.rmtree(leftover, ignore_errors=True)
    # `.tmp-*` are ours; `..tmp-*` are the drafter's own staging made inside a `.tmp-*` sibling.
    for pattern in (".tmp-*", "..tmp-*"):
        for leftover in out_dir.glob(pattern):
            shutil.rmtree(leftover, ignore_errors=True)
