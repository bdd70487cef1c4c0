"""Structure parser: report text → `Report` (title, year, region, sections, sub-points).

Real reports vary (DOMAIN.md §2): headings on their own line or run into the body, chapters,
a whole report on one line, sub-points `一是`/`（一）`/`1、`/run-in labels, tables of contents,
page-break digits, traditional characters, stray whitespace. The parser works in three passes:

1. `_logical_lines`: normalise whitespace, drop page-number and table-of-contents lines, and cut
   a line where a new numbered heading or the closing formula starts inside it (single-line
   reports, headings glued after a TOC).
2. `_heading_of` / `_find_heading_end`: for each line opening with a heading marker, find where
   the heading ends and the body begins (own line, `。`/`：`, whitespace, or a known body opener).
3. `parse_text` assembles sections: opening before the first heading, numbered sections (level 2
   for `（一）` headings on their own line under `一、`), an unnumbered plans block (the paragraph
   admitting the gap), the closing formula; `_subpoints` collects sub-points per section.

Section keys come from `classify_heading`, which maps traditional characters to simplified with a
small table and scores keyword hits (the first clause of a heading counts double).

Year, region and the byline under the title (`岚川县委书记 林某某`, kept out of the sections) are read
by `pipeline.reading.report_meta`. Pass 2, the section keys and the other heading readings live in
`pipeline.reading.headings`, `_subpoints` in `pipeline.reading.subpoints`; the names other modules
and tests import from here are re-exported below.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.models import Report, Section
from pipeline.reading.headings import (
    _ARABIC_RE,
    _CHAPTER_RE,
    _CLOSING_MAX_CHARS,
    _CN_NUM,
    _CN_NUM_SET,
    _COMMA_RE,
    _DIGIT_RE,
    _HEADING_FIRST,
    _L1_RE,
    _PAREN_RE,
    _SENT_END,
    _SHI_RE,
    _TOP_FIRST,
    _arabic_heading,
    _arabic_role,
    _bare_heading_lines,
    _classify,
    _heading_of,
    _is_closing,
    _later_heading_numbers,
    _paren_runin_headings,
    _runin_paren_heading,
    classify_heading,
    cn_numeral,
)

# Re-exported (`X as X`): tests/test_parse_speedups.py reads these four through `parse`; they are the
# objects headings.py and subpoints.py use.
from pipeline.reading.headings import _FIRST_CLAUSE_END_RE as _FIRST_CLAUSE_END_RE
from pipeline.reading.headings import _KEYWORDS as _KEYWORDS
from pipeline.reading.headings import _strip_marker as _strip_marker
from pipeline.reading.readers import read_document_plain
from pipeline.reading.report_meta import (  # noqa: F401 - to_simplified re-exported
    TRADITIONAL_CHARS,
    is_speaker_line,
    report_region,
    report_year,
    simplified_pieces,
    to_simplified,
)
from pipeline.reading.subpoints import _shi_markers as _shi_markers
from pipeline.reading.subpoints import _subpoints
from pipeline.reading.textview import OTHER_SPACES, TextView, clean_view

# --------------------------------------------------------------------------- normalisation

# Whitespace a Word or web copy leaves behind; all of it counts as a plain space for structure.
_SPACE_CHARS = "\u00a0\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000\t"
_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
_ODD_SPACE_RE = re.compile(f"[{_SPACE_CHARS}{_ZERO_WIDTH}]")
# Every character `str.isspace` accepts but the plain space and `\\n` (`_SPACE_CHARS` are among them).
_OTHER_SPACES = OTHER_SPACES
# A character that `normalise_text` would change or `to_simplified` would map (`parse_text`).
_UNSETTLED_RE = re.compile(f"[{re.escape(_OTHER_SPACES)}{_ZERO_WIDTH}{TRADITIONAL_CHARS}]")
_SPACES_ONLY_RE = re.compile(f"[{_SPACE_CHARS}]")
_ZERO_WIDTH_ONLY_RE = re.compile(f"[{_ZERO_WIDTH}]")


def normalise_text(text: str) -> str:
    """`\\r\\n`/`\\r` → `\\n`, odd spaces → space, zero-width marks dropped, lines stripped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if _ODD_SPACE_RE.search(text):
        # Two regex substitutions, not `str.translate`: translate looks every character up in a dict
        # (~65 ns a character on CJK text), the regex engine only stops at the few it replaces.
        text = _ZERO_WIDTH_ONLY_RE.sub("", _SPACES_ONLY_RE.sub(" ", text))
    return "\n".join(line.strip() for line in text.split("\n")).strip("\n")


