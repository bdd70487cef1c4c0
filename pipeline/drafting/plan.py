"""A profile's section plan and phrase banks, loaded from `prompts/<profile>/plan.yaml` and
`prompts/<profile>/phrases/*.yaml`.

The plan says which sections a draft has, in which order, their heading patterns and their facets
(sub-points) with the metric keys each states. The phrase banks hold, per facet, topic clauses,
number-free lead and closing sentences, sentences stating figures through `{metric.key}`
placeholders, and sentences carrying this year's names. Users copy a profile folder and edit the
YAML; nothing here is specific to one genre.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from pipeline.drafting.fill import PLACEHOLDER_RE, SLOT_RE, placeholders
from pipeline.errors import InputError
from pipeline.models import SECTION_KEYS
from pipeline.profile.catalog import (
    DEFAULT_PROFILE,
    CatalogEntry,
    LocatedYaml,
    installed_profiles,
    load_catalog,
    profile_chain,
    profile_dir,
    profile_info,
    read_located_yaml,
)

KNOWN_SLOTS: frozenset[str] = frozenset(
    {"year", "prev_year", "next_year", "region", "whole", "level", "superiors", "role", "unit",
     "honours", "documents", "partners"}
)
MIN_VARIANTS = 5
MIN_HEADINGS = 6
# `[A|B|C]` in a phrase is a choice: the phrase stands for one variant per combination of choices, so a
# bank line `[坚持A|落实B]，[做到C|确保D]。` gives four sentences. An empty choice (`[全年|]`) drops the
# words. Expansion stops at this many variants per line (a typo must not explode the bank).
MAX_EXPANSION = 400
_CHOICE_RE = re.compile(r"\[([^\[\]]*\|[^\[\]]*)\]")


def expand_choices(text: str) -> tuple[str, ...]:
    """Every variant a phrase with `[A|B]` choices stands for, in order (first choices first)."""
    out = [text]
    while True:
        match = _CHOICE_RE.search(out[0])
        if match is None:
            return tuple(dict.fromkeys(out))
        nxt: list[str] = []
        for item in out:
            m = _CHOICE_RE.search(item)
            assert m is not None
            for option in m.group(1).split("|"):
                nxt.append(item[:m.start()] + option + item[m.end():])
        out = nxt[:MAX_EXPANSION]


@dataclass(frozen=True)
class FacetPlan:
    id: str
    section_key: str
    metrics: tuple[str, ...] = ()
    optional: bool = False
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class SectionPlan:
    key: str
    name: str
    numbered: bool
    headings: tuple[str, ...]
    facets: tuple[FacetPlan, ...]
    intro: str | None = None


@dataclass(frozen=True)
class PhraseBank:
    facet_id: str
    topics: tuple[str, ...] = ()
    leads: tuple[str, ...] = ()
    sentences: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    closers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Profile:
    name: str
    path: Path
    title: str
    percent_sign: str
    role: str
    max_plans: int
    sections: tuple[SectionPlan, ...]
    banks: tuple[PhraseBank, ...] = field(default=())
    spec: str = DEFAULT_PROFILE     # the name or folder the profile was loaded by
    # The profile's metric catalog, read once with the plan: the drafter, the template engine and the
    # checker's aligner all take it from here instead of looking the profile up again.
    catalog: Mapping[str, CatalogEntry] = field(default_factory=dict, compare=False, hash=False)
    # Words a draft of this profile never says (a township draft: 编组乡镇, 全市): corpus sentences
    # holding one are not reused, and the tests scan every draft for them. `{level}` etc. match the
    # generalised slot, i.e. any corpus sentence whose level words would be rewritten.
    avoid: tuple[str, ...] = ()

    def bank(self, facet_id: str) -> PhraseBank:
        for bank in self.banks:
            if bank.facet_id == facet_id:
                return bank
        return PhraseBank(facet_id=facet_id)

    def section(self, key: str) -> SectionPlan | None:
        return next((s for s in self.sections if s.key == key), None)

    def facet_of_metric(self) -> dict[str, FacetPlan]:
        """Catalog key → the facet that states it."""
        return {key: facet for s in self.sections for facet in s.facets for key in facet.metrics}


def _strings(value: object, where: str, path: Path) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"{where} 应当是字符串列表。", path=str(path))
    return tuple(value)


def _phrases(value: object, where: str, path: Path) -> tuple[str, ...]:
    """A list of phrases with `[A|B]` choices expanded (duplicates dropped, order kept)."""
    return tuple(dict.fromkeys(v for item in _strings(value, where, path) for v in expand_choices(item)))


def _merge_sections(base: list[dict], child: object, plan: LocatedYaml) -> list[dict]:
    """A child plan's `sections:` is the full list in its order; an entry naming a base section's key
    inherits what it does not say, and its `facets:` (when given) inherit the base facet of the same id."""
    if not isinstance(child, list):
        raise plan.error("sections 应是章节的列表（每项有 key、facets 等）。", "sections")
    by_key = {s.get("key"): s for s in base}
    base_facets = {f.get("id"): f for s in base for f in (s.get("facets") or []) if isinstance(f, dict)}
    merged: list[dict] = []
    for i, raw in enumerate(child):
        if not isinstance(raw, dict):
            raise plan.error(f"第 {i + 1} 个章节应是映射（key、headings、facets…）。", "sections", i)
        section = {**by_key.get(raw.get("key"), {}), **raw}
        if "facets" in raw:
            facets = raw.get("facets") or []
            if not isinstance(facets, list):
                raise plan.error(f"章节 {raw.get('key')} 的 facets 应是列表。", "sections", i, "facets")
            section["facets"] = [
                {**base_facets.get(f.get("id"), {}), **f} if isinstance(f, dict) else f for f in facets
            ]
        merged.append(section)
    return merged


def _merged_plan(chain: tuple[Path, ...]) -> tuple[dict, LocatedYaml]:
    """plan.yaml of every folder of the chain merged, base first; the last file read (for errors)."""
    merged: dict = {}
    last: LocatedYaml | None = None
    for folder in chain:
        located = read_located_yaml(folder / "plan.yaml", "章节计划", required=False)
        if located is None:
            continue
        last = located
        for key, value in located.data.items():
            if key == "sections" and "sections" in merged:
                merged["sections"] = _merge_sections(merged["sections"], value, located)
            elif key == "sections" and not isinstance(value, list):
                raise located.error("sections 应是章节的列表（每项有 key、facets 等）。", "sections")
            else:
                merged[key] = value
    if last is None:
        # no plan anywhere in the chain: the usual "missing file" error of the profile itself
        read_located_yaml(chain[-1] / "plan.yaml", "章节计划")
    assert last is not None
    return merged, last


def _merged_banks(chain: tuple[Path, ...]) -> dict[str, PhraseBank]:
    """Phrase banks of the chain: a child bank replaces the parts (topics, leads…) it names and keeps
    the parent's others; `facet: null` drops the parent's bank."""
    parts_by_facet: dict[str, dict[str, tuple[str, ...]]] = {}
    for folder in chain:
        for bank_path in sorted((folder / "phrases").glob("*.yaml")):
            located = read_located_yaml(bank_path, "短语库")
            assert located is not None
            for facet_id, spec in located.data.items():
                if spec is None:
                    parts_by_facet.pop(str(facet_id), None)
                    continue
                if not isinstance(spec, dict):
                    raise located.error(f"短语库 {facet_id} 应是 topics、leads、sentences 等的映射。", facet_id)
                unknown = [p for p in spec if p not in BANK_PARTS]
                if unknown:
                    raise located.error(f"短语库 {facet_id} 有未知的部分“{unknown[0]}”；可用：{'、'.join(BANK_PARTS)}。",
                                        facet_id, unknown[0])
                entry = parts_by_facet.setdefault(str(facet_id), {})
                for part in spec:
                    try:
                        entry[part] = _phrases(spec.get(part), f"{facet_id}.{part}", bank_path)
                    except InputError as exc:
                        raise located.error(exc.message, facet_id, part) from exc
    return {fid: PhraseBank(facet_id=fid, **parts) for fid, parts in parts_by_facet.items()}


BANK_PARTS = ("topics", "leads", "sentences", "names", "closers")


@lru_cache(maxsize=16)
def load_profile(profile: str = DEFAULT_PROFILE) -> Profile:
    """Load a profile's plan and phrase banks (cached: the batch drafts thousands of reports).
    A profile that `extends:` another inherits its plan, banks and catalog and overrides them."""
    folder = profile_dir(profile)
    chain = profile_chain(profile)
    data, plan = _merged_plan(chain)
    plan_path = plan.path
    sections: list[SectionPlan] = []
    for i, raw in enumerate(data.get("sections") or []):
        if not isinstance(raw, dict):
            raise plan.error(f"第 {i + 1} 个章节应是映射（key、headings、facets…）。", "sections", i)
        key = raw.get("key")
        if key not in SECTION_KEYS:
            raise plan.error(f"第 {i + 1} 个章节的 key “{key}” 无效；可用：{'、'.join(SECTION_KEYS)}。",
                             "sections", i, "key")
        facets_raw = raw.get("facets") or []
        if not isinstance(facets_raw, list):
            raise plan.error(f"章节 {key} 的 facets 应是列表。", "sections", i, "facets")
        facets: list[FacetPlan] = []
        for j, f in enumerate(facets_raw):
            if not isinstance(f, dict) or not f.get("id"):
                raise plan.error(f"章节 {key} 的第 {j + 1} 个要点缺少 id；每个要点须写 id（短语库的名称）。",
                                 "sections", i, "facets", j)
            try:
                facets.append(FacetPlan(
                    id=str(f["id"]),
                    section_key=key,
                    metrics=_strings(f.get("metrics"), f"章节 {key} 的要点 {f.get('id')} 的 metrics", plan_path),
                    optional=bool(f.get("optional", False)),
                    keywords=_strings(f.get("keywords"), f"要点 {f.get('id')} 的 keywords", plan_path),
                ))
            except InputError as exc:
                raise plan.error(exc.message, "sections", i, "facets", j) from exc
        try:
            headings = _phrases(raw.get("headings"), f"章节 {key} 的 headings", plan_path)
        except InputError as exc:
            raise plan.error(exc.message, "sections", i, "headings") from exc
        sections.append(
            SectionPlan(
                key=key,
                name=str(raw.get("name") or key),
                numbered=bool(raw.get("numbered", True)),
                headings=headings,
                facets=tuple(facets),
                intro=raw.get("intro"),
            )
        )
    banks = _merged_banks(chain)
    try:
        max_plans = int(data.get("max_plans") or 4)
    except (TypeError, ValueError) as exc:
        raise plan.error(f"max_plans 应是整数，实际是“{data.get('max_plans')}”。", "max_plans") from exc
    return Profile(
        name=folder.name,
        path=folder,
        title=str(data.get("title") or "{year}年度述职报告"),
        percent_sign=str(data.get("percent_sign") or "％"),
        role=str(data.get("role") or "人武部党委第一书记"),
        max_plans=max_plans,
        sections=tuple(sections),
        banks=tuple(banks.values()),
        spec=profile,
        catalog=load_catalog(profile),
        avoid=tuple(dict.fromkeys(_strings(data.get("avoid"), "avoid", plan_path) + profile_info(profile).avoid)),
    )


def profile_rows() -> list[dict[str, object]]:
    """One row per installed profile for `shuzhi profiles`: name, title, extends, levels, metric and
    facet counts (a profile that does not load gives its error instead)."""
    rows: list[dict[str, object]] = []
    for info in installed_profiles():
        row: dict[str, object] = {"name": info.name, "title": info.title, "extends": info.extends,
                                  "levels": list(info.levels), "path": str(info.path)}
        try:
            loaded = load_profile(info.name)
        except InputError as exc:
            row["error"] = str(exc)
        else:
            row["metrics"] = len(loaded.catalog)
            row["facets"] = sum(len(s.facets) for s in loaded.sections)
            row["problems"] = len(validate_profile(loaded))
        rows.append(row)
    return rows


def validate_profile(profile: Profile) -> list[str]:
    """Problems that would make drafts read badly or miss figures (Chinese, one per line).

    Checked: enough heading patterns and variants so units in one batch do not read alike; every
    placeholder names a catalog key of its facet; every slot is known; every facet metric has a
    sentence stating it alone, so any subset of metrics can be covered.
    """
    problems: list[str] = []
    catalog = profile.catalog
    for section in profile.sections:
        if section.key in ("duty", "systems", "foundation", "plans") and len(section.headings) < MIN_HEADINGS:
            problems.append(f"章节 {section.key} 的标题句式少于 {MIN_HEADINGS} 个。")
        if section.intro and len(profile.bank(section.intro).leads) < MIN_VARIANTS:
            problems.append(f"章节 {section.key} 的导语 {section.intro} 少于 {MIN_VARIANTS} 种。")
        for facet in section.facets:
            bank = profile.bank(facet.id)
            parts = {"leads": bank.leads, "closers": bank.closers}
            if section.key not in ("opening", "closing"):
                parts["topics"] = bank.topics
            for part, items in parts.items():
                if facet.id == "closing" and part == "leads":
                    continue
                if section.key == "plans" and part == "closers":
                    continue
                if len(items) < MIN_VARIANTS:
                    problems.append(f"要点 {facet.id} 的 {part} 少于 {MIN_VARIANTS} 种。")
            if bank.names and len(bank.names) < MIN_VARIANTS:
                problems.append(f"要点 {facet.id} 的 names 少于 {MIN_VARIANTS} 种。")
            for key in facet.metrics:
                if key not in catalog:
                    problems.append(f"要点 {facet.id} 的指标 {key} 不在指标目录中。")
                if not any(set(placeholders(t)) == {key} for t in bank.sentences):
                    problems.append(f"要点 {facet.id} 缺少只写指标 {key} 的句式。")
            if facet.metrics:
                full = [t for t in bank.sentences if set(placeholders(t)) == set(facet.metrics)]
                if len(full) < MIN_VARIANTS:
                    problems.append(f"要点 {facet.id} 写全部指标的句式少于 {MIN_VARIANTS} 种。")
            for text in bank.leads + bank.sentences + bank.names + bank.closers + bank.topics:
                said = [w for w in profile.avoid if not w.startswith("{") and w in text]
                if said:
                    problems.append(f"要点 {facet.id} 的句子用了本配置避免的词“{said[0]}”：{text}")
                for key in placeholders(text):
                    if key not in facet.metrics:
                        problems.append(f"要点 {facet.id} 的句子用了不属于它的指标 {key}：{text}")
                stripped = PLACEHOLDER_RE.sub("", text)
                for slot in SLOT_RE.findall(stripped):
                    if slot not in KNOWN_SLOTS:
                        problems.append(f"要点 {facet.id} 的句子用了未知的槽位 {{{slot}}}：{text}")
    return problems


# --------------------------------------------------------------------------- routing this year's lists

@dataclass(frozen=True)
class FacetNames:
    """This year's names and free sentences that fall to one facet."""

    documents: tuple[str, ...] = ()
    partners: tuple[str, ...] = ()
    honours: tuple[str, ...] = ()
    highlights: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.documents or self.partners or self.honours or self.highlights)


