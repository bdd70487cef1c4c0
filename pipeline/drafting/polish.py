"""Finishing passes over filled text, shared by both drafters: comparisons with last year and the
stock-word budget.

- `comparison_phrase`: `，较上年增加8人` / `，较上年提高1.5个百分点` for a metric whose figure changed,
  written in the numeral style of the figure it follows (`五次，较上年增加一次`). The checker judges each
  one `derived` (this year's value minus `previous`).
- `add_comparisons`: up to the profile's `max_comparisons` per draft, the largest relative changes
  first, one per sentence, only where the figure closes its clause (`普通民兵19552人，` — never inside
  `13个乡镇、`).
- `trim_stock_words`: while the text holds more of the profile's stock words (坚持/推动/切实/不断/
  进一步) per 1,000 characters than `stock_budget`, deletable ones go: the adverbs 切实/不断/进一步
  before a verb, and 坚持 before 把/以/用 (`坚持把A作为B` → `把A作为B`). Later occurrences go first;
  the plans keep their `进一步`, the genre's mark of a target.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from pipeline.drafting.fill import chinese_numeral, decimal_text
from pipeline.drafting.style import StyleRules

Spans = tuple[tuple[int, int, str], ...]


def _diff_text(m, diff: Decimal, cn: bool = False) -> str:  # noqa: ANN001 - MetricValue
    amount = abs(diff)
    if cn and amount == amount.to_integral_value() and 0 < amount <= 10:
        number = "两" if amount == 2 else chinese_numeral(int(amount))
    else:
        number = decimal_text(amount)
    return number + ("％" if m.unit in ("%", "％") else m.unit)


def comparison_phrase(m, style: StyleRules, cn: bool = False) -> str | None:  # noqa: ANN001 - MetricValue
    """The change against last year after a metric's figure; None when equal, unknown or a rank."""
    if m is None or m.value is None or m.previous is None or m.value == m.previous or m.kind == "rank":
        return None
    diff = m.value - m.previous
    if m.kind == "percent" or m.unit in ("%", "％"):
        key = "points_up" if diff > 0 else "points_down"
        return style.comparison[key].replace("{points}", decimal_text(abs(diff)))
    return style.comparison["up" if diff > 0 else "down"].replace("{diff}", _diff_text(m, diff, cn))


def with_prior(metrics, prior):  # noqa: ANN001, ANN201 - Metrics
    """`metrics` with `previous` taken from last year's metrics file where it has none."""
    from dataclasses import replace

    if prior is None:
        return metrics
    values = []
    for m in metrics.values:
        before = prior.get(m.key)
        if m.previous is None and before is not None and before.value is not None:
            m = replace(m, previous=before.value)
        values.append(m)
    return replace(metrics, values=tuple(values))


def relative_change(m) -> Decimal:  # noqa: ANN001 - MetricValue
    if m is None or m.value is None or not m.previous:
        return Decimal(0)
    return abs((m.value - m.previous) / m.previous)


@dataclass
class Part:
    """One piece of filled text in a draft, editable in place: its text and figure spans."""

    text: str
    spans: Spans
    section: str
    comparisons: int = 0


def _insert(part: Part, pos: int, insert: str) -> None:
    part.text = part.text[:pos] + insert + part.text[pos:]
    part.spans = tuple((a + len(insert) if a >= pos else a, b + len(insert) if a >= pos else b, k)
                       for a, b, k in part.spans)


def _delete(part: Part, pos: int, length: int) -> None:
    part.text = part.text[:pos] + part.text[pos + length:]
    part.spans = tuple((a - length if a >= pos + length else a, b - length if a >= pos + length else b, k)
                       for a, b, k in part.spans)


_SENTENCE_END = "。！？"


