"""The checker (pipeline.facts.check, pipeline.facts.align) and its renderers (pipeline.output.check_html)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from pipeline.errors import InputError
from pipeline.facts.align import quantity_bounds, value_agrees
from pipeline.facts.check import check_file, check_text
from pipeline.facts.metrics import load_metrics
from pipeline.models import BAD_VERDICTS, CheckResult, Finding, Quantity
from pipeline.output.check_html import render_check_html, render_check_table

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "check"
ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "corpus" / "reports" / "000_82892d5cb8a93b68.txt"


@pytest.fixture(scope="module")
def metrics():
    return load_metrics(FIXTURES / "qinglan_metrics.yaml")


@pytest.fixture(scope="module")
def report_text() -> str:
    return (FIXTURES / "qinglan_report.txt").read_text(encoding="utf-8")


def _at(result: CheckResult, needle: str, occurrence: int = 0) -> Finding:
    """The finding covering the `occurrence`-th appearance of `needle` in the checked text."""
    pos = -1
    for _ in range(occurrence + 1):
        pos = result.text.index(needle, pos + 1)
    hits = [f for f in result.findings if f.start < pos + len(needle) and pos < f.end]
    assert hits, f"no finding at {needle!r}: {[f.text for f in result.findings]}"
    return hits[0]


# --------------------------------------------------------------------------- done-when cases

def test_seed_reports_masked_figures_as_masked_and_nothing_else():
    seed_metrics = load_metrics(FIXTURES / "seed_metrics.yaml")
    result = check_file(SEED, FIXTURES / "seed_metrics.yaml")
    assert result.summary["masked"] == 15
    bad = [f for f in result.findings if f.verdict in BAD_VERDICTS and f.verdict != "masked"]
    assert bad == []
    for f in result.findings:
        if f.verdict == "masked":
            assert "*" in f.text
            if f.metric:
                assert seed_metrics.get(f.metric).value is None
    # the figures the author left in are proven
    assert _at(result, "合格率100％", 0).verdict == "supported" or _at(result, "100％").verdict == "supported"
    assert _at(result, "45万元").metric == "foundation.rural_support_funding"
    assert _at(result, "全市第一").verdict == "supported"


def test_clean_fixture_report_has_no_bad_findings(metrics, report_text):
    result = check_text(report_text, metrics)
    assert result.ok, [(f.text, f.verdict, f.reason) for f in result.findings if f.verdict in BAD_VERDICTS]
    quantities = [f for f in result.findings if f.kind == "quantity"]
    assert len(quantities) >= 15


def test_wrong_figure_is_named_with_its_metric(metrics, report_text):
    text = report_text.replace("输送合格青年215人", "输送合格青年251人")
    result = check_text(text, metrics)
    finding = _at(result, "251人")
    assert finding.verdict == "contradicted"
    assert finding.metric == "conscription.recruits"
    assert finding.expected == "215人"
    assert finding.found == "251人"
    assert "输送合格青年" in finding.reason
    assert [f for f in result.findings if f.verdict in BAD_VERDICTS] == [finding]


# --------------------------------------------------------------------------- verdicts, table-driven

CASES = [
    # (sentence, figure text, verdict, metric)
    ("基干民兵精简至1560人。", "1560人", "supported", "militia.primary"),
    ("基干民兵精简至1580人。", "1580人", "stale", "militia.primary"),
    ("基干民兵精简至1600人。", "1600人", "contradicted", "militia.primary"),
    ("基干民兵参训率达到98％。", "98％", "supported", "militia.training_rate"),
    ("基干民兵参训率达到96%。", "96%", "stale", "militia.training_rate"),
    ("基干民兵参训率达到91％。", "91％", "contradicted", "militia.training_rate"),
    ("拨付105万元补助退役士兵。", "105万元", "supported", "veterans.self_employed_funding"),
    ("拨付1050000元补助退役士兵。", "1050000元", "supported", "veterans.self_employed_funding"),
    ("拨付105元补助退役士兵。", "105元", "contradicted", "veterans.self_employed_funding"),
    ("普通民兵2.1万人。", "2.1万人", "supported", "militia.ordinary"),
    ("普通民兵两万余人。", "两万余人", "supported", "militia.ordinary"),
    ("普通民兵2.4万人。", "2.4万人", "contradicted", "militia.ordinary"),
    ("人武部年度综合考核排名全市第二。", "全市第二", "supported", "ranking.department_annual"),
    ("人武部年度综合考核排名全市第五。", "全市第五", "contradicted", "ranking.department_annual"),
    ("人武部年度综合考核排名全省第二。", "全省第二", "contradicted", "ranking.department_annual"),
    ("征兵工作“五率”考评排名全市第三。", "全市第三", "stale", "ranking.conscription_five_rates"),
    ("征兵工作“五率”考评排名由上年的全市第3名跃升至第一。", "第3名", "supported", "ranking.conscription_five_rates"),
    ("向部队输送合格青年***人。", "***人", "masked", "conscription.recruits"),
    ("基干民兵1560人，比上年减少20人。", "20人", "derived", "militia.primary"),
    ("基干民兵1560人，比上年减少35人。", "35人", "contradicted", "militia.primary"),
    ("输送合格青年215人，同比增长8.6%。", "8.6%", "derived", "conscription.recruits"),
    ("参训率比上年提高2个百分点。", "2个百分点", "derived", "militia.training_rate"),
    ("新建民兵哨所7个。", "7个", "unsupported", None),
    ("征兵工作“五率”考评排名全市第一，提升2个位次。", "2个", "derived", "ranking.conscription_five_rates"),
    ("征兵工作“五率”考评排名全市第一，提升3个位次。", "3个", "contradicted", "ranking.conscription_five_rates"),
    ("坚持发展和安全两件大事一起抓。", None, None, None),
    ("向部队输送合格青年215人，比去年多输送17人。", "17人", "derived", "conscription.recruits"),
    ("向部队输送合格青年215人，比去年多输送20人。", "20人", "contradicted", "conscription.recruits"),
    ("投入乡村振兴资金45万元，是上年的1.1倍。", "1.1倍", "derived", "foundation.rural_support_funding"),
    ("投入乡村振兴资金45万元，是上年的1.5倍。", "1.5倍", "contradicted", "foundation.rural_support_funding"),
    ("全年召开县委常委会专题研究武装工作5次。", "5次", "supported", "leadership.standing_committee_sessions"),
    ("要求县委常委会每半年至少专题研究一次武装工作。", None, None, None),
    ("2023年，全县上下团结一心。", None, None, None),
    ("庆祝建党一百周年。", None, None, None),
    # 个百分点 is a difference of two percents: never another metric's growth rate (民兵单位 36 vs 33 is
    # +9.1 %), and only from the percent metric the sentence names.
    ("大学生征集比例62.5%，提高9个百分点。", "9个百分点", "contradicted", "conscription.college_ratio"),
    ("大学生征集比例62.5%，提高2.5个百分点。", "2.5个百分点", "derived", "conscription.college_ratio"),
    ("全县工作稳中有进，提高9个百分点。", "9个百分点", "unsupported", None),
    # a clause with its own words (岗位就业) or none: not the metric an earlier figure already states
    ("补助190名退役士兵自谋职业，安排31名退役士兵到国有企业岗位就业。", "31名", "supported",
     "veterans.job_placements"),
    ("补助190名退役士兵自谋职业，另有31名退役士兵进入机关事业单位。", "31名", "supported",
     "veterans.job_placements"),
    ("补助190名退役士兵自谋职业，另有35名退役士兵进入机关事业单位。", "35名", "unsupported", None),
    # a change in 名 after a money metric named more strongly: held against the people count
    ("拨付自谋职业补助105万元，补助190名退役士兵自谋职业，比上年增加9名。", "9名", "derived",
     "veterans.self_employed"),
    ("拨付自谋职业补助105万元，补助190名退役士兵自谋职业，比上年增加31名。", "31名", "contradicted",
     "veterans.self_employed"),
    # tenths: 六成 is 60 % ± 5, 超过六成 is at least 60 %
    ("大学生征集比例超过六成。", "超过六成", "supported", "conscription.college_ratio"),
    ("大学生征集比例超过七成。", "超过七成", "contradicted", "conscription.college_ratio"),
    ("大学生征集比例约六成。", "约六成", "supported", "conscription.college_ratio"),
    ("大学生征集比例达到**成。", "**成", "masked", "conscription.college_ratio"),
]


@pytest.mark.parametrize(("sentence", "figure", "verdict", "metric"), CASES)
def test_verdict_of_a_figure(metrics, sentence, figure, verdict, metric):
    result = check_text(sentence, metrics)
    quantities = [f for f in result.findings if f.kind == "quantity"]
    if figure is None:
        assert quantities == []
        return
    finding = _at(result, figure)
    assert (finding.verdict, finding.metric) == (verdict, metric), finding.reason
    assert finding.reason
    assert result.text[finding.start:finding.end] == finding.text


@pytest.mark.parametrize(("sentence", "figure", "verdict"), [
    ("民兵比武实现四连冠。", "四连冠", "supported"),
    ("民兵比武实现五连冠。", "五连冠", "contradicted"),
    ("征兵宣传片获奖，实现四连冠。", "四连冠", "supported"),   # the unit word alone names the metric
])
def test_custom_metric_is_aligned_by_its_own_words(metrics, sentence, figure, verdict):
    """A custom metric has no catalog aliases: the words of its label stand in (`民兵比武连冠` ← `连冠`)."""
    from dataclasses import replace

    from pipeline.models import MetricValue

    streak = MetricValue(key="custom.drill_streak", label="民兵比武连冠", unit="次", section="opening",
                         kind="count", value=Decimal(4), custom=True)
    with_custom = replace(metrics, values=(*metrics.values, streak))
    finding = _at(check_text(sentence, with_custom), figure)
    assert (finding.verdict, finding.metric) == (verdict, "custom.drill_streak"), finding.reason


@pytest.mark.parametrize(("sentence", "figure", "verdict", "metric"), [
    ("春节前夕走访慰问困难军属和优抚对象64户次。", "64户次", "supported", "support.visits"),
    ("春节前夕走访慰问困难军属和优抚对象71户次。", "71户次", "contradicted", "support.visits"),
    ("春节前夕走访慰问驻地部队64次。", "64次", "supported", "support.visits"),
    # 人次 counts heads, not visits: it stays out of the 次 family
    ("春节前夕走访慰问困难军属和优抚对象64人次。", "64人次", "unsupported", None),
])
def test_household_visits_count_as_visits(metrics, sentence, figure, verdict, metric):
    """`户次` (household visits) is a count of visits, held against a metric kept in 次."""
    from dataclasses import replace

    from pipeline.models import MetricValue

    visits = MetricValue(key="support.visits", label="走访慰问驻地部队及优抚对象", unit="次", section="systems",
                         kind="count", value=Decimal(64))
    with_visits = replace(metrics, values=(*metrics.values, visits))
    finding = _at(check_text(sentence, with_visits), figure)
    assert (finding.verdict, finding.metric) == (verdict, metric), finding.reason


def test_swapped_values_are_both_contradicted(metrics):
    text = "拨付105万元补助31名退役士兵自谋职业，190名退役士兵实现岗位安置。"
    result = check_text(text, metrics)
    first, second = _at(result, "31名"), _at(result, "190名")
    assert (first.verdict, first.metric) == ("contradicted", "veterans.self_employed")
    assert (second.verdict, second.metric) == ("contradicted", "veterans.job_placements")


def test_respectively_maps_figures_to_metrics_in_order(metrics):
    ok = check_text("参训率、合格率分别达到98%和100%。", metrics)
    assert (_at(ok, "98%").verdict, _at(ok, "98%").metric) == ("supported", "militia.training_rate")
    assert (_at(ok, "100%").verdict, _at(ok, "100%").metric) == ("supported", "militia.pass_rate")
    swapped = check_text("参训率、合格率分别达到100%和98%。", metrics)
    assert [f.verdict for f in swapped.findings if f.kind == "quantity"] == ["contradicted", "contradicted"]


def test_report_in_another_style_is_clean():
    """A hand-written report unlike the corpus (Chinese numerals, 分别, 倍, 位次, （一）): no false findings."""
    other = load_metrics(FIXTURES / "baishi_metrics.yaml")
    text = (FIXTURES / "baishi_report.txt").read_text(encoding="utf-8")
    result = check_text(text, other)
    assert result.ok, [(f.text, f.verdict, f.reason) for f in result.findings if f.verdict in BAD_VERDICTS]
    assert result.summary["derived"] == 5
    wrong = check_text(text.replace("一千二百五十人", "一千三百人"), other)
    finding = _at(wrong, "一千三百人")
    assert (finding.verdict, finding.metric) == ("stale", "militia.primary")


def test_prior_metrics_fill_missing_previous(metrics):
    prior = load_metrics(FIXTURES / "qinglan_metrics.yaml")
    text = "受教育群众4.5万人次。"
    assert _at(check_text(text, metrics), "4.5万人次").verdict == "supported"
    stale_text = "受教育群众3.9万人次。"
    assert _at(check_text(stale_text, metrics), "3.9万人次").verdict == "contradicted"
    # Last year's metrics said 39,000: the same figure this year is stale.
    from dataclasses import replace

    prior = replace(prior, values=tuple(
        replace(m, value=Decimal(39000)) if m.key == "education.participants" else m for m in prior.values))
    finding = _at(check_text(stale_text, metrics, prior=prior), "3.9万人次")
    assert finding.verdict == "stale"
    assert "上年" in finding.reason


def test_figure_from_a_past_report_is_stale(metrics):
    text = "人武部与云溪镇竹坪村开展联建，受教育群众3.6万人次。"
    past = [("国防教育广泛开展，受教育群众3.6万人次。", 2022)]
    assert _at(check_text(text, metrics), "3.6万人次").verdict == "contradicted"
    finding = _at(check_text(text, metrics, past_texts=past), "3.6万人次")
    assert finding.verdict == "stale"
    assert "2022年" in finding.reason


def test_plans_figure_against_the_data_plans(metrics):
    ok = check_text("一是进一步压实责任，力争征兵“五率”考评保持全市第一。", metrics)
    assert _at(ok, "全市第一").verdict == "supported"


# --------------------------------------------------------------------------- names

NAME_CASES = [
    ("被军分区表彰为“践行强军目标先进单位”。", "践行强军目标先进单位", "supported", "honour"),
    ("荣获“全国双拥模范县”称号。", "全国双拥模范县", "unsupported", "honour"),
    ("荣获“双拥模范城”。", "双拥模范城", "unsupported", "honour"),
    ("出台《青岚县征兵工作20条措施》。", "青岚县征兵工作20条措施", "supported", "document"),
    ("坚持贯彻《国防教育法》。", "国防教育法", "supported", "document"),
    ("出台《石门县征兵办法》。", "石门县征兵办法", "unsupported", "document"),
    ("人武部与云溪镇竹坪村开展联建。", "竹坪村", "supported", "name"),
    ("人武部与石门乡柳塘村开展联建。", "柳塘村", "unsupported", "name"),
    ("走访慰问驻青岚某部官兵。", "驻青岚某部", "supported", "name"),
    ("走访慰问驻石门某部官兵。", "驻石门某部", "unsupported", "name"),
    ("与鹤浦职业技术学院开通体检绿色通道。", "鹤浦职业技术学院", "unsupported", "name"),
    # a bare village opening a list item, or right after a whole verb, whose 村 is followed by 组织/民兵
    # a title someone strives for is a goal: it need not be among the honours already won
    ("下一步将力争创建“全省国防教育示范县”。", "全省国防教育示范县", None, "honour"),
    ("成功创建“全省国防教育示范县”。", "全省国防教育示范县", "unsupported", "honour"),
    ("3、石岗村组织民兵开展巡河护堤。", "石岗村", "unsupported", "name"),
    ("二是依靠柳塘村民兵连开展防汛演练。", "柳塘村", "unsupported", "name"),
    # a rare character before 木村: the name is X木 + 村, although 木村 alone is a dictionary word
    ("帮扶槠木村修建民兵之家。", "槠木村", "unsupported", "name"),
    ("到槠木村走访困难退役军人。", "槠木村", "unsupported", "name"),
]


def test_target_title_is_supported_when_in_plans(metrics):
    from dataclasses import replace

    planned = replace(metrics, plans=("争创全省国防教育示范县",))
    finding = _at(check_text("明年争创“全省国防教育示范县”。", planned), "全省国防教育示范县")
    assert (finding.verdict, finding.kind) == ("supported", "honour")


@pytest.mark.parametrize(("sentence", "needle", "verdict", "kind"), NAME_CASES)
def test_names_are_held_against_the_data(metrics, sentence, needle, verdict, kind):
    result = check_text(sentence, metrics)
    if verdict is None:
        assert [f for f in result.findings if f.kind == kind and f.verdict in BAD_VERDICTS] == []
        return
    finding = _at(result, needle)
    assert (finding.verdict, finding.kind) == (verdict, kind), finding.reason


@pytest.mark.parametrize("sentence", [
    "按照“尽职责、抓协调、办实事”的原则，落实“军事日”活动。",
    "征兵“五率”考评稳步提升，“八一”“春节”期间走访慰问。",
    "推动全县乡镇党委落实责任，县委常委会专题研究，纳入乡镇年度考核。",
    "修缮村级活动场所，推进乡村振兴，硬化通村道路。",
    "在军分区党委领导下，深入营区、城区、社区开展工作。",
    # verb + result complement glued to the next phrase's 镇/乡/村 (做强 + 镇民兵…)
    "全面做强镇民兵应急分队，编实建强乡基干民兵排，选优配齐村民兵连长。",
    # a common noun or a verb before 街道/中学 is no name; a word running past 中学 (集中学习) is no school
    "县领导分片联系街道和社区，督导民兵整组。",
    "项目\u3000\u3000单位\u3000\u3000本年\n编组街道\u3000\u3000个\u3000\u300012",
    "县委常委会中心组集中学习强军思想。",
    "在县职业中学和县实验中学设立征兵工作站。",
])
def test_slogans_and_phrases_are_not_findings(metrics, sentence):
    result = check_text(sentence, metrics)
    assert [f for f in result.findings if f.verdict in BAD_VERDICTS] == []


# --------------------------------------------------------------------------- comparing values

@pytest.mark.parametrize(("value", "unit", "approx", "lower", "upper", "text", "truth", "agrees"), [
    ("21000", "人", True, "20500", "21500", "2.1万人", "21034", True),
    ("21000", "人", True, "20500", "21500", "2.1万人", "23000", False),
    ("2000", "人", True, "2000", None, "两千余人", "2600", True),
    ("2000", "人", True, "2000", None, "两千余人", "3100", False),
    ("1", "次", True, "1", None, "至少一次", "5", True),
    ("45", "万元", False, None, None, "45万元", "450000", True),
    ("45", "元", False, None, None, "45元", "450000", False),
    ("98", "%", False, None, None, "98％", "98", True),
    ("98", "%", False, None, None, "98％", "97", False),
])
def test_value_agreement_respects_rounding_and_bounds(value, unit, approx, lower, upper, text, truth, agrees):
    q = Quantity(start=0, end=len(text), text=text, value=Decimal(value), unit=unit,
                 kind="percent" if unit == "%" else ("money" if "元" in unit else "count"), approx=approx,
                 lower=Decimal(lower) if lower else None, upper=Decimal(upper) if upper else None)
    assert value_agrees(q, Decimal(truth), text) is agrees
    assert quantity_bounds(q, text) is not None


# --------------------------------------------------------------------------- inputs and outputs

def test_check_file_reads_gbk_and_rejects_empty(tmp_path, report_text):
    gbk = tmp_path / "gbk.txt"
    gbk.write_bytes(report_text.encode("gbk"))
    result = check_file(gbk, FIXTURES / "qinglan_metrics.yaml")
    assert result.ok and result.source.endswith("gbk.txt")
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        check_file(empty, FIXTURES / "qinglan_metrics.yaml")
    assert "empty.txt" in str(info.value)


def test_json_shape(metrics, report_text):
    result = check_text(report_text.replace("98％", "90％"), metrics)
    data = json.loads(json.dumps(result.to_json(), ensure_ascii=False))
    assert set(data) == {"summary", "findings"}
    assert data["summary"]["contradicted"] == 1
    assert set(data["findings"][0]) == {"start", "end", "text", "verdict", "metric", "expected", "found", "reason"}
    starts = [f["start"] for f in data["findings"]]
    assert starts == sorted(starts)


def test_html_escapes_report_text_and_colours_verdicts(metrics):
    text = "基干民兵精简至1600人<script>alert(1)</script><img src=x onerror=alert(2)>，参训率达到98％。"
    result = check_text(text, metrics)
    page = render_check_html(result, title="核对<结果>")
    assert "<script>" not in page and "onerror=alert" not in page.replace("onerror=alert(2)&gt;", "")
    assert "&lt;script&gt;" in page and "&lt;img src=x onerror=alert(2)&gt;" in page
    assert "核对&lt;结果&gt;" in page
    assert 'class="f v-contradicted"' in page and 'class="f v-supported"' in page
    assert "@media print" in page and "http" not in page.split("<body>")[0]
    assert "“基干民兵”在数据中是1560人" in page        # the reason travels with the figure


def test_terminal_table_lists_problems_and_summary(metrics):
    result = check_text("基干民兵精简至1600人，参训率达到98％。", metrics)
    table = render_check_table(result)
    assert "1600人" in table and "militia.primary" in table and "1560人" in table
    assert "98％" not in table                       # supported figures only with --all
    assert "98％" in render_check_table(result, all_findings=True)
    assert "矛盾 1" in table


# --------------------------------------------------------------------------- text tables

_TABLE_HEAD = "项目\u3000\u3000单位\u3000\u3000本年\u3000\u3000上年\n"
_YEAR_HEAD = "指标\t单位\t2023年\t2022年\n"

TABLE_CASES = [
    # (table text, figure, occurrence, verdict, metric)
    (_TABLE_HEAD + "基干民兵\u3000\u3000人\u3000\u30001560\u3000\u30001580\n", "1560", 0, "supported", "militia.primary"),
    (_TABLE_HEAD + "基干民兵\u3000\u3000人\u3000\u30001560\u3000\u30001580\n", "1580", 0, "supported", "militia.primary"),
    (_YEAR_HEAD + "基干民兵\t人\t1580\t1580\n", "1580", 0, "stale", "militia.primary"),
    (_YEAR_HEAD + "基干民兵\t人\t1580\t1580\n", "1580", 1, "supported", "militia.primary"),
    (_TABLE_HEAD + "民兵参训率\u3000\u3000%\u3000\u300098\u3000\u300091\n", "91", 0, "contradicted",
     "militia.training_rate"),
    ("项目  单位  今年  去年\n输送新兵  人  230  198\n", "230", 0, "contradicted", "conscription.recruits"),
    ("项目  单位  今年  去年\n输送新兵  人  215  198\n", "198", 0, "supported", "conscription.recruits"),
    (_TABLE_HEAD + "基干民兵\u3000\u3000人\u3000\u3000***\u3000\u30001580\n", "***", 0, "masked", "militia.primary"),
    # no header: every figure column is read as this year's
    ("编兵单位\u3000个\u300036\n普通民兵\u3000人\u300021034\n", "21034", 0, "supported", "militia.ordinary"),
]


@pytest.mark.parametrize(("table", "figure", "occurrence", "verdict", "metric"), TABLE_CASES)
def test_text_table_rows_are_aligned_by_label_and_column(metrics, table, figure, occurrence, verdict, metric):
    """A row of a typed table names its metric in the first cell; a 上年/去年 column holds last year's figures."""
    finding = _at(check_text(table, metrics), figure, occurrence)
    assert (finding.verdict, finding.metric) == (verdict, metric), finding.reason