def _best_facet(text: str, facets: tuple[FacetPlan, ...], default: FacetPlan) -> FacetPlan:
    best, best_score = default, 0
    for facet in facets:
        score = sum(len(k) for k in facet.keywords if k in text)
        if score > best_score:
            best, best_score = facet, score
    return best


@lru_cache(maxsize=4096)
def route_names(profile: Profile, metrics_lists: tuple[tuple[str, ...], ...]) -> dict[str, FacetNames]:
    """Facet id → the documents, partners and highlights it mentions, by the facets' keywords.

    `metrics_lists` is (honours, documents, partners, highlights) of the metrics file: names in a
    draft come from this year's data only. Honours go to the opening; a name no keyword claims goes to
    the first sub-point of 制度落实 (documents), 双拥 (partners) or 履职 (highlights).
    """
    honours, documents, partners, highlights = metrics_lists
    body = tuple(f for s in profile.sections if s.key in ("duty", "systems", "foundation") for f in s.facets)
    if not body:
        return {}
    by_id = {f.id: f for f in body}
    default_doc = next((f for f in body if f.section_key == "systems"), body[0])
    default_partner = by_id.get("support", default_doc)
    default_highlight = body[0]
    routed: dict[str, dict[str, list[str]]] = {}

    def put(facet: FacetPlan, kind: str, item: str) -> None:
        routed.setdefault(facet.id, {}).setdefault(kind, []).append(item)

    for doc in documents:
        put(_best_facet(doc, body, default_doc), "documents", doc)
    for partner in partners:
        put(_best_facet(partner, body, default_partner), "partners", partner)
    for sentence in highlights:
        put(_best_facet(sentence, body, default_highlight), "highlights", sentence)
    result = {fid: FacetNames(**{k: tuple(v) for k, v in kinds.items()}) for fid, kinds in routed.items()}
    opening = next((f for s in profile.sections if s.key == "opening" for f in s.facets), None)
    if opening is not None and honours:
        result[opening.id] = FacetNames(honours=tuple(honours))
    return result


def names_for(profile: Profile, metrics) -> dict[str, FacetNames]:  # noqa: ANN001 - Metrics, avoids a cycle
    return route_names(profile, (metrics.honours, metrics.documents, metrics.partners, metrics.highlights))


def route_plans(profile: Profile, plans: tuple[str, ...], rng) -> list[tuple[str, str | None]]:  # noqa: ANN001
    """Next year's sub-points as (plan facet id, the user's plan text or None).

    With plans in the metrics file each becomes one sub-point under the plan facet its words fit best
    (each facet once, then the next unused one); without, `max_plans` facets of the bank are chosen by
    the seeded RNG, kept in plan order.
    """
    section = profile.section("plans")
    facets = section.facets if section else ()
    if not facets:
        return [("", p) for p in plans]
    if not plans:
        count = min(profile.max_plans, len(facets))
        chosen = sorted(rng.sample(range(len(facets)), count))
        return [(facets[i].id, None) for i in chosen]
    unused = list(facets)
    routed: list[tuple[str, str | None]] = []
    for plan in plans:
        if not unused:
            routed.append(("", plan))
            continue
        best = _best_facet(plan, tuple(unused), unused[0])
        unused.remove(best)
        routed.append((best.id, plan))
    return routed
