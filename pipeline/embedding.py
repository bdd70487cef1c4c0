"""Vector embeddings for the index: an offline hashed embedding by default, or a local model.

`HashEmbedder` needs no model file: it hashes jieba search-mode words (weighted by the IDF table
that ships inside jieba, so 民兵 counts for more than 工作) and character bigrams/trigrams (which
catch paraphrases that share characters but not words: 征兵宣传 / 兵役宣传) into a fixed number of
signed dimensions and L2-normalises. It is deterministic across processes (no Python `hash`).

`st:/path/to/dir` loads a sentence-transformers model from a local directory only; nothing is
downloaded. The embedder's `name` is recorded in the index so two embedders are never mixed.

Chroma is imported lazily (it is slow to import); `chroma_embedding_function(embedder)` adapts
an embedder to Chroma's `EmbeddingFunction` protocol for users who query the collection directly.
"""

from __future__ import annotations

import contextlib
import os
import re
import zlib
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from pipeline import segment
from pipeline.errors import ShuzhiError, UsageError
from pipeline.models import Chunk

DEFAULT_EMBEDDER = "hash"
HASH_VERSION = 1
DEFAULT_DIM = 384

# Weights of the three feature families and the dimension, tuned on eval/retrieval_eval.py:
# words + bigrams at 384 dims: 512 scored a little higher but each Chroma add costs time per
# dimension and ingest speed has a floor (eval/bench_ingest.py); trigrams added nothing.
WORD_WEIGHT = 1.0
BIGRAM_WEIGHT = 0.7
TRIGRAM_WEIGHT = 0.0

_MIX = np.uint64(0x9E3779B97F4A7C15)   # Fibonacci hashing multiplier: spreads n-gram keys over bits
_P = np.uint64(1_000_003)


class Embedder(Protocol):
    name: str
    dim: int

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


