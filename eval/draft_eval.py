"""Draft quality: for every region-year in the corpus with a following year's metrics, draft that
following year with the template engine and measure what a reviewer would.

Usage: .venv/bin/python eval/draft_eval.py [--seeds 5]

Per draft: the checker's findings on the whole text (with `prior` = the region's previous metrics and
past_texts = the region's earlier corpus reports, for stale detection); coverage (every metric with a
figure stated exactly once, in its catalog section, and the checker aligns it to that metric);
sentences with figures copied verbatim from any corpus report; section lengths; repairs. Over all
drafts: distinct-sentence ratio (units and seeds should not read alike) and draft time p50/p95 in
one process (index and profile loaded once, as the batch does).

Floors: 0 contradicted/stale/unsupported/masked; coverage 100 %; 0 verbatim figure sentences;
p50 < 2 s; distinct-sentence ratio within one batch (seed 0) ≥ 0.75. Also compared on one batch:
strict re-binding (default), loose re-binding and `--no-corpus` (`batch_modes`).

Reading like a report (issue 10), in both modes — default (`history=False`: the plan, phrase banks
and retrieved corpus sub-points) and update mode (over the region's previous-year report in the
index): comparisons with last year per draft (each judged `derived` by the checker), corpus share
(body sentences — 履职/制度落实/基础建设 — carrying corpus provenance), stock-word density per 1,000
characters against the seed report's, duplicate sentences, heading–body agreement (a sub-point's
topic and its body share one of the facet's words), and in update mode the share of last year's
body sentences kept (re-bound or carried) and stale figures. Floors: comparisons ≥ 4 in every
draft; corpus share ≥ 0.30 (default mode, in total); update mode keeps ≥ 60 % of last year's body
sentences with 0 stale figures; stock density ≤ the seed's (mean per mode); 0 duplicates.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evalkit import write_json, write_markdown  # noqa: E402

from pipeline.drafting.draft import draft_report  # noqa: E402
from pipeline.drafting.plan import load_profile  # noqa: E402
from pipeline.drafting.style import load_style, stock_density  # noqa: E402
from pipeline.facts.metrics import load_metrics  # noqa: E402
from pipeline.facts.numerals import fullwidth_to_ascii  # noqa: E402
from pipeline.index.hybrid import HybridIndex  # noqa: E402
from pipeline.models import BAD_VERDICTS  # noqa: E402
from pipeline.reading.readers import read_text  # noqa: E402
from pipeline.reading.sentences import sentences as split_sentences  # noqa: E402

WORK = ROOT / "eval" / "_work" / "draft_eval"
CORPUS = ROOT / "corpus"
_STEM = re.compile(r"^(?P<region>[a-z]+)-(?P<year>\d{4})$")
_HAS_FIGURE = re.compile(r"[0-9０-９]")
P50_FLOOR = 2.0
BATCH_DISTINCT_FLOOR = 0.75      # units of one batch must not read alike
COMPARISONS_FLOOR = 4
CORPUS_SHARE_FLOOR = 0.30
KEPT_SHARE_FLOOR = 0.60
BODY = ("duty", "systems", "foundation")
SEED_REPORT = CORPUS / "reports" / "000_82892d5cb8a93b68.txt"
_SUBPOINT = re.compile(r"^[一二三四五六七八九十]+是")


def comparisons(result) -> int:  # noqa: ANN001 - DraftResult
    """Changes against last year the draft states (较上年…, 连续两年保持…)."""
    return sum(r.comparisons for r in result.sentences)


def derived_changes(result) -> int:  # noqa: ANN001
    return sum(1 for f in result.check.findings if f.verdict == "derived")


def body_records(result) -> list:  # noqa: ANN001
    return [r for r in result.sentences if r.section in BODY]


def corpus_share(result) -> tuple[int, int]:  # noqa: ANN001
    body = body_records(result)
    return sum(1 for r in body if r.sources and r.origin in ("", "new")), len(body)


def duplicates(result) -> int:  # noqa: ANN001
    counts = Counter(_norm(r.text) for r in result.sentences if len(r.text) > 6)
    return sum(n - 1 for n in counts.values() if n > 1)


def _facet_terms(profile) -> dict[str, set[str]]:  # noqa: ANN001
    terms: dict[str, set[str]] = {}
    for section in profile.sections:
        for facet in section.facets:
            words = set(facet.keywords)
            for key in facet.metrics:
                entry = profile.catalog.get(key)
                if entry is not None:
                    words.update(re.findall(r"[\u4e00-\u9fff]{2}", entry.label))
            terms[facet.id] = words
    return terms


def heading_agreement(result, terms: dict[str, set[str]]) -> tuple[int, int]:  # noqa: ANN001
    """Sub-points whose topic clause and body share one of the facet's words, of all sub-points
    with a facet that has words."""
    agree = total = 0
    records = [r for r in result.sentences if r.section in BODY]
    for i, r in enumerate(records):
        if not _SUBPOINT.match(r.text) or not terms.get(r.facet or ""):
            continue
        body = ""
        for nxt in records[i + 1:]:
            if _SUBPOINT.match(nxt.text) or nxt.facet != r.facet:
                break
            body += nxt.text
        words = terms[r.facet]
        total += 1
        agree += any(w in r.text and w in body for w in words)
    return agree, total


def kept_share(result, past_text_by_section: dict[str, int]) -> tuple[int, int]:  # noqa: ANN001
    """Last year's body sentences kept in the draft (re-bound or carried), of all of them."""
    kept = sum(1 for r in body_records(result) if r.origin in ("kept", "rebound") and not _SUBPOINT.match(r.text))
    return kept, sum(past_text_by_section.get(k, 0) for k in BODY)


