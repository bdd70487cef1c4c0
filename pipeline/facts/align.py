"""Align a figure in a report to the metric it states, and compare the two (RotoWire-style, rules only).

A figure is aligned by the words around it: every metric's catalog label and aliases are looked for in
the figure's clause (the text between the nearest `，；。：` on either side, cut at the neighbouring
figures so `拨付105万元补助190名退役士兵` gives `补助` to the money and `退役士兵` to the count). A term
right before the number scores highest (`基干民兵精简至1560人`, `参训率达到98％`); a term after it
scores a little less (`6所高中`). Units decide which metrics may compete at all: `%` only meets percent
metrics, ranks only rank metrics, money only money metrics (万元/元/亿元 compared after conversion),
people counts (人/名/位) only people metrics.

Values are compared as the text states them: `2.1万人` agrees with 21,034 because the text gives one
decimal in 万; `两千余人` agrees with anything from 2,000 to 2,999; `至少一次` with anything ≥ 1.

Tolerance of the approximate words (what a figure "covers"; `quantity_bounds`):
| written | covers |
|---|---|
| `近N`, `将近N`, `接近N` | 0.9·N to N (`近20场次` covers 18–20, not 23) |
| `不足N`, `不到N`, `N以下`, `N以内`, `最多N`, `不超过N` | 0 to N |
| `约N`, `N左右` | N ± 10 % |
| `N余`, `N多` (`两千余人`) | N up to the next unit of N's last digit (2,000–2,999) |
| `超过N`, `逾N`, `N以上`, `至少N`, `不少于N` | N and above |
| `2.1万人` (a rounded 万/亿 figure) | half a written digit either side, widened to a full digit below and above for cut digits |
| `18—35周岁` (a range) | its two ends: the metric must equal one of them |
| a metric with `approx: true` in the data | a figure whose interval meets the metric ± 10 % |

When two metrics share a noun (`提拔民兵连长`, `配齐民兵连长`; `春季…比例`, `夏秋季…比例`), the words that only
one of them has (its qualifier: 提拔/配齐, 春季/夏秋季) decide between them, the nearer one first; a figure
whose qualifier names one metric is never absorbed by the other, even when its value happens to equal it.
A custom metric is named by slices of its label (heads, tails, words); a slice that the text spells with
another word cut into the label's own (`夏秋季征兵大学生比例` against the label `春季征兵大学生比例`: 季 agrees,
秋 is not 春) names a sibling, not this metric. A label word left out whole (`落实武装工作经费` for
`镇武装工作经费`) is still a short form of the label.
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache

from pipeline.errors import InputError
from pipeline.models import Metrics, MetricValue, Quantity
from pipeline.profile.catalog import CatalogEntry, load_catalog

CLAUSE_BREAKS = frozenset("，；。：！？,;:!?\n")

# Base units that mean the same thing in this genre. The key is what `to_base` returns; the value is
# the family a metric and a figure must share to be compared at all.
UNIT_FAMILY: dict[str, str] = {
    "人": "人", "名": "人", "位": "人", "个人": "人",
    "人次": "人次",
    "次": "次", "轮": "次", "场": "场次", "场次": "场次",
    # `走访慰问优抚对象86户次`: household visits are visits, counted against a metric in 次 (人次 is a
    # head count of attendance and stays its own family)
    "户次": "次",
    "个": "个", "家": "个", "批": "批", "批次": "批",
    "元": "元",
    "%": "%", "％": "%",
    # `三连冠`: N consecutive titles, a count of times (a custom metric `…连冠` in 次)
    "连冠": "次",
    # ages: `平均年龄33岁` and `18—35周岁` measure the same thing
    "周岁": "岁",
}

# `近20` covers 0.9·20 to 20 (see the table above)
NEAR_LOWER_FACTOR = Decimal("0.9")
# a metric marked `approx: true` agrees with figures within this share of its value
APPROX_METRIC_TOLERANCE = Decimal("0.1")

# Units that are themselves the noun a metric is named by (`三连冠` for a metric `考评连冠`): the unit is
# read as part of the figure's right context.
WORD_UNITS = frozenset({"连冠"})

# Words that announce a change against last year: the figure after them is a difference, not a level.
CHANGE_UP = ("增长", "增加", "提高", "上升", "提升", "增幅", "多出", "新增")
CHANGE_DOWN = ("下降", "减少", "降低", "压减", "减幅", "少了")
CHANGE_ANCHORS = ("同比", "较上年", "比上年", "较去年", "比去年", "与上年相比", "较2", "比2")

# An approximate figure with an open upper side (`两千余人`) means the next digit is unknown, not that
# anything larger will do; these words, on the other hand, do give an open side.
OPEN_LOWER_WORDS = ("至少", "不少于", "不低于", "以上", "超过", "逾", "超")
OPEN_UPPER_WORDS = ("不超过", "不到", "以下", "以内", "不足", "最多")


def to_base(value: Decimal, unit: str) -> tuple[Decimal, str]:
    """Figure in its base unit (万元→元, 万人→人), via the quantity extractor's own table."""
    from pipeline.facts.quantities import to_base as _to_base

    return _to_base(value, unit)


