"""Report metadata read from the text: year, region and the speaker (byline) line.

Split out of `pipeline.reading.parse`, which assembles sections and calls these on the title, the
opening and the full text. Traditional characters are mapped with `to_simplified` (same length,
so offsets found in the simplified text are valid in the original and names come back as written).

Region rules (DOMAIN.md: a report names its county/district once in the title or the byline, then
mostly writes `全县`/`县委`):
- a region is a proper name of 2–4 characters + 县/区/市/旗 (镇/乡 too in a title or byline), or a
  masked name (`**县`); verbs and function words before it (`我带领澄浦县委`, `我同砚溪县委`,
  `认真履行县人武部`) are never part of it, and the generic `全县`/`本县`/`县委` are no region;
- sources in order: the title, the byline, `XX县委书记`/`XX县人武部`/`XX县委` anywhere in the
  opening and then in the rest of the text, a masked `**县` anywhere.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# --------------------------------------------------------------------------- traditional → simplified

# Only the characters that decide a section key, a structure cue or a region suffix.
_TRAD = (
    "堅坚製制實实礎础紮扎設设崗岗職职責责學学習习劃划練练徵征動动員员國国務务黨党裝装軍军區区縣县"
    "鎮镇鄉乡應应幹干為为會会議议與与發发進进強强領领導导總总結结體体輪轮訓训後后問问題题顯显點点"
    "計计傳传統统織织單单態态優优擁拥雙双轉转業业費费經经濟济護护時时內内種种際际權权達达層层級级"
    "處处來来們们這这個个對对將将還还當当從从說说書书記记報报畢毕請请評评據据規规範范標标準准論论"
    "開开關关係系陣阵機机構构備备戰战網网絡络營营衛卫戶户齊齐夠够腳脚紀纪綱纲覺觉識识線线響响勢势"
    "鬥斗爭争興兴隊队員员謀谋廣广東东專专揮挥隨随項项較较積积極极聯联辦办勵励執执雖虽顧顾過过壓压"
    "認认緊紧務务穩稳質质貫贯徹彻讓让變变歲岁萬万億亿舉举層层參参權权辦办組组織织編编員员訓训擔担"
    "團团結结帶带該该長长"
)
_TRAD_TABLE = {ord(_TRAD[i]): _TRAD[i + 1] for i in range(0, len(_TRAD) - 1, 2)}


TRADITIONAL_CHARS = "".join(chr(c) for c in _TRAD_TABLE)      # the characters `to_simplified` maps
_TRAD_RE = re.compile(f"[{TRADITIONAL_CHARS}]")

# True inside `simplified_pieces(text)` when `text` has no character `to_simplified` maps.
_NO_TRADITIONAL: ContextVar[bool] = ContextVar("shuzhi_no_traditional", default=False)


def to_simplified(text: str) -> str:
    """Map the traditional characters our keyword rules look at; other characters unchanged."""
    if _NO_TRADITIONAL.get():
        return text
    # str.translate with a dict looks up every character (the largest single cost of an ingest);
    # most reports are simplified already, and a regex scan says so at C speed.
    return text.translate(_TRAD_TABLE) if _TRAD_RE.search(text) else text


@contextmanager
def simplified_pieces(text: str, *, known_simplified: bool = False) -> Iterator[None]:
    """A block in which every string given to `to_simplified` is made of pieces of `text` (and
    markers, spaces, line ends). The parser simplifies each line, heading and clause several
    times over (~40 scans a report); when `text` holds no traditional character none of its
    pieces does, so one scan of `text` here answers them all. A context variable, so threads
    parsing other texts at the same time are not affected. `known_simplified`: the caller has
    found no character of `TRADITIONAL_CHARS` in `text` already."""
    token = _NO_TRADITIONAL.set(known_simplified or _TRAD_RE.search(text) is None)
    try:
        yield
    finally:
        _NO_TRADITIONAL.reset(token)


# --------------------------------------------------------------------------- year

_CN_YEAR_DIGITS = {"〇": "0", "零": "0", "一": "1", "二": "2", "三": "3", "四": "4", "五": "5",
                   "六": "6", "七": "7", "八": "8", "九": "9"}


# Full-width forms and the ideographic space, each with its compatibility decomposition (`，` → `,`).
_WIDE = {c: unicodedata.normalize("NFKD", c) for c in ["\u3000", *map(chr, range(0xFF01, 0xFF5F))]}
_WIDE_RE = re.compile("[\u3000\uff01-\uff5e]")


def _nfkc(text: str) -> str:
    """`unicodedata.normalize("NFKC", text)`, faster on Chinese text. Every `，`/`：`/`（` fails NFKC's
    quick check, which sends the whole text through decomposition and recomposition (~130 ns a
    character). NFKC depends only on the full compatibility decomposition, so writing those
    characters as their decomposition first changes nothing; what is left is usually normalised
    already, which `is_normalized` confirms at C speed (else the full normalisation runs)."""
    text = _WIDE_RE.sub(lambda m: _WIDE[m.group()], text)
    return text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)


def _year_copy(text: str) -> str:
    """Simplified, NFKC-normalised copy for year search: full-width `２０２３` becomes `2023`."""
    return _nfkc(to_simplified(text))


# `一年来，……。2022年，全县征兵工作……`: a later sentence of the opening that starts with the year and a
# comma is the report year's summary. Only the opening is searched, never the plans (`2023年，我将…`).
# The search runs on the NFKC copy, where full-width ；！？ have become ASCII; both forms are listed.
_YEAR_RE = re.compile(r"((?:19|20)\d{2})\s*年")
_CN_YEAR_RE = re.compile(r"([二][〇零○][〇零○一二三四五六七八九]{2})年")
_YEAR_SINCE_RE = re.compile(r"((?:19|20)\d{2})\s*年(?:度|以来)")
_LEADING_YEAR_RE = re.compile(r"^.{0,8}?((?:19|20)\d{2})\s*年")
_SENTENCE_YEAR_RE = re.compile(r"(?:^|[。！？；!?;\n])\s*((?:19|20)\d{2})\s*年[，,]")


def report_year(title: str | None, opening: str, full: str) -> int | None:
    """The report year: stated in the title, else `2023年度`/`2022年以来`/a leading `2023年，` in the
    opening, or a later sentence of the opening that starts `2022年，`. A masked year (`20XX年`) gives None. Full-width digits (`２０２３年度`) are read too:
    the search runs on NFKC copies (only the year's value is returned, so offsets need not survive)."""
    title_s = _year_copy(title or "")
    m = _YEAR_RE.search(title_s)
    if m:
        return int(m.group(1))
    opening_s = _year_copy(opening)      # only when the title has no year: most titles have one
    m = _CN_YEAR_RE.search(title_s + "\n" + opening_s[:200])
    if m:
        return int("".join(_CN_YEAR_DIGITS.get(c, "0") for c in m.group(1)))
    m = _YEAR_SINCE_RE.search(opening_s) or _LEADING_YEAR_RE.match(opening_s) or _SENTENCE_YEAR_RE.search(opening_s)
    if m:
        return int(m.group(1))
    m = _YEAR_SINCE_RE.search(_year_copy(full[:600]))
    return int(m.group(1)) if m else None


# --------------------------------------------------------------------------- speaker line

# Offices a byline names (`岚川县委书记`, `县委书记、县人武部党委第一书记`, `镇党委书记`).
_OFFICE = r"(?:书记|县长|区长|市长|旗长|镇长|乡长|部长|政委|主任|委员|常委)"
_SPEAKER_RE = re.compile(
    rf"^(?:述职人[：:]\s*)?(?P<role>[\u4e00-\u9fff*＊、（）()]{{2,40}}?{_OFFICE})"
    r"(?:\s+(?P<name>[\u4e00-\u9fff]{2,4}|[\u4e00-\u9fff][*＊]{1,3}|[*＊]{2,4})"
    r"|(?P<masked>[\u4e00-\u9fff]某某?|[\u4e00-\u9fff][*＊×]{1,3}))$"
)


_SENTENCE_PUNCT_RE = re.compile(r"[。，,；;：:！？]")
_SPACE_RUN_RE = re.compile(r"\s+")


def is_speaker_line(line: str) -> bool:
    """True for a byline under the title: an office and a name (`岚川县委书记 林某某`,
    `**县委书记、县人武部党委第一书记 张某某`). The office alone, a name alone or any
    punctuation of a sentence is not one."""
    text = to_simplified(line).strip()
    # Sentence punctuation first, on the text before spaces are collapsed: a body line has some
    # early, and collapsing changes neither the punctuation nor the `述职人：` label.
    if not text or _SENTENCE_PUNCT_RE.search(text.replace("述职人：", "")):
        return False
    text = _SPACE_RUN_RE.sub(" ", text)
    if len(text) > 48:
        return False
    m = _SPEAKER_RE.match(text)
    return bool(m and (m.group("name") or m.group("masked")))


# --------------------------------------------------------------------------- region

_MASK_CHARS = "*＊xX×"
# Words that stand right before a place name in a sentence and are never part of one. Longest
# first, so `团结带领` goes before `团结`; single characters close the list.
_LEAD_WORDS = tuple(sorted((
    "团结带领", "带领", "率领", "团结", "认真履行", "履行", "认真", "全力推动", "推动", "全力", "协调", "组织",
    "指导", "督促", "会同", "联合", "召开", "参加", "走访", "服务", "支持", "落实", "加强", "深入", "围绕",
    "立足", "作为", "担任", "兼任", "代表", "陪同", "配合", "统筹", "推进", "保障", "关于", "及时", "主持",
    "中共", "原任", "时任", "现任", "全面", "切实", "积极", "主动", "依托", "结合", "按照", "根据", "面向",
    "覆盖", "牵头", "召集", "邀请", "报请", "提请", "经过", "通过", "实现", "带动", "助力", "成为", "建成",
    "创建", "打造", "获评", "助推", "推", "抓", "促", "荣获", "评为", "授予", "被评", "当选", "争创", "创成", "来到", "深入到",
),
    key=len, reverse=True))
_LEAD_WORDS_RE = re.compile("|".join(re.escape(word) for word in _LEAD_WORDS))
_LEAD_CHARS = set("在于对向和与及是为全本我该各其的了把将按照经由从被同到赴给跟随至自让使抓任即就并而又也都还更"
                  "由向之以及或与你他她它们这那此每某共党省州委市年度来、，。：；“”《》（）() ")
_GENERIC_NAMES = {"全", "本", "我", "该", "各", "此", "某", "邻", "外", "市", "县", "区", "省", "州", "旗", "共"}
_NOT_REGION = ("军分区", "社区", "辖区", "园区", "城区", "景区", "地区", "山区", "牧区", "战区", "市区", "县区",
               "开发区", "示范区", "保护区", "片区", "小区", "营区", "库区", "功能区", "新区", "分区", "街区",
               "考区", "试验区", "先行区", "集聚区", "商圈区", "老区", "边区", "矿区", "林区", "灾区", "郊区",
               "市县", "省市", "县市", "区县", "先进县", "模范县", "先进区", "模范区", "示范县", "强县", "大县",
               "山区县", "城市", "都市", "超市", "夜市", "集市", "上市", "门市", "股市", "楼市")
_NOT_REGION_BY_END: dict[str, tuple[str, ...]] = {}
for _word in _NOT_REGION:
    _NOT_REGION_BY_END[_word[-2:]] = (*_NOT_REGION_BY_END.get(_word[-2:], ()), _word)
# An organ of the place right after its name: the strongest evidence in body text.
_ORGAN_AFTER = re.compile(r"委|人武部|\d|年|人民武装部|人民政府|政府|党委|武装部|国动办|财政|"
                          r"征兵|武装工作|党管武装|退役军人|双拥|民兵")
_BYLINE_SUFFIX = "县区旗市镇乡道"
_BODY_SUFFIX = "县区旗市"


def _name_before(simple: str, j: int) -> tuple[int, bool] | None:
    """(start, masked) of the place name that ends with the suffix at `simple[j]`, None if there
    is none: two to four name characters, lead words (verbs, function words) cut off."""
    if j == 0:
        return None
    # `endswith` with a tuple and an end index: no copy of the text before `j` per candidate; only
    # the words ending in the two characters there can match (most candidates have none).
    not_region = _NOT_REGION_BY_END.get(simple[j - 1: j + 1])
    if not_region and simple.endswith(not_region, 0, j + 1):
        return None
    if simple[j - 1] in _MASK_CHARS and (simple[j - 1] in "*＊×" or j >= 2 and simple[j - 2] in _MASK_CHARS):
        i = j
        while i > 0 and simple[i - 1] in _MASK_CHARS:
            i -= 1
        return i, True
    i = j
    while i > 0 and j - i < 6 and "\u4e00" <= simple[i - 1] <= "\u9fff" and simple[i - 1] not in _LEAD_CHARS:
        i -= 1
    # Cut lead words off the front: `认真履行县人武部` leaves nothing, so there is no name.
    # The alternation tries the words in `_LEAD_WORDS` order and `endpos=j` keeps a match inside
    # the name: the first listed word that starts at `i` and ends by `j`, as a loop over the list.
    while i < j and (lead := _LEAD_WORDS_RE.match(simple, i, j)):
        i = lead.end()
    if j - i > 4:
        i = j - 4
    if j - i < 2 or simple[i:j] in _GENERIC_NAMES:
        return None
    return i, False


def _count(full: str, piece: str, memo: dict[str, int]) -> int:
    """`full.count(piece)`, remembered in `memo` (one per text: a name and its forms recur in it)."""
    found = memo.get(piece)
    if found is None:
        found = memo[piece] = full.count(piece)
    return found


def _refine(simple: str, full: str, i: int, j: int, memo: dict[str, int] | None = None) -> int:
    """Shorten a name whose first characters only appear in this one mention: `带领澄浦县` is one
    phrase, `澄浦县` recurs. Keeps the longest form that occurs as often as the shortest. `memo`:
    counts in `full` already made (`_count`)."""
    if j - i <= 2 or not full:
        return i
    memo = {} if memo is None else memo
    counts = {k: _count(full, simple[k: j + 1], memo) for k in range(i, j - 1)}
    shortest = counts[j - 2]
    if shortest < 2:
        return i
    return min(k for k, c in counts.items() if c >= shortest or c >= 2 and c * 2 >= shortest)


# (suffixes, need_organ) → the suffix characters, followed by an organ (`_ORGAN_AFTER`) when needed.
_SUFFIX_RES = {(suffixes, need_organ): re.compile(f"[{suffixes}]" + (f"(?={_ORGAN_AFTER.pattern})" if need_organ else ""))
               for suffixes in (_BYLINE_SUFFIX, _BODY_SUFFIX) for need_organ in (False, True)}


def _candidates(original: str, suffixes: str, full: str, need_organ: bool,
                simple: str | None = None, masked_only: bool = False,
                memo: dict[str, int] | None = None) -> list[tuple[str, bool]]:
    """Region names in `original`, in text order. `simple` is `to_simplified(original)` when the
    caller has it (a slice of the simplified full text: the mapping is one character for one).
    `masked_only`: only the masked names (`**县`), the others are not shortened or kept. `memo`:
    counts in `full` made for earlier candidates (`_refine`)."""
    if simple is None:
        simple = to_simplified(original)
    found: list[tuple[str, bool]] = []
    # The suffix characters are found by the regex engine; a Python loop over every character of
    # the text was the largest cost of reading a report's metadata.
    for suffix in _SUFFIX_RES[suffixes, need_organ].finditer(simple):
        j = suffix.start()
        ch = simple[j]
        # `滨港街道`: a street's name ends in the two characters 街道 (a lone 道 is never a suffix).
        end = j - 1 if ch == "道" else j
        if ch == "道" and (j == 0 or simple[j - 1] != "街"):
            continue
        if masked_only and (end == 0 or simple[end - 1] not in _MASK_CHARS):
            continue        # a masked name has a mask character before its suffix (`_name_before`)
        got = _name_before(simple, end)
        if got is None:
            continue
        i, masked = got
        if not masked:
            if masked_only:
                continue
            i = _refine(simple, full, i, end, memo)
        found.append((original[i: j + 1], masked))
    return found


def report_region(title: str | None, opening: str, *, byline: str | None = None, full: str = "") -> str | None:
    """`青岚县`/`墨川区`/`**县` as written, or None. See the module docstring for the order."""
    full_s = to_simplified(full)
    memo: dict[str, int] = {}           # counts in full_s (a name recurs: its counts are asked for again)
    for text, suffixes, need_organ in ((title or "", _BYLINE_SUFFIX, False), (byline or "", _BYLINE_SUFFIX, False),
                                       (opening, _BODY_SUFFIX, True)):
        found = _candidates(text, suffixes, full_s, need_organ, memo=memo)
        if found:
            return found[0][0]
    # The rest of the text: a named organ (`澄浦县委`) first, else a masked name (`**县征兵`);
    # among masked ones a county or district before a city (`**市` is usually the superior).
    rest, rest_s = (full[len(opening):], full_s[len(opening):]) if full.startswith(opening) else (full, full_s)
    found = _candidates(rest, _BODY_SUFFIX, full_s, True, rest_s, memo=memo)
    # Outside the opening a name must recur: `积极助推县人武部…` in a heading is a verb, not a place.
    in_full: dict[str, int] = {}
    named = [name for name, masked in found if not masked and _count(full, name, in_full) >= 2]
    if named:
        return max(named, key=named.count)
    masked = [name for name, _ in _candidates(rest, _BODY_SUFFIX, full_s, False, rest_s, masked_only=True)]
    if masked:
        return min(masked, key=lambda n: (n.endswith("市"), -masked.count(n)))
    return None
