"""The hybrid index of past reports: chunks in a local store, BM25 over jieba terms, vectors.

Layout of an index directory (default `.shuzhi/index`, or `--index`, or `SHUZHI_INDEX`):

    state.json        the commit point: format, embedder, current generation, counts
    gen-000007/       one generation, every file memory-mapped on open: the chunk store
                      (texts.bin, offsets.npy, columns.npy, tables.json, terms.txt — see
                      pipeline.index.store), vectors.npy and IVF lists (pipeline.index.ann),
                      bm25/ (the BM25 matrix, pipeline.index.retrieval), manifest.json
    chroma/           an embedded Chroma copy of the vectors, only with SHUZHI_LOCAL_CHROMA=1
    .lock             held (flock) by the one ingest allowed at a time

An ingest (pipeline.index.ingest) writes a complete new generation and then replaces `state.json`
atomically, so a crash or a bad file leaves the previous generation in force. Chroma, when used,
is a secondary index keyed by the stable chunk ids `{doc_id}:{position}`: vector hits that are not
in the current generation are ignored, and the next ingest reconciles Chroma with the store.

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
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import IndexLockedError, InputError, ShuzhiError, UsageError
from pipeline.index import remote as index_remote
from pipeline.index.ann import VectorSearch
from pipeline.index.embedding import DEFAULT_EMBEDDER, resolve_embedder
from pipeline.index.generation import CHROMA_DIR as CHROMA_DIR
from pipeline.index.generation import FORMAT_VERSION as FORMAT_VERSION
from pipeline.index.generation import MANIFEST_FILE as MANIFEST_FILE
from pipeline.index.generation import STATE_FILE as STATE_FILE
from pipeline.index.generation import VECTORS_FILE as VECTORS_FILE
from pipeline.index.generation import _Loaded
from pipeline.index.ingest import IngestMixin
from pipeline.index.ingest import IngestSummary as IngestSummary
from pipeline.index.ingest import _check_writable as _check_writable
from pipeline.index.ingest import _collector_paused as _collector_paused
from pipeline.index.ingest import _IngestRun as _IngestRun
from pipeline.index.ingest import _manifest_json as _manifest_json
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
    rrf_fuse,
)
from pipeline.index.store import ChunkTable
from pipeline.index.vectors import open_chroma, open_collection
from pipeline.models import Chunk, SearchHit
from pipeline.profile.catalog import level_class
from pipeline.reading import segment

# The `X as X` imports above keep names that moved to pipeline.index.generation and
# pipeline.index.ingest importable from here.
DEFAULT_INDEX_DIR = Path(".shuzhi") / "index"
# The local index keeps its vectors in the generation's own files (searched by pipeline.index.ann);
# a Chroma collection next to it is kept only when asked for, since inserting into Chroma's HNSW
# was more than half of an ingest (eval/bench_ingest.py). A Chroma server (--chroma-url) always is.
LOCAL_CHROMA_ENV = "SHUZHI_LOCAL_CHROMA"
LOCK_FILE = ".lock"
# How long an ingest waits for another one's lock; SHUZHI_LOCK_TIMEOUT (seconds) overrides.
DEFAULT_LOCK_TIMEOUT = 30.0


# --------------------------------------------------------------------------- helpers

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


# --------------------------------------------------------------------------- the index

class HybridIndex(IngestMixin):
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
