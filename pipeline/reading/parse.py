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
by `pipeline.reading.report_meta`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from pipeline.models import Report, Section
from pipeline.reading.readers import read_document
from pipeline.reading.report_meta import (  # noqa: F401 - to_simplified re-exported
    TRADITIONAL_CHARS,
    is_speaker_line,
    report_region,
    report_year,
    simplified_pieces,
    to_simplified,
)
from pipeline.reading.textview import TextView, clean_view

# --------------------------------------------------------------------------- numerals

_CN_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9}
_CN_NUM = "一二三四五六七八九十"
_CN_NUM_SET = frozenset(_CN_NUM)


@lru_cache(maxsize=512)
def cn_numeral(text: str) -> int | None:
    """Value of a small Chinese numeral (`一`…`九十九`), None when it is not one. Cached: the
    markers it reads are the same few strings (`一`, `二`, `十二`) in every report."""
    if not text:
        return None
    if all(c in _CN_DIGITS for c in text):
        if len(text) == 1:
            return _CN_DIGITS[text]
        return None
    if "十" in text:
        head, _, tail = text.partition("十")
        if "十" in tail:
            return None
        tens = 1 if head == "" else _CN_DIGITS.get(head)
        ones = 0 if tail == "" else _CN_DIGITS.get(tail)
        if tens is None or ones is None or len(head) > 1 or len(tail) > 1:
            return None
        return tens * 10 + ones
    return None


# --------------------------------------------------------------------------- normalisation

# Whitespace a Word or web copy leaves behind; all of it counts as a plain space for structure.
_SPACE_CHARS = "\u00a0\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000\t"
_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
_ODD_SPACE_RE = re.compile(f"[{_SPACE_CHARS}{_ZERO_WIDTH}]")
# Every character `str.isspace` accepts but the plain space and `\\n` (`str.strip` strips them all;
# `_SPACE_CHARS` are among them).
_OTHER_SPACES = "\t\x0b\x0c\r\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
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

_L1_RE = re.compile(rf"^(?P<num>[{_CN_NUM}]{{1,3}})\s*(?:、|，|．|\.(?!\d))\s*")
_CHAPTER_RE = re.compile(rf"^第(?P<num>[{_CN_NUM}]{{1,3}})(?:章|部分|篇)\s*(?:[：:、]\s*)?")
_PAREN_RE = re.compile(rf"^[（(]\s*(?P<num>[{_CN_NUM}]{{1,3}})\s*[）)]\s*")
_ARABIC_RE = re.compile(r"^(?P<num>\d{1,2})\s*(?:、|．|\.(?!\d)|，)\s*")
_SHI_RE = re.compile(rf"(?P<num>[{_CN_NUM}]{{1,3}})是(?=[^，。；、：,;:\s])")
_LABEL_RE = re.compile(r"^(?P<label>[\u4e00-\u9fff]{2,10})[：:](?=\S)")
_SENT_END = "。！？；!?;"