@pytest.mark.parametrize(("sentence", "figure", "verdict"), [
    ("全县营区建设资金总投资3000万元。", "3000万元", "supported"),
    ("营区建设总投资达到3200万元。", "3200万元", "contradicted"),
])
def test_custom_money_metric_near_its_words(metrics, sentence, figure, verdict):
    finding = _at(check_text(sentence, _with_custom_money(metrics)), figure)
    assert (finding.verdict, finding.metric) == (verdict, "custom.barracks_total"), finding.reason


def test_custom_money_metric_not_claimed_by_a_far_word(metrics):
    """Only one of the label's words (资金), far back in a long sentence: the figure is not that metric's."""
    text = "争取上级资金修通了连接结对村的机耕道路，又帮助村里办起茶叶合作社，村集体年收入突破三十万元。"
    finding = _at(check_text(text, _with_custom_money(metrics)), "三十万元")
    assert finding.metric != "custom.barracks_total", finding.reason
    assert finding.verdict != "contradicted", finding.reason


def _with_custom_money(metrics):
    from dataclasses import replace

    from pipeline.models import MetricValue

    total = MetricValue(key="custom.barracks_total", label="营区建设资金总投资", unit="万元", section="foundation",
                        kind="money", value=Decimal(3000), custom=True)
    return replace(metrics, values=(*metrics.values, total))


