"""Peer test: cn2an's own numeral test suite through shuzhi's numeral parser and extractor.

Usage: .venv/bin/python eval/cn2an_peer.py [--verbose]      (needs `pip install -e .[eval]`: cn2an)

cn2an (Ailln/cn2an) ships its test cases inside the installed package (`cn2an/cn2an_test.py`). This
script imports that module at run time and reads the cases from its `setUp`; nothing of it is copied
into this repository. cn2an is an eval/dev extra only, never a run-time dependency.

Cases: every (input, value) of its strict, normal, smart and direct tables, deduplicated by input, minus
the negative ones (负…, -…): a duty report has no negative counts. Two scores:
* parser: `pipeline.facts.numerals.parse_number(input)` equals the value (floor 0.97);
* extractor: `extract_quantities` on `共{input}人。` (an amount `…元整` alone) finds one quantity whose value
  equals it — the same numeral inside report text, where names like 八一 must stay names.
Its error cases (`零点`, `10..1万`, `元整`…, the normal-mode list) must give None from the parser.
Writes eval/results/cn2an_peer.json and eval/results/cn2an_peer.md.
"""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evalkit import write_json, write_markdown  # noqa: E402

from pipeline.facts.numerals import parse_number  # noqa: E402
from pipeline.facts.quantities import extract_quantities  # noqa: E402

FLOOR = 0.97
TABLES = ("strict_data_dict", "normal_data_dict", "smart_data_dict", "direct_data_dict")


def load_cases() -> tuple[dict[str, Decimal], list[str]]:
    """cn2an's valued cases (input → value) and its normal-mode error inputs, read from the installed package."""
    try:
        from cn2an.cn2an_test import Cn2anTest
    except ImportError as exc:      # pragma: no cover - the eval extra is missing
        raise SystemExit("需要 cn2an（评测依赖）：.venv/bin/pip install -e '.[eval]'") from exc
    suite = Cn2anTest()
    suite.setUp()
    cases: dict[str, Decimal] = {}
    for table in TABLES:
        for text, value in getattr(suite, table).items():
            cases.setdefault(text, Decimal(str(value)))
    errors = [e for e in suite.error_normal_datas if e not in cases]
    return cases, errors


def _negative(text: str, value: Decimal) -> bool:
    return value < 0 or text.startswith(("负", "-")) or (value == 0 and "负" in text)


def _extracted(text: str, value: Decimal) -> bool:
    probe = text if text.endswith(("元", "圆", "整", "正", "分", "角")) else f"共{text}人。"
    found = [q for q in extract_quantities(probe) if q.value is not None]
    if len(found) != 1:
        return False
    q = found[0]
    scale = Decimal(10_000) if q.unit.startswith("万") and q.kind == "money" else Decimal(1)
    return q.value * scale == value


def evaluate() -> dict:
    cases, errors = load_cases()
    kept = {t: v for t, v in cases.items() if not _negative(t, v)}
    parser_miss = [t for t, v in kept.items() if parse_number(t) != v]
    extract_miss = [t for t, v in kept.items() if not _extracted(t, v)]
    error_accepted = [e for e in errors if parse_number(e) is not None]
    n = len(kept)
    return {
        "cases_total": len(cases), "cases_non_negative": n,
        "parser_correct": n - len(parser_miss), "parser_accuracy": round((n - len(parser_miss)) / n, 4),
        "extractor_correct": n - len(extract_miss), "extractor_accuracy": round((n - len(extract_miss)) / n, 4),
        "error_cases": len(errors), "error_cases_rejected": len(errors) - len(error_accepted),
        "parser_misses": parser_miss, "extractor_misses": extract_miss, "errors_accepted": error_accepted,
        "floor": FLOOR,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    r = evaluate()
    met = r["parser_accuracy"] >= FLOOR
    print(f"cn2an cases: {r['cases_total']} unique inputs, {r['cases_non_negative']} non-negative")
    print(f"parser    {r['parser_correct']}/{r['cases_non_negative']} = {r['parser_accuracy']:.4f}")
    print(f"extractor {r['extractor_correct']}/{r['cases_non_negative']} = {r['extractor_accuracy']:.4f}")
    print(f"error cases rejected {r['error_cases_rejected']}/{r['error_cases']}")
    print("floor met" if met else "FLOOR NOT MET")
    if args.verbose:
        print("parser misses:", r["parser_misses"])
        print("extractor misses:", r["extractor_misses"])
        print("errors accepted:", r["errors_accepted"])
    write_json("cn2an_peer", r)
    write_markdown("cn2an_peer", [
        "## Peer test: cn2an's numeral suite",
        "",
        "`.venv/bin/python eval/cn2an_peer.py` — the test cases shipped inside the installed `cn2an` package "
        "(`cn2an/cn2an_test.py`, read at run time), deduplicated by input, negative numbers left out.",
        "",
        "| measure | correct | cases | share |",
        "|---|---|---|---|",
        f"| `parse_number` | {r['parser_correct']} | {r['cases_non_negative']} | **{r['parser_accuracy']:.4f}** |",
        f"| `extract_quantities` on `共…人。` | {r['extractor_correct']} | {r['cases_non_negative']} | "
        f"{r['extractor_accuracy']:.4f} |",
        f"| error inputs rejected | {r['error_cases_rejected']} | {r['error_cases']} | |",
        "",
        f"Floor (parser ≥ {FLOOR}): {'met' if met else 'NOT met'}. By design the parser refuses two-character "
        "digit strings (`一一`): in report text they are names (八一, 五四), not numbers."
        + (f" Parser misses: {'、'.join(r['parser_misses'])}." if r["parser_misses"] else ""),
    ])
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