# --------------------------------------------------------------------------- markers

# Lines that are only a page number: `12`, `- 3 -`, `— 3 —`, `第3页`, `3/12`.
_PAGE_LINE_RE = re.compile(r"^(?:[-—–－]*\s*\d{1,4}\s*[-—–－]*|第\s*\d{1,4}\s*页(?:\s*共\s*\d+\s*页)?|\d{1,4}\s*/\s*\d{1,4})$")
# First characters of a stripped line the patterns can match (a digit too for the page line: `\\d` is
# `str.isdecimal`). A regex call that fails on the first character still costs a call; most lines
# are body text and are let through by one membership test instead.
_PAGE_FIRST = "-—–－第"
# A table-of-contents entry: leader dots (or ellipsis) then a page number.
_TOC_LEADERS = ("……", "...", "···", "---", "———")       # the shortest leader of each kind below
_TOC_ENTRY_RE = re.compile(r"(?:…{2,}|\.{3,}|·{3,}|-{3,}|—{3,})\s*\d{1,4}(?![\d万千百十亿余多人名次个件元%％])")
_CLOSING_START_RE = re.compile(r"(?:我的述职完毕|以上是我的述职|述职完毕|以上述职|以上报告)")
# Where an unnumbered plans block starts: a paragraph that admits the gap to expectations
# (`一年来，虽然…但…差距`) or one that opens on the next year (`下步，我将…`).
_ADMISSION_START_RE = re.compile(
    r"^(?:一年来|过去的?一年|回顾.{0,8}|总的来看|总的看|总之|综上|总体来看|总体而言|虽然|尽管|但是?|同时|当然|在肯定成绩的同时|"
    r"在看到成绩的同时|成绩只能|客观分析|存在的?问题|问题与不足|不足之处|存在的?不足|主要不足|差距和不足|"
    r"工作中还存在|当前.{0,6}还存在)"
)
_ADMISSION_CUE_RE = re.compile(r"差距|不足|短板|薄弱|欠缺|不够|有待|滞后|下步|下一步")
# After a strong opening (`一年来…`, `总的看…`) a turn of contrast is admission enough.
_CONTRAST_CUE_RE = re.compile(r"虽然|虽有|虽|但是?|清醒地?看到|仍然存在|仍有|还存在")
_NEXT_YEAR_START_RE = re.compile(
    r"^(?:(?:下步|下一步|今后|明年|新的一年).{0,12}(?:打算|工作中|计划|思路|安排|将|，我)|"
    r"(?:\d{4}|[二][〇零○][〇零○一二三四五六七八九]{2})年.{0,6}(?:我将|我们将|打算|工作计划|工作思路|工作重点))"
)

# Patterns used inside the functions below, compiled once (a `re.search(r"…")` call looks its
# pattern up in re's cache every time: ~80 lookups a report).
_STOP_RE = re.compile(r"[。；]")
_ENDS_WITH_PAGE_RE = re.compile(r"[\u4e00-\u9fff]\s*\d{1,3}$")
_PAGE_DIGITS_BEFORE_HEADING_RE = re.compile(rf"^\d{{1,3}}\s*(?=[{_CN_NUM}]{{1,3}}\s*、|[（(][{_CN_NUM}]|第[{_CN_NUM}]+章)")
_GAP_WORD_RE = re.compile(r"差距|不足|短板")
_TITLE_WORD_RE = re.compile(r"述职|报告|总结")
_TITLE_BAD_RE = re.compile(r"[，。；：:]")


# --------------------------------------------------------------------------- pass 1: lines

def _toc_rest(line: str) -> str | None:
    """None when `line` is not a table of contents; else the text glued after its last page number
    (often the real first heading). Body text with an ellipsis and a figure (`……3次`) is no TOC."""
    if line.replace(" ", "") == "目录":
        return ""
    # Leader dots are rare in body text: test for them before running the entry pattern.
    leaders = any(leader in line for leader in _TOC_LEADERS)
    entries = list(_TOC_ENTRY_RE.finditer(line)) if leaders else []
    if not entries:
        return _toc_without_leaders(line)
    lead = line[: entries[0].start()]
    if len(entries) == 1 and (len(lead) > 40 or _STOP_RE.search(lead)):
        return None
    rest = line[entries[-1].end():].strip()
    if rest and not (_L1_RE.match(rest) or _CHAPTER_RE.match(rest) or _PAREN_RE.match(rest)):
        return None if len(entries) == 1 else rest
    return rest


_GLUED_PAGE_RE = re.compile(rf"(?<=[\u4e00-\u9fff）)])\s*\d{{1,3}}\s*(?=(?P<num>[{_CN_NUM}]{{1,3}})、)")


