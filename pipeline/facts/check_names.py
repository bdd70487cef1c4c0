"""Names in a report held against the data: quoted honours, 《》 document titles, place and unit names.

- A quoted string is an honour when it looks like one: a keyword or suffix (先进单位, 模范, 示范,
  称号, 奖…) or an honour context before it (被…评为, 荣获, 授予…), or it follows an honour directly
  (“A”“B”). Slogans (“五率”, “军事日”, “尽职责、抓协调、办实事”) are left alone. Honours match the
  data's `honours` exactly (after removing quotes and spaces): “双拥模范县” and “全省双拥模范县” are
  different awards.
- A 《title》 must be in the data's `documents` (a shortened or lengthened title counts) or in the
  list of national laws and regulations (`known_documents.txt` of the profile, else a built-in list).
- Place names (`XY镇/乡/村/街道/社区/县/区`), units stationed in the county (`驻XY某部`) and
  institutions named after a place (`XY职业技术学院`) must appear in the data's region, unit,
  superiors or partners. Chinese has no word boundaries, so the two characters before a suffix are
  taken as the name and rejected when they are a phrase: function words and numerals (`推动全县`,
  `帮助两村`), a verb or adverb in jieba's dictionary (`召开县委`, `修缮村级`), the start of a word
  that began earlier (`硬化通村`), or a suffix that closes a common word (`营区`, `农村`, `县委`).
  A name from another county is how contamination from its report shows.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from pipeline.errors import InputError
from pipeline.facts.align import break_positions
from pipeline.models import Finding, Metrics
from pipeline.profile.catalog import DEFAULT_PROFILE, profile_dir

MASK_CHARS = "*＊xX×ｘＸ"
_MASK_SET = frozenset(MASK_CHARS)

# National laws and regulations a report may cite without the county listing them; kept as data in
# the profile folder (known_documents.txt), this is the fallback when a profile has none.
DEFAULT_KNOWN_DOCUMENTS: tuple[str, ...] = (
    "国防法", "国防教育法", "兵役法", "民兵工作条例", "征兵工作条例", "退役军人保障法", "国防动员法",
    "军人地位和权益保障法", "人民武装警察法", "英雄烈士保护法", "军事设施保护法", "退役士兵安置条例",
    "军人抚恤优待条例", "国防交通法", "人民防空法", "兵役登记工作规定",
)

HONOUR_KEYWORDS = ("先进", "模范", "示范", "标兵", "优秀", "红旗", "十佳", "文明", "荣誉", "称号", "能手", "楷模",
                   "功臣", "最美", "五好", "达标")
HONOUR_SUFFIXES = ("单位", "集体", "个人", "奖", "称号", "一等功", "二等功", "三等功", "嘉奖", "奖章", "锦旗")
HONOUR_CONTEXT = ("评为", "表彰为", "荣获", "获评", "授予", "命名为", "获得", "荣膺", "被评", "创建", "表彰",
                  "通报表扬", "记功", "获")

QUOTE_RE = re.compile(r"“([^“”\n]{1,40})”|\"([^\"\n]{1,40})\"|「([^「」\n]{1,40})」")
TITLE_RE = re.compile(r"《([^《》\n]{1,80})》")
PLACE_RE = re.compile(r"[\u4e00-\u9fff]{2}(?:镇|乡|村|街道|社区|县|区)")
# Units and institutions named after their place: `鹤汀职业技术学院`, `多乐民兵训练基地`.
INSTITUTION_RE = re.compile(r"([\u4e00-\u9fff]{2})(?:职业技术学院|职业技术学校|职业学院|中学|小学|中医院|人民医院|医院|"
                            r"民兵训练基地|民兵应急训练基地|武警中队|消防救援大队)")
UNIT_RE = re.compile(r"驻([\u4e00-\u9fff]{1,4}?)(?:某部|部队|官兵|武警)")
# First characters that make `XY镇/村/县` a common word or a phrase rather than a name:
# 全县, 我县, 各乡镇, 推进乡村…, 城乡, 该村, 贫困村.
# Characters that cannot open a place name: numerals and function words (`帮助两村`, `二是乡村`,
# `推动全县`, `各乡镇`, `该村`).
PLACE_STOP_CHARS = frozenset("一二三四五六七八九十两百千万几多数是了的在与和及或对向到至于等为由从把将被让使全我本各该每此"
                             "其这那个些镇乡村县区市街社")
# After the suffix, these characters make it part of a common word (县委, 县级, 乡镇, 乡村, 村级, 村干部):
# the two characters before are then a name only when the data knows them (岚川县委).
SUFFIX_COMPOUNDS: dict[str, str] = {
    "县": "委级域直城情里乡区政人财内外长党属市四",
    "乡": "镇村亲土愁里间贤情",
    "村": "级民委干集庄容貌居落里内道党务组两社小医",
    "镇": "级村街域",
    "区": "委级域划内外长政人属县直",
}
PLACE_STOP_TOKENS = frozenset({
    "行政村", "自然村", "贫困村", "示范村", "重点村", "帮扶村", "结对村", "薄弱村", "软弱村", "中心镇", "重点镇",
    "特色镇", "建制镇", "所辖县", "试点县", "示范县", "模范县", "先进县", "城市社区", "农村社区", "居民社区",
    "所在村", "所在镇", "所在乡", "民族乡", "美丽乡", "文明村", "小康村", "空心村", "产粮县", "边境县", "军分区",
})
# jieba tags of words that are not names: a verb or adverb right before 县委 (`召开县委`, `纳入乡镇`).
NON_NAME_TAGS = frozenset({"v", "vd", "vn", "vg", "ad", "d", "p", "c", "u", "r", "m", "q", "f", "a", "an", "t",
                           "y", "e", "o", "ul", "uj", "ud", "ug", "uz", "uv", "mq", "df", "dg"})
# Verb + result complement (建强, 配强, 做强, 筑牢, 夯实, 压实, 编实, 抓好, 配齐): the genre's stock verbs,
# often glued to a 镇/乡/村 that belongs to the next phrase (`编实建强镇民兵应急排` is 建强 + 镇民兵应急排).
# jieba lacks most of them, so the two characters would otherwise pass as a name.
_RESULT_VERBS = "建配做筑夯压编抓落选管用办守练充备育健"
_RESULT_COMPLEMENTS = "强实牢好优齐严细全紧稳精"
VERB_RESULT_PREFIXES = frozenset(v + c for v in _RESULT_VERBS for c in _RESULT_COMPLEMENTS)
# Where a name may start: the text's or a line's start, after punctuation or a list number (`2、`).
_BOUNDARY_BEFORE = frozenset("\n。；，：、！？.．)） \t\u3000")
UNIT_STOP = frozenset({"地", "军", "当地", "本地", "我县", "本县", "我市", "县", "市", "区", "守", "防", "训", "外"})




_NAME_MARKS_RE = re.compile(r"[\s“”\"'‘’「」《》]")


def norm_name(text: str) -> str:
    return _NAME_MARKS_RE.sub("", text)


def _mask_pattern(text: str) -> re.Pattern[str] | None:
    if _MASK_SET.isdisjoint(text):
        return None
    parts = re.split(f"[{re.escape(MASK_CHARS)}]+", text)
    return re.compile(".{1,8}".join(re.escape(p) for p in parts) + "$")


@lru_cache(maxsize=64)
def _prepared(known: tuple[str, ...]) -> tuple[tuple[str, re.Pattern[str] | None], ...]:
    """The data's names normalized, each with its mask pattern (`《**县征兵工作20条措施》`), once per list."""
    return tuple((kn, _mask_pattern(kn)) for kn in map(norm_name, known) if kn)


