"""Tests for pipeline/index/blocks.py: a file's chunks as columns (`ChunkBlock`), a generation's as
parts (`ChunkColumn`), and the store columns written from them (`store._encode`), which must be
the same bytes as from the chunks one by one. Fictional counties only."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from pipeline.index.blocks import ChunkBlock, ChunkColumn, chunk_ids
from pipeline.index.retrieval import chunk_block, chunk_report
from pipeline.index.store import ChunkTable, _encode
from pipeline.models import Chunk
from pipeline.reading.parse import parse_file

REPORTS = sorted((Path(__file__).resolve().parents[1] / "corpus" / "reports").glob("*.txt"))[:12]


def _blocks() -> list[ChunkBlock]:
    return [chunk_block(parse_file(p), path=str(p)) for p in REPORTS]


def test_block_is_the_chunks_of_chunk_report() -> None:
    assert len(REPORTS) >= 6
    for path in REPORTS:
        report = parse_file(path)
        block = chunk_block(report, path=str(path))
        chunks = chunk_report(report, path=str(path))
        assert list(block) == chunks and len(block) == len(chunks)
        assert block.chunk_ids() == [c.chunk_id for c in chunks]
        assert block[-1] == chunks[-1] and block[1:3] == chunks[1:3]
        with pytest.raises(IndexError):
            block[len(chunks)]


def test_block_pickles_whole() -> None:
    block = _blocks()[0]
    back = pickle.loads(pickle.dumps(block))
    assert isinstance(back, ChunkBlock) and list(back) == list(block)


def test_block_refuses_columns_of_unequal_length() -> None:
    with pytest.raises(ValueError):
        ChunkBlock("d", "p", None, None, ["甲", "乙"], [0], ["duty"], ["一、履职"])


def test_column_indexes_across_parts_and_ids_from_any_start() -> None:
    blocks = _blocks()[:3]
    extra = [Chunk(chunk_id="x:0", doc_id="x", text="栖桐县民兵整组", path="x.txt", region="栖桐县", year=2021,
                   section_key="duty", heading="一、履职", position=0)]
    column = ChunkColumn()
    column.extend(extra)
    for block in blocks:
        column.extend(block)
    column.extend([])
    flat = extra + [c for b in blocks for c in b]
    assert len(column) == len(flat) and list(column) == flat
    assert [column[i] for i in (0, 1, len(flat) - 1, -1)] == [flat[0], flat[1], flat[-1], flat[-1]]
    assert column[2:5] == flat[2:5]
    for start in (0, 1, len(blocks[0]), len(blocks[0]) + 1, len(flat) - 1, len(flat)):
        assert chunk_ids(column, start) == [c.chunk_id for c in flat[start:]]
    assert chunk_ids(blocks[1]) == [c.chunk_id for c in blocks[1]]


def test_store_columns_from_blocks_are_those_from_chunks() -> None:
    """Codes in first-seen order, paths of each document, levels of each region: byte for byte."""
    blocks = _blocks()
    # Two parts kept as plain chunks around the blocks (an incremental ingest keeps old chunks so).
    column = ChunkColumn()
    column.extend(list(blocks[0]))
    for block in blocks[1:]:
        column.extend(block)
    column.extend(list(blocks[0])[:2])
    flat = list(column)
    got, want = _encode(column), _encode(flat)
    assert got[0] == want[0]
    assert np.array_equal(got[1], want[1]) and np.array_equal(got[2], want[2])
    assert got[3] == want[3]
    regions = {c.region for c in flat}
    assert len(regions) >= 3 and len(want[3]["sections"]) >= 3
    table = ChunkTable.from_chunks(column)
    assert [table[i] for i in range(len(flat))] == flat


def test_encode_still_refuses_a_chunk_id_that_is_not_doc_position() -> None:
    bad = Chunk(chunk_id="d:7", doc_id="d", text="甲", path="p", region=None, year=None, section_key="duty",
                heading="h", position=0)
    with pytest.raises(ValueError):
        _encode([bad])


def test_vector_writer_hands_back_the_rows_of_the_blocks_it_kept() -> None:
    """The commit asks for the new chunks' vectors: the kept batches as they are when the chunks are
    the very blocks added (no id per chunk), looked up by id otherwise (here: another order)."""
    from pipeline.index.embedding import HashEmbedder
    from pipeline.index.vectors import VectorWriter

    def no_chroma():  # noqa: ANN202
        raise AssertionError("no Chroma collection is opened when chroma=False")

    blocks = _blocks()[:3]
    writer = VectorWriter(HashEmbedder(), local=no_chroma, path=None, url=None, name="t", reset=True,
                          release=lambda: None, chroma=False)
    vectors = [np.full((len(b), 4), i, dtype=np.float32) for i, b in enumerate(blocks)]
    for block, rows in zip(blocks, vectors, strict=True):
        writer.add(block, [[] for _ in block], rows)
    old = [Chunk(chunk_id="old:0", doc_id="old", text="旧", path="o.txt", region=None, year=None,
                 section_key="duty", heading="h", position=0)]
    column = ChunkColumn()
    column.extend(old)
    for block in blocks:
        column.extend(block)
    parts, filled = writer.rows_for(column, 4, 1)
    assert all(a is b for a, b in zip(parts, vectors, strict=True)) and filled.all()
    assert writer.ids == [c.chunk_id for b in blocks for c in b]

    swapped = ChunkColumn()
    for block in (blocks[1], blocks[0], blocks[2]):
        swapped.extend(block)
    parts, filled = writer.rows_for(swapped, 4)
    assert filled.all() and len(parts) == 1
    assert np.array_equal(parts[0], np.concatenate([vectors[1], vectors[0], vectors[2]]))
    parts, filled = writer.rows_for(column, 4)        # the old chunk has no vector here
    assert not filled[0] and filled[1:].all() and not parts[0][0].any()
