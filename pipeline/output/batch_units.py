"""What a batch summary says about each drafted unit: read back from the unit's `draft.json`.

A county's 述职会 batch mixes the county secretary's report with every township's. The summary groups
units by level (县/区 first, then 乡镇/街道), shows each unit's draft, its findings and the figures that
changed since last year, and writes a 「汇总表」 sheet a 人武部 can file as is. Reading the unit's own
output keeps the runner unchanged: whatever a worker wrote is what the summary shows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pipeline.profile.catalog import level_class

LEVEL_ORDER = ("county", "township", "")
LEVEL_CN = {"county": "县（区）", "township": "乡镇（街道）", "": "其他"}
GOOD_VERDICTS = ("supported", "derived")
# The figures a 人武部 asks every unit for, in the order of the 汇总表 (a unit lacking one leaves it blank).
KEY_FIGURES = (
    ("conscription.recruits", "完成征兵"),
    ("militia.primary", "基干民兵"),
    ("militia.ordinary", "普通民兵"),
    ("militia.training_rate", "民兵参训率"),
    ("support.visits", "走访慰问"),
    ("support.visit_funds", "慰问金"),
    ("education.events", "国防教育活动"),
    ("education.participants", "受教育群众"),
)
RANKINGS = (("ranking.conscription_five_rates", "征兵工作排名"), ("ranking.department_annual", "年度考核排名"))
_CN_DIGITS = "零一二三四五六七八九十"


@dataclass(frozen=True)
class FigureChange:
    key: str
    label: str
    previous: str
    value: str


@dataclass
class UnitSummary:
    name: str
    region: str = ""
    year: int | None = None
    level: str = ""                 # county | township | ""
    level_text: str = ""            # as the metrics file wrote it (镇)
    profile: str = ""
    reporter: str = ""
    reporter_title: str = ""
    title: str = ""
    paragraphs: list[tuple[str, str]] = field(default_factory=list)   # (heading or "", text)
    figures: dict[str, str] = field(default_factory=dict)             # key → `16人`
    labels: dict[str, str] = field(default_factory=dict)
    changes: list[FigureChange] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)                 # findings a reviewer must look at
    warnings: list[str] = field(default_factory=list)


def _dec(text: Any) -> Decimal | None:
    if text in (None, ""):
        return None
    try:
        return Decimal(str(text))
    except InvalidOperation:
        return None


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f") if value == value.to_integral_value() else format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def rank_text(value: Decimal, scope: str | None) -> str:
    n = int(value)
    place = _CN_DIGITS[n] if 0 < n <= 10 else str(n)
    return f"{scope or ''}第{place}"


def figure_text(entry: dict[str, Any], value: Decimal) -> str:
    if entry.get("kind") == "rank":
        return rank_text(value, entry.get("scope"))
    unit = entry.get("unit") or ""
    return _plain(value) + ("％" if unit == "%" else unit)


def read_unit(out_dir: Path, name: str) -> UnitSummary | None:
    """The summary of one unit from OUT/<name>/draft.json; None when the unit wrote none."""
    path = out_dir / name / "draft.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return unit_summary(name, data)


def unit_summary(name: str, data: dict[str, Any]) -> UnitSummary:
    """The summary of one unit from its draft.json data (`DraftResult.to_json()`): a batch worker
    makes it from what it writes, so the parent need not read every unit's file back."""
    meta = data.get("meta") or {}
    unit = UnitSummary(
        name=name, region=str(meta.get("region") or ""), year=meta.get("year"),
        level_text=str(meta.get("level") or ""), profile=str(meta.get("profile") or ""),
        reporter=str(meta.get("reporter") or ""), reporter_title=str(meta.get("reporter_title") or ""),
        title=str(data.get("title") or ""), warnings=[str(w) for w in data.get("warnings") or []],
    )
    unit.level = (level_class(unit.level_text) or level_class(unit.region)
                  or ("township" if "township" in unit.profile else "")) or ""
    for section in data.get("sections") or []:
        heading = str(section.get("heading") or "")
        for i, paragraph in enumerate(section.get("paragraphs") or []):
            unit.paragraphs.append((heading if i == 0 else "", str(paragraph)))
    for entry in data.get("metrics") or []:
        key, value, previous = entry.get("key"), _dec(entry.get("value")), _dec(entry.get("previous"))
        if not key or value is None:
            continue
        unit.labels[key] = str(entry.get("label") or key)
        unit.figures[key] = figure_text(entry, value)
        if previous is not None and previous != value:
            unit.changes.append(FigureChange(key, unit.labels[key], figure_text(entry, previous), unit.figures[key]))
    for finding in (data.get("check") or {}).get("findings") or []:
        if finding.get("verdict") in GOOD_VERDICTS:
            continue
        unit.problems.append(f"{finding.get('text', '')}：{finding.get('reason', '') or finding.get('verdict', '')}")
    return unit


def group_by_level(units: list[UnitSummary]) -> list[tuple[str, list[UnitSummary]]]:
    groups: dict[str, list[UnitSummary]] = {}
    for unit in units:
        groups.setdefault(unit.level if unit.level in LEVEL_ORDER else "", []).append(unit)
    return [(level, groups[level]) for level in LEVEL_ORDER if level in groups]
