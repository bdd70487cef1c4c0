"""Tests for pipeline/retrieval.py (BM25 ranker, RRF, LangChain retriever) and pipeline/embedding.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.errors import UsageError
from pipeline.index.embedding import HashEmbedder, chroma_embedding_function, resolve_embedder
from pipeline.index.retrieval import Bm25Ranker, ShuzhiRetriever, hit_to_document, rrf_fuse
from pipeline.models import Chunk, SearchHit
from pipeline.reading import segment

PASSAGES = [
    ("systems", "栖桐县", 2023, "扎实开展民兵整组，基干民兵编组1380人，完成集中轮训。"),
    ("systems", "雁澄区", 2022, "在高中设立征兵工作站，开展参军入伍宣传，输送合格青年215人。"),
    ("systems", "栖桐县", 2022, "走访慰问驻地部队和优抚对象18次，深化双拥共建。"),
    ("foundation", "雁澄区", 2023, "开展全民国防教育进校园活动，增强青少年国防意识。"),
    ("duty", "栖桐县", 2023, "召开议军会研究武装工作，协调解决人武部营房维修问题。"),
]


def _chunks() -> list[Chunk]:
    return [
        Chunk(f"d{i}:0", f"d{i}", text, f"r{i}.txt", region, year, section, "标题", 0)
        for i, (section, region, year, text) in enumerate(PASSAGES)
    ]


@pytest.fixture(scope="module")
def ranker() -> Bm25Ranker:
    chunks = _chunks()
    return Bm25Ranker.build(chunks, [segment.index_terms(c.text) for c in chunks])


# --------------------------------------------------------------------------- RRF

@pytest.mark.parametrize(
    ("lists", "expected_order"),
    [
        # In both lists beats first in only one.
        ([(["a", "b"], 1.0), (["c", "b"], 1.0)], ["b", "a", "c"]),
        # A heavier list wins ties of rank.
        ([(["a"], 1.0), (["c"], 2.0)], ["c", "a"]),
        # Equal scores: the better single rank, then the id, breaks the tie deterministically.
        ([(["x", "y"], 1.0), (["y", "x"], 1.0)], ["x", "y"]),
        ([([], 1.0), (["q", "r"], 1.0)], ["q", "r"]),
    ],
)
def test_rrf_order(lists, expected_order: list[str]) -> None:
    assert [cid for cid, _, _ in rrf_fuse(lists, k=10)] == expected_order


def test_rrf_scores_and_ranks() -> None:
    fused = rrf_fuse([(["a", "b"], 1.0), (["b"], 0.5)], k=1, rrf_k=60)
    assert len(fused) == 1
    cid, score, ranks = fused[0]
    assert cid == "b" and ranks == [2, 1]
    assert score == pytest.approx(1 / 62 + 0.5 / 61)


# --------------------------------------------------------------------------- BM25

def test_bm25_ranks_the_matching_passage_first(ranker: Bm25Ranker) -> None:
    order = ranker.rank(segment.index_terms("征兵工作站"), 3)
    assert order[0] == 1
    assert ranker.rank(segment.index_terms("完全无关的词语组合"), 3) == []
    assert ranker.rank([], 3) == []


@pytest.mark.parametrize(
    ("filters", "allowed"),
    [
        ({"region": "雁澄区"}, {1, 3}),
        ({"year": 2023}, {0, 3, 4}),
        ({"section": "systems", "region": "栖桐县"}, {0, 2}),
        ({"section": "plans"}, set()),
    ],
)
def test_bm25_mask(ranker: Bm25Ranker, filters: dict, allowed: set[int]) -> None:
    mask = ranker.mask(section=filters.get("section"), region=filters.get("region"), year=filters.get("year"))
    order = ranker.rank(segment.index_terms("民兵 征兵 双拥 国防教育 议军会"), 5, mask)
    assert set(order) <= allowed
    assert set(order) == allowed


def test_bm25_save_and_load(tmp_path: Path, ranker: Bm25Ranker) -> None:
    ranker.save(tmp_path / "bm25")
    again = Bm25Ranker.load(tmp_path / "bm25", ranker.chunks)
    query = segment.index_terms("双拥 走访慰问")
    assert again.rank(query, 5) == ranker.rank(query, 5)


def test_bm25_scores_equal_the_bm25s_reference() -> None:
    # The ranker computes BM25 itself (numpy over term ids); bm25s's Lucene variant is the reference.
    import bm25s

    corpus = [segment.index_terms(p[3]) for p in PASSAGES] + [["民兵", "民兵", "整组"], []]
    chunks = _chunks() + _chunks()[:2]
    ours = Bm25Ranker.build(chunks[: len(corpus)], corpus)
    reference = bm25s.BM25()
    reference.index(corpus, show_progress=False)
    for query in (["民兵"], ["征兵", "工作站", "民兵"], ["民兵", "民兵"], ["无此词"]):
        known = [w for w in query if w in reference.vocab_dict]
        expected = reference.get_scores(known) if known else np.zeros(len(corpus))
        np.testing.assert_allclose(ours.get_scores(query), expected, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- embeddings

def test_hash_embedding_is_deterministic_normalised_and_meaningful() -> None:
    emb = HashEmbedder()
    docs = emb.embed_documents([p[3] for p in PASSAGES])
    assert docs.shape == (len(PASSAGES), 384) and docs.dtype == np.float32
    assert np.allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(docs, HashEmbedder().embed_documents([p[3] for p in PASSAGES]))
    query = emb.embed_query("征兵宣传 参军入伍")
    sims = docs @ query
    assert int(np.argmax(sims)) == 1
    # Passing pre-computed terms gives the same vector as segmenting again.
    terms = [segment.index_terms(p[3]) for p in PASSAGES]
    assert np.allclose(emb.embed_documents([p[3] for p in PASSAGES], terms), docs)


def _hash_embedding_one_by_one(emb: HashEmbedder, text: str, terms: list[str]) -> np.ndarray:
    """The hashed embedding written plainly, one text and one feature at a time: what the batched
    numpy version must equal bit for bit (an index's stored vectors and its queries must agree)."""
    import re
    import zlib

    from pipeline.index import embedding

    table, default_idf = embedding._idf_table()
    vector = np.zeros(emb.dim, dtype=np.float64)
    for word in terms:
        h = zlib.crc32(word.encode("utf-8"))
        vector[h % emb.dim] += float(table.get(word, default_idf)) * embedding.WORD_WEIGHT * (1.0 if h & 0x80000000 else -1.0)
    kept = re.sub(r"[\W_]+", "", text)
    for a, b in zip(kept, kept[1:], strict=False):
        wrap = (1 << 64) - 1           # the numpy version computes in uint64
        key = ((((ord(a) * int(embedding._P)) & wrap) + ord(b) + 2) * int(embedding._MIX)) & wrap
        mixed = key >> 32
        vector[(mixed >> 1) % emb.dim] += (1.0 if mixed & 1 else -1.0) * embedding.BIGRAM_WEIGHT * default_idf
    vector[np.abs(vector) < 1e-9] = 0.0
    norm = np.linalg.norm(vector)
    return (vector / norm if norm > 0 else vector).astype(np.float32)


def test_hash_embedding_batch_equals_the_plain_definition() -> None:
    emb = HashEmbedder()
    texts = [p[3] for p in PASSAGES] + ["民兵_整组 ２０２３年😀𠀀Ⅻ段\x00abc-DEF。", "", "，。", "a", "征兵\n工作\t站"]
    terms = [segment.index_terms(t) for t in texts]
    batch = emb.embed_documents(texts, terms)
    for row, text in enumerate(texts):
        expected = _hash_embedding_one_by_one(HashEmbedder(), text, terms[row])
        np.testing.assert_allclose(batch[row], expected, rtol=0, atol=2e-7)


def test_hash_embedding_of_empty_text_is_zero() -> None:
    assert not HashEmbedder(64).embed_query("，。").any()


@pytest.mark.parametrize(
    ("spec", "name"),
    [(None, "hash-v1:384"), ("hash", "hash-v1:384"), ("hash-v1", "hash-v1:384"), ("hash:128", "hash-v1:128"),
     ("hash-v1:512", "hash-v1:512"), ("hash:384", "hash-v1:384")],
)
def test_resolve_embedder_names_round_trip(spec: str | None, name: str) -> None:
    emb = resolve_embedder(spec)
    assert emb.name == name
    assert resolve_embedder(emb.name).name == name


@pytest.mark.parametrize("spec", ["bert", "hash:abc", "hash:4", "st:/no/such/model/dir"])
def test_bad_embedder_specs(spec: str) -> None:
    with pytest.raises(UsageError):
        resolve_embedder(spec)


def test_sentence_transformer_needs_the_package(tmp_path: Path, monkeypatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_st(name, *args, **kwargs):
        if name.startswith("sentence_transformers"):
            raise ImportError("not installed")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_st)
    emb = resolve_embedder(f"st:{tmp_path}")
    assert emb.name == f"st:{tmp_path.resolve()}"
    with pytest.raises(UsageError, match="pip install"):
        emb.embed_query("民兵")


def test_chroma_embedding_function_adapter() -> None:
    ef = chroma_embedding_function("hash:128")
    assert ef.name() == "shuzhi" and ef.get_config() == {"embedder": "hash-v1:128"}
    vectors = ef(["民兵整组", "征兵宣传"])
    assert len(vectors) == 2 and len(vectors[0]) == 128
    rebuilt = type(ef).build_from_config(ef.get_config())
    assert np.allclose(rebuilt(["民兵整组"])[0], vectors[0])


# --------------------------------------------------------------------------- LangChain

class _FakeIndex:
    """Records the call and answers with fixed hits: isolates the retriever from storage."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def search(self, query: str, **kwargs) -> list[SearchHit]:
        self.calls.append((query, kwargs))
        return [SearchHit(c, 1.0 / (60 + i), bm25_rank=i, vector_rank=None) for i, c in enumerate(_chunks()[:2], 1)]


def test_retriever_passes_filters_and_maps_metadata() -> None:
    fake = _FakeIndex()
    retriever = ShuzhiRetriever(index=fake, k=2, region="栖桐县", year=2023, section="systems", mode="bm25")
    docs = retriever.invoke("民兵整组")
    assert fake.calls == [("民兵整组", {"k": 2, "section": "systems", "region": "栖桐县", "year": 2023,
                                        "mode": "bm25"})]
    assert [d.page_content for d in docs] == [PASSAGES[0][3], PASSAGES[1][3]]
    assert docs[0].metadata["chunk_id"] == "d0:0" and docs[0].metadata["bm25_rank"] == 1
    assert docs[0].id == "d0:0"


def test_hit_to_document_keeps_every_field() -> None:
    chunk = _chunks()[2]
    doc = hit_to_document(SearchHit(chunk, 0.5, bm25_rank=None, vector_rank=3))
    assert doc.metadata == {
        "chunk_id": "d2:0", "doc_id": "d2", "path": "r2.txt", "region": "栖桐县", "year": 2022,
        "section": "systems", "heading": "标题", "position": 0, "score": 0.5, "bm25_rank": None,
        "vector_rank": 3,
    }



def test_strip_enum_tail_equals_the_whole_passage_pattern() -> None:
    # The marker is looked for at the end only; it must agree with a `sub` over the whole passage.
    import random

    from pipeline.index.retrieval import _ENUM_TAIL, _strip_enum_tail

    rng = random.Random(3)
    alphabet = "一二三十是（）()12３、.．。民兵 \t\n\u3000"
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 14)))
        assert _strip_enum_tail(text) == _ENUM_TAIL.sub("", text).strip(), repr(text)
