"""The metrics file template: a commented YAML and an Excel workbook with an instructions sheet,
generated from a profile's catalog (`shuzhi metrics init`)."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

from pipeline.errors import InputError
from pipeline.facts.metrics_readers import (
    LIST_FIELDS,
    XLSX_HEADERS_ZH,
)
from pipeline.facts.metrics_rules import LIST_LABELS
from pipeline.models import SECTION_KEYS
from pipeline.profile.catalog import DEFAULT_PROFILE, level_class, load_catalog, profile_info

_SECTION_NAMES = {
    "opening": "开头（排名、荣誉）", "duty": "履职", "systems": "制度落实", "foundation": "基础建设",
    "plans": "下步打算", "closing": "结尾", "other": "其他",
}

_TEMPLATE_HEAD = """\
# 述职指标文件（由 `shuzhi metrics init` 生成）。填好后运行 `shuzhi metrics validate 本文件` 检查。
# 规则：数字只写数字（215，不写“215人”）；不知道的写 null；百分比写 98 表示 98%；
# 名次写 1 表示第一；previous 是上年数字，用于同比和发现照抄去年的旧数字。
# 注释中的地区、单位、文件名均为虚构示例。
meta:
  year: {year}                        # 述职的年度（必填），如 2023
  region: null                      # 地区名称（必填），如 青岚县
  level: {level}                         # 县 / 区 / 乡 / 镇 / 街道（未写 profile 时据此选配置）
  unit: null                        # 单位，如 {unit_example}
  reporter: null                    # 述职人姓名（可不填）
  reporter_title: null              # 职务，如 {title_example}
  superiors: [{superiors}]   # 向谁述职
  date: null                        # 述职日期，如 2024-01-12
  profile: {profile}

# 指标：简写“键: 数字”，或完整写法 {{value: 数字, previous: 上年数字, unit: 单位, note: 备注}}。
# 单位可换算：如某指标单位是万元，写 {{value: 1200000, unit: 元}} 会换算成 120 万元并提示。
# 可选：aliases: [议武会]（报告里对它的别称）、approx: true（数据本身是约数）、units: [项, 件]（同一数量的其他单位）。
metrics:
"""

_TEMPLATE_TAIL = """\
  # 自定义指标：键以 custom. 开头，写明 label（名称）、unit（单位）、section（放在哪一部分：
  # {sections}）。例：
  # custom.village_posts: {{label: 村级民兵哨所, unit: 个, section: foundation, value: 12}}

# 荣誉称号（不加引号）
honours: []
#  - 践行强军目标先进单位
# 文件名称（不加书名号）
documents: []
#  - 青岚县征兵工作20条措施
# 报告中点名的乡镇、村、单位
partners: []
#  - 云溪镇竹坪村
# 下步打算（明年的目标）
plans: []
#  - 力争征兵“五率”考评保持全市前列
# 必须写进报告的句子
highlights: []
"""


def _template_year() -> int:
    # Reports are written at year-end or in January about the year just finished.
    today = _dt.date.today()
    return today.year if today.month >= 7 else today.year - 1


def _is_township(profile: str) -> bool:
    return any(level_class(level) == "township" for level in profile_info(profile).levels)


def _rank_scope(profile: str) -> str:
    """Ranks of a township are against the county (全县), a county's against the city (全市)."""
    return "全县" if _is_township(profile) else "全市"


def template_yaml(profile: str = DEFAULT_PROFILE) -> str:
    """The commented YAML template: every catalog key with its label and unit."""
    catalog = load_catalog(profile)
    township = _is_township(profile)
    lines = [_TEMPLATE_HEAD.format(
        year=_template_year(), profile=profile, level="镇" if township else "县",
        unit_example="青岚镇武装部" if township else "青岚县人武部",
        title_example="青岚镇党委书记、镇武装部第一书记" if township else "县委书记、县人武部党委第一书记",
        superiors="县委, 县政府, 县人武部党委" if township else "市委, 市政府, 军分区党委")]
    scope = _rank_scope(profile)
    for section in SECTION_KEYS:
        entries = [e for e in catalog.values() if e.section == section]
        if not entries:
            continue
        lines.append(f"  # —— {_SECTION_NAMES.get(section, section)}（{section}）——\n")
        for e in entries:
            if e.kind == "rank":
                lines.append(f"  {e.key}: {{value: null, scope: {scope}, previous: null}}   # {e.label}（名次，1 为第一）\n")
            else:
                lines.append(f"  {e.key}: null   # {e.label}（单位：{e.unit}）\n")
    lines.append(_TEMPLATE_TAIL.format(sections="、".join(SECTION_KEYS)))
    return "".join(lines)