# --------------------------------------------------------------------------- issue 11: real-report gaps

@pytest.fixture(scope="module")
def shared_metrics():
    return load_metrics(FIXTURES / "shared_noun_metrics.yaml")


SHARED_NOUN_CASES = [
    # the nearer qualifier decides between two metrics that share a noun
    ("今年提拔1名民兵连长，配齐14名民兵连长。", "14名", "supported", "custom.staffed_commanders"),
    ("今年提拔1名民兵连长，配齐1名民兵连长。", "配齐1名", "contradicted", "custom.staffed_commanders"),
    ("今年提拔14名民兵连长。", "14名", "contradicted", "custom.promoted_commanders"),
    ("春季征兵大学生比例50.93%，夏秋季征兵大学生比例53.7%。", "53.7%", "supported", "custom.autumn_college_ratio"),
    ("春季征兵大学生比例50.93%，夏秋季征兵大学生比例50.93%。", "夏秋季征兵大学生比例50.93%", "contradicted",
     "custom.autumn_college_ratio"),
    # durations and ages are checked like counts when a metric of that unit exists
    ("每月确定4天为军事日。", "4天", "supported", "custom.military_days"),
    ("每月确定7天为军事日。", "7天", "contradicted", "custom.military_days"),
    ("专武干部平均年龄33岁。", "33岁", "supported", "custom.average_age"),
    ("专武干部平均年龄44岁。", "44岁", "contradicted", "custom.average_age"),
    ("征集年龄上限为18—35周岁。", "18—35周岁", "supported", "custom.recruit_age_limit"),
    ("征集年龄上限为18—40周岁。", "18—40周岁", "contradicted", "custom.recruit_age_limit"),
    # approximate words have a documented tolerance: 近20 covers 18–20, 近23 does not cover 20
    ("开展国防教育活动近20场次。", "近20场次", "supported", "education.events"),
    ("开展国防教育活动近23场次。", "近23场次", "contradicted", "education.events"),
    # aliases of a file, unit families of the catalog, approximate data
    ("召开议武会3次。", "3次", "supported", "leadership.military_council_sessions"),
    ("协调解决武装工作实际问题17项。", "17项", "supported", "leadership.problems_solved"),
    ("协调解决武装工作实际问题19项。", "19项", "contradicted", "leadership.problems_solved"),
    ("群众大会参加人数3100人。", "3100人", "supported", "custom.rally_crowd"),
    ("群众大会参加人数4000人。", "4000人", "contradicted", "custom.rally_crowd"),
]