@lru_cache(maxsize=256)
def unit_family(unit: str) -> str:
    """The comparison family of a unit: `名`→人, `万元`→元, `场次`→次; unknown units stand alone."""
    if not unit:
        return ""
    try:
        _, base = to_base(Decimal(1), unit)
    except (KeyError, ValueError, ArithmeticError):
        base = unit
    return UNIT_FAMILY.get(base, base)


@lru_cache(maxsize=256)
def unit_scale(unit: str) -> Decimal:
    """How many base units one `unit` is (万元 → 10000)."""
    if not unit:
        return Decimal(1)
    try:
        scaled, _ = to_base(Decimal(1), unit)
    except (KeyError, ValueError, ArithmeticError):
        return Decimal(1)
    return scaled


# --------------------------------------------------------------------------- metric profiles

@dataclass(frozen=True)
class MetricProfile:
    """A metric prepared for alignment: its words with weights and its figures in base units."""

    metric: MetricValue
    terms: tuple[tuple[str, float], ...]
    family: str
    base_value: Decimal | None
    base_previous: Decimal | None
    families: tuple[str, ...] = ()     # the family and those of the metric's other count units (项 for 个)
    first_chars: frozenset[str] = frozenset()   # first characters of its terms: a context without any scores 0
    # its terms by first character: only the terms whose first character occurs in a context are looked for
    by_first: Mapping[str, tuple[tuple[str, float], ...]] = field(default_factory=dict, compare=False, hash=False)
    # a custom metric's label (quotes removed) and its word boundaries: its terms are slices of the label,
    # and one that the text spells with another word cut into the label's (夏秋季 for 春季) names a sibling
    sliced: tuple[str, frozenset[int]] | None = None

    @property
    def key(self) -> str:
        return self.metric.key


@dataclass(frozen=True)
class Alignment:
    profile: MetricProfile
    score: float
    # score of the words only this metric has among the close competitors (提拔 vs 配齐); 0 when none
    qualifier: float = 0.0


def _metric_family(m: MetricValue) -> str:
    if m.kind == "rank":
        return "rank"
    if m.kind == "percent" or m.unit in ("%", "％"):
        return "%"
    return unit_family(m.unit)


def _base(value: Decimal | None, unit: str, kind: str) -> Decimal | None:
    if value is None or kind == "rank":
        return value
    return value * unit_scale(unit)


def _terms_for(m: MetricValue, aliases: Iterable[str]) -> tuple[tuple[str, float], ...]:
    """Label and aliases, weighted by length so `基干民兵` outweighs `基干`; the full label a bit more."""
    weighted: dict[str, float] = {}
    label = m.label.replace("“", "").replace("”", "")
    candidates = [(m.label, 1.5), (label, 1.5)] + [(a, 1.0) for a in aliases]
    if m.custom:
        # A user's own metric has no aliases: its label's heads and tails stand in for them
        # (`镇武装工作经费` is written `武装工作经费`, `大学生新兵` is written `其中大学生11名`),
        # and so do its own words, as a catalog alias would (`征兵“五率”考评连冠` is written `三连冠`).
        candidates += [(label[:n], 0.8) for n in range(3, len(label))]
        candidates += [(label[-n:], 0.8) for n in range(3, len(label))]
        candidates += [(w, 0.7) for w in _label_words(label)]
    for term, factor in candidates:
        term = term.strip()
        if len(term) < 2:
            continue
        weight = min(len(term), 6) * factor
        weighted[term] = max(weighted.get(term, 0.0), weight)
    return tuple(sorted(weighted.items(), key=lambda item: -len(item[0])))


