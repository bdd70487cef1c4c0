"""Placeholder filling and number formatting.

Engines never write figures: they write `{metric.key}` placeholders (and slots such as `{region}`),
and this module puts this year's figures in, formatted the way the genre writes them:

- `{key}`       figure with its unit: `215人`, `98％`, `45万元`; ranks `全市第一`
- `{key:cn}`    Chinese numerals for small counts (`两次`, `三批`); Arabic above ten, where reports
                switch to digits too
- `{key:num}`   the bare figure, no unit (the template writes the unit)
- `{key:rank}`  rank with scope (`全市第一`); `{key:rankn}` without scope (`第一`)

The unit is not doubled when the text right after the placeholder already starts with it (an LLM
that writes `{conscription.recruits}人`), nor the scope when the text before ends with it (`全市{r}`).
Every format produced here must be read back by the checker as the same value: tests fill, check
and expect `supported`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from pipeline.models import Metrics, MetricValue

PLACEHOLDER_RE = re.compile(r"\{([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+)(?::([a-z]+))?\}")
"""A metric placeholder: a dotted catalog key (`militia.primary`, `custom.village_posts`)."""

SLOT_RE = re.compile(r"\{([a-z_]+)\}")
"""A plain slot (`{region}`, `{year}`), filled from report meta and lists, never a figure."""

FORMATS: frozenset[str] = frozenset({"", "cn", "num", "rank", "rankn"})

_DIGITS = "零一二三四五六七八九"


class FillError(ValueError):
    """A placeholder names a metric that is absent or has no figure, or an unknown format."""

    def __init__(self, message: str, key: str):
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class FilledText:
    """Filled text and where each figure went: (start, end, metric key) spans into `text`."""

    text: str
    spans: tuple[tuple[int, int, str], ...] = ()

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(key for _, _, key in self.spans)


def placeholders(template: str) -> tuple[str, ...]:
    """Metric keys named in `template`, in order (repeats kept)."""
    return tuple(m.group(1) for m in PLACEHOLDER_RE.finditer(template))


def decimal_text(value: Decimal) -> str:
    """`Decimal('1800')` → `1800`, `Decimal('98.50')` → `98.5`; never exponent notation."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def chinese_numeral(n: int) -> str:
    """0–99 as written in reports: 2 → 两 only as a count (caller decides), 12 → 十二, 20 → 二十."""
    if n < 0 or n > 99:
        raise ValueError(n)
    if n < 10:
        return _DIGITS[n]
    tens, ones = divmod(n, 10)
    head = "" if tens == 1 else _DIGITS[tens]
    return head + "十" + (_DIGITS[ones] if ones else "")


def _is_small_int(value: Decimal, limit: int = 10) -> bool:
    return value == value.to_integral_value() and 0 < value <= limit


def display_unit(unit: str, percent_sign: str = "％") -> str:
    return percent_sign if unit in ("%", "％") else unit


def format_metric(
    metric: MetricValue, fmt: str = "", *, percent_sign: str = "％", before: str = "", after: str = ""
) -> str:
    """Render one figure. `before`/`after` are the template text around the placeholder, so that a
    unit or scope already written there is not repeated."""
    if metric.value is None:
        raise FillError(f"指标 {metric.key}（{metric.label}）没有数值，不能写入草稿。", metric.key)
    if fmt not in FORMATS:
        raise FillError(f"占位符格式“{fmt}”无效；可用：cn、num、rank、rankn。", metric.key)
    value = metric.value
    if metric.kind == "rank" or fmt in ("rank", "rankn"):
        return _format_rank(metric, with_scope=fmt != "rankn", before=before)
    unit = display_unit(metric.unit, percent_sign)
    if fmt == "cn" and _is_small_int(value):
        number = "两" if value == 2 else chinese_numeral(int(value))
    else:
        number = decimal_text(value)
    if fmt == "num" or (unit and after.startswith(unit)) or (unit == "％" and after.startswith("%")):
        return number
    return number + unit


def _format_rank(metric: MetricValue, *, with_scope: bool, before: str) -> str:
    value = metric.value
    assert value is not None
    if _is_small_int(value):
        body = "第" + chinese_numeral(int(value))
    else:
        body = f"第{decimal_text(value)}名"
    if before.endswith("第"):
        return body[1:]          # `排名第{r}`: the template wrote 第 (and any scope) itself
    scope = metric.scope or "全市"
    if with_scope and not before.endswith(scope):
        return scope + body
    return body


