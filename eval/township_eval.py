"""The township variant measured on its own corpus: parse, extraction, retrieval, checker and drafts.

Usage: .venv/bin/python eval/township_eval.py [--seeds N]

Corpus: corpus/township/ — fictional township and street reports of two invented counties over two
years (.txt, GBK .txt, .docx; two units written in another hand), each with its metrics file, built
from tagged sources in corpus/tools/src/township/ (the tags are the gold figures).
- parse: region and year read from the text as in the metrics file; the numbered sections found
  (`一、…` lines of the source); the section keys in order as the source's `sections:` gives them;
- extraction: every tagged figure of the source found by `extract_quantities` at its span with its
  value (recall), and found quantities that are a tagged figure (precision; years and dates excluded);
- retrieval: share of top-5 hits from township reports, for queries built from the township catalog,
  with the level preference (`level="镇"`) and without;
- checker: the perturbation recall and false findings of eval/checker_eval.py on township reports,
  next to the same figure on the county corpus (same seed and settings);
- drafts: every township metrics file (corpus and next-year) × seeds: bad findings, coverage,
  county-only phrases (编组乡镇, 全市, 县人武部党委第一书记), distinct-sentence ratio in one batch.
Writes eval/results/township_eval.json and .md.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "eval"))

import checker_eval  # noqa: E402
from evalkit import write_json, write_markdown  # noqa: E402

from corpus.tools.build_corpus import TAG_RE, split_source  # noqa: E402
from pipeline.drafting.draft import draft_report  # noqa: E402
from pipeline.facts.metrics import load_metrics  # noqa: E402
from pipeline.facts.quantities import extract_quantities  # noqa: E402
from pipeline.index.hybrid import HybridIndex  # noqa: E402
from pipeline.models import BAD_VERDICTS  # noqa: E402
from pipeline.profile.catalog import TOWNSHIP_PROFILE, level_class, load_catalog  # noqa: E402
from pipeline.reading.parse import parse_file  # noqa: E402

TOWNSHIP = ROOT / "corpus" / "township"
SOURCES = ROOT / "corpus" / "tools" / "src" / "township"
WORK = ROOT / "eval" / "_work" / "township_eval"
COUNTY_ONLY = ("编组乡镇", "全市", "县人武部党委第一书记")
HEADING = re.compile(r"^[一二三四五六七八九十]+、")


def _rendered(path: Path) -> tuple[str, list[tuple[int, int, Decimal | None]]]:
    """A source's text with its tags rendered, and the gold figures (span, value)."""
    _head, body = split_source(path)
    out: list[str] = []
    gold: list[tuple[int, int, Decimal | None]] = []
    pos = length = 0
    for match in TAG_RE.finditer(body):
        out.append(body[pos:match.start()])
        length += match.start() - pos
        value_text, shown = match.group(2), match.group(3)
        value = None if value_text in (None, "null") else Decimal(value_text)
        shown = shown if shown is not None else value_text
        gold.append((length, length + len(shown), value))
        out.append(shown)
        length += len(shown)
        pos = match.end()
    out.append(body[pos:])
    return "".join(out), gold


def parse_scores() -> dict:
    rows = []
    for source in sorted(SOURCES.glob("*.txt")):
        report_path = next(p for p in (TOWNSHIP / "reports").iterdir() if p.stem == source.stem)
        metrics = load_metrics(TOWNSHIP / "metrics" / f"{source.stem}.yaml")
        head, _body = split_source(source)
        text, _gold = _rendered(source)
        expected = sum(1 for line in text.splitlines() if HEADING.match(line.strip()))
        report = parse_file(str(report_path))
        numbered = [s for s in report.sections if s.heading and HEADING.match(s.heading)]
        keys = [s.key for s in report.sections]
        rows.append({"report": report_path.name, "region_ok": report.region == metrics.meta.region,
                     "year_ok": report.year == metrics.meta.year, "headings": f"{len(numbered)}/{expected}",
                     "headings_ok": len(numbered) == expected, "keys": keys, "gold_keys": head["sections"],
                     "keys_ok": keys == head["sections"]})
    n = len(rows)
    return {"reports": n, "rows": rows,
            "region_year": sum(r["region_ok"] and r["year_ok"] for r in rows),
            "headings": sum(r["headings_ok"] for r in rows), "body_keys": sum(r["keys_ok"] for r in rows)}


