"""The working copy of a report's text, and the way back to the file's own positions.

`readers.read_text` returns the file's text as read (offsets the user can find in the file).
Structure, extraction and checking work better on a tidier copy: one paragraph per line, no
blank lines, no indentation (spaces, tabs, ideographic spaces), odd spaces made plain, zero-width
marks gone, Markdown heading marks (`## `, `> `) and whole-line bold (`**一、…**`) gone. `clean_view`
makes that copy and remembers where each of its characters came from, so every span computed on
the copy is reported in the file's text (`TextView.span`).

The map is kept as runs (copy start, source start), one or a few per line, not one integer per
character: a 20 MB text costs a few hundred thousand runs, found by bisection.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from pipeline.reading.limits import INVISIBLE

_Spanned = TypeVar("_Spanned", bound=Any)

# Characters that are layout, not text: stripped at line edges, and zero-width ones removed inside.
_ODD_SPACES = "\u00a0\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f"
# Zero-width characters and bidi controls (`reading.limits.INVISIBLE`): a reader does not see them, so
# the working copy drops them and a figure wrapped in U+202E is checked like any other.
_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff" + "".join(c for c in INVISIBLE if c not in "\u200b\u200c\u200d\u2060\ufeff")
_EDGE = " \t\u3000" + _ODD_SPACES + _ZERO_WIDTH
_ODD_SPACE_RE = re.compile(f"[{_ODD_SPACES}]")
_ZERO_WIDTH_RE = re.compile(f"[{_ZERO_WIDTH}]+")
# A line ends at \n, \r\n, \r, a Unicode line or paragraph separator, or a form feed (page break).
_LINE_RE = re.compile(r"[^\r\n\u2028\u2029\x0c]*")
_MD_MARK_RE = re.compile(r"^(?:#{1,6}|>)[ \t\u3000]*")
_MD_BOLD_RE = re.compile(r"^(\*{1,2}|_{2})(?=[^\s*])([^*]+?)(?<=[^\s*])\1$")
_MD_CHARS = "#>*_"                     # what `_MD_MARK_RE` and `_MD_BOLD_RE` open with
_OTHER_BREAKS = "\r\u2028\u2029\x0c"   # line ends besides `\\n` (`_LINE_RE`)
# The characters that send a text line by line (`clean_view`); most texts hold none of them.
SPECIAL_CHARS = _ZERO_WIDTH + _ODD_SPACES + _MD_CHARS + _OTHER_BREAKS
_SPECIAL_RE = re.compile(f"[{re.escape(SPECIAL_CHARS)}]")
# Every character `str.isspace` accepts but the plain space and `\n` (`str.strip` strips them all).
OTHER_SPACES = "\t\x0b\x0c\r\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"


@dataclass(frozen=True)
class TextView:
    """`text` is the working copy of `source`; `runs` maps copy positions back to `source`.

    `runs` holds (copy start, source start) of each stretch copied unchanged (odd spaces count as
    unchanged: they become plain spaces one for one), in increasing order.
    """

    source: str
    text: str
    runs: tuple[tuple[int, int], ...]

    def position(self, offset: int) -> int:
        """Source index of the copy character at `offset` (`len(text)` maps to `len(source)`)."""
        if offset >= len(self.text):
            return len(self.source)
        if not self.runs:
            return offset
        if len(self.runs) == 1:            # one shift for the whole copy (a tidy file)
            copy_start, source_start = self.runs[0]
            return source_start + offset - copy_start
        i = bisect_right(self._starts, offset) - 1
        copy_start, source_start = self.runs[max(i, 0)]
        return source_start + offset - copy_start

    def copy_position(self, offset: int) -> int:
        """Copy index of the source character at `offset`; a character the copy dropped maps to the
        next one it kept (`len(source)` maps to `len(text)`)."""
        if offset >= len(self.source) or not self.runs:
            return min(offset, len(self.text))
        sources = self._sources
        i = bisect_right(sources, offset) - 1
        if i < 0:
            return 0
        copy_start, source_start = self.runs[i]
        copy_end = self.runs[i + 1][0] if i + 1 < len(self.runs) else len(self.text)
        at = copy_start + offset - source_start
        return at if at < copy_end else copy_end

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The source span of the copy span [start, end): its first character to its last."""
        if end <= start:
            at = self.position(start)
            return at, at
        runs = self.runs
        if len(runs) == 1 and end <= len(self.text):     # one shift for the whole copy (`position`)
            shift = runs[0][1] - runs[0][0]
            return start + shift, end + shift
        return self.position(start), self.position(end - 1) + 1

    def remap(self, items: Iterable[_Spanned]) -> list[_Spanned]:
        """Copies of `items` (anything with `start`/`end`: `Quantity`, `Finding`) with their spans
        moved from the working copy into the source."""
        if self.identity:
            return list(items)
        return [replace(item, **dict(zip(("start", "end"), self.span(item.start, item.end), strict=True)))
                for item in items]

    @property
    def identity(self) -> bool:
        """True when the copy is the source itself (nothing to map)."""
        return self.text == self.source

    @property
    def _sources(self) -> list[int]:
        cached = self.__dict__.get("_sources_cache")
        if cached is None:
            cached = [r[1] for r in self.runs]
            object.__setattr__(self, "_sources_cache", cached)
        return cached

    @property
    def _starts(self) -> list[int]:
        cached = self.__dict__.get("_starts_cache")
        if cached is None:
            cached = [r[0] for r in self.runs]
            object.__setattr__(self, "_starts_cache", cached)
        return cached