# Lines that are only a page number: `12`, `- 3 -`, `— 3 —`, `第3页`, `3/12`.
_PAGE_LINE_RE = re.compile(r"^(?:[-—–－]*\s*\d{1,4}\s*[-—–－]*|第\s*\d{1,4}\s*页(?:\s*共\s*\d+\s*页)?|\d{1,4}\s*/\s*\d{1,4})$")
# First characters of a stripped line the patterns can match (a digit too for the page line: `\\d` is
# `str.isdecimal`). A regex call that fails on the first character still costs a call; most lines
# are body text and are let through by one membership test instead.
_PAGE_FIRST = "-—–－第"
_TOP_FIRST = frozenset(_CN_NUM + "第")          # `_L1_RE` or `_CHAPTER_RE`
# A table-of-contents entry: leader dots (or ellipsis) then a page number.
_TOC_LEADERS = ("……", "...", "···", "---", "———")       # the shortest leader of each kind below
_TOC_ENTRY_RE = re.compile(r"(?:…{2,}|\.{3,}|·{3,}|-{3,}|—{3,})\s*\d{1,4}(?![\d万千百十亿余多人名次个件元%％])")
_CLOSING_RE = re.compile(
    r"(我的述职完毕|述职完毕|以上是我的述职|以上述职|以上报告|不妥之处.{0,6}批评指正|请.{0,8}(?:批评指正|审议|评议)|"
    r"请.{0,12}提出.{0,4}意见)"
)
# The opening's own formula (`现将…报告如下，请予审议`, `下面我就…作述职，请…提出意见`) asks for review
# too, but what follows it is the report, not the closing.
# One of 述职完毕 / 以上 / 不妥之处 / 请 is in every _CLOSING_RE match (`_is_closing` tests for them first).
_OPENING_FORMULA_RE = re.compile(r"如下|下面.{0,20}(?:述职|报告|汇报)|现将.{0,30}(?:报告|汇报)")
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
_FIRST_CLAUSE_END_RE = re.compile(r"[，,、：:—\s]")
_STOP_RE = re.compile(r"[。；]")
_DIGIT_RE = re.compile(r"\d")
_ENDS_WITH_PAGE_RE = re.compile(r"[\u4e00-\u9fff]\s*\d{1,3}$")
_PAGE_DIGITS_BEFORE_HEADING_RE = re.compile(rf"^\d{{1,3}}\s*(?=[{_CN_NUM}]{{1,3}}\s*、|[（(][{_CN_NUM}]|第[{_CN_NUM}]+章)")
_INNER_STOP_RE = re.compile(r"[。！？；]\S")
_INNER_COLON_RE = re.compile(r"[：:]\S")
_COMMA_RE = re.compile(r"[，,]")
_MARK_RE = re.compile(r"[，,。！？；：:]")
_STOP_OR_COLON_RE = re.compile(r"[。！？；：:]")
_FULL_STOP_RE = re.compile(r"[。！？]")
_LEAD_STOP_RE = re.compile(r"[。：:；;！]")
_SENTENCE_MARK_RE = re.compile(r"[。；;！？!?]")
_BARE_HEADING_BAD_RE = re.compile(r"[，,。；;：:！!？?\s]")
_CLAUSE_MARK_RE = re.compile(r"[，。；]")
_GAP_WORD_RE = re.compile(r"差距|不足|短板")
_TITLE_WORD_RE = re.compile(r"述职|报告|总结")
_TITLE_BAD_RE = re.compile(r"[，。；：:]")

# First words of a body after a run-in heading with nothing between them.
_BODY_OPENERS = (
    "作为", "在", "我", "今年", "一年来", "年初", "年内", "全年", "近年来", "近年", "坚持", "按照", "围绕",
    "始终", "认真", "积极", "一是", "（一）", "(一)", "1、", "1.", "为", "通过", "结合", "紧紧", "牢固", "严格",
    "充分", "注重", "把", "将", "立足", "聚焦", "针对", "根据", "本人", "县委", "区委", "镇党委", "乡党委",
    "全县", "全区", "全镇", "全乡", "去年", "从", "深入", "切实", "大力", "主动", "每年", "定期",
    "先后", "累计", "县财政", "区财政", "镇财政", "乡财政", "市财政", "财政", "今后", "目前", "当前",
)


# --------------------------------------------------------------------------- classification