@lru_cache(maxsize=256)
def _label_words(label: str) -> tuple[str, ...]:
    """The words of a custom label (jieba), two characters or more: `征兵`, `五率`, `考评`, `连冠`."""
    try:
        import jieba
    except ImportError:
        return ()
    return tuple(w for w in jieba.lcut(label) if len(w) >= 2 and all("\u4e00" <= c <= "\u9fff" for c in w))


class MetricAligner:
    """Per-metrics preprocessing, built once and cached (the drafter checks after every section)."""

    def __init__(self, metrics: Metrics, prior: Metrics | None = None, *,
                 catalog: Mapping[str, CatalogEntry] | None = None):
        self.metrics = metrics
        if catalog is None:
            try:
                catalog = load_catalog(metrics.meta.profile)
            except InputError:
                catalog = {}
        profiles: list[MetricProfile] = []
        for m in metrics.values:
            entry = catalog.get(m.key)
            aliases = (*(entry.aliases if entry else ()), *m.aliases)
            previous = m.previous
            if previous is None and prior is not None:
                before = prior.get(m.key)
                previous = before.value if before is not None else None
            family = _metric_family(m)
            also = (*(entry.units if entry else ()), *m.units) if m.kind == "count" else ()
            terms = _terms_for(m, aliases)
            profiles.append(
                MetricProfile(
                    metric=m,
                    terms=terms,
                    family=family,
                    base_value=_base(m.value, m.unit, m.kind),
                    base_previous=_base(previous, m.unit, m.kind),
                    families=tuple(dict.fromkeys((family, *(unit_family(u) for u in also)))),
                    first_chars=frozenset(t[0] for t, _ in terms),
                    by_first=_by_first(terms),
                    sliced=_label_cuts(m.label.replace("“", "").replace("”", "")) if m.custom else None,
                )
            )
        self.profiles: tuple[MetricProfile, ...] = tuple(profiles)
        self.by_family: dict[str, tuple[MetricProfile, ...]] = {}
        for p in self.profiles:
            for family in p.families or (p.family,):
                self.by_family[family] = self.by_family.get(family, ()) + (p,)

    def candidates(self, q: Quantity) -> tuple[MetricProfile, ...]:
        return self.by_family.get(quantity_family(q), ())

    def align(self, text: str, q: Quantity, bounds: tuple[int, int],
              section: str | None = None) -> list[Alignment]:
        """Metrics of a compatible unit whose words occur around `q`, best first (score > 0 only)."""
        candidates = self.by_family.get(quantity_family(q), ())
        if not candidates:
            return []
        left_start, right_end = bounds
        left = text[left_start:q.start]
        right = text[q.end:right_end]
        if q.unit in WORD_UNITS:
            right = q.unit + right
        scored: list[Alignment] = []
        present = frozenset(left + right)
        for p in candidates:
            hit = p.first_chars.intersection(present)
            if not hit:
                continue            # none of its words can occur here
            by_first = p.by_first
            score = _context_score([t for c in hit for t in by_first[c]] if len(hit) > 1 else by_first[next(iter(hit))],
                                   left, right, sliced=p.sliced)
            if score <= 0:
                continue
            if section and p.metric.section == section:
                score += 0.5        # a tie-breaker only: a report may state any figure anywhere
            scored.append(Alignment(p, score))
        if len(scored) < 2:
            return scored
        scored.sort(key=_by_score)
        return _qualified(scored, left, right, present)

    def align_label(self, label: str, q: Quantity) -> list[Alignment]:
        """Metrics of a compatible unit named by a table row's label (the figure's only context)."""
        scored = [Alignment(p, score) for p in self.candidates(q)
                  if (score := _context_score(p.terms, label, "", frozenset(label))) > 0]
        scored.sort(key=lambda a: -a.score)
        return scored


