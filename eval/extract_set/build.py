"""Build the extraction eval set from its hand-annotated sources.

Each `src/NAME.ann` is a document in which the annotator (a person, not the extractor) wrapped
every quantity as `[[span|value|unit|kind]]`; a value of `-` means masked, `~` a claim with no value
(a qualitative rank, `全省前列`). A rank's span is the place alone (`全市[[第一|1||rank]]`): its scope stays
outside, as the noun a count counts does. This script only strips
the brackets and computes offsets, writing `NAME.txt` (the plain document) and `NAME.json` (the
gold list of {"text","start","end","value","unit","kind","masked"}). Run it after editing a source:

    .venv/bin/python eval/extract_set/build.py
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from pipeline.fsutil import atomic_write_text  # noqa: E402

MARK = re.compile(r"\[\[([^\[\]|]+)\|([^\[\]|]+)\|([^\[\]|]*)\|([a-z]+)\]\]")
KINDS = {"count", "money", "percent", "rank", "ordinal", "year", "date", "duration", "other"}


def build_one(source: str) -> tuple[str, list[dict]]:
    parts: list[str] = []
    gold: list[dict] = []
    pos = 0
    length = 0
    for m in MARK.finditer(source):
        before = source[pos:m.start()]
        parts.append(before)
        length += len(before)
        span, value, unit, kind = m.groups()
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r} at {span!r}")
        gold.append({"text": span, "start": length, "end": length + len(span),
                     "value": None if value in ("-", "~") else value, "unit": unit, "kind": kind,
                     "masked": value == "-"})
        parts.append(span)
        length += len(span)
        pos = m.end()
    parts.append(source[pos:])
    text = "".join(parts)
    if "[[" in text or "]]" in text:
        raise ValueError("unbalanced annotation brackets")
    for item in gold:
        assert text[item["start"]:item["end"]] == item["text"]
    return text, gold


def main() -> int:
    sources = sorted((HERE / "src").glob("*.ann"))
    for src in sources:
        raw = src.read_text(encoding="utf-8").rstrip("\n") + "\n"
        text, gold = build_one(raw)
        if not 300 <= len(text) <= 1200:
            print(f"warning: {src.name} is {len(text)} chars (300–1200 wanted)")
        atomic_write_text(HERE / f"{src.stem}.txt", text)
        atomic_write_text(HERE / f"{src.stem}.json", json.dumps(gold, ensure_ascii=False, indent=1) + "\n")
        print(f"{src.stem}: {len(text)} chars, {len(gold)} quantities")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
