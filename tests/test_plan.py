"""pipeline.drafting.plan: the profile's section plan and phrase banks are data a user can copy and edit."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest
import yaml

from pipeline.drafting.engines.template import is_number_free
from pipeline.drafting.fill import PLACEHOLDER_RE
from pipeline.drafting.plan import expand_choices, load_profile, route_names, route_plans, validate_profile
from pipeline.errors import InputError
from pipeline.profile.catalog import load_catalog, profile_dir


def test_default_profile_plan_has_the_genre_shape() -> None:
    profile = load_profile()
    assert [s.key for s in profile.sections] == ["opening", "duty", "systems", "foundation", "plans", "closing"]
    assert [s.key for s in profile.sections if s.numbered] == ["duty", "systems", "foundation"]


def test_default_profile_meets_the_variety_floors() -> None:
    """≥ 6 heading patterns per section, ≥ 5 variants per facet sentence, every metric coverable alone."""
    assert validate_profile(load_profile()) == []


def test_every_catalog_metric_has_exactly_one_facet_in_its_section() -> None:
    profile = load_profile()
    owners: dict[str, list[str]] = {}
    for section in profile.sections:
        for facet in section.facets:
            for key in facet.metrics:
                owners.setdefault(key, []).append(section.key)
    for key, entry in load_catalog().items():
        assert owners.get(key) == [entry.section], key


def test_headings_are_two_clauses_and_parse_back_to_their_section() -> None:
    from pipeline.reading.parse import classify_heading

    for section in load_profile().sections:
        for heading in section.headings:
            assert heading.count("，") == 1, heading
            assert classify_heading("一、" + heading.replace("{level}", "县")) == section.key, heading


def test_leads_closers_and_topics_are_number_free() -> None:
    for bank in load_profile().banks:
        for text in bank.leads + bank.closers + bank.topics:
            assert not PLACEHOLDER_RE.search(text) and is_number_free(text), (bank.facet_id, text)


def _copy_profile(tmp_path: Path) -> Path:
    target = tmp_path / "my-profile"
    shutil.copytree(profile_dir(), target)
    return target


def test_a_copied_and_edited_profile_is_used_without_code_changes(tmp_path: Path) -> None:
    from pipeline.drafting.draft import draft_report
    from pipeline.facts.metrics import load_metrics

    folder = _copy_profile(tmp_path)
    plan = yaml.safe_load((folder / "plan.yaml").read_text(encoding="utf-8"))
    plan["sections"][1]["headings"] = ["守正创新，奋力谱写武装工作新篇章"] * 6
    (folder / "plan.yaml").write_text(yaml.safe_dump(plan, allow_unicode=True), encoding="utf-8")
    bank_path = folder / "phrases" / "closing.yaml"
    (bank_path).write_text("closing:\n  closers: ['以上述职，请予审议。']\n", encoding="utf-8")

    metrics = load_metrics(Path(__file__).parent / "golden" / "qinglan-2024.yaml")
    result = draft_report(metrics, profile=str(folder))
    assert "一、守正创新，奋力谱写武装工作新篇章" in result.text
    assert "以上述职，请予审议。" in result.text
    assert "批评指正" not in result.text


def test_validate_profile_names_what_is_missing(tmp_path: Path) -> None:
    folder = _copy_profile(tmp_path)
    plan = yaml.safe_load((folder / "plan.yaml").read_text(encoding="utf-8"))
    plan["sections"][2]["headings"] = plan["sections"][2]["headings"][:2]
    (folder / "plan.yaml").write_text(yaml.safe_dump(plan, allow_unicode=True), encoding="utf-8")
    systems = yaml.safe_load((folder / "phrases" / "systems.yaml").read_text(encoding="utf-8"))
    systems["conscription"]["sentences"] = [s for s in systems["conscription"]["sentences"]
                                            if "{conscription.college_ratio}" not in s]
    systems["support"]["closers"] = systems["support"]["closers"][:1]
    (folder / "phrases" / "systems.yaml").write_text(yaml.safe_dump(systems, allow_unicode=True), encoding="utf-8")
    problems = "\n".join(validate_profile(load_profile(str(folder))))
    assert "章节 systems 的标题句式少于 6 个" in problems
    assert "缺少只写指标 conscription.college_ratio 的句式" in problems
    assert "要点 support 的 closers 少于 5 种" in problems


@pytest.mark.parametrize(
    ("broken", "message"),
    [("sections: [{key: middle}]", "key “middle” 无效"), ("sections: [", "不是合法的 YAML")],
)
def test_bad_plan_file_gives_a_clear_error(tmp_path: Path, broken: str, message: str) -> None:
    folder = _copy_profile(tmp_path)
    (folder / "plan.yaml").write_text(broken, encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_profile(str(folder))
    assert message in str(info.value) and "plan.yaml" in str(info.value)


def test_route_names_by_keywords() -> None:
    profile = load_profile()
    routed = route_names(profile, (("双拥模范县",), ("青岚县征兵工作20条措施", "党管武装工作考评办法"),
                                   ("云溪镇竹坪村", "驻青岚某部", "青岚县国防教育馆"), ("民兵整组高质量完成。",)))
    assert routed["opening"].honours == ("双拥模范县",)
    assert routed["conscription"].documents == ("青岚县征兵工作20条措施",)
    assert routed["leading_role"].documents == ("党管武装工作考评办法",)
    assert routed["rural_support"].partners == ("云溪镇竹坪村",)
    assert routed["support"].partners == ("驻青岚某部",)
    assert routed["defence_education"].partners == ("青岚县国防教育馆",)
    assert routed["militia_reform"].highlights == ("民兵整组高质量完成。",)


def test_route_plans() -> None:
    profile = load_profile()
    given = route_plans(profile, ("力争征兵“五率”考评保持全市前列", "建成县级国防教育馆", "配强专武干部"),
                        random.Random(0))
    assert [fid for fid, _ in given] == ["plan_tasks", "plan_education", "plan_cadres"]
    chosen = route_plans(profile, (), random.Random(0))
    assert len(chosen) == profile.max_plans and all(text is None for _, text in chosen)
    order = [f.id for f in profile.section("plans").facets]
    assert [fid for fid, _ in chosen] == sorted((fid for fid, _ in chosen), key=order.index)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("无选择。", ("无选择。",)),
        ("[甲|乙]和[丙|丁]。", ("甲和丙。", "甲和丁。", "乙和丙。", "乙和丁。")),
        ("现将[一年来的|]情况报告如下：", ("现将一年来的情况报告如下：", "现将情况报告如下：")),
        ("[同|同]样", ("同样",)),
        ("{militia.primary}[名|人]", ("{militia.primary}名", "{militia.primary}人")),
    ],
)
def test_expand_choices(text: str, expected: tuple[str, ...]) -> None:
    assert expand_choices(text) == expected


def test_bank_lines_with_choices_are_expanded_when_loaded() -> None:
    closers = load_profile().bank("closing").closers
    assert "以上述职，不当之处，恳请各位领导批评指正。" in closers
    assert all("[" not in c and "|" not in c for b in load_profile().banks for c in b.leads + b.closers + b.topics)


@pytest.mark.parametrize(
    ("filename", "content", "message"),
    [
        ("catalog.yaml", None, "缺少 catalog.yaml（指标目录）"),
        ("catalog.yaml", "metrics: [", "指标目录不是合法的 YAML"),
        ("llm.yaml", "- a list", "大模型提示词应是“键: 内容”的映射"),
    ],
)
def test_profile_files_fail_with_their_name_and_part(tmp_path, filename, content, message):
    from pipeline.errors import InputError
    from pipeline.profile.catalog import read_profile_yaml

    path = tmp_path / filename
    if content is not None:
        path.write_text(content, encoding="utf-8")
    what = {"catalog.yaml": "指标目录", "llm.yaml": "大模型提示词"}[filename]
    with pytest.raises(InputError) as info:
        read_profile_yaml(path, what)
    assert message in str(info.value) and str(path) in str(info.value)