def _by_score(a: Alignment) -> float:
    return -a.score


def _by_first(terms: Sequence[tuple[str, float]]) -> dict[str, tuple[tuple[str, float], ...]]:
    index: dict[str, tuple[tuple[str, float], ...]] = {}
    for term, weight in terms:
        index[term[0]] = index.get(term[0], ()) + ((term, weight),)
    return index


# Competitors within this share of the best score are told apart by their own words (their qualifiers).
QUALIFIER_MARGIN = 0.8


def _qualified(scored: list[Alignment], left: str, right: str, present: frozenset[str]) -> list[Alignment]:
    """When close competitors share the noun that aligned them (`民兵连长` for 提拔… and 配齐…), score
    each by the words only it has among them, nearest first, and let that decide the order."""
    if len(scored) < 2:
        return scored
    close = [a for a in scored if a.score >= QUALIFIER_MARGIN * scored[0].score]
    if len(close) < 2:
        return scored
    labels = [a.profile.metric.label for a in close]
    rescored = []
    for a in scored:
        if a not in close:
            rescored.append(a)
            continue
        others = [label for j, label in enumerate(labels) if j != close.index(a)]
        own = tuple((t, w) for t, w in a.profile.terms if not any(t in label for label in others))
        qualifier = _context_score(own, left, right, present, sliced=a.profile.sliced) if own else 0.0
        rescored.append(Alignment(a.profile, a.score + qualifier, qualifier))
    if not any(a.qualifier for a in rescored):
        return scored
    rescored.sort(key=lambda a: -a.score)
    return rescored


# A conjunction between a word and the figure means the word belongs to the neighbouring item:
# in `11个乡镇（街道）和33个机关` the 乡镇 before `和` is not what 33 counts.
CONJUNCTIONS = frozenset("、和及与或")


def _context_score(terms: Sequence[tuple[str, float]], left: str, right: str,
                   present: frozenset[str] | None = None, *, sliced: tuple[str, frozenset[int]] | None = None) -> float:
    best = 0.0
    for term, weight in terms:
        if present is not None and term[0] not in present:
            continue           # most terms cannot occur: skip their two string searches
        pos = left.rfind(term)
        if pos > 0 and sliced is not None and _spells_sibling(left, pos, term, sliced):
            pos = -1
        if pos >= 0:
            gap = left[pos + len(term):]
            score = weight / (1.0 + len(gap) / 4.0)
            if not CONJUNCTIONS.isdisjoint(gap):
                score *= 0.3
            if score > best:
                best = score
        pos = right.find(term)
        if pos > 0 and sliced is not None and _spells_sibling(right, pos, term, sliced):
            pos = -1
        if pos >= 0:
            # `6所高中`, `11个机关`: a word right after the measure word is what is counted.
            score = (1.0 if pos == 0 else 0.9) * weight / (1.0 + pos / 4.0)
            if pos and not CONJUNCTIONS.isdisjoint(right[:pos]):
                score *= 0.3
            if score > best:
                best = score
    return best


def _spells_sibling(text: str, pos: int, term: str, sliced: tuple[str, frozenset[int]]) -> bool:
    """Does `text` spell, around the label slice `term` found at `pos`, another metric's label: the words
    before it agree with the label's back into the middle of one of the label's words and then differ
    (`夏秋季征兵大学生比例` against the label `春季征兵大学生比例`: …季 agrees, 秋 is not 春)? A label word left
    out whole (`落实武装工作经费` for `镇武装工作经费`) is a short form, not a sibling."""
    label, cuts = sliced
    j = label.find(term)
    if j <= 0:
        return False           # the term opens the label: nothing before it is left out
    k, t = j, pos
    while k > 0 and t > 0 and text[t - 1] == label[k - 1]:
        k -= 1
        t -= 1
    if k == 0 or k in cuts or t == 0:
        return False
    return "\u4e00" <= text[t - 1] <= "\u9fff"


@lru_cache(maxsize=256)
def _label_cuts(label: str) -> tuple[str, frozenset[int]] | None:
    """A custom label with the positions between its words (jieba); None without jieba."""
    try:
        import jieba
    except ImportError:
        return None
    cuts, at = set(), 0
    for word in jieba.lcut(label):
        at += len(word)
        cuts.add(at)
    return label, frozenset(cuts)


