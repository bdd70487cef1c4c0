"""Readers of metrics files: YAML, JSON and Excel into plain data plus locations.

Each reader returns `(data, locations)` and adds syntax-level problems (malformed file, duplicate
keys, merged or formula cells) to a `ProblemCollector`. `locations` maps a data path such as
("metrics", "conscription.recruits", "value") to where the user must edit: "line 12" (YAML,
JSON) or "cell C7" (Excel). Duplicate keys are reported here because PyYAML and json keep only
the last one, silently.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import InputError
from pipeline.models import MetricProblem

LIST_FIELDS: tuple[str, ...] = ("honours", "documents", "partners", "plans", "highlights")

DataPath = tuple[str | int, ...]


class ProblemCollector:
    def __init__(self, source: str):
        self.source = source
        self.problems: list[MetricProblem] = []

    def add(self, location: str, message: str, key: str | None = None, severity: str = "error") -> None:
        self.problems.append(MetricProblem(self.source, location, message, key, severity))


def decode(raw: bytes, source: str) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InputError("文件编码无法识别；请另存为 UTF-8 编码。", path=source)


# libyaml's parser when PyYAML was built with it: composing the node tree is most of a metrics
# file's load time, and the C parser does it several times faster. Its nodes carry the same
# marks (line numbers) and go through the same constructor, so the walk below, duplicate-key
# detection included, is unchanged.
_FAST_LOADER: type | None = getattr(yaml, "CSafeLoader", None)


def _compose(text: str, out: ProblemCollector) -> tuple[Any, yaml.Node | None, bool]:
    """`(loader, root node, ok)`. A file libyaml rejects is parsed again by the pure-Python loader,
    whose messages and error marks are the ones users (and tests) know; the C parser's wording
    differs and its marks can land elsewhere."""
    if _FAST_LOADER is not None:
        fast = _FAST_LOADER(text)
        try:
            return fast, fast.get_single_node(), True
        except yaml.YAMLError:
            fast.dispose()
    loader = yaml.SafeLoader(text)
    try:
        return loader, loader.get_single_node(), True
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        out.add(where, f"YAML 格式错误：{exc.problem or exc.context}。请检查这一行的缩进、冒号后的空格和引号是否成对。")
    except yaml.YAMLError as exc:
        out.add("", f"YAML 格式错误：{exc}")
    loader.dispose()
    return loader, None, False


def read_yaml(text: str, out: ProblemCollector) -> tuple[Any, dict[DataPath, str]]:
    loader, node, ok = _compose(text, out)
    if not ok:
        return None, {}
    locations: dict[DataPath, str] = {}

    def line(n: yaml.Node) -> str:
        return f"line {n.start_mark.line + 1}"

    def walk(n: yaml.Node, path: DataPath) -> Any:
        if isinstance(n, yaml.MappingNode):
            result: dict[str, Any] = {}
            for key_node, value_node in n.value:
                key = loader.construct_object(key_node, deep=True)
                key = "" if key is None else str(key)
                if key in result:
                    # PyYAML would silently keep the last one; the user must choose.
                    out.add(line(key_node), f"键“{key}”重复（{_cn(locations[path + (key,)])} 已有）；同一个键只能写一次，请删除或合并其中一处。", key)
                    continue
                locations[path + (key,)] = line(key_node)
                result[key] = walk(value_node, path + (key,))
            return result
        if isinstance(n, yaml.SequenceNode):
            items = []
            for i, item in enumerate(n.value):
                locations[path + (i,)] = line(item)
                items.append(walk(item, path + (i,)))
            return items
        if n.tag == "tag:yaml.org,2002:float":
            if n.value.lower().lstrip("+-") in (".nan", ".inf"):
                # NaN and infinity are not figures; every later comparison would go wrong.
                out.add(line(n), f"“{_dotted(path)}”的值 {n.value} 不是有效数字（NaN/无穷大）；请填写实际数值，或留空。",
                        _dotted(path) or None)
                return None
            # Keep the digits as written: 98.6 must not become 98.59999.
            try:
                return Decimal(n.value.replace("_", ""))
            except InvalidOperation:
                return loader.construct_object(n)
        value = loader.construct_object(n)
        if isinstance(value, _dt.datetime | _dt.date):
            return value.isoformat()[:10]
        return value

    try:
        if node is None:
            return None, {}
        return walk(node, ()), locations
    finally:
        loader.dispose()


_JSON_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")
_JSON_WS = re.compile(r"[ \t\n\r]*")


def read_json(text: str, out: ProblemCollector) -> tuple[Any, dict[DataPath, str]]:
    if not text.strip():
        return None, {}
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        out.add(f"line {exc.lineno}, column {exc.colno}", f"JSON 格式错误：{exc.msg}。请检查逗号、引号和括号是否成对。")
        return None, {}
    # The text is valid JSON; walk it again by hand to learn each key's line and to see
    # duplicate keys, which json.loads silently resolves to the last one.
    locations: dict[DataPath, str] = {}

    def line_of(pos: int) -> str:
        return f"line {text.count(chr(10), 0, pos) + 1}"

    def skip(i: int) -> int:
        return _JSON_WS.match(text, i).end()

    def value(i: int, path: DataPath) -> tuple[Any, int]:
        i = skip(i)
        ch = text[i]
        if ch == "{":
            result: dict[str, Any] = {}
            i = skip(i + 1)
            if text[i] == "}":
                return result, i + 1
            while True:
                i = skip(i)
                key_pos = i
                key, i = json.decoder.scanstring(text, i + 1)
                i = skip(i) + 1          # the colon
                item, i = value(i, path + (key,))
                if key in result:
                    out.add(line_of(key_pos), f"键“{key}”重复（{_cn(locations[path + (key,)])} 已有）；请删除或合并其中一处。", key)
                else:
                    locations[path + (key,)] = line_of(key_pos)
                    result[key] = item
                i = skip(i)
                if text[i] == "}":
                    return result, i + 1
                i += 1                    # the comma
        if ch == "[":
            items: list[Any] = []
            i = skip(i + 1)
            if text[i] == "]":
                return items, i + 1
            while True:
                i = skip(i)
                locations[path + (len(items),)] = line_of(i)
                item, i = value(i, path + (len(items),))
                items.append(item)
                i = skip(i)
                if text[i] == "]":
                    return items, i + 1
                i += 1
        if ch == '"':
            return json.decoder.scanstring(text, i + 1)
        for literal in ("NaN", "Infinity", "-Infinity"):
            if text.startswith(literal, i):
                # json.loads accepts them; a figure must be a finite number.
                out.add(line_of(i), f"“{_dotted(path)}”的值 {literal} 不是有效数字（NaN/无穷大）；请填写实际数值，或留空。",
                        _dotted(path) or None)
                return None, i + len(literal)
        for literal, result_value in (("true", True), ("false", False), ("null", None)):
            if text.startswith(literal, i):
                return result_value, i + len(literal)
        match = _JSON_NUMBER.match(text, i)
        number = match.group(0)
        return (int(number) if re.fullmatch(r"-?\d+", number) else Decimal(number)), match.end()

    if not text.strip():
        return None, {}
    data, _ = value(0, ())
    return data, locations


_HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "key": ("key", "指标", "指标键", "键", "代码"),
    "label": ("label", "名称", "指标名称"),
    "value": ("value", "数值", "值", "本年", "本年数值"),
    "unit": ("unit", "单位"),
    "previous": ("previous", "上年", "上年数值", "去年"),
    "note": ("note", "备注", "说明"),
    "scope": ("scope", "范围", "排名范围"),
    "section": ("section", "章节", "部分"),
    "kind": ("kind", "类型"),
}
XLSX_HEADERS: tuple[str, ...] = ("key", "label", "value", "unit", "previous", "note", "scope", "section")
XLSX_HEADERS_ZH: tuple[str, ...] = ("指标", "名称", "数值", "单位", "上年", "备注", "范围", "章节")


def split_list(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"[；;\n]", text) if part.strip()]


def read_xlsx(path: Path, out: ProblemCollector, sheet_name: str | None = None) -> tuple[Any, dict[DataPath, str]]:
    """The first sheet with a header row (or the sheet `sheet_name`) as metrics data."""
    import zipfile

    import openpyxl
    from openpyxl.utils import get_column_letter

    from pipeline.reading.limits import MAX_XLSX_EXPANDED, check_sheet_size, open_zip_checked

    open_zip_checked(path, str(path), kind=".xlsx", max_expanded=MAX_XLSX_EXPANDED).close()
    try:
        book = openpyxl.load_workbook(path, data_only=False)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, EOFError) as exc:
        raise InputError(f"不是有效的 Excel（.xlsx）文件：{exc}。请用 Excel/WPS 另存为 .xlsx。", path=str(path)) from exc
    header_map: dict[str, int] = {}
    sheet = None
    header_row = 0
    wanted = {alias.lower(): name for name, aliases in _HEADER_ALIASES.items() for alias in aliases}
    candidates = book.worksheets
    if sheet_name is not None:
        if sheet_name not in book.sheetnames:
            raise InputError(f"工作簿中没有工作表“{sheet_name}”；现有：{'、'.join(book.sheetnames)}。", path=str(path))
        candidates = [book[sheet_name]]
    for candidate in candidates:
        check_sheet_size(candidate.max_row, candidate.max_column, str(path), candidate.title)
        for row in candidate.iter_rows(min_row=1, max_row=min(candidate.max_row, 10)):
            found = {}
            for cell in row:
                if isinstance(cell.value, str) and cell.value.strip().lower() in wanted:
                    found.setdefault(wanted[cell.value.strip().lower()], cell.column)
            if "key" in found and "value" in found:
                sheet, header_map, header_row = candidate, found, row[0].row
                break
        if sheet is not None:
            break
    if sheet is None:
        where = f"sheet {sheet_name}" if sheet_name else ""
        out.add(where, "找不到表头行。第一行应为：key | label | value | unit | previous | note"
                    "（或：指标 | 名称 | 数值 | 单位 | 上年 | 备注）；可用 `shuzhi metrics init --xlsx` 生成模板。")
        return None, {}
    # Name the sheet in locations whenever "cell C7" alone could point at the wrong one.
    prefix = f"sheet {sheet.title} " if len(book.worksheets) > 1 and (
        sheet is not book.worksheets[0] or sheet_name is not None) else ""
    for merged in sheet.merged_cells.ranges:
        if merged.max_row < header_row:
            continue       # a merged title above the header row is harmless
        out.add(f"{prefix}cell {merged.coord}", f"合并单元格 {merged.coord}：请取消合并，每个单元格各填一项。")
    merged_cells = {(r, c) for m in sheet.merged_cells.ranges for r, c in m.cells}

    data: dict[str, Any] = {"meta": {}, "metrics": {}}
    locations: dict[DataPath, str] = {}

    def ref(row: int, col: int) -> str:
        return f"{prefix}cell {get_column_letter(col)}{row}"

    def read(row: int, field: str) -> tuple[Any, str]:
        col = header_map.get(field)
        if col is None:
            return None, ""
        cell = sheet.cell(row=row, column=col)
        where = ref(row, col)
        if cell.data_type == "f" or (isinstance(cell.value, str) and cell.value.startswith("=")):
            out.add(where, f"单元格是公式（{cell.value}）；请复制后“选择性粘贴→数值”，只保留计算结果。")
            return None, where
        value = cell.value
        if isinstance(value, float):
            value = Decimal(repr(value))
        elif isinstance(value, _dt.datetime | _dt.date):
            value = value.isoformat()[:10]
        elif isinstance(value, str):
            value = value.strip()
            if value == "":
                value = None
        return value, where

    for row in range(header_row + 1, sheet.max_row + 1):
        key_col = header_map["key"]
        if (row, key_col) in merged_cells and sheet.cell(row=row, column=key_col).value is None:
            continue
        key, key_where = read(row, "key")
        if key is None or (isinstance(key, str) and key.startswith("#")):
            continue
        key = str(key).strip()
        value, value_where = read(row, "value")
        if key.startswith("meta."):
            path: DataPath = ("meta", key[5:])
            if path[1] in data["meta"]:
                out.add(key_where, f"“{key}”重复（{locations[path]} 已有）；请删除其中一行。", key)
                continue
            if path[1] == "superiors" and isinstance(value, str):
                value = [s for s in re.split(r"[；;\n、，,]", value) if s.strip()]
            data["meta"][path[1]] = value
            locations[path] = value_where
            continue
        if key in LIST_FIELDS:
            if key in data:
                out.add(key_where, f"“{key}”重复（{locations[(key,)]} 已有）；请把内容合并到一行，用“；”分隔。", key)
                continue
            items = split_list(str(value)) if value is not None else []
            data[key] = items
            locations[(key,)] = value_where
            for i in range(len(items)):
                locations[(key, i)] = value_where
            continue
        if key in data["metrics"]:
            out.add(key_where, f"指标“{key}”重复（{locations[('metrics', key)]} 已有）；请删除其中一行。", key)
            continue
        entry: dict[str, Any] = {"value": value}
        locations[("metrics", key)] = key_where
        locations[("metrics", key, "value")] = value_where
        for field in ("label", "unit", "previous", "note", "scope", "section", "kind"):
            if field == "label" and not key.startswith("custom."):
                continue   # the label column of a catalog key is there for the reader's eyes only
            cell_value, where = read(row, field)
            if cell_value is not None:
                entry[field] = cell_value
                locations[("metrics", key, field)] = where
        data["metrics"][key] = entry
    return data, locations


def _dotted(path: DataPath) -> str:
    return ".".join(str(p) for p in path)


def _cn(location: str) -> str:
    """A stored location (`line 8`) as it reads inside a Chinese message (`第 8 行`)."""
    return MetricProblem(source="", location=location, message="").where
