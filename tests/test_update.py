"""Update mode (pipeline.drafting.update): this year's draft over last year's report of the same unit,
with the rebinder, the comparisons and the style rules it uses."""

from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from pipeline.cli import run
from pipeline.drafting.draft import draft_report
from pipeline.drafting.history import previous_from_file
from pipeline.drafting.polish import Part, add_comparisons, comparison_phrase, trim_stock_words
from pipeline.drafting.rebind import Rebinder
from pipeline.drafting.style import StyleRules, load_style, stock_density
from pipeline.errors import InputError
from pipeline.facts.metrics import load_metrics
from pipeline.index.retrieval import chunk_report
from pipeline.models import BAD_VERDICTS, MetricValue
from pipeline.output.draft_files import draft_to_blocks
from pipeline.reading.parse import parse_text
from pipeline.reading.readers import read_text

ROOT = Path(__file__).resolve().parent.parent
LAST_YEAR = ROOT / "corpus" / "reports" / "lanchuan-2023.docx"
METRICS = ROOT / "corpus" / "metrics" / "lanchuan-2024.yaml"
PRIOR = ROOT / "corpus" / "metrics" / "lanchuan-2023.yaml"


class ChunksIndex:
    """The part of HybridIndex update mode reads: every chunk, and the region's past reports."""

    def __init__(self, *paths: Path):
        self.chunks = [c for p in paths for c in chunk_report(parse_text(read_text(p), source=str(p)), path=str(p))]

    def all_chunks(self):  # noqa: ANN201
        return list(self.chunks)

    def past_reports(self, region: str, before_year: int | None = None):  # noqa: ANN201
        return [(read_text(LAST_YEAR), 2023)] if region == "岚川县" else []

    def search(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        return []


@pytest.fixture(scope="module")
def metrics():  # noqa: ANN201
    return load_metrics(METRICS)


@pytest.fixture(scope="module")
def updated(metrics):  # noqa: ANN001, ANN201
    return draft_report(metrics, index=ChunksIndex(LAST_YEAR), prior=load_metrics(PRIOR))


def test_update_mode_is_the_default_when_the_index_holds_last_years_report(updated) -> None:  # noqa: ANN001
    assert updated.based_on and updated.based_on.endswith("lanchuan-2023.docx") and updated.based_on_year == 2023
    headings = [s.heading for s in updated.draft.sections if s.numbered]
    # last year's section headings are kept
    assert headings[:3] == ["突出政治引领，始终把党管武装摆在重要位置", "健全制度机制，推动武装工作规范高效运行",
                            "强化基础保障，不断提升后备力量建设水平"]
    assert updated.text.splitlines()[1].startswith("2024年以来")
    assert "2023年以来" not in updated.text


def test_update_mode_is_clean_and_states_every_metric_once(updated, metrics) -> None:  # noqa: ANN001
    bad = [f for f in updated.check.findings if f.verdict in BAD_VERDICTS]
    assert not bad, [(f.verdict, f.text, f.reason) for f in bad]
    stated = Counter(k for _a, _b, k in updated.figures)
    assert all(stated[m.key] == 1 for m in metrics.values if m.value is not None), stated


def test_no_stale_figure_and_no_event_of_last_year(updated) -> None:  # noqa: ANN001
    for old in ("19870人", "224人", "105万元", "45300", "64.5％", "四次", "全市第一，县人武部年度综合考核继续"):
        assert old not in updated.text, old
    for event in ("首次", "建成投用", "二期", "新组建", "被命名为", "专场招聘会"):
        assert event not in updated.text, event
    # this year's figures, re-bound into last year's sentences
    for figure in ("19552人", "1535人", "232人", "112万元", "五次"):
        assert figure in updated.text, figure


def test_changes_since_last_year_are_stated_and_derived(updated) -> None:  # noqa: ANN001
    derived = [f for f in updated.check.findings if f.verdict == "derived"]
    assert len(derived) >= 4
    assert sum(r.comparisons for r in updated.sentences) >= 4
    assert "连续两年保持全市第一" in updated.text          # 五率 was 全市第一 both years
    assert "较上年增加一次" in updated.text                # Chinese numerals after a Chinese figure


def test_sentences_kept_without_a_figure_are_marked(updated) -> None:  # noqa: ANN001
    kept = [r for r in updated.sentences if r.kept and r.section in ("duty", "systems", "foundation")]
    assert kept and all(not r.metric_keys for r in kept)
    assert "我深刻认识到，党管武装是我党的一大政治优势，也是县委书记必须扛牢的政治责任。" in {r.text for r in kept}
    data = updated.to_json()
    flags = [s for sec in data["sections"] for s in sec["sentences"] if s.get("kept_from_last_year")]
    assert flags and data["based_on"]["year"] == 2023
    blocks = draft_to_blocks(updated, comments=True)
    notes = [note for b in blocks for _s, _e, note in b.comments]
    assert notes.count(load_style().kept_comment) == len([r for r in updated.sentences
                                                          if r.kept and r.section != "closing"])
    assert notes.count(load_style().rebound_comment) == len([r for r in updated.sentences if r.origin == "rebound"]) > 0


def test_next_years_plans_replace_last_years(updated) -> None:  # noqa: ANN001
    plans = next(s for s in updated.draft.sections if s.key == "plans")
    text = "".join(p.text for p in plans.paragraphs)
    assert "2025年，我将重点抓好" in text and "保持全市前列" not in text
    assert "重返全市第一" in text and "建成县国防教育馆" in text
    items = [p.text for p in plans.paragraphs if re.match("[一二三四五]是", p.text)]
    assert f"抓好{'一二三四五六'[len(items) - 1]}个方面" in text


def test_no_history_and_from_file(metrics) -> None:  # noqa: ANN001
    fresh = draft_report(metrics, index=ChunksIndex(LAST_YEAR), history=False)
    assert fresh.based_on is None and all(r.origin == "" for r in fresh.sentences)
    from_file = draft_report(metrics, previous_report=LAST_YEAR)
    assert from_file.based_on == str(LAST_YEAR) and from_file.check.ok
    # another region's report in the index is not last year's report
    other = draft_report(metrics, index=ChunksIndex(ROOT / "corpus" / "reports" / "heting-2023.txt"))
    assert other.based_on is None


def test_empty_from_file_is_a_clear_error(metrics, tmp_path) -> None:  # noqa: ANN001
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n", encoding="utf-8")
    with pytest.raises(InputError, match="空的"):
        previous_from_file(empty, metrics)


def test_cli_from_and_no_history(tmp_path, capsys) -> None:  # noqa: ANN001
    code = run(["draft", str(METRICS), "--from", str(LAST_YEAR), "--no-history", "-o", str(tmp_path / "x")])
    assert code == 2 and "--from 与 --no-history" in capsys.readouterr().err
    code = run(["draft", str(METRICS), "--from", str(LAST_YEAR), "--prior", str(PRIOR), "-o", str(tmp_path / "o")])
    out = capsys.readouterr().out
    assert code == 0 and "在 2023 年报告上更新：lanchuan-2023.docx" in out
    assert "与上年比较" in out


# --------------------------------------------------------------------------- the rebinder

@pytest.mark.parametrize(("sentence", "expected", "bad"), [
    # every figure re-bound through the aligner, in its numeral style
    ("全年召开县委常委会专题研究武装工作五次，组织召开议军会三次。",
     "全年召开县委常委会专题研究武装工作{leadership.standing_committee_sessions:cn}，组织召开议军会{leadership.military_council_sessions:cn}。",
     [False, False]),
    # a comparison with an earlier year is dropped (it is recomputed), the figure clause stays
    ("全年输送合格青年224人，比上年增加12人。", "全年输送合格青年{conscription.recruits}，", [False, True]),
    # a one-off event of its year
    ("石笋乡民兵训练基地建成投用后，全县基干民兵分四批进行集中轮训。", None, [True, False]),
    # a figure no metric carries
    ("组织退役军人专场招聘会两场，发放慰问金38万元。", None, [True, False]),
    # an honour the data does not carry
    ("被军分区表彰为“践行强军目标先进单位”。", None, [True]),
    # a rank is re-bound with its scope: this year's data says where it was placed
    ("人武部年度综合考核排名全省第五。", "人武部年度综合考核排名{ranking.department_annual}。", [False]),
])
def test_rebinder_clauses(metrics, sentence, expected, bad) -> None:  # noqa: ANN001
    from pipeline.drafting.plan import load_profile

    rebinder = Rebinder(metrics, None, load_profile().catalog, load_style())
    clauses = rebinder.clauses(sentence, "systems")
    assert [c.bad for c in clauses] == bad
    if expected is not None:
        assert "".join(c.template for c in clauses if not c.bad) == expected


# --------------------------------------------------------------------------- comparisons and stock words

def _metric(key: str, unit: str, kind: str, value: str, previous: str | None) -> MetricValue:
    return MetricValue(key, key, unit, "systems", kind, Decimal(value), Decimal(previous) if previous else None)


@pytest.mark.parametrize(("metric", "cn", "expected"), [
    (_metric("a", "人", "count", "232", "224"), False, "，较上年增加8人"),
    (_metric("a", "人", "count", "1535", "1560"), False, "，较上年减少25人"),
    (_metric("a", "次", "count", "5", "4"), True, "，较上年增加一次"),
    (_metric("a", "次", "count", "6", "4"), True, "，较上年增加两次"),
    (_metric("a", "%", "percent", "98.6", "98"), False, "，较上年提高0.6个百分点"),
    (_metric("a", "万元", "money", "260", "220"), False, "，较上年增加40万元"),
    (_metric("a", "人", "count", "3", "3"), False, None),          # unchanged: nothing to say
    (_metric("a", "人", "count", "3", None), False, None),
    (_metric("r", "", "rank", "1", "2"), False, None),            # ranks have their own sentence
])
def test_comparison_phrase(metric, cn, expected) -> None:  # noqa: ANN001
    assert comparison_phrase(metric, StyleRules(), cn=cn) == expected


def test_comparisons_need_the_metric_named_and_stop_at_the_limit(metrics) -> None:  # noqa: ANN001
    from pipeline.drafting.plan import load_profile

    catalog = load_profile().catalog
    named = Part("全年输送合格青年232人，大学生征集比例66％。", ((8, 12, "conscription.recruits"),
                                                          (20, 23, "conscription.college_ratio")), "systems")
    unnamed = Part("落实41万元。", ((2, 6, "support.visit_funds"),), "systems")
    inside = Part("对13个乡镇、43个机关组织整组。", ((1, 4, "militia.towns"),), "systems")
    add_comparisons([named, unnamed, inside], metrics, StyleRules(max_comparisons=6), catalog=catalog)
    assert named.text.startswith("全年输送合格青年232人，较上年增加8人，") and named.comparisons == 1
    assert unnamed.text == "落实41万元。" and inside.text.startswith("对13个乡镇、")
    # spans after the insertion moved with the text
    a, b, _k = named.spans[1]
    assert named.text[a:b] == "66％"


def test_stock_words_trimmed_to_the_budget_plans_untouched() -> None:
    style = StyleRules(stock_budget=11.0)
    body = Part("坚持把民兵工作摆在重要位置，切实加强训练，不断提高质量，进一步完善制度。" * 3, (), "systems")
    plans = Part("一是进一步加强民兵建设。", (), "plans")
    before = stock_density(body.text + plans.text, style.stock_words)
    deleted = trim_stock_words([body, plans], style, len(body.text) + len(plans.text))
    assert deleted > 0 and stock_density(body.text + plans.text, style.stock_words) <= 11.0 < before
    assert plans.text == "一是进一步加强民兵建设。"
    assert "把民兵工作摆在重要位置" in body.text


def test_style_rules_default_and_bad_values(tmp_path) -> None:  # noqa: ANN001
    folder = tmp_path / "p"
    folder.mkdir()
    assert load_style(str(folder)) == StyleRules()
    (folder / "style.yaml").write_text("max_comparisons: -1\n", encoding="utf-8")
    load_style.cache_clear()
    with pytest.raises(InputError, match="max_comparisons"):
        load_style(str(folder))
    (folder / "style.yaml").write_text("event_words: 首次\n", encoding="utf-8")
    load_style.cache_clear()
    with pytest.raises(InputError, match="event_words"):
        load_style(str(folder))
    load_style.cache_clear()
