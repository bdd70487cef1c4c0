"""pipeline.drafting.engines.template: phrase-bank facets, corpus sentence reuse and figure re-binding."""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

import pytest

from pipeline.drafting.engines import get_engine
from pipeline.drafting.engines.base import FacetRequest, HeadingRequest
from pipeline.drafting.engines.template import (
    TemplateEngine,
    is_name_free,
    is_number_free,
    only_metric_phrases,
    rebind_figures,
    repeats_idea,
)
from pipeline.drafting.fill import placeholders
from pipeline.drafting.plan import load_profile
from pipeline.facts.metrics import load_metrics
from pipeline.models import Chunk, Metrics
from pipeline.profile.catalog import load_catalog

GOLDEN = Path(__file__).resolve().parent / "golden"


@pytest.fixture(scope="module")
def metrics() -> Metrics:
    return load_metrics(GOLDEN / "qinglan-2024.yaml")


@pytest.fixture(scope="module")
def engine() -> TemplateEngine:
    return TemplateEngine()


def _request(metrics: Metrics, facet_id: str, keys: tuple[str, ...], *, seed: int = 0,
             exemplars: tuple[Chunk, ...] = (), feedback: tuple[str, ...] = ()) -> FacetRequest:
    return FacetRequest(profile="dangguan-wuzhuang", section_key="systems", section_heading="", facet_id=facet_id,
                        topic="", ordinal=1, metric_keys=keys, metric_labels={k: k for k in keys}, metrics=metrics,
                        exemplars=exemplars, seed=seed, feedback=feedback)


def _chunk(text: str, chunk_id: str = "c1", region: str | None = "远山县") -> Chunk:
    return Chunk(chunk_id=chunk_id, doc_id="d1", text=text, path="x.txt", region=region, year=2023,
                 section_key="systems", heading="", position=0)


def _facets_with_metrics():
    for section in load_profile().sections:
        for facet in section.facets:
            if facet.metrics:
                yield facet


def test_registry_builds_the_template_engine() -> None:
    engine = get_engine("template")
    assert engine.name == "template" and isinstance(engine, TemplateEngine)


@pytest.mark.parametrize("facet", list(_facets_with_metrics()), ids=lambda f: f.id)
def test_every_subset_of_a_facets_metrics_is_stated_exactly_once(metrics: Metrics, engine: TemplateEngine,
                                                                  facet) -> None:  # noqa: ANN001
    for size in range(1, len(facet.metrics) + 1):
        for subset in itertools.combinations(facet.metrics, size):
            for seed in range(3):
                answer = engine.write_facet(_request(metrics, facet.id, subset, seed=seed))
                stated = placeholders(answer.text)
                assert sorted(stated) == sorted(subset), (subset, answer.text)
                assert not answer.warnings


def test_same_seed_same_text_other_seeds_vary(metrics: Metrics, engine: TemplateEngine) -> None:
    keys = ("conscription.recruits", "conscription.college_ratio", "conscription.school_stations")
    first = engine.write_facet(_request(metrics, "conscription", keys, seed=7)).text
    assert engine.write_facet(_request(metrics, "conscription", keys, seed=7)).text == first
    others = {engine.write_facet(_request(metrics, "conscription", keys, seed=s)).text for s in range(10)}
    assert len(others) >= 4


def test_feedback_changes_the_choice(metrics: Metrics, engine: TemplateEngine) -> None:
    keys = ("militia.primary",)
    texts = {engine.write_facet(_request(metrics, "militia_reform", keys, feedback=("x",) * n)).text
             for n in range(6)}
    assert len(texts) > 1


def test_headings_come_from_the_plan(metrics: Metrics, engine: TemplateEngine) -> None:
    headings = {engine.write_heading(HeadingRequest("dangguan-wuzhuang", "duty", metrics, seed=s)) for s in range(20)}
    assert headings <= set(load_profile().section("duty").headings) and len(headings) >= 3


def test_metric_without_a_phrase_gets_a_generic_sentence_and_a_warning(metrics: Metrics,
                                                                        engine: TemplateEngine) -> None:
    answer = engine.write_facet(_request(metrics, "rural_support", ("custom.village_posts",)))
    assert placeholders(answer.text) == ("custom.village_posts",)
    assert "村级民兵哨所" in answer.text
    assert answer.warnings and "custom.village_posts" in answer.warnings[0]


