"""Fourth held-out (blind) set: extraction, headings per level and the checker, scored against gold annotations.

Usage: .venv/bin/python eval/holdout4_eval.py [--seed N] [DIR]      (default DIR eval/holdout4, seed 4)

DIR holds, per report NAME, the files eval/holdout_eval.py documents (NAME.txt, NAME.yaml, NAME.headings.json,
NAME.region_year.json, NAME.figures.json) with two compatible extensions, plus one new file:
- NAME.headings.json       {"headings": [...], "levels": [1, 2, ...]}: `levels[i]` is the level of `headings[i]`
                           (1 = `一、`-type or an unnumbered section line, 2 = `（一）`/`(一)`/`1、`/`1.` under it).
                           A file without `levels` counts every heading as level 1.
- NAME.figures.json        figures may also carry `"sibling": KEY` (another metric sharing the figure's noun,
                           e.g. 春季/夏秋季 比例, 提拔/配齐 民兵连长) and `"approx": true` (the text states the figure
                           approximately, 近20场次). `number` may be written in 大写 (壹佰贰拾) or with 廿/卅.
- NAME.quantities.json     [{text, start, end, value, unit, kind, masked}]: every quantity span of the text, in
                           eval/extract_set's format. Offsets index the file decoded as UTF-8 with its line ends
                           kept (CRLF stays two characters); traps (enumerators, named formulas, a news byline,
                           第二十二次全体会议 …) are not annotated.

Measures
(a) extraction: `report_quantities` (what `shuzhi facts` lists) on the file's text (line ends kept) against NAME.quantities.json — span
    P/R (exact start/end) and value P/R (span + value + unit + masked; values compared as decimals), plus an
    overlap match (one-to-one, any overlap) that shows how much of the exact-span loss is span convention.
(b) headings: recall per level (1, 2) and precision, strict (whitespace removed) and lenient (also without
    the number marker and trailing 。：；), and how many found headings got the gold level; region/year.
(c) false findings on the untouched reports: bad-verdict findings per 100 covered figures, where a covered
    figure is a gold quantity that a metric covers (it contains a located figure of NAME.figures.json); a
    bad finding on a gold quantity no metric covers is not counted (it is listed). The harness's older rate
    (all bad findings over the checker's own quantity findings) is shown beside it.
(d) recall: perturbed copies, one change each, picked from the gold figures (never from the tool's own
    extractor): the kinds of eval/holdout_eval.py plus sibling_swap (a figure gets the value of the metric
    that shares its noun) and approx_shift (近20 -> 近23). Reported with and without the `masked` kind.
Deterministic for a given --seed. Writes eval/results/NAME.json and NAME.md (NAME from --results-name).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "eval"))

from evalkit import write_json, write_markdown  # noqa: E402
from holdout_eval import (  # noqa: E402
    Doc,
    Perturbation,
    _context,
    _swap_last,
    eval_parse,
    foreign_places,
    int_to_cn,
    lenient_form,
    load_set,
    locate,
    numeral_style,
    perturbed_number,
    strict_form,
)

from pipeline.facts.check import check_text  # noqa: E402
from pipeline.facts.quantities import report_quantities  # noqa: E402
from pipeline.models import BAD_VERDICTS, Finding  # noqa: E402
from pipeline.reading.parse import parse_text  # noqa: E402

DEFAULT_DIR = ROOT / "eval" / "holdout4"
DEFAULT_SEED = 4
KINDS = ("value_changed", "rank_changed", "comparison_changed", "sibling_swap", "approx_shift", "masked",
         "foreign_place")
DAXIE = str.maketrans("壹贰貳叁肆伍陆陸柒捌玖拾佰仟萬", "一二二三四五六六七八九十百千万")
TO_DAXIE = str.maketrans("一二两三四五六七八九十百千万", "壹贰贰叁肆伍陆柒捌玖拾佰仟万")


# --------------------------------------------------------------------------- numerals beyond holdout_eval's

def _style(number: str) -> str:
    if any(ch in "壹贰貳叁肆伍陆陸柒捌玖拾佰仟萬" for ch in number):
        return "daxie"
    if "廿" in number or "卅" in number:
        return "nian"
    return numeral_style(number)


def _plain_cn(number: str) -> str:
    return number.translate(DAXIE).replace("廿", "二十").replace("卅", "三十")


def value_of(number: str) -> Decimal:
    from holdout_eval import numeral_value
    style = _style(number)
    return numeral_value(_plain_cn(number)) if style in ("daxie", "nian") else numeral_value(number)


def render_like(number: str, value: Decimal, natural: bool = False) -> str:
    """`value` written in the same form as `number` (Arabic, full-width, Chinese, 大写); `natural` keeps the
    value's own decimals (a sibling's 50.93 stays 50.93 where the figure had one decimal)."""
    from holdout_eval import render
    style = _style(number)
    if natural and style in ("ascii", "full"):
        text = format(value.normalize(), "f")
        return text.translate(str.maketrans("0123456789", "０１２３４５６７８９")) if style == "full" else text
    if style == "daxie":
        return int_to_cn(int(value)).translate(TO_DAXIE)
    if style == "nian":
        return int_to_cn(int(value))
    plain = number.replace("．", ".").translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    decimals = len(plain.split(".")[1]) if "." in plain else 0
    return render(value, style, decimals)


def perturbed(fig: dict[str, Any], rng: random.Random) -> str:
    if _style(fig["number"]) in ("daxie", "nian"):
        value = value_of(fig["number"])
        if fig.get("kind") == "rank":
            return render_like(fig["number"], value + 2)
        return render_like(fig["number"], value + 2 if value <= 10 else value * 2)
    return perturbed_number(fig, fig["span"], rng)


# --------------------------------------------------------------------------- gold

def file_text(path: Path) -> str:
    """The file decoded as UTF-8 with its line ends kept: the text NAME.quantities.json indexes."""
    text = path.read_bytes().decode("utf-8")
    return text[1:] if text.startswith("\ufeff") else text


def load_extra(doc: Doc) -> tuple[list[int], list[dict[str, Any]]]:
    stem = doc.path.with_suffix("")
    heads = json.loads(Path(f"{stem}.headings.json").read_text(encoding="utf-8"))
    levels = heads.get("levels") or [1] * len(heads["headings"])
    quantities = json.loads(Path(f"{stem}.quantities.json").read_text(encoding="utf-8"))
    return levels, quantities


def align_gold(text: str, quantities: list[dict[str, Any]]) -> list[tuple[int, int] | None]:
    """Each gold quantity's (start, end) in `text` (the harness's text, which may differ from the file in line
    ends or whitespace): found in order, each after the previous one."""
    out: list[tuple[int, int] | None] = []
    cursor = 0
    for q in quantities:
        at = text.find(q["text"], cursor)
        if at < 0:
            out.append(None)
            continue
        out.append((at, at + len(q["text"])))
        cursor = at + len(q["text"])
    return out


def _dec(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value)).normalize()
    except InvalidOperation:
        return None


# --------------------------------------------------------------------------- (a) extraction

def eval_extraction(docs: list[Doc], extra: dict[str, tuple[list[int], list[dict[str, Any]]]]) -> dict[str, Any]:
    totals = Counter()
    rows: list[dict[str, Any]] = []
    errors: list[str] = []
    for doc in docs:
        text = file_text(doc.path)
        gold = extra[doc.name][1]
        pred = [q.to_json() for q in report_quantities(text)]
        offset_bad = sum(1 for p in pred if text[p["start"]:p["end"]] != p["text"])
        gold_spans = {(g["start"], g["end"]): g for g in gold}
        pred_spans = {(p["start"], p["end"]): p for p in pred}
        both = gold_spans.keys() & pred_spans.keys()
        value_tp = kind_ok = 0
        for key in sorted(both):
            g, p = gold_spans[key], pred_spans[key]
            same = (_dec(g["value"]), g["unit"], g["masked"]) == (_dec(p["value"]), p["unit"], p["masked"])
            value_tp += same
            kind_ok += g["kind"] == p["kind"]
            if not same:
                errors.append(f"{doc.name}: {g['text']!r} gold {g['value']} {g['unit']} masked={g['masked']} / "
                              f"got {p['value']} {p['unit']} masked={p['masked']}")
        # overlap match: one-to-one, greedy in text order; value as above
        used: set[int] = set()
        ov_tp = ov_value = 0
        for g in gold:
            for i, p in enumerate(pred):
                if i in used or not (p["start"] < g["end"] and p["end"] > g["start"]):
                    continue
                used.add(i)
                ov_tp += 1
                ov_value += (_dec(g["value"]), g["unit"], g["masked"]) == (_dec(p["value"]), p["unit"], p["masked"])
                break
        for key in sorted(gold_spans.keys() - both):
            g = gold_spans[key]
            errors.append(f"{doc.name}: missed {g['text']!r} at {key} ({_context(text, *key)})")
        for key in sorted(pred_spans.keys() - both):
            p = pred_spans[key]
            errors.append(f"{doc.name}: spurious {p['text']!r} at {key} ({_context(text, *key)}) "
                          f"= {p['value']} {p['unit']} {p['kind']}")
        row = {"doc": doc.name, "gold": len(gold), "pred": len(pred), "span_tp": len(both), "value_tp": value_tp,
               "kind_ok": kind_ok, "overlap_tp": ov_tp, "overlap_value_tp": ov_value,
               "pred_text_not_at_offsets": offset_bad}
        rows.append(row)
        for k, v in row.items():
            if k != "doc":
                totals[k] += v

    def ratio(a: int, b: int) -> float | None:
        return round(a / b, 4) if b else None

    summary = {
        "gold": totals["gold"], "predicted": totals["pred"], "span_tp": totals["span_tp"],
        "value_tp": totals["value_tp"],
        "span_precision": ratio(totals["span_tp"], totals["pred"]), "span_recall": ratio(totals["span_tp"], totals["gold"]),
        "value_precision": ratio(totals["value_tp"], totals["pred"]),
        "value_recall": ratio(totals["value_tp"], totals["gold"]),
        "kind_accuracy": ratio(totals["kind_ok"], totals["span_tp"]),
        "overlap_precision": ratio(totals["overlap_tp"], totals["pred"]),
        "overlap_recall": ratio(totals["overlap_tp"], totals["gold"]),
        "overlap_value_recall": ratio(totals["overlap_value_tp"], totals["gold"]),
        "pred_text_not_at_offsets": totals["pred_text_not_at_offsets"],
    }
    return {"summary": summary, "per_document": rows, "errors": errors}


# --------------------------------------------------------------------------- (b) headings per level

def eval_levels(docs: list[Doc], extra: dict[str, tuple[list[int], list[dict[str, Any]]]]) -> dict[str, Any]:
    per = {mode: {1: [0, 0, 0], 2: [0, 0, 0]} for mode in ("strict", "lenient")}   # found, right level, gold
    predicted_total = Counter()
    rows = []
    for doc in docs:
        levels = extra[doc.name][0]
        report = parse_text(doc.text, source=str(doc.path))
        predicted = [(s.heading, s.level) for s in report.sections if s.heading and s.level in (1, 2)]
        row: dict[str, Any] = {"doc": doc.name, "predicted": [f"{lv}:{h}" for h, lv in predicted], "missed": {},
                               "wrong_level": {}}
        for mode, form in (("strict", strict_form), ("lenient", lenient_form)):
            pool = [(form(h), lv) for h, lv in predicted]
            predicted_total[mode] += len(pool)
            missed, wrong = [], []
            for heading, level in zip(doc.headings, levels, strict=True):
                key = form(heading)
                hit = next((i for i, (h, lv) in enumerate(pool) if h == key and lv == level), None)
                if hit is None:
                    hit = next((i for i, (h, _) in enumerate(pool) if h == key), None)
                per[mode][level][2] += 1
                if hit is None:
                    missed.append(f"{level}:{heading}")
                    continue
                per[mode][level][0] += 1
                if pool[hit][1] == level:
                    per[mode][level][1] += 1
                else:
                    wrong.append(f"{level}->{pool[hit][1]}:{heading}")
                pool.pop(hit)
            row["missed"][mode] = missed
            row["wrong_level"][mode] = wrong
            row[f"{mode}_spurious"] = [f"{lv}:{h}" for h, lv in pool]
        rows.append(row)
    summary: dict[str, Any] = {}
    for mode, by_level in per.items():
        found_all = sum(v[0] for v in by_level.values())
        summary[mode] = {
            f"level{lv}": {"gold": g, "found": f, "recall": round(f / g, 4) if g else None, "right_level": r,
                           "recall_right_level": round(r / g, 4) if g else None}
            for lv, (f, r, g) in by_level.items()}
        summary[mode]["precision"] = round(found_all / predicted_total[mode], 4) if predicted_total[mode] else None
        summary[mode]["predicted"] = predicted_total[mode]
    return {"summary": summary, "per_document": rows}


# --------------------------------------------------------------------------- (c) false findings

def eval_clean(docs: list[Doc], extra: dict[str, tuple[list[int], list[dict[str, Any]]]]) -> dict[str, Any]:
    counted: list[dict[str, Any]] = []
    excluded: list[dict[str, Any]] = []
    unseen: list[dict[str, Any]] = []
    rows = []
    n_cov = n_bad = n_quant = n_loc = n_seen = n_offset_bad = 0
    for doc in docs:
        quantities = extra[doc.name][1]
        spans = align_gold(doc.text, quantities)
        figs = [locate(doc.text, fig) for fig in doc.figures]
        covered = [s is not None and any(s[0] <= a and b <= s[1] for a, b in figs) for s in spans]
        result = check_text(doc.text, doc.metrics, source=str(doc.path))
        quants = [f for f in result.findings if f.kind == "quantity"]
        bad = [f for f in result.findings if f.verdict in BAD_VERDICTS]
        n_offset_bad += sum(1 for f in result.findings if doc.text[f.start:f.end] != f.text)
        doc_counted = 0
        for f in bad:
            hits = [i for i, s in enumerate(spans) if s is not None and f.start < s[1] and f.end > s[0]]
            item = {"doc": doc.name, "text": f.text, "verdict": f.verdict, "kind": f.kind, "metric": f.metric,
                    "expected": f.expected, "found": f.found, "reason": f.reason,
                    "context": _context(doc.text, f.start, f.end)}
            if hits and not any(covered[i] for i in hits):
                excluded.append(item)
            else:
                counted.append(item)
                doc_counted += 1
        seen = 0
        for fig, (a, b) in zip(doc.figures, figs, strict=True):
            if any(f.start < b and f.end > a for f in quants):
                seen += 1
            else:
                unseen.append({"doc": doc.name, "span": fig["span"], "metric": fig["metric"],
                               "role": fig.get("role", "value")})
        n_cov += sum(covered)
        n_bad += len(bad)
        n_quant += len(quants)
        n_loc += len(doc.figures)
        n_seen += seen
        rows.append({"doc": doc.name, "covered_figures": sum(covered), "gold_quantities": len(quantities),
                     "checker_quantities": len(quants), "bad": len(bad), "counted": doc_counted,
                     "located": len(doc.figures), "located_seen": seen})
    n_counted = len(counted)
    return {"covered_figures": n_cov, "false": n_counted, "per_100": round(100 * n_counted / n_cov, 2) if n_cov else None,
            "excluded_uncovered": len(excluded),
            "legacy": {"bad": n_bad, "checker_quantities": n_quant,
                       "per_100": round(100 * n_bad / n_quant, 2) if n_quant else None},
            "finding_text_not_at_offsets": n_offset_bad,
            "located": n_loc, "located_seen": n_seen, "per_document": rows, "false_findings": counted,
            "excluded_findings": excluded, "unseen_figures": unseen}


# --------------------------------------------------------------------------- (d) recall

def perturbations(docs: list[Doc], seed: int) -> list[Perturbation]:
    out: list[Perturbation] = []
    for d_index, doc in enumerate(docs):
        rng = random.Random(seed * 1000 + d_index)
        for fig in doc.figures:
            start, end = locate(doc.text, fig)
            role = fig.get("role", "value")

            def add(kind: str, new: str, doc: Doc = doc, fig: dict[str, Any] = fig, start: int = start,
                    end: int = end) -> None:
                out.append(Perturbation(doc, kind, doc.text[:start] + new + doc.text[end:], start, start + len(new),
                                        fig["span"], _swap_last(fig["span"], fig["number"], new), fig["metric"]))

            kind = ("comparison_changed" if role != "value"
                    else "rank_changed" if fig.get("kind") == "rank" else "value_changed")
            add(kind, perturbed(fig, rng))
            if role == "value":
                add("masked", "***")
            sibling = doc.metrics.get(fig["sibling"]) if fig.get("sibling") else None
            if sibling is not None and sibling.value is not None and sibling.value != value_of(fig["number"]):
                add("sibling_swap", render_like(fig["number"], sibling.value, natural=True))
            if fig.get("approx"):
                value = value_of(fig["number"])
                add("approx_shift", render_like(fig["number"],
                                                (value * Decimal("1.15")).quantize(Decimal(1), ROUND_HALF_UP)))
        out.extend(foreign_places(doc, docs, rng))
    return out


def eval_recall(docs: list[Doc], seed: int) -> dict[str, Any]:
    per_kind = {k: [0, 0] for k in KINDS}
    per_group = {"catalog": [0, 0], "custom": [0, 0]}
    misses = []
    for p in perturbations(docs, seed):
        result = check_text(p.text, p.doc.metrics, source=p.doc.name)
        over: list[Finding] = [f for f in result.findings if f.start < p.end and f.end > p.start]
        caught = any(f.verdict in BAD_VERDICTS for f in over)
        per_kind[p.kind][0] += 1
        per_kind[p.kind][1] += caught
        if p.metric and p.kind != "masked":
            group = per_group["custom" if p.metric.startswith("custom.") else "catalog"]
            group[0] += 1
            group[1] += caught
        if not caught:
            misses.append({"doc": p.doc.name, "kind": p.kind, "metric": p.metric, "before": p.before,
                           "after": p.after, "context": _context(p.text, p.start, p.end),
                           "overlapping": [{"text": f.text, "verdict": f.verdict, "metric": f.metric,
                                            "reason": f.reason} for f in over]})

    def agg(kinds: tuple[str, ...]) -> dict[str, Any]:
        n = sum(per_kind[k][0] for k in kinds)
        c = sum(per_kind[k][1] for k in kinds)
        return {"perturbed": n, "caught": c, "recall": round(c / n, 4) if n else None}

    return {"per_kind": {k: {"perturbed": n, "caught": c, "recall": round(c / n, 4) if n else None}
                         for k, (n, c) in per_kind.items()},
            "by_metric_group_without_masks": {g: {"perturbed": n, "caught": c, "recall": round(c / n, 4) if n else None}
                                              for g, (n, c) in per_group.items()},
            "all": agg(KINDS),
            "without_masked": agg(tuple(k for k in KINDS if k != "masked")),
            "misses": misses}


# --------------------------------------------------------------------------- output

def _f(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"


def markdown(result: dict[str, Any], command: str) -> str:
    ex, lv, parse, clean, rec = (result["extraction"]["summary"], result["levels"]["summary"], result["parse"],
                                 result["clean"], result["recall"])
    md = ["## Fourth held-out set (eval/holdout4)", "",
          f"`{command}` — {result['documents']} fictional reports written for this set without reading the "
          "extractor, parser or checker code (see eval/holdout4/README.md; the blind first run is kept there "
          f"verbatim). Seed {result['seed']}.", "",
          "### (a) Extraction against gold quantity annotations", "",
          "| measure | value |", "|---|---|",
          f"| gold / predicted | {ex['gold']} / {ex['predicted']} |",
          f"| span P / R (exact) | {_f(ex['span_precision'])} / {_f(ex['span_recall'])} |",
          f"| value P / R | {_f(ex['value_precision'])} / {_f(ex['value_recall'])} |",
          f"| overlap P / R (span convention forgiven) | {_f(ex['overlap_precision'])} / {_f(ex['overlap_recall'])} |",
          f"| overlap value R | {_f(ex['overlap_value_recall'])} |",
          f"| kind accuracy on exact spans | {_f(ex['kind_accuracy'])} |",
          f"| predictions whose text is not at their offsets | {ex['pred_text_not_at_offsets']} |", "",
          "| report | gold | pred | span tp | value tp | overlap tp |", "|---|---|---|---|---|---|"]
    for row in result["extraction"]["per_document"]:
        md.append(f"| {row['doc']} | {row['gold']} | {row['pred']} | {row['span_tp']} | {row['value_tp']} | "
                  f"{row['overlap_tp']} |")
    if result["extraction"]["errors"]:
        md += ["", "Extraction disagreements:"]
        md += [f"- {e}" for e in result["extraction"]["errors"]]
    md += ["", "### (b) Headings per level", "",
           "| match | level-1 R | level-2 R | level-1 R, right level | level-2 R, right level | precision |",
           "|---|---|---|---|---|---|"]
    for mode in ("strict", "lenient"):
        s = lv[mode]
        md.append(f"| {mode} | {_f(s['level1']['recall'])} ({s['level1']['found']}/{s['level1']['gold']}) | "
                  f"{_f(s['level2']['recall'])} ({s['level2']['found']}/{s['level2']['gold']}) | "
                  f"{_f(s['level1']['recall_right_level'])} | {_f(s['level2']['recall_right_level'])} | "
                  f"{_f(s['precision'])} ({s['predicted']} predicted) |")
    ry = parse["summary"]["region_year"]
    md += ["", f"Region/year: {ry['accuracy']:.3f} ({ry['correct']}/{ry['total']}).", ""]
    for row in parse["per_document"]:
        if not (row["region_ok"] and row["year_ok"]):
            md.append(f"- {row['doc']}: region {row['region']}, year {row['year']}")
    for row in result["levels"]["per_document"]:
        for h in row["missed"]["strict"]:
            md.append(f"- {row['doc']} missed (strict): `{h}`")
        for h in row["wrong_level"]["strict"]:
            md.append(f"- {row['doc']} wrong level (gold->found): `{h}`")
        for h in row["strict_spurious"]:
            md.append(f"- {row['doc']} spurious (strict): `{h}`")
    md += ["", "### (c) Checker false findings on the untouched reports", "",
           f"{clean['false']} bad-verdict findings over {clean['covered_figures']} covered figures = "
           f"**{clean['per_100']:.2f} per 100 figures** (not counting {clean['excluded_uncovered']} bad findings on "
           "figures no metric covers). Older definition (all bad findings over the checker's own quantity "
           f"findings): {clean['legacy']['bad']} / {clean['legacy']['checker_quantities']} = "
           f"{clean['legacy']['per_100']:.2f} per 100. Located metric figures seen as a quantity: "
           f"{clean['located_seen']}/{clean['located']}. Findings whose text is not at their offsets: "
           f"{clean['finding_text_not_at_offsets']}.", "",
           "| report | covered figures | bad | counted | located seen |", "|---|---|---|---|---|"]
    for row in clean["per_document"]:
        md.append(f"| {row['doc']} | {row['covered_figures']} | {row['bad']} | {row['counted']} | "
                  f"{row['located_seen']}/{row['located']} |")
    if clean["false_findings"]:
        md += ["", "Counted false findings:"]
        md += [f"- {f['doc']}: `{f['context']}` {f['verdict']} ({f['metric']}) — {f['reason']}"
               for f in clean["false_findings"]]
    if clean["excluded_findings"]:
        md += ["", "Not counted (figure no metric covers):"]
        md += [f"- {f['doc']}: `{f['context']}` {f['verdict']} ({f['metric']}) — {f['reason']}"
               for f in clean["excluded_findings"]]
    if clean["unseen_figures"]:
        md += ["", "Located metric figures the checker did not report as a quantity:"]
        md += [f"- {u['doc']}: `{u['span']}` ({u['metric']}, {u['role']})" for u in clean["unseen_figures"]]
    md += ["", "### (d) Checker recall on perturbed copies (figures picked from the gold annotations)", "",
           "| kind | perturbed | caught | recall |", "|---|---|---|---|"]
    for kind, s in rec["per_kind"].items():
        md.append(f"| {kind} | {s['perturbed']} | {s['caught']} | {_f(s['recall'])} |")
    a, w = rec["all"], rec["without_masked"]
    md.append(f"| **all** | {a['perturbed']} | {a['caught']} | **{_f(a['recall'])}** |")
    md.append(f"| **all without masked** | {w['perturbed']} | {w['caught']} | **{_f(w['recall'])}** |")
    g = rec["by_metric_group_without_masks"]
    md += ["", f"Without masks, catalog metrics {g['catalog']['caught']}/{g['catalog']['perturbed']}, custom metrics "
           f"(天, 岁, 周岁, 公里, shared-noun pairs, quoted data) {g['custom']['caught']}/{g['custom']['perturbed']}."]
    if rec["misses"]:
        md += ["", "Misses:"]
        for m in rec["misses"]:
            seen = "; ".join(f"{o['verdict']}:{o['text']}" for o in m["overlapping"]) or "no finding"
            md.append(f"- {m['doc']} {m['kind']}: `{m['before']}` → `{m['after']}` (checker: {seen})")
    md += ["", "Caveats: six reports, one writer, one sitting; ~130 located figures, so one false finding moves "
           "the rate by ~0.8 per 100. Gold span conventions (ranks without their scope, ranges as one span valued "
           "at the low end, 万美元 as a unit) are the writer's; the overlap columns show how much they matter."]
    return "\n".join(md) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", nargs="?", default=str(DEFAULT_DIR))
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--results-name", default="holdout4_eval")
    args = parser.parse_args(argv)
    directory = Path(args.directory)
    docs = load_set(directory)
    extra = {doc.name: load_extra(doc) for doc in docs}
    result = {"set": str(directory), "documents": len(docs), "seed": args.seed,
              "extraction": eval_extraction(docs, extra), "levels": eval_levels(docs, extra),
              "parse": eval_parse(docs), "clean": eval_clean(docs, extra), "recall": eval_recall(docs, args.seed)}
    command = (".venv/bin/python eval/holdout4_eval.py"
               + (f" {args.directory}" if directory.resolve() != DEFAULT_DIR.resolve() else "")
               + (f" --seed {args.seed}" if args.seed != DEFAULT_SEED else "")
               + (f" --results-name {args.results_name}" if args.results_name != "holdout4_eval" else ""))
    write_json(args.results_name, result)
    md = markdown(result, command)
    write_markdown(args.results_name, md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