def last_year_body_sentences(index, metrics) -> dict[str, int]:  # noqa: ANN001
    """Body sentences (topic clauses excluded) of the previous-year report update mode starts from."""
    from pipeline.drafting.history import previous_from_index

    past = previous_from_index(index, metrics)
    out: dict[str, int] = {}
    if past is None:
        return out
    for section in past.sections:
        for passage in section.passages:
            parts = split_sentences(passage.text)
            if parts and len(parts[0]) <= 24 and not _HAS_FIGURE.search(parts[0]) and section.key in BODY:
                parts = parts[1:]
            out[section.key] = out.get(section.key, 0) + len(parts)
    return out


def pairs() -> list[tuple[Path, Path, str, int]]:
    """(prior metrics, next-year metrics, region stem, next year) for every region-year with a
    following year's metrics, in the corpus or among the demo samples."""
    files: dict[tuple[str, int], Path] = {}
    for path in sorted((CORPUS / "metrics").glob("*.yaml")) + sorted((CORPUS / "sample" / "next").glob("*.yaml")):
        m = _STEM.match(path.stem)
        if m:
            files[(m["region"], int(m["year"]))] = path
    sample = CORPUS / "sample" / "metrics.yaml"
    if sample.exists():
        meta = load_metrics(sample).meta
        for (region, year), path in list(files.items()):
            if year == meta.year - 1 and load_metrics(path).meta.region == meta.region:
                files.setdefault((region, meta.year), sample)
    out = []
    for (region, year), path in sorted(files.items()):
        following = files.get((region, year + 1))
        if following is not None:
            out.append((path, following, region, year + 1))
    return out


_CLAUSE = re.compile(r"[^，；。：]+")


def detail_clauses(result) -> int:  # noqa: ANN001 - DraftResult
    """Re-bound corpus sentences holding a clause with no figure of this year's: the other county's
    works, events or claims (`投入…，改造训练场和装备仓库`, `…，创历史新高`) carried into this draft."""
    count = 0
    for r in result.sentences:
        if not (r.sources and r.metric_keys):
            continue
        spans = [(a - r.start, b - r.start) for a, b, _k in result.figures if r.start <= a < r.end]
        for m in _CLAUSE.finditer(r.text):
            # a comparison with last year (`较上年增加8人`) is this unit's derived figure, not a detail
            if m.group().startswith(("较上年", "比上年")):
                continue
            if not any(m.start() <= a < m.end() for a, _b in spans) and len(m.group().strip()) > 2:
                count += 1
                break
    return count


