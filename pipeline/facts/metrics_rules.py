"""Validation rules of a metrics file, by kind: figures and units, the report meta and lists, and
metric entries (catalog keys and custom keys). `pipeline.facts.metrics` reads a file and hands its
plain data to `_Validator`; every rule reports into one `ProblemCollector`, so a user sees every
problem at once, each with its line or cell.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import re
import unicodedata
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from pipeline.facts.metrics_readers import (
    LIST_FIELDS,
    DataPath,
    ProblemCollector,
    split_list,
)
from pipeline.models import SECTION_KEYS, MetricValue
from pipeline.profile.catalog import CatalogEntry

TOP_FIELDS: tuple[str, ...] = ("meta", "metrics", *LIST_FIELDS)
META_FIELDS: tuple[str, ...] = (
    "year", "region", "level", "unit", "reporter", "reporter_title", "superiors", "date", "profile",
)
METRIC_FIELDS: tuple[str, ...] = ("value", "previous", "unit", "scope", "note", "label", "kind", "section",
                                  "aliases", "approx", "units")
KINDS: tuple[str, ...] = ("count", "money", "percent", "rank")
KNOWN_LEVELS: frozenset[str] = frozenset({"县", "区", "市", "县级市", "旗", "乡镇", "乡", "镇", "街道", "省"})
# Longest text each meta field may hold: the title (region + year + genre) must stay under the
# 255 characters python-docx allows in a Word file's properties, and no real name is longer.
META_TEXT_LIMITS: dict[str, int] = {"region": 60, "unit": 120, "reporter": 60, "reporter_title": 120,
                                    "level": 20, "profile": 200}
META_TEXT_EXAMPLES: dict[str, str] = {"region": "青岚县", "unit": "中共青岚县委", "reporter": "张某某",
                                      "reporter_title": "县委书记、县人武部党委第一书记"}
LIST_LABELS = {
    "honours": "荣誉称号", "documents": "文件名称", "partners": "地名、单位名",
    "plans": "下步打算", "highlights": "必写内容",
}

# Unit -> (base unit, factor to base). Units sharing a base convert into each other; a factor of 1
# between two spellings means they are synonyms (人/名), which need no warning.
_UNIT_BASE: dict[str, tuple[str, Decimal]] = {
    "元": ("元", Decimal(1)), "万元": ("元", Decimal(10000)), "亿元": ("元", Decimal(10) ** 8),
    "人": ("人", Decimal(1)), "名": ("人", Decimal(1)), "万人": ("人", Decimal(10000)),
    "万名": ("人", Decimal(10000)),
    "人次": ("人次", Decimal(1)), "万人次": ("人次", Decimal(10000)),
    "%": ("%", Decimal(1)), "％": ("%", Decimal(1)),
    "场次": ("场次", Decimal(1)), "场": ("场次", Decimal(1)),
    "所": ("所", Decimal(1)), "个": ("个", Decimal(1)), "次": ("次", Decimal(1)),
    "批": ("批", Decimal(1)), "批次": ("批", Decimal(1)), "件": ("件", Decimal(1)),
    "件套": ("件", Decimal(1)),
}
_MONEY_UNITS = frozenset({"元", "万元", "亿元"})



# =========================================================================== numbers

def _cn_to_int(text: str) -> int | None:
    """Chinese numeral to int (`三` 3, `十二` 12, `一千二百三十四` 1234); None when it is not one."""
    from pipeline.facts.numerals import parse_chinese_number

    parsed = parse_chinese_number(text)
    if parsed is None or parsed != parsed.to_integral_value():
        return None
    return int(parsed)


_CN_NUMERALS = "零一二三四五六七八九"


def int_to_cn(n: int) -> str:
    """Small positive ints as Chinese numerals (ranks: 第一, 第十二); larger stay Arabic."""
    if n <= 0 or n >= 100:
        return str(n)
    tens, ones = divmod(n, 10)
    if tens == 0:
        return _CN_NUMERALS[ones]
    return ("" if tens == 1 else _CN_NUMERALS[tens]) + "十" + (_CN_NUMERALS[ones] if ones else "")


def _tidy(value: Decimal) -> Decimal:
    """21000.0 → 21000, 120.0000 → 120, 0.0100 → 0.01: figures compare and print as written."""
    if value == value.to_integral_value():
        return Decimal(int(value))
    return value.normalize()


def plain_number(value: Decimal) -> str:
    """Decimal as written in a report: 21000, 2.5, 98 (no exponent, no trailing zeros)."""
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


_NUMBER_TEXT = re.compile(
    r"^(?P<num>[+-]?\d+(?:\.\d+)?|[零〇一二两三四五六七八九十百千]+(?:[万亿][零〇一二两三四五六七八九十百千]*)?)"
    r"(?P<mult>万|亿)?(?P<unit>[^\d].*)?$"
)
_RANK_TEXT = re.compile(
    r"^(?:排名|排)?(?P<scope>全[市省县区国州盟]|全军分区|军分区)?(?:排名|排)?(?:第)?"
    r"(?P<num>\d+|[一二两三四五六七八九十]+)(?:名|位)?$"
)


class _BadValue(Exception):
    pass


def _parse_scalar(raw: Any) -> tuple[Decimal, str, str]:
    """A figure as given → (number, unit written after it, multiplier 万/亿 or "")."""
    if isinstance(raw, bool):
        raise _BadValue(f"应为数字，实际是布尔值“{raw}”（YAML 中 yes/no/true/false 会被当成布尔值）")
    if isinstance(raw, int):
        return Decimal(raw), "", ""
    if isinstance(raw, Decimal | float) and not Decimal(repr(raw) if isinstance(raw, float) else raw).is_finite():
        # From a web form's JSON or a library caller: NaN and infinity are not figures.
        raise _BadValue(f"不是有效数字（{raw}，NaN/无穷大）；请填写实际数值，或留空")
    if isinstance(raw, Decimal):
        return raw, "", ""
    if isinstance(raw, float):
        return Decimal(repr(raw)), "", ""
    if not isinstance(raw, str):
        raise _BadValue(f"应为数字，实际是{type(raw).__name__}")
    text = unicodedata.normalize("NFKC", raw).replace(",", "").replace(" ", "").strip()
    has_number = re.search(r"[\d零〇一二两三四五六七八九十百千]", text)
    if has_number and re.search(r"^(约|近|超过|超|逾|大约)|余|多|以上|左右", text):
        raise _BadValue(f"应为确切的数字，实际是“{raw}”；约数请写确数，或在 note 中说明")
    match = _NUMBER_TEXT.match(text)
    if not match:
        raise _BadValue(f"应为数字，实际是“{raw}”")
    num = match.group("num")
    if num[0].isdigit() or num[0] in "+-":
        number = Decimal(num)
    else:
        parsed = _cn_to_int(num)
        if parsed is None:
            raise _BadValue(f"看不懂数字“{raw}”；请写阿拉伯数字")
        number = Decimal(parsed)
    return number, (match.group("unit") or "").strip(), match.group("mult") or ""


# =========================================================================== validation


def suggest_name(word: str, candidates: dict[str, str]) -> str | None:
    """Nearest candidate key; `candidates` maps a matchable text (key, label, alias) to its key."""
    best = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    if best:
        return candidates[best[0]]
    # Labels are long; a user typing part of one (输送合格青年人数) should still be helped.
    for text, key in candidates.items():
        if len(text) >= 2 and len(word) >= 2 and (text in word or word in text):
            return key
    return None


def _unit_fits(given: str, expected: str) -> tuple[bool, Decimal]:
    """Does `given` measure the same thing as `expected`? Returns (fits, factor given→expected)."""
    if given == expected:
        return True, Decimal(1)
    g, e = _UNIT_BASE.get(given), _UNIT_BASE.get(expected)
    if g is None or e is None or g[0] != e[0]:
        return False, Decimal(0)
    return True, g[1] / e[1]


def _infer_kind(unit: str, label: str) -> str:
    if unit == "%":
        return "percent"
    if unit in _MONEY_UNITS:
        return "money"
    if "排名" in label or "名次" in label:
        return "rank"
    return "count"


class _Reporter:
    """Where a data path sits in the file, and the problem collector every rule reports into."""

    def __init__(self, source: str, locations: dict[DataPath, str] | Callable[[DataPath], str], out: ProblemCollector):
        self.source = source
        self._locations = locations
        self.out = out

    def where(self, path: DataPath) -> str:
        if callable(self._locations):
            return self._locations(path)
        for end in range(len(path), 0, -1):
            if path[:end] in self._locations:
                return self._locations[path[:end]]
        return ""

    def error(self, path: DataPath, message: str, key: str | None = None) -> None:
        self.out.add(self.where(path), message, key)

    def warn(self, path: DataPath, message: str, key: str | None = None) -> None:
        self.out.add(self.where(path), message, key, "warning")



class _FigureRules(_Reporter):
    """One figure: a number (Arabic or Chinese, with 万/亿), its unit and conversions, its range, a rank."""

    def figure(self, raw: Any, path: DataPath, key: str, unit: str, kind: str, field: str) -> Decimal | None:
        if raw is None or (isinstance(raw, str) and not raw.strip()):   # empty form field = unknown
            return None
        name = f"{key}.{field}"
        if kind == "rank":
            return self.rank(raw, path, key, field)[0]
        try:
            number, written_unit, mult = _parse_scalar(raw)
        except _BadValue as exc:
            self.error(path, f"{name}：{exc}。", key)
            return None
        if written_unit in ("", unit) and not mult:
            pass
        else:
            if mult and not written_unit and unit[:1] in ("万", "亿"):
                self.error(path, f"{name}：“{raw}”有歧义——单位已是“{unit}”，请直接写以{unit}计的数字。", key)
                return None
            given = (mult + written_unit) if written_unit else unit
            if mult and not written_unit:
                number *= Decimal(10000 if mult == "万" else 10 ** 8)
                given = unit
            fits, factor = _unit_fits(given, unit)
            if not fits and mult and written_unit:
                # 2.1万人次 with unit 人次: fold the multiplier into the number.
                fits, factor = _unit_fits(written_unit, unit)
                number *= Decimal(10000 if mult == "万" else 10 ** 8)
            if not fits:
                self.error(path, f"{name}：“{raw}”的单位“{written_unit or given}”与指标单位“{unit}”不符；请写以{unit}计的数字。", key)
                return None
            if factor != 1:
                converted = _tidy(number * factor)
                arithmetic = (f"{plain_number(number)} × {plain_number(factor)}" if factor > 1
                              else f"{plain_number(number)} ÷ {plain_number(1 / factor)}")
                self.warn(path, f"{name}：“{raw}”已换算为 {plain_number(converted)}{unit}"
                                f"（{arithmetic}）；可直接写 {plain_number(converted)} 以免此提示。", key)
                number = converted
        return self.check_range(_tidy(number), path, key, unit, kind, name)

    def check_range(self, number: Decimal, path: DataPath, key: str, unit: str, kind: str, name: str) -> Decimal | None:
        if number < 0:
            self.error(path, f"{name}：{plain_number(number)} 为负数；{'数量' if kind == 'count' else '数值'}不能为负。", key)
            return None
        if kind == "percent":
            if number > 100:
                self.error(path, f"{name}：百分比 {plain_number(number)}% 超过 100%；请按百分数填写（98 表示 98%）。", key)
                return None
            if 0 < number <= 1 and number != number.to_integral_value():
                self.warn(path, f"{name}：{plain_number(number)}% 很小，是否把 {plain_number(number * 100)}% 写成了小数？", key)
        if kind == "count" and number != number.to_integral_value():
            self.error(path, f"{name}：{plain_number(number)}{unit} 不是整数；数量应为整数。", key)
            return None
        return number

    def rank(self, raw: Any, path: DataPath, key: str, field: str) -> tuple[Decimal | None, str | None]:
        name = f"{key}.{field}"
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None, None
        if isinstance(raw, bool) or not isinstance(raw, int | str | Decimal | float):
            self.error(path, f"{name}：名次应为正整数或“全市第一”这样的写法，实际是“{raw}”。", key)
            return None, None
        scope = None
        if isinstance(raw, str):
            text = unicodedata.normalize("NFKC", raw).replace(" ", "")
            if "前列" in text or "前" in text and "名" in text:
                self.error(path, f"{name}：“{raw}”不是确切名次；请写具体名次（如 1 或“全市第一”），目标写入 plans。", key)
                return None, None
            match = _RANK_TEXT.match(text)
            if not match:
                self.error(path, f"{name}：看不懂名次“{raw}”；请写 1、“第一”或“全市第一”。", key)
                return None, None
            scope = match.group("scope")
            num = match.group("num")
            number = Decimal(num) if num.isdigit() else Decimal(_cn_to_int(num) or 0)
        else:
            number = Decimal(repr(raw)) if isinstance(raw, float) else Decimal(raw)
        if number < 1 or number != number.to_integral_value():
            self.error(path, f"{name}：名次应为正整数（1 表示第一），实际是“{raw}”。", key)
            return None, None
        return number, scope



class _MetaRules(_Reporter):
    """The report meta (year, region, level, reporter, date…) and the lists (honours, documents…)."""

    def meta(self, raw: Any) -> dict[str, Any]:
        result: dict[str, Any] = {}
        if raw is None:
            self.error(("meta",), "缺少 meta 部分；至少要有 meta.year（述职年度）和 meta.region（地区）。")
            return result
        if not isinstance(raw, dict):
            self.error(("meta",), "meta 应是“键: 值”的映射（year、region、level…）。")
            return result
        for key, value in raw.items():
            path = ("meta", key)
            if key not in META_FIELDS:
                near = suggest_name(key, {f: f for f in META_FIELDS})
                hint = f"是否想写“{near}”？" if near else f"可用：{'、'.join(META_FIELDS)}。"
                self.error(path, f"meta 中有未知字段“{key}”；{hint}")
                continue
            if value is None or value == "":
                continue
            if key == "year":
                try:
                    year, _, _ = _parse_scalar(value)
                except _BadValue:
                    year = None
                if year is None or year != year.to_integral_value() or not 1949 <= year <= 2100:
                    self.error(path, f"meta.year 应为四位年份（如 2023），实际是“{value}”。")
                    continue
                result[key] = int(year)
            elif key == "superiors":
                items = value if isinstance(value, list) else re.split(r"[、，,；;]", str(value))
                result[key] = tuple(str(s).strip() for s in items if str(s).strip())
            elif key == "date":
                text = str(value).strip()
                try:
                    result[key] = _dt.date.fromisoformat(text.replace("/", "-").replace(".", "-")).isoformat()
                except ValueError:
                    self.error(path, f"meta.date 应为日期，如 2024-01-12，实际是“{value}”。")
            else:
                if isinstance(value, dict | list):
                    self.error(path, f"meta.{key} 应为一段文字，实际是{'列表' if isinstance(value, list) else '映射'}。")
                    continue
                result[key] = str(value).strip()
        if raw.get("year") in (None, ""):
            self.error(("meta",), "缺少 meta.year（述职的年度，如 2023）。")
        if raw.get("region") in (None, ""):
            self.error(("meta",), "缺少 meta.region（地区名称，如 青岚县）。")
        for key, limit in META_TEXT_LIMITS.items():
            # The region and titles go into the draft's title and the Word file's core properties,
            # which python-docx caps at 255 characters: refuse here, not in the middle of a batch.
            value = result.get(key)
            if isinstance(value, str) and len(value) > limit:
                self.error(("meta", key), f"meta.{key} 有 {len(value)} 个字，超过上限 {limit}；请只写名称本身"
                                          f"（如 {META_TEXT_EXAMPLES.get(key, '青岚县')}）。")
                del result[key]
        if "level" in result and result["level"] not in KNOWN_LEVELS:
            self.warn(("meta", "level"), f"meta.level “{result['level']}”不常见；通常是 县、区 或 乡镇。")
        return result

    def lists(self, data: dict[str, Any]) -> dict[str, tuple[str, ...]]:
        result: dict[str, tuple[str, ...]] = {}
        for name in LIST_FIELDS:
            raw = data.get(name)
            if raw is None:
                continue
            if isinstance(raw, str):
                raw = split_list(raw)
            if not isinstance(raw, list):
                self.error((name,), f"{name} 应是{LIST_LABELS[name]}的列表（每行“- 文字”）。")
                continue
            items: list[str] = []
            for i, item in enumerate(raw):
                if item is None:
                    continue
                if isinstance(item, dict | list):
                    self.error((name, i), f"{name} 第 {i + 1} 项应是一段文字。")
                    continue
                # Quotes and book-title marks are added by the writer; store the bare text.
                text = strip_wrapping_marks(str(item).strip())
                if text:
                    items.append(text)
            result[name] = tuple(items)
        return result



class _MetricRules(_FigureRules):
    """Metric entries: catalog keys (label, unit and kind from the profile) and custom keys (all given)."""

    def metrics(self, raw: Any, catalog: dict[str, CatalogEntry]) -> list[MetricValue]:
        if raw is None:
            return []
        if not isinstance(raw, dict):
            self.error(("metrics",), "metrics 应是“指标键: 数值”的映射。")
            return []
        candidates: dict[str, str] = {}
        for entry in catalog.values():
            candidates[entry.key] = entry.key
            candidates.setdefault(entry.label, entry.key)
            for alias in entry.aliases:
                candidates.setdefault(alias, entry.key)
        values: list[MetricValue] = []
        seen: dict[str, DataPath] = {}
        for key, spec, path in self._flatten(raw, catalog):
            if key in seen:
                # `conscription.recruits` and `conscription: {recruits: …}` in one file.
                self.error(path, f"指标“{key}”写了两次（{self.where(seen[key]) or '前面'} 已有）；请删除其中一处。", key)
                continue
            seen[key] = path
            if key in catalog:
                metric = self.metric(key, spec, path, catalog[key])
            elif key.startswith("custom."):
                metric = self.custom(key, spec, path)
            else:
                near = suggest_name(key, candidates)
                hint = (f"是否想写“{near}”（{catalog[near].label}，单位 {catalog[near].unit}）？" if near
                        else "请用 `shuzhi metrics init` 生成的模板中的键。")
                self.error(path, f"未知指标“{key}”；{hint}自定义指标请以 custom. 开头，并写明 label、unit、section。", key)
                continue
            if metric is not None:
                values.append(metric)
        return values

    def _flatten(self, raw: dict[str, Any], catalog: dict[str, CatalogEntry]) -> Iterable[tuple[str, Any, DataPath]]:
        # `conscription: {recruits: 215}` is accepted as `conscription.recruits: 215`.
        def walk(prefix: str, mapping: dict[str, Any], path: DataPath) -> Iterable[tuple[str, Any, DataPath]]:
            for name, spec in mapping.items():
                key = f"{prefix}.{name}" if prefix else str(name)
                sub = path + (name,)
                nested = (isinstance(spec, dict) and key not in catalog and spec
                          and not set(spec) & set(METRIC_FIELDS) and not key.startswith("custom."))
                if nested or (key == "custom" and isinstance(spec, dict)):
                    yield from walk(key, spec, sub)
                else:
                    yield key, spec, sub
        yield from walk("", raw, ("metrics",))

    def _fields(self, key: str, spec: Any, path: DataPath) -> dict[str, Any]:
        if not isinstance(spec, dict):
            if isinstance(spec, list):
                self.error(path, f"{key}：应为一个数字或 {{value: …, previous: …}}，实际是列表。", key)
                return {}
            return {"value": spec}
        fields: dict[str, Any] = {}
        for name, value in spec.items():
            if name not in METRIC_FIELDS:
                near = suggest_name(str(name), {f: f for f in METRIC_FIELDS})
                hint = f"是否想写“{near}”？" if near else f"可用：{'、'.join(METRIC_FIELDS)}。"
                self.error(path + (name,), f"{key} 中有未知字段“{name}”；{hint}", key)
                continue
            fields[name] = value
        if "value" not in fields and fields:
            self.warn(path, f"{key} 没有 value；视为“有此项但数字未知”，请写 value: null 以示确认。", key)
        return fields

    def _unit(self, fields: dict[str, Any], path: DataPath, key: str, expected: str,
              family: tuple[str, ...] = ()) -> str | None:
        """The unit the figures are written in; None when it cannot measure this metric. A unit of the
        catalog's family for the metric (项 for 协调解决实际问题 in 个) is the same count."""
        given = fields.get("unit")
        if given is None or str(given).strip() in ("", expected):
            return expected
        given = unicodedata.normalize("NFKC", str(given)).strip()
        if given in family:
            return expected
        fits, _ = _unit_fits(given, expected)
        if not fits:
            also = f"（或 {'、'.join(family)}）" if family else ""
            self.error(path + ("unit",), f"{key}：单位“{given}”与指标单位“{expected}”{also}不符；请改为 {expected}，"
                                         "或删除 unit 一项。", key)
            return None
        return given

    def extras(self, fields: dict[str, Any], path: DataPath, key: str, kind: str,
               family: tuple[str, ...] = ()) -> dict[str, Any]:
        """`aliases` (words the report names the metric by), `approx` (the data is itself approximate) and
        `units` (other count units of the same figure), for catalog and custom keys alike."""
        out: dict[str, Any] = {}
        raw = fields.get("aliases")
        if raw is not None:
            items = _split_words(raw) if isinstance(raw, str) else raw
            if not isinstance(items, list) or any(isinstance(a, dict | list) for a in items):
                self.error(path + ("aliases",), f"{key}.aliases 应是别称的列表，如 [议武会, 党委议军会]。", key)
            else:
                aliases = tuple(str(a).strip() for a in items if a is not None and str(a).strip())
                short = [a for a in aliases if len(a) < 2]
                if short:
                    self.error(path + ("aliases",), f"{key}.aliases 中“{'、'.join(short)}”太短；别称至少两个字，"
                                                    "否则会在报告中到处命中。", key)
                out["aliases"] = tuple(a for a in aliases if len(a) >= 2)
        approx = fields.get("approx")
        if approx is not None:
            if not isinstance(approx, bool):
                self.error(path + ("approx",), f"{key}.approx 应为 true 或 false，实际是“{approx}”。", key)
            elif approx and kind == "rank":
                self.error(path + ("approx",), f"{key}：名次没有约数；请删除 approx。", key)
            else:
                out["approx"] = approx
        raw_units = fields.get("units")
        if raw_units is not None:
            items = _split_words(raw_units) if isinstance(raw_units, str) else raw_units
            if not isinstance(items, list) or kind != "count":
                self.error(path + ("units",), f"{key}.units 只用于数量指标，应是单位的列表，如 [项, 件]。", key)
            else:
                out["units"] = tuple(dict.fromkeys((*family, *(str(u).strip() for u in items if str(u).strip()))))
        elif family:
            out["units"] = family
        return out

    def _value_pair(self, fields: dict[str, Any], path: DataPath, key: str, unit: str, target: str,
                    kind: str) -> tuple[Decimal | None, Decimal | None]:
        results = []
        for name in ("value", "previous"):
            raw = fields.get(name)
            if unit != target and raw is not None and not isinstance(raw, str | bool):
                raw = f"{raw}{unit}"     # the declared unit converts like a unit written after the number
            elif unit != target and isinstance(raw, str) and re.fullmatch(r"[\d.,\s]+", raw):
                raw = f"{raw}{unit}"
            results.append(self.figure(raw, path + (name,), key, target, kind, name))
        return results[0], results[1]

    def metric(self, key: str, spec: Any, path: DataPath, entry: CatalogEntry) -> MetricValue | None:
        fields = self._fields(key, spec, path)
        for name in ("kind", "section"):
            if name in fields and str(fields[name]) != getattr(entry, name):
                self.warn(path + (name,), f"{key} 是目录指标，{name} 以目录为准（{getattr(entry, name)}），已忽略“{fields[name]}”。", key)
        if "label" in fields and fields["label"] not in (None, entry.label):
            self.warn(path + ("label",), f"{key} 是目录指标，名称以目录为准（{entry.label}），已忽略“{fields['label']}”。", key)
        unit = self._unit(fields, path, key, entry.unit, entry.units)
        if unit is None:
            return None
        extras = self.extras(fields, path, key, entry.kind, entry.units)
        scope = fields.get("scope")
        if entry.kind == "rank":
            value, scope_v = self.rank(fields.get("value"), path + ("value",), key, "value")
            previous, scope_p = self.rank(fields.get("previous"), path + ("previous",), key, "previous")
            written = scope_v or scope_p
            if scope and written and written != scope:
                self.error(path + ("scope",), f"{key}：scope “{scope}”与名次中的“{written}”不一致。", key)
            scope = scope or written
        else:
            value, previous = self._value_pair(fields, path, key, unit, entry.unit, entry.kind)
            if scope is not None:
                self.warn(path + ("scope",), f"{key} 不是排名，scope 无用，已忽略。", key)
                scope = None
        note = fields.get("note")
        return MetricValue(key=key, label=entry.label, unit=entry.unit, section=entry.section, kind=entry.kind,
                           value=value, previous=previous, scope=str(scope) if scope else None,
                           note=str(note) if note is not None else None, **extras)

    def custom(self, key: str, spec: Any, path: DataPath) -> MetricValue | None:
        fields = self._fields(key, spec, path)
        label = str(fields.get("label") or "").strip()
        unit = unicodedata.normalize("NFKC", str(fields.get("unit") or "")).strip()
        if not label:
            self.error(path, f"自定义指标 {key} 缺少 label（报告里怎么称呼它，如“村级民兵哨所”）。", key)
        if not unit:
            self.error(path, f"自定义指标 {key} 缺少 unit（如 个、人、万元、%）。", key)
        section = fields.get("section")
        if section is None:
            self.warn(path, f"自定义指标 {key} 没有 section，将放入 other；可选：{'、'.join(SECTION_KEYS)}。", key)
            section = "other"
        elif section not in SECTION_KEYS:
            self.error(path + ("section",), f"{key}：section “{section}”无效；可选：{'、'.join(SECTION_KEYS)}。", key)
            return None
        kind = fields.get("kind") or _infer_kind(unit, label)
        if kind not in KINDS:
            self.error(path + ("kind",), f"{key}：kind “{kind}”无效；可选：{'、'.join(KINDS)}。", key)
            return None
        if not label or not unit:
            return None
        scope = fields.get("scope")
        if kind == "rank":
            value, scope_v = self.rank(fields.get("value"), path + ("value",), key, "value")
            previous, _ = self.rank(fields.get("previous"), path + ("previous",), key, "previous")
            scope = scope or scope_v
        else:
            value = self.figure(fields.get("value"), path + ("value",), key, unit, kind, "value")
            previous = self.figure(fields.get("previous"), path + ("previous",), key, unit, kind, "previous")
        note = fields.get("note")
        extras = self.extras(fields, path, key, kind)
        return MetricValue(key=key, label=label, unit=unit, section=str(section), kind=kind, value=value,
                           previous=previous, scope=str(scope) if scope else None,
                           note=str(note) if note is not None else None, custom=True, **extras)


def _split_words(text: str) -> list[str]:
    """`议武会、党委议军会` or `项, 件`: a list written as one string."""
    return [part for part in re.split(r"[、，,；;\s]+", text) if part]


class _Validator(_MetaRules, _MetricRules):
    """Every rule of a metrics file, over one problem collector."""


_WRAPPING_MARKS = (("“", "”"), ("《", "》"), ('"', '"'), ("「", "」"), ("『", "』"))


def strip_wrapping_marks(text: str) -> str:
    """Drop quote or title marks around a whole item (“双拥模范县” → 双拥模范县), but keep marks
    that belong to the text (打造“云上国防教育馆” keeps both of its quotes)."""
    changed = True
    while changed and len(text) >= 2:
        changed = False
        for opening, closing in _WRAPPING_MARKS:
            if text[0] == opening and text[-1] == closing and _balanced(text[1:-1], opening, closing):
                text, changed = text[1:-1].strip(), True
    return text


def _balanced(inner: str, opening: str, closing: str) -> bool:
    if opening == closing:
        return inner.count(opening) % 2 == 0
    depth = 0
    for char in inner:
        if char == opening:
            depth += 1
        elif char == closing:
            depth -= 1
            if depth < 0:
                return False
    return depth == 0