@lru_cache(maxsize=64)
def aligner_for(metrics: Metrics, prior: Metrics | None = None,
                catalog_items: tuple[tuple[str, CatalogEntry], ...] | None = None) -> MetricAligner:
    """A cached aligner; `catalog_items` is a loaded catalog as a tuple (hashable), None to read it."""
    return MetricAligner(metrics, prior, catalog=dict(catalog_items) if catalog_items is not None else None)


def quantity_family(q: Quantity) -> str:
    if q.kind == "rank":
        return "rank"
    if q.kind == "percent" or q.unit in ("%", "％"):
        return "%"
    return unit_family(q.unit)


# --------------------------------------------------------------------------- context windows

_CLAUSE_BREAK_RE = re.compile("[" + re.escape("".join(sorted(CLAUSE_BREAKS))) + "]")
_SENTENCE_ENDS = "。；！？\n"
_SENTENCE_END_RE = re.compile(f"[{_SENTENCE_ENDS}]")
# Below this length a clause is found by stepping over characters; above it, by bisection in the text's
# break positions (found once per text).
_INDEX_MIN_CHARS = 2000
# (pattern, text, positions) of the last texts seen, newest first, looked up by identity.
_BREAK_CACHE: list[tuple[re.Pattern[str], str, array]] = []
_BREAK_CACHE_SIZE = 8


def break_positions(text: str, pattern: re.Pattern[str]) -> array:
    """Sorted start positions of `pattern`'s matches in `text`, found once per text object.

    The cache is keyed by the text's identity, not its value: an `lru_cache` on the text compares a new
    but equal megabyte string in full on every lookup (a report checked twice cost a memcmp of the whole
    text per figure, 1.5 s per MB)."""
    for cached_pattern, cached_text, positions in _BREAK_CACHE:
        if cached_text is text and cached_pattern is pattern:
            return positions
    positions = array("q", [m.start() for m in pattern.finditer(text)])
    _BREAK_CACHE.insert(0, (pattern, text, positions))
    del _BREAK_CACHE[_BREAK_CACHE_SIZE:]
    return positions


def clause_bounds(text: str, q: Quantity, neighbours: tuple[int, int], right_limit: int = 30) -> tuple[int, int]:
    """The clause around `q`, cut at the previous figure's end and the next figure's start."""
    prev_end, next_start = neighbours
    limit = min(next_start, q.end + right_limit, len(text))
    if len(text) >= _INDEX_MIN_CHARS:
        breaks = break_positions(text, _CLAUSE_BREAK_RE)
        i = bisect_left(breaks, q.start)
        start = q.start if q.start <= prev_end else max(prev_end, breaks[i - 1] + 1 if i > 0 else 0)
        j = bisect_left(breaks, q.end, i)
        end = q.end if q.end >= limit else min(limit, breaks[j] if j < len(breaks) else len(text))
        return start, end
    start = q.start
    while start > prev_end and text[start - 1] not in CLAUSE_BREAKS:
        start -= 1
    end = q.end
    while end < limit and text[end] not in CLAUSE_BREAKS:
        end += 1
    return start, end


# The last (text, figure, sentence): the checker asks for one figure's sentence several times in a row.
_LAST_SENTENCE: tuple[str, Quantity | None, tuple[int, int]] = ("", None, (0, 0))


def sentence_bounds(text: str, q: Quantity) -> tuple[int, int]:
    """The sentence around `q` (between 。；！？ or line ends), end exclusive."""
    global _LAST_SENTENCE
    last = _LAST_SENTENCE
    if last[1] is q and last[0] is text:
        return last[2]
    ends = break_positions(text, _SENTENCE_END_RE)
    i = bisect_left(ends, q.start)
    start = ends[i - 1] + 1 if i > 0 else 0
    j = bisect_left(ends, q.end, i)
    bounds = start, ends[j] if j < len(ends) else len(text)
    _LAST_SENTENCE = (text, q, bounds)
    return bounds


# --------------------------------------------------------------------------- comparing values