def _toc_without_leaders(line: str) -> str | None:
    """A TOC with bare page numbers: `一、立足岗位2二、坚持制度4三、夯实基础6一、立足岗位，…`.
    Needs two entries whose page number runs into the next entry's `二、`; the text from the
    restarted `一、` on is the real report."""
    marker = _L1_RE.match(line)
    # Only a glued entry can make the answer: it ends in `、` after the line's own marker, right after
    # the next entry's numeral, and holds a digit. Those are looked for first (a run-in heading's
    # line is long, and the glued pattern opens with a lookbehind tried at every position).
    if not marker or not _numeral_before_dun(line, marker.end()) or not _DIGIT_RE.search(line):
        return None
    glued = list(_GLUED_PAGE_RE.finditer(line))
    ends_with_page = ((line[-1].isdecimal() or line[-1] == "\n")      # `$` also matches before a final `\\n`
                      and _ENDS_WITH_PAGE_RE.search(line) is not None)
    if len(glued) < 2 and not (glued and ends_with_page):
        return None
    for m in glued:
        if cn_numeral(m.group("num")) == 1:
            return line[m.end():].strip()
    return "" if ends_with_page else None


def _numeral_before_dun(line: str, start: int) -> bool:
    """Whether a `、` at or after `start` (> 0) follows a Chinese numeral right before it."""
    at = line.find("、", start)
    while at >= 0:
        if line[at - 1] in _CN_NUM_SET:
            return True
        at = line.find("、", at + 1)
    return False


# A heading run into a line after a sentence end or a space. Searched for in a whole line (a
# single-line report), so the character before the heading is matched, not looked behind at: the
# engine then skips at C speed to the few places that character is (a lookbehind is tried at every
# position, 3× slower), and `\s` is spelled out (a category test per character is slower still).
# A search from `pos - 1` finds what the lookbehind form `(?<=[…])\s*…` finds from `pos`; only
# `start()` is one less (the same for both patterns, so comparing starts still holds).
_BEFORE_INLINE = re.escape("。！？；：:”" + " \n" + OTHER_SPACES)       # (`" \n" + OTHER_SPACES` is `\s`)
_INLINE_L1_RE = re.compile(rf"[{_BEFORE_INLINE}]\s*(?P<num>[{_CN_NUM}]{{1,3}})\s*、")
_INLINE_CHAPTER_RE = re.compile(rf"[{_BEFORE_INLINE}]\s*第(?P<num>[{_CN_NUM}]{{1,3}})(?:章|部分)")
_CHAPTER_HINT_RE = re.compile(rf"第[{_CN_NUM}]{{1,3}}(?:章|部分)")     # what every chapter match holds


def _cut_inline_headings(line: str, expected: int) -> tuple[list[str], int]:
    """Cut `line` before each numbered heading that continues the count (`expected` is next)."""
    pieces: list[str] = []
    start = 0
    m0 = _L1_RE.match(line) or _CHAPTER_RE.match(line)
    if m0:
        value = cn_numeral(m0.group("num"))
        if value is not None:
            expected = value + 1
    pos = 1
    while True:
        best = None
        # Each L1 match holds a `、`, each chapter match `第一章`/`第一部分`: without one ahead there is
        # none (a search from `pos` tries every candidate to the end, once per heading cut).
        for pattern, ahead in ((_INLINE_L1_RE, line.find("、", pos) >= 0),
                               (_INLINE_CHAPTER_RE, _CHAPTER_HINT_RE.search(line, pos) is not None)):
            # (From one position earlier: the patterns match the character before the heading.)
            m = pattern.search(line, pos - 1) if ahead else None
            while m and cn_numeral(m.group("num")) != expected:
                m = pattern.search(line, m.end() - 1)
            if m and (best is None or m.start() < best.start()):
                best = m
        if best is None:
            break
        cut = best.start("num") - (1 if line[best.start("num") - 1:best.start("num")] == "第" else 0)
        pieces.append(line[start:cut].strip())
        start = cut
        expected += 1
        pos = best.end()
    pieces.append(line[start:].strip())
    return [p for p in pieces if p], expected


# `（二）` after a sentence end; its character is matched, not looked behind at (as `_INLINE_L1_RE`).
_INLINE_PAREN_RE = re.compile(rf"[。！？；]\s*[（(](?P<num>[{_CN_NUM}]{{1,3}})[）)]")