_KEYWORDS: dict[str, tuple[tuple[str, int], ...]] = {
    "closing": (("述职完毕", 5), ("批评指正", 5)),
    "plans": (
        ("下步", 4), ("下一步", 4), ("打算", 4), ("差距", 3), ("不足", 3), ("短板", 3), ("存在问题", 3),
        ("存在的问题", 3), ("今后", 3), ("明年", 3), ("努力方向", 3), ("工作思路", 2), ("展望", 3),
        ("计划", 2), ("设想", 2), ("问题", 1), ("新的一年", 3), ("不够", 2),
    ),
    "duty": (
        ("履职", 3), ("履行", 2), ("立足岗位", 3), ("岗位", 2), ("学习", 2), ("责任", 2), ("职责", 2),
        ("政治", 2), ("思想", 1), ("理论", 2), ("能力", 1), ("素质", 1), ("站位", 2), ("担当", 2), ("主责", 2),
        ("第一书记", 2), ("意识", 1), ("领导", 1), ("把方向", 2), ("带头", 1), ("首责", 2), ("抓总", 2),
        ("认识", 1),
    ),
    "systems": (
        ("制度", 3), ("落实", 2), ("征兵", 3), ("兵员", 2), ("民兵", 2), ("训练", 2), ("双拥", 2), ("拥军", 2),
        ("退役", 2), ("安置", 2), ("议军", 2), ("动员", 2), ("兼职", 2), ("军事日", 2), ("措施", 1),
        ("任务", 1), ("整组", 2), ("战备", 2), ("备战", 2), ("应急", 1), ("落地", 2), ("机制", 2), ("规定", 1),
    ),
    "foundation": (
        ("基础", 3), ("建设", 1), ("保障", 2), ("国防教育", 3), ("教育", 1), ("经费", 2), ("阵地", 2),
        ("设施", 2), ("强基", 2), ("固本", 2), ("夯实", 2), ("人武部机关", 2), ("正规化", 2), ("军民融合", 2),
        ("条件", 1), ("营区", 2), ("投入", 1), ("基层", 1),
        ("治部", 2), ("机关建设", 2), ("根基", 2), ("后备", 1), ("融合", 2), ("支撑", 1), ("厚植", 1),
    ),
}


_KEYWORDS_BY_FIRST_CHAR: dict[str, list[tuple[str, str, int]]] = {}
for _key, _words in _KEYWORDS.items():
    for _word, _weight in _words:
        _KEYWORDS_BY_FIRST_CHAR.setdefault(_word[0], []).append((_key, _word, _weight))
_KEYWORD_FIRST_CHARS = frozenset(_KEYWORDS_BY_FIRST_CHAR)


def _strip_marker(heading: str) -> str:
    text = heading.strip()
    # Only the pattern for the first character can match (`第`, a numeral, a bracket, a digit).
    first = text[:1]
    pattern = (_CHAPTER_RE if first == "第" else _L1_RE if first in _CN_NUM_SET else _PAREN_RE
               if first in ("（", "(") else _ARABIC_RE if first.isdecimal() else None)
    m = pattern.match(text) if pattern is not None else None
    return text[m.end():].strip() if m else text


def classify_heading(heading: str) -> str:
    """Section key (one of `models.SECTION_KEYS`) for a heading, numbered or not.

    Keyword scores with the first clause counted twice, because a heading's lead clause
    (`夯实基础，…`) names its theme while the second often repeats generic words (`建设`).
    Ties go to the keyword that appears first.
    """
    return _classify(heading)[0]


def _classify(heading: str) -> tuple[str, int]:
    """(key, score) of `classify_heading`; score 0 means no keyword at all (key `other`)."""
    text = to_simplified(_strip_marker(heading)).rstrip("。：:")
    if not text:
        return "other", 0
    clause_end = _FIRST_CLAUSE_END_RE.search(text)
    first_end = clause_end.start() if clause_end else len(text)
    # Only keywords whose first character occurs in the heading can occur in it: look those up
    # (a handful) instead of all ~90. Scores add up per key, so the order of lookups does not matter.
    found: dict[str, list[int]] = {}
    for ch in _KEYWORD_FIRST_CHARS.intersection(text):
        for key, word, weight in _KEYWORDS_BY_FIRST_CHAR[ch]:
            pos = text.find(word)
            if pos < 0:
                continue
            entry = found.setdefault(key, [0, len(text)])
            # In the first clause (a prefix of `text`) iff its first occurrence ends inside it.
            entry[0] += weight * (2 if pos + len(word) <= first_end else 1)
            entry[1] = min(entry[1], pos)
    best_key = "other"
    best = (0, 0)
    for key in _KEYWORDS:
        if key not in found:
            continue
        score, first_pos = found[key]
        candidate = (score, -first_pos)
        if score > 0 and candidate > best:
            best, best_key = candidate, key
    return best_key, best[0]


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
    if not marker or not _DIGIT_RE.search(line):     # both patterns below need a digit
        return None
    # A glued entry ends in `、` after the line's own marker; the page pattern ends in a digit.
    glued = list(_GLUED_PAGE_RE.finditer(line)) if "、" in line[marker.end():] else []
    ends_with_page = ((line[-1].isdecimal() or line[-1] == "\n")      # `$` also matches before a final `\\n`
                      and _ENDS_WITH_PAGE_RE.search(line) is not None)
    if len(glued) < 2 and not (glued and ends_with_page):
        return None
    for m in glued:
        if cn_numeral(m.group("num")) == 1:
            return line[m.end():].strip()
    return "" if ends_with_page else None