@pytest.mark.parametrize(("sentence", "needle", "verdict", "metric"), SHARED_NOUN_CASES)
def test_real_report_gaps(shared_metrics, sentence, needle, verdict, metric):
    result = check_text(sentence, shared_metrics)
    finding = _at(result, needle)
    assert (finding.verdict, finding.metric) == (verdict, metric), finding.reason


def test_framing_figure_no_words_align_is_left_alone(shared_metrics):
    result = check_text("凡年满18周岁的男性公民均已登记。", shared_metrics)
    assert [f for f in result.findings if f.verdict in BAD_VERDICTS] == []


def test_secondary_alignment_needs_a_close_score(metrics):
    """A figure its clause names as one metric is not excused because a far weaker match has its value:
    in `参训民兵的考核合格率98%` the 合格率 (score 4.5) outweighs the 参训 of 参训率 (0.67), so 98% is the
    pass rate, which is 100%. Dropping the 0.8 × best threshold in `_against` turns this into "supported"."""
    result = check_text("参训民兵的考核合格率98%。", metrics)
    finding = _at(result, "98%")
    assert (finding.verdict, finding.metric) == ("contradicted", "militia.pass_rate"), finding.reason


@pytest.mark.parametrize(("sentence", "needle", "verdict"), [
    ("征兵“五率”考评保持全省前列。", "全省前列", "supported"),          # 全省第2名
    ("征兵“五率”考评保持全市前列。", "全市前列", "contradicted"),        # the scope is 全省
    ("征兵“五率”考评进入全省前三名。", "前三名", "supported"),
    ("征兵“五率”考评进入全市前三名。", "前三名", "contradicted"),
])
def test_qualitative_ranks_against_the_rank_metric_and_scope(shared_metrics, sentence, needle, verdict):
    finding = _at(check_text(sentence, shared_metrics), needle)
    assert (finding.verdict, finding.metric) == (verdict, "ranking.conscription_five_rates"), finding.reason


