"""The shared index on a Chroma server: everything a reader needs lives in the server.

`HybridIndex.open(None, chroma_url=URL)` (and `shuzhi ingest|search … --chroma-url URL` without
`--index`; SHUZHI_INDEX is not consulted then) uses no local folder at all. Two collections with fixed names, so that a machine with no
local state finds them:

    shuzhi-shared              one item per chunk: id `{doc_id}:{position}`, the vector, the chunk
                               text as document, and metadata doc, pos, heading, path, title,
                               section, region, year ("" / -1 when not stated: Chroma allows no
                               None) and terms (the BM25 terms as JSON, so readers need not segment)
    shuzhi-shared__manifest    one item per source file (its manifest entry, JSON, as document),
                               plus `__state__`: format, embedder, dim, generation, counts

An ingest writes chunks first and the `__state__` item last: that write is the commit point.
Readers ignore chunks whose document is not in the manifest (left by an interrupted ingest).
Files are keyed by the path as given to ingest (not made absolute), so a re-ingest from another
machine that names the same folder skips unchanged files and replaces changed ones.

There is no lock across machines: run one ingest at a time against a server.

A reader pages through the collection once per process and keeps chunks, BM25 and the vector
matrix in memory (cached per server and generation; 1 MB of vectors per 1,000 chunks).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from pipeline.errors import InputError, UsageError
from pipeline.models import Chunk

SHARED_COLLECTION = "shuzhi-shared"
MANIFEST_COLLECTION = SHARED_COLLECTION + "__manifest"
STATE_ID = "__state__"
PAGE = 1000

_CACHE: dict[tuple[Any, ...], Any] = {}
_CACHE_LOCK = threading.Lock()


def parse_chroma_url(url: str) -> tuple[str, int, bool]:
    match = re.fullmatch(r"(?:(https?)://)?([^/:]+)(?::(\d+))?/?", url.strip())
    if not match:
        raise UsageError(f"--chroma-url “{url}” 无法识别；应形如 http://127.0.0.1:8000。")
    scheme, host, port = match.groups()
    ssl = scheme == "https"
    return host, int(port) if port else (443 if ssl else 8000), ssl


def connect(url: str) -> Any:
    """A client for the server at `url`, checked with a heartbeat; InputError naming the URL if down."""
    from pipeline.index.vectors import open_chroma

    address = parse_chroma_url(url)
    try:
        client = open_chroma(None, address)
        client.heartbeat()
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server means the same to the user
        raise InputError(
            f"连接不上 Chroma 服务 {url}（{type(exc).__name__}: {exc}）；请确认服务已启动"
            "（chroma run --host 0.0.0.0 --port 8000 --path 数据目录）且地址、端口正确。",
            path=url,
        ) from exc
    return client


def missing_message(url: str) -> str:
    return (f"Chroma 服务 {url} 上还没有 shuzhi 索引（集合 {SHARED_COLLECTION} 不存在或为空）；"
            f"请先运行 shuzhi ingest 报告文件夹 --chroma-url {url} 建立共享索引。")


def _manifest_collection(client: Any, create: bool) -> Any:
    if create:
        return client.get_or_create_collection(MANIFEST_COLLECTION, embedding_function=None)
    try:
        return client.get_collection(MANIFEST_COLLECTION, embedding_function=None)
    except Exception:  # noqa: BLE001 - NotFoundError / ValueError depending on the Chroma version
        return None


def read_state(client: Any, expected_format: int) -> dict[str, Any] | None:
    """The committed `__state__` record, or None when nothing was ever ingested into the server."""
    collection = _manifest_collection(client, create=False)
    if collection is None:
        return None
    result = collection.get(ids=[STATE_ID], include=["documents"])
    documents = result.get("documents") or []
    state = json.loads(documents[0]) if documents else None
    if state is not None and state.get("format") != expected_format:
        raise InputError(f"共享索引（集合 {MANIFEST_COLLECTION}）格式版本 {state.get('format')} 与本程序"
                         f"（{expected_format}）不符；请用 shuzhi ingest … --chroma-url 地址 --rebuild 重建。")
    return state


def read_manifest(client: Any) -> dict[str, dict[str, Any]]:
    """File key → manifest entry, as committed by the last ingest."""
    collection = _manifest_collection(client, create=False)
    manifest: dict[str, dict[str, Any]] = {}
    if collection is None:
        return manifest
    for _ids, documents, _metas, _vectors in _pages(collection, ["documents"]):
        for document in documents:
            entry = json.loads(document)
            if "key" in entry:
                manifest[entry.pop("key")] = entry
    return manifest


def _entry_id(key: str) -> str:
    return "file-" + hashlib.sha1(key.encode("utf-8")).hexdigest()


def write_commit(client: Any, state: dict[str, Any], manifest: dict[str, dict[str, Any]],
                 previous: dict[str, dict[str, Any]]) -> None:
    """Write the manifest (changed entries only, drop vanished ones), then the state: the commit."""
    collection = _manifest_collection(client, create=True)
    wanted = {_entry_id(key): key for key in manifest}
    stored = set(collection.get(include=[])["ids"])
    stale = [i for i in stored if i not in wanted and i != STATE_ID]
    if stale:
        collection.delete(ids=stale)
    changed = [key for key in manifest if previous.get(key) != manifest[key] or _entry_id(key) not in stored]
    for start in range(0, len(changed), PAGE):
        keys = changed[start:start + PAGE]
        # Manifest items carry no meaning as vectors; Chroma still wants one per item.
        collection.upsert(ids=[_entry_id(k) for k in keys], embeddings=[[1.0]] * len(keys),
                          documents=[json.dumps({**manifest[k], "key": k}, ensure_ascii=False) for k in keys],
                          metadatas=[{"kind": "file"}] * len(keys))
    state = {**state, "collection": SHARED_COLLECTION,
             "updated": datetime.now(UTC).isoformat(timespec="seconds")}
    collection.upsert(ids=[STATE_ID], embeddings=[[1.0]], documents=[json.dumps(state, ensure_ascii=False)],
                      metadatas=[{"kind": "state"}])


# --------------------------------------------------------------------------- chunks

def chunk_metadata(chunk: Chunk, terms: Sequence[str], title: str | None) -> dict[str, Any]:
    """All of a chunk but its text (the document) and id. The filter keys match `chroma_metadata`."""
    return {
        "doc": chunk.doc_id, "pos": chunk.position, "heading": chunk.heading, "path": chunk.path,
        "title": title or "", "section": chunk.section_key, "region": chunk.region or "",
        "year": chunk.year if chunk.year is not None else -1,
        "terms": json.dumps(list(terms), ensure_ascii=False),
    }


def chunk_from_record(chunk_id: str, text: str, meta: dict[str, Any]) -> tuple[Chunk, list[str]]:
    year = meta.get("year", -1)
    chunk = Chunk(
        chunk_id=chunk_id, doc_id=str(meta["doc"]), text=text, path=str(meta.get("path", "")),
        region=meta.get("region") or None, year=int(year) if year is not None and int(year) >= 0 else None,
        section_key=str(meta.get("section", "")), heading=str(meta.get("heading", "")),
        position=int(meta.get("pos", 0)),
    )
    return chunk, list(json.loads(meta.get("terms") or "[]"))


def _pages(collection: Any, include: list[str]) -> Any:
    offset = 0
    while True:
        page = collection.get(include=include, limit=PAGE, offset=offset)
        ids = page.get("ids") or []
        if not ids:
            return
        columns = [page.get(name) for name in ("documents", "metadatas", "embeddings")]
        yield (ids, *([None] * len(ids) if column is None else column for column in columns))
        if len(ids) < PAGE:
            return
        offset += len(ids)


def read_chunks(client: Any, manifest: dict[str, dict[str, Any]],
                dim: int) -> tuple[list[Chunk], list[list[str]], np.ndarray]:
    """Every committed chunk with its terms and vector, ordered by (path, position)."""
    collection_name = SHARED_COLLECTION
    try:
        collection = client.get_collection(collection_name, embedding_function=None)
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"共享索引的段落集合 {collection_name} 不存在（{exc}）；请重新运行 "
                         "shuzhi ingest … --chroma-url 地址 --rebuild。") from exc
    committed = {entry["doc_id"] for entry in manifest.values()}
    rows: dict[str, tuple[Chunk, list[str], Any]] = {}     # by id: offset paging may repeat an item
    for ids, documents, metadatas, embeddings in _pages(collection, ["documents", "metadatas", "embeddings"]):
        for cid, text, meta, vector in zip(ids, documents, metadatas, embeddings, strict=True):
            if not meta or "doc" not in meta or text is None:
                raise InputError(
                    f"Chroma 集合 {collection_name} 中的段落 {cid} 缺少正文或元数据（可能由旧版本或只存向量的 "
                    "ingest 写入）；请用 shuzhi ingest … --chroma-url 地址 --rebuild 重建共享索引。")
            if meta["doc"] not in committed:
                continue            # written by an ingest that never committed
            chunk, terms = chunk_from_record(cid, text, meta)
            rows[cid] = (chunk, terms, vector)
    ordered = sorted(rows.values(), key=lambda r: (r[0].path, r[0].position))
    matrix = np.zeros((len(ordered), dim), dtype=np.float32)
    for i, (_chunk, _terms, vector) in enumerate(ordered):
        values = np.asarray(vector, dtype=np.float32)
        if values.shape != (dim,):
            raise InputError(f"共享索引中的向量维数 {values.shape} 与记录的 {dim} 不符；请用 --rebuild 重建。")
        matrix[i] = values
    return [r[0] for r in ordered], [r[1] for r in ordered], matrix


def cached(key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
    """One snapshot per server and generation per process: workers open the index once, the
    drafter searches it many times."""
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
        value = build()
        for old in [k for k in _CACHE if k[0] == key[0]]:
            del _CACHE[old]     # an older generation of the same server is of no further use
        _CACHE[key] = value
        return value
