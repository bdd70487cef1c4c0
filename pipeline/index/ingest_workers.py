"""Ingest worker processes: a large folder is read, parsed, chunked, segmented and hash-embedded in
forked workers (they inherit the loaded dictionary and tables); the parent keeps the bookkeeping
and the commit (`pipeline.index.ingest`).

What a worker sends back through its pipe is kept small. The vectors are most of the bytes (384
float32 per chunk: 89 MB for 58k chunks), and pickling them through the pool's pipe cost about a
second of CPU on the two ends together (`eval/bench_ingest.py`, profiled with py-spy). So a worker
writes each batch's vectors to a spill file in a private folder next to the index and sends only
where they are; the parent reads the file back (from the page cache) and deletes it. A worker that
cannot write the spill file sends the vectors through the pipe as before.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from pipeline.errors import InputError, ShuzhiError
from pipeline.index.blocks import ChunkBlock
from pipeline.index.embedding import HashEmbedder
from pipeline.index.retrieval import chunk_block
from pipeline.index.terms import TermRows
from pipeline.procutil import die_with_parent
from pipeline.reading import segment

INGEST_WORKERS = 2
WORKERS_ENV = "SHUZHI_INGEST_WORKERS"
PARALLEL_MIN_FILES = 64
PARALLEL_BATCH = 16             # files per worker job, at least …
MAX_BATCH = 64                  # … and at most; in between, about BATCHES_PER_WORKER jobs each
BATCHES_PER_WORKER = 24
SPILL_PREFIX = ".ingest-spill-"


@dataclass(frozen=True)
class DocInfo:
    doc_id: str
    title: str | None
    region: str | None
    sections: tuple[str, ...]
    size: int | None = None         # the file's stat, taken by the worker before it read the file
    mtime_ns: int | None = None


class Spilled(NamedTuple):
    """Rows `start:start + count` of the vectors a worker wrote to `path`."""

    path: str
    start: int
    count: int


# A worker's result: what the file holds, or the Chinese message of why it failed.
Parsed = tuple[DocInfo, ChunkBlock, "list[list[str]] | TermRows", "np.ndarray | Spilled | None"] | str

_WORKER_EMBEDDER: Any = None        # set before forking: workers embed with the parent's embedder
_SPILL_DIR: str | None = None       # likewise: where workers write their vectors
_spill_names = itertools.count()


def parse_for_index(path: Path, shown: str, embedder: Any = None) -> Parsed:
    """Read, parse, chunk and segment one file (and embed it when given an embedder). Returns the
    message of an expected error instead of raising it, so a bad file does not stop a folder."""
    from pipeline.reading.parse import parse_file

    try:
        stat = os.stat(path)
        report = parse_file(path)      # doc_id: the content digest, from the same read
        chunks = chunk_block(report, path=shown)
        if not chunks:
            raise InputError("文件里没有可索引的正文。", path=shown)
        terms = segment.index_terms_many(chunks.texts)
        vectors = embedder.embed_documents(chunks.texts, terms) if embedder is not None else None
    except ShuzhiError as exc:
        return exc.message if exc.path else str(exc)
    except (OSError, UnicodeError, ValueError) as exc:
        return f"无法读取或解析：{exc}"
    info = DocInfo(report.doc_id, report.title, report.region, tuple(s.key for s in report.sections),
                   stat.st_size, stat.st_mtime_ns)
    return info, chunks, terms, vectors


def _spill(vectors: np.ndarray) -> str | None:
    """Write a batch's vectors to a new file in the spill folder; None when that fails."""
    if _SPILL_DIR is None:
        return None
    path = os.path.join(_SPILL_DIR, f"{os.getpid()}-{next(_spill_names)}.npy")
    try:
        with open(path, "wb") as handle:
            np.save(handle, np.ascontiguousarray(vectors), allow_pickle=False)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(path)
        return None
    return path


def parse_batch(jobs: list[tuple[Path, str, bool]]) -> list[Parsed]:
    """A worker's share: several files, embedded in one call (per-file calls cost twice as much)."""
    results = [parse_for_index(path, shown) for path, shown, _ in jobs]
    if _WORKER_EMBEDDER is None or not any(embed for _, _, embed in jobs):
        return results
    done = [r for r in results if not isinstance(r, str)]
    if not done:
        return results
    texts = [t for r in done for t in r[1].texts]
    terms = [t for r in done for t in r[2]]
    if isinstance(_WORKER_EMBEDDER, HashEmbedder):
        vectors, vocab, ids = _WORKER_EMBEDDER.embed_with_vocabulary(texts, terms)
        rows = TermRows.from_lists(terms, vocab, ids)
    else:
        vectors = _WORKER_EMBEDDER.embed_documents(texts, terms)
        rows = TermRows.from_lists(terms)
    term_rows = iter(rows.split([len(r[1]) for r in done]))
    spilled = _spill(vectors)
    start = 0
    for i, result in enumerate(results):
        if isinstance(result, str):
            continue
        count = len(result[1])
        file_vectors = Spilled(spilled, start, count) if spilled else vectors[start:start + count]
        results[i] = (result[0], result[1], next(term_rows), file_vectors)
        start += count
    return results