def _cut_inline_parens(line: str) -> list[str]:
    """A paragraph that runs `（一）…。（二）…。（三）…` together is cut before each `（N）` that
    continues the count after a sentence end (a flattened Word list, or a copy from a web page)."""
    m0 = _PAREN_RE.match(line) if line[:1] in "（(" else None
    if not m0 or cn_numeral(m0.group("num")) != 1:
        return [line]
    if line.find("（", 1) < 0 and line.find("(", 1) < 0:     # every inline match holds a bracket
        return [line]
    cuts = []
    expected = 2
    for m in _INLINE_PAREN_RE.finditer(line):
        if cn_numeral(m.group("num")) == expected:
            cuts.append(m.start("num") - 1)
            expected += 1
    if not cuts:
        return [line]
    bounds = [0, *cuts, len(line)]
    return [line[a:b].strip() for a, b in zip(bounds, bounds[1:], strict=False) if line[a:b].strip()]


def _cut_closing(line: str) -> list[str]:
    simple = to_simplified(line)
    m = _CLOSING_START_RE.search(simple) if "述职完毕" in simple or "以上" in simple else None
    if not m or m.start() == 0:
        return [line]
    before = line[: m.start()]
    if before and before[-1] in _SENT_END + "”":
        return [before.strip(), line[m.start():].strip()]
    return [line]


_TOC_WORD_RE = re.compile("目 *录")       # what a line that is `目录` once spaces are removed holds
_TITLE_IN_LINE_RE = re.compile(r"^(?P<title>[^，。；：]{4,60}?(?:述职报告|述职|工作报告|报告))(?=\s|20\d\d|一年|[\u4e00-\u9fff])")


def _logical_lines(norm: str) -> list[str]:
    """The lines of `norm` (already `normalise_text`-ed) as the parser sees them."""
    raw = norm.split("\n")
    out: list[str] = []
    expected = 1
    # Headings are cut out of the middle of a line only when the document does not put them on
    # lines of their own: otherwise `…两个方面：一、…。二、…` in a body paragraph would be cut.
    own_line_headings = 0
    for ln in raw:
        if ln[:1] in _TOP_FIRST and (_L1_RE.match(ln) or _CHAPTER_RE.match(ln)):
            own_line_headings += 1
            if own_line_headings == 2:      # enough to know
                break
    cut_inline = own_line_headings < 2
    # Every line below is a piece of `norm`, so what `norm` lacks no line has: a table of contents
    # needs `目录`, leader dots or a `一、` line start (`_toc_rest`); a closing to cut off needs
    # `以上` or `述职完毕` (`_cut_closing`). Tested once here instead of on every line.
    # (A one-character test before each substring search: a CJK text rarely holds `…`, `.` or `-`.)
    toc_marks = _TOC_WORD_RE.search(norm) or any(leader[0] in norm and leader in norm for leader in _TOC_LEADERS)
    simple = to_simplified(norm)
    closing_marks = "述职完毕" in simple or "以上" in simple
    # `to_simplified` gives its argument back when it maps nothing: then no piece of `norm` needs it.
    simplify = None if simple is norm else to_simplified
    for line in raw:
        line = line.strip()
        if not line:
            continue
        first = line[0]     # (one string for the tests below: each `line[0]` of a CJK line makes one)
        if (first in _PAGE_FIRST or first.isdecimal()) and _PAGE_LINE_RE.match(line):
            continue
        # Without a TOC mark only `_toc_without_leaders` can answer, and only for a `一、` line.
        rest = (_toc_rest(line) if toc_marks
                else _toc_without_leaders(line) if first in _CN_NUM_SET else None)
        if rest is not None:
            if not rest:
                continue
            line = rest
            first = line[0]
        # Page-break digits glued to the start of a heading (`3一、…`, `12（二）…`).
        if first.isdecimal():           # `\\d` is a decimal digit: no other line can match
            line = _PAGE_DIGITS_BEFORE_HEADING_RE.sub("", line)
        # A single-line report: title glued to the opening.
        if not out and len(line) > 80:
            m = _TITLE_IN_LINE_RE.match(line)
            if m and len(line) > m.end() + 20:
                out.append(m.group("title").strip())
                line = line[m.end():].strip()
        pieces, expected = _cut_inline_headings(line, expected) if cut_inline else ([line], expected)
        for piece in pieces:
            # (Pieces are not empty; only a bracketed one can be cut by `_cut_inline_parens`.)
            for part in _cut_inline_parens(piece) if piece.startswith(("（", "(")) else (piece,):
                # (`_cut_closing` cuts only where its simplified line holds one of these words.)
                if closing_marks and ("述职完毕" in (simple_part := part if simplify is None else simplify(part))
                                      or "以上" in simple_part):
                    out.extend(_cut_closing(part))
                else:
                    out.append(part)
    return out


