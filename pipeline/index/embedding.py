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

import os
import zlib
from collections.abc import Sequence
from functools import lru_cache
from itertools import chain
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from pipeline.errors import UsageError
from pipeline.reading import segment

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
_MAX_WORDS = 500_000


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


def _idf_of(words: list[str]) -> list[float]:
    """jieba's IDF of each word (the table's median for a word it does not list)."""
    table, default = _idf_table()
    return [float(table.get(w, default)) for w in words]


@lru_cache(maxsize=1)
def _alnum_table() -> np.ndarray:
    """`str.isalnum()` of every character of the Basic Multilingual Plane (what `\\w` keeps, less `_`)."""
    return np.fromiter((chr(c).isalnum() for c in range(0x10000)), dtype=bool, count=0x10000)


def _is_alnum(codes: np.ndarray) -> np.ndarray:
    """`chr(c).isalnum()` for each code point (a copy: the caller may write to it)."""
    table = _alnum_table()
    keep = table[np.minimum(codes, 0xFFFF)]
    astral = np.flatnonzero(codes > 0xFFFF)
    if astral.size:
        keep[astral] = [chr(c).isalnum() for c in codes[astral].tolist()]
    return keep


class HashEmbedder:
    """Feature-hashed bag of words and character n-grams. No model, no download, deterministic."""

    def __init__(self, dim: int = DEFAULT_DIM):
        if dim < 16:
            raise UsageError(f"哈希向量维数 {dim} 太小；至少 16，默认 {DEFAULT_DIM}。")
        self.dim = dim
        # The name carries the dimension so an index built with another default is never mixed.
        self.name = f"hash-v{HASH_VERSION}:{dim}"
        # word → id; the id's column and signed weight live in numpy arrays, so a batch looks each
        # word up once (one C-level map over the batch's tokens) and the rest is array indexing.
        self._ids: dict[str, int] = {}
        self._words: list[str] = []         # id → word
        self._cols = np.zeros(0, dtype=np.int64)
        self._vals = np.zeros(0, dtype=np.float64)

    def _word_ids(self, words: list[str]) -> np.ndarray:
        try:
            # Every word known (the usual case after the first batches): one C-level pass.
            return np.fromiter(map(self._ids.__getitem__, words), dtype=np.int64, count=len(words))
        except KeyError:
            pass
        # Some word is new (a batch of reports nearly always brings one): add the new ones, then
        # look every word up again. Set algebra and maps, not a Python step per token.
        if len(self._ids) > _MAX_WORDS:          # adversarial input: keep the table bounded
            self._ids, self._words, self._cols, self._vals = {}, [], self._cols[:0], self._vals[:0]
        new = sorted(set(words).difference(self._ids))
        hashes = [zlib.crc32(w.encode("utf-8")) for w in new]
        weights = np.array(_idf_of(new), dtype=np.float64) * WORD_WEIGHT
        signs = np.array([1.0 if h & 0x80000000 else -1.0 for h in hashes])
        base = len(self._ids)
        self._ids.update(zip(new, range(base, base + len(new)), strict=True))
        self._words.extend(new)
        self._cols = np.concatenate([self._cols, np.array([h % self.dim for h in hashes], dtype=np.int64)])
        self._vals = np.concatenate([self._vals, weights * signs])
        return np.fromiter(map(self._ids.__getitem__, words), dtype=np.int64, count=len(words))

    def _matrix(self, texts: Sequence[str], terms: Sequence[Sequence[str]], ids: np.ndarray | None = None) -> np.ndarray:
        """All vectors of a batch at once: one bincount over (row, column) pairs."""
        n, dim = len(texts), self.dim
        if ids is None:
            ids = self._word_ids(list(chain.from_iterable(terms)))
        rows = np.repeat(np.arange(n, dtype=np.int64), [len(doc) for doc in terms])
        flat = [rows * dim + self._cols[ids]]
        weights = [self._vals[ids]]

        # Character n-grams of all texts together, over their letters and digits only (what
        # `re.sub(r"[\W_]+", "", text)` leaves, picked by a table instead of a regex per text); a NUL
        # between texts keeps n-grams inside one text.
        raw = np.frombuffer("\x00".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        lengths = np.fromiter(map(len, texts), dtype=np.int64, count=n)
        owner = np.repeat(np.arange(n, dtype=np.int64), lengths + 1)[: raw.size]
        keep = _is_alnum(raw)
        keep[np.cumsum(lengths + 1)[:-1] - 1] = True        # the separators
        cp = raw[keep].astype(np.uint64)
        owner = owner[keep]
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
            terms = segment.index_terms_many(texts)
        elif len(terms) != len(texts):
            raise ValueError("texts and terms differ in length")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._matrix(texts, terms)

    def embed_query(self, text: str) -> np.ndarray:
        return self._matrix([text], [segment.index_terms(text)])[0]

    def embed_with_vocabulary(self, texts: Sequence[str], terms: Sequence[Sequence[str]]
                              ) -> tuple[np.ndarray, list[str], np.ndarray]:
        """`embed_documents`, plus every term as an id (int32) into the list of the batch's distinct
        terms in first-seen order (what `pipeline.index.terms.TermRows` holds): embedding looks each
        term up anyway, so BM25's vocabulary costs no second pass per token."""
        if len(terms) != len(texts):
            raise ValueError("texts and terms differ in length")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32), [], np.zeros(0, dtype=np.int32)
        flat = list(chain.from_iterable(terms))
        # The batch's distinct terms in first-seen order, and each term's index into them: two
        # C-level passes over the tokens. The embedder's own ids are looked up per distinct term
        # only (a batch nearly always brings new words, whose slow path then sees ~5k, not ~50k).
        vocab = list(dict.fromkeys(flat))
        position = dict(zip(vocab, range(len(vocab)), strict=True))
        local = np.fromiter(map(position.__getitem__, flat), dtype=np.int32, count=len(flat))
        matrix = self._matrix(texts, terms, self._word_ids(vocab)[local])
        return matrix, vocab, local


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