def test_front_rank_without_a_rank_metric_named_is_no_finding(shared_metrics):
    result = check_text("民兵应急排建设走在全省前列。", shared_metrics)
    assert [f for f in result.findings if f.kind == "quantity"] == []


@pytest.mark.parametrize("sentence", ["深入机关和中小学开展国防教育。", "走进社区与中小学宣讲国防知识。",
                                      "推动全镇民兵整组。"])
def test_phrases_in_the_data_text_are_not_places(shared_metrics, sentence):
    # the data's own plans speak the same phrase: that must not make `和中小学` a known place
    from dataclasses import replace

    metrics = replace(shared_metrics, plans=(sentence,), highlights=(sentence,))
    result = check_text(sentence, metrics)
    assert [f for f in result.findings if f.kind == "name"] == []


def test_long_texts_take_sections_from_headings_alone(monkeypatch):
    # the parser costs more than linear time on megabytes; beyond the limit the `一、` lines decide
    from pipeline.facts import check

    text = "一、履行第一责任人职责，抓好议军会\n召开议军会2次。\n二、夯实基础建设，加大经费投入\n投入260万元。\n"
    monkeypatch.setattr(check, "PARSE_SECTIONS_MAX_CHARS", 10)
    spans = check._section_spans(text)
    assert [start for start, _, _ in spans] == [0, text.index("二、")]
    assert spans[-1][1] == len(text)
    assert spans[1][2] == "foundation"


