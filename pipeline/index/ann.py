"""Vector search over the generation's vector file: exact for small indexes and selective filters,
an inverted-file (IVF) probe for large ones.

At 100k chunks × 384 dims an exact scan reads 150 MB per query (≈ 10 ms on this machine, more
under load), and gathering the rows a section filter keeps costs as much again. So an index of
`IVF_MIN_ROWS` chunks or more is partitioned once at commit by spherical k-means into ~√n lists,
and its vectors are stored list by list (`vectors.npy` in list order, `ivf_rows.npy` maps a list
position back to the chunk row). A query scores the centroids and takes the best lists until they
hold enough rows that pass the filter (per-list counts of the filter's rows, one `bincount`); those
rows are scored exactly, in place when most of the probed lists pass and gathered when few do.
A filter that keeps few rows is searched exactly over just those rows. Every matrix-vector
product runs in blocks below OpenBLAS's threading threshold (see `_BLOCK_ELEMENTS`).
`eval/bench_search.py` reports the recall of this against the exact ranking.
"""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from pipeline.fsutil import atomic_write_parts

VECTORS_FILE = "vectors.npy"
CENTROIDS_FILE = "ivf_centroids.npy"
OFFSETS_FILE = "ivf_offsets.npy"
ROWS_FILE = "ivf_rows.npy"

IVF_MIN_ROWS = 20_000          # below this an exact scan is ≤ 2 ms
EXACT_MAX_ROWS = 6_000         # a filter keeping at most this many rows is searched exactly
MIN_CANDIDATES = 3_000         # rows (passing the filter) scored exactly per probed query
CANDIDATE_FACTOR = 40          # … or this many per wanted result, whichever is larger,
PROBE_SHARE = 0.03             # … or this share of the rows that pass: with √n lists a fixed count
                               # would probe ever fewer lists (and lose recall) as the index grows
GATHER_BELOW = 0.25            # copy out the passing rows when fewer than this share of the probed lists pass
KMEANS_ROUNDS = 5
_SAVE_BLOCK_BYTES = 4 << 20      # rows gathered per write when a file is written in list order
# Rows × dims per matrix-vector product. OpenBLAS (numpy's build) runs a product of 460,800
# elements or more on all cores, and on a shared 2-core machine its threads then wait for each
# other: 2,000 × 384 costs 3.2 ms of CPU instead of 0.1 ms. Blocks of half that are single-threaded.
_BLOCK_ELEMENTS = 230_400