# Without superiors in the metrics file: the three bodies a county's first secretary answers to.
DEFAULT_SUPERIORS = ("上级党委", "政府", "军事机关")


def join_superiors(superiors: tuple[str, ...] | list[str]) -> str:
    """`市委` / `市委和军分区党委` / `市委、市政府和军分区党委`: 和 once, before the last item only."""
    items = [s.strip() for s in superiors if s and s.strip()] or list(DEFAULT_SUPERIORS)
    if len(items) == 1:
        return items[0]
    return "、".join(items[:-1]) + "和" + items[-1]


def meta_slots(metrics: Metrics, *, role: str = "人武部党委第一书记") -> dict[str, str]:
    """Plain slots a phrase may use; all come from this year's metrics file."""
    meta = metrics.meta
    region = meta.region
    level_char = region[-1] if region and region[-1] in "县区市旗镇乡" else (meta.level or "县")[:1]
    if region.endswith("街道") or (meta.level or "") == "街道":
        level_char = "街道"     # 全街道, 街道党工委: never 全街
    superiors_text = join_superiors(meta.superiors)
    title = meta.reporter_title or ""
    if "第一书记" in title:
        role = title.split("、")[-1]
        if role.startswith(region):
            role = role[len(region):]
    return {
        "year": str(meta.year),
        "prev_year": str(meta.year - 1),
        "next_year": str(meta.year + 1),
        "region": region,
        "whole": "全" + level_char,
        "level": level_char,
        "superiors": superiors_text,
        "role": role,
        "unit": meta.unit or f"{region}人武部",
        "honours": "".join(f"“{h}”" for h in metrics.honours),
        "documents": "、".join(f"《{d}》" for d in metrics.documents),
        "partners": "、".join(metrics.partners),
    }


def fill(
    template: str,
    metrics: Metrics,
    *,
    slots: Mapping[str, str] | None = None,
    percent_sign: str = "％",
) -> FilledText:
    """Fill metric placeholders and slots. Raises FillError for an absent or empty metric; an unknown
    slot is left as written (the checker then reports it, and the orchestrator repairs the facet)."""
    slot_values = dict(slots or {})
    out: list[str] = []
    spans: list[tuple[int, int, str]] = []
    pos = 0
    length = 0
    token_re = re.compile(PLACEHOLDER_RE.pattern + "|" + SLOT_RE.pattern)
    for match in token_re.finditer(template):
        literal = template[pos:match.start()]
        out.append(literal)
        length += len(literal)
        key, fmt, slot = match.group(1), match.group(2) or "", match.group(3)
        if key is not None:
            metric = metrics.get(key)
            if metric is None:
                raise FillError(f"占位符 {{{key}}} 对应的指标不在本年度数据中。", key)
            rendered = format_metric(
                metric,
                fmt,
                percent_sign=percent_sign,
                before="".join(out)[-4:],
                after=template[match.end():match.end() + 4],
            )
            # A rank's figure is the place (`第一`), as the extractor reads it; a scope written with it
            # (`全市第一`) is context, outside the span.
            lead = rendered.find("第") if metric.kind == "rank" or fmt in ("rank", "rankn") else -1
            spans.append((length + max(lead, 0), length + len(rendered), key))
        else:
            rendered = slot_values.get(slot, match.group(0))
        out.append(rendered)
        length += len(rendered)
        pos = match.end()
    out.append(template[pos:])
    return FilledText(text="".join(out), spans=tuple(spans))


_ISO_DATE = re.compile(r"^\s*(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})\s*$")


def format_cn_date(value: str | date | datetime) -> str:
    """`2025-01-10` → `2025年1月10日` (Arabic digits, no leading zeros, as GB/T 9704-2012 asks).

    Text that is not an ISO date is returned unchanged, so a date the user already wrote in
    Chinese passes through."""
    if isinstance(value, (date, datetime)):
        return f"{value.year}年{value.month}月{value.day}日"
    match = _ISO_DATE.match(value)
    if not match:
        return value
    year, month, day = (int(g) for g in match.groups())
    return f"{year}年{month}月{day}日"