def _known(item: str, known: Sequence[str], *, partial: bool = True) -> bool:
    norm = norm_name(item)
    if not norm:
        return True
    pattern = _mask_pattern(norm)
    for kn, kn_pattern in _prepared(tuple(known)):
        if norm == kn or (partial and len(norm) >= 4 and (norm in kn or kn in norm)):
            return True
        if pattern is not None and pattern.match(kn):
            return True
        if kn_pattern is not None and kn_pattern.match(norm):
            return True
    return False


@lru_cache(maxsize=16)
def known_documents(profile: str = DEFAULT_PROFILE) -> tuple[str, ...]:
    """National laws and regulations any report may cite (profile file known_documents.txt)."""
    try:
        path = profile_dir(profile) / "known_documents.txt"
        lines = path.read_text(encoding="utf-8").splitlines()
    except (InputError, OSError):
        return DEFAULT_KNOWN_DOCUMENTS
    titles = tuple(line.strip().strip("《》") for line in lines if line.strip() and not line.startswith("#"))
    return titles or DEFAULT_KNOWN_DOCUMENTS


_HONOUR_KEYWORD_RE = re.compile("|".join(map(re.escape, HONOUR_KEYWORDS)))
# Honour contexts of two characters or more, looked for in the six characters before the quote.
_HONOUR_CONTEXT_RE = re.compile("|".join(re.escape(c) for c in HONOUR_CONTEXT if len(c) >= 2))


