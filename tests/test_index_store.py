"""Tests for the memory-mapped generation: pipeline/index/store.py (chunk columns) and
pipeline/index/ann.py (vector files, exact and IVF search). Fictional counties only."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pipeline.errors import InputError
from pipeline.index import ann
from pipeline.index.ann import VectorSearch
from pipeline.index.hybrid import FORMAT_VERSION, HybridIndex
from pipeline.index.store import ChunkTable, region_level
from pipeline.models import Chunk
from pipeline.profile.catalog import level_class

REGIONS = ["栖桐县", "雁澄区", "梧溪镇", None, "苇岑街道"]
SECTIONS = ["opening", "duty", "systems", "plans"]


def _chunks(n: int = 60) -> list[Chunk]:
    out = []
    for i in range(n):
        doc = f"d{i // 6:03d}"
        position = i % 6
        region = REGIONS[(i // 6) % len(REGIONS)]
        out.append(Chunk(chunk_id=f"{doc}:{position}", doc_id=doc, text=f"第{i}段：民兵整组{'甲' * (i % 7)}",
                         path=f"/r/{doc}.txt", region=region, year=None if i % 11 == 0 else 2020 + i % 4,
                         section_key=SECTIONS[i % 4], heading=f"标题{i % 3}", position=position))
    return out


@pytest.mark.parametrize(("region", "level"), [
    ("栖桐县", "county"), ("雁澄区", "county"), ("梧溪镇", "township"), ("栖桐乡", "township"),
    ("苇岑街道", "township"),
    ("", ""), (None, ""), ("某某", ""),
])
def test_region_level(region: str | None, level: str) -> None:
    assert region_level(region) == level


def test_store_round_trip(tmp_path: Path) -> None:
    chunks = _chunks()
    terms = [[f"t{i}", "民兵"] if i % 5 else [] for i in range(len(chunks))]
    ChunkTable.write(tmp_path, chunks, terms)
    table = ChunkTable.open(tmp_path)
    assert len(table) == len(chunks)
    assert list(table) == chunks
    assert table[-1] == chunks[-1] and table[2:4] == chunks[2:4]
    assert table.terms() == terms
    assert table.row_of("d003:2") == 20 and table.row_of("nope:0") is None
    with pytest.raises(IndexError):
        table[len(chunks)]


@pytest.mark.parametrize("filters", [
    {}, {"section": "systems"}, {"region": "雁澄区"}, {"year": 2022}, {"level": "乡镇"}, {"level": "县"},
    {"section": "plans", "year": 2021, "level": "县"}, {"region": "无此县"}, {"section": "无此节"},
])
def test_mask_matches_a_python_filter(filters: dict) -> None:
    chunks = _chunks()
    mask = ChunkTable.from_chunks(chunks).mask(**filters)

    def passes(c: Chunk) -> bool:
        return all([
            filters.get("section") in (None, c.section_key), filters.get("region") in (None, c.region),
            filters.get("year") in (None, c.year), (filters.get("level") is None or level_class(filters["level"]) == region_level(c.region)),
        ])

    if not filters:
        assert mask is None
    else:
        assert mask.tolist() == [passes(c) for c in chunks]


def test_doc_rows_finds_a_regions_documents_and_the_unstated_ones() -> None:
    table = ChunkTable.from_chunks(_chunks())
    found = table.doc_rows("雁澄区")
    regions = {table[int(rows[0])].region for rows in found.values()}
    assert regions == {"雁澄区", None}
    for rows in found.values():
        assert len({table[int(r)].doc_id for r in rows}) == 1 and len(rows) == 6


def _unit_vectors(n: int, dim: int = 32, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(12, dim))
    vectors = centres[rng.integers(0, 12, n)] + 0.3 * rng.normal(size=(n, dim))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def _exact(vectors: np.ndarray, query: np.ndarray, n: int, mask: np.ndarray | None) -> list[int]:
    scores = vectors @ query
    rows = np.arange(len(vectors)) if mask is None else np.flatnonzero(mask)
    return sorted(rows.tolist(), key=lambda i: (-scores[i], i))[:n]


@pytest.mark.parametrize("use_mask", [False, True])
def test_ivf_files_round_trip_and_search(tmp_path: Path, monkeypatch, use_mask: bool) -> None:
    monkeypatch.setattr(ann, "IVF_MIN_ROWS", 200)
    vectors = _unit_vectors(900)
    VectorSearch.write(tmp_path, vectors)
    search = VectorSearch.open(tmp_path)
    assert search is not None and search.centroids is not None and len(search) == 900
    np.testing.assert_array_equal(search.chunk_order(), vectors)
    rows = np.array([5, 899, 0, 17])
    np.testing.assert_array_equal(search.row_vectors(rows), vectors[rows])
    mask = (np.arange(900) % 3 == 0) if use_mask else None
    query = vectors[7]
    # Enough candidates to cover every row: the probe must then equal the exact ranking.
    monkeypatch.setattr(ann, "MIN_CANDIDATES", 10_000)
    monkeypatch.setattr(ann, "EXACT_MAX_ROWS", 0)
    assert search.rank(query, 10, mask) == _exact(vectors, query, 10, mask)
    # With the default budget it stays inside the filter and finds the query's own row first.
    monkeypatch.setattr(ann, "MIN_CANDIDATES", 100)
    got = search.rank(query, 10, mask)
    assert got[0] == 7 if not use_mask or mask[7] else True
    assert len(got) == 10 and (mask is None or all(mask[i] for i in got))


def _probe_reference(search: VectorSearch, query: np.ndarray, n: int, mask: np.ndarray | None, need: int) -> list[int]:
    """The IVF probe written as the plain loop it stands for: lists best centroid first, until
    they hold `need` rows that pass; the best `n` of those rows by exact score."""
    scores_by_row = search.chunk_order() @ query
    held: list[int] = []
    for lst in np.argsort(-(search.centroids @ query), kind="stable").tolist():
        rows = search.rows[search.offsets[lst]:search.offsets[lst + 1]].tolist()
        held += [r for r in rows if mask is None or mask[r]]
        if len(held) >= need:
            break
    return sorted(held, key=lambda r: (-scores_by_row[r], r))[:n]


@pytest.mark.parametrize("every", [None, 1, 3, 10])
def test_ivf_probe_matches_the_plain_loop(tmp_path: Path, monkeypatch, every: int | None) -> None:
    # every=3: most of each probed list passes (scored in place); every=10: few pass (gathered).
    monkeypatch.setattr(ann, "IVF_MIN_ROWS", 200)
    monkeypatch.setattr(ann, "EXACT_MAX_ROWS", 0)
    monkeypatch.setattr(ann, "MIN_CANDIDATES", 120)
    monkeypatch.setattr(ann, "PROBE_SHARE", 0.0)
    monkeypatch.setattr(ann, "CANDIDATE_FACTOR", 0)
    vectors = _unit_vectors(1500, seed=4)
    VectorSearch.write(tmp_path, vectors)
    search = VectorSearch.open(tmp_path)
    assert search is not None and search.centroids is not None
    mask = None if every is None else np.arange(1500) % every == 0
    for query_row in (0, 333, 1499):
        query = vectors[query_row]
        # Every candidate back (n above the budget), in order: the same lists were probed.
        got = search.rank(query, 10_000, mask)
        assert len(got) >= 120 and got == _probe_reference(search, query, 10_000, mask, 120)
        assert mask is None or all(mask[r] for r in got)
        assert search.rank(query, 10, mask) == got[:10]


def test_scan_blocks_give_the_plain_product(monkeypatch) -> None:
    monkeypatch.setattr(ann, "_BLOCK_ELEMENTS", 32 * 50)       # 50-row blocks at 32 dims
    vectors = _unit_vectors(1234)
    query = vectors[9]
    np.testing.assert_allclose(ann._scan(vectors, query), vectors @ query, rtol=1e-5, atol=1e-6)


def test_exact_search_below_the_ivf_size(tmp_path: Path) -> None:
    vectors = _unit_vectors(300)
    VectorSearch.write(tmp_path, vectors)
    search = VectorSearch.open(tmp_path)
    assert search is not None and search.centroids is None
    mask = np.arange(300) < 40
    for query_row in (3, 250):
        query = vectors[query_row]
        assert search.rank(query, 5, None) == _exact(vectors, query, 5, None)
        assert search.rank(query, 5, mask) == _exact(vectors, query, 5, mask)
    assert search.rank(vectors[0], 5, np.zeros(300, dtype=bool)) == []


def test_old_format_asks_for_a_rebuild(tmp_path: Path) -> None:
    (tmp_path / "idx").mkdir()
    (tmp_path / "idx" / "state.json").write_text(json.dumps({"format": FORMAT_VERSION - 1, "generation": 1}),
                                                 encoding="utf-8")
    with pytest.raises(InputError, match="shuzhi ingest --rebuild"):
        HybridIndex.open(tmp_path / "idx", read_only=True)


def test_local_ingest_keeps_vectors_in_its_own_files(tmp_path: Path, monkeypatch) -> None:
    from tests.test_index import QITONG_2023, YANCHENG_2022, _write

    monkeypatch.delenv("SHUZHI_LOCAL_CHROMA", raising=False)
    folder = tmp_path / "reports"
    _write(folder, "qitong-2023.txt", QITONG_2023)
    _write(folder, "yancheng-2022.txt", YANCHENG_2022)
    index = HybridIndex.open(tmp_path / "idx")
    index.ingest([folder])
    assert not (tmp_path / "idx" / "chroma").exists()          # no Chroma unless asked for
    reader = HybridIndex.open(tmp_path / "idx", read_only=True)
    for mode in ("hybrid", "bm25", "vector"):
        hits = reader.search("民兵整组 基干民兵", k=5, mode=mode, level="县")
        assert hits and all(level_class(h.chunk.region) == "county" for h in hits)
        # No township report in this index: a township query is filled up with the other level.
        assert reader.search("民兵整组", k=5, mode=mode, level="乡镇")
        assert reader._search("民兵整组", k=5, section=None, region=None, year=None, mode=mode,
                              _level="township") == []
    assert reader.past_reports("雁澄区", before_year=2023)[0][1] == 2022
    assert reader.past_reports("雁澄区", before_year=2022) == []


_WORKERS_SCRIPT = """
import json, sys
from pathlib import Path
import numpy as np
from pipeline.index import ingest, ingest_workers
from pipeline.index.hybrid import HybridIndex