# --------------------------------------------------------------------------- pass 3: assembly

@dataclass
class _Block:
    key: str
    heading: str
    level: int
    paragraphs: list[str] = field(default_factory=list)
    numbered: bool = False
    mid_list: bool = False


def _line_marker(line: str) -> tuple[str, int] | None:
    """(kind, number) of a sub-point marker opening `line`: `（三）`, `3、`, `三是`."""
    if not _could_mark(line):
        return None
    for kind, pattern in (("paren", _PAREN_RE), ("arabic", _ARABIC_RE), ("shi", _SHI_RE)):
        m = pattern.match(line)
        if m:
            num = m.group("num")
            number = int(num) if num.isdigit() else cn_numeral(num)
            return (kind, number) if number is not None else None
    return None


def _next_marker(paragraphs: list[str]) -> tuple[str, int] | None:
    """The marker that would continue the last sub-point list of a section (`（二）…` → `（三）`)."""
    for line in reversed(paragraphs):
        marker = _line_marker(line)
        if marker:
            return marker[0], marker[1] + 1
    return None


def _is_plans_start(line: str) -> bool:
    line = to_simplified(line)
    if line.startswith(("一是进一步", "一是要进一步", "一是继续")):
        return True
    # A sub-point that continues a list (`（三）协调服务不打折…`, `三是…`) belongs to its section.
    marker = _line_marker(line)
    if marker and marker[1] > 1:
        return False
    if _NEXT_YEAR_START_RE.match(line):
        return True
    m = _ADMISSION_START_RE.match(line)
    if not m:
        return False
    # `但/同时/虽然…` open many body sentences: they start the plans only with an admission word.
    weak = m.group(0) in ("虽然", "尽管", "但", "但是", "同时", "当然")
    cue = _ADMISSION_CUE_RE.search(line[:160])
    if weak:
        return bool(cue and cue.group(0) not in ("下步", "下一步"))
    return bool(cue or _CONTRAST_CUE_RE.search(line[:80]))


def _settled(copy: str) -> bool:
    """True when `normalise_text(copy)` is `copy` and `to_simplified` maps none of its characters:
    no odd or zero-width space, no line starting or ending in a space, no line end at either end,
    no traditional character. One scan answers both for most working copies."""
    return (_UNSETTLED_RE.search(copy) is None and copy[:1] not in " \n" and copy[-1:] not in " \n"
            and " \n" not in copy and "\n " not in copy)


def parse_text(text: str, source: str = "") -> Report:
    """Parse report text into a `Report`. Never raises on odd structure: unknown parts become `other`.

    `text` is the text as read (`read_text`); sections carry their span and line in it."""
    return _parse(text, source)


def _parse(text: str, source: str, *, plain: bool = False, doc_id: str = "") -> Report:
    """`parse_text`; `plain`: `text` is known to hold none of the characters `clean_view` and
    `_settled` look for (`readers.read_document_plain`), so their scans are skipped."""
    view = clean_view(text, plain=plain)
    # The working copy of a plain text is settled: its characters are some of the text's (and line
    # ends), and `clean_view` stripped every line of its edge spaces and dropped the empty ones.
    if plain or _settled(view.text):
        norm, simplified = view.text, True
    else:
        # normalise_text only swaps spaces one for one on the clean copy: offsets into `norm` are view offsets.
        norm, simplified = normalise_text(view.text), False
    # Every string simplified below is a piece of `norm`: one scan says whether any needs mapping.
    with simplified_pieces(norm, known_simplified=simplified):
        return _parse_norm(text, view, norm, source, doc_id)