def _is_honour(content: str, before: str) -> bool:
    norm = norm_name(content)
    if _HONOUR_KEYWORD_RE.search(norm) or norm.endswith(HONOUR_SUFFIXES):
        return True
    return len(norm) >= 4 and _HONOUR_CONTEXT_RE.search(before[-6:]) is not None


# Words that make the quoted title after them a goal (`争创“X”`, `力争创成“X”`), not an honour already won.
TARGET_WORDS = ("争创", "力争", "争取", "创建", "争当", "争做", "冲刺", "瞄准")
# ...unless the clause says it was achieved (`成功创建“X”`, `被命名为“X”`).
ACHIEVED_WORDS = ("成功", "荣获", "获评", "评为", "命名", "授予", "摘得", "获得")
_CLAUSE_BREAKS = "。；;！？\n，,"
_CLAUSE_BREAK_RE = re.compile(f"[{re.escape(_CLAUSE_BREAKS)}]")


def _is_target(text: str, quote_start: int) -> bool:
    """Is the quote at `quote_start` the object of a goal verb in its own clause?"""
    # Every clause break of the text, found once per text: a `text.rfind` per break character per quote
    # scanned the whole text for characters a report never uses (quadratic in its length).
    breaks = break_positions(text, _CLAUSE_BREAK_RE)
    i = bisect_left(breaks, quote_start)
    start = breaks[i - 1] + 1 if i > 0 else 0
    clause = QUOTE_RE.sub("", text[start:quote_start])      # `“践行强军目标…”“X”`: words inside quotes don't count
    return any(w in clause for w in TARGET_WORDS) and not any(w in clause for w in ACHIEVED_WORDS)


@lru_cache(maxsize=64)
def _known_names(metrics: Metrics) -> str:
    """Every string of the data a name may legitimately come from, joined for substring lookups."""
    meta = metrics.meta
    parts = [meta.region, meta.unit or "", meta.reporter_title or "", *meta.superiors, *metrics.partners,
             *metrics.honours, *metrics.documents, *metrics.plans, *metrics.highlights]
    core = re.sub(r"(县|区|市|旗|镇|乡|街道)$", "", meta.region)
    parts.append(core)
    return "\n".join(norm_name(p) for p in parts if p)


@lru_cache(maxsize=64)
def _proper_names(metrics: Metrics) -> str:
    """Only the data's names (region, unit, superiors, partners), joined: a phrase inside a plan or a
    highlight (`深入机关和中小学…`) must not make `和中小学` a known place."""
    meta = metrics.meta
    parts = [meta.region, meta.unit or "", *meta.superiors, *metrics.partners,
             re.sub(r"(县|区|市|旗|镇|乡|街道)$", "", meta.region)]
    return "\n".join(norm_name(p) for p in parts if p)


