"""Retrieval units and ranking: chunking reports into passages, BM25 over jieba terms,
reciprocal-rank fusion, and the LangChain retriever (vector search: `pipeline.index.ann`).

The storage side (files, Chroma, manifest, locking) lives in `pipeline/index.py`; this module is
independent of where the chunks are kept.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pipeline.index.blocks import ChunkBlock
from pipeline.models import Chunk, Report, SearchHit

if TYPE_CHECKING:
    from langchain_core.documents import Document

SEARCH_MODES = ("hybrid", "bm25", "vector")

# Reciprocal-rank fusion: score = Σ weight / (RRF_K + rank). Tuned on eval/retrieval_eval.py
# (`--sweep`): on this genre BM25 over jieba terms is the sharper ranker and the hashed vectors
# mostly re-order and extend its list, so a small constant (which keeps BM25's top ranks apart)
# and a light vector weight work best; the paper's 60 with equal weights lets vector-only noise
# (short passages sharing a few common characters) into the top 5.
RRF_K = 2
BM25_WEIGHT = 1.0
VECTOR_WEIGHT = 0.35
# How deep each retriever looks before fusion, as a multiple of k (with a floor).
CANDIDATE_FACTOR = 4
MIN_CANDIDATES = 40


# Sub-points longer than this are cut at sentence ends so one chunk stays one idea.
MAX_CHUNK_CHARS = 600
TABLE_ROW_CHARS = 40
_ENUM_TAIL_CHARS = 5           # the longest marker _ENUM_TAIL takes: `（十二）`
_ENUM_TAIL = re.compile(r"(?:[一二三四五六七八九十]{1,3}是|[（(][一二三四五六七八九十\d]{1,3}[)）]|\d{1,2}[、.．])\s*$")
_ENUM_TAIL_ENDS = tuple("是)）、.．")        # the last character of each of _ENUM_TAIL's markers
_YEAR_IN_NAME = re.compile(r"(?<!\d)(19[5-9]\d|20\d\d)(?!\d)")


# --------------------------------------------------------------------------- chunking

def _strip_enum_tail(text: str) -> str:
    """The passage without a dangling list marker at its end (`…。二是`, `…。（三）`). A marker is at
    most 5 characters and ends where the trailing whitespace starts, so the pattern is tried there
    only (a `sub` over the whole passage tries every position), and only when the character there
    can end a marker (most passages end in `。`)."""
    stripped = text.rstrip()
    if not stripped.endswith(_ENUM_TAIL_ENDS):
        return stripped.lstrip()
    m = _ENUM_TAIL.search(text, max(0, len(stripped) - _ENUM_TAIL_CHARS))
    return (text[: m.start()] if m else text).strip()


def _split_long(text: str) -> list[str]:
    """Cut an over-long passage at sentence ends into pieces of at most ~MAX_CHUNK_CHARS."""
    if len(text) <= MAX_CHUNK_CHARS:
        return [text]
    from pipeline.reading.sentences import split_sentences

    pieces: list[str] = []
    current = ""
    for start, end in split_sentences(text):
        sentence = text[start:end]
        if current and len(current) + len(sentence) > MAX_CHUNK_CHARS:
            pieces.append(current)
            current = ""
        current += sentence
    if current:
        pieces.append(current)
    return pieces or [text]


def _probes(subpoints: Sequence[str]) -> list[tuple[str, str]]:
    """(what `_paragraph_passages` looks for, sub-point) of each non-empty sub-point, in order."""
    return [(point[:40], point) for point in subpoints if point]


def _paragraph_passages(paragraph: str, subpoints: Sequence[str],
                        probes: list[tuple[str, str]] | None = None) -> list[str]:
    """A paragraph as passages: its lead-in, then each sub-point found in it, else itself.
    `probes`: `_probes(subpoints)`, made once for all paragraphs of a section."""
    if probes is None:
        probes = _probes(subpoints)
    found = [(at, point) for probe, point in probes if (at := paragraph.find(probe)) >= 0]
    if not found:
        return [paragraph.strip()]
    found.sort()
    lead = _strip_enum_tail(paragraph[: found[0][0]])
    passages = [lead] if len(lead) >= 8 else []
    last = len(found) - 1
    for i, (at, point) in enumerate(found):
        end = found[i + 1][0] if i < last else len(paragraph)
        piece = point if at + len(point) <= end or point in paragraph[at:end] else paragraph[at:end]
        passage = _strip_enum_tail(piece) if i < last else piece.strip()
        if passage:
            passages.append(passage)
    return passages


def _year_from_path(path: str) -> int | None:
    match = _YEAR_IN_NAME.search(Path(path).stem)
    return int(match.group(1)) if match else None


def _is_table_row(paragraph: str) -> bool:
    text = paragraph.strip()
    return (0 < len(text) <= TABLE_ROW_CHARS and not any(ch in text for ch in "。；！？")
            and any(ch in text for ch in " \t|"))


def _merge_table_rows(paragraphs: Sequence[str]) -> list[str]:
    """Runs of table rows (a Word table arrives one row per paragraph: `基干民兵 1176人`) become
    one passage: a lone row is too short to be worth retrieving and crowds out real passages."""
    merged: list[str] = []
    run: list[str] = []
    for paragraph in paragraphs:
        # A row holds a space, a tab or a bar: most paragraphs hold none and skip the full test.
        if (" " in paragraph or "\t" in paragraph or "|" in paragraph) and _is_table_row(paragraph):
            run.append(paragraph.strip())
            continue
        if run:
            merged.append("\n".join(run))
            run = []
        if paragraph:
            merged.append(paragraph)
    if run:
        merged.append("\n".join(run))
    return merged


def chunk_report(report: Report, *, path: str | None = None) -> list[Chunk]:
    """Cut a parsed report into retrievable passages: one per sub-point, else one per paragraph.

    The year falls back to a 4-digit year in the file name (`lanchuan-2022.txt`) when the text
    does not state it.
    """
    return list(chunk_block(report, path=path))


def chunk_block(report: Report, *, path: str | None = None) -> ChunkBlock:
    """`chunk_report` as columns (`pipeline.index.blocks`): what an ingest keeps of a file."""
    source = path or report.source
    doc_id = report.doc_id or hashlib.sha256(report.text.encode("utf-8")).hexdigest()[:16]
    year = report.year if report.year is not None else _year_from_path(source)
    texts: list[str] = []
    section_of: list[int] = []
    keys: list[str] = []
    headings: list[str] = []
    for section in report.sections:
        before = len(texts)
        probes = _probes(section.subpoints) if section.subpoints else []
        for paragraph in _merge_table_rows(section.paragraphs):
            if not paragraph.strip():
                continue
            for passage in _paragraph_passages(paragraph, section.subpoints, probes) if probes else [paragraph.strip()]:
                # A passage is stripped and not empty (`_paragraph_passages`); one that needs no cut
                # is its own chunk text.
                if len(passage) <= MAX_CHUNK_CHARS:
                    texts.append(passage)
                    continue
                for piece in _split_long(passage):
                    text = piece.strip()
                    if text:
                        texts.append(text)
        if len(texts) > before:
            section_of.extend([len(keys)] * (len(texts) - before))
            keys.append(section.key)
            headings.append(section.heading)
    return ChunkBlock(doc_id, source, report.region, year, texts, section_of, keys, headings)


FALLBACK_SUFFIXES = (".txt", ".md", ".docx")


def chunk_to_json(chunk: Chunk, terms: Sequence[str]) -> str:
    return json.dumps({
        "id": chunk.chunk_id, "doc": chunk.doc_id, "text": chunk.text, "path": chunk.path,
        "region": chunk.region, "year": chunk.year, "section": chunk.section_key,
        "heading": chunk.heading, "pos": chunk.position, "terms": list(terms),
    }, ensure_ascii=False)


def chunk_from_json(row: dict[str, Any]) -> Chunk:
    return Chunk(
        chunk_id=row["id"], doc_id=row["doc"], text=row["text"], path=row["path"], region=row["region"],
        year=row["year"], section_key=row["section"], heading=row["heading"], position=row["pos"],
    )


def chroma_where(section: str | None, region: str | None, year: int | None) -> dict[str, Any] | None:
    clauses: list[dict[str, Any]] = []
    if section is not None:
        clauses.append({"section": section})
    if region is not None:
        clauses.append({"region": region})
    if year is not None:
        clauses.append({"year": year})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def supported_suffixes() -> tuple[str, ...]:
    try:
        from pipeline.reading.readers import SUPPORTED_SUFFIXES
    except ImportError:       # readers not installed in a stripped-down checkout
        return FALLBACK_SUFFIXES
    return tuple(s.lower() for s in SUPPORTED_SUFFIXES)


def expand_paths(paths: Sequence[Path]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Files to ingest from files and folders (recursive), and (path, message) for missing ones."""
    suffixes = supported_suffixes()
    files: list[Path] = []
    missing: list[tuple[str, str]] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            # Not only regular files: a FIFO or a symlink to a device named like a report is handed
            # to the reader, which refuses it with a reason, instead of vanishing from the summary.
            # os.walk, as `rglob("*")` walks: into every folder but not through a symlinked one, and
            # the entry types come from the directory listing (no stat per file).
            found = [
                Path(root, name)
                for root, _dirs, names in os.walk(path)
                for name in names
                if os.path.splitext(name)[1].lower() in suffixes and not name.startswith((".", "~$"))
            ]
            files.extend(sorted(found, key=lambda p: p.parts))      # Path order, compared as tuples
        elif path.exists() or path.is_symlink():
            files.append(path)
        else:
            missing.append((str(path), "文件或文件夹不存在，请检查路径。"))
    return files, missing


