"""Vector search over the generation's vector file: exact for small indexes and selective filters,
an inverted-file (IVF) probe for large ones.

At 100k chunks × 384 dims an exact scan reads 150 MB per query (≈ 10 ms on this machine, more
under load), and gathering the rows a section filter keeps costs as much again. So an index of
`IVF_MIN_ROWS` chunks or more is partitioned once at commit by spherical k-means into ~√n lists,
and its vectors are stored list by list (`vectors.npy` in list order, `ivf_rows.npy` maps a list
position back to the chunk row). A query scores the centroids, then scans the best lists as
contiguous slices until it holds enough candidates that pass the filter; the candidates are
scored exactly. A filter that keeps few rows is searched exactly over just those rows.
`eval/bench_search.py` reports the recall of this against the exact ranking.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from pipeline.fsutil import atomic_write_bytes

VECTORS_FILE = "vectors.npy"
CENTROIDS_FILE = "ivf_centroids.npy"
OFFSETS_FILE = "ivf_offsets.npy"
ROWS_FILE = "ivf_rows.npy"

IVF_MIN_ROWS = 20_000          # below this an exact scan is ≤ 2 ms
EXACT_MAX_ROWS = 6_000         # a filter keeping at most this many rows is searched exactly
MIN_CANDIDATES = 3_000         # rows (passing the filter) scored exactly per probed query
CANDIDATE_FACTOR = 40          # … or this many per wanted result, whichever is larger
KMEANS_ROUNDS = 5
_BLOCK_ROWS = 340               # exact-scan block: below OpenBLAS's threading threshold at 384 dims


def _save(path: Path, array: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    atomic_write_bytes(path, buffer.getvalue())


def _top(scores: np.ndarray, ids: np.ndarray, n: int) -> list[int]:
    if ids.size > n:
        keep = np.argpartition(-scores, n - 1)[:n]
        scores, ids = scores[keep], ids[keep]
    order = np.lexsort((ids, -scores))        # best first, ties by row: deterministic
    return ids[order].tolist()


def _scan(vectors: np.ndarray, query: np.ndarray) -> np.ndarray:
    """`vectors @ query` in row blocks: OpenBLAS goes multi-threaded above a size threshold and on
    a busy machine then waits for a descheduled thread (20–80 ms instead of 1 ms)."""
    scores = np.empty(vectors.shape[0], dtype=np.float32)
    block = max(16, _BLOCK_ROWS * 384 // max(1, vectors.shape[1]))
    for start in range(0, vectors.shape[0], block):
        np.dot(vectors[start:start + block], query, out=scores[start:start + block])
    return scores


def kmeans_lists(vectors: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Spherical k-means on a sample: (centroids, list of every row). Deterministic for a seed."""
    n = vectors.shape[0]
    nlist = max(8, int(np.sqrt(n)))
    rng = np.random.default_rng(seed)
    sample = np.asarray(vectors[np.sort(rng.choice(n, min(n, 16 * nlist), replace=False))], dtype=np.float32)
    centroids = sample[rng.choice(sample.shape[0], nlist, replace=False)].copy()
    for _ in range(KMEANS_ROUNDS):
        assign = np.argmax(sample @ centroids.T, axis=1)
        # Per-list sums as one matrix product with the (sparse) assignment, not np.add.at.
        onehot = np.zeros((nlist, sample.shape[0]), dtype=np.float32)
        onehot[assign, np.arange(sample.shape[0])] = 1.0
        sums = onehot @ sample
        counts = np.bincount(assign, minlength=nlist)
        empty = counts == 0
        if empty.any():          # re-seed an empty list with a random sample row
            sums[empty] = sample[rng.choice(sample.shape[0], int(empty.sum()), replace=False)]
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        centroids = np.divide(sums, norms, out=np.zeros_like(sums), where=norms > 0)
    assign = np.empty(n, dtype=np.int32)
    for start in range(0, n, 8192):
        assign[start:start + 8192] = np.argmax(np.asarray(vectors[start:start + 8192]) @ centroids.T, axis=1)
    return centroids.astype(np.float32), assign