def name_findings(text: str, metrics: Metrics) -> list[Finding]:
    findings: list[Finding] = []
    titles = [(m.start(), m.end()) for m in TITLE_RE.finditer(text)]
    title_index = SpanIndex(titles)
    documents = (*metrics.documents, *known_documents(metrics.meta.profile))
    for match in TITLE_RE.finditer(text):
        title = match.group(1)
        if _known(title, documents):
            findings.append(Finding(match.start(), match.end(), match.group(0), "supported",
                                    found=title, reason="文件名称见数据“文件”（documents）或国家法规清单",
                                    kind="document"))
        else:
            findings.append(Finding(match.start(), match.end(), match.group(0), "unsupported", found=title,
                                    reason=f"文件《{title}》不在数据的“文件”（documents）中", kind="document"))
    quotes: list[tuple[int, int]] = []
    previous_honour_end = -10
    for match in QUOTE_RE.finditer(text):
        if title_index.contains(match.start(), match.end(), strict=True):
            continue
        content = next(g for g in match.groups() if g is not None)
        before = text[max(0, match.start() - 8):match.start()]
        chained = match.start() == previous_honour_end      # “A”“B”: B is an honour if A was
        if not (_is_honour(content, before) or chained):
            continue
        previous_honour_end = match.end()
        quotes.append((match.start(), match.end()))
        # Honours match exactly: “双拥模范县” and “全省双拥模范县” are different awards.
        if _is_target(text, match.start()):
            # `争创“X”`: an aim, not an award won; it belongs to the plans, if anywhere.
            if _known(content, metrics.honours, partial=False) or any(content in p for p in metrics.plans):
                findings.append(Finding(match.start(), match.end(), match.group(0), "supported", found=content,
                                        reason="争创目标，见数据“荣誉”或“计划”（plans）", kind="honour"))
        elif _known(content, metrics.honours, partial=False):
            findings.append(Finding(match.start(), match.end(), match.group(0), "supported", found=content,
                                    reason="荣誉见数据“荣誉”（honours）", kind="honour"))
        else:
            findings.append(Finding(match.start(), match.end(), match.group(0), "unsupported", found=content,
                                    reason=f"荣誉“{content}”不在数据的“荣誉”（honours）中", kind="honour"))
    shielded = SpanIndex(titles + quotes)
    known = _known_names(metrics)
    proper = _proper_names(metrics)
    for match in PLACE_RE.finditer(text):
        token = match.group(0)
        if inside_or_at(shielded, match.start(), match.end()):
            continue
        if token in proper:
            findings.append(_name_finding(match.start(), match.end(), token, known))
        elif _looks_like_place(text, match.start(), token):
            findings.append(_name_finding(match.start(), match.end(), token, known))
    placed = SpanIndex([(f.start, f.end) for f in findings if f.kind == "name"])
    for match in INSTITUTION_RE.finditer(text):
        prefix = match.group(1)
        if inside_or_at(shielded, match.start(), match.end()) or placed.overlaps(match.start(), match.end()):
            continue
        if prefix in proper:
            findings.append(_name_finding(match.start(), match.end(), match.group(0), known, core=prefix))
        elif _looks_like_name_start(text, match.start(), prefix) and _token_edges(text, match.start(), match.end()):
            findings.append(_name_finding(match.start(), match.end(), match.group(0), known, core=prefix))
    for match in UNIT_RE.finditer(text):
        where = match.group(1)
        if where in UNIT_STOP or inside_or_at(shielded, match.start(), match.end()):
            continue
        findings.append(_name_finding(match.start(), match.end(), match.group(0), known, core=where))
    return findings


# The name finder only asks about words of one to three characters (a name's two-character prefix,
# the characters around it, prefix + suffix); the tag table keeps those (257k of jieba's 349k).
_TAG_WORD_MAX = 3


class WordTags:
    """jieba's dictionary entries (word → part-of-speech tag and frequency) for words of up to
    `_TAG_WORD_MAX` characters, held as one marshalled blob per first character and unpacked on the
    first lookup of that character: a check asks about a few dozen words, and unpacking all 257k entries
    cost a third of a `shuzhi check`."""

    def __init__(self, buckets: dict[str, bytes]):
        self._buckets = buckets
        self._open: dict[str, dict[str, tuple[str, int]]] = {}

    @classmethod
    def from_entries(cls, entries: dict[str, tuple[str, int]]) -> WordTags:
        import marshal

        grouped: dict[str, dict[str, tuple[str, int]]] = {}
        for word, entry in entries.items():
            grouped.setdefault(word[0], {})[word] = entry
        return cls({first: marshal.dumps(group) for first, group in grouped.items()})

    def _bucket(self, first: str) -> dict[str, tuple[str, int]]:
        bucket = self._open.get(first)
        if bucket is None:
            import marshal

            blob = self._buckets.get(first)
            bucket = marshal.loads(blob) if blob else {}
            self._open[first] = bucket
        return bucket

    def entry(self, word: str) -> tuple[str, int] | None:
        return self._bucket(word[0]).get(word) if word else None

    def get(self, word: str, default: str | None = None) -> str | None:
        """The word's tag (`n`, `v`, `ns`…), or `default` when jieba's dictionary lacks it."""
        found = self.entry(word)
        return found[0] if found is not None else default

    def freq(self, word: str) -> int:
        found = self.entry(word)
        return found[1] if found is not None else 0

    @property
    def empty(self) -> bool:
        """No dictionary was found (jieba missing): nothing can be called common or rare."""
        return not self._buckets

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and self.entry(word) is not None

    def as_dict(self) -> dict[str, tuple[str, int]]:
        """Every entry (tests compare it with jieba's own tables)."""
        return {w: e for first in self._buckets for w, e in self._bucket(first).items()}