@lru_cache(maxsize=1)
def _idf_table() -> tuple[dict[str, str], float]:
    """jieba's bundled IDF table (word → idf, as text: parsed on use) and its median idf.

    Read from the file directly: importing `jieba.analyse` would load jieba's POS tagger too.
    """
    import jieba

    path = Path(jieba.__file__).parent / "analyse" / "idf.txt"
    # "word idf" per line and no word contains whitespace: one split() is the fastest parse.
    fields = path.read_text(encoding="utf-8").split()
    table = dict(zip(fields[::2], fields[1::2], strict=False))
    values = sorted(float(v) for v in list(table.values())[::50])     # a sample is enough for a median
    return table, values[len(values) // 2] if values else 10.0


_NOT_ALNUM = re.compile(r"[\W_]+")


class HashEmbedder:
    """Feature-hashed bag of words and character n-grams. No model, no download, deterministic."""

    def __init__(self, dim: int = DEFAULT_DIM):
        if dim < 16:
            raise UsageError(f"哈希向量维数 {dim} 太小；至少 16，默认 {DEFAULT_DIM}。")
        self.dim = dim
        # The name carries the dimension so an index built with another default is never mixed.
        self.name = f"hash-v{HASH_VERSION}:{dim}"
        # word → (column, signed weight): the vocabulary of a corpus repeats, so hash each word once.
        self._words: dict[str, tuple[int, float]] = {}

    def _word_feature(self, word: str) -> tuple[int, float]:
        feature = self._words.get(word)
        if feature is None:
            idf, default_idf = _idf_table()
            h = zlib.crc32(word.encode("utf-8"))
            weight = float(idf.get(word, default_idf)) * WORD_WEIGHT
            feature = (h % self.dim, weight if h & 0x80000000 else -weight)
            if len(self._words) < 500_000:
                self._words[word] = feature
        return feature

    def _matrix(self, texts: Sequence[str], terms: Sequence[Sequence[str]]) -> np.ndarray:
        """All vectors of a batch at once: one bincount over (row, column) pairs."""
        n, dim = len(texts), self.dim
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        for row, words in enumerate(terms):
            for word in words:
                col, val = self._word_feature(word)
                rows.append(row)
                cols.append(col)
                vals.append(val)
        flat = [np.asarray(rows, dtype=np.int64) * dim + np.asarray(cols, dtype=np.int64)]
        weights = [np.asarray(vals, dtype=np.float64)]

        # Character n-grams of all texts together; a NUL between texts keeps n-grams inside one text.
        cleaned = [_NOT_ALNUM.sub("", t) for t in texts]
        joined = "\x00".join(cleaned)
        cp = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        owner = np.repeat(np.arange(n, dtype=np.int64), [len(c) + 1 for c in cleaned])[: cp.size]
        default_idf = _idf_table()[1]
        for size, weight in ((2, BIGRAM_WEIGHT), (3, TRIGRAM_WEIGHT)):
            count = cp.size - size + 1
            if count <= 0 or weight == 0:
                continue
            key = cp[:count].copy()
            valid = key != 0
            for j in range(1, size):
                part = cp[j: j + count]
                valid &= part != 0
                key = key * _P + part
            key, start = key[valid], np.flatnonzero(valid)
            mixed = ((key + np.uint64(size)) * _MIX) >> np.uint64(32)
            col = ((mixed >> np.uint64(1)) % np.uint64(dim)).astype(np.int64)
            sign = np.where((mixed & np.uint64(1)) == 1, 1.0, -1.0)
            flat.append(owner[start] * dim + col)
            weights.append(sign * (weight * default_idf))

        matrix = np.bincount(np.concatenate(flat), weights=np.concatenate(weights), minlength=n * dim)
        matrix = matrix.astype(np.float64, copy=False).reshape(n, dim)
        # Signed features that cancel leave residues like 1e-17; their products are float32
        # denormals, which make BLAS 30× slower at query time. They carry no signal: zero them.
        matrix[np.abs(matrix) < 1e-9] = 0.0
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        np.divide(matrix, norms, out=matrix, where=norms > 0)
        return matrix.astype(np.float32)

    def embed_documents(self, texts: Sequence[str], terms: Sequence[Sequence[str]] | None = None) -> np.ndarray:
        """Vectors for `texts`; pass `terms` (from `segment.index_terms`) to skip re-segmenting."""
        if terms is None:
            terms = [segment.index_terms(t) for t in texts]
        elif len(terms) != len(texts):
            raise ValueError("texts and terms differ in length")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._matrix(texts, terms)

    def embed_query(self, text: str) -> np.ndarray:
        return self._matrix([text], [segment.index_terms(text)])[0]


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a local directory (never downloaded)."""

    def __init__(self, path: str):
        directory = Path(path).expanduser()
        if not directory.is_dir():
            raise UsageError(
                f"向量模型目录不存在：{directory}。--embedder st:目录 只接受本机上的 sentence-transformers 模型文件夹。"
            )
        self.path = directory.resolve()
        self.name = f"st:{self.path}"
        self._model: Any = None
        self.dim = 0

    def _load(self) -> Any:
        if self._model is None:
            # huggingface_hub reads this when it is imported: set it before the import.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise UsageError(
                    "使用本地向量模型需要 sentence-transformers；请运行 pip install 'shuzhi[st]'"
                    "（或 pip install sentence-transformers）。"
                ) from exc
            try:
                self._model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
            except (OSError, ValueError) as exc:
                raise UsageError(
                    f"{self.path} 不是可用的 sentence-transformers 模型文件夹（应含 modules.json 或 config.json "
                    f"及权重文件）：{exc}"
                ) from exc
            dimension = getattr(self._model, "get_embedding_dimension", None) or \
                self._model.get_sentence_embedding_dimension
            self.dim = int(dimension() or 0)
        return self._model

    def embed_documents(self, texts: Sequence[str], terms: Sequence[Sequence[str]] | None = None) -> np.ndarray:
        model = self._load()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = model.encode(list(texts), normalize_embeddings=True, batch_size=32, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]


def resolve_embedder(spec: str | None) -> HashEmbedder | SentenceTransformerEmbedder:
    """`None`/"hash"/"hash-v1" → the default; "hash:512" → 512 dims (default 384); "st:/dir" → local model."""
    text = (spec or DEFAULT_EMBEDDER).strip()
    if text.startswith("st:"):
        return SentenceTransformerEmbedder(text[3:])
    base, _, dim = text.partition(":")
    if base in ("hash", f"hash-v{HASH_VERSION}"):
        if not dim:
            return HashEmbedder()
        if dim.isdigit():
            return HashEmbedder(int(dim))
    raise UsageError(
        f"未知的向量化方式“{text}”；可选：hash（默认，离线、无需模型）、hash:维数、st:本地模型目录。"
    )


# --------------------------------------------------------------------------- Chroma adapter

@lru_cache(maxsize=1)
def _chroma_ef_class() -> type:
    from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
    from chromadb.utils.embedding_functions import register_embedding_function

    @register_embedding_function
    class ShuzhiEmbeddingFunction(EmbeddingFunction[Documents]):
        """Chroma's view of a shuzhi embedder; its config is the embedder name."""

        def __init__(self, embedder: str = DEFAULT_EMBEDDER):
            self._embedder = resolve_embedder(embedder)

        def __call__(self, input: Documents) -> Embeddings:
            return list(self._embedder.embed_documents(list(input)))

        @staticmethod
        def name() -> str:
            return "shuzhi"

        def get_config(self) -> dict[str, Any]:
            return {"embedder": self._embedder.name}

        @staticmethod
        def build_from_config(config: dict[str, Any]) -> ShuzhiEmbeddingFunction:
            return ShuzhiEmbeddingFunction(config.get("embedder", DEFAULT_EMBEDDER))

        def default_space(self) -> str:  # type: ignore[override]
            return "cosine"

    return ShuzhiEmbeddingFunction


def chroma_embedding_function(embedder: str | None = None) -> Any:
    """A Chroma `EmbeddingFunction` for the named embedder (default: the hashed embedding)."""
    return _chroma_ef_class()(embedder or DEFAULT_EMBEDDER)


# --------------------------------------------------------------------------- writing vectors

CHROMA_BATCH = 1000
EARLY_START_FILES = 50


def chroma_metadata(chunk: Chunk) -> dict[str, Any]:
    """Only what the filters need. Every metadata key is a row in Chroma's SQLite and costs ingest
    time (a third of the add at 384 dims); text, path and heading live in the chunk store, and
    the doc id is the prefix of the chunk id. None is not allowed: "" and -1 mean "not stated"."""
    return {
        "region": chunk.region or "", "year": chunk.year if chunk.year is not None else -1,
        "section": chunk.section_key,
    }


def open_chroma(path: str | None, url: tuple[str, int, bool] | None) -> Any:
    """A Chroma client with telemetry off: embedded at `path`, or the server at `url`."""
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    import chromadb
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False)
    if url is not None:
        host, port, ssl = url
        return chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=settings)
    return chromadb.PersistentClient(path=str(path), settings=settings)


