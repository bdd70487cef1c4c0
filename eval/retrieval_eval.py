"""Retrieval quality: recall@5 and MRR of hybrid vs BM25-only vs vectors-only vs LangChain's stock
BM25Retriever (default whitespace tokenizer), side by side, on eval/retrieval_queries.yaml.

Usage: .venv/bin/python eval/retrieval_eval.py [--sweep]

The corpus (corpus/reports) is ingested into a scratch index under eval/_work/. Relevant passages
are given as (report file, distinctive substring) and resolved to chunks here, so the annotations
survive re-chunking; a substring that matches no chunk stops the run. Filters in a query apply to
every row (for LangChain's retriever, which has no filters, by indexing only the matching chunks).
A sweep of RRF constants and vector weights is printed and written too (`--sweep`: a wider
grid), showing how the defaults in pipeline/retrieval.py were chosen.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evalkit import write_json, write_markdown  # noqa: E402

from pipeline.index.hybrid import HybridIndex  # noqa: E402
from pipeline.models import Chunk  # noqa: E402

WORK = ROOT / "eval" / "_work" / "retrieval_eval"
QUERIES = ROOT / "eval" / "retrieval_queries.yaml"
K = 5
MRR_DEPTH = 10


@dataclass(frozen=True)
class Query:
    text: str
    relevant: frozenset[str]          # chunk ids
    filters: dict
    paraphrase: bool


def load_queries(chunks: list[Chunk]) -> list[Query]:
    data = yaml.safe_load(QUERIES.read_text(encoding="utf-8"))
    queries: list[Query] = []
    for n, item in enumerate(data["queries"], start=1):
        ids: set[str] = set()
        for file_name, needle in item["relevant"]:
            found = {c.chunk_id for c in chunks if Path(c.path).name == file_name and needle in c.text}
            if not found:
                raise SystemExit(f"{QUERIES.name} 第 {n} 条“{item['query']}”：{file_name} 中没有含“{needle}”的段落")
            ids |= found
        queries.append(Query(item["query"], frozenset(ids), dict(item.get("filters") or {}),
                             item.get("kind") == "paraphrase"))
    return queries


def score(ranked: list[str], relevant: frozenset[str]) -> tuple[float, float]:
    recall = len(set(ranked[:K]) & relevant) / len(relevant)
    rr = next((1.0 / r for r, cid in enumerate(ranked[:MRR_DEPTH], start=1) if cid in relevant), 0.0)
    return recall, rr


def evaluate(rank_fn, queries: list[Query]) -> dict[str, float]:
    rows = {"all": [], "literal": [], "paraphrase": []}
    for q in queries:
        recall, rr = score(rank_fn(q), q.relevant)
        rows["all"].append((recall, rr))
        rows["paraphrase" if q.paraphrase else "literal"].append((recall, rr))
    out: dict[str, float] = {}
    for name, values in rows.items():
        if values:
            out[f"recall@{K}_{name}"] = round(sum(v[0] for v in values) / len(values), 3)
            out[f"mrr_{name}"] = round(sum(v[1] for v in values) / len(values), 3)
    return out


def langchain_ranker(chunks: list[Chunk]):
    """LangChain's stock BM25Retriever, default preprocessing (str.split), one per filter set."""
    from langchain_community.retrievers import BM25Retriever
    from langchain_core.documents import Document

    cache: dict[tuple, object] = {}

    def rank(q: Query) -> list[str]:
        key = tuple(sorted(q.filters.items()))
        if key not in cache:
            keep = [c for c in chunks if _passes(c, q.filters)]
            docs = [Document(page_content=c.text, metadata={"id": c.chunk_id}) for c in keep]
            cache[key] = BM25Retriever.from_documents(docs, k=MRR_DEPTH)
        return [d.metadata["id"] for d in cache[key].invoke(q.text)]

    return rank


