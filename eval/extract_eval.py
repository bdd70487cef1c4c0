"""Quantity extraction eval: precision and recall of `report_quantities` (what `shuzhi facts` lists: every
quantity of `extract_quantities` plus the qualitative rank claims such as 全省前列) on a hand-annotated set.

The set is `eval/extract_set/NAME.txt` + `NAME.json` (gold quantities, annotated by hand in
`eval/extract_set/src/*.ann`; `build.py` only strips the markup and computes offsets). Fictional
documents in several registers: tidy Arabic, Chinese numerals, masked, approximate, trap-heavy,
full-width digits, odd spaces, single-line, scaled 万 figures, ranks, ordinals, dates.

Two scores, both micro-averaged over all documents:
* span: a prediction counts when (start, end) equals a gold span exactly;
* value: a prediction counts when (start, end, value, unit, masked) all equal the gold item.
Kind accuracy over exactly matched spans is reported too. Floors: span and value P/R ≥ 0.95.

Documents named `h*` were written and annotated after the extractor's rules were settled on the
others (the development split); they are scored separately as well. Their first run, before the
two rule fixes they prompted (the 不低于 prefix, the idiom 一人多岗), scored span P 0.9667 / R 0.9775
(87 of 90 predicted, 87 of 89 gold). A second blind batch (h06–h08: a table, a speech with
同比 comparisons, a masked report) scored span P 0.9848 / R 0.9701 on its first run (65 of 66, 65
of 67; fixes: 十一 dropped from the stop list, masks with a thousands comma). Since then both
batches have informed the rules like the rest, so the figures below overstate unseen-text accuracy.

    .venv/bin/python eval/extract_eval.py [--verbose]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evalkit import write_json, write_markdown  # noqa: E402

from pipeline.facts.quantities import report_quantities  # noqa: E402

SET_DIR = ROOT / "eval" / "extract_set"
FLOOR = 0.95


def _ratio(num: int, den: int) -> float:
    return num / den if den else 1.0


def _scores(per_doc: list[dict]) -> dict:
    gold = sum(d["gold"] for d in per_doc)
    pred = sum(d["pred"] for d in per_doc)
    span_tp = sum(d["span_tp"] for d in per_doc)
    value_tp = sum(d["value_tp"] for d in per_doc)
    return {
        "documents": len(per_doc), "gold": gold, "predicted": pred,
        "span_precision": round(_ratio(span_tp, pred), 4), "span_recall": round(_ratio(span_tp, gold), 4),
        "value_precision": round(_ratio(value_tp, pred), 4), "value_recall": round(_ratio(value_tp, gold), 4),
    }


def evaluate(set_dir: Path = SET_DIR) -> dict:
    docs = sorted(set_dir.glob("*.txt"))
    totals = {"gold": 0, "pred": 0, "span_tp": 0, "value_tp": 0, "kind_ok": 0}
    per_doc = []
    errors: list[str] = []
    for txt in docs:
        # read raw: the gold offsets index the file as written (NBSP, ideographic spaces kept)
        text = txt.read_text(encoding="utf-8")
        gold = json.loads(txt.with_suffix(".json").read_text(encoding="utf-8"))
        pred = [q.to_json() for q in report_quantities(text)]
        gold_spans = {(g["start"], g["end"]): g for g in gold}
        pred_spans = {(p["start"], p["end"]): p for p in pred}
        span_tp = len(gold_spans.keys() & pred_spans.keys())
        value_tp = kind_ok = 0
        for key in gold_spans.keys() & pred_spans.keys():
            g, p = gold_spans[key], pred_spans[key]
            same = (g["value"], g["unit"], g["masked"]) == (p["value"], p["unit"], p["masked"])
            value_tp += same
            kind_ok += g["kind"] == p["kind"]
            if not same or g["kind"] != p["kind"]:
                errors.append(f"{txt.stem}: {g['text']!r} gold {g['value']} {g['unit']} {g['kind']} "
                              f"masked={g['masked']} / got {p['value']} {p['unit']} {p['kind']} "
                              f"masked={p['masked']}")
        for key in sorted(gold_spans.keys() - pred_spans.keys()):
            errors.append(f"{txt.stem}: missed {gold_spans[key]['text']!r} at {key}")
        for key in sorted(pred_spans.keys() - gold_spans.keys()):
            errors.append(f"{txt.stem}: spurious {pred_spans[key]['text']!r} at {key}")
        totals["gold"] += len(gold)
        totals["pred"] += len(pred)
        totals["span_tp"] += span_tp
        totals["value_tp"] += value_tp
        totals["kind_ok"] += kind_ok
        per_doc.append({"doc": txt.stem, "chars": len(text), "gold": len(gold), "pred": len(pred),
                        "span_tp": span_tp, "value_tp": value_tp})
    result = {
        "documents": len(docs),
        "gold_quantities": totals["gold"],
        "predicted": totals["pred"],
        "span_precision": round(_ratio(totals["span_tp"], totals["pred"]), 4),
        "span_recall": round(_ratio(totals["span_tp"], totals["gold"]), 4),
        "value_precision": round(_ratio(totals["value_tp"], totals["pred"]), 4),
        "value_recall": round(_ratio(totals["value_tp"], totals["gold"]), 4),
        "kind_accuracy": round(_ratio(totals["kind_ok"], totals["span_tp"]), 4),
        "floor": FLOOR,
        "splits": {
            "development": _scores([d for d in per_doc if not d["doc"].startswith("h")]),
            "h_batches (blind at first, since tuned)": _scores([d for d in per_doc if d["doc"].startswith("h")]),
        },
        "per_document": per_doc,
        "errors": errors,
    }
    result["passed"] = all(result[k] >= FLOOR for k in
                           ("span_precision", "span_recall", "value_precision", "value_recall"))
    return result


def _table(result: dict) -> list[str]:
    rows = [
        ("文档数", str(result["documents"])),
        ("标注数量", str(result["gold_quantities"])),
        ("抽取数量", str(result["predicted"])),
        ("span precision", f"{result['span_precision']:.4f}"),
        ("span recall", f"{result['span_recall']:.4f}"),
        ("value precision", f"{result['value_precision']:.4f}"),
        ("value recall", f"{result['value_recall']:.4f}"),
        ("kind accuracy", f"{result['kind_accuracy']:.4f}"),
        (f"floors ≥ {FLOOR}", "passed" if result["passed"] else "FAILED"),
    ]
    lines = ["| metric | value |", "|---|---|", *[f"| {a} | {b} |" for a, b in rows]]
    lines += ["", "| split | docs | gold | span P | span R | value P | value R |", "|---|---|---|---|---|---|---|"]
    for name, sc in result["splits"].items():
        lines.append(f"| {name} | {sc['documents']} | {sc['gold']} | {sc['span_precision']:.4f} | "
                     f"{sc['span_recall']:.4f} | {sc['value_precision']:.4f} | {sc['value_recall']:.4f} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    verbose = "--verbose" in args or "-v" in args
    result = evaluate()
    print(f"{'doc':<22}{'chars':>6}{'gold':>6}{'pred':>6}{'span':>6}{'value':>6}")
    for d in result["per_document"]:
        print(f"{d['doc']:<22}{d['chars']:>6}{d['gold']:>6}{d['pred']:>6}{d['span_tp']:>6}{d['value_tp']:>6}")
    print()
    for line in _table(result):
        print(line)
    if result["errors"]:
        print(f"\n{len(result['errors'])} disagreements" + (":" if verbose else " (--verbose to list)"))
        if verbose:
            for e in result["errors"]:
                print("  " + e)
    write_json("extract_eval", result)
    md = ["## Quantity extraction (`report_quantities`, as `shuzhi facts` lists them)", "",
          f"Hand-annotated set: {result['documents']} fictional documents, {result['gold_quantities']} "
          "quantities (`eval/extract_set/`). Exact-span matching; a value match also needs value, unit "
          "and masked to agree.", "",
          "```", ".venv/bin/python eval/extract_eval.py", "```", "", *_table(result), "",
          "Caveat: every document here, the `h*` ones included, has informed the rules, so these "
          "figures overstate accuracy on unseen text. The honest measure is each blind batch's first "
          "run, before the fixes it prompted: h01–h05 span P 0.967 / R 0.978 (89 quantities), "
          "h06–h08 span P 0.985 / R 0.970 (67 quantities). Both are above the 0.95 floors.", ""]
    write_markdown("extract_eval", md)
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