def test_names_come_from_this_years_data(metrics: Metrics, engine: TemplateEngine) -> None:
    conscription = engine.write_facet(_request(metrics, "conscription", ("conscription.recruits",))).text
    assert "《青岚县征兵工作20条措施》" in conscription
    opening = engine.write_facet(_request(metrics, "opening", ("ranking.conscription_five_rates",))).text
    assert "“践行强军目标先进单位”“双拥模范县”" in opening
    assert opening.endswith("如下：")
    rural = engine.write_facet(_request(metrics, "rural_support", ("foundation.rural_support_funding",))).text
    assert "云溪镇竹坪村" in rural


@pytest.mark.parametrize(
    ("sentence", "keys", "expected"),
    [
        ("全年向部队输送合格青年215人，大学生征集比例达到60％。",
         ["conscription.recruits", "conscription.college_ratio"],
         "全年向部队输送合格青年{conscription.recruits}，大学生征集比例达到{conscription.college_ratio}。"),
        ("拨付***万元补助***名退役士兵自谋职业，**名退役士兵实现岗位安置。",
         ["veterans.self_employed_funding", "veterans.self_employed", "veterans.job_placements"],
         "拨付{veterans.self_employed_funding}补助{veterans.self_employed}退役士兵自谋职业，"
         "{veterans.job_placements}退役士兵实现岗位安置。"),
        ("在三所高中设立征兵工作站。", ["conscription.school_stations"],
         "在{conscription.school_stations:cn}高中设立征兵工作站。"),
        ("全县基干民兵分3批参加集中轮训。", ["militia.training_batches"],
         "{whole}基干民兵分{militia.training_batches}参加集中轮训。"),
        ("县财政保障社会聘用人员经费52万元。", ["foundation.staff_funding"],
         "{level}财政保障社会聘用人员经费{foundation.staff_funding}。"),
        # rejected: a figure no key fits, a place name, a stray year, a key bound twice
        ("向部队输送合格青年215人，新建哨所8个。", ["conscription.recruits"], None),
        ("向云溪镇输送合格青年215人。", ["conscription.recruits"], None),
        ("2023年向部队输送合格青年215人。", ["conscription.recruits"], None),
        ("输送合格青年215人，其中女兵12人。", ["conscription.recruits"], None),
        ("驻地海防部队输送合格青年215人。", ["conscription.recruits"], None),
    ],
)
def test_rebind_figures(sentence: str, keys: list[str], expected: str | None) -> None:
    from pipeline.drafting.engines.template import generalise

    result = rebind_figures(generalise(sentence), keys, load_catalog())
    assert (result[0] if result else None) == expected


@pytest.mark.parametrize(
    ("sentence", "number_free", "name_free"),
    [("坚持把国防教育纳入干部教育培训内容。", True, True),
     ("分三批参加集中轮训。", False, True),
     ("走访驻青岚某部。", True, False),
     ("荣获“双拥模范县”称号。", True, False),
     ("基干民兵**人。", False, True)],
)
def test_number_and_name_free(sentence: str, number_free: bool, name_free: bool) -> None:
    assert is_number_free(sentence) is number_free
    assert is_name_free(sentence) is name_free


def test_corpus_sentences_are_reused_with_provenance(metrics: Metrics, engine: TemplateEngine) -> None:
    generic = "坚持把民兵组织建设与基层治理结合起来，推动民兵在乡村振兴中发挥骨干作用。"
    with_name = "对云溪镇等地民兵组织进行调整，推动民兵在乡村振兴中发挥骨干作用。"
    rebindable = "全年编组基干民兵600人，普通民兵9000人。"
    chunk = _chunk(f"一是{generic}{with_name}{rebindable}")
    keys = ("militia.ordinary", "militia.primary")
    used_generic = used_rebound = False
    for seed in range(30):
        parts, _ = engine.write_facet_parts(_request(metrics, "militia_reform", keys, seed=seed, exemplars=(chunk,)))
        texts = [t for t, _ in parts]
        assert with_name not in texts
        assert sorted(k for t in texts for k in placeholders(t)) == sorted(keys)
        for text, sources in parts:
            if text == generic:
                used_generic = True
                assert sources == ("c1",)
            if text == "全年编组基干民兵{militia.primary}，普通民兵{militia.ordinary}。":
                used_rebound = True
                assert sources == ("c1",)
    assert used_generic and used_rebound


