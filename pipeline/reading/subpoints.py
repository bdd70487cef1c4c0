"""Sub-points of a section for the structure parser (`pipeline.reading.parse`): `一是…二是…` inside
paragraphs, `（一）`/`1、`/`一、` lists at line starts, run-in labels (`学习：…`).

Split out of `parse`, which calls `_subpoints` on each assembled section's paragraphs; the marker
patterns come from `pipeline.reading.headings`.
"""

from __future__ import annotations

from pipeline.reading.headings import (
    _ARABIC_RE,
    _CN_NUM_SET,
    _L1_RE,
    _LABEL_RE,
    _PAREN_RE,
    _SENT_END,
    cn_numeral,
)

_SHI_STOP = frozenset("，。；、：,;:")       # `_SHI_RE`'s lookahead refuses these (and whitespace)
_SHI_PREVIOUS = frozenset(_SENT_END + "\n：:，,” 将要")     # what may stand right before a `一是` that counts


def _shi_markers(text: str) -> list[tuple[int, int, str]]:
    """(start, end, numeral) of every `_SHI_RE` match in `text`, as `_SHI_RE.finditer` gives them.

    The regex engine has no literal to skip ahead to when a pattern opens with a character class
    and tries it at every character (~20 ns each); `是` is a literal `str.find` skips to. A match
    is at most three numerals right before a `是` (leftmost start: the last three of a longer run)
    and ends after the `是`; numerals cannot straddle the previous match, which ends in `是`."""
    out: list[tuple[int, int, str]] = []
    at = text.find("是", 1)          # a `是` at 0 has no numeral before it
    while at >= 0:
        if text[at - 1] in _CN_NUM_SET:
            after = text[at + 1: at + 2]
            if after and after not in _SHI_STOP and not after.isspace():
                start = at - 1
                while start > 0 and at - start < 3 and text[start - 1] in _CN_NUM_SET:
                    start -= 1
                out.append((start, at + 1, text[start:at]))
        at = text.find("是", at + 1)
    return out


def _subpoints(paragraphs: list[str], allow_mid_start: bool = False) -> list[str]:
    """Top-level sub-point texts, markers stripped, in order.

    `一是…二是…` may run inside a paragraph or start lines; a nested `一是` after a colon opens an
    inner list that stays inside its parent. `（一）`, `1、` and run-in labels count at line starts.
    """
    if not paragraphs:
        return []
    text = "\n".join(paragraphs)
    points: list[tuple[int, int, int]] = []     # (marker start, text start, number)
    outer_next: int | None = None
    nested_next: int | None = None
    for start, end, num in _shi_markers(text) if "是" in text else ():
        prev = text[start - 1] if start > 0 else "\n"
        # `我将一是…，二是…` in plans: the verb sits right before the first marker.
        if prev not in _SHI_PREVIOUS:
            continue
        number = cn_numeral(num)
        if number is None:
            continue
        if outer_next is None:
            if number == 1 or (allow_mid_start and not points):
                points.append((start, end, number))
                outer_next = number + 1
            continue
        if nested_next is not None:
            if number == nested_next and (prev in "；;，,：:" or number != outer_next):
                nested_next += 1
                continue
            if number == outer_next:
                nested_next = None
                points.append((start, end, number))
                outer_next += 1
            continue
        if number == outer_next:
            points.append((start, end, number))
            outer_next += 1
        elif number == 1 and prev in "：:；;，,":
            nested_next = 2
    # The paragraphs are the lines unless one holds a line end itself (then the joined text has more).
    lines = paragraphs if paragraphs and text.count("\n") == len(paragraphs) - 1 else text.split("\n")
    line_points = _line_start_points(lines, allow_mid_start)
    # `一是…二是…` inside the first `（一）…` item belong to it: the line-start list is the outer one.
    if points and not (len(line_points) >= 2 and line_points[0][0] < points[0][0]):
        return _cut_points(text, points)
    if line_points:
        return _cut_points(text, line_points)
    # A label is 2–10 characters and a colon: a line without a colon there is spared the pattern.
    labels = [line for line in lines if (line.find("：", 2, 11) >= 0 or line.find(":", 2, 11) >= 0)
              and _LABEL_RE.match(line)]
    if len(labels) >= 2:
        return labels
    return []


def _line_start_points(lines: list[str], allow_mid_start: bool) -> list[tuple[int, int, int]]:
    """(marker start, text start, number) of the first counting list of line-start markers
    (`（一）`, then `1、`, then `一、`); offsets are in the lines joined by `\\n`."""
    # Which patterns can match at all, from the lines' first characters (most sections have no
    # line opening with a marker): `_PAREN_RE` opens with a bracket, `_ARABIC_RE` with a decimal
    # digit (`\d`), `_L1_RE` with a Chinese numeral.
    paren = arabic = l1 = False
    for line in lines:
        first = line[:1]
        if not first:
            continue
        if first in "（(":
            paren = True
        elif first.isdecimal():
            arabic = True
        elif first in _CN_NUM_SET:
            l1 = True
    if not (paren or arabic or l1):
        return []
    for pattern, wanted in ((_PAREN_RE, paren), (_ARABIC_RE, arabic), (_L1_RE, l1)):
        if not wanted:
            continue
        found: list[tuple[int, int, int]] = []
        expect = None
        offset = 0
        for line in lines:
            m = pattern.match(line)
            if m:
                number = int(m.group("num")) if m.group("num").isdigit() else cn_numeral(m.group("num"))
                if number is not None and (expect is None and (number == 1 or allow_mid_start)
                                           or number == expect):
                    found.append((offset, offset + m.end(), number))
                    expect = number + 1
            offset += len(line) + 1
        if found:
            return found
    return []


def _cut_points(text: str, points: list[tuple[int, int, int]]) -> list[str]:
    out: list[str] = []
    for i, (_, text_start, _) in enumerate(points):
        end = points[i + 1][0] if i + 1 < len(points) else len(text)
        chunk = text[text_start:end].strip()
        # A sub-point ends at its paragraph's end when the next marker is far away in a new paragraph.
        out.append(chunk.replace("\n", ""))
    return out
