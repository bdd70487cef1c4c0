"""The checker's rules for figures that compare or combine metrics: 是上年的N倍, rank moves (由全市第二
跃升至第一), changes against last year (增加/减少/增长 N, N%), sums and ratios of two metrics. Mixed into
`pipeline.facts.check._Run`, which owns the text, the aligner and the finding constructor.
"""

from __future__ import annotations

import re
from decimal import Decimal

from pipeline.facts.align import (
    CHANGE_ANCHORS,
    CHANGE_DOWN,
    CHANGE_UP,
    MetricProfile,
    format_base,
    quantity_family,
    sentence_bounds,
    unit_scale,
    value_agrees,
)
from pipeline.models import Finding, MetricValue, Quantity

SUM_WORDS = ("共", "合计", "总计", "累计", "总数", "总量", "两项", "总额")
# `提高2个百分点`: percentage points, a difference of two percents (not a growth rate).
POINT_UNITS = frozenset({"个百分点", "百分点"})
_ANCHOR_FIRST_CHARS = frozenset(anchor[0] for anchor in CHANGE_ANCHORS)
_CLAUSE_END_RE = re.compile("[，；。：\n]")
_CHANGE_UP_RE = re.compile("|".join(map(re.escape, CHANGE_UP)))
_CHANGE_DOWN_RE = re.compile("|".join(map(re.escape, CHANGE_DOWN)))



# id(metric) → (metric, its value as the data writes it). Keyed by identity, holding the metric so its id
# stays its own: an `lru_cache` hashed the whole frozen MetricValue (Decimals included) twice per finding.
_EXPECTED: dict[int, tuple[MetricValue, str | None]] = {}
_EXPECTED_MAX = 4096


def _expected(m: MetricValue) -> str | None:
    cached = _EXPECTED.get(id(m))
    if cached is not None and cached[0] is m:
        return cached[1]
    shown = _format_expected(m)
    if len(_EXPECTED) >= _EXPECTED_MAX:
        _EXPECTED.clear()
    _EXPECTED[id(m)] = (m, shown)
    return shown


def _format_expected(m: MetricValue) -> str | None:
    if m.value is None:
        return None
    try:
        from pipeline.facts.metrics import format_metric_value

        return format_metric_value(m)
    except ImportError:
        return format_base(m.value, m.unit, m.kind)


def _show(value: Decimal | None, m: MetricValue) -> str:
    if value is None:
        return "（未填）"
    return format_base(value * (unit_scale(m.unit) if m.kind != "rank" else 1), m.unit, m.kind)


