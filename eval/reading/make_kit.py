"""Blind-reading kit: for three units, the corpus report written for the data and the tool's draft for
the same data, unlabeled and in a shuffled order, for people to judge side by side — not a score.

Usage: .venv/bin/python eval/reading/make_kit.py [--seed 7]
Writes eval/reading/kit/unit-N/{A,B}.txt and eval/reading/kit/key.json (which one is the tool's:
open it only after reading). Then: .venv/bin/python eval/reading/side_by_side.py unit-1

The tool drafts as a secretary would run it: update mode over the unit's previous-year report in an
index of the corpus reports (the unit's own report for the year drafted is left out of the index).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.drafting.draft import draft_report  # noqa: E402
from pipeline.facts.metrics import load_metrics  # noqa: E402
from pipeline.index.hybrid import HybridIndex  # noqa: E402
from pipeline.output.draft_files import draft_to_markdown  # noqa: E402
from pipeline.reading.readers import read_text  # noqa: E402

KIT = Path(__file__).resolve().parent / "kit"
UNITS = ("lanchuan-2024", "heting-2024", "yanxi-2024")


def _plain(markdown: str) -> str:
    """The draft as a report reads on paper: no Markdown marks."""
    return re.sub(r"^#+\s*", "", markdown, flags=re.M).replace("\n\n", "\n").strip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=7, help="order of A/B per unit (default 7)")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    reports = sorted((ROOT / "corpus" / "reports").iterdir())
    if KIT.exists():
        shutil.rmtree(KIT)
    key: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory() as work:
        for n, unit in enumerate(UNITS, 1):
            own = next(p for p in reports if p.stem == unit)
            index = HybridIndex.open(Path(work) / unit)
            index.ingest([p for p in reports if p != own])
            metrics = load_metrics(ROOT / "corpus" / "metrics" / f"{unit}.yaml")
            region, year = unit.rsplit("-", 1)
            prior_path = ROOT / "corpus" / "metrics" / f"{region}-{int(year) - 1}.yaml"
            prior = load_metrics(prior_path) if prior_path.exists() else None
            draft = _plain(draft_to_markdown(draft_report(metrics, index=index, prior=prior)))
            human = read_text(own).strip() + "\n"
            pair = [("tool", draft), ("corpus", human)]
            rng.shuffle(pair)
            folder = KIT / f"unit-{n}"
            folder.mkdir(parents=True)
            for label, (_who, text) in zip("AB", pair, strict=True):
                (folder / f"{label}.txt").write_text(text, encoding="utf-8")
            key[f"unit-{n}"] = {"tool": "AB"[[w for w, _ in pair].index("tool")], "unit": unit}
    (KIT / "key.json").write_text(json.dumps(key, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"已写出 {KIT}：{', '.join(key)}（答案在 key.json，读完再看）")
    return 0


if __name__ == "__main__":
    sys.exit(main())