class ChunkFilter:
    """Per-chunk filter columns (integer codes, `pipeline.index.store`), so a section/region/year/
    level filter is one vectorised compare per column, not a Python scan."""

    def __init__(self, chunks: Sequence[Chunk]):
        from pipeline.index.store import ChunkTable

        self.size = len(chunks)
        self._table = chunks if isinstance(chunks, ChunkTable) else ChunkTable.from_chunks(chunks)

    def mask(self, *, section: str | None = None, region: str | None = None, year: int | None = None,
             level: str | None = None) -> np.ndarray | None:
        """True for the chunks that pass; None when there is no filter at all."""
        return self._table.mask(section=section, region=region, year=year, level=level)


BM25_K1 = 1.5
BM25_B = 0.75
PAIRS_INT32_BELOW = 2**31    # (term, chunk) pair keys below this are sorted as int32
_BM25_FILES = ("vocab.json", "data.npy", "indices.npy", "indptr.npy", "params.json")


class Bm25Ranker:
    """BM25 over pre-segmented chunk terms (the Lucene variant, as `bm25s` computes it), stored as a
    term → chunks score matrix in CSC form that is memory-mapped on load.

    Built with numpy over term ids, not a Python loop per token, and queried without importing
    `bm25s` (1 s of imports): the score of a query is the sum of its terms' columns.
    """

    def __init__(self, vocab: dict[str, int], data: np.ndarray, indices: np.ndarray, indptr: np.ndarray,
                 chunks: Sequence[Chunk]):
        self.vocab = vocab
        self.data = data            # float32: the BM25 weight of (term, chunk), column by column
        self.indices = indices      # int32: the chunk of each weight
        self.indptr = indptr        # int64 (terms + 1): where each term's column starts
        self.chunks = chunks
        self._filter: ChunkFilter | None = None

    @property
    def filter(self) -> ChunkFilter:
        if self._filter is None:
            self._filter = ChunkFilter(self.chunks)
        return self._filter

    @classmethod
    def build(cls, chunks: Sequence[Chunk], terms: Sequence[Sequence[str]]) -> Bm25Ranker:
        """From term lists, or the `TermRows`/`TermColumn` an ingest gathers (`pipeline.index.terms`:
        a worker's batch arrives as ids into its own vocabulary, mapped here once per distinct term)."""
        from pipeline.index.terms import Vocabulary, term_lengths

        n = len(terms)
        lengths = term_lengths(terms)
        total = int(lengths.sum())
        # Term ids in first-seen order.
        vocabulary = Vocabulary()
        ids = vocabulary.ids(terms)
        vocab = vocabulary.index
        if total == 0:
            return cls(vocab, np.zeros(0, np.float32), np.zeros(0, np.int32), np.zeros(len(vocab) + 1, np.int64),
                       chunks)
        # Sorting (term, chunk) pairs gives the CSC order and each pair's term frequency at once.
        # In 32 bits when every pair fits (5 M characters: 2.4 M pairs): half the memory to fill and
        # sort, which at commit time, in fresh pages, cost 0.1–0.2 s more than the sort itself.
        width = np.int32 if len(vocab) * n < PAIRS_INT32_BELOW else np.int64
        doc = np.repeat(np.arange(n, dtype=width), lengths)
        pairs, tf = np.unique(ids.astype(width, copy=False) * width(n) + doc, return_counts=True)
        term, doc = pairs // n, pairs % n
        df = np.bincount(term, minlength=len(vocab))
        idf = np.log1p((n - df + 0.5) / (df + 0.5))
        norm = BM25_K1 * ((1 - BM25_B) + BM25_B * lengths / max(float(lengths.mean()), 1e-9))
        data = (idf[term] * tf / (norm[doc] + tf)).astype(np.float32)
        indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
        np.cumsum(df, out=indptr[1:])
        return cls(vocab, data, doc.astype(np.int32), indptr, chunks)

    def save(self, directory: Path) -> None:
        from pipeline.fsutil import atomic_write_bytes, atomic_write_text

        directory.mkdir(parents=True, exist_ok=True)
        for name, array in (("data.npy", self.data), ("indices.npy", self.indices), ("indptr.npy", self.indptr)):
            buffer = io.BytesIO()
            np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
            atomic_write_bytes(directory / name, buffer.getvalue())
        atomic_write_text(directory / "vocab.json", json.dumps(list(self.vocab), ensure_ascii=False))
        atomic_write_text(directory / "params.json", json.dumps({"k1": BM25_K1, "b": BM25_B,
                                                                 "chunks": len(self.chunks)}))

    @classmethod
    def load(cls, directory: Path, chunks: Sequence[Chunk]) -> Bm25Ranker:
        """The saved matrix memory-mapped: opening reads the vocabulary only."""
        words = json.loads((directory / "vocab.json").read_text(encoding="utf-8"))
        arrays = [np.load(directory / name, mmap_mode="r", allow_pickle=False)
                  for name in ("data.npy", "indices.npy", "indptr.npy")]
        if arrays[2].shape[0] != len(words) + 1:
            raise ValueError("BM25 vocabulary and matrix disagree")
        return cls({w: i for i, w in enumerate(words)}, *arrays, chunks)

    def mask(self, *, section: str | None = None, region: str | None = None, year: int | None = None,
             level: str | None = None) -> np.ndarray | None:
        return self.filter.mask(section=section, region=region, year=year, level=level)

    def get_scores(self, query_terms: Sequence[str]) -> np.ndarray:
        """BM25 score of every chunk; a repeated query term counts each time (as in bm25s)."""
        scores = np.zeros(len(self.chunks), dtype=np.float32)
        for word in query_terms:
            term = self.vocab.get(word)
            if term is None:
                continue
            start, end = int(self.indptr[term]), int(self.indptr[term + 1])
            # A term lists each chunk once, so a fancy-index add is exact (no np.add.at needed).
            scores[self.indices[start:end]] += self.data[start:end]
        return scores

    def rank(self, query_terms: Sequence[str], n: int, mask: np.ndarray | None = None) -> list[int]:
        """Indices of the top `n` chunks with a positive score, best first."""
        if not len(self.chunks) or not query_terms:
            return []
        scores = self.get_scores(query_terms)
        positive = np.flatnonzero(scores > 0)
        if mask is not None:        # the filter on the scored chunks only, not a pass over all
            positive = positive[mask[positive]]
        if positive.size == 0:
            return []
        if positive.size > n:
            top = positive[np.argpartition(-scores[positive], n - 1)[:n]]
        else:
            top = positive
        # Stable tie-break on position in the store keeps results deterministic.
        return sorted(top.tolist(), key=lambda i: (-float(scores[i]), i))


