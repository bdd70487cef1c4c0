"""The metrics file: load, validate and write the template.

A metrics file (YAML, JSON or an Excel sheet) holds the year's figures, the report meta and the
lists (honours, documents, partners, plans, highlights). Each reader turns its file into plain
data plus a map from each data path to a location ("line 12", "cell C7"), so that one validator
reports every problem at once, each pointing where the user must edit.

Units: a figure is stored in its catalog unit. 人 and 名 are treated as the same unit for people
counts (reports use both for the same thing), ％ is %. A figure given in a convertible unit
(元 for a 万元 metric, 万人 for 人) is converted and a warning shows the arithmetic, so the user
sees what was stored; an incompatible unit (次 for 万元) is an error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.errors import InputError, ShuzhiError
from pipeline.facts.metrics_readers import (
    DataPath,
    ProblemCollector,
    decode,
    read_json,
    read_xlsx,
    read_yaml,
)
from pipeline.facts.metrics_rules import (
    LIST_LABELS,
    METRIC_FIELDS,
    TOP_FIELDS,
    _Validator,
    int_to_cn,
    plain_number,
    suggest_name,
)
from pipeline.models import MetricProblem, Metrics, MetricValue, ReportMeta
from pipeline.profile.catalog import choose_profile, load_catalog
from pipeline.reading.limits import (
    MAX_METRICS_BYTES,
    check_json_limits,
    check_yaml_limits,
    read_regular_bytes,
    require_regular_file,
    strip_invisible,
)


class MetricsError(InputError):
    """A metrics file with errors. `.problems` holds every problem (errors and warnings)."""

    def __init__(self, problems: list[MetricProblem], *, path: str | None = None):
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"]
        lines = [f"{p.where}：{p.message}" if p.location else p.message for p in errors]
        if len(lines) == 1:          # one problem, one line (the CLI contract); several: one per line
            super().__init__(f"指标文件有 1 处错误：{lines[0]}", path=path)
        else:
            listed = "\n".join(f"  {line}" for line in lines)
            super().__init__(f"指标文件有 {len(errors)} 处错误：\n{listed}", path=path)

    def __reduce__(self):
        # Batch workers send exceptions to the parent by pickle; the default would call
        # MetricsError(message) and lose the problems.
        return (_rebuild_metrics_error, (self.problems, self.path))


def _rebuild_metrics_error(problems: list[MetricProblem], path: str | None) -> MetricsError:
    return MetricsError(problems, path=path)


def _build(data: Any, locations: dict[DataPath, str] | Callable[[DataPath], str], out: ProblemCollector,
           profile: str | None) -> Metrics | None:
    checker = _Validator(out.source, locations, out)
    data = _strip_invisible_strings(data, locations, out)
    if data is None:
        out.add("", "文件是空的；可用 `shuzhi metrics init` 生成模板后填写。")
        return None
    if not isinstance(data, dict):
        out.add("", "文件顶层应是映射（meta、metrics、honours…），实际是" + ("列表" if isinstance(data, list) else "单个值") + "。")
        return None
    data = _unflatten(data)
    for key in data:
        if key not in TOP_FIELDS:
            near = suggest_name(str(key), {**{f: f for f in TOP_FIELDS}, **_TOP_ALIASES})
            hint = f"是否想写“{near}”？" if near else f"顶层可用：{'、'.join(TOP_FIELDS)}。"
            checker.error((key,), f"未知的顶层字段“{key}”；{hint}", str(key))
    meta_raw = data.get("meta")
    # meta.profile, else the caller's --profile, else the profile of meta.level (镇 → township).
    meta_dict = meta_raw if isinstance(meta_raw, dict) else {}
    level = meta_dict.get("level")
    chosen = choose_profile(profile, meta_dict.get("profile") or None, str(level) if level else None)
    try:
        catalog = load_catalog(str(chosen))
    except ShuzhiError as exc:
        checker.error(("meta", "profile"), exc.message)
        catalog = {}
    meta = checker.meta(meta_raw)
    values = checker.metrics(data.get("metrics"), catalog)
    lists = checker.lists(data)
    if any(p.severity == "error" for p in out.problems):
        return None
    meta["profile"] = str(chosen)
    return Metrics(meta=ReportMeta(**meta), values=tuple(values), source=out.source, **lists)


_TOP_ALIASES = {"基本信息": "meta", "报告信息": "meta", "指标": "metrics", "数据": "metrics",
                **{label: name for name, label in LIST_LABELS.items()}, "荣誉": "honours", "文件": "documents",
                "打算": "plans", "目标": "plans"}


def _unflatten(data: dict[str, Any]) -> dict[str, Any]:
    """Accept the flat form of web forms and wide Excel rows: `meta.year`, `conscription.recruits`,
    `conscription.recruits.previous` as top-level keys."""
    if not any(isinstance(k, str) and "." in k for k in data):
        return data
    result: dict[str, Any] = {k: v for k, v in data.items() if not (isinstance(k, str) and "." in k)}
    meta = dict(result.get("meta") or {})
    metrics = dict(result.get("metrics") or {})
    for key, value in data.items():
        if not (isinstance(key, str) and "." in key):
            continue
        if key.startswith("meta."):
            meta[key[5:]] = value
            continue
        base, _, field = key.rpartition(".")
        if field in METRIC_FIELDS and field != "value" and base.count(".") >= 1:
            entry = metrics.get(base)
            entry = dict(entry) if isinstance(entry, dict) else {"value": entry}
            entry[field] = value
            metrics[base] = entry
        else:
            entry = metrics.get(key)
            if isinstance(entry, dict):
                metrics[key] = {**entry, "value": value}
            else:
                metrics[key] = value
    result["meta"], result["metrics"] = meta, metrics
    return result


# =========================================================================== public API


def _read(path: str | Path, out: ProblemCollector, sheet: str | None = None) -> tuple[Any, dict[DataPath, str]]:
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix not in (".yaml", ".yml", ".json", ".xlsx"):
        hint = "旧版 .xls 请用 Excel/WPS 另存为 .xlsx。" if suffix == ".xls" else ""
        raise InputError(f"不支持的指标文件类型“{suffix or '无扩展名'}”；请用 .yaml、.yml、.json 或 .xlsx。{hint}",
                         path=str(path))
    if not file.exists() and not file.is_symlink():
        raise InputError("找不到指标文件；请检查路径，或用 `shuzhi metrics init` 生成模板。", path=str(path))
    # Limits before any parser runs: FIFOs and devices, size, YAML alias bombs and deep nesting.
    if suffix == ".xlsx":
        require_regular_file(file, str(path))
        return read_xlsx(file, out, sheet)
    if sheet is not None:
        raise InputError("只有 .xlsx 文件才有工作表。", path=str(path))
    text = decode(read_regular_bytes(file, MAX_METRICS_BYTES, str(path)), str(path))
    if suffix == ".json":
        check_json_limits(text, str(path))
        return read_json(text, out)
    check_yaml_limits(text, str(path))
    return read_yaml(text, out)


# Characters XML 1.0 (and so every .docx) cannot hold.
_XML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _strip_invisible_strings(data: Any, locations: dict[DataPath, str] | Callable[[DataPath], str],
                             out: ProblemCollector, path: DataPath = ()) -> Any:
    """Zero-width and bidi control characters removed from every string, with a warning naming
    where: invisible in an editor, they would be written invisibly into the draft (a region) or
    hide a figure from the checker."""
    if isinstance(data, dict):
        return {key: _strip_invisible_strings(value, locations, out, path + (key,)) for key, value in data.items()}
    if isinstance(data, list):
        return [_strip_invisible_strings(value, locations, out, path + (i,)) for i, value in enumerate(data)]
    if isinstance(data, str):
        if _XML_UNSAFE.search(data):
            where = locations(path) if callable(locations) else locations.get(path, "")
            field = ".".join(str(p) for p in path)
            code = f"U+{ord(_XML_UNSAFE.search(data).group()):04X}"
            out.add(where, f"“{field}”含控制字符 {code}，Word 文件无法写入；请删去后重新输入这段文字。", field or None)
            return _XML_UNSAFE.sub("", data)
        clean, found = strip_invisible(data)
        if found:
            where = locations(path) if callable(locations) else locations.get(path, "")
            field = ".".join(str(p) for p in path)
            out.add(where, f"“{field}”含不可见字符 {'、'.join(sorted({f.code for f in found}))}（零宽或双向控制符），"
                           "已删除。", field or None, severity="warning")
        return clean
    return data


def _load(path: str | Path, profile: str | None, sheet: str | None = None) -> tuple[Metrics | None, list[MetricProblem]]:
    out = ProblemCollector(f"{path} [{sheet}]" if sheet else str(path))
    data, locations = _read(path, out, sheet)
    if data is None and out.problems:
        return None, out.problems
    metrics = _build(data, locations, out, profile)
    return metrics, out.problems


def load_metrics(path: str | Path, *, profile: str | None = None) -> Metrics:
    """Load a metrics file (.yaml/.yml/.json/.xlsx). Raises `MetricsError` listing every error."""
    metrics, problems = _load(path, profile)
    if metrics is None:
        raise MetricsError(problems, path=str(path))
    return metrics


def load_metrics_sheet(path: str | Path, sheet: str, *, profile: str | None = None) -> Metrics:
    """Load one named sheet of a workbook (batch: one unit per sheet). Locations name the sheet."""
    metrics, problems = _load(path, profile, sheet)
    if metrics is None:
        raise MetricsError(problems, path=f"{path} [{sheet}]")
    return metrics


def validate_metrics_file(path: str | Path, *, profile: str | None = None) -> list[MetricProblem]:
    """Every problem of a metrics file at once (errors and warnings), in file order."""
    _, problems = _load(path, profile)
    return sorted(problems, key=_problem_order)


def _problem_order(problem: MetricProblem) -> tuple[int, int]:
    # "line 12" / "line 12, column 5" / "cell C7": sort by the line or row; file-level first.
    match = re.search(r"(?:line |cell [A-Z]+)(\d+)", problem.location)
    column = re.search(r"column (\d+)", problem.location)
    return (int(match.group(1)) if match else 0, int(column.group(1)) if column else 0)


def metrics_from_mapping(data: dict[str, Any], *, source: str = "", profile: str | None = None) -> Metrics:
    """Metrics from already-parsed data (web form, a wide Excel row). Nested or flat keys
    (`meta.year`, `conscription.recruits`) are accepted; problem locations name the field."""
    out = ProblemCollector(source)

    def field_name(path: DataPath) -> str:
        return "field " + ".".join(str(p) for p in path) if path else ""

    metrics = _build(data, field_name, out, profile)
    if metrics is None:
        raise MetricsError(out.problems, path=source or None)
    return metrics


def format_metric_value(m: MetricValue) -> str:
    """A figure as a report writes it: 215人, 45万元, 98%, 全市第一."""
    if m.value is None:
        return "（未填）"
    if m.kind == "rank":
        return f"{m.scope or ''}第{int_to_cn(int(m.value))}"
    if m.unit == "%":
        return f"{plain_number(m.value)}%"
    return f"{plain_number(m.value)}{m.unit}"




# =========================================================================== template