root = Path(sys.argv[1])
ingest.PARALLEL_MIN_FILES = ingest_workers.PARALLEL_MIN_FILES = 2
ingest_workers.PARALLEL_BATCH = 2
pools = []
original = ingest_workers.ParsedFiles.__init__
spills = []
def spy(self, paths, results, pool=None, spill_dir=None):
    pools.append(pool is not None)
    spills.append(spill_dir)
    original(self, paths, results, pool, spill_dir)
ingest_workers.ParsedFiles.__init__ = spy
results = {}
for workers in ("0", "2"):
    import os
    os.environ[ingest_workers.WORKERS_ENV] = workers
    index = HybridIndex.open(root / f"idx{workers}")
    summary = index.ingest([root / "reports"])
    loaded = index._load()
    manifest = {k: {f: v for f, v in e.items() if f != "ingested"} for k, e in loaded.manifest.items()}
    gen = index._gen_dir(loaded.generation)
    # The BM25 files and terms.txt byte for byte: the workers' batch vocabularies map to the same
    # first-seen term order as one process's.
    files = [(gen / name).read_bytes() for name in ("terms.txt", "bm25/vocab.json", "bm25/data.npy",
                                                    "bm25/indices.npy", "bm25/indptr.npy")]
    results[workers] = (summary.added, summary.failed, summary.duplicates, list(loaded.chunks), manifest,
                        files, index._vectors(loaded).chunk_order())
