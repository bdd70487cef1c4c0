"""A first metrics file drafted from an existing report (`shuzhi metrics from-report`).

A reviewer who must hold a hand-written report against data nobody has written yet starts here: every
figure the aligner can tie to a catalog metric by the words of its clause becomes that metric's value,
with the sentence it came from as a YAML comment, so the file can be read side by side with the report
and corrected. Nothing is guessed beyond the report: figures no words tie to a metric are listed as
comments at the end, as are the catalog metrics the report never states. Quoted honours, 《》 titles and
place names go into `honours`, `documents` and `partners`.

Rules: the first figure of a metric in reading order wins (later ones are listed in its comment);
figures in sentences about next year (the plans block), changes against last year (`同比增长8%`,
`比上年增加12人`) and figures in a clause with 每 (a rule of frequency) are not values of the year;
money written in 元 for a metric in 万元 is converted; an approximate figure (`两万余人`, `近百次`) is
written as its stated number with `approx: true`; a masked one (`***人`) as `null`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from pipeline.facts.align import (
    CHANGE_ANCHORS,
    CHANGE_DOWN,
    CHANGE_UP,
    MetricAligner,
    clause_bounds,
    sentence_bounds,
)
from pipeline.models import Metrics, MetricValue, Quantity, ReportMeta
from pipeline.profile.catalog import DEFAULT_PROFILE, load_catalog

# Below this clause score the words are too far from the figure to name its metric (a four-character alias
# right before the figure scores 6; two characters six characters away score under 1). On the corpus, 375 of
# the 376 figures drafted at this threshold equal the ground truth (the other is an approximate 2万).
MIN_SCORE = 1.0
_COMMENT_WIDTH = 60


@dataclass
class _Found:
    q: Quantity
    sentence: str
    later: list[str] = field(default_factory=list)


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _sentence(text: str, q: Quantity) -> str:
    start, end = sentence_bounds(text, q)
    sentence = re.sub(r"\s+", "", text[start:end])
    return sentence if len(sentence) <= _COMMENT_WIDTH else sentence[:_COMMENT_WIDTH - 1] + "…"


def _is_change(text: str, q: Quantity) -> bool:
    before = text[max(0, q.start - 6):q.start]
    return any(w in before for w in (*CHANGE_UP, *CHANGE_DOWN, *CHANGE_ANCHORS, "上年", "去年"))


def _probe_metrics(profile: str, region: str, year: int) -> Metrics:
    catalog = load_catalog(profile)
    values = tuple(MetricValue(key=e.key, label=e.label, unit=e.unit, section=e.section, kind=e.kind, value=None)
                   for e in catalog.values())
    return Metrics(meta=ReportMeta(year=year, region=region, profile=profile), values=values)


def _value_text(q: Quantity, m: MetricValue) -> tuple[str, bool]:
    """(YAML value, approx) of a figure for its metric, in the metric's unit."""
    if q.value is None:
        return "null", False
    if m.kind == "rank":
        return _plain(q.value), False
    from pipeline.facts.align import unit_scale

    scale = unit_scale(q.unit) if q.kind != "percent" else Decimal(1)
    target = unit_scale(m.unit) if m.kind != "percent" else Decimal(1)
    value = q.value * scale / target
    return _plain(value), bool(q.approx or q.lower is not None or q.upper is not None)