def _step(value: Decimal) -> Decimal:
    """The place value of the last significant digit: 2000 → 1000, 2.1 → 0.1, 25 → 1."""
    if value == 0:
        return Decimal(1)
    exponent = value.normalize().as_tuple().exponent
    return Decimal(1).scaleb(int(exponent))


def _decimals(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return max(0, -int(exponent)) if isinstance(exponent, int) else 0


# The last (figure, text, bounds): the checker holds one figure against several metric values in a row.
_LAST_BOUNDS: tuple[Quantity | None, str, tuple[Decimal, Decimal] | None] = (None, "", None)


def quantity_bounds(q: Quantity, text: str = "") -> tuple[Decimal, Decimal] | None:
    """The interval of true values (in base units) the figure allows, None when masked."""
    global _LAST_BOUNDS
    last = _LAST_BOUNDS
    if last[0] is q and last[1] is text:
        return last[2]
    bounds = _quantity_bounds(q, text)
    _LAST_BOUNDS = (q, text, bounds)
    return bounds


def _quantity_bounds(q: Quantity, text: str) -> tuple[Decimal, Decimal] | None:
    if q.value is None:
        return None
    scale = unit_scale(q.unit) if q.kind not in ("rank", "percent") else Decimal(1)
    before = text[max(0, q.start - 4):q.start] if text else ""
    inside = q.text + before
    if q.lower is not None or q.upper is not None:
        lower, upper = q.lower, q.upper
        if upper is None and lower is not None:
            upper = Decimal("Infinity") if any(w in inside for w in OPEN_LOWER_WORDS) \
                else lower + _step(lower)
        if lower is None and upper is not None:
            # `近千人` is a little under a thousand; `不足千人` may be far under.
            lower = Decimal(0) if any(w in inside for w in OPEN_UPPER_WORDS) else upper * NEAR_LOWER_FACTOR
        assert lower is not None and upper is not None
        if lower + upper == 2 * q.value and not any(w in inside for w in ("约", "左右")):
            # `3.8万人次` folded from 38,600: reports cut the digits as often as they round them.
            upper = q.value + 2 * (upper - q.value)
        return lower * scale, upper * scale
    if q.approx:          # 约/左右 without bounds: the stated figure give or take one last digit
        step = _step(q.value)
        return (q.value - step) * scale, (q.value + step) * scale
    # Half a unit of the last written digit: `2.1万人` (one decimal in 万) holds 20,500–21,500.
    half = Decimal(5).scaleb(-_decimals(q.value) - 1)
    return (q.value - half) * scale, (q.value + half) * scale


def is_range(q: Quantity) -> bool:
    """`18—35周岁`, `三至五个`: two written ends, not an approximation of one figure."""
    return not q.approx and q.lower is not None and q.upper is not None and q.lower != q.upper \
        and q.kind != "rank"


def value_agrees(q: Quantity, base_value: Decimal | None, text: str = "", *, approx: bool = False) -> bool:
    """Does the figure as written agree with a metric value (in base units)? `approx`: the metric's value
    is itself approximate (`approx: true` in the data), so any figure within 10 % of it agrees."""
    if base_value is None or q.value is None:
        return False
    if q.kind == "rank":
        return q.value == base_value
    if is_range(q) and q.kind not in ("year", "date") and not approx:
        scale = unit_scale(q.unit) if q.kind != "percent" else Decimal(1)
        assert q.lower is not None and q.upper is not None
        return base_value in (q.lower * scale, q.upper * scale)
    bounds = quantity_bounds(q, text)
    if bounds is None:
        return False
    lower, upper = bounds
    if approx:
        slack = abs(base_value) * APPROX_METRIC_TOLERANCE
        return lower <= base_value + slack and base_value - slack <= upper
    return lower <= base_value <= upper


def format_base(value: Decimal, unit: str, kind: str) -> str:
    """A metric figure back in its own unit, for `expected` (105万元, 98％, 全市第一)."""
    scale = unit_scale(unit) if kind != "rank" else Decimal(1)
    shown = value / scale if scale else value
    text = format(shown.normalize(), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if kind == "rank":
        return f"第{text}"
    return f"{text}{'％' if unit in ('%', '％') else unit}"
