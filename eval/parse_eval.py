"""Heading precision/recall of the structure parser on a hand-annotated set.

Usage: .venv/bin/python eval/parse_eval.py [DIR]     (default eval/parse_set)

DIR holds `NAME.txt` (or .md/.docx) with `NAME.json` = {"headings": [...]}: the level-1 and level-2
section headings as they appear in the text, annotated by hand. A predicted heading is any
section heading the parser emits at level 1 or 2.
- strict: exact match after removing whitespace and a trailing 。/：/:/；.
- lenient: the same, with the heading's number (一、 （一） 第一章 …) also removed.
Matching is a multiset intersection per document, micro-averaged over the set.
When the JSON also has `"keys"` (the section key of each heading, by hand), section-key accuracy
is reported over the headings the parser found (strict match). When it has `"region"` and/or
`"year"` (null when the text states none), report-meta accuracy is reported over those documents.
Writes eval/results/parse_eval.json and eval/results/parse_eval.md.

`.venv/bin/python eval/parse_eval.py --table DIR [DIR…]` instead prints one row per report file
(file, title, year, region, section keys) and writes nothing.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evalkit import write_json, write_markdown  # noqa: E402

from pipeline.reading.parse import parse_file  # noqa: E402

_MARKER = re.compile(r"^(?:第[一二三四五六七八九十]+(?:章|部分|篇)|[一二三四五六七八九十]+[、．.]|[（(][一二三四五六七八九十]+[）)]"
                     r"|\d+[、.．])")


def strict_form(heading: str) -> str:
    return re.sub(r"\s+", "", heading).rstrip("。：:；;")


def lenient_form(heading: str) -> str:
    text = strict_form(heading)
    return _MARKER.sub("", text).lstrip("：:—-")


def _prf(tp: int, n_pred: int, n_gold: int) -> tuple[float, float, float]:
    p = tp / n_pred if n_pred else 1.0
    r = tp / n_gold if n_gold else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def evaluate(directory: Path) -> dict:
    docs = []
    totals = {"strict": [0, 0, 0], "lenient": [0, 0, 0]}
    key_hits = key_total = 0
    key_errors: list[dict] = []
    meta_hits = meta_total = 0
    meta_errors: list[dict] = []
    for gold_path in sorted(directory.glob("*.json")):
        source = next((gold_path.with_suffix(s) for s in (".txt", ".md", ".docx", ".doc")
                       if gold_path.with_suffix(s).exists()), None)
        if source is None:
            continue
        annotation = json.loads(gold_path.read_text(encoding="utf-8"))
        gold = annotation["headings"]
        report = parse_file(source)
        predicted = [s.heading for s in report.sections if s.heading and s.level in (1, 2)]
        if "keys" in annotation:
            found = {}
            for section in report.sections:
                if section.heading:
                    found.setdefault(strict_form(section.heading), []).append(section.key)
            for heading, key in zip(gold, annotation["keys"], strict=True):
                keys_found = found.get(strict_form(heading))
                if not keys_found:
                    continue
                got = keys_found.pop(0)
                key_total += 1
                key_hits += got == key
                if got != key:
                    key_errors.append({"doc": source.name, "heading": heading, "expected": key, "got": got})
        for field in ("region", "year"):
            if field in annotation:
                got = getattr(report, field)
                meta_total += 1
                meta_hits += got == annotation[field]
                if got != annotation[field]:
                    meta_errors.append({"doc": source.name, "field": field, "expected": annotation[field],
                                        "got": got})
        row = {"doc": source.name, "gold": len(gold), "predicted": len(predicted)}
        for mode, form in (("strict", strict_form), ("lenient", lenient_form)):
            g = Counter(form(h) for h in gold)
            pr = Counter(form(h) for h in predicted)
            tp = sum((g & pr).values())
            totals[mode][0] += tp
            totals[mode][1] += len(predicted)
            totals[mode][2] += len(gold)
            row[f"{mode}_tp"] = tp
            if mode == "strict":
                row["missed"] = sorted((g - pr).elements())
                row["spurious"] = sorted((pr - g).elements())
        docs.append(row)
    summary = {}
    for mode, (tp, n_pred, n_gold) in totals.items():
        p, r, f = _prf(tp, n_pred, n_gold)
        summary[mode] = {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4),
                         "tp": tp, "predicted": n_pred, "gold": n_gold}
    summary["section_key"] = {"accuracy": round(key_hits / key_total, 4) if key_total else None,
                              "correct": key_hits, "total": key_total}
    summary["meta"] = {"accuracy": round(meta_hits / meta_total, 4) if meta_total else None,
                       "correct": meta_hits, "total": meta_total}
    return {"set": str(directory), "documents": len(docs), "summary": summary, "per_document": docs,
            "key_errors": key_errors, "meta_errors": meta_errors}


REPORT_SUFFIXES = (".txt", ".md", ".docx", ".doc")


def table(directories: list[Path]) -> list[tuple[str, str | None, int | None, str | None, list[str]]]:
    """(file, title, year, region, section keys) for every report file in `directories`."""
    rows = []
    for directory in directories:
        for path in sorted(directory.iterdir()):
            if path.suffix in REPORT_SUFFIXES and path.name != "README.md":
                report = parse_file(path)
                rows.append((path.name, report.title, report.year, report.region,
                             [s.key for s in report.sections]))
    return rows


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "--table":
        for name, title, year, region, keys in table([Path(a) for a in args[1:]]):
            print(f"{name}\t{title or '（无标题）'}\t{year}\t{region}\t{' '.join(keys)}")
        return 0
    directory = Path(args[0]) if args else ROOT / "eval" / "parse_set"
    result = evaluate(directory)
    print(f"{'document':34} gold pred strict_tp lenient_tp")
    for row in result["per_document"]:
        print(f"{row['doc']:34} {row['gold']:4} {row['predicted']:4} {row['strict_tp']:9} {row['lenient_tp']:10}")
        for h in row["missed"]:
            print(f"    missed:   {h}")
        for h in row["spurious"]:
            print(f"    spurious: {h}")
    print()
    print("mode     precision recall  f1")
    for mode in ("strict", "lenient"):
        s = result["summary"][mode]
        print(f"{mode:8} {s['precision']:9.3f} {s['recall']:6.3f} {s['f1']:6.3f}")
    keys = result["summary"]["section_key"]
    for error in result["key_errors"]:
        print(f"key error: {error['doc']} {error['heading']} expected {error['expected']} got {error['got']}")
    if keys["total"]:
        print(f"section key accuracy {keys['accuracy']:.3f} ({keys['correct']}/{keys['total']})")
    for error in result["meta_errors"]:
        print(f"meta error: {error['doc']} {error['field']} expected {error['expected']} got {error['got']}")
    meta = result["summary"]["meta"]
    if meta["total"]:
        print(f"region/year accuracy {meta['accuracy']:.3f} ({meta['correct']}/{meta['total']})")
    write_json("parse_eval", result)
    try:
        shown = directory.resolve().relative_to(ROOT)
    except ValueError:
        shown = directory
    md = [
        "## Structure parser: heading precision/recall",
        "",
        f"`.venv/bin/python eval/parse_eval.py {shown}` — {result['documents']} hand-annotated documents "
        "(level-1/2 section headings).",
        "",
        "| match | precision | recall | F1 | matched / predicted / gold |",
        "|---|---|---|---|---|",
    ]
    for mode in ("strict", "lenient"):
        s = result["summary"][mode]
        md.append(f"| {mode} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | "
                  f"{s['tp']} / {s['predicted']} / {s['gold']} |")
    keys = result["summary"]["section_key"]
    if keys["total"]:
        md += ["", f"Section key (duty/systems/foundation/plans/other) accuracy on found headings: "
                   f"{keys['accuracy']:.3f} ({keys['correct']}/{keys['total']})."]
    meta = result["summary"]["meta"]
    if meta["total"]:
        md += ["", f"Region/year on the documents annotated with them: {meta['accuracy']:.3f} "
                   f"({meta['correct']}/{meta['total']})."]
    if directory.resolve() == (ROOT / "eval" / "parse_set").resolve():
        md += ["", "Caveat: the parser was tuned on this set, so 1.000 is in-sample. Blind first runs, "
                   "before the fixes they prompted: documents 23–30 30/30 headings; documents 35–38 17/18; "
                   "the 16 corpus reports (written by another engineer) 48/48 headings with year and "
                   "region right, 13/16 with the full six-part structure. Documents 41–48 (issue 11: "
                   "second-level headings, opening formulas, `1.` and unnumbered headings, Word and text "
                   "layouts) were annotated before the parser changes they prompted and scored 21/43 "
                   "headings (recall 0.488) with the parser as it was — first-run figures, not blind "
                   "(the same engineer then changed the parser)."]
    write_markdown("parse_eval", md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
