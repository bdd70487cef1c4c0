"""Metrics file: loading YAML/JSON/XLSX, every problem at once with its line or cell, the template."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
import yaml

from pipeline.cli import run
from pipeline.errors import InputError
from pipeline.facts.metrics import (
    MetricsError,
    format_metric_value,
    load_metrics,
    load_metrics_sheet,
    metrics_from_mapping,
    validate_metrics_file,
)
from pipeline.facts.metrics_template import template_yaml, write_template
from pipeline.models import MetricValue
from pipeline.profile.catalog import load_catalog

FIXTURES = Path(__file__).parent / "fixtures" / "metrics"
CORPUS_METRICS = Path(__file__).resolve().parent.parent / "corpus" / "metrics"

HEAD = "meta:\n  year: 2023\n  region: 青岚县\nmetrics:\n"


def _write(tmp_path: Path, text: str, name: str = "m.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _errors(problems):
    return [p for p in problems if p.severity == "error"]


# --------------------------------------------------------------------------- good files


def test_good_yaml_loads_every_form():
    m = load_metrics(FIXTURES / "good.yaml")
    assert (m.meta.year, m.meta.region, m.meta.level) == (2023, "青岚县", "县")
    assert m.meta.superiors == ("市委", "市政府", "军分区党委")
    assert m.meta.date == "2024-01-12"
    assert m.meta.profile == "dangguan-wuzhuang"
    assert m.get("conscription.recruits").value == Decimal(215)
    primary = m.get("militia.primary")
    assert (primary.value, primary.previous, primary.unit, primary.section) == (
        Decimal(1800), Decimal(1750), "人", "systems")
    rank = m.get("ranking.conscription_five_rates")
    assert (rank.value, rank.previous, rank.scope, rank.kind) == (Decimal(1), Decimal(3), "全市", "rank")
    assert m.get("ranking.department_annual").scope == "全市"       # from the text 全市第一
    assert m.get("militia.training_rate").value is None
    assert m.get("militia.pass_rate").value == Decimal("98.6")      # not 98.59999…
    assert m.get("foundation.staff_funding").value == Decimal(45)   # "45万元" in a 万元 metric
    assert m.get("militia.ordinary").value == Decimal(21000)        # "2.1万" in a 人 metric
    funds = m.get("support.visit_funds")
    assert (funds.value, funds.previous) == (Decimal(120), Decimal("0.01"))   # 元 converted to 万元
    custom = m.get("custom.village_posts")
    assert (custom.label, custom.unit, custom.section, custom.kind, custom.custom) == (
        "村级民兵哨所", "个", "foundation", "count", True)
    assert m.honours == ("践行强军目标先进单位", "双拥模范县")          # quotes stripped
    assert m.documents == ("青岚县征兵工作20条措施",)                   # 《》 stripped
    assert m.partners == ("云溪镇竹坪村", "驻青岚某部")
    assert m.source.endswith("good.yaml")


def test_good_yaml_conversion_warnings_name_the_arithmetic():
    problems = validate_metrics_file(FIXTURES / "good.yaml")
    assert _errors(problems) == []
    assert [p.location for p in problems] == ["line 21", "line 21"]
    assert "1200000 ÷ 10000" in problems[0].message and "120万元" in problems[0].message


def test_json_loads_like_yaml():
    m = load_metrics(FIXTURES / "good.json")
    y = load_metrics(FIXTURES / "good.yaml")
    for key in ("conscription.recruits", "militia.primary", "ranking.conscription_five_rates",
                "militia.pass_rate", "custom.village_posts"):
        assert m.get(key) == y.get(key), key
    assert m.meta.superiors == y.meta.superiors


@pytest.mark.parametrize("path", sorted(CORPUS_METRICS.glob("*.yaml")), ids=lambda p: p.name)
def test_corpus_metrics_load_cleanly(path):
    assert _errors(validate_metrics_file(path)) == []
    metrics = load_metrics(path)
    assert metrics.meta.year and metrics.meta.region and metrics.values


def test_corpus_metrics_folder_is_not_empty():
    assert list(CORPUS_METRICS.glob("*.yaml")), "corpus/metrics has no metrics files"


def test_nested_metric_keys_are_accepted(tmp_path):
    path = _write(tmp_path, HEAD + "  conscription:\n    recruits: 215\n    college_ratio: {value: 40}\n")
    m = load_metrics(path)
    assert m.get("conscription.recruits").value == Decimal(215)
    assert m.get("conscription.college_ratio").value == Decimal(40)


def test_profile_from_file_wins_over_argument(tmp_path):
    path = _write(tmp_path, "meta:\n  year: 2023\n  region: 青岚县\n  profile: no-such-profile\nmetrics: {}\n")
    problems = validate_metrics_file(path, profile="dangguan-wuzhuang")
    assert any("no-such-profile" in p.message and p.location == "line 4" for p in problems)


# --------------------------------------------------------------------------- problems, table-driven

PROBLEM_CASES = [
    # (id, metrics lines after HEAD (or a whole file when it starts with "meta"), location, substring, severity)
    ("unknown key suggests nearest", "  conscription.recruit: 215\n", "line 5", "conscription.recruits", "error"),
    ("label typed as key", "  输送合格青年: 215\n", "line 5", "conscription.recruits", "error"),
    ("alias typed as key", "  基干民兵: 1800\n", "line 5", "militia.primary", "error"),
    ("text where a number belongs", "  militia.primary: 很多\n", "line 5", "应为数字，实际是“很多”", "error"),
    ("approximate figure", "  militia.primary: 约1800\n", "line 5", "确切的数字", "error"),
    ("boolean from yes", "  militia.primary: yes\n", "line 5", "布尔值", "error"),
    ("percent above 100", "  militia.training_rate: 120\n", "line 5", "超过 100%", "error"),
    ("percent as a fraction", "  militia.training_rate: 0.98\n", "line 5", "写成了小数", "warning"),
    ("negative count", "  militia.primary: -5\n", "line 5", "负数", "error"),
    ("fractional count", "  militia.primary: 12.5\n", "line 5", "不是整数", "error"),
    ("unit that does not fit", "  support.visit_funds: {value: 3, unit: 次}\n", "line 5", "单位“次”与指标单位“万元”不符", "error"),
    ("unit offered conversion", "  support.visit_funds: {value: 280000, unit: 元}\n", "line 5", "已换算为 28万元", "warning"),
    ("unit written in the value", "  support.visit_funds: 280000元\n", "line 5", "已换算为 28万元", "warning"),
    ("ambiguous 万 in a 万元 metric", "  support.visit_funds: 2.1万\n", "line 5", "歧义", "error"),
    ("rank as a target", "  ranking.department_annual: 前列\n", "line 5", "不是确切名次", "error"),
    ("rank zero", "  ranking.department_annual: 0\n", "line 5", "正整数", "error"),
    ("rank scope conflicts", "  ranking.department_annual: {value: 全省第一, scope: 全市}\n", "line 5", "不一致", "error"),
    ("unknown metric field", "  militia.primary: {value: 1800, prev: 1750}\n", "line 5", "previous", "error"),
    ("custom without section", "  custom.posts: {label: 村级民兵哨所, unit: 个, value: 12}\n", "line 5", "没有 section", "warning"),
    ("custom without label", "  custom.posts: {unit: 个, section: foundation, value: 12}\n", "line 5", "缺少 label", "error"),
    ("custom with a bad section", "  custom.posts: {label: 哨所, unit: 个, section: misc, value: 1}\n", "line 5", "section “misc”无效", "error"),
    ("duplicate key", "  militia.primary: 1800\n  militia.primary: 1900\n", "line 6", "重复（第 5 行 已有）", "error"),
    ("missing year", "meta:\n  region: 青岚县\nmetrics: {}\n", "line 1", "缺少 meta.year", "error"),
    ("missing region", "meta:\n  year: 2023\nmetrics: {}\n", "line 1", "缺少 meta.region", "error"),
    ("bad year", "meta:\n  year: 23\n  region: 青岚县\n", "line 2", "四位年份", "error"),
    ("unknown meta field", "meta:\n  year: 2023\n  region: 青岚县\n  yaer: 2023\n", "line 4", "“year”", "error"),
    ("bad date", "meta:\n  year: 2023\n  region: 青岚县\n  date: 明年一月\n", "line 4", "meta.date", "error"),
    ("unknown top-level field", HEAD + "  militia.primary: 1\nhonors: [双拥模范县]\n", "line 6", "honours", "error"),
    ("list of mappings", HEAD + "  militia.primary: 1\nhonours:\n  - {name: 双拥模范县}\n", "line 7", "一段文字", "error"),
]


@pytest.mark.parametrize(("body", "location", "needle", "severity"),
                         [c[1:] for c in PROBLEM_CASES], ids=[c[0] for c in PROBLEM_CASES])
def test_problem_is_reported_with_its_line(tmp_path, body, location, needle, severity):
    text = body if body.startswith("meta") else HEAD + body
    problems = validate_metrics_file(_write(tmp_path, text))
    matching = [p for p in problems if needle in p.message]
    assert matching, [str(p) for p in problems]
    assert (matching[0].location, matching[0].severity) == (location, severity), str(matching[0])


@pytest.mark.parametrize(("value", "expected", "scope"), [
    (3, Decimal(3), None), ("第一", Decimal(1), None), ("全市第一", Decimal(1), "全市"),
    ("全省第12名", Decimal(12), "全省"), ("排名全市第3", Decimal(3), "全市"), ("第十二", Decimal(12), None),
])
def test_rank_forms(tmp_path, value, expected, scope):
    path = _write(tmp_path, HEAD + f"  ranking.department_annual: {value}\n")
    rank = load_metrics(path).get("ranking.department_annual")
    assert (rank.value, rank.scope) == (expected, scope)


@pytest.mark.parametrize(("value", "expected"), [
    ("1,800", Decimal(1800)), ("１８００", Decimal(1800)), ("一千八百", Decimal(1800)),
    ("1800人", Decimal(1800)), ("1800名", Decimal(1800)), ("0.18万人", Decimal(1800)), (1800, Decimal(1800)),
])
def test_count_forms(tmp_path, value, expected):
    path = _write(tmp_path, HEAD + f"  militia.primary: {value}\n")
    assert load_metrics(path).get("militia.primary").value == expected


def test_every_problem_is_reported_at_once():
    problems = validate_metrics_file(FIXTURES / "problems.yaml")
    errors = _errors(problems)
    found = {(p.location, key) for p in errors for key in (
        "yaer", "meta.year", "conscription.recruits", "100%", "负数", "不符", "重复") if key in p.message}
    assert found == {
        ("line 4", "yaer"), ("line 2", "meta.year"), ("line 6", "conscription.recruits"),
        ("line 7", "100%"), ("line 8", "负数"), ("line 9", "不符"), ("line 10", "重复"),
    }
    with pytest.raises(MetricsError) as info:
        load_metrics(FIXTURES / "problems.yaml")
    assert len(_errors(info.value.problems)) == len(errors)
    message = str(info.value)
    assert f"{len(errors)} 处错误" in message
    assert "第 9 行" in message and "第 10 行" in message
    assert isinstance(info.value, InputError)


# --------------------------------------------------------------------------- broken files


@pytest.mark.parametrize(("name", "text", "needle", "location"), [
    ("bad.yaml", "meta:\n  year: 2023\n  region: [青岚县\n", "YAML 格式错误", "line 4, column 1"),
    ("bad_indent.yaml", "meta:\n  year: 2023\n region: 青岚县\n", "YAML 格式错误", "line 3, column 2"),
    ("empty.yaml", "", "文件是空的", ""),
    ("list.yaml", "- 1\n- 2\n", "顶层应是映射", ""),
    ("bad.json", '{"meta": {"year": 2023,}}\n', "JSON 格式错误", "line 1, column 24"),
    ("empty.json", "  \n", "文件是空的", ""),
])
def test_broken_files_give_a_located_error(tmp_path, name, text, needle, location):
    path = _write(tmp_path, text, name)
    problems = validate_metrics_file(path)
    assert len(problems) == 1 and needle in problems[0].message and problems[0].location == location
    with pytest.raises(MetricsError):
        load_metrics(path)


@pytest.mark.parametrize(("name", "needle"), [("m.txt", "不支持"), ("m.xls", "另存为 .xlsx"), ("missing.yaml", "找不到")])
def test_unsupported_or_missing_file(tmp_path, name, needle):
    path = tmp_path / name
    if name != "missing.yaml":
        path.write_text("x", encoding="utf-8")
    with pytest.raises(InputError, match=needle):
        load_metrics(path)


def test_gb18030_yaml_is_read(tmp_path):
    path = tmp_path / "gbk.yaml"
    path.write_bytes((HEAD + "  militia.primary: 1800\n").encode("gb18030"))
    assert load_metrics(path).meta.region == "青岚县"


def test_json_duplicate_key_and_lines():
    problems = validate_metrics_file(FIXTURES / "duplicate.json")
    assert [(p.location, "重复" in p.message) for p in problems] == [("line 5", True)]


def test_json_problem_lines(tmp_path):
    path = _write(tmp_path, '{\n  "meta": {"year": 2023, "region": "青岚县"},\n  "metrics": {\n'
                            '    "militia.primary": -1,\n    "militia.training_rate": {"value": 101}\n  }\n}\n',
                  "m.json")
    located = sorted((p.location, p.message[:15]) for p in _errors(validate_metrics_file(path)))
    assert [loc for loc, _ in located] == ["line 4", "line 5"]


# --------------------------------------------------------------------------- Excel


def _xlsx(tmp_path: Path, rows: list[list], header=("key", "label", "value", "unit", "previous", "note"),
          name: str = "m.xlsx", edit=None) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    if header:
        sheet.append(list(header))
    for row in rows:
        sheet.append(row)
    if edit:
        edit(sheet)
    path = tmp_path / name
    book.save(path)
    return path


BASE_ROWS = [["meta.year", "年度", 2023], ["meta.region", "地区", "青岚县"]]


def test_xlsx_loads_meta_metrics_and_lists(tmp_path):
    path = _xlsx(tmp_path, BASE_ROWS + [
        ["meta.superiors", "", "市委；市政府；军分区党委"],
        ["conscription.recruits", "输送合格青年", 215, "人", 200, "含大学生"],
        ["militia.pass_rate", "合格率", 98.5, "%"],
        ["veterans.self_employed_funding", "补助", 1200000, "元"],
        ["custom.posts", "村级民兵哨所", 12, "个"],
        ["honours", "荣誉", "践行强军目标先进单位；“双拥模范县”"],
        ["documents", "文件", "青岚县征兵工作20条措施\n青岚县民兵整组方案"],
    ])
    m = load_metrics(path)
    assert (m.meta.year, m.meta.region, m.meta.superiors) == (2023, "青岚县", ("市委", "市政府", "军分区党委"))
    recruits = m.get("conscription.recruits")
    assert (recruits.value, recruits.previous, recruits.note) == (Decimal(215), Decimal(200), "含大学生")
    assert m.get("militia.pass_rate").value == Decimal("98.5")
    assert m.get("veterans.self_employed_funding").value == Decimal(120)
    assert m.get("custom.posts").section == "other"
    assert m.honours == ("践行强军目标先进单位", "双拥模范县")
    assert m.documents == ("青岚县征兵工作20条措施", "青岚县民兵整组方案")
    warnings = [p for p in validate_metrics_file(path) if p.severity == "warning"]
    assert {p.location for p in warnings} == {"cell C7", "cell A8"}   # conversion; custom without section


def test_xlsx_chinese_headers(tmp_path):
    path = _xlsx(tmp_path, BASE_ROWS + [["militia.primary", "基干民兵", 1800, "人", 1750]],
                 header=("指标", "名称", "数值", "单位", "上年", "备注"))
    assert load_metrics(path).get("militia.primary").previous == Decimal(1750)


@pytest.mark.parametrize(("rows", "edit", "location", "needle"), [
    ([["militia.primary", "基干民兵", "一千多", "人"]], None, "cell C4", "一千多"),
    ([["militia.primary", "基干民兵", "很多", "人"]], None, "cell C4", "应为数字，实际是“很多”"),
    ([["militia.primary", "基干民兵", "=1000+800", "人"]], None, "cell C4", "选择性粘贴→数值"),
    ([["militia.primary", "基干民兵", 1800, "次"]], None, "cell D4", "不符"),
    ([["militia.primary", "基干民兵", 1800], ["militia.primary", "基干民兵", 1900]], None, "cell A5", "重复"),
    ([["conscription.recruit", "", 215]], None, "cell A4", "conscription.recruits"),
    ([["militia.primary", "基干民兵", 1800]], lambda s: s.merge_cells("B4:C4"), "cell B4:C4", "合并单元格"),
])
def test_xlsx_problems_name_the_cell(tmp_path, rows, edit, location, needle):
    path = _xlsx(tmp_path, BASE_ROWS + rows, edit=edit)
    problems = validate_metrics_file(path)
    matching = [p for p in problems if needle in p.message]
    assert matching, [str(p) for p in problems]
    assert matching[0].location == location


def test_xlsx_without_header_lists_expected_headers(tmp_path):
    path = _xlsx(tmp_path, [["conscription.recruits", "x", 215]], header=None)
    problems = validate_metrics_file(path)
    assert len(problems) == 1
    assert "key | label | value | unit | previous | note" in problems[0].message
    assert "指标 | 名称 | 数值" in problems[0].message


def test_not_really_xlsx(tmp_path):
    path = _write(tmp_path, "not a zip", "m.xlsx")
    with pytest.raises(InputError, match="Excel"):
        load_metrics(path)


# --------------------------------------------------------------------------- mapping (web form, batch rows)


def test_metrics_from_mapping_nested_and_flat():
    nested = metrics_from_mapping({"meta": {"year": 2023, "region": "青岚县"},
                                   "metrics": {"conscription.recruits": "215"}}, source="form")
    flat = metrics_from_mapping({"meta.year": "2023", "meta.region": "青岚县", "conscription.recruits": 215,
                                 "conscription.recruits.previous": 200, "honours": "双拥模范县；践行强军目标先进单位"})
    assert nested.get("conscription.recruits").value == Decimal(215)
    assert (flat.get("conscription.recruits").value, flat.get("conscription.recruits").previous) == (
        Decimal(215), Decimal(200))
    assert flat.honours == ("双拥模范县", "践行强军目标先进单位")
    assert nested.source == "form"


def test_metrics_from_mapping_locations_are_field_names():
    with pytest.raises(MetricsError) as info:
        metrics_from_mapping({"meta": {"year": 2023, "region": "青岚县"},
                              "metrics": {"militia.training_rate": 150}}, source="form")
    [problem] = info.value.problems
    assert problem.location == "field metrics.militia.training_rate.value"
    assert problem.key == "militia.training_rate"


# --------------------------------------------------------------------------- formatting


@pytest.mark.parametrize(("metric", "text"), [
    (MetricValue("a", "输送", "人", "systems", "count", Decimal(215)), "215人"),
    (MetricValue("b", "补助", "万元", "systems", "money", Decimal("45.50")), "45.5万元"),
    (MetricValue("c", "参训率", "%", "systems", "percent", Decimal(98)), "98%"),
    (MetricValue("d", "排名", "名", "opening", "rank", Decimal(1), scope="全市"), "全市第一"),
    (MetricValue("e", "排名", "名", "opening", "rank", Decimal(12)), "第十二"),
    (MetricValue("f", "输送", "人", "systems", "count", None), "（未填）"),
])
def test_format_metric_value(metric, text):
    assert format_metric_value(metric) == text


# --------------------------------------------------------------------------- template


def test_yaml_template_lists_every_catalog_key_and_parses():
    text = template_yaml()
    for entry in load_catalog().values():
        line = next(line for line in text.splitlines() if line.strip().startswith(entry.key + ":"))
        assert entry.label in line and (entry.unit in line or entry.kind == "rank")
    data = yaml.safe_load(text)
    assert set(data["metrics"]) == set(load_catalog())


def test_yaml_template_validates_once_region_is_filled(tmp_path):
    path = write_template(tmp_path / "m.yaml")
    problems = _errors(validate_metrics_file(path))
    assert [("meta.region" in p.message) for p in problems] == [True]
    path.write_text(path.read_text(encoding="utf-8").replace("region: null", "region: 青岚县"), encoding="utf-8")
    metrics = load_metrics(path)
    assert len(metrics.values) == len(load_catalog())
    assert all(m.value is None for m in metrics.values)


def test_xlsx_template_has_all_keys_and_instructions(tmp_path):
    path = write_template(tmp_path / "m.xlsx", xlsx=True)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["指标", "说明"]
    keys = [row[0] for row in book["指标"].iter_rows(min_row=2, values_only=True)]
    assert set(load_catalog()) <= set(keys)
    book["指标"]["C3"] = "青岚县"      # meta.region
    filled = tmp_path / "filled.xlsx"
    book.save(filled)
    assert _errors(validate_metrics_file(filled)) == []
    assert len(load_metrics(filled).values) == len(load_catalog())


def test_template_refuses_to_overwrite(tmp_path):
    path = write_template(tmp_path / "m.yaml")
    path.write_text("mine", encoding="utf-8")
    with pytest.raises(InputError, match="--force"):
        write_template(path)
    assert path.read_text(encoding="utf-8") == "mine"
    write_template(path, force=True)
    assert "metrics:" in path.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- CLI


def test_cli_validate_clean(capsys):
    assert run(["metrics", "validate", str(FIXTURES / "good.json")]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "通过"


def test_cli_validate_errors(capsys):
    path = FIXTURES / "problems.yaml"
    assert run(["metrics", "validate", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert f"{path} 第 7 行: militia.training_rate.value：百分比 120% 超过 100%；请按百分数填写（98 表示 98%）。" in out
    assert out[-1].startswith("未通过：7 处错误")


def test_cli_validate_unsupported_file(tmp_path, capsys):
    assert run(["metrics", "validate", str(_write(tmp_path, "x", "m.txt"))]) == 1
    assert "不支持" in capsys.readouterr().err


def test_cli_init_yaml_and_xlsx(tmp_path, capsys):
    target = tmp_path / "out" / "m.yaml"
    assert run(["metrics", "init", "-o", str(target)]) == 0
    assert target.exists() and "已生成模板" in capsys.readouterr().out
    assert run(["metrics", "init", "-o", str(target)]) == 1
    assert "--force" in capsys.readouterr().err
    assert run(["metrics", "init", "-o", str(target), "--force"]) == 0
    assert run(["metrics", "init", "--xlsx", "-o", str(tmp_path / "m.xlsx")]) == 0
    assert openpyxl.load_workbook(tmp_path / "m.xlsx").sheetnames == ["指标", "说明"]


def test_problems_come_in_file_order():
    lines = [p.location for p in validate_metrics_file(FIXTURES / "problems.yaml")]
    assert lines == sorted(lines, key=lambda loc: int(loc.split()[1]))


def test_same_metric_in_flat_and_nested_form(tmp_path):
    path = _write(tmp_path, HEAD + "  conscription.recruits: 215\n  conscription:\n    recruits: 230\n")
    [problem] = _errors(validate_metrics_file(path))
    assert (problem.location, "写了两次（line 5 已有）" in problem.message) == ("line 7", True)


def test_xlsx_merged_title_above_header_is_fine(tmp_path):
    def add_title(sheet):
        sheet.insert_rows(1)
        sheet["A1"] = "青岚县2023年党管武装指标"
        sheet.merge_cells("A1:F1")

    path = _xlsx(tmp_path, BASE_ROWS + [["militia.primary", "基干民兵", "x", "人"]], edit=add_title)
    problems = validate_metrics_file(path)
    assert [(p.location, "应为数字" in p.message) for p in problems] == [("cell C5", True)]


def test_load_metrics_sheet_by_name(tmp_path):
    def second_sheet(sheet):
        other = sheet.parent.create_sheet("云溪镇")
        other.append(["指标", "名称", "数值"])
        for row in [["meta.year", "", 2023], ["meta.region", "", "云溪镇"], ["militia.primary", "", "很多"]]:
            other.append(row)

    path = _xlsx(tmp_path, BASE_ROWS + [["militia.primary", "基干民兵", 1800]], edit=second_sheet)
    assert load_metrics_sheet(path, "Sheet").get("militia.primary").value == Decimal(1800)
    with pytest.raises(MetricsError) as info:
        load_metrics_sheet(path, "云溪镇")
    assert [p.location for p in info.value.problems] == ["sheet 云溪镇 cell C4"]
    with pytest.raises(InputError, match="没有工作表“无此表”"):
        load_metrics_sheet(path, "无此表")


def test_metrics_error_survives_pickling():
    # Batch workers hand exceptions to the parent process by pickle.
    import pickle

    with pytest.raises(MetricsError) as info:
        load_metrics(FIXTURES / "problems.yaml")
    copy = pickle.loads(pickle.dumps(info.value))
    assert copy.problems == info.value.problems and str(copy) == str(info.value)


@pytest.mark.parametrize(("top", "suggested"), [("honors", "honours"), ("荣誉", "honours"), ("指标", "metrics")])
def test_unknown_top_level_suggests(tmp_path, top, suggested):
    problems = validate_metrics_file(_write(tmp_path, HEAD + f"  militia.primary: 1\n{top}: []\n"))
    assert [p.location for p in problems if f"是否想写“{suggested}”" in p.message] == ["line 6"]


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("“双拥模范县”", "双拥模范县"),
        ("《征兵工作细则》", "征兵工作细则"),
        ("打造“云上国防教育馆”", "打造“云上国防教育馆”"),
        ("“甲”和“乙”", "“甲”和“乙”"),
        ("征兵“五率”考评重回全市第一", "征兵“五率”考评重回全市第一"),
    ],
)
def test_list_items_lose_only_wrapping_marks(raw, stored):
    from pipeline.facts.metrics_rules import strip_wrapping_marks

    assert strip_wrapping_marks(raw) == stored


# --------------------------------------------------------------------------- metrics from-report

def test_from_report_drafts_a_valid_file_with_the_sentences(tmp_path, capsys):
    from decimal import Decimal

    import yaml

    from pipeline.cli import run

    root = Path(__file__).resolve().parent.parent
    target = tmp_path / "drafted.yaml"
    code = run(["metrics", "from-report", str(root / "corpus" / "reports" / "lanchuan-2024.txt"), "-o", str(target)])
    assert code == 0 and "已起草" in capsys.readouterr().out
    text = target.read_text(encoding="utf-8")
    assert "# 232人：" in text and "全年输送合格青年232人" in text          # the sentence as a comment
    assert validate_metrics_file(target) == [] or all(p.severity != "error" for p in validate_metrics_file(target))
    drafted = load_metrics(target)
    truth = load_metrics(root / "corpus" / "metrics" / "lanchuan-2024.yaml")
    assert drafted.meta.region == "岚川县" and drafted.meta.year == 2024
    values = [m for m in drafted.values if m.value is not None]
    assert len(values) >= 20
    for m in values:
        expected = truth.get(m.key).value
        assert m.value == expected or m.approx and abs(m.value - expected) <= expected * Decimal("0.05"), m.key
    data = yaml.safe_load(text)
    assert "全省征兵工作先进单位" in data["honours"]
    assert "岚川县民兵应急力量遂行任务预案" in data["documents"]
    # refuses to overwrite without --force
    assert run(["metrics", "from-report", str(root / "corpus" / "reports" / "lanchuan-2024.txt"), "-o", str(target)]) == 2


def test_metric_aliases_approx_and_units_are_validated(tmp_path):
    bad = tmp_path / "m.yaml"
    bad.write_text("""meta: {year: 2024, region: 桐湾县}
metrics:
  leadership.military_council_sessions: {value: 3, aliases: [议武会, 会]}
  leadership.problems_solved: {value: 17, unit: 项}
  education.events: {value: 20, approx: maybe}
  custom.days: {label: 每月军事日天数, unit: 天, section: systems, value: 4, aliases: 军事日、固定军事日}
""", encoding="utf-8")
    problems = validate_metrics_file(bad)
    messages = " ".join(p.message for p in problems if p.severity == "error")
    assert "“会”太短" in messages
    assert "approx 应为 true 或 false" in messages
    assert "problems_solved" not in messages            # 项 is in the catalog's unit family of 个
    good = tmp_path / "ok.yaml"
    good.write_text(bad.read_text(encoding="utf-8").replace(", 会]", "]").replace("approx: maybe", "approx: true"),
                    encoding="utf-8")
    metrics = load_metrics(good)
    assert metrics.get("leadership.military_council_sessions").aliases == ("议武会",)
    assert metrics.get("education.events").approx is True
    assert metrics.get("custom.days").aliases == ("军事日", "固定军事日")
    assert metrics.get("leadership.problems_solved").unit == "个"
    assert "项" in metrics.get("leadership.problems_solved").units