def _parse_norm(text: str, view: TextView, norm: str, source: str, doc_id: str = "") -> Report:
    """`parse_text` on the working copy `norm` of `text` (`view` maps its offsets back)."""
    lines = _logical_lines(norm)
    title = _title(lines)
    body_lines = lines[1:] if title else lines
    # A byline under the title (`岚川县委书记 林某某`) is metadata, not the opening's first paragraph.
    byline = body_lines[0] if body_lines and is_speaker_line(body_lines[0]) else None
    if byline is not None:
        body_lines = body_lines[1:]

    blocks: list[_Block] = []
    current = _Block("opening", "", 1)
    last_number = 0
    top_kind: str | None = None
    restart_next: int | None = None     # next number of a count restarted inside a section
    arabic_role = _arabic_role(body_lines)
    later_numbers = _later_heading_numbers(body_lines, arabic=arabic_role == "top")
    # Each line's heading reading, once: the passes below and the loop ask for the same lines.
    # (A line opening with none of `_HEADING_FIRST` is no heading: most are body text, spared the call.)
    headings = [_heading_of(line) if line[:1] in _HEADING_FIRST else None for line in body_lines]
    runin_found: dict[int, tuple[str, int, int, str, str]] = {}
    paren_runin = _paren_runin_headings(body_lines, headings, runin_found)
    bare_headings = _bare_heading_lines(body_lines, headings)
    resume: tuple[str, int] | None = None   # sub-point marker continuing the section a plans block cut
    for index, line in enumerate(body_lines):
        if (resume and current.key == "plans" and not current.numbered and _line_marker(line) == resume
                and not any(_line_marker(p) for p in current.paragraphs)):
            # The section's sub-points go on (`（二）…`, a paragraph, `（三）…`): the paragraph that
            # looked like the plans block was the section's own text, so give it back.
            previous = blocks.pop()
            previous.paragraphs.extend(current.paragraphs)
            current, resume = previous, None
        if current.key == "closing":
            # Signature and date lines follow the closing formula; only the next numbered heading
            # (a closing-like sentence met mid-report) reopens the body.
            nxt = headings[index]
            if not (nxt and nxt[1] == 1 and last_number and nxt[2] == last_number + 1):
                current.paragraphs.append(line)
                continue
        # The closing comes after the last numbered heading: a closing-like sentence followed by the
        # next heading of the count (an opening that asks for review) is body text.
        if (len(line) <= _CLOSING_MAX_CHARS and _is_closing(line) and (blocks or current.paragraphs)
                and not (last_number + 1 in later_numbers[index] and current.key != "plans")):
            blocks.append(current)
            current = _Block("closing", "", 1, [line])
            continue
        found = headings[index]
        if found:
            heading, level, number, kind, body = found
            # A count restarted inside a section (`三、下步打算` then `一、进一步…`, or the
            # unnumbered plans paragraph then `一、…`) lists items, not sections.
            is_item = False
            if kind == (top_kind or kind) and (last_number or current.key == "plans"):
                if restart_next is None:
                    is_item = number == 1 and current.key != "opening"
                elif number == restart_next:
                    # `三、` may continue the outer count or the restarted one: a bare heading line
                    # continues the outer count, a run-in item the inner one.
                    is_item = number != last_number + 1 or bool(body)
                if is_item:
                    restart_next = number + 1
            # `（一）…` is a heading of its own only when body text follows it; a run of bare
            # `（一）`/`（二）` lines lists items (typically the plans).
            if kind == "paren" and not _body_follows(body_lines, index + 1, headings):
                found = None
        if not found and paren_runin and top_kind in ("l1", "chapter") and current.key not in (
                "opening", "plans", "closing"):
            # (`_paren_runin_headings` already read the `（一）lead。body` lines that are no heading.)
            found = runin_found[index] if index in runin_found else _runin_paren_heading(line)
            if found:
                heading, level, number, kind, body = found
                blocks.append(current)
                current = _Block(_subheading_key(heading, _parent_key(blocks)), heading, 2, [body] if body else [],
                                 numbered=True)
                continue
        if not found and arabic_role:
            arabic = _arabic_heading(line)
            if arabic and arabic_role == "top" and arabic[1] == last_number + 1:
                blocks.append(current)
                current = _Block(classify_heading(arabic[0]), arabic[0], 1, [], numbered=True)
                last_number, top_kind = arabic[1], "arabic"
                continue
            if (arabic and arabic_role == "second" and top_kind in ("l1", "chapter")
                    and current.key not in ("opening", "closing") and _body_follows(body_lines, index + 1, headings)):
                blocks.append(current)
                current = _Block(_subheading_key(arabic[0], _parent_key(blocks)), arabic[0], 2, [], numbered=True)
                continue
        if not found and index in bare_headings:
            blocks.append(current)
            current = _Block(classify_heading(line), line, 1, [], numbered=True)
            continue
        if found:
            section = _place_heading(kind, top_kind, body, body_lines, index, is_item, headings)
            if section is not None:
                level, top_kind = section
                blocks.append(current)
                if level == 2 and kind != top_kind:
                    key = _subheading_key(heading, _parent_key(blocks))
                else:
                    key = classify_heading(heading)
                current = _Block(key, heading, level, [body] if body else [], numbered=True)
                if kind == top_kind:
                    last_number = number
                    restart_next = None
                continue
        # Body line: maybe the start of an unnumbered plans block after the last numbered section
        # (a `下步…` outlook closing a middle section is not the plans block).
        if (last_number and current.key != "plans" and current.paragraphs and current.numbered
                and last_number + 1 not in later_numbers[index] and _is_plans_start(line)):
            blocks.append(current)
            resume = _next_marker(current.paragraphs)
            current = _Block("plans", "", 1, [line])
            continue
        if current.key == "opening" and not current.paragraphs and not blocks and _starts_mid_list(line):
            current = _Block("other", "", 1, [line], mid_list=True)
            continue
        current.paragraphs.append(line)
    blocks.append(current)
    if not any(b.key == "plans" for b in blocks):
        _split_glued_plans(blocks)

    kept = [b for b in blocks if b.paragraphs or b.heading]
    spans = _locate(norm, kept)
    sections = []
    counted, lines_before = 0, 0       # line ends in text[:counted]: sections mostly come in text order
    for b, (start, end) in zip(kept, spans, strict=True):
        line = 0
        if start >= 0:
            start, end = view.span(start, end)
            if start < counted:
                counted, lines_before = 0, 0
            lines_before += text.count("\n", counted, start)
            counted = start
            line = lines_before + 1
        sections.append(Section(
            key=b.key,
            heading=b.heading,
            level=b.level,
            paragraphs=tuple(b.paragraphs),
            subpoints=tuple(_subpoints(b.paragraphs, allow_mid_start=b.mid_list)),
            start=start, end=end, line=line,
        ))
    sections = tuple(sections)
    opening = next((s for s in sections if s.key == "opening"), None)
    year = report_year(title, opening.text if opening else "", norm)
    region = report_region(title, opening.text if opening else "", byline=byline, full=norm)
    return Report(source=source, title=title, year=year, region=region, sections=sections, text=norm, doc_id=doc_id)