@lru_cache(maxsize=1)
def _word_tags() -> WordTags:
    """jieba's dictionary tags and frequencies (as `jieba.posseg` and `jieba.dt.FREQ` read them from the
    same dict.txt, without the user dictionary, so a check does not depend on what else the process
    loaded) for words of up to three characters; empty when jieba is missing. Importing `jieba.posseg`
    costs ~0.6 s and initialising jieba's frequency table more, so the entries are cached once per
    dictionary file in the temp folder and rebuilt when the file changes or the cache is unreadable."""
    import importlib.util

    spec = importlib.util.find_spec("jieba")
    if spec is None or spec.origin is None:
        return WordTags({})
    import hashlib
    import marshal
    import tempfile

    dictionary = Path(spec.origin).resolve().parent / "dict.txt"
    try:
        stat = dictionary.stat()
    except OSError:
        return WordTags({})
    key = hashlib.sha1(f"{dictionary}|{stat.st_size}|{stat.st_mtime_ns}|{_TAG_WORD_MAX}|2".encode()).hexdigest()[:16]
    cache = Path(tempfile.gettempdir()) / f"shuzhi-word-tags-{key}.marshal"
    try:
        buckets = marshal.loads(cache.read_bytes())
        if isinstance(buckets, dict) and all(isinstance(b, bytes) for b in buckets.values()):
            return WordTags(buckets)
    except (OSError, ValueError, EOFError, TypeError):
        pass
    entries: dict[str, tuple[str, int]] = {}
    with open(dictionary, encoding="utf-8") as handle:
        for line in handle:
            parts = line.split()
            if len(parts) == 3 and len(parts[0]) <= _TAG_WORD_MAX and parts[1].isdigit():
                entries[parts[0]] = (parts[2], int(parts[1]))
    table = WordTags.from_entries(entries)
    try:
        from pipeline.fsutil import atomic_write_bytes

        atomic_write_bytes(cache, marshal.dumps(table._buckets))
    except Exception:  # noqa: BLE001 - a cache that cannot be written only costs time
        pass
    return table


def _looks_like_place(text: str, start: int, token: str) -> bool:
    """Is `XY镇/乡/村/街道/社区/县` at `start` a proper name rather than a phrase (`推动全县`, `领导包村`)?"""
    prefix, suffix = token[:2], token[2:]
    if token in PLACE_STOP_TOKENS or not PLACE_STOP_CHARS.isdisjoint(prefix):
        return False
    if prefix in VERB_RESULT_PREFIXES:
        return False           # `编实建强镇民兵`: a stock verb phrase, not a name
    tags = _word_tags()
    end = start + len(token)
    after = text[end:end + 1]
    if after and after in SUFFIX_COMPOUNDS.get(suffix, ""):
        # `村组`, `村民`, `县委` usually close a common word; but when the character after the suffix opens
        # a word of its own (`岩脚村组织`, `X村民兵`) and the name starts at a word boundary, it is a name.
        if not (text[end:end + 2] in tags and _at_word_start(text, start, tags)):
            return False
    tag = tags.get(prefix)
    if tag is not None and tag in NON_NAME_TAGS:
        return False
    if start > 0 and text[start - 1] + prefix[0] in tags:
        return False           # the prefix starts inside a word: `硬化通村`, `领导包村`
    if _common_noun(prefix, _GENERIC_SUFFIX_FREQ if suffix == "街道" else _COMMON_NOUN_FREQ):
        return False           # `联系街道`, `编组街道`: a common noun, not a proper name
    tail = tags.get(prefix[1] + suffix)
    if tail is not None and not tail.startswith("ns") and not _rare_char(prefix[0]):
        # `营区`, `城区`, `农村`, `山村`: the suffix closes a common word. Not after a rare character,
        # which no common word ends in but names start with (`X木村` is X木 + 村, not X + 木村).
        return False
    return True