def extraction_scores() -> dict:
    gold_n = pred_n = span_tp = value_tp = pred_tp = 0
    misses: list[str] = []
    for source in sorted(SOURCES.glob("*.txt")):
        text, gold = _rendered(source)
        pred = [q for q in extract_quantities(text) if q.kind not in ("year", "date", "duration")]
        # A tag marks the figure's digits; the quantity's span also holds its unit (`16人`, `全县第二`).
        matched: set[int] = set()
        for start, end, value in gold:
            q = next((q for q in pred if q.start <= start and end <= q.end), None)
            if q is None:
                misses.append(f"{source.stem}: missed {text[start:end]!r}")
                continue
            matched.add(id(q))
            span_tp += 1
            value_tp += q.value == value
        misses += [f"{source.stem}: spurious {q.text!r}" for q in pred if id(q) not in matched]
        gold_n += len(gold)
        pred_n += len(pred)
        pred_tp += len(matched)
    return {"gold": gold_n, "predicted": pred_n, "span_recall": round(span_tp / gold_n, 4),
            "span_precision": round(pred_tp / pred_n, 4) if pred_n else 0.0,
            "value_recall": round(value_tp / gold_n, 4), "misses": misses[:20]}


def retrieval_scores(index: HybridIndex) -> dict:
    catalog = load_catalog(TOWNSHIP_PROFILE)
    queries = [(e.label + " " + " ".join(e.aliases[:2]), e.section) for e in catalog.values()
               if e.section in ("duty", "systems", "foundation")]
    shares = {"preferred": [], "unfiltered": []}
    for query, section in queries:
        for mode, level in (("preferred", "镇"), ("unfiltered", None)):
            hits = index.search(query, k=5, section=section, level=level)
            if hits:
                shares[mode].append(sum(level_class(h.chunk.region) == "township" for h in hits) / len(hits))
    return {"queries": len(queries),
            **{f"township_share_{m}": round(sum(v) / len(v), 4) if v else 0.0 for m, v in shares.items()}}


def checker_scores(seed: int, per_kind: int, rounds: int) -> dict:
    township = checker_eval.load_pairs(TOWNSHIP / "reports", TOWNSHIP / "metrics")
    county = checker_eval.load_pairs(ROOT / "corpus" / "reports", ROOT / "corpus" / "metrics")
    groups = {}
    for name, pairs in (("township", township), ("county", county)):
        g = checker_eval.evaluate(name, pairs, pairs, random.Random(seed), per_kind, rounds)
        groups[name] = {"reports": g.reports, "perturbed": g.perturbed, "recall": round(g.recall, 4),
                        "min_kind_recall": g.min_kind_recall, "figures": g.figures,
                        "false_findings": len(g.false_findings), "false_per_100": round(g.false_per_100, 3),
                        "kinds": g.rows, "misses": g.misses[:20]}
    return groups


