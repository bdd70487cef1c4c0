"""The ingest side of `HybridIndex`: reading files into a new generation and committing it.

`IngestMixin` holds the ingest methods and `HybridIndex` (pipeline.index.hybrid) inherits them; the
opening, loading, locking and search they call are HybridIndex's own. Kept apart only for size:
hybrid.py imports this module, never the other way round (the shared layout names and `_Loaded`
are in pipeline.index.generation). Worker processes are pipeline.index.ingest_workers.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import InputError, ShuzhiError, UsageError
from pipeline.fsutil import atomic_write_text
from pipeline.index import ingest_workers
from pipeline.index import remote as index_remote
from pipeline.index.ann import IVF_MIN_ROWS, ListBuilder, VectorSearch
from pipeline.index.blocks import ChunkBlock, ChunkColumn
from pipeline.index.embedding import (
    DEFAULT_EMBEDDER,
    HashEmbedder,
    _alnum_table,
    _idf_table,
    resolve_embedder,
)
from pipeline.index.generation import CHROMA_DIR, FORMAT_VERSION, MANIFEST_FILE, STATE_FILE, _Loaded
from pipeline.index.ingest_workers import PARALLEL_MIN_FILES, Parsed, ParsedFiles
from pipeline.index.remote import parse_chroma_url as _parse_chroma_url
from pipeline.index.retrieval import Bm25Ranker, expand_paths
from pipeline.index.store import DOC, ChunkTable
from pipeline.index.terms import TermColumn, TermLists
from pipeline.index.vectors import VectorWriter, open_chroma, release_chroma
from pipeline.models import Chunk
from pipeline.reading import segment


@dataclass(frozen=True)
class IngestSummary:
    """What one ingest did. Paths are as the user gave them (files found in folders: as found)."""

    added: tuple[str, ...] = ()
    replaced: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()         # (path, Chinese message)
    duplicates: tuple[tuple[str, str], ...] = ()     # (path, path of the same content already indexed)
    chunks: int = 0                                  # chunks in the index afterwards
    documents: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_json(self) -> dict[str, Any]:
        return {
            "added": list(self.added),
            "replaced": list(self.replaced),
            "unchanged": list(self.unchanged),
            "failed": [{"path": p, "error": e} for p, e in self.failed],
            "duplicates": [{"path": p, "same_as": s} for p, s in self.duplicates],
            "chunks": self.chunks,
            "documents": self.documents,
        }


# --------------------------------------------------------------------------- helpers

def _manifest_json(manifest: dict[str, dict[str, Any]]) -> str:
    """The manifest as JSON, one file per line. Each line goes through json's C encoder: with
    `indent=` json encodes in Python, 0.1–0.3 s for 3,000 files."""
    lines = [f"{json.dumps(key, ensure_ascii=False)}: {json.dumps(entry, ensure_ascii=False)}"
             for key, entry in manifest.items()]
    return "{\n" + ",\n".join(lines) + "\n}\n" if lines else "{}\n"


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector off for the ingest (and its forked workers), on again after.

    An ingest builds a large, acyclic set of objects (a chunk and its terms per passage: 58k at 5 M
    characters), and the collector re-scanned all of it as it grew: ~1 s of a 4.5 s ingest's CPU
    (`eval/bench_ingest.py`). Everything is still freed by reference counting; the little cyclic
    garbage an ingest makes (exceptions of bad files) waits until the collector is back."""
    import gc

    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _check_writable(index_dir: Path) -> None:
    """Refuse early, before anything is written, if the index cannot be created or updated."""
    if index_dir.exists() and not index_dir.is_dir():
        raise InputError("索引路径已存在但不是文件夹；请用 --index 指定一个文件夹。", path=str(index_dir))
    probe = index_dir
    while not probe.exists():
        parent = probe.parent
        if parent == probe:
            break
        probe = parent
    if not probe.is_dir():
        raise InputError(
            f"无法在此创建索引：上级路径 {probe} 是一个文件而不是文件夹；请用 --index 换一个位置。",
            path=str(index_dir),
        )
    if not os.access(probe, os.W_OK | os.X_OK):
        raise InputError("索引目录不可写；请检查权限，或用 --index 指定一个可写的文件夹。", path=str(index_dir))