@pytest.mark.parametrize(("written", "previous", "verdict"), [
    ("参训率98％", "98", "stale"),          # exactly last year's, this year's only by rounding
    ("参训率98.4％", "98", "supported"),    # this year's figure as it is
    ("参训率98％", "97", "supported"),      # rounds to this year's; last year was something else
    ("参训率由上年的98％", "98", "supported"),  # said to be last year's
])
def test_a_rounded_figure_that_is_exactly_last_years_is_stale(metrics, written, previous, verdict):
    from dataclasses import replace

    changed = replace(metrics, values=tuple(
        replace(m, value=Decimal("98.4"), previous=Decimal(previous)) if m.key == "militia.training_rate" else m
        for m in metrics.values))
    figure = written[written.index("98"):]
    assert _at(check_text(f"基干民兵集中轮训，{written}。", changed), figure).verdict == verdict


def test_name_finder_tag_table_is_jiebas_and_survives_a_broken_cache(tmp_path, monkeypatch):
    """The cached word → POS table equals jieba.posseg's for the words the name finder asks about, and a
    corrupt cache file is rebuilt rather than trusted."""
    import tempfile

    import jieba
    import jieba.posseg

    from pipeline.facts import check_names

    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path))
    check_names._word_tags.cache_clear()
    built = check_names._word_tags().as_dict()
    plain = jieba.Tokenizer()          # jieba's own frequencies from dict.txt, no user dictionary
    plain.initialize()
    expected = {w: (t, plain.FREQ[w]) for w, t in jieba.posseg.dt.word_tag_tab.items()
                if len(w) <= check_names._TAG_WORD_MAX}
    assert built == expected
    (cache,) = tmp_path.glob("shuzhi-word-tags-*.marshal")
    cache.write_bytes(b"not marshal")
    check_names._word_tags.cache_clear()
    again = check_names._word_tags()
    assert again.as_dict() == expected
    assert again.get("联系") == "n" and again.freq("联系") == plain.FREQ["联系"] and "联系" in again
    assert again.get("鹤汀") is None and again.freq("鹤汀") == 0 and "鹤汀" not in again
    check_names._word_tags.cache_clear()