def _find_loose(text: str, piece: str, cursor: int) -> tuple[int, int] | None:
    """Span of `piece` in `text` at or after `cursor`; whitespace may differ (`一、 标题` → `一、标题`)."""
    at = text.find(piece, cursor)
    if at >= 0:
        return at, at + len(piece)
    chars = [c for c in piece if not c.isspace()]
    if not chars:
        return None
    m = re.compile(r"\s*".join(re.escape(c) for c in chars)).search(text, cursor)
    return (m.start(), m.end()) if m else None


def _locate(norm: str, blocks: list[_Block]) -> list[tuple[int, int]]:
    """(start, end) in `norm` of each block, heading included; (-1, -1) when it cannot be found.

    Blocks are in text order, so each search starts where the previous block's first piece was."""
    spans: list[tuple[int, int]] = []
    cursor = 0
    find = norm.find
    for b in blocks:
        start = -1
        last = ""               # the last piece found, and where its lead is
        last_at = last_end = -1
        for piece in (b.heading, *b.paragraphs) if b.heading else b.paragraphs:
            piece = piece.strip()
            if not piece:
                continue
            lead = piece[:24]
            at = find(lead, cursor)            # `_find_loose`'s first try, without the call
            if at >= 0:
                lead_end = at + len(lead)
            else:
                loose = _find_loose(norm, lead, cursor)
                if loose is None:
                    continue
                at, lead_end = loose
            if start < 0:
                start = at
            last, last_at, last_end = piece, at, lead_end
            cursor = at + 1
        end = -1
        if last:
            # The block ends where its last piece found ends: only that piece's tail is looked up.
            end = last_end
            if len(last) > 24:
                tail = last[-24:]
                at = find(tail, last_at)            # (`_find_loose`'s first try, without the call)
                loose = (at, at + 24) if at >= 0 else _find_loose(norm, tail, last_at)
                if loose:
                    end = loose[1]
        if start >= 0:
            cursor = max(cursor, end)
        spans.append((start, end))
    return spans


# Where a plans paragraph run into the last one starts: after a sentence end, whose character is matched,
# not looked behind at (as `_INLINE_L1_RE`); the plans text starts one character after `start()`.
_GLUED_PLANS_RE = re.compile(
    r"[。！；](?:一年来|过去的?一年|回顾.{0,6}一年|总的来看|总的看|总体来看|虽然|尽管|不足之处|存在的?不足|"
    r"下步|下一步|今后|明年|新的一年)"
)


def _split_glued_plans(blocks: list[_Block]) -> None:
    """Cut the plans block out of the last numbered section when it was run into its paragraph
    (single-line reports, or a plans paragraph glued to the last sub-point)."""
    index = next((i for i in range(len(blocks) - 1, -1, -1)
                  if blocks[i].numbered and blocks[i].paragraphs), None)
    if index is None:
        return
    block = blocks[index]
    last = block.paragraphs[-1]
    for m in _GLUED_PLANS_RE.finditer(to_simplified(last)):
        at = m.start() + 1
        tail = last[at:]
        if _is_plans_start(tail) or _GAP_WORD_RE.search(to_simplified(tail[:60])):
            head = last[:at].strip()
            block.paragraphs[-1:] = [head] if head else []
            blocks.insert(index + 1, _Block("plans", "", 1, [tail]))
            return