def rrf_fuse(
    rankings: Sequence[tuple[Sequence[str], float]], *, k: int, rrf_k: int = RRF_K
) -> list[tuple[str, float, list[int | None]]]:
    """Fuse ranked id lists by reciprocal rank. Returns (id, score, 1-based rank per list)."""
    scores: dict[str, float] = {}
    ranks: dict[str, list[int | None]] = {}
    for which, (ids, weight) in enumerate(rankings):
        for rank, chunk_id in enumerate(ids, start=1):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + weight / (rrf_k + rank)
            ranks.setdefault(chunk_id, [None] * len(rankings))[which] = rank
    best = sorted(scores, key=lambda cid: (-scores[cid], min(r for r in ranks[cid] if r is not None), cid))
    return [(cid, scores[cid], ranks[cid]) for cid in best[:k]]


def hit_to_document(hit: SearchHit) -> Document:
    """A search hit as a LangChain Document: the chunk text plus all its metadata."""
    from langchain_core.documents import Document

    chunk = hit.chunk
    return Document(
        page_content=chunk.text,
        id=chunk.chunk_id,
        metadata={
            "chunk_id": chunk.chunk_id,
            "doc_id": chunk.doc_id,
            "path": chunk.path,
            "region": chunk.region,
            "year": chunk.year,
            "section": chunk.section_key,
            "heading": chunk.heading,
            "position": chunk.position,
            "score": hit.score,
            "bm25_rank": hit.bm25_rank,
            "vector_rank": hit.vector_rank,
        },
    )


