"""Term rows as ingest workers send them: same BM25 matrix, same terms.txt as plain term lists."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.index.embedding import HashEmbedder
from pipeline.index.retrieval import Bm25Ranker
from pipeline.index.store import TERMS_FILE, ChunkTable
from pipeline.index.terms import TermColumn, TermRows, Vocabulary, term_lengths, term_lines
from pipeline.models import Chunk

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "reports"

LISTS = [["民兵", "训练", "民兵"], [], ["征兵", "宣传", "训练"], ["国防", "教育"], ["民兵", "国防"]]


def _chunks(n: int) -> list[Chunk]:
    return [Chunk(chunk_id=f"d:{i}", doc_id="d", text=f"第{i}段", path="d.txt", region="岚川县", year=2024,
                  section_key="duty", heading="", position=i) for i in range(n)]


def test_rows_read_back_as_the_lists() -> None:
    rows = TermRows.from_lists(LISTS)
    assert list(rows) == LISTS
    assert rows[2] == LISTS[2] and rows[1] == [] and rows[1:3] == LISTS[1:3]
    assert rows.vocab == ["民兵", "训练", "征兵", "宣传", "国防", "教育"]
    assert [rows.vocab[i] for i in rows.ids] == [w for t in LISTS for w in t]
    first, second = rows.split([2, 3])
    assert list(first) == LISTS[:2] and list(second) == LISTS[2:]
    assert first.vocab is second.vocab is rows.vocab


def test_rows_refuse_disagreeing_parts() -> None:
    with pytest.raises(ValueError):
        TermRows(["a\tb"], ["a", "b"], np.array([0], dtype=np.int32), np.array([2]))


def test_column_indexes_across_parts() -> None:
    column = TermColumn()
    column.extend(LISTS[:1])
    column.extend(LISTS[1:2])               # joins the list part before it
    column.extend(TermRows.from_lists(LISTS[2:4]))
    column.extend([])
    column.extend(LISTS[4:])
    assert len(column) == 5 and len(column.parts) == 3
    assert [list(t) for t in column] == LISTS
    assert [list(column[i]) for i in range(5)] == LISTS and list(column[-1]) == LISTS[-1]
    assert list(term_lines(column)) == ["\t".join(t) for t in LISTS]
    assert term_lengths(column).tolist() == [3, 0, 3, 2, 2]
    with pytest.raises(IndexError):
        column[5]


def test_a_shared_batch_vocabulary_is_mapped_once_and_in_first_seen_order() -> None:
    batch = TermRows.from_lists(LISTS)
    column = TermColumn()
    column.extend([["教育", "新词"]])
    for part in batch.split([2, 1, 2]):
        column.extend(part)
    vocabulary = Vocabulary()
    ids = vocabulary.ids(column)
    words = list(vocabulary.index)
    assert [words[i] for i in ids] == ["教育", "新词"] + [w for t in LISTS for w in t]
    assert words == ["教育", "新词", "民兵", "训练", "征兵", "宣传", "国防"]
    assert len(vocabulary._mapped) == 1


def test_bm25_and_terms_file_are_the_same_from_rows(tmp_path: Path) -> None:
    embedder = HashEmbedder()
    texts = ["x"] * len(LISTS)
    vectors, vocab, ids = embedder.embed_with_vocabulary(texts, LISTS)
    assert np.array_equal(vectors, embedder.embed_documents(texts, LISTS))
    assert [vocab[i] for i in ids] == [w for t in LISTS for w in t]
    assert vocab == ["民兵", "训练", "征兵", "宣传", "国防", "教育"]      # first seen, not by hash id
    column = TermColumn()
    column.extend(LISTS[:1])
    for part in TermRows.from_lists(LISTS[1:], *embedder.embed_with_vocabulary(texts[1:], LISTS[1:])[1:]).split([2, 2]):
        column.extend(part)
    chunks = _chunks(len(LISTS))
    plain, rows = Bm25Ranker.build(chunks, LISTS), Bm25Ranker.build(chunks, column)
    assert plain.vocab == rows.vocab
    for a, b in ((plain.data, rows.data), (plain.indices, rows.indices), (plain.indptr, rows.indptr)):
        assert np.array_equal(a, b)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    ChunkTable.write(tmp_path / "a", chunks, LISTS)
    ChunkTable.write(tmp_path / "b", chunks, column)
    assert (tmp_path / "a" / TERMS_FILE).read_bytes() == (tmp_path / "b" / TERMS_FILE).read_bytes()
    assert ChunkTable.open(tmp_path / "b").terms() == LISTS


def test_index_terms_many_is_index_terms_of_each() -> None:
    from pipeline.reading import segment

    texts = ["全年组织基干民兵训练3次，参训率98%。", "", "  ", "征兵宣传进村入户，ABC Test 2024年。"]
    assert segment.index_terms_many(texts) == [segment.index_terms(t) for t in texts]


def test_bm25_pairs_sorted_in_32_or_64_bits_give_the_same_matrix(monkeypatch) -> None:
    """Pair keys are sorted as int32 when they fit; forced to int64 the matrix is the same."""
    from pipeline.index import retrieval
    from pipeline.reading import segment

    texts = [p.read_text(encoding="utf-8") for p in sorted(CORPUS.glob("*.txt"))[:6]]
    terms = [segment.index_terms(t[i:i + 300]) for t in texts for i in range(0, len(t), 300)]
    chunks = _chunks(len(terms))
    narrow = Bm25Ranker.build(chunks, terms)
    assert narrow.data.size > 1000
    monkeypatch.setattr(retrieval, "PAIRS_INT32_BELOW", 0)
    wide = Bm25Ranker.build(chunks, terms)
    assert narrow.vocab == wide.vocab
    for a, b in ((narrow.data, wide.data), (narrow.indices, wide.indices), (narrow.indptr, wide.indptr)):
        assert a.dtype == b.dtype and np.array_equal(a, b)
