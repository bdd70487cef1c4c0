"""pipeline.drafting.fill: placeholder filling and number formatting, and that the checker reads every format
back as the same figure."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from pipeline.drafting.fill import (
    FillError,
    chinese_numeral,
    decimal_text,
    fill,
    format_metric,
    join_superiors,
    meta_slots,
    placeholders,
)
from pipeline.facts.metrics import load_metrics
from pipeline.models import Metrics, MetricValue, ReportMeta

GOLDEN = Path(__file__).resolve().parent / "golden"


def _m(key: str, value: str | None, unit: str, kind: str = "count", scope: str | None = None) -> MetricValue:
    return MetricValue(key=key, label=key, unit=unit, section="systems", kind=kind,
                       value=Decimal(value) if value is not None else None, scope=scope)


@pytest.mark.parametrize(
    ("metric", "fmt", "before", "after", "expected"),
    [
        (_m("a.count", "215", "人"), "", "", "", "215人"),
        (_m("a.people", "176", "名"), "", "", "", "176名"),
        (_m("a.percent", "98", "%", "percent"), "", "", "", "98％"),
        (_m("a.percent", "68.50", "%", "percent"), "", "", "", "68.5％"),
        (_m("a.money", "45", "万元", "money"), "", "", "", "45万元"),
        (_m("a.money", "1.20", "万元", "money"), "", "", "", "1.2万元"),
        (_m("a.big", "21034", "人"), "", "", "", "21034人"),
        (_m("a.sessions", "2", "次"), "cn", "", "", "两次"),
        (_m("a.batches", "3", "批"), "cn", "", "", "三批"),
        (_m("a.sessions", "10", "次"), "cn", "", "", "十次"),
        (_m("a.sessions", "12", "次"), "cn", "", "", "12次"),        # reports switch to digits above ten
        (_m("a.count", "215", "人"), "num", "", "", "215"),
        (_m("a.count", "215", "人"), "", "", "人，", "215"),          # the engine wrote the unit itself
        (_m("a.percent", "98", "%", "percent"), "", "", "%", "98"),
        (_m("r.rank", "1", "名", "rank", "全市"), "", "", "", "全市第一"),
        (_m("r.rank", "2", "名", "rank", "全省"), "rank", "", "", "全省第二"),
        (_m("r.rank", "3", "名", "rank", "全市"), "rankn", "", "", "第三"),
        (_m("r.rank", "1", "名", "rank", "全市"), "", "排名全市", "", "第一"),
        (_m("r.rank", "1", "名", "rank", "全市"), "", "全市第", "", "一"),
        (_m("r.rank", "12", "名", "rank", "全市"), "", "", "", "全市第12名"),
        (_m("r.rank", "1", "名", "rank", None), "", "", "", "全市第一"),
    ],
)
def test_format_metric(metric: MetricValue, fmt: str, before: str, after: str, expected: str) -> None:
    assert format_metric(metric, fmt, before=before, after=after) == expected


def test_half_width_percent_by_profile_style() -> None:
    assert format_metric(_m("a.p", "98", "%", "percent"), percent_sign="%") == "98%"


@pytest.mark.parametrize(("n", "text"), [(1, "一"), (2, "二"), (10, "十"), (11, "十一"), (20, "二十"), (99, "九十九")])
def test_chinese_numeral(n: int, text: str) -> None:
    assert chinese_numeral(n) == text


@pytest.mark.parametrize(("value", "text"), [("1800", "1800"), ("98.50", "98.5"), ("1E+3", "1000"), ("0.0", "0")])
def test_decimal_text(value: str, text: str) -> None:
    assert decimal_text(Decimal(value)) == text


def _metrics(*values: MetricValue, **lists) -> Metrics:
    meta = ReportMeta(year=2024, region="青岚县", level="县", superiors=("市委", "市政府", "军分区党委"))
    return Metrics(meta=meta, values=values, **lists)


def test_fill_records_spans_of_every_figure() -> None:
    metrics = _metrics(_m("conscription.recruits", "215", "人"), _m("militia.training_rate", "97.5", "%", "percent"))
    filled = fill("{region}向部队输送合格青年{conscription.recruits}，参训率达到{militia.training_rate}。", metrics,
                  slots=meta_slots(metrics))
    assert filled.text == "青岚县向部队输送合格青年215人，参训率达到97.5％。"
    assert [(filled.text[a:b], k) for a, b, k in filled.spans] == [
        ("215人", "conscription.recruits"), ("97.5％", "militia.training_rate")]
    assert filled.keys == ("conscription.recruits", "militia.training_rate")


@pytest.mark.parametrize(
    ("template", "key"),
    [("输送{conscription.recruits}。", "conscription.recruits"),      # not in the data
     ("参训率{militia.training_rate}。", "militia.training_rate"),      # in the data without a figure
     ("轮训{militia.primary:xx}。", "militia.primary")],              # unknown format
)
def test_fill_refuses_what_the_data_cannot_back(template: str, key: str) -> None:
    metrics = _metrics(_m("militia.training_rate", None, "%", "percent"), _m("militia.primary", "1400", "人"))
    with pytest.raises(FillError) as info:
        fill(template, metrics)
    assert info.value.key == key


def test_unknown_slot_is_left_for_the_checker_to_see() -> None:
    assert fill("{nowhere}的工作", _metrics()).text == "{nowhere}的工作"


def test_meta_slots() -> None:
    metrics = _metrics(honours=("双拥模范县",), documents=("青岚县征兵工作20条措施",), partners=("云溪镇竹坪村", "驻青岚某部"))
    slots = meta_slots(metrics)
    assert slots["superiors"] == "市委、市政府和军分区党委"
    assert slots["whole"] == "全县" and slots["level"] == "县"
    assert slots["honours"] == "“双拥模范县”"
    assert slots["documents"] == "《青岚县征兵工作20条措施》"
    assert slots["partners"] == "云溪镇竹坪村、驻青岚某部"
    assert slots["next_year"] == "2025"
    district = Metrics(meta=ReportMeta(year=2024, region="鹤汀区", reporter_title="区委书记、区人武部党委第一书记"),
                       values=())
    assert meta_slots(district)["whole"] == "全区"
    assert meta_slots(district)["role"] == "区人武部党委第一书记"


@pytest.mark.parametrize(
    ("superiors", "expected"),
    [
        ((), "上级党委、政府和军事机关"),
        (("市委",), "市委"),
        (("市委", "军分区党委"), "市委和军分区党委"),
        (("市委", "市政府", "军分区党委"), "市委、市政府和军分区党委"),
        (("市委", "市政府", "军分区党委", "省军区"), "市委、市政府、军分区党委和省军区"),
        ((" 市委 ", ""), "市委"),
    ],
)
def test_superiors_are_joined_with_one_he(superiors: tuple[str, ...], expected: str) -> None:
    assert join_superiors(superiors) == expected
    metrics = Metrics(meta=ReportMeta(year=2024, region="青岚县", superiors=superiors), values=())
    text = fill("在{superiors}的正确领导下", metrics, slots=meta_slots(metrics)).text
    assert text == f"在{expected}的正确领导下"
    assert text.count("和") <= 1


def test_placeholders() -> None:
    assert placeholders("{a.b}与{c.d:cn}和{region}") == ("a.b", "c.d")


def test_every_bank_sentence_filled_is_read_back_as_supported() -> None:
    """The checker must accept every format fill produces, aligned to the metric the sentence names."""
    from pipeline.drafting.plan import load_profile
    from pipeline.facts.check import check_text

    metrics = load_metrics(GOLDEN / "qinglan-2024.yaml")
    profile = load_profile()
    slots = meta_slots(metrics, role=profile.role)
    failures = []
    checked = 0
    for bank in profile.banks:
        for template in bank.sentences:
            if "{metric}" in template:
                continue                     # generic fallbacks: the key is chosen at run time
            filled = fill(template, metrics, slots=slots, percent_sign=profile.percent_sign)
            result = check_text(filled.text, metrics)
            by_span = {(f.start, f.end): f for f in result.findings}
            for a, b, key in filled.spans:
                checked += 1
                finding = by_span.get((a, b))
                if finding is None or finding.verdict != "supported" or finding.metric != key:
                    failures.append((filled.text, filled.text[a:b], key, finding and finding.to_json()))
            failures += [(filled.text, f.text, f.verdict) for f in result.findings if not result.ok and
                         f.verdict not in ("supported", "derived")]
    assert checked > 100
    assert failures == []