@lru_cache(maxsize=1)
def _retriever_class() -> type:
    # Built on first use: importing langchain_core costs ~0.5 s, which the CLI and the drafter
    # should not pay unless someone asks for the LangChain retriever.
    from langchain_core.callbacks import CallbackManagerForRetrieverRun
    from langchain_core.retrievers import BaseRetriever
    from pydantic import ConfigDict

    class ShuzhiRetriever(BaseRetriever):
        """The hybrid index as a LangChain retriever: `ShuzhiRetriever(index=HybridIndex.open(...))`.

        Filters (`section`, `region`, `year`) and `mode` are fields, so a chain can hold a retriever
        pinned to one section; `invoke(query)` returns Documents with the chunk metadata.
        """

        model_config = ConfigDict(arbitrary_types_allowed=True)

        index: Any
        k: int = 5
        section: str | None = None
        region: str | None = None
        year: int | None = None
        mode: str = "hybrid"

        def _get_relevant_documents(
            self, query: str, *, run_manager: CallbackManagerForRetrieverRun
        ) -> list[Document]:
            hits = self.index.search(
                query, k=self.k, section=self.section, region=self.region, year=self.year, mode=self.mode
            )
            return [hit_to_document(hit) for hit in hits]

    ShuzhiRetriever.__module__ = __name__
    ShuzhiRetriever.__qualname__ = "ShuzhiRetriever"
    return ShuzhiRetriever


def __getattr__(name: str) -> Any:
    """`pipeline.index.retrieval.ShuzhiRetriever` resolves lazily (see `_retriever_class`)."""
    if name == "ShuzhiRetriever":
        return _retriever_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