def test_a_rebinding_that_would_copy_the_corpus_figures_is_refused(metrics: Metrics, engine: TemplateEngine) -> None:
    same = "全年编组基干民兵1420人，普通民兵16850人。"        # this year's very figures
    for seed in range(30):
        parts, _ = engine.write_facet_parts(_request(
            metrics, "militia_reform", ("militia.ordinary", "militia.primary"), seed=seed, exemplars=(_chunk(same),)))
        assert all(not sources for _, sources in parts)


def test_own_region_and_repairs_do_not_reuse_corpus_text(metrics: Metrics, engine: TemplateEngine) -> None:
    generic = "坚持把民兵组织建设与基层治理结合起来，推动民兵在乡村振兴中发挥骨干作用。"
    own = _chunk(generic, region="青岚县")
    other = _chunk(generic, region="远山县")
    for seed in range(20):
        request = _request(metrics, "militia_reform", ("militia.primary",), seed=seed, exemplars=(own,))
        assert all(not s for _, s in engine.write_facet_parts(request)[0])
        repaired = replace(request, exemplars=(other,), feedback=("“1420人”与数据不符",))
        assert all(not s for _, s in engine.write_facet_parts(repaired)[0])


@pytest.mark.parametrize(
    ("template", "keys", "plain"),
    [
        ("全年向部队输送合格青年{conscription.recruits}，大学生征集比例{conscription.college_ratio}。",
         ("conscription.recruits", "conscription.college_ratio"), True),
        ("{level}财政拨付{veterans.self_employed_funding}，补助{veterans.self_employed}退役士兵自谋职业。",
         ("veterans.self_employed_funding", "veterans.self_employed"), True),
        ("{whole}{militia.towns}乡镇和{militia.units}机关及企事业单位完成民兵整组。",
         ("militia.towns", "militia.units"), True),
        # another county's works, claims and events: not carried over
        ("{level}财政落实人武部社会聘用人员经费{foundation.staff_funding}，投入{foundation.infrastructure_funding}"
         "改造人武部训练场和民兵装备仓库。", ("foundation.staff_funding", "foundation.infrastructure_funding"), False),
        ("全年向部队输送合格青年{conscription.recruits}，兵员质量创近年最好水平。", ("conscription.recruits",), False),
        ("在{conscription.school_stations:cn}高中征兵工作站常态开展政策咨询。", ("conscription.school_stations",), False),
        ("{level}财政克服困难，拨付{veterans.self_employed_funding}。", ("veterans.self_employed_funding",), False),
    ],
)
def test_only_metric_phrases(template: str, keys: tuple[str, ...], plain: bool) -> None:
    assert only_metric_phrases(template, keys, load_catalog()) is plain


def test_strict_rebinding_leaves_other_counties_details_out(metrics: Metrics) -> None:
    detailed = "投入80万元改造人武部训练场和民兵装备仓库。"
    keys = ("foundation.infrastructure_funding",)
    loose, strict = TemplateEngine(strict_rebind=False), TemplateEngine()
    loose_used = False
    for seed in range(30):
        request = _request(metrics, "department_support", keys, seed=seed, exemplars=(_chunk(detailed),))
        assert all("仓库" not in text for text, _ in strict.write_facet_parts(request)[0])
        loose_used |= any("仓库" in text for text, _ in loose.write_facet_parts(request)[0])
    assert loose_used        # the corpus sentence does re-bind: strictness is what keeps it out


def test_reuse_corpus_false_never_uses_corpus_sentences(metrics: Metrics) -> None:
    generic = "坚持把民兵组织建设与基层治理结合起来，推动民兵在乡村振兴中发挥骨干作用。"
    engine = TemplateEngine(reuse_corpus=False)
    for seed in range(20):
        request = _request(metrics, "militia_reform", ("militia.primary",), seed=seed, exemplars=(_chunk(generic),))
        assert all(not sources and text != generic for text, sources in engine.write_facet_parts(request)[0])


@pytest.mark.parametrize(
    ("sentence", "text", "repeats"),
    [
        ("兵员质量实现稳步提升。", "向部队输送合格青年{x}，兵员质量创近年最好水平。", True),
        ("军政军民关系更加融洽。", "扎实开展双拥共建，密切军政军民关系", True),
        ("圆满完成了年度征兵任务。", "坚持把征兵工作作为重大政治任务。", False),
        # the genre's common words alone are not a repetition
        ("推动了党管武装工作有效落实。", "坚持把党管武装工作摆上重要议事日程。", False),
    ],
)
def test_repeats_idea(sentence: str, text: str, repeats: bool) -> None:
    assert repeats_idea(sentence, text) is repeats