class ParsedFiles:
    """Worker results handed out in file order; `pop(path)` is None for a file not sent."""

    def __init__(self, paths: list[Path], results: Iterator[Parsed], pool: Any = None,
                 spill_dir: str | None = None):
        self._pending = set(paths)
        self._results = results
        self._pool = pool
        self._spill_dir = spill_dir
        self._batch: tuple[str, np.ndarray | None] | None = None

    def pop(self, path: Path, default: None = None) -> Parsed | None:
        if path not in self._pending:
            return default
        self._pending.discard(path)
        result = next(self._results)
        if not isinstance(result, str) and isinstance(result[3], Spilled):
            result = (result[0], result[1], result[2], self._rows(result[3]))
        if not self._pending:
            self.close()
        return result

    def _rows(self, spilled: Spilled) -> np.ndarray | None:
        """The spilled rows: the batch file is read once (by its first file) and then deleted.
        None when it cannot be read: the parent then embeds those chunks itself."""
        if self._batch is None or self._batch[0] != spilled.path:
            try:
                vectors: np.ndarray | None = np.load(spilled.path, allow_pickle=False)
            except (OSError, ValueError):
                vectors = None
            with contextlib.suppress(OSError):
                os.unlink(spilled.path)
            self._batch = (spilled.path, vectors)
        vectors = self._batch[1]
        if vectors is None or vectors.ndim != 2 or vectors.shape[0] < spilled.start + spilled.count:
            return None
        return vectors[spilled.start:spilled.start + spilled.count]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._spill_dir is not None:
            shutil.rmtree(self._spill_dir, ignore_errors=True)
            self._spill_dir = None


def worker_count() -> int:
    """Worker processes for a large ingest: SHUZHI_INGEST_WORKERS=N (0 or 1: none), else two on a
    machine with two cores or more."""
    forced = os.environ.get(WORKERS_ENV, "").strip()
    return int(forced) if forced.isdigit() else min(INGEST_WORKERS, os.cpu_count() or 1)


def batch_size(files: int, workers: int) -> int:
    """Files per worker job. A job has fixed costs (one embedding call whose new words take the slow
    path, a vocabulary of its own that the commit maps, a spill file, a round trip through the
    pool): at 5 M characters 192 jobs of 16 files cost ~1 s of CPU more than 48 of 64 (2.7–3.3 s
    against 2.5–2.7 s of wall time). Enough jobs remain for the workers to finish together."""
    return max(PARALLEL_BATCH, min(MAX_BATCH, -(-files // max(1, workers * BATCHES_PER_WORKER))))


def start(todo: list[Path], workers: int, embedder: Any, spill_parent: Path | None) -> ParsedFiles:
    """Fork `workers` processes over `todo` in batches of PARALLEL_BATCH files. `embedder` (or
    None: the parent embeds) must be ready to use: children inherit it. Spill files go to a new
    folder in `spill_parent` (the index folder; None: the system's temporary folder)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    global _WORKER_EMBEDDER, _SPILL_DIR
    spill_dir: str | None = None
    if embedder is not None:
        with contextlib.suppress(OSError):
            spill_dir = tempfile.mkdtemp(prefix=SPILL_PREFIX, dir=spill_parent)
    _WORKER_EMBEDDER, _SPILL_DIR = embedder, spill_dir
    # The children inherit the caller's collector state (an ingest pauses it: pipeline.index.ingest's
    # _collector_paused), so their collections neither run over nor copy the pages they share with
    # this process. When it is on, everything alive now is frozen out of its reach before forking
    # and taken back once the children exist (a fork-context pool starts them at the first submit).
    frozen = gc.isenabled()
    if frozen:
        gc.freeze()
    try:
        # A worker ends with this process: killed with -9, it would leave them blocked on the queue.
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                                   initializer=die_with_parent, initargs=(os.getpid(),))
        jobs = [(p, str(p), embedder is not None) for p in todo]
        size = batch_size(len(jobs), workers)
        batches = pool.map(parse_batch, [jobs[i:i + size] for i in range(0, len(jobs), size)])
    except BaseException:
        if spill_dir is not None:
            shutil.rmtree(spill_dir, ignore_errors=True)
        raise
    finally:
        if frozen:
            gc.unfreeze()
    return ParsedFiles(todo, itertools.chain.from_iterable(batches), pool, spill_dir)


def remove_spill_leftovers(index_dir: Path) -> None:
    """Spill folders of an ingest killed before it cleaned up (called under the index lock)."""
    for leftover in index_dir.glob(SPILL_PREFIX + "*"):
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
