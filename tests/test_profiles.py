"""Profiles as data: `extends:` with overrides, loader errors naming file and line, the choice of profile
from meta.profile / meta.level, the township profile's floors, `shuzhi profiles`."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.cli import run
from pipeline.drafting.plan import load_profile, validate_profile
from pipeline.errors import InputError
from pipeline.facts.metrics import metrics_from_mapping
from pipeline.profile.catalog import (
    DEFAULT_PROFILE,
    TOWNSHIP_PROFILE,
    choose_profile,
    level_class,
    load_catalog,
    profile_chain,
)

COUNTY_ONLY = ("编组乡镇", "全市", "县人武部党委第一书记")


def _clear_caches() -> None:
    from pipeline.profile import catalog

    for fn in (catalog.load_catalog, catalog.profile_chain, catalog.profile_info, load_profile):
        fn.cache_clear()


@pytest.fixture
def child(tmp_path: Path):
    """A profile folder extending the county profile; the test writes its files."""
    folder = tmp_path / "child"
    (folder / "phrases").mkdir(parents=True)
    (folder / "profile.yaml").write_text(f"extends: {DEFAULT_PROFILE}\n", encoding="utf-8")
    _clear_caches()
    yield folder
    _clear_caches()


def test_extends_overrides_catalog_plan_and_phrases(child: Path):
    (child / "catalog.yaml").write_text(
        "remove: [militia.towns]\n"
        "metrics:\n"
        "  militia.units: null\n"
        "  militia.primary:\n    label: 基干民兵队员\n"
        "  custom_x.stations:\n    label: 哨所\n    unit: 个\n    kind: count\n    section: systems\n",
        encoding="utf-8")
    (child / "plan.yaml").write_text(
        "title: \"{region}{year}年度测试述职报告\"\n"
        "sections:\n  - key: opening\n  - key: duty\n    facets:\n      - id: political_study\n  - key: closing\n",
        encoding="utf-8")
    (child / "phrases" / "duty.yaml").write_text("political_study:\n  topics: [甲乙丙丁]\n", encoding="utf-8")
    catalog = load_catalog(str(child))
    county = load_catalog(DEFAULT_PROFILE)
    assert "militia.towns" not in catalog and "militia.units" not in catalog
    assert catalog["militia.primary"].label == "基干民兵队员"
    assert catalog["militia.primary"].unit == county["militia.primary"].unit      # inherited field
    assert catalog["custom_x.stations"].unit == "个"
    profile = load_profile(str(child))
    assert [s.key for s in profile.sections] == ["opening", "duty", "closing"]
    assert profile.title.endswith("测试述职报告")
    duty = profile.section("duty")
    assert duty is not None and [f.id for f in duty.facets] == ["political_study"]
    assert duty.facets[0].metrics == ("leadership.study_sessions",)                  # facet inherited by id
    assert duty.headings == load_profile(DEFAULT_PROFILE).section("duty").headings  # section inherited by key
    bank = profile.bank("political_study")
    assert bank.topics == ("甲乙丙丁",)                                              # overridden part
    assert bank.leads == load_profile(DEFAULT_PROFILE).bank("political_study").leads  # inherited part
    assert profile_chain(str(child))[0].name == DEFAULT_PROFILE


@pytest.mark.parametrize(("file", "text", "line", "words"), [
    ("catalog.yaml", "metrics:\n  a.b:\n    label: 甲\n    unit: 个\n    section: duty\n", 2, "缺少 kind"),
    ("catalog.yaml", "metrics:\n  a.b:\n    label: 甲\n    unit: 个\n    kind: many\n    section: duty\n", 5, "kind"),
    ("catalog.yaml", "remove: [militia.nothing]\n", 1, "不存在"),
    ("catalog.yaml", "metrics:\n  a.b: [1\n", 3, "YAML"),
    ("plan.yaml", "sections:\n  - key: opening\n  - key: nonsense\n", 3, "无效"),
    ("plan.yaml", "sections:\n  - key: duty\n    facets:\n      - metrics: []\n", 4, "缺少 id"),
    ("phrases/x.yaml", "political_study:\n  topics: 一句\n", 2, "字符串列表"),
    ("phrases/x.yaml", "political_study:\n  tropics: [一句]\n", 2, "未知的部分"),
    ("profile.yaml", "extends: [a, b]\n", 1, "extends"),
])
def test_loader_errors_name_file_and_line(child: Path, file: str, text: str, line: int, words: str):
    (child / file).write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_profile(str(child))
    message = str(info.value)
    assert file.split("/")[-1] in message and f"第 {line} 行" in message and words in message, message


def test_extends_cycle_is_an_error(tmp_path: Path):
    for a, b in (("p1", "p2"), ("p2", "p1")):
        (tmp_path / a).mkdir()
        (tmp_path / a / "profile.yaml").write_text(f"extends: {tmp_path / b}\n", encoding="utf-8")
    _clear_caches()
    with pytest.raises(InputError, match="循环"):
        profile_chain(str(tmp_path / "p1"))
    _clear_caches()


@pytest.mark.parametrize(("explicit", "meta_profile", "level", "expected"), [
    (None, None, None, DEFAULT_PROFILE),
    (None, None, "县", DEFAULT_PROFILE),
    (None, None, "区", DEFAULT_PROFILE),
    (None, None, "镇", TOWNSHIP_PROFILE),
    (None, None, "乡", TOWNSHIP_PROFILE),
    (None, None, "街道", TOWNSHIP_PROFILE),
    (None, DEFAULT_PROFILE, "镇", DEFAULT_PROFILE),      # meta.profile wins
    ("mine", None, "镇", "mine"),                         # so does --profile
    (None, None, "省", DEFAULT_PROFILE),                  # unknown level: the default
])
def test_choose_profile(explicit, meta_profile, level, expected):
    assert choose_profile(explicit, meta_profile, level) == expected


@pytest.mark.parametrize(("text", "cls"), [("雾溪镇", "township"), ("滨港街道", "township"), ("柘岭乡", "township"),
                                           ("岚川县", "county"), ("鹤汀区", "county"), ("", None), ("某地", None)])
def test_level_class(text, cls):
    assert level_class(text) == cls


def test_metrics_file_follows_its_level():
    township = metrics_from_mapping({"meta": {"year": 2025, "region": "雾溪镇", "level": "镇"},
                                     "metrics": {"conscription.registered": 400}})
    assert township.meta.profile == TOWNSHIP_PROFILE
    with pytest.raises(InputError, match="conscription.registered"):
        metrics_from_mapping({"meta": {"year": 2025, "region": "岚川县", "level": "县"},
                              "metrics": {"conscription.registered": 400}})


def test_township_profile_meets_the_county_floors():
    profile = load_profile(TOWNSHIP_PROFILE)
    assert validate_profile(profile) == []
    catalog = profile.catalog
    for key in ("department.full_time_cadres", "department.funding", "militia.emergency_platoons",
                "militia.training_attendance", "militia.emergency_missions", "conscription.registered",
                "conscription.medical_exams", "conscription.recruits", "conscription.college_recruits",
                "conscription.return_rate", "support.visits", "support.honor_plaques", "veterans.service_stations",
                "education.events", "education.participants", "ranking.department_annual"):
        assert key in catalog, key
    assert "militia.towns" not in catalog and "foundation.infrastructure_funding" not in catalog
    stated = {k for s in profile.sections for f in s.facets for k in f.metrics}
    assert stated == set(catalog), set(catalog) ^ stated
    # No bank the township drafts from carries a county-only phrase.
    used = {f.id for s in profile.sections for f in s.facets} | {s.intro for s in profile.sections if s.intro}
    for bank in profile.banks:
        if bank.facet_id not in used:
            continue
        for text in bank.topics + bank.leads + bank.sentences + bank.names + bank.closers:
            assert not any(w in text for w in COUNTY_ONLY), (bank.facet_id, text)
    for section in profile.sections:
        for heading in section.headings:
            assert not any(w in heading for w in COUNTY_ONLY), heading


def test_profiles_command_lists_metric_counts(capsys):
    assert run(["profiles"]) == 0
    out = capsys.readouterr().out
    county, township = len(load_catalog(DEFAULT_PROFILE)), len(load_catalog(TOWNSHIP_PROFILE))
    lines = {line.split()[0]: line.split() for line in out.splitlines()[1:] if line.strip()}
    assert lines[DEFAULT_PROFILE][1] == str(county)
    assert lines[TOWNSHIP_PROFILE][1] == str(township) and DEFAULT_PROFILE in lines[TOWNSHIP_PROFILE]


def test_metrics_init_township_template_validates(tmp_path: Path, capsys):
    target = tmp_path / "m.yaml"
    assert run(["metrics", "init", "--profile", TOWNSHIP_PROFILE, "-o", str(target)]) == 0
    text = target.read_text(encoding="utf-8")
    assert "scope: 全县" in text and "conscription.registered" in text and "militia.towns" not in text


SHUANGYONG = Path(__file__).resolve().parent.parent / "corpus" / "shuangyong"


@pytest.mark.parametrize("year", [2023, 2024])
def test_shuangyong_is_a_genre_made_of_yaml_only(year: int):
    """双拥工作述职: its own folder of YAML (no extends, no code); its corpus reports check clean against
    their metrics and a draft from those metrics states every figure with no bad finding."""
    from pipeline.drafting.draft import draft_report
    from pipeline.facts.check import check_text
    from pipeline.facts.metrics import load_metrics
    from pipeline.models import BAD_VERDICTS
    from pipeline.reading.readers import read_document

    folder = Path(__file__).resolve().parent.parent / "prompts" / "shuangyong"
    assert {p.suffix for p in folder.rglob("*") if p.is_file()} == {".yaml"}
    profile = load_profile("shuangyong")
    assert validate_profile(profile) == [] and profile_chain("shuangyong") == (folder,)
    metrics = load_metrics(SHUANGYONG / "metrics" / f"lanchuan-{year}.yaml")
    assert metrics.meta.profile == "shuangyong" and set(metrics.keys()) <= set(profile.catalog)
    text = read_document(SHUANGYONG / "reports" / f"lanchuan-{year}.txt")[0]
    checked = check_text(text, metrics)
    assert [f for f in checked.findings if f.verdict in BAD_VERDICTS] == [] and checked.summary["supported"] >= 8
    result = draft_report(metrics, seed=year)
    assert [f for f in result.check.findings if f.verdict in BAD_VERDICTS] == []
    assert {k for _a, _b, k in result.figures} == {m.key for m in metrics.values if m.value is not None}
    assert "双拥" in result.draft.title and "民兵" not in result.text and "征兵" not in result.text