def _passes(chunk: Chunk, filters: dict) -> bool:
    return (filters.get("section") in (None, chunk.section_key) and filters.get("region") in (None, chunk.region)
            and filters.get("year") in (None, chunk.year))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sweep", action="store_true", help="a wider grid of RRF constants")
    args = parser.parse_args(argv)

    index = HybridIndex.open(WORK / "index")
    summary = index.ingest([ROOT / "corpus" / "reports"], rebuild=True)
    if summary.failed:
        print("ingest failures:", summary.failed, file=sys.stderr)
    chunks = index.all_chunks()
    queries = load_queries(chunks)

    def ours(mode: str):
        return lambda q: [h.chunk.chunk_id for h in index.search(q.text, k=MRR_DEPTH, mode=mode, **q.filters)]

    rows = {
        "hybrid (BM25 + vectors, RRF)": evaluate(ours("hybrid"), queries),
        "BM25 only (jieba terms)": evaluate(ours("bm25"), queries),
        "vectors only (hashed, Chroma)": evaluate(ours("vector"), queries),
        "LangChain BM25Retriever (default)": evaluate(langchain_ranker(chunks), queries),
    }
    hybrid = rows["hybrid (BM25 + vectors, RRF)"]
    others = [v for k, v in rows.items() if not k.startswith("hybrid")]
    beats = all(hybrid[f"recall@{K}_all"] > o[f"recall@{K}_all"] and hybrid["mrr_all"] > o["mrr_all"] for o in others)

    n_para = sum(q.paraphrase for q in queries)
    header = (f"{len(queries)} queries ({n_para} paraphrases, {sum(bool(q.filters) for q in queries)} filtered), "
              f"{len(chunks)} chunks from {summary.documents} reports")
    print(header)
    print(f"{'retriever':36} {'R@5':>6} {'MRR':>6} {'R@5 lit':>8} {'R@5 para':>9} {'MRR para':>9}")
    for name, r in rows.items():
        print(f"{name:36} {r['recall@5_all']:>6.3f} {r['mrr_all']:>6.3f} {r['recall@5_literal']:>8.3f} "
              f"{r['recall@5_paraphrase']:>9.3f} {r['mrr_paraphrase']:>9.3f}")
    print(f"hybrid beats every other row on recall@5 and MRR: {'yes' if beats else 'NO'}")

    # The sweep is cheap, so it always runs: it shows how the defaults were chosen and how
    # sensitive the result is to them (a reader should see the plateau, not one lucky point).
    chosen = (index.rrf_k, index.vector_weight)
    sweep: dict[str, str] = {}
    constants = (1, 2, 5, 10, 60) if not args.sweep else (1, 2, 3, 5, 10, 20, 60, 100)
    weights = (0.25, 0.35, 0.5, 1.0)
    print("\nsweep (hybrid, BM25 weight 1): R@5/MRR by RRF constant (rows) and vector weight (columns)")
    print("  k    " + " ".join(f"{w:>11}" for w in weights))
    for rrf_k in constants:
        cells = []
        for weight in weights:
            index.rrf_k, index.vector_weight = rrf_k, weight
            r = evaluate(ours("hybrid"), queries)
            cells.append(f"{r[f'recall@{K}_all']:.3f}/{r['mrr_all']:.3f}")
        sweep[str(rrf_k)] = " | ".join(cells)
        print(f"  {rrf_k:<4} " + " ".join(f"{c:>11}" for c in cells))
    index.rrf_k, index.vector_weight = chosen

    figures = {"queries": len(queries), "paraphrases": n_para, "chunks": len(chunks), "k": K,
               "mrr_depth": MRR_DEPTH, "rows": rows, "hybrid_beats_all": beats,
               "fusion": {"rrf_k": chosen[0], "vector_weight": chosen[1], "sweep_weights": list(weights),
                          "sweep": sweep}}
    write_json("retrieval_eval", figures)
    md = [
        "## Retrieval: hybrid vs single retrievers vs LangChain's stock BM25",
        "",
        f"`.venv/bin/python eval/retrieval_eval.py` — {header}. Relevant passages are annotated by "
        f"report file + substring in `eval/retrieval_queries.yaml`; MRR over the top {MRR_DEPTH}.",
        "",
        "| retriever | recall@5 | MRR | recall@5 literal | recall@5 paraphrase | MRR paraphrase |",
        "|---|---|---|---|---|---|",
        *[f"| {name} | {r['recall@5_all']:.3f} | {r['mrr_all']:.3f} | {r['recall@5_literal']:.3f} | "
          f"{r['recall@5_paraphrase']:.3f} | {r['mrr_paraphrase']:.3f} |" for name, r in rows.items()],
        "",
        f"Hybrid beats every other row on recall@5 and MRR: **{'yes' if beats else 'no'}**. LangChain's "
        "default tokenizer splits on whitespace, so a Chinese passage is one \"word\"; it only matches "
        "queries that repeat a whole space-free passage.",
        "",
        f"Fusion sweep (recall@5/MRR; defaults: RRF constant {chosen[0]}, vector weight {chosen[1]}, "
        "BM25 weight 1). The recall gain over BM25 holds across small constants and light vector "
        "weights; the MRR gain is small and needs a small constant. With the paper's 60 and equal "
        "weights the hybrid is worse than BM25 alone on this genre.",
        "",
        "| RRF constant | " + " | ".join(f"vector weight {w}" for w in weights) + " |",
        "|---|" + "---|" * len(weights),
        *[f"| {k} | {v} |" for k, v in sweep.items()],
        "",
    ]
    write_markdown("retrieval_eval", md)
    return 0 if beats else 1


if __name__ == "__main__":
    sys.exit(main())