def _lines(source: str, other_breaks: bool = True):
    """(start, text) of each non-empty line. Plain `\\n` text (what `read_text` gives) is split with
    `str.split`; other line ends go through the regex. `other_breaks=False`: the caller knows
    there is none of them."""
    if other_breaks and any(c in source for c in _OTHER_BREAKS):
        for m in _LINE_RE.finditer(source):
            if m.end() > m.start():
                yield m.start(), m.group()
        return
    at = 0
    for line in source.split("\n"):
        if line:
            yield at, line
        at += len(line) + 1


def clean_view(source: str, *, plain: bool = False) -> TextView:
    """The working copy of `source` (see the module doc) with its map back to `source`. `plain`: the
    caller has found none of `SPECIAL_CHARS` in `source` already (`readers.read_document_plain`)."""
    # Character checks on the whole text are memchr-fast; the per-line regexes run only when needed.
    # Most texts hold none of the characters looked for: one regex scan says so for all of them.
    special = not plain and _SPECIAL_RE.search(source) is not None
    if not special:
        plain = _plain_view(source)
        if plain is not None:
            return plain
    return _line_view(source, special)


def _line_view(source: str, special: bool = True) -> TextView:
    """`clean_view` line by line; `special=False` when the text has none of `_SPECIAL_RE`'s characters."""
    pieces: list[str] = []
    runs: list[tuple[int, int]] = []
    length = 0
    zero_width = special and any(c in source for c in _ZERO_WIDTH)
    odd_spaces = special and any(c in source for c in _ODD_SPACES)
    markdown = special and any(c in source for c in _MD_CHARS)
    for line_start, line in _lines(source, special):
        stripped = line.lstrip(_EDGE)
        if not stripped:
            continue
        lo = line_start + len(line) - len(stripped)
        hi = line_start + len(line.rstrip(_EDGE))
        if markdown and source[lo] in _MD_CHARS:      # both patterns open with one of these
            inner = source[lo:hi]
            mark = _MD_MARK_RE.match(inner)
            if mark:
                lo += len(inner) - len(inner[mark.end():].lstrip(_EDGE))
                inner = source[lo:hi]
                if not inner:
                    continue
            bold = _MD_BOLD_RE.match(inner)
            if bold:
                width = len(bold.group(1))
                lo, hi = lo + width, hi - width
        if pieces:
            # The joining line end stands for the source's line end before this line.
            runs.append((length, line_start - 1))
            pieces.append("\n")
            length += 1
        stretch_start = lo
        if zero_width:
            for zw in _ZERO_WIDTH_RE.finditer(source, lo, hi):
                if zw.start() > stretch_start:
                    runs.append((length, stretch_start))
                    chunk = source[stretch_start:zw.start()]
                    pieces.append(_plain_spaces(chunk) if odd_spaces else chunk)
                    length += len(chunk)
                stretch_start = zw.end()
        if hi > stretch_start:
            runs.append((length, stretch_start))
            chunk = source[stretch_start:hi]
            pieces.append(_plain_spaces(chunk) if odd_spaces else chunk)
            length += len(chunk)
    return TextView(source=source, text="".join(pieces), runs=_merged(runs))