serial, parallel = results["0"], results["2"]
same = serial[:6] == parallel[:6] and bool(np.array_equal(serial[6], parallel[6]))
spill = spills[1]
spilled = bool(spill) and Path(spill).parent == root / "idx2" and Path(spill).name.startswith(".ingest-spill-")
leftovers = [p.name for p in (root / "idx2").iterdir() if p.name.startswith(".ingest-spill-")]
print(json.dumps({"same": same, "pools": pools, "added": len(serial[0]), "failed": len(serial[1]),
                  "duplicates": len(serial[2]), "spilled": spilled, "leftovers": leftovers}))
"""


def test_worker_processes_build_the_same_index(tmp_path: Path) -> None:
    # In a fresh interpreter: forking is refused in a process with other threads or Chroma loaded
    # (as a full test run has), and this test must see the worker path really taken.
    import os
    import subprocess
    import sys

    from tests.test_index import CHANGED_2023, QITONG_2023, YANCHENG_2022, _write

    folder = tmp_path / "reports"
    _write(folder, "qitong-2023.txt", QITONG_2023)
    _write(folder, "yancheng-2022.txt", YANCHENG_2022)
    _write(folder, "qitong-2024.txt", CHANGED_2023.replace("2023", "2024"))
    _write(folder, "empty.txt", "")
    _write(folder, "same.txt", YANCHENG_2022)               # a duplicate of another file's content
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(root))
    out = subprocess.run([sys.executable, "-c", _WORKERS_SCRIPT, str(tmp_path)], capture_output=True, text=True,
                         env=env, timeout=600, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"same": True, "pools": [False, True], "added": 3, "failed": 1, "duplicates": 1,
                      "spilled": True, "leftovers": []}


@pytest.mark.parametrize(("shape", "rows"), [((300, 32), None), ((300, 32), [299, 0, 7]), ((0, 32), None), ((9,), None),
                                             ((5, 4), [])])
def test_vector_files_are_what_np_save_writes(tmp_path: Path, shape: tuple, rows: list | None) -> None:
    import io

    array = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape) / 7
    picked = None if rows is None else np.asarray(rows, dtype=np.int32)
    ann._save(tmp_path / "a.npy", array, picked)
    expected = io.BytesIO()
    np.save(expected, array if picked is None else array[picked], allow_pickle=False)
    assert (tmp_path / "a.npy").read_bytes() == expected.getvalue()


def test_ingest_pauses_the_cycle_collector_and_restores_it(tmp_path: Path, monkeypatch) -> None:
    import gc

    from pipeline.index import hybrid
    from pipeline.index.hybrid import HybridIndex
    from tests.test_index import QITONG_2023, _write

    folder = tmp_path / "reports"
    _write(folder, "qitong-2023.txt", QITONG_2023)
    seen: list[bool] = []
    original = hybrid.HybridIndex._commit

    def spy(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        seen.append(gc.isenabled())
        return original(self, *args, **kwargs)

    monkeypatch.setattr(hybrid.HybridIndex, "_commit", spy)
    assert gc.isenabled()
    assert HybridIndex.open(tmp_path / "idx").ingest([folder]).ok
    assert seen == [False] and gc.isenabled()
    # A failing ingest turns it back on too; one that finds it off leaves it off.
    monkeypatch.setattr(hybrid.HybridIndex, "_commit", lambda *a, **k: 1 / 0)
    _write(folder, "qitong-2024.txt", QITONG_2023.replace("2023", "2024"))
    with pytest.raises(ZeroDivisionError):
        HybridIndex.open(tmp_path / "idx").ingest([folder])
    assert gc.isenabled()
    gc.disable()
    try:
        with pytest.raises(ZeroDivisionError):
            HybridIndex.open(tmp_path / "idx").ingest([folder])
        assert not gc.isenabled()
    finally:
        gc.enable()


_ORPHAN_SCRIPT = """
import os, sys, time
from pathlib import Path
from pipeline.index import ingest, ingest_workers
from pipeline.index.hybrid import HybridIndex