def _save(path: Path, array: np.ndarray, rows: np.ndarray | None = None) -> None:
    """Write `array` (or its `rows`, in that order) as an .npy file. The rows are gathered and
    written a block at a time: a gathered copy of a 100k × 384 matrix (and `np.save`'s own copies)
    cost up to 0.7 s of a commit in fresh pages on a busy machine."""
    shape = array.shape if rows is None else (len(rows), *array.shape[1:])
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {
        "descr": np.lib.format.dtype_to_descr(array.dtype), "fortran_order": False, "shape": shape})

    def parts() -> Iterator[bytes | memoryview]:
        yield header.getvalue()
        if rows is None:
            if array.size:
                yield memoryview(np.ascontiguousarray(array)).cast("B")
            return
        block = max(1, _SAVE_BLOCK_BYTES // max(1, array[:1].nbytes))
        buffer = np.empty((min(block, len(rows)), *array.shape[1:]), dtype=array.dtype)
        for start in range(0, len(rows), block):
            part = rows[start:start + block]
            out = buffer[: len(part)]
            np.take(array, part, axis=0, out=out)
            yield memoryview(out).cast("B")

    atomic_write_parts(path, parts())


def _top(scores: np.ndarray, ids: np.ndarray, n: int) -> list[int]:
    if ids.size > n:
        keep = np.argpartition(-scores, n - 1)[:n]
        scores, ids = scores[keep], ids[keep]
    order = np.lexsort((ids, -scores))        # best first, ties by row: deterministic
    return ids[order].tolist()


def _scan(vectors: np.ndarray, query: np.ndarray) -> np.ndarray:
    """`vectors @ query` in row blocks small enough to stay on one thread (see _BLOCK_ELEMENTS)."""
    scores = np.empty(vectors.shape[0], dtype=np.float32)
    block = max(16, _BLOCK_ELEMENTS // max(1, vectors.shape[1]))
    for start in range(0, vectors.shape[0], block):
        np.dot(vectors[start:start + block], query, out=scores[start:start + block])
    return scores


def _one_blas_thread() -> contextlib.AbstractContextManager[object]:
    """OpenBLAS on one thread for a block of matrix products. Its threads spin while they wait
    for each other, and on a busy 2-core machine that tripled the CPU (and doubled the wall time)
    of the k-means below: 0.6–0.8 s against 0.21 s on one thread. `threadpoolctl` sets it; without
    that package the products simply run as numpy is configured."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def kmeans_lists(vectors: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Spherical k-means on a sample: (centroids, list of every row). Deterministic for a seed."""
    return ListBuilder(vectors, seed).build()


def _train(vectors: np.ndarray, seed: int) -> np.ndarray:
    """Spherical k-means centroids (float32, unit rows) from a sample of ~16 rows per list."""
    n = vectors.shape[0]
    nlist = max(8, int(np.sqrt(n)))
    rng = np.random.default_rng(seed)
    sample = np.asarray(vectors[np.sort(rng.choice(n, min(n, 16 * nlist), replace=False))], dtype=np.float32)
    centroids = sample[rng.choice(sample.shape[0], nlist, replace=False)].copy()
    for _ in range(KMEANS_ROUNDS):
        assign = np.argmax(sample @ centroids.T, axis=1)
        # Per-list sums: the sample's rows grouped by list, each group summed by one reduceat (a
        # third of the time of a product with the one-hot assignment matrix; np.add.at is slower still).
        counts = np.bincount(assign, minlength=nlist)
        filled = counts > 0
        starts = np.cumsum(counts) - counts
        sums = np.zeros((nlist, sample.shape[1]), dtype=np.float32)
        sums[filled] = np.add.reduceat(sample[np.argsort(assign, kind="stable")], starts[filled], axis=0)
        empty = ~filled
        if empty.any():          # re-seed an empty list with a random sample row
            sums[empty] = sample[rng.choice(sample.shape[0], int(empty.sum()), replace=False)]
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        centroids = np.divide(sums, norms, out=np.zeros_like(sums), where=norms > 0)
    return centroids.astype(np.float32)


class ListBuilder:
    """The IVF lists of a matrix: `build` (the thread that writes the vector file) trains the
    centroids and then assigns every row to its nearest one, a block of rows at a time; another
    thread that has finished its own work can take blocks too (`help`). At commit the writing
    thread otherwise assigned alone (~0.15 s at 58k rows) while the other core sat idle."""

    BLOCK_ROWS = 8192

    def __init__(self, vectors: np.ndarray, seed: int = 0):
        self.vectors = vectors
        self.seed = seed
        self.centroids: np.ndarray | None = None
        self.assign = np.empty(vectors.shape[0], dtype=np.int32)
        self._lock = threading.Condition()
        self._trained = threading.Event()     # set when blocks may be taken (or training failed)
        self._next = 0
        self._busy = 0

    def build(self) -> tuple[np.ndarray, np.ndarray]:
        """Train, assign (with any helper) and return (centroids, list of every row)."""
        with _one_blas_thread():
            try:
                self.centroids = _train(self.vectors, self.seed)
            finally:
                self._trained.set()          # a helper never waits on a failed training
            self._work()
            with self._lock:
                self._lock.wait_for(lambda: self._busy == 0)
        return self.centroids, self.assign

    def help(self) -> None:
        """Assign blocks until none is left (returns at once if training failed or never ran)."""
        self._trained.wait()
        if self.centroids is not None:
            self._work()

    def release(self) -> None:
        """Let `help` return even if `build` never ran (a small matrix, or an error before it)."""
        self._trained.set()

    def _work(self) -> None:
        n = self.vectors.shape[0]
        while True:
            with self._lock:
                start = self._next
                if start >= n:
                    return
                self._next = start + self.BLOCK_ROWS
                self._busy += 1
            try:
                block = np.asarray(self.vectors[start:start + self.BLOCK_ROWS])
                self.assign[start:start + len(block)] = np.argmax(block @ self.centroids.T, axis=1)
            finally:
                with self._lock:
                    self._busy -= 1
                    self._lock.notify_all()


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
        self._lists: np.ndarray | None = None

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    # ---------------------------------------------------------------- files

    @staticmethod
    def write(directory: Path, vectors: np.ndarray | Sequence[np.ndarray], lists: ListBuilder | None = None) -> None:
        """Write `vectors` (chunk order; or consecutive blocks of rows, joined here) and, for a
        large index, its lists (built by `lists` when given: a `ListBuilder` of the same vectors
        that another thread may help)."""
        try:
            VectorSearch._write(directory, vectors, lists)
        finally:
            if lists is not None:
                lists.release()          # a thread waiting in `help` never waits on a write that ended

    @staticmethod
    def _write(directory: Path, vectors: np.ndarray | Sequence[np.ndarray], lists: ListBuilder | None) -> None:
        if lists is not None:
            vectors = lists.vectors
        elif not isinstance(vectors, np.ndarray):
            vectors = np.concatenate(vectors) if len(vectors) != 1 else vectors[0]
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape[0] < IVF_MIN_ROWS:
            _save(directory / VECTORS_FILE, vectors)
            return
        centroids, assign = (lists or ListBuilder(vectors)).build()
        rows = np.argsort(assign, kind="stable").astype(np.int32)
        offsets = np.zeros(centroids.shape[0] + 1, dtype=np.int64)
        np.cumsum(np.bincount(assign, minlength=centroids.shape[0]), out=offsets[1:])
        _save(directory / VECTORS_FILE, vectors, rows)
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
            return _top(_scan(np.take(self.vectors, positions, axis=0), query), rows, n)
        if self.centroids is None:
            scores = _scan(self.vectors, query)
            rows = np.arange(total)
            if mask is not None:
                rows = np.flatnonzero(mask)
                scores = scores[rows]
            return _top(scores, rows, n)
        return self._probe(query, n, mask, allowed)

    def _list_of_row(self) -> np.ndarray:
        """The IVF list of every chunk row (built on first use: 4 bytes a row)."""
        if self._lists is None:
            assert self.offsets is not None and self.rows is not None
            sizes = np.diff(self.offsets)
            lists = np.empty(self.rows.shape[0], dtype=np.int32)
            lists[self.rows] = np.repeat(np.arange(sizes.shape[0], dtype=np.int32), sizes)
            self._lists = lists
        return self._lists

    def _probe(self, query: np.ndarray, n: int, mask: np.ndarray | None, allowed: int) -> list[int]:
        """The best lists by centroid until they hold `need` rows that pass the filter; those rows
        scored exactly. Which lists, and how many, is decided with array operations up front
        (per-list counts of passing rows), not by a Python loop over lists."""
        assert self.offsets is not None and self.rows is not None and self.centroids is not None
        need = min(allowed, max(MIN_CANDIDATES, CANDIDATE_FACTOR * n, int(PROBE_SHARE * allowed)))
        offsets = self.offsets
        sizes = np.diff(offsets)
        counts = sizes if mask is None else np.bincount(self._list_of_row()[mask], minlength=sizes.shape[0])
        order = np.argsort(-_scan(self.centroids, query), kind="stable")
        held = np.cumsum(counts[order])
        take = order[: int(np.searchsorted(held, need)) + 1]
        chosen = np.sort(take[counts[take] > 0])          # file order: the reads go forward
        starts, lengths = offsets[chosen], sizes[chosen]
        # Every position of the chosen lists, as one array: start of its list + index within it.
        first = np.cumsum(lengths) - lengths
        positions = np.arange(int(lengths.sum()), dtype=np.int64) + np.repeat(starts - first, lengths)
        rows = self.rows[positions]
        keep = None if mask is None else mask[rows]
        if keep is not None and np.count_nonzero(keep) < GATHER_BELOW * keep.shape[0]:
            # Few pass: copy just those rows out of the map (np.take: half the time of v[positions]).
            positions, rows = positions[keep], rows[keep]
            return _top(_scan(np.take(self.vectors, positions, axis=0), query), rows.astype(np.int64), n)
        # Most pass: score the lists where they lie (no copy; adjacent lists read as one run).
        ends = starts + lengths
        breaks = np.flatnonzero(starts[1:] != ends[:-1]) + 1
        run_starts = starts[np.concatenate(([0], breaks))].tolist()
        run_ends = ends[np.concatenate((breaks - 1, [ends.shape[0] - 1]))].tolist()
        scores = np.concatenate([_scan(self.vectors[a:b], query) for a, b in zip(run_starts, run_ends, strict=True)])
        if keep is not None:
            scores, rows = scores[keep], rows[keep]
        return _top(scores, rows.astype(np.int64), n)
