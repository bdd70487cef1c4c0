"""The hybrid index of past reports: chunks in a local store, BM25 over jieba terms, vectors.

Layout of an index directory (default `.shuzhi/index`, or `--index`, or `SHUZHI_INDEX`):

    state.json        the commit point: format, embedder, current generation, counts
    gen-000007/       one generation, every file memory-mapped on open: the chunk store
                      (texts.bin, offsets.npy, columns.npy, tables.json, terms.txt — see
                      pipeline.index.store), vectors.npy and IVF lists (pipeline.index.ann),
                      bm25/ (the BM25 matrix, pipeline.index.retrieval), manifest.json
    chroma/           an embedded Chroma copy of the vectors, only with SHUZHI_LOCAL_CHROMA=1
    .lock             held (flock) by the one ingest allowed at a time

An ingest writes a complete new generation and then replaces `state.json` atomically, so a crash
or a bad file leaves the previous generation in force. Chroma, when used, is a secondary index
keyed by the stable chunk ids `{doc_id}:{position}`: vector hits that are not in the current
generation are ignored, and the next ingest reconciles Chroma with the store.

Opening is cheap (reads `state.json`); the generation is memory-mapped on first use (a few small
tables are read, nothing is rebuilt), so a 100k-chunk index answers its first query in well under
a second and processes that open the same index share its pages.

With `chroma_url` and no `index_dir` there is no local folder: the Chroma server holds texts,
metadata, vectors and the manifest, and every machine reads it (see `pipeline.index.remote`).
An explicit `index_dir` with `chroma_url` keeps the local store and puts only vectors in the server.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import IndexLockedError, InputError, ShuzhiError, UsageError
from pipeline.fsutil import atomic_write_text
from pipeline.index import ingest_workers
from pipeline.index import remote as index_remote
from pipeline.index.ann import VectorSearch
from pipeline.index.embedding import (
    DEFAULT_EMBEDDER,
    HashEmbedder,
    _alnum_table,
    _idf_table,
    resolve_embedder,
)
from pipeline.index.ingest_workers import PARALLEL_MIN_FILES, Parsed, ParsedFiles
from pipeline.index.remote import SHARED_COLLECTION
from pipeline.index.remote import parse_chroma_url as _parse_chroma_url
from pipeline.index.retrieval import (
    BM25_WEIGHT,
    CANDIDATE_FACTOR,
    MIN_CANDIDATES,
    RRF_K,
    SEARCH_MODES,
    VECTOR_WEIGHT,
    Bm25Ranker,
    chroma_where,
    expand_paths,
    rrf_fuse,
)
from pipeline.index.store import DOC, ChunkTable
from pipeline.index.terms import TermColumn
from pipeline.index.vectors import VectorWriter, open_chroma, open_collection, release_chroma
from pipeline.models import Chunk, SearchHit
from pipeline.profile.catalog import level_class
from pipeline.reading import segment

# 2: the memory-mapped generation (pipeline.index.store, pipeline.index.ann); 1 was chunks.jsonl.
FORMAT_VERSION = 2
DEFAULT_INDEX_DIR = Path(".shuzhi") / "index"
STATE_FILE = "state.json"
VECTORS_FILE = "vectors.npy"
MANIFEST_FILE = "manifest.json"
# The local index keeps its vectors in the generation's own files (searched by pipeline.index.ann);
# a Chroma collection next to it is kept only when asked for, since inserting into Chroma's HNSW
# was more than half of an ingest (eval/bench_ingest.py). A Chroma server (--chroma-url) always is.
LOCAL_CHROMA_ENV = "SHUZHI_LOCAL_CHROMA"
LOCK_FILE = ".lock"
CHROMA_DIR = "chroma"
# How long an ingest waits for another one's lock; SHUZHI_LOCK_TIMEOUT (seconds) overrides.
DEFAULT_LOCK_TIMEOUT = 30.0



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


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def lock_holder(index_dir: Path) -> str:
    """Who holds the index lock, in words: `进程 1234（主机 h，自 2026-12-02T08:30:12+00:00 起）`."""
    try:
        record = json.loads((Path(index_dir) / LOCK_FILE).read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        record = {}
    if not isinstance(record, dict) or not record.get("pid"):
        return "另一个 ingest "
    host = f"主机 {record['host']}，" if record.get("host") and record["host"] != socket.gethostname() else ""
    return f"进程 {record['pid']}（{host}自 {record.get('since', '?')} 起）"


def default_index_dir() -> Path:
    env = os.environ.get("SHUZHI_INDEX")
    return Path(env) if env else DEFAULT_INDEX_DIR


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


# --------------------------------------------------------------------------- the index

@dataclass
class _Loaded:
    """The current generation: the chunk store memory-mapped, the rest loaded on first use."""

    generation: int
    chunks: ChunkTable
    manifest_path: Path | None = None
    loaded_manifest: dict[str, dict[str, Any]] | None = None
    bm25: Bm25Ranker | None = None
    vectors: VectorSearch | None = None        # rows aligned with chunks (pipeline.index.ann)
    vectors_checked: bool = False
    past: dict[tuple[str, int | None], list[tuple[str, int | None]]] = field(default_factory=dict)

    @classmethod
    def of(cls, generation: int, chunks: Sequence[Chunk], terms: Sequence[Sequence[str]],
           manifest: dict[str, dict[str, Any]], vectors: np.ndarray | None = None) -> _Loaded:
        """A generation held in memory (empty, or the shared server's)."""
        loaded = cls(generation, ChunkTable.from_chunks(chunks, terms), loaded_manifest=manifest)
        if vectors is not None and len(vectors) == len(chunks):
            loaded.vectors, loaded.vectors_checked = VectorSearch(np.asarray(vectors, dtype=np.float32)), True
        return loaded

    @property
    def manifest(self) -> dict[str, dict[str, Any]]:
        if self.loaded_manifest is None:
            assert self.manifest_path is not None
            try:
                self.loaded_manifest = json.loads(self.manifest_path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise InputError(f"索引数据缺失或损坏（{exc}）；请用 shuzhi ingest --rebuild 重建索引。",
                                 path=str(self.manifest_path)) from exc
        return self.loaded_manifest

    @property
    def terms(self) -> list[list[str]]:
        try:
            return self.chunks.terms()
        except (OSError, ValueError) as exc:
            raise InputError(f"索引数据缺失或损坏（{exc}）；请用 shuzhi ingest --rebuild 重建索引。",
                             path=str(self.manifest_path or "")) from exc


@dataclass
class _IngestRun:
    """The bookkeeping of one ingest, filled file by file."""

    manifest: dict[str, dict[str, Any]]
    failed: list[tuple[str, str]]
    cwd: str = field(default_factory=os.getcwd)
    touched: bool = False       # a manifest entry changed without any chunk changing
    doc_owner: dict[str, str] = field(default_factory=dict)      # doc_id → manifest key
    removed_docs: set[str] = field(default_factory=set)
    new_docs: list[tuple[list[Chunk], list[list[str]], np.ndarray | None]] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)

    def summary(self, chunks: int, documents: int) -> IngestSummary:
        return IngestSummary(tuple(self.added), tuple(self.replaced), tuple(self.unchanged),
                             tuple(self.failed), tuple(self.duplicates), chunks, documents)


class HybridIndex:
    """BM25 + Chroma index of report chunks. Use `HybridIndex.open(...)`; see module docs."""

    def __init__(
        self,
        index_dir: Path | None,
        *,
        chroma_url: str | None = None,
        embedder: str | None = None,
        read_only: bool = False,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    ):
        if index_dir is None and not chroma_url:
            raise UsageError("没有索引目录时必须给出 --chroma-url。")
        # None: the shared index on the Chroma server is the whole index (pipeline.index.remote).
        self.index_dir = Path(index_dir) if index_dir is not None else None
        self.chroma_url = chroma_url
        self.read_only = read_only
        env_timeout = os.environ.get("SHUZHI_LOCK_TIMEOUT", "")
        if lock_timeout == DEFAULT_LOCK_TIMEOUT and env_timeout:
            try:
                lock_timeout = max(0.0, float(env_timeout))
            except ValueError:
                raise UsageError(f"环境变量 SHUZHI_LOCK_TIMEOUT 应为秒数，实际是“{env_timeout}”。") from None
        self.lock_timeout = lock_timeout
        self._requested_embedder = embedder
        self._state: dict[str, Any] | None = None
        self._state_mtime: float | None = None
        self._loaded: _Loaded | None = None
        self._embedder: Any = None
        self._client: Any = None
        self._collection: Any = None
        self._mutex = threading.RLock()
        self.rrf_k = RRF_K
        self.bm25_weight = BM25_WEIGHT
        self.vector_weight = VECTOR_WEIGHT
        self.filter_in_chroma = os.environ.get("SHUZHI_CHROMA_FILTER", "") not in ("", "0")

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(
        cls,
        index_dir: Path | None = None,
        *,
        chroma_url: str | None = None,
        embedder: str | None = None,
        read_only: bool = False,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    ) -> HybridIndex:
        """Open (or prepare to create) an index. Cheap: nothing heavy loads until first use.

        `index_dir=None` with `chroma_url`: the shared index on the server, no local state (the
        server is asked for its state now, so a dead server or an empty one fails here)."""
        remote = index_dir is None and bool(chroma_url)
        directory = None if remote else Path(index_dir) if index_dir is not None else default_index_dir()
        if embedder is not None:
            resolve_embedder(embedder)       # reject a bad spec now, not halfway through an ingest
        index = cls(directory, chroma_url=chroma_url, embedder=embedder, read_only=read_only,
                    lock_timeout=lock_timeout)
        if remote:      # the server is asked now: a dead or empty one fails here, not mid-batch
            index._client = index_remote.connect(str(chroma_url))
            if read_only and index._read_state() is None:
                raise InputError(index_remote.missing_message(str(chroma_url)), path=chroma_url)
            if read_only and embedder is not None:
                index._get_embedder()      # a mismatch is an error now, not at the first query
            return index
        if read_only and not index.exists():
            raise InputError("索引不存在；请先运行 shuzhi ingest 建立索引，或用 --index 指定索引目录。",
                             path=str(directory))
        if read_only:
            index._read_state()
        else:
            # A writer may be about to --rebuild exactly because the state is unreadable: the
            # ingest itself raises for a bad state unless it rebuilds.
            with contextlib.suppress(InputError):
                index._read_state()
        return index

    @property
    def location(self) -> str:
        """Where the index lives, for messages: the folder, or the server and collection."""
        if self.index_dir is None:
            return f"{self.chroma_url} 集合 {SHARED_COLLECTION}"
        return str(self.index_dir)

    def exists(self) -> bool:
        if self.index_dir is None:
            return self._read_state() is not None
        return (self.index_dir / STATE_FILE).is_file()

    def _read_state(self) -> dict[str, Any] | None:
        if self.index_dir is None:          # the shared server's state, read once per open/ingest
            if self._state is None:
                self._client = self._client or index_remote.connect(str(self.chroma_url))
                self._state = index_remote.read_state(self._client, FORMAT_VERSION)
            return self._state
        path = self.index_dir / STATE_FILE
        try:
            mtime = path.stat().st_mtime_ns
        except (FileNotFoundError, NotADirectoryError):
            self._state, self._state_mtime = None, None
            return None
        if self._state is not None and mtime == self._state_mtime:
            return self._state
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"索引状态文件损坏（{exc}）；请用 shuzhi ingest --rebuild 重建索引。",
                             path=str(path)) from exc
        if state.get("format") != FORMAT_VERSION:
            raise InputError(
                f"索引格式版本 {state.get('format')} 与本程序（{FORMAT_VERSION}）不符；"
                "请用 shuzhi ingest --rebuild 重建索引。",
                path=str(path),
            )
        if self._state is not None and state.get("generation") != self._state.get("generation"):
            self._loaded = None       # another process committed a new generation: reload lazily
        self._state, self._state_mtime = state, mtime
        return state

    @property
    def embedder_name(self) -> str:
        state = self._state or {}
        return state.get("embedder") or resolve_embedder(self._requested_embedder).name

    def _get_embedder(self) -> Any:
        if self._embedder is None:
            recorded = (self._state or {}).get("embedder")
            spec = self._requested_embedder or recorded or DEFAULT_EMBEDDER
            embedder = resolve_embedder(spec)
            # Vectors from two embedders are not comparable: a query must use the index's own.
            if recorded and embedder.name != recorded:
                raise UsageError(
                    f"索引用“{recorded}”向量化建立，不能用“{embedder.name}”查询；去掉 --embedder 即可。"
                )
            self._embedder = embedder
        return self._embedder

    def __len__(self) -> int:
        state = self._read_state()
        return int(state.get("chunks", 0)) if state else 0

    # ------------------------------------------------------------------ generations

    def _gen_dir(self, generation: int) -> Path:
        assert self.index_dir is not None, "the shared index has no generation folders"
        return self.index_dir / f"gen-{generation:06d}"

    def _load(self) -> _Loaded:
        with self._mutex:
            state = self._read_state()
            if self._loaded is not None:
                return self._loaded
            if state is None:
                self._loaded = _Loaded.of(0, [], [], {})
                return self._loaded
            if self.index_dir is None:
                key = (self.chroma_url, state.get("index_id"), int(state["generation"]))
                self._loaded = index_remote.cached(key, lambda: self._load_remote(state))
                return self._loaded
            generation = int(state["generation"])
            gen_dir = self._gen_dir(generation)
            # Memory-mapped: opening 100k chunks reads a few small tables, not every chunk.
            try:
                table = ChunkTable.open(gen_dir)
            except (OSError, ValueError) as exc:
                raise InputError(f"索引数据缺失或损坏（{exc}）；请用 shuzhi ingest --rebuild 重建索引。",
                                 path=str(gen_dir)) from exc
            self._loaded = _Loaded(generation, table, manifest_path=gen_dir / MANIFEST_FILE)
            return self._loaded

    def _load_remote(self, state: dict[str, Any]) -> _Loaded:
        """The whole shared index, paged out of the server: chunks, BM25 and the vector matrix."""
        self._client = self._client or index_remote.connect(str(self.chroma_url))
        manifest = index_remote.read_manifest(self._client)
        chunks, terms, vectors = index_remote.read_chunks(self._client, manifest, int(state.get("dim") or 0))
        loaded = _Loaded.of(int(state["generation"]), chunks, terms, manifest, vectors=vectors)
        if chunks:
            loaded.bm25 = Bm25Ranker.build(loaded.chunks, terms)
        return loaded

    def _vectors(self, loaded: _Loaded) -> VectorSearch | None:
        """The generation's vectors (memory-mapped), or None if absent or not matching the store."""
        with self._mutex:
            if not loaded.vectors_checked:
                loaded.vectors_checked = True
                if self.index_dir is not None:
                    vectors = VectorSearch.open(self._gen_dir(loaded.generation))
                    if vectors is not None and len(vectors) == len(loaded.chunks):
                        loaded.vectors = vectors
            return loaded.vectors

    def _bm25(self, loaded: _Loaded) -> Bm25Ranker:
        with self._mutex:
            if loaded.bm25 is None:
                bm25_dir = self._gen_dir(loaded.generation) / "bm25" if self.index_dir else None
                if len(loaded.chunks) and bm25_dir is not None and bm25_dir.is_dir():
                    try:
                        loaded.bm25 = Bm25Ranker.load(bm25_dir, loaded.chunks)
                    except (OSError, ValueError) as exc:
                        raise InputError(f"索引的 BM25 数据缺失或损坏（{exc}）；请用 shuzhi ingest --rebuild 重建索引。",
                                         path=str(bm25_dir)) from exc
                else:
                    loaded.bm25 = Bm25Ranker.build(loaded.chunks, loaded.terms)
            return loaded.bm25

    @property
    def local_chroma(self) -> bool:
        """Whether vectors also go to a Chroma collection: always with a server, locally on request."""
        return bool(self.chroma_url) or os.environ.get(LOCAL_CHROMA_ENV, "") not in ("", "0")

    # ------------------------------------------------------------------ Chroma

    def _chroma(self) -> Any:
        with self._mutex:
            if self._collection is not None:
                return self._collection
            url = _parse_chroma_url(self.chroma_url) if self.chroma_url else None
            if self.index_dir is None:
                self._client = self._client or index_remote.connect(str(self.chroma_url))
            else:
                try:
                    self._client = open_chroma(str(self.index_dir / CHROMA_DIR), url)
                except Exception as exc:
                    raise ShuzhiError(f"连接不上 Chroma 服务 {self.chroma_url}：{exc}；请确认服务已启动。"
                                      if url else f"打开向量库失败：{exc}", path=str(self.index_dir)) from exc
            name = self._collection_name()
            try:
                self._collection = open_collection(self._client, name, self.embedder_name)
            except Exception as exc:
                raise ShuzhiError(f"打开 Chroma 集合 {name} 失败：{exc}") from exc
            return self._collection

    def _collection_name(self) -> str:
        if self.index_dir is None:
            return SHARED_COLLECTION
        state = self._state or {}
        return f"shuzhi-{state.get('index_id') or 'new'}"

    # ------------------------------------------------------------------ locking

    @contextlib.contextmanager
    def _locked(self, notice: Callable[[str], None] | None = None) -> Iterator[None]:
        """Hold the index's flock. The holder writes its pid and start time into the lock file, so
        a waiting ingest can say whom it waits for and since when (the flock, not the text, is
        the truth: a dead holder's text is simply overwritten)."""
        self.index_dir.mkdir(parents=True, exist_ok=True)
        handle = open(self.index_dir / LOCK_FILE, "a+")  # noqa: SIM115 - held for the whole block
        try:
            deadline = time.monotonic() + max(self.lock_timeout, 0.0)
            told = False
            while True:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    holder = lock_holder(self.index_dir)
                    if time.monotonic() >= deadline:
                        raise IndexLockedError(
                            f"{holder}正在使用索引（已等待 {self.lock_timeout:g} 秒）；请等它完成后再试。",
                            path=str(self.index_dir),
                        ) from None
                    if not told:
                        (notice or _stderr)(f"等待：{holder}正在使用索引 {self.index_dir}，"
                                            f"最多等 {self.lock_timeout:g} 秒……")
                        told = True
                    time.sleep(0.2)
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                     "since": datetime.now().astimezone().isoformat(timespec="seconds")}))
            handle.flush()
            yield
        finally:
            handle.close()        # closing releases the flock

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
        if rebuild or state is None:
            return self._ingest_locked(files, missing, fresh=True, progress=progress)
        return self._ingest_locked(files, missing, fresh=False, progress=progress)

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
        chunks_out: list[Chunk] = [old[i] for i in kept_rows.tolist()]
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

    def _commit_shared(self, run: _IngestRun, loaded: _Loaded, writer: VectorWriter, chunks: list[Chunk],
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
            "year": chunks[0].year, "sections": list(info.sections),
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
            new, filled = writer.rows_for([c.chunk_id for c in chunks[n_old:]], dim)
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
        with ThreadPoolExecutor(1, thread_name_prefix="shuzhi-vectors") as pool:
            written = pool.submit(VectorSearch.write, gen_dir, vectors)
            ChunkTable.write(gen_dir, chunks, terms)
            atomic_write_text(gen_dir / MANIFEST_FILE, _manifest_json(manifest))
            if chunks:
                Bm25Ranker.build(chunks, terms).save(gen_dir / "bm25")
            written.result()

    def _remove_old_generations(self, keep: int) -> None:
        for path in self.index_dir.glob("gen-*"):
            if path.is_dir() and path.name != self._gen_dir(keep).name:
                shutil.rmtree(path, ignore_errors=True)

    # ------------------------------------------------------------------ reading

    def all_chunks(self, region: str | None = None, year: int | None = None,
                   section: str | None = None, level: str | None = None) -> list[Chunk]:
        chunks = self._load().chunks
        mask = chunks.mask(section=section, region=region, year=year, level=level)
        rows = range(len(chunks)) if mask is None else np.flatnonzero(mask).tolist()
        return [chunks[i] for i in rows]

    def past_reports(self, region: str, before_year: int | None = None) -> list[tuple[str, int | None]]:
        """Earlier reports of one region as (text, year), oldest first, rebuilt from their chunks.

        Used to call a figure stale. A document whose region the parser could not tell counts as
        this region's when its text names the region; another county's figures never count
        (comparing with them would call coincidences stale).
        """
        loaded = self._load()
        # A batch asks once per unit; the answer only changes with a new generation (a new _Loaded).
        key = (region, before_year)
        with self._mutex:
            if key not in loaded.past:
                loaded.past[key] = self._collect_past(loaded.chunks, region, before_year)
        return list(loaded.past[key])

    @staticmethod
    def _collect_past(chunks: ChunkTable, region: str, before_year: int | None) -> list[tuple[str, int | None]]:
        # Only the documents of this region (or of none) are read: a lookup on the region column,
        # not a scan of every chunk of the province.
        past: list[tuple[str, int | None]] = []
        for rows in chunks.doc_rows(region).values():
            picked = [chunks[int(i)] for i in rows]
            picked.sort(key=lambda c: c.position)
            text = "\n".join(c.text for c in picked)
            year = next((c.year for c in picked if c.year is not None), None)
            doc_region = next((c.region for c in picked if c.region), None)
            if doc_region is None and region and region in text:
                doc_region = region
            if doc_region != region:
                continue
            if before_year is not None and year is not None and year >= before_year:
                continue
            past.append((text, year))
        past.sort(key=lambda item: item[1] or 0)
        return past

    def documents(self) -> list[dict[str, Any]]:
        """One dict per indexed file: path, doc_id, title, region, year, sections, chunks."""
        manifest = self._load().manifest
        rows = [
            {k: entry.get(k) for k in ("path", "doc_id", "title", "region", "year", "sections", "chunks")}
            for entry in manifest.values()
        ]
        return sorted(rows, key=lambda r: (r["region"] or "", r["year"] or 0, r["path"]))

    def search(
        self,
        query: str,
        *,
        k: int = 5,
        section: str | None = None,
        region: str | None = None,
        year: int | None = None,
        level: str | None = None,
        mode: str = "hybrid",
    ) -> list[SearchHit]:
        """Top-k chunks for `query`; filters apply to both retrievers before fusion. `level`
        (`county`/`township`, or a meta.level such as 镇) prefers passages of reports of that level:
        they come first, other levels only fill up to k."""
        if level is not None:
            cls = level_class(level) or level
            same = self._search(query, k=k, section=section, region=region, year=year, mode=mode, _level=cls)
            if len(same) >= k:
                return same
            seen = {h.chunk.chunk_id for h in same}
            rest = [h for h in self._search(query, k=k + len(same), section=section, region=region, year=year,
                                            mode=mode, _level=None) if h.chunk.chunk_id not in seen]
            return same + rest[:k - len(same)]
        return self._search(query, k=k, section=section, region=region, year=year, mode=mode, _level=None)

    def _search(self, query: str, *, k: int, section: str | None, region: str | None, year: int | None,
                mode: str, _level: str | None) -> list[SearchHit]:
        if mode not in SEARCH_MODES:
            raise UsageError(f"检索方式“{mode}”无效；可选：{'、'.join(SEARCH_MODES)}。")
        if k <= 0 or not query.strip():
            return []
        loaded = self._load()
        chunks = loaded.chunks
        if not len(chunks):
            return []
        depth = max(k * CANDIDATE_FACTOR, MIN_CANDIDATES)
        bm25_rows: list[int] = []
        vector_rows: list[int] = []
        mask = chunks.mask(section=section, region=region, year=year, level=_level)
        if mask is not None and not mask.any():
            return []
        if mode in ("hybrid", "bm25"):
            bm25_rows = self._bm25(loaded).rank(segment.index_terms(query), depth, mask)
        if mode in ("hybrid", "vector"):
            vector_rows = self._vector_rows(query, depth, (section, region, year), _level, mask, loaded)
        if mode == "bm25":
            return [SearchHit(chunks[i], 1.0 / (self.rrf_k + r), bm25_rank=r)
                    for r, i in enumerate(bm25_rows[:k], start=1)]
        if mode == "vector":
            return [SearchHit(chunks[i], 1.0 / (self.rrf_k + r), vector_rank=r)
                    for r, i in enumerate(vector_rows[:k], start=1)]
        fused = rrf_fuse([(bm25_rows, self.bm25_weight), (vector_rows, self.vector_weight)],
                         k=k, rrf_k=self.rrf_k)
        return [SearchHit(chunks[i], score, bm25_rank=ranks[0], vector_rank=ranks[1])
                for i, score, ranks in fused]

    def _vector_rows(
        self,
        query: str,
        depth: int,
        filters: tuple[str | None, str | None, int | None],
        level: str | None,
        mask: np.ndarray | None,
        loaded: _Loaded,
    ) -> list[int]:
        vector = self._get_embedder().embed_query(query)
        # The generation's own vectors, memory-mapped and searched by pipeline.index.ann: exact for
        # small indexes and selective filters, IVF lists for large ones. Chroma's `where`
        # pre-filter costs 20–70 ms at 12k chunks on a 2-core machine (a SQLite scan of the
        # metadata); it stays the path only when the vector file is missing or when
        # `filter_in_chroma` is set (eval/bench_search.py measures both).
        use_chroma = self.filter_in_chroma and self.local_chroma and level is None
        if not use_chroma:
            vectors = self._vectors(loaded)
            if vectors is not None and vectors.dim == vector.shape[0]:
                return vectors.rank(vector, depth, mask)
            if not self.local_chroma:
                raise ShuzhiError("索引缺少向量文件；请用 shuzhi ingest --rebuild 重建索引。", path=self.location)
        collection = self._chroma()
        n = min(depth, len(loaded.chunks))
        try:
            result = collection.query(query_embeddings=[vector], n_results=n, where=chroma_where(*filters),
                                      include=[])
        except Exception as exc:
            raise ShuzhiError(f"向量检索失败：{exc}；可用 --rebuild 重建索引。", path=self.location) from exc
        ids = result.get("ids") or [[]]
        # Ids outside the committed store come from an interrupted ingest: skip them.
        rows = [loaded.chunks.row_of(cid) for cid in ids[0]]
        return [r for r in rows if r is not None and (mask is None or mask[r])]