def open_collection(client: Any, name: str, embedder: str) -> Any:
    # No embedding function: vectors are always passed in, so Chroma never loads its own
    # (download-on-first-use) default model.
    return client.get_or_create_collection(
        name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}},
        metadata={"embedder": embedder},
    )


def release_chroma(path: str) -> None:
    """Close this process's embedded Chroma system for `path` (if any), so another process can
    write to it and a later client here reloads from disk instead of a stale in-memory index."""
    import sys

    if "chromadb" not in sys.modules:
        return
    from chromadb.api.shared_system_client import SharedSystemClient

    systems = SharedSystemClient._identifier_to_system
    for ident in [i for i in systems if i == path]:
        system = systems.pop(ident)
        SharedSystemClient._identifier_to_refcount.pop(ident, None)
        try:
            system.stop()
        except Exception:       # noqa: BLE001 - best effort: it is being discarded anyway
            pass


def chroma_worker_main() -> None:
    """Entry point of the writer process: `python -c "...; chroma_worker_main()" IN OUT TARGET`."""
    import json
    import sys
    from multiprocessing.connection import Connection

    inbox = Connection(int(sys.argv[1]), writable=False)
    outbox = Connection(int(sys.argv[2]), readable=False)
    path, url, name, embedder, reset = json.loads(sys.argv[3])
    _chroma_worker(inbox, outbox, path, tuple(url) if url else None, name, embedder, reset)