@dataclass
class _IngestRun:
    """The bookkeeping of one ingest, filled file by file."""

    manifest: dict[str, dict[str, Any]]
    failed: list[tuple[str, str]]
    cwd: str = field(default_factory=os.getcwd)
    touched: bool = False       # a manifest entry changed without any chunk changing
    doc_owner: dict[str, str] = field(default_factory=dict)      # doc_id → manifest key
    removed_docs: set[str] = field(default_factory=set)
    new_docs: list[tuple[ChunkBlock, TermLists, np.ndarray | None]] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)

    def summary(self, chunks: int, documents: int) -> IngestSummary:
        return IngestSummary(tuple(self.added), tuple(self.replaced), tuple(self.unchanged),
                             tuple(self.failed), tuple(self.duplicates), chunks, documents)


class IngestMixin:
    """The ingest methods of `HybridIndex` (see the module docs); not used on its own."""

    # ------------------------------------------------------------------ ingest

    def ingest(
        self,
        paths: Sequence[Path],
        *,
        rebuild: bool = False,
        progress: Callable[[str, str], None] | None = None,
        notice: Callable[[str], None] | None = None,
    ) -> IngestSummary:
        """Add, replace or skip each file (folders are walked); commit once at the end.

        `notice(message)` hears about waits for another ingest's lock (default: stderr).

        `progress(path, status)` is called per file with status added | replaced | unchanged |
        failed | duplicate. A bad file is recorded in `failed` and the rest still go in.
        """
        if self.read_only:
            raise UsageError("索引以只读方式打开，不能写入。")
        if self.index_dir is not None:
            _check_writable(self.index_dir)
        files, missing = expand_paths(paths)
        if not files and not rebuild:
            # Nothing to read: report the missing paths without creating or locking anything.
            state = self._read_state()
            return IngestSummary(failed=tuple(missing), chunks=len(self),
                                 documents=int((state or {}).get("documents", 0)))
        if self.index_dir is None:          # the shared server: no folder, no lock (see index_remote)
            with _collector_paused():
                return self._ingest_under_lock(files, missing, rebuild=rebuild, progress=progress)
        created = not self.index_dir.exists()
        try:
            with self._locked(notice), _collector_paused():
                self._remove_crash_leftovers()
                summary = self._ingest_under_lock(files, missing, rebuild=rebuild, progress=progress)
                if self.exists():
                    # Whatever a killed ingest left: generations past or never committed, and
                    # (embedded store only) collections no committed state names.
                    self._remove_old_generations(keep=int((self._read_state() or {}).get("generation", 0)))
                    if not self.chroma_url:
                        self._remove_orphan_collections()
        except BaseException:
            if created and not self.exists():
                shutil.rmtree(self.index_dir, ignore_errors=True)
            raise
        if created and not self.exists():
            shutil.rmtree(self.index_dir, ignore_errors=True)     # nothing committed: leave no trace
        return summary

    def _ingest_under_lock(
        self,
        files: list[Path],
        missing: list[tuple[str, str]],
        *,
        rebuild: bool,
        progress: Callable[[str, str], None] | None,
    ) -> IngestSummary:
        self._state, self._state_mtime, self._loaded = None, None, None
        try:
            state = self._read_state()
        except InputError:
            # The prescribed recovery must not need what it recovers from: a garbled state.json,
            # an old format or a broken vector store are all rebuilt from scratch.
            if not rebuild or self.index_dir is None:
                raise
            state = self._state = None
            if not self.chroma_url:
                release_chroma(str(self.index_dir / CHROMA_DIR))
                shutil.rmtree(self.index_dir / CHROMA_DIR, ignore_errors=True)
        requested = resolve_embedder(self._requested_embedder) if self._requested_embedder else None
        if state and not rebuild and requested and requested.name != state.get("embedder"):
            raise UsageError(
                f"索引已用“{state.get('embedder')}”向量化，不能混入“{requested.name}”；"
                "如要更换，请加 --rebuild 重建索引。",
                path=self.location,
            )
        return self._ingest_locked(files, missing, fresh=rebuild or state is None, progress=progress)

    def _ingest_locked(
        self,
        files: list[Path],
        missing: list[tuple[str, str]],
        *,
        fresh: bool,
        progress: Callable[[str, str], None] | None,
    ) -> IngestSummary:
        old_state = self._state
        if fresh:
            embedder = resolve_embedder(self._requested_embedder or DEFAULT_EMBEDDER)
            index_id = (old_state or {}).get("index_id") or uuid.uuid4().hex[:12]
            loaded = _Loaded.of(0, [], [], {})
            generation = int((old_state or {}).get("generation", 0))
        else:
            assert old_state is not None
            embedder = resolve_embedder(old_state["embedder"])
            index_id = old_state["index_id"]
            loaded = self._load()
            generation = loaded.generation
        self._embedder = embedder
        self._state = {**(old_state or {}), "embedder": embedder.name, "index_id": index_id,
                       "format": FORMAT_VERSION}
        self._collection = None

        def open_collection() -> Any:
            if fresh:                       # --rebuild or a first ingest: start from an empty collection
                try:
                    self._chroma()
                except ShuzhiError:
                    if self.chroma_url:
                        raise
                    # A vector store broken by a crash: a rebuild starts it over rather than fail.
                    self._collection = self._client = None
                    release_chroma(str(self.index_dir / CHROMA_DIR))
                    shutil.rmtree(self.index_dir / CHROMA_DIR, ignore_errors=True)
                    self._chroma()
                self._reset_collection()
            return self._chroma()

        def release() -> None:              # before a child process writes: drop our own client
            self._collection = self._client = None
            if not self.chroma_url:
                release_chroma(str(self.index_dir / CHROMA_DIR))

        run = _IngestRun(manifest={k: dict(v) for k, v in loaded.manifest.items()}, failed=list(missing))
        run.doc_owner = {entry["doc_id"]: key for key, entry in run.manifest.items()}
        shared = self.index_dir is None
        if shared:
            run.cwd = ""        # files keyed by the path as given, the same on every machine

        def metadata(chunk: Chunk, terms: Sequence[str]) -> dict[str, Any]:
            title = run.manifest.get(run.doc_owner.get(chunk.doc_id, ""), {}).get("title")
            return index_remote.chunk_metadata(chunk, terms, title)

        for path_str, _ in missing:
            if progress:
                progress(path_str, "failed")
        writer = VectorWriter(
            embedder, local=open_collection, release=release, reset=fresh, name=self._collection_name(),
            path=None if self.chroma_url else str(self.index_dir / CHROMA_DIR),
            url=_parse_chroma_url(self.chroma_url) if self.chroma_url else None,
            metadata=metadata if shared else None, documents=shared, chroma=self.local_chroma,
        )
        parsed = self._parse_in_workers(files, run) if not self.local_chroma else ParsedFiles([], iter(()))
        try:
            for number, path in enumerate(files):
                status = self._read_one(path, run, parsed.pop(path, None))
                if status in ("added", "replaced"):
                    if len(run.new_docs) == 1:
                        writer.expect(len(files) - number)
                    writer.add(*run.new_docs[-1])
                if progress:
                    progress(str(path), status)
            writer.finish()
            return self._commit(run, loaded, writer, fresh=fresh, index_id=index_id, generation=generation,
                                embedder=embedder)
        finally:
            parsed.close()
            writer.close()

    def _commit(self, run: _IngestRun, loaded: _Loaded, writer: VectorWriter, *, fresh: bool, index_id: str,
                generation: int, embedder: Any) -> IngestSummary:

        # A rebuild in which every file failed keeps the old index rather than an empty one.
        if not run.new_docs and not run.removed_docs and not run.touched:
            self._state, self._state_mtime, self._loaded = None, None, None
            kept = self._read_state() or {}
            return run.summary(int(kept.get("chunks", 0)), int(kept.get("documents", 0)))

        # The new store: old chunks minus replaced documents, then the new documents.
        old = loaded.chunks
        kept_rows = np.arange(len(old))
        stale_ids: list[str] = []
        if run.removed_docs and len(old):
            codes = [i for i, doc in enumerate(old.docs) if doc in run.removed_docs]
            removed = np.isin(old.columns[DOC], codes)
            stale_ids = [old.chunk_id(int(i)) for i in np.flatnonzero(removed)]
            kept_rows = np.flatnonzero(~removed)
        old_terms = loaded.terms if len(old) else []
        chunks_out = ChunkColumn()
        chunks_out.extend([old[i] for i in kept_rows.tolist()])
        terms_out = TermColumn()
        terms_out.extend([old_terms[i] for i in kept_rows.tolist()])
        for chunks, terms, _vectors in run.new_docs:
            chunks_out.extend(chunks)
            terms_out.extend(terms)

        # Vectors are written before the commit (Chroma is secondary: ids not in the committed
        # store are ignored), so a crash up to the state.json write leaves the old generation.
        if self.index_dir is None:
            # Stale chunks go only after the commit: until then readers of the old generation
            # still find them (the new ones are ignored until their document is in the manifest).
            summary = self._commit_shared(run, loaded, writer, chunks_out, index_id, generation + 1, embedder)
            writer.delete(stale_ids)
            writer.reconcile(chunks_out, terms_out)
            return summary
        writer.delete(stale_ids)
        writer.reconcile(chunks_out, terms_out)
        vectors = self._sidecar_rows(loaded, kept_rows, chunks_out, terms_out, writer)

        generation += 1
        self._write_generation(generation, chunks_out, terms_out, run.manifest, vectors)
        state = {
            "format": FORMAT_VERSION,
            "index_id": index_id,
            "embedder": embedder.name,
            "generation": generation,
            "chunks": len(chunks_out),
            "documents": len(run.manifest),
            "updated": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        atomic_write_text(self.index_dir / STATE_FILE, json.dumps(state, ensure_ascii=False, indent=1))
        self._state, self._state_mtime, self._loaded = None, None, None
        self._read_state()
        self._remove_old_generations(keep=generation)
        return run.summary(len(chunks_out), len(run.manifest))

    def _commit_shared(self, run: _IngestRun, loaded: _Loaded, writer: VectorWriter, chunks: Sequence[Chunk],
                       index_id: str, generation: int, embedder: Any) -> IngestSummary:
        """The shared server's commit: the manifest, then the state record (see index_remote)."""
        state = {
            "format": FORMAT_VERSION, "index_id": index_id, "embedder": embedder.name,
            "dim": embedder.dim or writer.dim,
            "generation": generation, "chunks": len(chunks), "documents": len(run.manifest),
        }
        self._client = self._client or index_remote.connect(str(self.chroma_url))   # dropped for a writer process
        index_remote.write_commit(self._client, state, run.manifest, loaded.manifest)
        self._state, self._loaded = None, None
        self._read_state()
        return run.summary(len(chunks), len(run.manifest))

    def _parse_in_workers(self, files: list[Path], run: _IngestRun) -> ParsedFiles:
        """Parse, chunk, segment and embed the changed files of a large ingest in worker processes
        (`pipeline.index.ingest_workers`).

        Returns a lazy map path → worker result that `_read_one` consumes in file order; empty
        (everything happens in this process) for small ingests, one core, or when forking is not
        safe here (other threads, or Chroma's runtime loaded)."""
        workers = ingest_workers.worker_count()
        todo = [p for p in dict.fromkeys(files) if not self._unchanged_by_stat(p, run)]
        if (workers < 2 or len(todo) < PARALLEL_MIN_FILES or threading.active_count() > 1
                or "chromadb" in sys.modules or not hasattr(os, "fork")):
            return ParsedFiles([], iter(()))
        segment.index_terms("民兵")          # load the dictionary once, before forking: children share it
        embed = isinstance(self._embedder, HashEmbedder)     # a model stays in this process
        if embed:
            _idf_table()                     # likewise the IDF table and the letter table
            _alnum_table()
        return ingest_workers.start(todo, workers, self._embedder if embed else None, self.index_dir)

    @staticmethod
    def _unchanged_by_stat(path: Path, run: _IngestRun) -> bool:
        key = os.path.normpath(os.path.join(run.cwd, path))
        previous = run.manifest.get(key)
        if not previous:
            return False
        try:
            stat = path.stat()
        except OSError:
            return False
        return (previous.get("size"), previous.get("mtime_ns")) == (stat.st_size, stat.st_mtime_ns)

    @staticmethod
    def _read_one(path: Path, run: _IngestRun, parsed: Parsed | None = None) -> str:
        """Parse, chunk and segment one file into `run` (or take what a worker did: `parsed`);
        returns its status. Never raises for a bad file: the error goes to `run.failed` so a
        folder ingest carries on."""
        shown = str(path)
        # Not resolve() (an lstat per path component) nor abspath() (a getcwd per call, which is
        # slow on some overlay filesystems): the working directory is read once per ingest.
        key = os.path.normpath(os.path.join(run.cwd, path))
        try:
            previous = run.manifest.get(key)
            if parsed is None:
                stat = path.stat()
                size, mtime_ns = stat.st_size, stat.st_mtime_ns
                # Same size and modification time as when indexed: unchanged without opening the
                # file (opening costs milliseconds on some network and overlay filesystems).
                if previous and (previous.get("size"), previous.get("mtime_ns")) == (size, mtime_ns):
                    run.unchanged.append(shown)
                    return "unchanged"
                parsed = ingest_workers.parse_for_index(path, shown)
            if isinstance(parsed, str):
                run.failed.append((shown, parsed))
                return "failed"
            info, chunks, terms, vectors = parsed
            if info.size is not None and info.mtime_ns is not None:
                # The stat taken just before the file was read (a worker's file was sent to it
                # because its stat differed from the manifest's).
                size, mtime_ns = info.size, info.mtime_ns
            doc_id = info.doc_id
            if previous and previous["doc_id"] == doc_id:
                # Touched, not changed: the content hash is the truth. Record the new time so the
                # next ingest skips it without parsing.
                run.manifest[key] = {**previous, "mtime_ns": mtime_ns}
                run.touched = True
                run.unchanged.append(shown)
                return "unchanged"
            owner = run.doc_owner.get(doc_id)
            if owner is not None and owner != key:
                run.duplicates.append((shown, run.manifest[owner]["path"]))
                return "duplicate"
        except ShuzhiError as exc:
            run.failed.append((shown, exc.message if exc.path else str(exc)))
            return "failed"
        except (OSError, UnicodeError, ValueError) as exc:
            run.failed.append((shown, f"无法读取或解析：{exc}"))
            return "failed"
        if previous:
            run.removed_docs.add(previous["doc_id"])
            run.doc_owner.pop(previous["doc_id"], None)
            run.replaced.append(shown)
        else:
            run.added.append(shown)
        run.new_docs.append((chunks, terms, vectors))
        run.doc_owner[doc_id] = key
        run.manifest[key] = {
            "path": shown, "doc_id": doc_id, "title": info.title, "region": info.region,
            "year": chunks.year, "sections": list(info.sections),
            "chunks": len(chunks), "size": size, "mtime_ns": mtime_ns,
            "ingested": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        return "replaced" if previous else "added"

    def _remove_crash_leftovers(self) -> None:
        """Temporary files of a writer killed mid-write (`.state.json.XXXX.tmp`); under the lock, so
        no live writer owns them. Uncommitted generations go after the next commit."""
        for leftover in self.index_dir.glob(".*.tmp"):
            with contextlib.suppress(OSError):
                leftover.unlink()
        ingest_workers.remove_spill_leftovers(self.index_dir)

    def _remove_orphan_collections(self) -> None:
        """Drop Chroma collections of this folder's embedded store that no committed state names:
        left by an ingest killed before its first commit, or by a rebuild that changed the id.
        Only the embedded store: a Chroma server is shared with other indexes."""
        keep = self._collection_name()
        path = str(self.index_dir / CHROMA_DIR)
        if not Path(path).is_dir():
            return
        try:
            client = open_chroma(path, None)
            names = [c if isinstance(c, str) else c.name for c in client.list_collections()]
            for name in names:
                if name.startswith("shuzhi-") and name != keep:
                    client.delete_collection(name)
        except Exception:      # noqa: BLE001 - tidying only: never fail an ingest that committed
            return
        finally:
            self._collection = None
            release_chroma(path)

    def _reset_collection(self) -> None:
        name = self._collection_name()
        with contextlib.suppress(Exception):       # absent on a first ingest
            self._client.delete_collection(name)
        self._collection = None

    def _sidecar_rows(
        self,
        loaded: _Loaded,
        kept_rows: np.ndarray,
        chunks: Sequence[Chunk],
        terms: Sequence[Sequence[str]],
        writer: VectorWriter,
    ) -> list[np.ndarray]:
        """The vectors of the new store in order, as consecutive blocks of rows (joined by the
        thread that writes them): kept chunks (the first `len(kept_rows)`) from the previous
        generation's vector file, new ones from this ingest; a chunk found in neither (a missing
        vector file) is embedded again."""
        n_old = len(kept_rows)
        old = self._vectors(loaded) if n_old else None
        dim = self._embedder.dim or (old.dim if old is not None else writer.dim)
        parts: list[np.ndarray] = []
        missing: list[int] = []
        if n_old:
            if old is not None and old.dim == dim:
                parts.append(old.row_vectors(kept_rows))
            else:
                parts.append(np.zeros((n_old, dim), dtype=np.float32))
                missing.extend(range(n_old))
        if len(chunks) > n_old:
            new, filled = writer.rows_for(chunks, dim, n_old)
            parts.extend(new)
            missing.extend((n_old + np.flatnonzero(~filled)).tolist())
        if not missing:
            return parts or [np.zeros((0, dim), dtype=np.float32)]
        matrix = np.concatenate(parts)
        matrix[missing] = self._embedder.embed_documents([chunks[i].text for i in missing],
                                                         [terms[i] for i in missing])
        return [matrix]

    def _write_generation(
        self,
        generation: int,
        chunks: Sequence[Chunk],
        terms: Sequence[Sequence[str]],
        manifest: dict[str, dict[str, Any]],
        vectors: list[np.ndarray],
    ) -> None:
        gen_dir = self._gen_dir(generation)
        if gen_dir.exists():          # left by a crashed ingest that never committed
            shutil.rmtree(gen_dir)
        gen_dir.mkdir(parents=True)
        # The vector file (joining the blocks, k-means for the IVF lists: numpy work that mostly
        # runs without the GIL) is written by a thread while this one writes the chunk store, the
        # manifest and BM25 (mostly Python).
        from concurrent.futures import ThreadPoolExecutor

        if len(vectors) > 1:
            # Joined here: a list of thousands of per-file blocks is walked with the GIL held, and
            # in the thread that walk waited on this one's Python work (0.1–0.4 s at 58k chunks).
            vectors = [np.concatenate(vectors)]
        matrix = np.ascontiguousarray(vectors[0], dtype=np.float32)
        # The thread trains the IVF lists; this one, done with its own writes, assigns rows with it.
        lists = ListBuilder(matrix) if matrix.shape[0] >= IVF_MIN_ROWS else None
        # The k-means thread makes ~60 numpy calls, each taking the GIL back from this thread's
        # Python; at the default 5 ms switch interval that waiting was ~0.2 s of its 0.5 s.
        interval = sys.getswitchinterval()
        sys.setswitchinterval(min(interval, 0.0005))
        try:
            with ThreadPoolExecutor(1, thread_name_prefix="shuzhi-vectors") as pool:
                written = pool.submit(VectorSearch.write, gen_dir, [matrix], lists)
                ChunkTable.write(gen_dir, chunks, terms)
                atomic_write_text(gen_dir / MANIFEST_FILE, _manifest_json(manifest))
                if chunks:
                    Bm25Ranker.build(chunks, terms).save(gen_dir / "bm25")
                if lists is not None:
                    lists.help()
                written.result()
        finally:
            sys.setswitchinterval(interval)

    def _remove_old_generations(self, keep: int) -> None:
        for path in self.index_dir.glob("gen-*"):
            if path.is_dir() and path.name != self._gen_dir(keep).name:
                shutil.rmtree(path, ignore_errors=True)