# jieba's plain noun tags: 联系, 编组, 职业 are words of the language, while names are unknown to the
# dictionary or tagged ns/nr/nz. Rare dictionary nouns (石笋, 松萝, 发祥: freq < 100) still make names,
# and so do mid-frequency ones before 镇/乡/村/县 (石门); 街道 and schools follow generic nouns more often
# (`联系街道`, `职业中学`), so there the bar is lower.
_COMMON_NOUN_TAGS = frozenset({"n", "vn"})
_COMMON_NOUN_FREQ = 1000
_GENERIC_SUFFIX_FREQ = 100
# A character jieba has seen fewer times than this as a word of its own opens names, not phrases.
_RARE_CHAR_FREQ = 100


def _common_noun(word: str, min_freq: int) -> bool:
    tags = _word_tags()
    return tags.get(word) in _COMMON_NOUN_TAGS and tags.freq(word) >= min_freq


def _rare_char(char: str) -> bool:
    tags = _word_tags()
    return not tags.empty and tags.freq(char) < _RARE_CHAR_FREQ


def _token_edges(text: str, start: int, end: int) -> bool:
    """Does a word (jieba) end at `end`? In `中心组集中学习` none ends after 中学: 集中学习 runs past it."""
    from pipeline.reading.segment import tokenize

    lo = max(0, start - 8)
    hi = min(len(text), end + 8)
    edges = {lo}
    pos = lo
    for token in tokenize(text[lo:hi]):
        pos += len(token)
        edges.add(pos)
    return end in edges


def _at_word_start(text: str, start: int, tags: WordTags) -> bool:
    """Does a word begin at `start`: after a line start, punctuation or a list number, or right after a
    whole dictionary word (`依托|岩脚村`, `慰问|X村`)?"""
    if start == 0 or text[start - 1] in _BOUNDARY_BEFORE:
        return True
    return start >= 2 and text[start - 2:start] in tags and text[start - 1] + text[start] not in tags


def _looks_like_name_start(text: str, start: int, prefix: str) -> bool:
    """Can `prefix` open a proper name (`多乐`, `鹤汀`) rather than end a phrase (`依托县`, `和县`)?"""
    if any(c in "是了的在与和及或对向到至于等为由从把将被让使全我本各该每此其这那个些镇乡村县区市街社" for c in prefix):
        return False
    tags = _word_tags()
    tag = tags.get(prefix)
    if tag is not None and tag in NON_NAME_TAGS or _common_noun(prefix, _GENERIC_SUFFIX_FREQ):
        return False           # `职业中学`: a kind of school, not a named one
    return not (start > 0 and text[start - 1] + prefix[0] in tags)


class SpanIndex:
    """Spans sorted by start, for containment and overlap tests in O(log n + k): spans here are short
    (a 《title》 ≤ 82 characters, a quote ≤ 42), so only the spans starting shortly before a position can
    reach it. A plain list scan per figure made a check quadratic in the length of the text."""

    def __init__(self, spans: Sequence[tuple[int, int]]):
        self.spans = sorted(spans)
        self.starts = [s for s, _ in self.spans]
        self.longest = max((e - s for s, e in self.spans), default=0)

    def _near(self, start: int, end: int) -> Sequence[tuple[int, int]]:
        lo = bisect_left(self.starts, start - self.longest)
        hi = bisect_right(self.starts, end, lo)
        return self.spans[lo:hi] if hi > lo else ()

    def contains(self, start: int, end: int, *, strict: bool = False) -> bool:
        near = self._near(start, end)
        if not near:
            return False       # most positions: no span starts close enough to reach them
        if strict:
            return any(s < start and end < e for s, e in near)
        return any(s <= start and end <= e for s, e in near)

    def overlaps(self, start: int, end: int) -> bool:
        near = self._near(start, end)
        return bool(near) and any(s < end and start < e for s, e in near)


def inside_or_at(spans: list[tuple[int, int]] | SpanIndex, start: int, end: int) -> bool:
    if isinstance(spans, SpanIndex):
        return spans.contains(start, end)
    return any(s <= start and end <= e for s, e in spans)


def _name_finding(start: int, end: int, token: str, known: str, core: str | None = None) -> Finding:
    if token in known or (core is not None and core in known):
        return Finding(start, end, token, "supported", found=token, reason="地名、单位名见数据", kind="name")
    return Finding(start, end, token, "unsupported", found=token,
                   reason=f"“{token}”不在数据的地区、单位或“地名单位”（partners）中，可能来自其他地方的报告",
                   kind="name")



def _inside(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(s < start and end < e for s, e in spans)