_KIND_RANK = {"chapter": 0, "l1": 1, "paren": 2, "arabic": 3}


def _place_heading(kind: str, top_kind: str | None, body: str, lines: list[str], index: int,
                   is_item: bool, headings: list | None = None) -> tuple[int, str] | None:
    """(level, new top kind) when a marker line opens a section, None when it is body text.

    The first heading kind met is the top level (`一、`, `第一章` or `（一）`); a kind one rank
    below opens a level-2 section only as a heading line of its own followed by body text
    (`（一）带头学习` then a paragraph); otherwise it is a sub-point of the current section.
    """
    if is_item:
        return None
    if top_kind is None or _KIND_RANK[kind] < _KIND_RANK[top_kind]:
        top_kind = kind
    if kind == top_kind:
        # `（一）` as the top level still counts as a level-2 heading (models.Section).
        return (2 if kind == "paren" else 1), top_kind
    if _KIND_RANK[kind] == _KIND_RANK[top_kind] + 1 and not body and _body_follows(lines, index + 1, headings):
        return 2, top_kind
    return None


def _body_follows(lines: list[str], index: int, headings: list | None = None) -> bool:
    """Whether `lines[index]` is body text; `headings[i]` is `_heading_of(lines[i])` when given."""
    if index >= len(lines):
        return False
    line = lines[index]
    # A following `一是…`/`1、…` opens the heading's own list; `（二）`, `二是`, a heading or the
    # closing formula mean the `（一）` line was an item, not a heading.
    heading = headings[index] if headings is not None else _heading_of(line)
    return not (_is_closing(line) or heading or _starts_mid_list(line))


def _subheading_key(heading: str, parent: str) -> str:
    """Key of a level-2 heading. Under plans everything is a plan (`（一）进一步压实责任`); under
    a broad parent (`第一部分 履职尽责情况`) a sub-heading that clearly names a canonical theme
    (`二、带头落实议军制度`) keeps it; a vague one (`（二）带头研究武装工作`) takes the parent's."""
    if parent in ("plans", "closing"):
        return parent
    key, score = _classify(heading)
    if key in ("duty", "systems", "foundation") and score >= 3:
        return key
    return parent if parent != "other" else key


def _parent_key(blocks: list[_Block]) -> str:
    for b in reversed(blocks):
        if b.level == 1 and b.key not in ("opening", "closing"):
            return b.key
    return "other"


def _could_mark(line: str) -> bool:
    """Whether `line` opens with what a sub-point marker opens with: a bracket (`_PAREN_RE`), a
    decimal digit (`_ARABIC_RE`) or a Chinese numeral (`_SHI_RE`). Most lines are body text and
    are spared the three pattern calls."""
    first = line[:1]
    return first in _MARKER_FIRST or first.isdecimal()


_MARKER_FIRST = frozenset("（(" + _CN_NUM)


def _starts_mid_list(line: str) -> bool:
    m = _SHI_RE.match(line)
    if m:
        number = cn_numeral(m.group("num"))
        return number is not None and number > 1
    m = _PAREN_RE.match(line) or _ARABIC_RE.match(line)
    if m:
        num = m.group("num")
        number = int(num) if num.isdigit() else cn_numeral(num)
        return number is not None and number > 1
    return False


# --------------------------------------------------------------------------- title (year, region: report_meta)

def _title(lines: list[str]) -> str | None:
    if not lines or is_speaker_line(lines[0]):
        return None
    first = lines[0]
    # A title has no comma and does not end like a salutation (`各位领导：`) or a sentence.
    if _heading_of(first) or len(first) > 60 or _COMMA_RE.search(first) or first.endswith(("：", ":")):
        return None
    if _TITLE_WORD_RE.search(first) and not _STOP_RE.search(first[:-1]):
        return first.rstrip("。")
    if len(first) <= 30 and not _TITLE_BAD_RE.search(first) and len(lines) > 1:
        return first
    return None


# --------------------------------------------------------------------------- files

def parse_file(path: str | Path) -> Report:
    """Read a report file (`pipeline.reading.readers.read_document`) and parse it; doc_id is the digest of its bytes."""
    p = path if isinstance(path, Path) else Path(path)
    text, digest, plain = read_document_plain(p)
    return _parse(text, str(p), plain=plain, doc_id=digest)