def _sentence_has_comparison(text: str, pos: int, style: StyleRules) -> bool:
    start = max(text.rfind(c, 0, pos) for c in _SENTENCE_END) + 1
    ends = [e for e in (text.find(c, pos) for c in _SENTENCE_END) if e >= 0]
    sentence = text[start:min(ends) if ends else len(text)]
    return any(w in sentence for w in ("较上年", "比上年", "同比"))


def metric_terms(key: str, metrics, catalog) -> tuple[str, ...]:  # noqa: ANN001
    """The words that name a metric in a sentence: its label and the catalog's aliases."""
    m = metrics.get(key)
    entry = catalog.get(key) if catalog else None
    terms = [m.label] if m is not None and m.label else []
    if entry is not None:
        terms += [entry.label, *entry.aliases]
    return tuple(t for t in dict.fromkeys(terms) if t)


def names_metric(text: str, pos: int, terms: tuple[str, ...]) -> bool:
    """Whether the sentence holding `pos` names the metric before `pos`: a change is only derived
    (and only read right) when the sentence says what changed."""
    start = max(text.rfind(c, 0, pos) for c in _SENTENCE_END) + 1
    before = text[start:pos]
    return any(t in before for t in terms)


def add_comparisons(parts: list[Part], metrics, style: StyleRules, *, catalog=None,  # noqa: ANN001
                    skip_sections=("opening", "plans")) -> int:
    """Comparisons after the figures that changed most; returns how many the parts now hold."""
    already = sum(p.comparisons for p in parts)
    candidates = []
    for part in parts:
        if part.section in skip_sections:
            continue
        for _a, _b, key in part.spans:
            m = metrics.get(key)
            if comparison_phrase(m, style) is not None:
                candidates.append((relative_change(m), part, key))
    candidates.sort(key=lambda c: -c[0])
    count = already
    for _rel, part, key in candidates:
        if count >= style.max_comparisons:
            break
        span = next(((a, b) for a, b, k in part.spans if k == key), None)
        if span is None:
            continue
        a, b = span
        if b >= len(part.text) or part.text[b] not in "，；。" or _sentence_has_comparison(part.text, a, style):
            continue
        if not names_metric(part.text, a, metric_terms(key, metrics, catalog)):
            continue
        figure = part.text[a:b]
        phrase = comparison_phrase(metrics.get(key), style, cn=figure[:1] in "一二两三四五六七八九十")
        if phrase is None:
            continue
        _insert(part, b, phrase)
        part.comparisons += 1
        count += 1
    return count


_DELETABLE = (
    (re.compile(r"切实(?=[\u4e00-\u9fff])"), 2),
    (re.compile(r"不断(?=[\u4e00-\u9fff])"), 2),
    (re.compile(r"进一步(?=[\u4e00-\u9fff])"), 3),
    (re.compile(r"坚持(?=[把以用])"), 2),
)


def stock_count(text: str, style: StyleRules) -> int:
    return sum(text.count(w) for w in style.stock_words)


def trim_stock_words(parts: list[Part], style: StyleRules, total_chars: int, *, extra_count: int = 0,
                     keep_sections=("plans",)) -> int:
    """Delete deletable stock words, last first, until the density is within `style.stock_budget`.
    `total_chars` is the whole draft's length and `extra_count` the stock words outside `parts`
    (title, intros, closing). Returns how many were deleted."""
    if style.stock_budget <= 0 or total_chars <= 0:
        return 0
    count = sum(stock_count(p.text, style) for p in parts) + extra_count
    allowed = style.stock_budget * total_chars / 1000
    deleted = 0
    for part in reversed(parts):
        if count <= allowed:
            break
        if part.section in keep_sections:
            continue
        while count > allowed:
            hits = [(m.start(), length) for pattern, length in _DELETABLE for m in pattern.finditer(part.text)
                    if not any(a <= m.start() < b for a, b, _k in part.spans)
                    and not (m.start() > 0 and part.text[m.start() - 1] == "是")]
            if not hits:
                break
            pos, length = max(hits)
            _delete(part, pos, length)
            count -= 1
            deleted += 1
    return deleted
