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