class VectorSearch:
    """The vectors of one generation (rows aligned with the chunk store) and how to search them."""

    def __init__(self, vectors: np.ndarray, centroids: np.ndarray | None = None,
                 offsets: np.ndarray | None = None, rows: np.ndarray | None = None):
        # Plain ndarray views of the memory maps (no copy): np.memmap's own __getitem__ costs
        # ~10 µs per slice, and a probe slices once per list.
        self.vectors = np.asarray(vectors)   # chunk order, or list order when there is an IVF
        self.centroids = centroids
        self.offsets = offsets
        self.rows = None if rows is None else np.asarray(rows)   # list position → chunk row
        self._position: np.ndarray | None = None

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    # ---------------------------------------------------------------- files

    @staticmethod
    def write(directory: Path, vectors: np.ndarray) -> None:
        """Write `vectors` (chunk order) and, for a large index, its lists."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape[0] < IVF_MIN_ROWS:
            _save(directory / VECTORS_FILE, vectors)
            return
        centroids, assign = kmeans_lists(vectors)
        rows = np.argsort(assign, kind="stable").astype(np.int32)
        offsets = np.zeros(centroids.shape[0] + 1, dtype=np.int64)
        np.cumsum(np.bincount(assign, minlength=centroids.shape[0]), out=offsets[1:])
        _save(directory / VECTORS_FILE, vectors[rows])
        _save(directory / CENTROIDS_FILE, centroids)
        _save(directory / OFFSETS_FILE, offsets)
        _save(directory / ROWS_FILE, rows)

    @classmethod
    def open(cls, directory: Path) -> VectorSearch | None:
        """Memory-map the vector files of a generation; None if they are missing."""
        path = directory / VECTORS_FILE
        if not path.is_file():
            return None
        vectors = np.load(path, mmap_mode="r", allow_pickle=False)
        if (directory / CENTROIDS_FILE).is_file():
            return cls(vectors, np.load(directory / CENTROIDS_FILE, allow_pickle=False),
                       np.load(directory / OFFSETS_FILE, allow_pickle=False),
                       np.load(directory / ROWS_FILE, mmap_mode="r", allow_pickle=False))
        return cls(vectors)

    # ---------------------------------------------------------------- reading

    def positions(self, rows: np.ndarray) -> np.ndarray:
        """Where chunk rows are in `vectors`."""
        if self.rows is None:
            return rows
        if self._position is None:
            position = np.empty(self.rows.shape[0], dtype=np.int64)
            position[np.asarray(self.rows)] = np.arange(self.rows.shape[0])
            self._position = position
        return self._position[rows]

    def row_vectors(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(self.vectors[self.positions(rows)], dtype=np.float32)

    def chunk_order(self) -> np.ndarray:
        """All vectors in chunk order (for the next generation's file)."""
        if self.rows is None:
            return np.asarray(self.vectors)
        out = np.empty(self.vectors.shape, dtype=np.float32)
        out[np.asarray(self.rows)] = self.vectors
        return out

    def rank(self, query: np.ndarray, n: int, mask: np.ndarray | None = None) -> list[int]:
        """Chunk rows of the best `n` by cosine (vectors are L2-normalised), best first."""
        query = np.asarray(query, dtype=np.float32)
        total = len(self)
        allowed = total if mask is None else int(np.count_nonzero(mask))
        if allowed == 0 or n <= 0:
            return []
        if mask is not None and allowed <= EXACT_MAX_ROWS:
            rows = np.flatnonzero(mask)
            positions = self.positions(rows)
            order = np.argsort(positions)          # sequential reads from the memory map
            rows, positions = rows[order], positions[order]
            # In blocks (_scan): one product over a few thousand gathered rows goes multi-threaded
            # in OpenBLAS and, on a busy machine, waits for the other thread (15 ms instead of 1).
            scores = _scan(self.vectors[positions], query)
            return _top(scores, rows, n)
        if self.centroids is None:
            scores = _scan(self.vectors, query)
            rows = np.arange(total)
            if mask is not None:
                rows = np.flatnonzero(mask)
                scores = scores[rows]
            return _top(scores, rows, n)
        return self._probe(query, n, mask, allowed)

    def _probe(self, query: np.ndarray, n: int, mask: np.ndarray | None, allowed: int) -> list[int]:
        assert self.offsets is not None and self.rows is not None and self.centroids is not None
        need = min(allowed, max(MIN_CANDIDATES, CANDIDATE_FACTOR * n))
        lists = np.argsort(-(self.centroids @ query))
        offsets = self.offsets
        keep_in_order = None if mask is None else np.asarray(mask)[np.asarray(self.rows)]
        scores: list[np.ndarray] = []
        rows: list[np.ndarray] = []
        held = 0
        for lst in lists.tolist():
            start, end = int(offsets[lst]), int(offsets[lst + 1])
            if end == start:
                continue
            part = np.asarray(self.rows[start:end])
            if keep_in_order is None:
                scores.append(self.vectors[start:end] @ query)
                rows.append(part)
                held += end - start
            else:
                keep = keep_in_order[start:end]
                count = int(np.count_nonzero(keep))
                if count == 0:
                    continue
                scores.append((self.vectors[start:end] @ query)[keep])
                rows.append(part[keep])
                held += count
            if held >= need:
                break
        return _top(np.concatenate(scores), np.concatenate(rows).astype(np.int64), n)