_INLINE_L1_RE = re.compile(rf"(?<=[。！？；：:”\s])\s*(?P<num>[{_CN_NUM}]{{1,3}})\s*、")
_INLINE_CHAPTER_RE = re.compile(rf"(?<=[。！？；：:”\s])\s*第(?P<num>[{_CN_NUM}]{{1,3}})(?:章|部分)")


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
        for pattern, needed in ((_INLINE_L1_RE, "、"), (_INLINE_CHAPTER_RE, "第")):
            # Each match holds its `needed` character: without one ahead there is none (a search
            # from `pos` tries every position to the end, once per heading cut).
            m = pattern.search(line, pos) if line.find(needed, pos) >= 0 else None
            while m and cn_numeral(m.group("num")) != expected:
                m = pattern.search(line, m.end())
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


_INLINE_PAREN_RE = re.compile(rf"(?<=[。！？；])\s*[（(](?P<num>[{_CN_NUM}]{{1,3}})[）)]")


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
    own_line_headings = sum(1 for ln in raw if ln[:1] in _TOP_FIRST and (_L1_RE.match(ln) or _CHAPTER_RE.match(ln)))
    cut_inline = own_line_headings < 2
    # Every line below is a piece of `norm`, so what `norm` lacks no line has: a table of contents
    # needs `目录`, leader dots or a `一、` line start (`_toc_rest`); a closing to cut off needs
    # `以上` or `述职完毕` (`_cut_closing`). Tested once here instead of on every line.
    # (A one-character test before each substring search: a CJK text rarely holds `…`, `.` or `-`.)
    toc_marks = _TOC_WORD_RE.search(norm) or any(leader[0] in norm and leader in norm for leader in _TOC_LEADERS)
    simple = to_simplified(norm)
    closing_marks = "述职完毕" in simple or "以上" in simple
    for line in raw:
        line = line.strip()
        if not line or (line[0] in _PAGE_FIRST or line[0].isdecimal()) and _PAGE_LINE_RE.match(line):
            continue
        # Without a TOC mark only `_toc_without_leaders` can answer, and only for a `一、` line.
        rest = (_toc_rest(line) if toc_marks
                else _toc_without_leaders(line) if line[0] in _CN_NUM_SET else None)
        if rest is not None:
            if not rest:
                continue
            line = rest
        # Page-break digits glued to the start of a heading (`3一、…`, `12（二）…`).
        if line[0].isdecimal():           # `\\d` is a decimal digit: no other line can match
            line = _PAGE_DIGITS_BEFORE_HEADING_RE.sub("", line)
        # A single-line report: title glued to the opening.
        if not out and len(line) > 80:
            m = _TITLE_IN_LINE_RE.match(line)
            if m and len(line) > m.end() + 20:
                out.append(m.group("title").strip())
                line = line[m.end():].strip()
        pieces, expected = _cut_inline_headings(line, expected) if cut_inline else ([line], expected)
        for piece in pieces:
            for part in _cut_inline_parens(piece):
                # (`_cut_closing` cuts only where its simplified line holds one of these words.)
                if closing_marks and ("述职完毕" in (simple_part := to_simplified(part)) or "以上" in simple_part):
                    out.extend(_cut_closing(part))
                else:
                    out.append(part)
    return out


# --------------------------------------------------------------------------- pass 2: headings

def _first_space(text: str) -> int:
    """Index of the first whitespace character (what `\\s` matches: `str.isspace`), -1 if none.
    `str.split` finds it at C speed; a `\\s+` search tests each character's category in the
    regex engine (~25 ns a character)."""
    if not text:
        return -1
    if text[0].isspace():
        return 0
    head = text.split(None, 1)[0]
    return len(head) if len(head) < len(text) else -1


