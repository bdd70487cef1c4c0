"""The metrics form: generated from the profile's metric catalog, read back into the mapping that
`pipeline.facts.metrics.metrics_from_mapping` validates, and filled again from a `Metrics` (the sample).

Field names mirror the metrics file: `meta.year`, `metrics.<key>.value`, `metrics.<key>.previous`,
`metrics.<key>.scope`, `list.honours` (one item per line). Validation is the library's; this module
only moves values between the form and the mapping and pins each problem to its field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipeline.facts.diff import SECTION_NAMES
from pipeline.facts.metrics_rules import LIST_LABELS, plain_number
from pipeline.models import MetricProblem, Metrics
from pipeline.profile.catalog import CatalogEntry, load_catalog

META_FIELDS: tuple[tuple[str, str, str], ...] = (
    # (name, label, hint shown under the box). No placeholders: a grey example inside an empty box
    # reads as a filled value. The examples are fictional.
    ("year", "述职年度（必填）", "填四位年份，例如述职的是去年就填去年"),
    ("region", "地区名称（必填）", "填本县（区、乡镇）的全称"),
    ("level", "行政级别", "填 县、区 或 乡镇"),
    ("unit", "单位", "例：××县人武部"),
    ("reporter", "述职人", "可不填"),
    ("reporter_title", "职务", "例：县委书记、县人武部党委第一书记"),
    ("superiors", "向谁述职", "用顿号或逗号分隔，例：市委、市政府、军分区党委"),
    ("date", "述职日期", "写法：年-月-日，例：2024-01-12"),
)
LIST_FIELDS: tuple[str, ...] = ("honours", "documents", "partners", "plans", "highlights")
LIST_HINTS = {
    "honours": "每行一个，不加引号，例：践行强军目标先进单位",
    "documents": "每行一个，不加书名号，例：××县征兵工作20条措施",
    "partners": "每行一个乡镇、村或单位的名称",
    "plans": "每行一条明年的目标",
    "highlights": "每行一句必须写进报告的话",
}
SECTION_ORDER = ("opening", "duty", "systems", "foundation", "plans", "closing", "other")
_SPLIT = re.compile(r"[、，,；;\s]+")


@dataclass(frozen=True)
class MetricField:
    key: str
    label: str
    unit: str
    kind: str
    section: str


@dataclass(frozen=True)
class FieldGroup:
    section: str
    name: str
    fields: tuple[MetricField, ...]


def catalog_groups(profile: str) -> list[FieldGroup]:
    """Catalog entries grouped by the report section that states them, in report order."""
    catalog: dict[str, CatalogEntry] = load_catalog(profile)
    groups: dict[str, list[MetricField]] = {}
    for entry in catalog.values():
        groups.setdefault(entry.section, []).append(
            MetricField(entry.key, entry.label, entry.unit, entry.kind, entry.section))
    order = {k: i for i, k in enumerate(SECTION_ORDER)}
    return [
        FieldGroup(section, _group_name(section), tuple(fields))
        for section, fields in sorted(groups.items(), key=lambda item: order.get(item[0], 99))
    ]


def _group_name(section: str) -> str:
    return "开头（排名）" if section == "opening" else SECTION_NAMES.get(section, section)


def mapping_from_form(form: Mapping[str, Any], profile: str) -> dict[str, Any]:
    """The metrics-file mapping from submitted form fields; empty fields are left out."""
    meta: dict[str, Any] = {"profile": profile}
    for name, _label, _placeholder in META_FIELDS:
        raw = _text(form.get(f"meta.{name}"))
        if not raw:
            continue
        meta[name] = [s for s in _SPLIT.split(raw) if s] if name == "superiors" else raw
    metrics: dict[str, Any] = {}
    for key in load_catalog(profile):
        spec = {}
        for part in ("value", "previous", "scope"):
            raw = _text(form.get(f"metrics.{key}.{part}"))
            if raw:
                spec[part] = raw
        if spec:
            metrics[key] = spec
    data: dict[str, Any] = {"meta": meta, "metrics": metrics}
    for name in LIST_FIELDS:
        lines = [line.strip() for line in _text(form.get(f"list.{name}")).splitlines()]
        data[name] = [line for line in lines if line]
    return data


def form_from_metrics(metrics: Metrics) -> dict[str, str]:
    """Form values showing `metrics` (used to pre-fill the form from the sample file)."""
    meta = metrics.meta
    values: dict[str, str] = {}
    for name, _label, _placeholder in META_FIELDS:
        raw = getattr(meta, name)
        if raw is None or raw == ():
            continue
        values[f"meta.{name}"] = "、".join(raw) if isinstance(raw, tuple) else str(raw)
    for m in metrics.values:
        if m.value is not None:
            values[f"metrics.{m.key}.value"] = plain_number(m.value)
        if m.previous is not None:
            values[f"metrics.{m.key}.previous"] = plain_number(m.previous)
        if m.scope:
            values[f"metrics.{m.key}.scope"] = m.scope
    for name in LIST_FIELDS:
        items = getattr(metrics, name)
        if items:
            values[f"list.{name}"] = "\n".join(items)
    return values


def form_values(form: Mapping[str, Any]) -> dict[str, str]:
    """The submitted text fields, to show them again next to their errors."""
    return {k: v for k, v in ((k, _text(v)) for k, v in form.items()) if v and not k.startswith("_")}


def field_errors(problems: list[MetricProblem]) -> tuple[dict[str, list[str]], list[str]]:
    """Problems pinned to form fields (`meta.year`, `metrics.<key>.value` …) and the rest (general)."""
    by_field: dict[str, list[str]] = {}
    general: list[str] = []
    for problem in problems:
        if problem.severity != "error":
            continue
        name = _field_of(problem)
        if name:
            by_field.setdefault(name, []).append(problem.message)
        else:
            general.append(problem.message)
    return by_field, general


def _field_of(problem: MetricProblem) -> str | None:
    location = problem.location.removeprefix("field ").strip()
    if problem.key:
        for part in ("previous", "scope", "value"):
            if location.endswith(f".{part}"):
                return f"metrics.{problem.key}.{part}"
        return f"metrics.{problem.key}.value"
    if location.startswith("meta."):
        return location.split(" ")[0]
    if location in LIST_FIELDS or location.split(".")[0] in LIST_FIELDS:
        return f"list.{location.split('.')[0]}"
    if location == "meta":
        # A missing required meta field: the message names it (`缺少 meta.region…`).
        match = re.search(r"meta\.([a-z_]+)", problem.message)
        return f"meta.{match.group(1)}" if match else None
    return None


def list_label(name: str) -> str:
    return LIST_LABELS.get(name, name)


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""