# --------------------------------------------------------------------------- false findings of held-out sets

def _with_customs(metrics, *customs: tuple[str, str, str, str, str]):
    """`metrics` plus custom metrics given as (key, label, unit, kind, value)."""
    from dataclasses import replace

    from pipeline.models import MetricValue

    extra = tuple(MetricValue(key=key, label=label, unit=unit, section="systems", kind=kind, value=Decimal(value),
                              custom=True) for key, label, unit, kind, value in customs)
    return replace(metrics, values=(*metrics.values, *extra))


SPRING = ("custom.spring_college_ratio", "春季征兵大学生比例", "%", "percent", "50.93")
TOWN_FUNDING = ("custom.town_funding", "镇武装工作经费", "万元", "money", "18.5")

FALSE_FINDING_CASES = [
    # (extra custom metrics, sentence, needle, occurrence, verdict, metric)
    # A custom label's slice that the text spells with another word cut into the label's first word names
    # a sibling (夏秋季 … for 春季 …), not the custom metric: the catalog metric that shares the noun is meant.
    ((SPRING,), "春季征兵大学生比例50.93%，夏秋季征兵大学生比例62.5%。", "62.5%", 0, "supported",
     "conscription.college_ratio"),
    ((SPRING,), "春季征兵大学生比例50.93%，夏秋季征兵大学生比例50.93%。", "50.93%", 1, "contradicted",
     "conscription.college_ratio"),
    ((SPRING,), "春季征兵大学生比例50.93%。", "50.93%", 0, "supported", "custom.spring_college_ratio"),
    # a label word left out whole is a short form of the label, not a sibling
    ((TOWN_FUNDING,), "落实武装工作经费18.5万元。", "18.5万元", 0, "supported", "custom.town_funding"),
    # last year's figure cited beside this year's is last year's, said to be so
    ((), "输送合格青年215人（上年为198人）。", "198人", 0, "supported", "conscription.recruits"),
    ((), "输送合格青年215人（上年为190人）。", "190人", 0, "contradicted", "conscription.recruits"),
    ((), "输送合格青年215人，较上年的198人有所增加。", "198人", 0, "supported", "conscription.recruits"),
    # a metric's word far back in a long sentence names nothing
    ((), "选派基干民兵参加县人武部组织的集中轮训，参训率98％，民兵应急分队在防汛抢险中连续奋战5昼夜，"
         "转移群众四百余人。", "四百余人", 0, "unsupported", None),
    ((), "投入乡村振兴资金45万元，帮助结对村修通产业路3.5公里、建成蔬菜大棚20个，村集体经济收入突破10万元。",
     "10万元", 0, "unsupported", None),
]