def _yaml_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def draft_metrics(text: str, *, source: str = "", profile: str = DEFAULT_PROFILE) -> str:
    """The YAML text of a metrics file drafted from a report's text (see the module docstring)."""
    from pipeline.facts.check import FUTURE_WORDS, SKIP_KINDS, _is_claim, plans_start
    from pipeline.facts.check_names import name_findings
    from pipeline.facts.quantities import extract_quantities
    from pipeline.reading.parse import parse_text

    report = parse_text(text)
    region, year = report.region or "", report.year
    probe = _probe_metrics(profile, region or "（地区）", year or 2000)
    aligner = MetricAligner(probe, catalog=load_catalog(profile))
    quantities = [q for q in extract_quantities(text) if q.kind not in SKIP_KINDS and _is_claim(q, probe)]
    plans_at = plans_start(text)
    found: dict[str, _Found] = {}
    unplaced: list[tuple[Quantity, str]] = []
    for i, q in enumerate(quantities):
        sentence_start, sentence_end = sentence_bounds(text, q)
        if q.start >= plans_at and any(w in text[sentence_start:sentence_end] for w in FUTURE_WORDS):
            continue
        prev_end = quantities[i - 1].end if i else 0
        next_start = quantities[i + 1].start if i + 1 < len(quantities) else len(text)
        bounds = clause_bounds(text, q, (prev_end, next_start))
        if _is_change(text, q) or "每" in text[bounds[0]:q.start]:
            continue
        aligned = [a for a in aligner.align(text, q, bounds) if a.score >= MIN_SCORE]
        if not aligned:
            unplaced.append((q, _sentence(text, q)))
            continue
        key = aligned[0].profile.key
        if key in found:
            found[key].later.append(q.text)
        else:
            found[key] = _Found(q, _sentence(text, q))

    lines = [
        f"# 由 shuzhi metrics from-report 从 {Path(source).name or '报告'} 起草的指标文件。",
        "# 每个数字后的注释是它在报告中所在的句子；请逐项对照原始数据核对、补上 previous（上年数字）后再使用。",
        "# 运行 shuzhi metrics validate 本文件 检查填写。",
        "meta:",
        f"  year: {year if year else 'null   # 报告中没有找到年度，请填写'}",
        f"  region: {_yaml_text(region) if region else 'null   # 报告中没有找到地区，请填写'}",
        f"  profile: {profile}",
        "metrics:",
    ]
    for m in probe.values:
        item = found.get(m.key)
        if item is None:
            continue
        value, approx = _value_text(item.q, m)
        fields = [f"value: {value}"]
        if approx and value != "null":
            fields.append("approx: true")
        if m.kind == "rank" and item.q.scope:
            fields.append(f"scope: {item.q.scope}")
        note = f"  # {item.q.text}：{item.sentence}"
        if item.later:
            note += f"（又见：{'、'.join(item.later)}）"
        lines.append(f"  {m.key}: {{{', '.join(fields)}}}{note}")
    metrics = Metrics(meta=probe.meta, values=())
    names = name_findings(text, metrics)
    for list_name, kind in (("honours", "honour"), ("documents", "document"), ("partners", "name")):
        items = [i for i in dict.fromkeys(f.found or f.text for f in names if f.kind == kind) if i != region]
        if kind == "document":
            items = [i.strip("《》") for i in items]
        lines.append(f"{list_name}:" + ("" if items else " []"))
        lines += [f"  - {_yaml_text(i)}" for i in items]
    missing = [m for m in probe.values if m.key not in found]
    if unplaced:
        lines.append("# 报告中这些数字没有对上任何目录指标（可改写为 custom.* 自定义指标）：")
        lines += [f"#   {q.text}：{sentence}" for q, sentence in unplaced]
    if missing:
        lines.append("# 报告中没有找到这些目录指标：")
        lines += [f"#   {m.key}（{m.label}，{m.unit or '名次'}）" for m in missing]
    return "\n".join(lines) + "\n"


def draft_metrics_file(report: str | Path, output: str | Path, *, profile: str = DEFAULT_PROFILE,
                       force: bool = False) -> Path:
    """Read a report (.docx/.txt/.md) and write a drafted metrics file (atomic)."""
    from pipeline.errors import InputError, UsageError
    from pipeline.fsutil import atomic_write_text
    from pipeline.reading.readers import read_text

    target = Path(output)
    if target.exists() and not force:
        raise UsageError(f"{target} 已存在；换一个文件名，或加 --force 覆盖。")
    text = read_text(report)
    if not text.strip():
        raise InputError("报告是空的，无法起草指标文件；请确认选对了文件。", path=str(report))
    atomic_write_text(target, draft_metrics(text, source=str(report), profile=profile))
    return target