def test_closers_do_not_restate_the_sub_point(metrics: Metrics, engine: TemplateEngine) -> None:
    for facet in _facets_with_metrics():
        for seed in range(10):
            request = replace(_request(metrics, facet.id, facet.metrics, seed=seed), topic="")
            parts = [t for t, _ in engine.write_facet_parts(request)[0]]
            closers = engine.profile.bank(facet.id).closers
            if parts[-1] in closers:
                assert not repeats_idea(parts[-1], "".join(parts[:-1])), (facet.id, parts)


def test_a_partner_named_by_a_highlight_gets_no_sentence_of_its_own(metrics: Metrics, engine: TemplateEngine) -> None:
    data = replace(metrics, partners=("青岚县国防教育馆",), documents=(), highlights=("青岚县国防教育馆建成开放。",))
    keys = ("education.events",)
    for seed in range(5):
        text = "".join(t for t, _ in engine.write_facet_parts(
            _request(data, "defence_education", keys, seed=seed))[0])
        assert text.count("青岚县国防教育馆") == 1 and "建成开放" in text


def _plain_repeats_idea(sentence: str, text: str, size: int = 4) -> bool:
    """The definition, read literally: a run of `size` characters of the sentence (no punctuation,
    no genre word inside) found in the text with its genre words blanked."""
    import re

    from pipeline.drafting.engines.template import _GENRE_WORDS

    body = _GENRE_WORDS.sub("|", re.sub(r"[，。；：、“”《》{}]", "|", sentence))
    text = _GENRE_WORDS.sub("|", text)
    return any("|" not in body[i:i + size] and body[i:i + size] in text for i in range(len(body) - size + 1))


def test_repeats_idea_is_its_plain_definition() -> None:
    """`repeats_idea` compares sets of runs cut once per sentence and text; it must answer exactly
    what the literal definition answers, over the profile's own banks and odd inputs."""
    profile = load_profile()
    sentences: list[str] = []
    for section in profile.sections:
        for facet in section.facets:
            bank = profile.bank(facet.id)
            sentences += list(bank.leads[:6]) + list(bank.closers[:6]) + list(bank.topics[:6])
    odd = ["", "民兵", "民兵|训练", "a|bcd", "进一步推动党管武装工作", "{x}民兵训练{y}"]
    texts = sentences[::3] + odd + ["".join(sentences[i:i + 5]) for i in range(0, len(sentences), 40)]
    for sentence in sentences[::2] + odd:
        for text in texts:
            for size in (2, 4):
                assert repeats_idea(sentence, text, size) is _plain_repeats_idea(sentence, text, size), (sentence, text)


@pytest.fixture(scope="module")
def corpus_index(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201 - HybridIndex
    from pipeline.index.hybrid import HybridIndex

    index = HybridIndex.open(tmp_path_factory.mktemp("index") / "index")
    index.ingest([Path(__file__).resolve().parent.parent / "corpus" / "reports"])
    return HybridIndex.open(index.index_dir, read_only=True)


def test_one_engine_drafting_many_units_writes_what_a_fresh_engine_writes(corpus_index) -> None:  # noqa: ANN001
    """A batch worker keeps one engine for thousands of units, and the engine keeps per-draft state
    (its rebinder, the routed names) and memos. Unit after unit, in any order, it must write exactly
    what a new engine writes for that unit alone."""
    from pipeline.drafting.draft import draft_report

    sample = Path(__file__).resolve().parent.parent / "corpus" / "sample"
    units = [load_metrics(p) for p in [sample / "metrics.yaml", *sorted((sample / "next").glob("*.yaml"))]]
    shared = TemplateEngine()
    for data in units + units[::-1]:
        kept = draft_report(data, engine=shared, index=corpus_index, history=False)
        fresh = draft_report(data, engine=TemplateEngine(), index=corpus_index, history=False)
        assert kept.text == fresh.text
        assert [r.sources for r in kept.sentences] == [r.sources for r in fresh.sentences]
    assert any(r.sources for r in kept.sentences)     # corpus sentences were in play
