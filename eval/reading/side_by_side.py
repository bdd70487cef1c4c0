"""Print the two texts of one unit of the blind-reading kit side by side (eval/reading/kit/unit-N).

Usage: .venv/bin/python eval/reading/side_by_side.py unit-1 [--width 34]
Each paragraph of A is set beside the paragraph of B at the same place, wrapped to `--width`
characters; read both, judge which could be handed in, then look at kit/key.json.
"""

from __future__ import annotations

import argparse
import sys
import unicodedata
from itertools import zip_longest
from pathlib import Path

KIT = Path(__file__).resolve().parent / "kit"


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _wrap(paragraph: str, width: int) -> list[str]:
    lines, line = [], ""
    for ch in paragraph:
        if _width(line + ch) > width * 2:
            lines.append(line)
            line = ""
        line += ch
    return lines + [line] if line else lines or [""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("unit", help="unit-1, unit-2 or unit-3")
    parser.add_argument("--width", type=int, default=34, help="characters per column (default 34)")
    args = parser.parse_args(argv)
    folder = KIT / args.unit
    if not folder.is_dir():
        print(f"没有 {folder}；先运行 eval/reading/make_kit.py。", file=sys.stderr)
        return 2
    a = (folder / "A.txt").read_text(encoding="utf-8").splitlines()
    b = (folder / "B.txt").read_text(encoding="utf-8").splitlines()
    column = args.width * 2
    print(f"{'A':<{column}} │ B")
    print("─" * column + "─┼─" + "─" * column)
    for left, right in zip_longest(a, b, fillvalue=""):
        for l_line, r_line in zip_longest(_wrap(left, args.width), _wrap(right, args.width), fillvalue=""):
            print(l_line + " " * (column - _width(l_line)) + " │ " + r_line)
        print(" " * column + " │")
    return 0


if __name__ == "__main__":
    sys.exit(main())