def _chroma_worker(inbox: Any, conn: Any, path: str | None, url: tuple[str, int, bool] | None, name: str,
                   embedder: str, reset: bool) -> None:
    """Child process: owns the Chroma client for one ingest and runs the commands it is sent."""
    try:
        client = open_chroma(path, url)
        collection = None if reset else open_collection(client, name, embedder)
        conn.send(("ok", None))
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    while True:
        try:
            command, payload = inbox.recv()
        except EOFError:        # the parent went away
            return
        try:
            if command == "close":
                conn.send(("ok", None))
                return
            if collection is None:
                # A rebuild empties the collection only once there is something to write, so a
                # rebuild in which every file fails leaves the old vectors in place.
                with contextlib.suppress(Exception):      # absent on a first ingest
                    client.delete_collection(name)
                collection = open_collection(client, name, embedder)
            if command == "upsert":
                ids, vectors, metadatas, documents = payload
                collection.upsert(ids=ids, embeddings=vectors, metadatas=metadatas, documents=documents)
                conn.send(("ok", None))
            elif command == "delete":
                collection.delete(ids=payload)
                conn.send(("ok", None))
            elif command == "count":
                conn.send(("ok", collection.count()))
            elif command == "ids":
                conn.send(("ok", list(collection.get(include=[])["ids"])))
        except Exception as exc:  # noqa: BLE001
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class VectorWriter:
    """Embeds chunks in batches and writes them to Chroma, in a child process for big ingests.

    Chroma's upsert holds the GIL for most of its work (HNSW insertion in Rust), so a thread
    gives no overlap; a child process does: it inserts one batch while this process parses and
    segments the next files. The child starts only when a batch fills mid-ingest, so small
    ingests (and tests) stay in-process. At most one batch is in flight; an error in the child
    surfaces at the next call or at `finish`.
    """

    def __init__(self, embedder: Any, *, local: Callable[[], Any], path: str | None,
                 url: tuple[str, int, bool] | None, name: str, reset: bool, release: Callable[[], None],
                 metadata: Callable[[Chunk, Sequence[str]], dict[str, Any]] | None = None,
                 documents: bool = False):
        self._embedder = embedder
        # The shared server (no local store) also keeps texts and full metadata: see index_remote.
        self._metadata = metadata or (lambda chunk, _terms: chroma_metadata(chunk))
        self._documents = documents
        self._local_open = local        # opens (and, when fresh, resets) the collection in-process
        self._local: Any = None
        self._target = (path, url, name, embedder.name, reset)
        self._release = release
        self._proc: Any = None
        self._send: Any = None
        self._conn: Any = None
        self._pending = False
        self._chunks: list[Chunk] = []
        self._terms: list[Sequence[str]] = []
        self.vectors: dict[str, np.ndarray] = {}     # chunk id → row, for the generation's sidecar

    # ---------------------------------------------------------------- plumbing

    def _start(self) -> None:
        # A fresh interpreter, not multiprocessing: fork would copy Chroma's Rust runtime, and
        # spawn re-imports the caller's __main__, which breaks scripts without a main guard.
        import json
        import subprocess
        import sys
        from multiprocessing.connection import Connection

        self._release()
        to_child, child_in = os.pipe()[::-1]
        child_out, from_child = os.pipe()[::-1]
        package_root = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ, ANONYMIZED_TELEMETRY="False",
                   PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])))
        code = "from pipeline.embedding import chroma_worker_main; chroma_worker_main()"
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-c", code, str(child_in), str(child_out), json.dumps(self._target)],
                pass_fds=(child_in, child_out), env=env, stdin=subprocess.DEVNULL,
            )
        finally:
            os.close(child_in)
            os.close(child_out)
        self._send = Connection(to_child, readable=False)
        self._conn = Connection(from_child, writable=False)
        self._pending = True                              # the "opened" reply

    def _reply(self) -> Any:
        try:
            status, payload = self._conn.recv()
        except EOFError as exc:
            raise ShuzhiError("向量库写入进程意外退出；请重试，或加 --rebuild 重建索引。") from exc
        if status == "error":
            raise ShuzhiError(f"写入向量库失败：{payload}")
        return payload

    def _collect(self) -> None:
        if self._pending:
            self._pending = False
            self._reply()

    def _call(self, command: str, payload: Any = None, *, wait: bool = True) -> Any:
        self._collect()
        self._send.send((command, payload))
        if wait:
            return self._reply()
        self._pending = True
        return None

    def _collection(self) -> Any:
        if self._local is None:
            self._local = self._local_open()
        return self._local

    # ---------------------------------------------------------------- writing

    def expect(self, files_left: int) -> None:
        """Start the writer process early when many files may still come, so that importing
        Chroma there overlaps with parsing here."""
        if files_left >= EARLY_START_FILES and self._proc is None and self._local is None:
            self._start()

    def add(self, chunks: Sequence[Chunk], terms: Sequence[Sequence[str]]) -> None:
        self._chunks.extend(chunks)
        self._terms.extend(terms)
        if len(self._chunks) >= CHROMA_BATCH:
            if self._proc is None and self._local is None:
                self._start()
            self._flush()

    def _flush(self) -> None:
        if not self._chunks:
            return
        chunks, terms = self._chunks, self._terms
        self._chunks, self._terms = [], []
        self.upsert(chunks, terms, wait=False)

    def upsert(self, chunks: Sequence[Chunk], terms: Sequence[Sequence[str]], *, wait: bool = True) -> None:
        for start in range(0, len(chunks), CHROMA_BATCH):
            batch, batch_terms = chunks[start:start + CHROMA_BATCH], terms[start:start + CHROMA_BATCH]
            vectors = self._embedder.embed_documents([c.text for c in batch], batch_terms)
            ids = [c.chunk_id for c in batch]
            self.vectors.update(zip(ids, vectors, strict=True))
            metadatas = [self._metadata(c, t) for c, t in zip(batch, batch_terms, strict=True)]
            documents = [c.text for c in batch] if self._documents else None
            if self._proc is not None:
                self._call("upsert", (ids, vectors, metadatas, documents), wait=wait)
            else:
                self._collection().upsert(ids=ids, embeddings=vectors, metadatas=metadatas, documents=documents)

    def delete(self, ids: Sequence[str]) -> None:
        for start in range(0, len(ids), CHROMA_BATCH):
            batch = list(ids[start:start + CHROMA_BATCH])
            if self._proc is not None:
                self._call("delete", batch)
            else:
                self._collection().delete(ids=batch)

    def count(self) -> int:
        return self._call("count") if self._proc is not None else self._collection().count()

    def stored_ids(self) -> set[str]:
        if self._proc is not None:
            return set(self._call("ids"))
        return set(self._collection().get(include=[])["ids"])

    def reconcile(self, chunks: Sequence[Chunk], terms: Sequence[Sequence[str]]) -> None:
        """Make the collection hold exactly `chunks`: after a crash it may hold ids the store does
        not, or miss some. Fixes both ways."""
        if self.count() == len(chunks):
            return
        stored = self.stored_ids()
        wanted = {c.chunk_id: i for i, c in enumerate(chunks)}
        self.delete([cid for cid in stored if cid not in wanted])
        lacking = [i for cid, i in wanted.items() if cid not in stored]
        if lacking:
            self.upsert([chunks[i] for i in lacking], [terms[i] for i in lacking])

    def finish(self) -> None:
        """Write what is buffered and wait until the vector store has it."""
        self._flush()
        if self._proc is not None:
            self._collect()

    def close(self) -> None:
        if self._proc is None:
            return
        import subprocess

        try:
            with contextlib.suppress(Exception):
                self._pending = False
                self._send.send(("close", None))
                if self._conn.poll(30):
                    self._conn.recv()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=30)
        finally:
            if self._proc.poll() is None:
                self._proc.terminate()
                self._proc.wait()
            self._send.close()
            self._conn.close()
            self._proc = None