@pytest.mark.parametrize(("customs", "sentence", "needle", "occurrence", "verdict", "metric"), FALSE_FINDING_CASES)
def test_held_out_false_findings(metrics, customs, sentence, needle, occurrence, verdict, metric):
    result = check_text(sentence, _with_customs(metrics, *customs))
    finding = _at(result, needle, occurrence)
    assert (finding.verdict, finding.metric) == (verdict, metric), finding.reason


def test_front_rank_is_not_named_by_an_earlier_figures_words(shared_metrics):
    """`…考评全省第二名，民兵应急排建设排名全市前列`: the 五率 words belong to 第二名; nothing names the
    second ranking, so 全市前列 is no claim against the 五率 metric's scope."""
    result = check_text("征兵“五率”考评全省第二名，民兵应急排建设排名全市前列。", shared_metrics)
    assert [f for f in result.findings if "前列" in f.text] == []
    assert _at(result, "全省第二").verdict == "supported"


# --------------------------------------------------------------------------- the fast paths equal the plain ones

def test_clause_bounds_by_bisection_equal_the_character_walk():
    """Long texts find clause edges by bisection in the break positions; short ones step over characters.
    Both give the same clause for every figure and neighbour cut."""
    import random

    from pipeline.facts import align
    from pipeline.facts.quantities import extract_quantities

    rng = random.Random(11)
    pieces = ["基干民兵", "1560人", "，", "；", "。", "\n", "参训率", "98％", "补助", "105万元", "退役士兵", "、", "和"]
    text = "".join(rng.choice(pieces) for _ in range(2000))
    assert len(text) >= align._INDEX_MIN_CHARS
    quantities = extract_quantities(text)
    assert len(quantities) > 100
    for i, q in enumerate(quantities):
        neighbours = (quantities[i - 1].end if i else 0, quantities[i + 1].start if i + 1 < len(quantities) else 10**9)
        fast = align.clause_bounds(text, q, neighbours)
        start = q.start
        while start > neighbours[0] and text[start - 1] not in align.CLAUSE_BREAKS:
            start -= 1
        end, limit = q.end, min(neighbours[1], q.end + 30, len(text))
        while end < limit and text[end] not in align.CLAUSE_BREAKS:
            end += 1
        assert fast == (start, end), q


def test_break_positions_are_per_text_object():
    """Cached by identity: an equal text is not compared in full, a different one is not confused."""
    import re

    from pipeline.facts.align import break_positions

    pattern = re.compile("[。]")
    a = "甲。乙。" * 3
    b = "".join(["甲。乙。"] * 3)
    assert a == b and a is not b
    assert list(break_positions(a, pattern)) == list(break_positions(b, pattern)) == [1, 3, 5, 7, 9, 11]
    assert list(break_positions("丙丁。", pattern)) == [2]


def test_a_long_check_pauses_the_collector_and_restores_it(metrics, monkeypatch):
    import gc

    from pipeline.facts import check as check_module

    seen: list[bool] = []
    real = check_module._check_text

    def spy(*args):
        seen.append(gc.isenabled())
        return real(*args)

    monkeypatch.setattr(check_module, "_check_text", spy)
    monkeypatch.setattr(check_module, "GC_PAUSE_MIN_CHARS", 10)
    assert gc.isenabled()
    check_text("基干民兵精简至1560人。", metrics)        # 12 characters: paused
    check_text("基干民兵1560人", metrics)                # 9: not
    assert seen == [False, True] and gc.isenabled()

    def fail(*args):
        raise RuntimeError("boom")

    monkeypatch.setattr(check_module, "_check_text", fail)
    with pytest.raises(RuntimeError):
        check_text("基干民兵精简至1560人。", metrics)
    assert gc.isenabled()