def _find_heading_end(rest: str) -> int:
    """Index in `rest` (heading text after its marker) where the heading ends; len(rest) if whole."""
    # `：` inside a short line without a full stop belongs to the heading (`一、工作概况：…`).
    inner_stop = _INNER_STOP_RE.search(rest) or ("。" in rest and _INNER_COLON_RE.search(rest))
    # A short line, or a long one (three or four clauses) with no stop and no gap inside, is the
    # whole heading unless a body opener follows its second clause.
    gap = _first_space(rest)
    if gap >= 4 and rest[-1] in "。！？；":
        return gap              # `标题 正文。`: a gap before a full sentence is the run-in boundary
    if not inner_stop and (len(rest) <= 40 or (len(rest) <= 80 and gap < 0)):
        comma = _COMMA_RE.search(rest)
        if comma and comma.start() <= 20:
            nxt = _MARK_RE.search(rest[comma.end():])
            seg_end = comma.end() + nxt.start() if nxt else len(rest)
            if nxt and rest[seg_end] in "，,":
                opener = _find_opener(rest, comma.end() + max(4, comma.start()), seg_end)
                if opener is not None:
                    return opener
        return len(rest)
    limit = 40
    m = _STOP_OR_COLON_RE.search(rest)
    # 1. Whitespace between heading and body (one space or several).
    if 0 <= gap <= limit and (not m or gap < m.start()):
        return gap
    # 2. A heading is `clause，clause`. Look at the stretch after its comma up to the next mark:
    #    if it is long or holds a known body opener, the body was run in with nothing between.
    comma = _COMMA_RE.search(rest)
    if comma and comma.start() <= 20 and (not m or comma.start() < m.start()):
        after = comma.end()
        nxt = _MARK_RE.search(rest[after:])
        seg_end = after + nxt.start() if nxt else len(rest)
        if nxt and rest[seg_end] not in "，," and seg_end - after <= 30:
            return seg_end          # `…，…。body`: trust the full stop
        # The second clause is rarely shorter than the first (`夯实基础，积极助推…`).
        opener = _find_opener(rest, after + max(4, comma.start()), min(seg_end, after + 26))
        if opener is not None:
            return opener
        if seg_end - after <= 20:
            return seg_end
        return min(seg_end, after + max(comma.start(), 8))
    # 3. Sentence punctuation close to the start: `坚持制度，推动落实。在一年的…`
    if m and m.start() <= 60:
        return m.start()
    return min(len(rest), 30)


# Characters that make a one-character opener part of a word instead (`存在`, `作为` is fine).
_WORD_GLUE = set("存所正现实内外潜自可难认以行成因较作")


def _find_opener(rest: str, start: int, stop: int) -> int | None:
    for pos in range(start, stop):
        if rest[pos].isdigit():
            return pos
        for word in _BODY_OPENERS:
            if rest.startswith(word, pos):
                if len(word) == 1 and rest[pos - 1] in _WORD_GLUE:
                    continue
                return pos
    return None


_NOT_HEADING_RE = re.compile(rf"^[{_CN_NUM}]、[{_CN_NUM}](?:季度|月|、|至|到)")


# What a heading line can start with: `第` (chapter), a Chinese numeral (`一、`), a bracket (`（一）`).
_HEADING_FIRST = frozenset("第（(" + _CN_NUM)


def _heading_of(line: str) -> tuple[str, int, int, str, str] | None:
    """(heading, level, number, kind, body) if `line` opens with a section heading marker."""
    if line[:1] not in _HEADING_FIRST:    # most lines are body text: no pattern below can match
        return None
    if _NOT_HEADING_RE.match(line):       # `一、二季度…` lists numbers, it is no heading
        return None
    # The first character says which marker pattern alone can match (`第`, a bracket, a numeral).
    first = line[0]
    kind, pattern, level = (("chapter", _CHAPTER_RE, 1) if first == "第" else ("paren", _PAREN_RE, 2)
                            if first in "（(" else ("l1", _L1_RE, 1))
    m = pattern.match(line)
    if not m:
        return None
    number = cn_numeral(m.group("num"))
    if number is None:
        return None
    marker = line[: m.end()].rstrip()
    rest = line[m.end():]
    if not rest:
        return None
    end = _find_heading_end(to_simplified(rest))   # same length: offsets stay valid
    heading_text = rest[:end].strip()
    body = rest[end:].lstrip("。：: \t").strip()
    # `（一）…` with its body on the same line is a sub-point, not a heading.
    if kind == "paren" and body:
        return None
    heading = _join_marker(marker, heading_text).rstrip("。：:；;")
    return heading, level, number, kind, body


