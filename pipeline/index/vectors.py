"""The Chroma vector store: writing chunk vectors into a Chroma collection (embedded
`PersistentClient` with telemetry off, or a Chroma server), in a writer process of its own so that
ingest parses and embeds while Chroma inserts. `pipeline.index.hybrid` decides what to write; this
module only knows how.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import ShuzhiError
from pipeline.index.blocks import chunk_ids
from pipeline.index.parts import parts_of
from pipeline.models import Chunk

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
    import signal
    import sys
    from multiprocessing.connection import Connection

    # Ctrl-C reaches the whole process group: the parent ingest decides (it closes or terminates
    # us); a KeyboardInterrupt here would only print a traceback on the user's terminal.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
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
                 documents: bool = False, chroma: bool = True):
        self._embedder = embedder
        # False: vectors are only computed (for the generation's vector file), never sent to Chroma.
        self._chroma = chroma
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
        # What the rows of the batches below are, in order: chunk sequences (a worker's file) or chunk
        # ids; their ids are made only when a lookup needs them (`ids`).
        self._kept: list[Sequence[Chunk] | list[str]] = []
        self._ids: list[str] | None = []
        self._batches: list[np.ndarray] = []
        self._row_of: dict[str, int] | None = None

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
        package_root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ, ANONYMIZED_TELEMETRY="False",
                   PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])))
        code = "from pipeline.index.vectors import chroma_worker_main; chroma_worker_main()"
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
        if self._chroma and files_left >= EARLY_START_FILES and self._proc is None and self._local is None:
            self._start()

    def add(self, chunks: Sequence[Chunk], terms: Sequence[Sequence[str]], vectors: np.ndarray | None = None) -> None:
        """Buffer chunks for embedding and writing; `vectors` (computed by an ingest worker process)
        are taken as they are when no Chroma collection is written."""
        if vectors is not None and not self._chroma:
            self._keep(chunks, vectors)
            return
        self._chunks.extend(chunks)
        self._terms.extend(terms)
        if len(self._chunks) >= CHROMA_BATCH:
            if self._chroma and self._proc is None and self._local is None:
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
            self._keep(ids, vectors)
            if not self._chroma:
                continue
            metadatas = [self._metadata(c, t) for c, t in zip(batch, batch_terms, strict=True)]
            documents = [c.text for c in batch] if self._documents else None
            if self._proc is not None:
                self._call("upsert", (ids, vectors, metadatas, documents), wait=wait)
            else:
                self._collection().upsert(ids=ids, embeddings=vectors, metadatas=metadatas, documents=documents)

    def _keep(self, rows: Sequence[Chunk] | list[str], vectors: np.ndarray) -> None:
        self._kept.append(rows)
        self._batches.append(vectors)
        self._ids = self._row_of = None

    @property
    def ids(self) -> list[str]:
        """Chunk ids of the rows of the batches, in order."""
        if self._ids is None:
            self._ids = [cid for rows in self._kept
                         for cid in (rows if rows and isinstance(rows[0], str) else chunk_ids(rows))]
        return self._ids

    @property
    def dim(self) -> int:
        return int(self._batches[0].shape[1]) if self._batches else 0

    def _stacked(self) -> np.ndarray:
        if len(self._batches) > 1:
            self._batches = [np.concatenate(self._batches)]
        return self._batches[0]

    def rows_for(self, chunks: Sequence[Chunk], dim: int, start: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
        """The vectors computed here for `chunks[start:]`, in that order, as consecutive blocks of
        rows, and which rows were found (a row not found is zero). The usual case, the new chunks
        in the order they were added, is the batches as they are: no lookup per chunk and no copy
        (recognised by the very sequences that were added; else by their ids)."""
        if self._batches and self._same_parts(chunks, start):
            return list(self._batches), np.ones(len(chunks) - start, dtype=bool)
        ids = chunk_ids(chunks, start)
        if self._batches and len(ids) == len(self.ids) and ids == self.ids:
            return list(self._batches), np.ones(len(ids), dtype=bool)
        matrix = np.zeros((len(ids), dim), dtype=np.float32)
        filled = np.zeros(len(ids), dtype=bool)
        if not self._batches:
            return [matrix], filled
        if self._row_of is None:
            # A chunk id written twice (re-sent by `reconcile`) keeps its last row.
            self._row_of = {cid: row for row, cid in enumerate(self.ids)}
        found = [(row, at) for row, at in enumerate(map(self._row_of.get, ids)) if at is not None]
        if found:
            dest, src = zip(*found, strict=True)
            matrix[list(dest)] = self._stacked()[list(src)]
            filled[list(dest)] = True
        return [matrix], filled

    def _same_parts(self, chunks: Sequence[Chunk], start: int) -> bool:
        """True when `chunks[start:]` is made of the very sequences `add` kept, in order."""
        parts = list(parts_of(chunks))
        while start > 0 and parts:
            start -= len(parts.pop(0))
        return start == 0 and len(parts) == len(self._kept) and all(
            a is b for a, b in zip(parts, self._kept, strict=True))

    def delete(self, ids: Sequence[str]) -> None:
        if not self._chroma:
            return
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
        if not self._chroma or self.count() == len(chunks):
            return
        stored = self.stored_ids()
        wanted = {chunk_id: i for i, chunk_id in enumerate(chunk_ids(chunks))}
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