root = Path(sys.argv[1])
ingest.PARALLEL_MIN_FILES = ingest_workers.PARALLEL_MIN_FILES = 2
ingest_workers.PARALLEL_BATCH = 1
real = ingest_workers.parse_for_index
def slow(path, shown, embedder=None):
    if os.getpid() != parent:                   # in a worker: say who we are, then take our time
        (root / f"worker-{os.getpid()}").touch()
        time.sleep(60)
    return real(path, shown, embedder)
parent = os.getpid()
ingest_workers.parse_for_index = slow
os.environ[ingest_workers.WORKERS_ENV] = "2"
HybridIndex.open(root / "idx").ingest([root / "reports"])
"""


def test_ingest_workers_die_with_a_killed_ingest(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.test_index import QITONG_2023, YANCHENG_2022, _write

    for i in range(4):
        _write(tmp_path / "reports", f"r{i}.txt", (QITONG_2023 if i % 2 else YANCHENG_2022) + f"\n（第{i}份）\n")
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen([sys.executable, "-c", _ORPHAN_SCRIPT, str(tmp_path)], env=dict(os.environ, PYTHONPATH=str(root)))
    try:
        deadline = time.monotonic() + 60
        while len(list(tmp_path.glob("worker-*"))) < 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        workers = [int(p.name.split("-")[1]) for p in tmp_path.glob("worker-*")]
        assert len(workers) == 2, "the workers never started"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def alive(pid: int) -> bool:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
                return handle.read().split(") ")[-1][:1] != "Z"
        except OSError:
            return False

    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [pid for pid in workers if alive(pid)]
    for pid in left:                              # do not leave them behind if the test fails
        os.kill(pid, signal.SIGKILL)
    assert left == []


def test_worker_batches_grow_with_the_ingest_but_leave_every_worker_many() -> None:
    from pipeline.index.ingest_workers import BATCHES_PER_WORKER, MAX_BATCH, PARALLEL_BATCH, batch_size

    assert batch_size(64, 2) == PARALLEL_BATCH
    assert batch_size(100_000, 2) == MAX_BATCH
    sizes = [batch_size(n, 2) for n in range(1, 20_000, 97)]
    assert sizes == sorted(sizes)
    for files in (1_000, 3_072, 5_000):
        jobs = -(-files // batch_size(files, 2))
        assert jobs >= min(2 * BATCHES_PER_WORKER, files // MAX_BATCH)


def test_list_builder_gives_the_same_lists_with_a_helping_thread(tmp_path: Path, monkeypatch) -> None:
    """The committing thread may assign rows beside the writing thread: the lists and the files are
    the same as one thread's, whichever thread took which block."""
    import threading

    monkeypatch.setattr(ann, "IVF_MIN_ROWS", 200)
    monkeypatch.setattr(ann.ListBuilder, "BLOCK_ROWS", 64)
    vectors = _unit_vectors(1500)
    alone_c, alone_a = ann.ListBuilder(vectors).build()
    (tmp_path / "alone").mkdir()
    VectorSearch.write(tmp_path / "alone", vectors)
    for _ in range(3):
        lists = ann.ListBuilder(vectors)
        helper = threading.Thread(target=lists.help)
        helper.start()
        (tmp_path / "shared").mkdir(exist_ok=True)
        VectorSearch.write(tmp_path / "shared", [vectors], lists)
        helper.join(timeout=30)
        assert not helper.is_alive()
        np.testing.assert_array_equal(lists.assign, alone_a)
        np.testing.assert_array_equal(lists.centroids, alone_c)
        for name in (ann.VECTORS_FILE, ann.CENTROIDS_FILE, ann.OFFSETS_FILE, ann.ROWS_FILE):
            assert (tmp_path / "shared" / name).read_bytes() == (tmp_path / "alone" / name).read_bytes()


def test_a_helper_is_released_when_the_lists_are_never_built(tmp_path: Path, monkeypatch) -> None:
    """A small matrix (no lists) or a failed write must not leave the helping thread waiting."""
    import threading

    small = ann.ListBuilder(_unit_vectors(50))
    helper = threading.Thread(target=small.help)
    helper.start()
    VectorSearch.write(tmp_path, [small.vectors], small)       # below IVF_MIN_ROWS: no lists
    helper.join(timeout=30)
    assert not helper.is_alive() and small.centroids is None

    monkeypatch.setattr(ann, "IVF_MIN_ROWS", 10)

    def broken(vectors: np.ndarray, seed: int) -> np.ndarray:
        raise MemoryError("no room for the sample")

    monkeypatch.setattr(ann, "_train", broken)
    failing = ann.ListBuilder(_unit_vectors(50))
    helper = threading.Thread(target=failing.help)
    helper.start()
    with pytest.raises(MemoryError):
        VectorSearch.write(tmp_path, [failing.vectors], failing)
    helper.join(timeout=30)
    assert not helper.is_alive()