def _plain(value: Decimal) -> str:
    text = format(value.quantize(Decimal("0.01")).normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


class _ComparisonRules:
    """Derived and comparative figures; needs `text`, `aligner`, `metrics` and `_finding` from the run."""

    def _times(self, q: Quantity) -> Finding | None:
        """`是上年的2.6倍`: this year's figure over last year's, for the metric the sentence names."""
        assert q.value is not None
        start, _ = sentence_bounds(self.text, q)
        left = self.text[start:q.start]
        if not any(w in left for w in ("上年", "去年", "同期")):
            return None
        scored = []
        for p in self.aligner.profiles:
            if p.base_value is None or not p.base_previous:
                continue
            scored.append((max((w for t, w in p.terms if t in left), default=0.0), p))
        scored.sort(key=lambda item: -item[0])
        for _, p in scored:
            assert p.base_value is not None and p.base_previous
            ratio = p.base_value / p.base_previous
            if value_agrees(q, ratio, self.text):
                how = f"{_show(p.metric.value, p.metric)}÷上年{_show(p.metric.previous, p.metric)}＝{_plain(ratio)}倍"
                return self._finding(q, "derived", how, p.metric, expected=None)
        if scored and scored[0][0] > 0:
            p = scored[0][1]
            assert p.base_value is not None and p.base_previous
            ratio = p.base_value / p.base_previous
            how = f"{_show(p.metric.value, p.metric)}÷上年{_show(p.metric.previous, p.metric)}＝{_plain(ratio)}倍"
            return self._finding(q, "contradicted", f"与数据算出的倍数不符：{how}", p.metric,
                                 expected=f"{_plain(ratio)}倍")
        return None

    def _rank_move(self, q: Quantity) -> Finding:
        """`前进两个位次`: places gained (or lost) against last year's rank."""
        assert q.value is not None
        start, _ = sentence_bounds(self.text, q)
        left = self.text[start:q.start]
        before = self.text[max(0, q.start - 4):q.start]
        down = any(w in before for w in ("后退", "下降", "下滑", "退后"))
        ranks = [p for p in self.aligner.profiles
                 if p.metric.kind == "rank" and p.base_value is not None and p.base_previous is not None]
        ranks.sort(key=lambda p: -max((w for t, w in p.terms if t in left), default=0.0))
        for p in ranks:
            assert p.base_value is not None and p.base_previous is not None
            moved = p.base_previous - p.base_value
            if (moved < 0) == down and abs(moved) == q.value:
                how = f"上年第{_plain(p.base_previous)}名→本年第{_plain(p.base_value)}名，{'后退' if down else '前进'}{_plain(abs(moved))}个位次"
                return self._finding(q, "derived", how, p.metric, expected=None)
        if ranks:
            p = ranks[0]
            assert p.base_value is not None and p.base_previous is not None
            return self._finding(q, "contradicted", f"“{p.metric.label}”上年第{_plain(p.base_previous)}名、本年第"
                                 f"{_plain(p.base_value)}名，与文中的位次变化不符", p.metric)
        return self._finding(q, "unsupported", "数据中没有带上年数字的排名指标，无法核对位次变化")

    def _change_word(self, q: Quantity) -> str | None:
        """`up`/`down`/`any` when the figure is a change against last year (`同比增长8%`, `增加13人`)."""
        before = self.text[max(0, q.start - 4):q.start]
        after = self.text[q.end:q.end + 1]
        if after in ("到", "至"):
            return None
        if not before.endswith(("到", "至", "为")):
            if _CHANGE_UP_RE.search(before):
                return "up"
            if _CHANGE_DOWN_RE.search(before):
                return "down"
        # `比去年多输送17人`, `较上年少3次`: an anchor earlier in the clause, then 多/少 before the verb.
        window = self.text[max(0, q.start - 12):q.start]
        if _ANCHOR_FIRST_CHARS.isdisjoint(window):
            return None        # no anchor can start here (most figures): skip the clause scan
        clause = _CLAUSE_END_RE.split(window)[-1]
        for anchor in CHANGE_ANCHORS:
            pos = clause.find(anchor)
            if pos >= 0:
                rest = clause[pos + len(anchor):]
                if rest.startswith("的"):
                    return None    # `较上年的287人有所增加`: last year's own figure, not a change
                if rest.startswith(("多", "增", "高", "提")):
                    return "up"
                if rest.startswith(("少", "减", "低", "降")):
                    return "down"
                return "any"
        return None

    def _change(self, q: Quantity, direction: str) -> Finding | None:
        start, _ = sentence_bounds(self.text, q)
        # The metric is named earlier in the sentence (`基干民兵1560人，比上年减少20人`), whatever its
        # unit; rank the metrics with a previous figure by how strongly their words occur there.
        left = self.text[start:q.start]
        # `个百分点` (percentage points) is a difference of two percents: only a percent metric can give it,
        # never another metric's growth rate. And a change is only derived from a metric the sentence
        # names: among ~30 metrics one will match any small figure by chance.
        points = q.unit in POINT_UNITS
        named: list[tuple[float, MetricProfile]] = []
        for p in self.aligner.profiles:
            if p.base_value is None or p.base_previous is None:
                continue
            if points and p.metric.kind != "percent":
                continue
            score = max((w for t, w in p.terms if t in left), default=0.0)
            if score > 0:
                named.append((score, p))
        named.sort(key=lambda item: -item[0])
        family = quantity_family(q)
        for _, p in named:
            computed = self._change_value(q, p, family, direction)
            if computed is not None and value_agrees(q, computed[1], self.text):
                return self._finding(q, "derived", f"同比变化：{computed[0]}", p.metric, expected=None)
        # The most strongly named metric whose unit can give this change (`自谋职业补助72万元…补助132名
        # 退役士兵自谋职业，比上年增加19名`: the people count, not the money named more strongly).
        for _, p in named:
            computed = self._change_value(q, p, family, direction)
            if computed is not None:
                return self._finding(q, "contradicted", f"与数据算出的变化不符：{computed[0]}", p.metric,
                                     expected=computed[0].rsplit("＝", 1)[-1])
        return None

    @staticmethod
    def _change_value(q: Quantity, p: MetricProfile, family: str,
                      direction: str) -> tuple[str, Decimal] | None:
        assert p.base_value is not None and p.base_previous is not None
        m = p.metric
        diff = p.base_value - p.base_previous
        if direction == "up" and diff < 0 or direction == "down" and diff > 0:
            return None
        if family == "%":
            if m.kind == "percent":
                return (f"{m.label}{_plain(m.value or 0)}％−上年{_plain(m.previous or 0)}％＝{_plain(abs(diff))}个百分点",
                        abs(diff))
            if p.base_previous == 0:
                return None
            rate = abs(diff) / p.base_previous * 100
            return (f"（{_show(m.value, m)}−{_show(m.previous, m)}）÷{_show(m.previous, m)}＝{_plain(rate)}％", rate)
        if family == p.family:
            return f"{_show(m.value, m)}−上年{_show(m.previous, m)}＝{_show(abs(diff) / unit_scale(m.unit), m)}", \
                abs(diff)
        return None

    def _derived(self, q: Quantity) -> Finding | None:
        """A sum of two metrics or a ratio of two, when no metric is named (`共计`, `占比`)."""
        family = quantity_family(q)
        profiles = [p for p in self.aligner.profiles if p.base_value is not None]
        if q.unit in POINT_UNITS:
            return None        # percentage points are a change of a percent, never a ratio of counts
        if family == "%":
            counts = [p for p in profiles if p.family not in ("%", "rank")]
            for a in counts:
                for b in counts:
                    if a is b or a.family != b.family or not b.base_value or a.base_value >= b.base_value:
                        continue
                    ratio = a.base_value / b.base_value * 100
                    if value_agrees(q, ratio, self.text):
                        how = f"{a.metric.label}{_expected(a.metric)}÷{b.metric.label}{_expected(b.metric)}＝{_plain(ratio)}％"
                        return self._finding(q, "derived", how, a.metric, expected=f"{_plain(ratio)}％")
            return None
        # A sum is only claimed with a word that says so (`共`, `合计`); otherwise two of ~30 metrics
        # adding up to a figure by chance would excuse a wrong one.
        left = self.text[sentence_bounds(self.text, q)[0]:q.start]
        if not any(w in left[-12:] for w in SUM_WORDS):
            return None
        same = [p for p in profiles if p.family == family and family not in ("", "rank")]
        for i, a in enumerate(same):
            for b in same[i + 1:]:
                total = a.base_value + b.base_value
                if value_agrees(q, total, self.text):
                    how = f"{a.metric.label}{_expected(a.metric)}＋{b.metric.label}{_expected(b.metric)}"
                    return self._finding(q, "derived", how, a.metric, expected=None)
        return None