def _join_marker(marker: str, text: str) -> str:
    marker = "".join(marker.split())       # `\\s+` removed: `str.split` splits on the same whitespace
    if marker.startswith("第"):
        return f"{marker} {text}" if text else marker
    return marker + text


# --------------------------------------------------------------------------- sub-points

_SHI_STOP = frozenset("，。；、：,;:")       # `_SHI_RE`'s lookahead refuses these (and whitespace)


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
    text = "\n".join(paragraphs)
    points: list[tuple[int, int, int]] = []     # (marker start, text start, number)
    outer_next: int | None = None
    nested_next: int | None = None
    for start, end, num in _shi_markers(text):
        prev = text[start - 1] if start > 0 else "\n"
        # `我将一是…，二是…` in plans: the verb sits right before the first marker.
        if prev not in _SENT_END + "\n：:，,” 将要":
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
    labels = [line for line in lines if _LABEL_RE.match(line)]
    if len(labels) >= 2:
        return labels
    return []


# The first character of a line each line-start marker pattern can match.
_LINE_START_PATTERNS = ((_PAREN_RE, re.compile("[（(]")), (_ARABIC_RE, _DIGIT_RE), (_L1_RE, re.compile(f"[{_CN_NUM}]")))
_LINE_START_ANY_RE = re.compile(rf"[（(\d{_CN_NUM}]")


def _line_start_points(lines: list[str], allow_mid_start: bool) -> list[tuple[int, int, int]]:
    """(marker start, text start, number) of the first counting list of line-start markers
    (`（一）`, then `1、`, then `一、`); offsets are in the lines joined by `\\n`."""
    heads = lines[0][:1] if len(lines) == 1 else "".join([line[:1] for line in lines])
    if not _LINE_START_ANY_RE.search(heads):
        return []
    for pattern, first in _LINE_START_PATTERNS:
        if not first.search(heads):      # no line starts the way the pattern does: skip the lines
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


def _is_closing(line: str) -> bool:
    if len(line) > 120:                   # a closing formula is a short paragraph (a body line is long)
        return False
    line = to_simplified(line)
    if len(line) <= 12 and line.startswith(("谢谢", "感谢")):
        return True
    head = line[:60]
    # Every closing formula holds one of these words: look for them before running the pattern.
    m = (_CLOSING_RE.search(head) if "请" in head or "以上" in head or "述职完毕" in head or "不妥之处" in head
         else None)
    if not m:
        return False
    return not _OPENING_FORMULA_RE.search(line[: m.start()])


def _settled(copy: str) -> bool:
    """True when `normalise_text(copy)` is `copy` and `to_simplified` maps none of its characters:
    no odd or zero-width space, no line starting or ending in a space, no line end at either end,
    no traditional character. One scan answers both for most working copies."""
    return (_UNSETTLED_RE.search(copy) is None and copy[:1] not in " \n" and copy[-1:] not in " \n"
            and " \n" not in copy and "\n " not in copy)


def parse_text(text: str, source: str = "") -> Report:
    """Parse report text into a `Report`. Never raises on odd structure: unknown parts become `other`.

    `text` is the text as read (`read_text`); sections carry their span and line in it."""
    view = clean_view(text)
    if _settled(view.text):
        norm, simplified = view.text, True
    else:
        # normalise_text only swaps spaces one for one on the clean copy: offsets into `norm` are view offsets.
        norm, simplified = normalise_text(view.text), False
    # Every string simplified below is a piece of `norm`: one scan says whether any needs mapping.
    with simplified_pieces(norm, known_simplified=simplified):
        return _parse_norm(text, view, norm, source)