_XLSX_HELP = (
    "填写说明",
    "每行一项：第一列“指标”是键（不要改），在“数值”列填本年数字，“上年”列填上年数字（可不填）。",
    "只填数字：215，不写“215人”；百分比填 98 表示 98%；名次填 1 表示第一，“范围”列写 全市 或 全省。",
    "单位列已按指标目录填好；如数字以其他单位计（如元而非万元），改写单位列，程序会换算并提示。",
    "meta.* 行是报告信息：meta.year（年度，必填）、meta.region（地区，必填）等。",
    "honours（荣誉）、documents（文件）、partners（地名单位）、plans（下步打算）、highlights（必写句子）："
    "多项写在同一格，用“；”分隔或换行。",
    "自定义指标：新增一行，键以 custom. 开头，填写名称、单位、章节（opening/duty/systems/foundation/plans/closing/other）。",
    "不要合并单元格，不要用公式（如有公式，请复制后“选择性粘贴→数值”）。",
    "填好后运行：shuzhi metrics validate 本文件.xlsx",
)


def template_xlsx_bytes(profile: str = DEFAULT_PROFILE) -> bytes:
    import io

    import openpyxl
    from openpyxl.styles import Font

    catalog = load_catalog(profile)
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "指标"
    sheet.append(list(XLSX_HEADERS_ZH))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    meta_rows = (
        ("meta.year", "述职年度（必填）", _template_year()), ("meta.region", "地区（必填）", None),
        ("meta.level", "层级：县/区/乡镇", None), ("meta.unit", "单位", None),
        ("meta.reporter", "述职人姓名", None), ("meta.reporter_title", "述职人职务", None),
        ("meta.superiors", "述职对象，用“；”分隔", None), ("meta.date", "述职日期", None),
        ("meta.profile", "配置", profile),
    )
    for key, label, value in meta_rows:
        sheet.append([key, label, value, None, None, None, None, None])
    for e in catalog.values():
        sheet.append([e.key, e.label, None, e.unit, None, None, _rank_scope(profile) if e.kind == "rank" else None,
                      e.section])
    for name in LIST_FIELDS:
        sheet.append([name, LIST_LABELS[name], None, None, None, "多项用“；”分隔", None, None])
    for column, width in zip("ABCDEFGH", (36, 30, 12, 8, 12, 20, 8, 12), strict=True):
        sheet.column_dimensions[column].width = width
    sheet.freeze_panes = "A2"
    help_sheet = book.create_sheet("说明")
    for line in _XLSX_HELP:
        help_sheet.append([line])
    help_sheet.column_dimensions["A"].width = 110
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def write_template(path: str | Path, *, xlsx: bool = False, profile: str = DEFAULT_PROFILE,
                   force: bool = False) -> Path:
    """Write the metrics template (commented YAML, or XLSX with an instructions sheet), atomically.
    Refuses to replace an existing file unless `force`."""
    from pipeline.fsutil import atomic_write_bytes, atomic_write_text

    target = Path(path)
    if target.suffix.lower() == ".xlsx":
        xlsx = True
    elif xlsx:
        raise InputError("--xlsx 模板的文件名应以 .xlsx 结尾。", path=str(target))
    if target.exists() and not force:
        raise InputError("文件已存在，未覆盖；如确需覆盖请加 --force，或用 -o 指定其他文件名。", path=str(target))
    if xlsx:
        return atomic_write_bytes(target, template_xlsx_bytes(profile))
    return atomic_write_text(target, template_yaml(profile))