def batch_modes(index, reports: dict[str, str]) -> dict[str, dict[str, float]]:  # noqa: ANN001
    """One batch (seed 0, every region-year) per corpus-reuse mode: the default strict re-binding,
    loose re-binding (any sentence whose figures all re-bind), and no corpus sentences at all."""
    from pipeline.drafting.engines.template import TemplateEngine

    modes = {
        "strict (default)": {"engine": TemplateEngine()},
        "loose re-binding": {"engine": TemplateEngine(strict_rebind=False)},
        "--no-corpus": {"engine": "template", "reuse_corpus": False},
    }
    out: dict[str, dict[str, float]] = {}
    for name, kwargs in modes.items():
        sentences: list[str] = []
        plain = rebound = details = bad = 0
        for prior_path, path, region, year in pairs():
            past = tuple((text, int(stem[-4:])) for stem, text in reports.items()
                         if stem.startswith(region + "-") and int(stem[-4:]) < year)
            result = draft_report(load_metrics(path), index=index, seed=0, prior=load_metrics(prior_path),
                                  past_texts=past, history=False, **kwargs)
            bad += sum(1 for f in result.check.findings if f.verdict in BAD_VERDICTS)
            details += detail_clauses(result)
            for r in result.sentences:
                sentences.append(r.text)
                if r.sources:
                    rebound += bool(r.metric_keys)
                    plain += not r.metric_keys
        out[name] = {"distinct_one_batch": round(len(set(sentences)) / len(sentences), 4),
                     "reused_number_free": plain, "reused_rebound": rebound,
                     "rebound_with_foreign_detail": details, "bad_findings": bad}
    return out


def _reading_row(path: Path, seed: int, result, terms, style) -> dict:  # noqa: ANN001
    corpus, body = corpus_share(result)
    agree, subpoints = heading_agreement(result, terms)
    return {"metrics": path.name, "seed": seed, "comparisons": comparisons(result),
            "derived": derived_changes(result), "corpus": corpus, "body": body,
            "stock_density": round(stock_density(result.text, style.stock_words), 2),
            "duplicates": duplicates(result), "agree": agree, "subpoints": subpoints,
            "bad": sum(1 for f in result.check.findings if f.verdict in BAD_VERDICTS),
            "stale": sum(1 for f in result.check.findings if f.verdict == "stale")}


def _reading_summary(rows: list[dict], seed_density: float) -> dict:
    if not rows:
        return {"drafts": 0, "comparisons_min": 0, "derived_min": 0, "comparisons_mean": 0.0, "corpus_share": 0.0, "kept_share": 0.0,
                "stale": 0, "bad": 0, "stock_density_mean": 0.0, "stock_density_max": 0.0, "duplicates": 0,
                "heading_agreement": 0.0}
    kept = sum(r.get("kept", 0) for r in rows)
    last = sum(r.get("last_year_body", 0) for r in rows)
    return {
        "drafts": len(rows),
        "comparisons_min": min(r["comparisons"] for r in rows),
        "derived_min": min(r["derived"] for r in rows),
        "comparisons_mean": statistics.mean(r["comparisons"] for r in rows),
        "corpus_share": sum(r["corpus"] for r in rows) / max(1, sum(r["body"] for r in rows)),
        "kept_share": kept / last if last else 0.0,
        "stale": sum(r["stale"] for r in rows), "bad": sum(r["bad"] for r in rows),
        "stock_density_mean": statistics.mean(r["stock_density"] for r in rows),
        "stock_density_max": max(r["stock_density"] for r in rows),
        "seed_stock_density": round(seed_density, 2),
        "duplicates": sum(r["duplicates"] for r in rows),
        "heading_agreement": sum(r["agree"] for r in rows) / max(1, sum(r["subpoints"] for r in rows)),
    }