def _parse_norm(text: str, view: TextView, norm: str, source: str) -> Report:
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
    headings = [_heading_of(line) for line in body_lines]
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
        if (_is_closing(line) and (blocks or current.paragraphs)
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
    for b, (start, end) in zip(kept, spans, strict=True):
        line = 0
        if start >= 0:
            start, end = view.span(start, end)
            line = text.count("\n", 0, start) + 1
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
    return Report(source=source, title=title, year=year, region=region, sections=sections, text=norm)


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
    for b in blocks:
        start = -1
        last: tuple[str, tuple[int, int]] | None = None     # the last piece found, and where
        for piece in (b.heading, *b.paragraphs):
            piece = piece.strip()
            if not piece:
                continue
            lead = piece[:24]
            at = norm.find(lead, cursor)           # `_find_loose`'s first try, without the call
            head = (at, at + len(lead)) if at >= 0 else _find_loose(norm, lead, cursor)
            if head is None:
                continue
            if start < 0:
                start = head[0]
            last = piece, head
            cursor = head[0] + 1
        end = -1
        if last is not None:
            # The block ends where its last piece found ends: only that piece's tail is looked up.
            piece, head = last
            tail = _find_loose(norm, piece[-24:], head[0]) if len(piece) > 24 else head
            end = tail[1] if tail else head[1]
        if start >= 0:
            cursor = max(cursor, end)
        spans.append((start, end))
    return spans


def _later_heading_numbers(lines: list[str], *, arabic: bool = False) -> list[frozenset[int]]:
    """For each line, the numbers of the `一、`/`第一章` marker lines after it (and of `1.` heading
    lines when they are the document's top level)."""
    out: list[frozenset[int]] = [frozenset()] * len(lines)
    seen: frozenset[int] = frozenset()     # a new set only when a number is added: lines share it
    for i in range(len(lines) - 1, -1, -1):
        out[i] = seen
        m = lines[i][:1] in _TOP_FIRST and (_L1_RE.match(lines[i]) or _CHAPTER_RE.match(lines[i]))
        if m and (value := cn_numeral(m.group("num"))) is not None:
            seen = seen | {value}
        elif arabic and (found := _arabic_heading(lines[i])):
            seen = seen | {found[1]}
    return out


# --------------------------------------------------------------------------- headings beyond `一、`

def _is_marker_line(line: str) -> bool:
    return bool(_L1_RE.match(line) or _CHAPTER_RE.match(line) or _PAREN_RE.match(line) or _ARABIC_RE.match(line)
                or _SHI_RE.match(line) or _is_closing(line))


# A sub-point's statement is short (`全年专题学习4次。`); a body this long is a section's text.
_RUN_ON_CHARS = 80


def _paren_runin_headings(lines: list[str], headings: list | None = None,
                          found_at: dict[int, tuple[str, int, int, str, str]] | None = None) -> bool:
    """Whether `（一）lead。body` lines are level-2 headings here rather than one-line sub-points:
    they are when most of them have a body that runs on — more paragraphs of its own before the next
    marker (`（一）坚持理论武装，筑牢思想根基。全年…` then a paragraph, then `（二）…`), several
    sentences after the lead, or one long one. A list of one-sentence items (`（一）带头学习。全年…4次。`) stays sub-points."""
    runin: list[tuple[int, str]] = []      # (index, body) of each `（一）lead。body` line
    for i, line in enumerate(lines):
        if line[:1] in "（(" and _PAREN_RE.match(line) and (
                headings[i] if headings is not None else _heading_of(line)) is None:
            found = _runin_paren_heading(line)
            if found is not None:
                runin.append((i, found[4]))
                if found_at is not None:        # for the caller: these lines need not be read again
                    found_at[i] = found
    if len(runin) < 2:
        return False
    # A sub-point is a lead and one statement on one line; a section's body runs on: more
    # paragraphs before the next marker, or several sentences after the lead. Most items must run
    # on: one paragraph after the last item of a list is the section's own text.
    running = 0
    for i, body in runin:
        if ((i + 1 < len(lines) and not _is_marker_line(lines[i + 1])) or len(_FULL_STOP_RE.findall(body)) >= 2
                or len(body) >= _RUN_ON_CHARS):
            running += 1
    return running * 2 >= len(runin)


def _runin_paren_heading(line: str) -> tuple[str, int, int, str, str] | None:
    """(heading, 2, number, "paren", body) of `（一）lead。body` with a heading-sized lead."""
    m = _PAREN_RE.match(line)
    if not m or (number := cn_numeral(m.group("num"))) is None:
        return None
    rest = line[m.end():]
    stop = _LEAD_STOP_RE.search(rest)
    if not stop or not 2 <= stop.start() <= 30:
        return None
    heading = _join_marker(line[: m.end()].rstrip(), rest[: stop.start()].strip())
    return heading, 2, number, "paren", rest[stop.end():].strip()


def _arabic_heading(line: str) -> tuple[str, int] | None:
    """(heading, number) of a `1.标题`/`1、标题` line that is a heading and nothing else."""
    if not line[:1].isdecimal():          # `\\d` is a decimal digit: no other line can match
        return None
    m = _ARABIC_RE.match(line)
    if not m:
        return None
    rest = line[m.end():].strip()
    if not 2 <= len(rest) <= 40 or _SENTENCE_MARK_RE.search(rest.rstrip("。：:")) or rest.endswith(("；", ";")):
        return None
    if _find_heading_end(to_simplified(rest)) != len(rest):
        return None
    return _join_marker(line[: m.end()].strip(), rest).rstrip("。：:"), int(m.group("num"))


def _arabic_role(lines: list[str]) -> str | None:
    """"top" when `1.` heading lines are the document's only numbered headings, "second" when they
    sit under `一、` headings with no `（一）` level between; None otherwise."""
    arabic = [found[1] for line in lines if (found := _arabic_heading(line))]
    if len(arabic) < 2 or arabic[0] != 1:
        return None
    if any(_PAREN_RE.match(line) for line in lines):
        return None
    if any(_L1_RE.match(line) or _CHAPTER_RE.match(line) for line in lines):
        return "second"
    return "top" if arabic == list(range(1, len(arabic) + 1)) else None


_BARE_HEADING_END = ("回顾", "情况", "打算", "成效", "做法", "问题", "不足", "计划", "思路", "措施", "工作",
                     "体会", "经验", "举措", "方向", "建设", "任务", "成绩", "安排", "概况", "总结", "目标")
_DATE_LINE_RE = re.compile(r"^\d{4}\s*年\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?$")


def _bare_heading_lines(lines: list[str], headings: list | None = None) -> set[int]:
    """Indices of unnumbered heading lines (`上半年工作回顾`) in a report with no numbered headings:
    a short line without sentence punctuation, ending in a heading noun, followed by a paragraph.
    Two at least, or none (one short line is as likely a stray label)."""
    if headings is None:
        headings = [_heading_of(line) for line in lines]
    if any(heading or _arabic_heading(line) for line, heading in zip(lines, headings, strict=True)):
        return set()
    found: set[int] = set()
    for i, line in enumerate(lines[:-1]):
        if not 4 <= len(line) <= 20 or _BARE_HEADING_BAD_RE.search(line) or _DATE_LINE_RE.match(line):
            continue
        if not line.endswith(_BARE_HEADING_END) or is_speaker_line(line) or _is_closing(line):
            continue
        following = lines[i + 1]
        if len(following) <= 20 and not _CLAUSE_MARK_RE.search(following):
            continue
        found.add(i)
    return found if len(found) >= 2 else set()


_GLUED_PLANS_RE = re.compile(
    r"(?<=[。！；])(?:一年来|过去的?一年|回顾.{0,6}一年|总的来看|总的看|总体来看|虽然|尽管|不足之处|存在的?不足|"
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
        tail = last[m.start():]
        if _is_plans_start(tail) or _GAP_WORD_RE.search(to_simplified(tail[:60])):
            head = last[: m.start()].strip()
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
    p = Path(path)
    text, digest = read_document(p)
    report = parse_text(text, source=str(p))
    return Report(source=report.source, title=report.title, year=report.year, region=report.region,
                  sections=report.sections, text=report.text, doc_id=digest)
