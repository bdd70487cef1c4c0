"""Heading readings for the structure parser (`pipeline.reading.parse`): marker numerals and patterns,
section keys (`classify_heading`), where a heading line's heading ends and its body begins
(`_heading_of`, pass 2), the closing formula, and the headings beyond `一、` (`（一）lead。body` run-in
headings, `1.` headings, unnumbered heading lines).

Split out of `parse`, which keeps the lines pass, the assembly of sections and the public entry
points; these readings look at one line or the list of lines and know nothing of sections.
`pipeline.reading.subpoints` reads the same markers.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pipeline.reading.report_meta import is_speaker_line, to_simplified

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


# --------------------------------------------------------------------------- markers

_L1_RE = re.compile(rf"^(?P<num>[{_CN_NUM}]{{1,3}})\s*(?:、|，|．|\.(?!\d))\s*")
_CHAPTER_RE = re.compile(rf"^第(?P<num>[{_CN_NUM}]{{1,3}})(?:章|部分|篇)\s*(?:[：:、]\s*)?")
_PAREN_RE = re.compile(rf"^[（(]\s*(?P<num>[{_CN_NUM}]{{1,3}})\s*[）)]\s*")
_ARABIC_RE = re.compile(r"^(?P<num>\d{1,2})\s*(?:、|．|\.(?!\d)|，)\s*")
_SHI_RE = re.compile(rf"(?P<num>[{_CN_NUM}]{{1,3}})是(?=[^，。；、：,;:\s])")
_LABEL_RE = re.compile(r"^(?P<label>[\u4e00-\u9fff]{2,10})[：:](?=\S)")
_SENT_END = "。！？；!?;"

# First characters of a line that `_L1_RE` or `_CHAPTER_RE` can match: most lines are body text and
# are let through by one membership test instead of a regex call.
_TOP_FIRST = frozenset(_CN_NUM + "第")          # `_L1_RE` or `_CHAPTER_RE`

# The closing formula (`_is_closing`).
_CLOSING_RE = re.compile(
    r"(我的述职完毕|述职完毕|以上是我的述职|以上述职|以上报告|不妥之处.{0,6}批评指正|请.{0,8}(?:批评指正|审议|评议)|"
    r"请.{0,12}提出.{0,4}意见)"
)
# The opening's own formula (`现将…报告如下，请予审议`, `下面我就…作述职，请…提出意见`) asks for review
# too, but what follows it is the report, not the closing.
# One of 述职完毕 / 以上 / 不妥之处 / 请 is in every _CLOSING_RE match (`_is_closing` tests for them first).
_OPENING_FORMULA_RE = re.compile(r"如下|下面.{0,20}(?:述职|报告|汇报)|现将.{0,30}(?:报告|汇报)")

# Patterns used inside the functions below, compiled once (a `re.search(r"…")` call looks its
# pattern up in re's cache every time: ~80 lookups a report).
_FIRST_CLAUSE_END_RE = re.compile(r"[，,、：:—\s]")
_DIGIT_RE = re.compile(r"\d")
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


_KEY_ORDER = tuple(_KEYWORDS)          # ties go to the key listed first
# Each keyword under its first character, as (index of its key in _KEY_ORDER, word, weight, length).
_KEYWORDS_BY_FIRST_CHAR: dict[str, list[tuple[int, str, int, int]]] = {}
for _index, (_key, _words) in enumerate(_KEYWORDS.items()):
    for _word, _weight in _words:
        _KEYWORDS_BY_FIRST_CHAR.setdefault(_word[0], []).append((_index, _word, _weight, len(_word)))
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
    # Per key: the score and the first position of any of its words (lists indexed like _KEY_ORDER).
    scores = [0] * len(_KEY_ORDER)
    firsts = [len(text)] * len(_KEY_ORDER)
    for ch in _KEYWORD_FIRST_CHARS.intersection(text):
        for index, word, weight, length in _KEYWORDS_BY_FIRST_CHAR[ch]:
            pos = text.find(word)
            if pos < 0:
                continue
            # In the first clause (a prefix of `text`) iff its first occurrence ends inside it.
            scores[index] += weight * 2 if pos + length <= first_end else weight
            if pos < firsts[index]:
                firsts[index] = pos
    # The highest score, then the earliest first position, then the key listed first.
    best_index, best_score, best_first = -1, 0, 0
    for index, score in enumerate(scores):
        if score > best_score or (score == best_score and score and firsts[index] < best_first):
            best_index, best_score, best_first = index, score, firsts[index]
    return (_KEY_ORDER[best_index], best_score) if best_index >= 0 else ("other", 0)


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
    # whole heading unless a body opener follows its second clause. (The gap is looked for only
    # where a test below reads it; -2 stands for "not looked for".)
    gap = _first_space(rest) if inner_stop or len(rest) > 40 or rest[-1:] in "。！？；" else -2
    if gap >= 4 and rest[-1] in "。！？；":
        return gap              # `标题 正文。`: a gap before a full sentence is the run-in boundary
    if not inner_stop and (len(rest) <= 40 or (len(rest) <= 80 and gap < 0)):
        comma = _COMMA_RE.search(rest)
        if comma and comma.start() <= 20:
            nxt = _MARK_RE.search(rest, comma.end())      # (from there: no copy of the rest)
            seg_end = nxt.start() if nxt else len(rest)
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
        nxt = _MARK_RE.search(rest, after)
        seg_end = nxt.start() if nxt else len(rest)
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


# The openers under their first character: only those can start at a position.
_OPENERS_BY_FIRST: dict[str, list[str]] = {}
for _opener in _BODY_OPENERS:
    _OPENERS_BY_FIRST.setdefault(_opener[0], []).append(_opener)


def _find_opener(rest: str, start: int, stop: int) -> int | None:
    for pos in range(start, stop):
        if rest[pos].isdigit():
            return pos
        for word in _OPENERS_BY_FIRST.get(rest[pos], ()):
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
    first = line[:1]
    if first not in _HEADING_FIRST:       # most lines are body text: no pattern below can match
        return None
    # `一、二季度…` lists numbers, it is no heading (the pattern needs `、` second).
    if line[1:2] == "、" and _NOT_HEADING_RE.match(line):
        return None
    # The first character says which marker pattern alone can match (`第`, a bracket, a numeral).
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


# --------------------------------------------------------------------------- the closing formula

_CLOSING_MAX_CHARS = 120                # a closing formula is a short paragraph (a body line is long)


def _is_closing(line: str) -> bool:
    if len(line) > _CLOSING_MAX_CHARS:
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


# --------------------------------------------------------------------------- headings beyond `一、`

_MARKER_LINE_FIRST = frozenset("第（(" + _CN_NUM)      # what the marker patterns but `_ARABIC_RE` open with


def _is_marker_line(line: str) -> bool:
    # A line opening with none of the markers' first characters (nor a digit) can only be a closing.
    first = line[:1]
    return bool((first in _MARKER_LINE_FIRST or first.isdecimal())
                and (_L1_RE.match(line) or _CHAPTER_RE.match(line) or _PAREN_RE.match(line)
                     or _ARABIC_RE.match(line) or _SHI_RE.match(line))
                or _is_closing(line))


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
        if line.startswith(("（", "(")) and _PAREN_RE.match(line) and (
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
        # (The cheapest test first; for "two full stops" the search stops at the second.)
        if (len(body) >= _RUN_ON_CHARS or (i + 1 < len(lines) and not _is_marker_line(lines[i + 1]))
                or ((stop := _FULL_STOP_RE.search(body)) and _FULL_STOP_RE.search(body, stop.end()))):
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
    arabic = [found[1] for line in lines if line[:1].isdecimal() and (found := _arabic_heading(line))]
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