def _norm(text: str) -> str:
    return fullwidth_to_ascii(text).replace("％", "%").replace(" ", "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=5, help="seeds per region-year (default 5)")
    args = parser.parse_args(argv)

    reports = {p.stem: read_text(p) for p in sorted((CORPUS / "reports").iterdir()) if p.is_file()}
    corpus_sentences = {_norm(s) for text in reports.values() for s in split_sentences(text) if _HAS_FIGURE.search(s)}
    index_dir = WORK / "index"
    if index_dir.exists():
        shutil.rmtree(index_dir)
    index = HybridIndex.open(index_dir)
    index.ingest([CORPUS / "reports"])

    rows = []
    times: list[float] = []
    all_sentences: list[str] = []
    section_lengths: dict[str, list[int]] = {}
    verdicts: Counter[str] = Counter()
    total_metrics = covered = verbatim = repairs = reused_plain = reused_rebound = 0
    batch_sentences: list[str] = []     # seed 0 only: one batch of different units
    failures: list[str] = []
    draft_report(load_metrics(pairs()[0][1]), index=index, history=False)  # warm-up: jieba, parser, caches
    style = load_style()
    terms = _facet_terms(load_profile())
    seed_density = stock_density(read_text(SEED_REPORT), style.stock_words)
    reading: dict[str, list[dict]] = {"default": [], "update": []}
    for prior_path, path, region, year in pairs():
        metrics = load_metrics(path)
        prior = load_metrics(prior_path)
        past = tuple((text, int(stem[-4:])) for stem, text in reports.items()
                     if stem.startswith(region + "-") and int(stem[-4:]) < year)
        for seed in range(args.seeds):
            t0 = time.perf_counter()
            result = draft_report(metrics, index=index, seed=seed, prior=prior, past_texts=past, history=False)
            times.append(time.perf_counter() - t0)
            reading["default"].append(_reading_row(path, seed, result, terms, style))
            bad = [f for f in result.check.findings if f.verdict in BAD_VERDICTS]
            verdicts.update(f.verdict for f in result.check.findings)
            repairs += len(result.repairs)
            # Coverage: each metric with a figure, stated once, in its section, aligned to itself.
            supported_at = {(f.start, f.end): f.metric for f in result.check.findings if f.verdict == "supported"}
            record_section = [(r.start, r.end, r.section) for r in result.sentences]
            ok_keys = 0
            expected = [m for m in metrics.values if m.value is not None]
            for m in expected:
                spans = [(a, b) for a, b, k in result.figures if k == m.key]
                if len(spans) != 1:
                    continue
                a, b = spans[0]
                section = next((s for s0, s1, s in record_section if s0 <= a < s1), None)
                if section == m.section and supported_at.get((a, b)) == m.key:
                    ok_keys += 1
                elif section == m.section and m.custom:
                    ok_keys += 1
            total_metrics += len(expected)
            covered += ok_keys
            copies = [r.text for r in result.sentences if _HAS_FIGURE.search(r.text) and _norm(r.text) in corpus_sentences]
            verbatim += len(copies)
            for r in result.sentences:
                all_sentences.append(r.text)
                if seed == 0:
                    batch_sentences.append(r.text)
                if r.sources:
                    if r.metric_keys:
                        reused_rebound += 1
                    else:
                        reused_plain += 1
            for key in {r.section for r in result.sentences}:
                section_lengths.setdefault(key, []).append(sum(len(r.text) for r in result.sentences if r.section == key))
            if bad or ok_keys != len(expected) or copies:
                failures.append(f"{path.name} seed {seed}: bad={[(f.verdict, f.text) for f in bad]} "
                                f"coverage={ok_keys}/{len(expected)} copies={copies[:2]}")
            rows.append({"metrics": str(path.relative_to(ROOT)), "seed": seed, "bad_findings": len(bad),
                         "coverage": f"{ok_keys}/{len(expected)}", "verbatim": len(copies),
                         "repairs": len(result.repairs), "chars": len(result.text),
                         "seconds": round(times[-1], 4)})

    # Update mode: over the region's previous-year report held by the index.
    update_failures: list[str] = []
    for prior_path, path, region, year in pairs():
        metrics = load_metrics(path)
        prior = load_metrics(prior_path)
        past = tuple((text, int(stem[-4:])) for stem, text in reports.items()
                     if stem.startswith(region + "-") and int(stem[-4:]) < year)
        last_year = last_year_body_sentences(index, metrics)
        for seed in range(min(args.seeds, 2)):
            result = draft_report(metrics, index=index, seed=seed, prior=prior, past_texts=past)
            row = _reading_row(path, seed, result, terms, style)
            row["based_on"] = Path(result.based_on).name if result.based_on else None
            row["kept"], row["last_year_body"] = kept_share(result, last_year)
            row["stale"] = sum(1 for f in result.check.findings if f.verdict == "stale")
            reading["update"].append(row)
            if row["bad"] or not result.based_on:
                update_failures.append(f"{path.name} seed {seed} (update): based_on={row['based_on']} "
                                       f"bad={[(f.verdict, f.text) for f in result.check.findings if f.verdict in BAD_VERDICTS]}")
            # coverage in update mode: every metric with a figure stated once
            stated = Counter(k for _a, _b, k in result.figures)
            expected = [m.key for m in metrics.values if m.value is not None]
            row["coverage"] = f"{sum(1 for k in expected if stated[k] == 1)}/{len(expected)}"
            if sum(1 for k in expected if stated[k] == 1) != len(expected):
                update_failures.append(f"{path.name} seed {seed} (update): coverage {row['coverage']}")

    modes = batch_modes(index, reports)
    n = len(rows)
    bad_total = sum(verdicts[v] for v in BAD_VERDICTS)
    times_sorted = sorted(times)
    p50 = statistics.median(times_sorted)
    p95 = times_sorted[min(len(times_sorted) - 1, int(0.95 * len(times_sorted)))]
    distinct = len(set(all_sentences)) / len(all_sentences) if all_sentences else 0.0
    batch_distinct = len(set(batch_sentences)) / len(batch_sentences) if batch_sentences else 0.0
    lengths = {k: round(statistics.mean(v)) for k, v in section_lengths.items()}
    summary_reading = {mode: _reading_summary(rows_, seed_density) for mode, rows_ in reading.items()}
    upd, dflt = summary_reading["update"], summary_reading["default"]
    floors = {
        # counted as the checker's `derived` findings: a comparison it could not derive does not count
        "comparisons_at_least_4_per_draft": min(dflt["derived_min"], upd["derived_min"]) >= COMPARISONS_FLOOR,
        "corpus_share_at_least_0.30_default": dflt["corpus_share"] >= CORPUS_SHARE_FLOOR,
        "update_keeps_at_least_0.60": upd["kept_share"] >= KEPT_SHARE_FLOOR,
        "update_stale_zero": upd["stale"] == 0,
        "update_bad_findings_zero": upd["bad"] == 0 and not update_failures,
        "stock_density_at_most_seed": dflt["stock_density_mean"] <= seed_density and upd["stock_density_mean"] <= seed_density,
        "duplicates_zero": dflt["duplicates"] == 0 and upd["duplicates"] == 0,
        "bad_findings_zero": bad_total == 0,
        "coverage_full": covered == total_metrics,
        "verbatim_zero": verbatim == 0,
        "p50_under_2s": p50 < P50_FLOOR,
        "batch_distinct_at_least_0.75": batch_distinct >= BATCH_DISTINCT_FLOOR,
    }
    summary = {
        "drafts": n, "region_years": len(pairs()), "seeds": args.seeds,
        "findings": dict(verdicts), "bad_findings": bad_total,
        "metrics_expected": total_metrics, "metrics_covered": covered,
        "coverage": round(covered / total_metrics, 4) if total_metrics else None,
        "verbatim_figure_sentences": verbatim, "repairs": repairs,
        "distinct_sentence_ratio": round(distinct, 4),
        "distinct_sentence_ratio_one_batch": round(batch_distinct, 4),
        "corpus_sentences_reused": {"number_free": reused_plain, "figures_rebound": reused_rebound},
        "section_chars_mean": lengths,
        "draft_seconds_p50": round(p50, 4), "draft_seconds_p95": round(p95, 4),
        "corpus_reuse_modes": modes,
        "reading": summary_reading, "seed_stock_density": round(seed_density, 2),
        "reading_rows": reading, "update_failures": update_failures[:20],
        "floors": floors, "failures": failures[:20], "rows": rows,
    }
    write_json("draft_eval", summary)
    order = ["opening", "duty", "systems", "foundation", "plans", "closing"]
    md = [
        "## Drafting: template engine on every corpus region-year with a following year",
        "",
        f"`.venv/bin/python eval/draft_eval.py --seeds {args.seeds}` — {n} drafts "
        f"({len(pairs())} region-years × {args.seeds} seeds), checked with prior metrics and the region's past reports.",
        "",
        "| measure | value | floor |",
        "|---|---|---|",
        f"| bad findings (contradicted/stale/unsupported/masked) | {bad_total} | 0 |",
        f"| coverage (stated once, in its section, aligned) | {covered}/{total_metrics} | all |",
        f"| corpus sentences with figures copied verbatim | {verbatim} | 0 |",
        f"| distinct-sentence ratio, one batch (seed 0, {len(pairs())} units) | {batch_distinct:.3f} | ≥ {BATCH_DISTINCT_FLOOR} |",
        f"| distinct-sentence ratio, all drafts (units × seeds) | {distinct:.3f} | – |",
        f"| corpus sentences reused: number-free / figures re-bound | {reused_plain} / {reused_rebound} | – |",
        f"| repairs needed (re-asks over all drafts) | {repairs} | – |",
        f"| draft time p50 / p95 (in process) | {p50 * 1000:.0f} ms / {p95 * 1000:.0f} ms | p50 < 2 s |",
        "| mean section length (chars) | " + "，".join(f"{k} {lengths[k]}" for k in order if k in lengths) + " | – |",
        "",
        "Corpus reuse modes (one batch: seed 0, every region-year):",
        "",
        "| mode | distinct ratio | reused number-free / re-bound | re-bound with another county's detail | bad findings |",
        "|---|---|---|---|---|",
        *(f"| {name} | {m['distinct_one_batch']:.3f} | {m['reused_number_free']} / {m['reused_rebound']} | "
          f"{m['rebound_with_foreign_detail']} | {m['bad_findings']} |" for name, m in modes.items()),
        "",
        "Reading like a report (issue 10): default mode (`history=False`) and update mode (over the "
        "region's previous-year report in the index); per unit in `eval/results/draft_eval.json` → `reading_rows`.",
        "",
        "| measure | default mode | update mode | floor |",
        "|---|---|---|---|",
        f"| drafts | {dflt['drafts']} | {upd['drafts']} | – |",
        f"| comparisons with last year per draft: min judged `derived` by the checker / min stated / mean stated "
        f"| {dflt['derived_min']} / {dflt['comparisons_min']} / {dflt['comparisons_mean']:.1f} "
        f"| {upd['derived_min']} / {upd['comparisons_min']} / {upd['comparisons_mean']:.1f} | ≥ {COMPARISONS_FLOOR} derived |",
        "",
        "(Stated but not `derived`: `连续两年保持全市第一` in update mode's opening, written when a rank equals last "
        "year's; the checker confirms the rank, not the streak.)",
        "",
        "| measure | default mode | update mode | floor |",
        "|---|---|---|---|",
        f"| corpus share of body sentences | {dflt['corpus_share']:.3f} | {upd['corpus_share']:.3f} | ≥ {CORPUS_SHARE_FLOOR} (default) |",
        f"| last year's body sentences kept (re-bound or carried) | – | {upd['kept_share']:.3f} | ≥ {KEPT_SHARE_FLOOR} |",
        f"| stale figures | {dflt['stale']} | {upd['stale']} | 0 |",
        f"| bad findings | {dflt['bad']} | {upd['bad']} | 0 |",
        f"| stock words per 1,000 chars, mean / max (seed report {seed_density:.2f}) | {dflt['stock_density_mean']:.2f} / "
        f"{dflt['stock_density_max']:.2f} | {upd['stock_density_mean']:.2f} / {upd['stock_density_max']:.2f} | ≤ seed (mean) |",
        f"| duplicate sentences | {dflt['duplicates']} | {upd['duplicates']} | 0 |",
        f"| heading–body agreement (sub-points) | {dflt['heading_agreement']:.3f} | {upd['heading_agreement']:.3f} | – |",
        "",
        "Per unit (seed 0):",
        "",
        "| unit | mode | comparisons | corpus share | kept | stock density | duplicates | bad |",
        "|---|---|---|---|---|---|---|---|",
        *(f"| {r['metrics']} | {mode} | {r['comparisons']} | {r['corpus']}/{r['body']} | "
          f"{str(r.get('kept', '–')) + '/' + str(r.get('last_year_body', '–')) if mode == 'update' else '–'} | "
          f"{r['stock_density']:.2f} | {r['duplicates']} | {r['bad']} |"
          for mode, rows_ in reading.items() for r in rows_ if r["seed"] == 0),
        "",
        "Floors: " + ("all met." if all(floors.values()) else
                      "NOT met: " + ", ".join(k for k, v in floors.items() if not v) + "."),
        "",
    ]
    write_markdown("draft_eval", md)
    print("\n".join(md))
    for line in failures[:10] + update_failures[:10]:
        print("  ", line)
    return 0 if all(floors.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