def draft_scores(index: HybridIndex, seeds: int) -> dict:
    files = sorted((TOWNSHIP / "metrics").glob("*.yaml")) + sorted((TOWNSHIP / "next").glob("*.yaml"))
    verdicts: Counter[str] = Counter()
    expected = covered = county_phrases = 0
    batch: list[str] = []
    times: list[float] = []
    failures: list[str] = []
    for path in files:
        metrics = load_metrics(path)
        for seed in range(seeds):
            t0 = time.perf_counter()
            result = draft_report(metrics, index=index, seed=seed)
            times.append(time.perf_counter() - t0)
            verdicts.update(f.verdict for f in result.check.findings)
            want = {m.key for m in metrics.values if m.value is not None}
            stated = [k for _a, _b, k in result.figures]
            ok = sum(1 for k in want if stated.count(k) == 1)
            expected += len(want)
            covered += ok
            found = [w for w in COUNTY_ONLY if w in result.text]
            county_phrases += len(found)
            bad = [f for f in result.check.findings if f.verdict in BAD_VERDICTS]
            if bad or ok != len(want) or found:
                failures.append(f"{path.name} seed {seed}: bad={[(f.verdict, f.text) for f in bad]} "
                                f"coverage={ok}/{len(want)} county={found}")
            if seed == 0:
                batch += [r.text for r in result.sentences]
    times.sort()
    return {"drafts": len(times), "units": len(files), "seeds": seeds,
            "bad_findings": sum(verdicts[v] for v in BAD_VERDICTS), "findings": dict(verdicts),
            "metrics_expected": expected, "metrics_covered": covered, "county_phrases": county_phrases,
            "distinct_one_batch": round(len(set(batch)) / len(batch), 4) if batch else 0.0,
            "draft_ms_p50": round(times[len(times) // 2] * 1000, 1), "failures": failures[:20]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20231, help="checker perturbation seed (as checker_eval)")
    parser.add_argument("--per-kind", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if WORK.exists():
        shutil.rmtree(WORK)
    index = HybridIndex.open(WORK / "index")
    index.ingest([ROOT / "corpus" / "reports", TOWNSHIP / "reports"])
    parse = parse_scores()
    extraction = extraction_scores()
    retrieval = retrieval_scores(index)
    checker = checker_scores(args.seed, args.per_kind, args.rounds)
    drafts = draft_scores(index, args.seeds)
    t, c = checker["township"], checker["county"]
    floors = {
        "drafts_bad_zero": drafts["bad_findings"] == 0,
        "drafts_coverage_full": drafts["metrics_covered"] == drafts["metrics_expected"],
        "drafts_no_county_phrase": drafts["county_phrases"] == 0,
        "checker_recall_at_least_county": t["recall"] >= c["recall"],
    }
    payload = {"parse": parse, "extraction": extraction, "retrieval": retrieval, "checker": checker,
               "drafts": drafts, "floors": floors, "seconds": round(time.perf_counter() - started, 1)}
    write_json("township_eval", payload)
    n = parse["reports"]
    md = [
        "## Township reports (profile dangguan-wuzhuang-township)",
        "",
        f"`.venv/bin/python eval/township_eval.py --seeds {args.seeds}` — {n} fictional township/street reports of "
        "two invented counties over two years (`corpus/township/`, .txt, GBK .txt and .docx, two units in another "
        "hand) with their metrics; gold figures are the tags of `corpus/tools/src/township/`.",
        "",
        "| stage | measure | value | floor |",
        "|---|---|---|---|",
        f"| parse | region and year right / numbered sections all found / section keys as the source's gold | "
        f"{parse['region_year']}/{n} / {parse['headings']}/{n} / {parse['body_keys']}/{n} | – |",
        f"| extraction | tagged figures: span recall / value recall / span precision ({extraction['gold']} figures) | "
        f"{extraction['span_recall']:.3f} / {extraction['value_recall']:.3f} / {extraction['span_precision']:.3f} | ≥ 0.95 |",
        f"| retrieval | township share of top-5, level preferred vs unfiltered ({retrieval['queries']} queries) | "
        f"{retrieval['township_share_preferred']:.3f} vs {retrieval['township_share_unfiltered']:.3f} | preferred higher |",
        f"| checker | perturbation recall, township vs county corpus (seed {args.seed}) | "
        f"{t['recall']:.3f} ({t['perturbed']}) vs {c['recall']:.3f} ({c['perturbed']}) | township ≥ county |",
        f"| checker | false findings per 100 figures, township ({t['figures']} figures) | {t['false_per_100']:.2f} | ≤ 1 |",
        f"| drafts | bad findings / coverage / county-only phrases ({drafts['drafts']} drafts) | "
        f"{drafts['bad_findings']} / {drafts['metrics_covered']}/{drafts['metrics_expected']} / "
        f"{drafts['county_phrases']} | 0 / all / 0 |",
        f"| drafts | distinct-sentence ratio, one batch ({drafts['units']} units) / p50 | "
        f"{drafts['distinct_one_batch']:.3f} / {drafts['draft_ms_p50']:.0f} ms | – |",
        "",
        "Floors: " + ("all met." if all(floors.values()) else
                      "NOT met: " + ", ".join(k for k, v in floors.items() if not v) + "."),
        "",
        "Caveat: in-sample. The township corpus and the township phrase banks were written by the same engineer, "
        "and the checker was changed once for it (below); the two reports in another hand (潮音镇: `（一）` points and "
        "headings ending in `：`; 滨港街道: `1、` points, 党工委) are the closest thing to a blind test here. Their "
        "first run found the parser not reading a 街道 name from the title (fixed since: region 8/10 → 10/10) and "
        "keying 潮音镇's 党委议军 heading as systems (not fixed). The checker's one miss on the first run, a stale "
        "percentage (登记率 99％ for this year's 99.4％ when last year's was 99.0, accepted as this year's "
        "rounded), is fixed: a figure that is exactly last year's and this year's only by rounding is stale. The "
        "township perturbations are picked from the gold tags of corpus/tools/src/township/ (before that fix to "
        "eval/checker_eval.py they silently fell back to 10 mask/name perturbations).",
    ]
    write_markdown("township_eval", md)
    print("\n".join(md))
    for line in drafts["failures"][:10] + extraction["misses"][:10]:
        print("  ", line)
    return 0 if all(floors.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