def _plain_view(source: str) -> TextView | None:
    """`clean_view` of a text with `\\n` line ends only, no Markdown mark, no zero-width or odd
    space (the caller checked): None unless no line starts or ends with a space, tab or ideographic
    space. Then the copy is the non-empty lines joined, and the map needs a new run only where
    blank lines were dropped (what `_merged` leaves of the per-line runs `clean_view` makes: a
    joining line end and its line share a shift, which changes only when the line does not follow
    the previous one directly)."""
    lines = source.split("\n")
    empty = 0
    for line in lines:
        # (`strip` tests both ends without making a string of each end character.)
        if not line:
            empty += 1
        elif len(line.strip(_EDGE)) != len(line):
            return None
    # Empty lines only before the first line of text and after the last (a file's final line end,
    # the usual report): the copy is the text between them, one run.
    lead = 0
    while lead < len(lines) and not lines[lead]:
        lead += 1
    trail = 0
    while trail < len(lines) - lead and not lines[-1 - trail]:
        trail += 1
    if lead + trail == empty and lead < len(lines):
        return TextView(source=source, text=source[lead:len(source) - trail], runs=((0, lead),))
    kept: list[str] = []
    runs: list[tuple[int, int]] = []
    length = 0          # copy length so far
    at = 0              # source index of the current line
    previous_end = -1   # source index just after the last kept line
    for line in lines:
        if line:
            if not kept:
                runs.append((0, at))
            else:
                if at - 1 != previous_end:
                    runs.append((length, at - 1))
                length += 1
            kept.append(line)
            length += len(line)
            previous_end = at + len(line)
        at += len(line) + 1
    return TextView(source=source, text="\n".join(kept), runs=tuple(runs))


# A character `clean_view` always keeps and `str.strip` never drops: not whitespace, not a layout
# character stripped at line edges or removed inside, not a Markdown mark.
_KEPT_RE = re.compile(f"[^\\s{re.escape(_EDGE)}{re.escape(_MD_CHARS)}]")


def has_text(source: str) -> bool:
    """`bool(clean_view(source).text.strip())`: whether the working copy holds any text. One such
    character is proof (it lies inside its line's stripped edges and is neither a Markdown mark
    nor dropped inside), found at C speed, usually at the first character; the copy is built
    only when there is none."""
    return _KEPT_RE.search(source) is not None or bool(clean_view(source).text.strip())


def _plain_spaces(chunk: str) -> str:
    # `str.translate` looks every character up in a dict: a regex is ~50× faster on CJK text.
    return _ODD_SPACE_RE.sub(" ", chunk) if _ODD_SPACE_RE.search(chunk) else chunk


def _merged(runs: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Runs that continue the previous one unchanged (same shift) are one run."""
    out: list[tuple[int, int]] = []
    for copy_start, source_start in runs:
        if out and source_start - copy_start == out[-1][1] - out[-1][0]:
            continue
        out.append((copy_start, source_start))
    return tuple(out)


def line_column(text: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of `offset` in `text`; lines end at `\\n`, columns count characters."""
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column
