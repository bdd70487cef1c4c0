"""The draft orchestrator: metrics → section plan → engine → filled figures → checker → repair → Draft.

`draft_report` asks an engine for each heading and each facet (sub-point) of the profile's plan,
fills `{metric.key}` placeholders with this year's figures (`pipeline.drafting.fill`), renders the whole
report and checks it (`pipeline.facts.check.check_text`, with last year's metrics and the region's past
reports for stale figures). A facet holding a bad finding (contradicted, stale, unsupported, masked),
a placeholder for a metric the data lacks, or a metric stated other than once, is re-asked with the
findings as feedback (at most `MAX_REPAIRS` times), then replaced by the template engine's text for
the same facet. The whole text is checked once per round rather than section by section: the checker
locates sections by parsing, so a figure in 下步打算 is only judged as a target in the whole report.

Progress protocol: `progress` is called with `DraftEvent`s, in this order for a sequential engine —
for each section of the plan (opening, duty, systems, foundation, plans, closing): `section_start`,
then `section_done` once every sub-point of it is written (filled, not yet checked); then `repair` for
each facet re-asked or replaced; finally one `done`. A `DraftEvent` is a frozen dataclass *and* a
`str` (its Chinese message), so a callback that only logs text keeps working, and a progress page
reads `event.kind`, `event.section`, `event.index` / `event.total`. With a concurrent engine the
sections' sub-points run in parallel: each section still gets one start before its done, but
sections may finish out of order; callbacks are never called from two threads at once.

Writing the output files (draft.docx, draft.md, draft.json, check.html, draft-review.docx) is the
output stage's job: `pipeline.output.draft_files.write_draft_outputs(result, folder)`.
"""

from __future__ import annotations

import random
import re
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pipeline.drafting.engines import get_engine
from pipeline.drafting.engines.base import Engine, FacetRequest, FacetText, HeadingRequest
from pipeline.drafting.fill import FillError, fill, meta_slots
from pipeline.drafting.plan import FacetPlan, Profile, SectionPlan, load_profile, route_plans
from pipeline.drafting.result import (  # noqa: F401 - re-exported: callers import them from here
    EVENT_KINDS,
    DraftEvent,
    DraftResult,
    Repair,
    SentenceRecord,
    signature_lines,
)
from pipeline.drafting.wording import join_plan  # noqa: F401 - re-exported
from pipeline.models import (
    BAD_VERDICTS,
    CheckResult,
    Chunk,
    Draft,
    DraftParagraph,
    DraftSection,
    DraftSentence,
    Finding,
    Metrics,
)
from pipeline.profile.catalog import DEFAULT_PROFILE, level_class
from pipeline.reading.sentences import split_sentences

MAX_REPAIRS = 2
EXEMPLARS_PER_FACET = 8
ORDINALS = "一二三四五六七八九十"
# Numbering of the numbered sections' headings (`一、…`), shared with the output stage.
SECTION_NUMERALS = tuple(ORDINALS)
SECTION_LABELS = {"opening": "开头", "duty": "履职", "systems": "制度落实", "foundation": "基础建设",
                  "plans": "下步打算", "closing": "结尾"}


# --------------------------------------------------------------------------- internal units

@dataclass(eq=False)
class _Unit:
    """One facet being drafted: its request, its current filled parts and how it got them."""

    section: SectionPlan
    facet: FacetPlan
    request: FacetRequest
    prefix: str                        # `一是推进民兵改革训练。` or "" (opening, plans gap)
    plan_text: str | None = None
    parts: list[tuple[str, tuple[tuple[int, int, str], ...], tuple[str, ...]]] = field(default_factory=list)
    engine_name: str = "template"
    template_attempts: int = 0      # times the fallback template engine wrote this facet
    prefix_sources: tuple[str, ...] = ()   # the corpus chunk the topic clause was taken from


@dataclass
class _Context:
    metrics: Metrics
    profile: Profile
    engine: Engine
    fallback: Engine
    slots: dict[str, str]
    seed: int
    prior: Metrics | None
    past_texts: tuple[tuple[str, int | None], ...]
    index: Any
    warnings: list[str]
    progress: Callable[[DraftEvent], None]
    # Set when an exemplar search failed in THIS draft: the remaining facets skip retrieval and
    # the user is warned once. It lives here, not in the per-index cache, so the next draft in a
    # long-lived batch worker tries the index again instead of inheriting one transient failure.
    retrieval_failed: bool = False
    reuse_corpus: bool = True
    retrieval_lock: threading.Lock = field(default_factory=threading.Lock)


# --------------------------------------------------------------------------- public API

def draft_report(
    metrics: Metrics,
    *,
    engine: str | Engine = "template",
    index: Any = None,
    profile: str | None = None,
    seed: int = 0,
    prior: Metrics | None = None,
    past_texts: Sequence[tuple[str, int | None]] | None = None,
    progress: Callable[[DraftEvent], None] | None = None,
    reuse_corpus: bool = True,
    history: bool = True,
    previous_report: str | Path | None = None,
) -> DraftResult:
    """Draft this year's report from `metrics`; every figure in it comes from `metrics`.

    `index` (a HybridIndex) supplies exemplar chunks per facet and past headings and, when
    `past_texts` is None, the region's earlier reports for stale detection. `prior` is last year's
    metrics. `progress` receives `DraftEvent`s (module docstring). `reuse_corpus=False` keeps corpus
    sentences out of the template engine's text (exemplars still reach an LLM engine as style).

    Update mode (`pipeline.drafting.update`): when `previous_report` names last year's report, or
    `history` is on and `index` holds a report of the same region for the year before, the draft is
    written over that report. `history=False` always drafts afresh from the plan.
    """
    from pipeline.facts.check import check_text

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    profile_name = profile or metrics.meta.profile or DEFAULT_PROFILE
    prof = load_profile(profile_name)
    engine_obj = _engine(engine, prof, reuse_corpus) if isinstance(engine, str) else engine
    if engine_obj.name == "template" and getattr(engine_obj, "profile_name", prof.spec) != prof.spec:
        # A batch worker's engine was built for another profile: a township unit needs its own banks.
        engine_obj = _engine("template", prof, getattr(engine_obj, "reuse_corpus", reuse_corpus))
    fallback = engine_obj if engine_obj.name == "template" else _engine("template", prof, reuse_corpus)
    lock = threading.Lock()

    def say(event: DraftEvent) -> None:
        if progress is not None:
            with lock:      # sections may finish in worker threads: one callback at a time
                progress(event)
    if past_texts is None:
        past_texts = _past_texts(index, metrics) if index is not None else ()
    ctx = _Context(
        metrics=metrics, profile=prof, engine=engine_obj, fallback=fallback,
        slots=meta_slots(metrics, role=prof.role), seed=seed, prior=prior,
        past_texts=tuple(past_texts), index=index, warnings=[], progress=say, reuse_corpus=reuse_corpus,
    )
    timings["setup"] = time.perf_counter() - t0
    if not (metrics.meta.reporter or "").strip():
        ctx.warnings.append("指标文件没有填写述职人姓名（meta.reporter），落款只有职务；请补上姓名后重新起草。")

    past_report = None
    if previous_report is not None:
        from pipeline.drafting.history import previous_from_file

        past_report = previous_from_file(previous_report, metrics)
    elif history and index is not None:
        from pipeline.drafting.history import previous_from_index

        past_report = previous_from_index(index, metrics)
    if past_report is not None:
        from pipeline.drafting.update import UpdateOptions, draft_update

        def exemplars(section_key: str, facet: FacetPlan) -> tuple[Chunk, ...]:
            section = prof.section(section_key)
            return _exemplars(ctx, section, facet) if section is not None else ()

        return draft_update(UpdateOptions(
            metrics=metrics, profile=prof, past=past_report, prior=prior, past_texts=ctx.past_texts,
            seed=seed, engine=engine_obj, fallback=fallback, slots=ctx.slots, warnings=ctx.warnings,
            progress=say, exemplars=exemplars,
        ))

    t1 = time.perf_counter()
    headings = _headings(ctx)
    plan = _plan_units(ctx, headings)
    timings["plan"] = time.perf_counter() - t1

    t2 = time.perf_counter()
    units = [u for units in plan.values() for u in units]
    _write_sections(ctx, plan, say)
    _polish(ctx, plan, headings)
    timings["write"] = time.perf_counter() - t2

    repairs: list[Repair] = []
    t3 = time.perf_counter()
    rendered = _render(ctx, plan, headings)
    check = check_text(rendered.text, metrics, prior=prior, past_texts=ctx.past_texts,
                       source=metrics.source, catalog=prof.catalog)
    for round_no in range(1, MAX_REPAIRS + 2):
        bad = _bad_units(rendered, check, units, ctx)
        if not bad:
            break
        for unit, problems in bad.items():
            if round_no <= MAX_REPAIRS and unit.engine_name == ctx.engine.name:
                action, engine_for = "reask", ctx.engine
            else:
                action, engine_for = "template", ctx.fallback
            repairs.append(Repair(unit.facet.id, round_no, tuple(problems), action))
            say(DraftEvent(
                "repair", unit.section.key, _section_index(ctx, unit.section.key), len(ctx.profile.sections),
                unit.facet.id,
                f"修正：{unit.facet.id} 第{round_no}次（{'重写' if action == 'reask' else '改用模板'}）",
            ))
            unit.request = replace(unit.request, feedback=unit.request.feedback + tuple(problems))
            _write(ctx, unit, engine_for)
        _polish(ctx, plan, headings)
        rendered = _render(ctx, plan, headings)
        check = check_text(rendered.text, metrics, prior=prior, past_texts=ctx.past_texts,
                           source=metrics.source, catalog=prof.catalog)
    timings["check"] = time.perf_counter() - t3
    if not check.ok:
        ctx.warnings.append(
            f"核对仍有 {sum(1 for f in check.findings if f.verdict in BAD_VERDICTS)} 处问题，请在 check.html 中逐条处理。"
        )
    for r in repairs:
        ctx.warnings.append(f"要点 {r.facet} 第{r.attempt}次修正（{r.action}）：{'；'.join(r.problems)[:200]}")
    timings["total"] = time.perf_counter() - t0
    draft = Draft(
        title=rendered.title,
        sections=rendered.sections,
        meta=metrics.meta,
        engine=ctx.engine.name,
        seed=seed,
        warnings=tuple(dict.fromkeys(ctx.warnings)),
        signature=rendered.signature,
    )
    say(DraftEvent("done", None, 0, len(ctx.profile.sections), None,
                   f"起草完成：{len(rendered.sections)} 部分，{len(rendered.text)} 字，用时 {timings['total']:.2f} 秒"))
    return DraftResult(
        draft=draft, text=rendered.text, check=check, sentences=rendered.records,
        figures=rendered.figures, warnings=draft.warnings, repairs=tuple(repairs), timings=timings,
        metrics=metrics,
    )


def _engine(spec: str, profile: Profile, reuse_corpus: bool) -> Engine:
    if spec == "template" and not reuse_corpus:
        from pipeline.drafting.engines.template import TemplateEngine

        return TemplateEngine(profile, reuse_corpus=False)
    return get_engine(spec, profile=profile)


def _polish(ctx: _Context, plan: dict[str, list[_Unit]], headings: dict[str, str]) -> None:
    """Comparisons with last year after the figures that changed most, and the stock-word budget
    (`pipeline.drafting.polish`), over the whole draft's filled parts."""
    from pipeline.drafting.polish import Part, add_comparisons, stock_count, trim_stock_words, with_prior
    from pipeline.drafting.style import load_style

    style = load_style(ctx.profile.spec)
    refs: list[tuple[_Unit, int, Part]] = []
    for section in ctx.profile.sections:
        for unit in plan.get(section.key, []):
            if unit.prefix:
                refs.append((unit, -1, Part(unit.prefix, (), section.key)))
            for i, (text, spans, _sources) in enumerate(unit.parts):
                refs.append((unit, i, Part(text, spans, section.key, text.count("较上年"))))
    parts = [p for _u, _i, p in refs]
    # `--prior` fills `previous` where the metrics file has none: comparisons need it too.
    add_comparisons(parts, with_prior(ctx.metrics, ctx.prior), style, catalog=ctx.profile.catalog)
    whole = _render(ctx, plan, headings).text
    outside = stock_count(whole, style) - sum(stock_count(p.text, style) for p in parts)
    trim_stock_words(parts, style, len(whole), extra_count=max(0, outside))
    for unit, i, part in refs:
        if i < 0:
            unit.prefix = part.text
            continue
        _text, _spans, sources = unit.parts[i]
        unit.parts[i] = (part.text, part.spans, sources)


def _section_index(ctx: _Context, key: str) -> int:
    return next((i for i, s in enumerate(ctx.profile.sections, 1) if s.key == key), 0)


def _write_sections(ctx: _Context, plan: dict[str, list[_Unit]], say: Callable[[DraftEvent], None]) -> None:
    """Write every facet, telling `say` when each section starts and is done (module docstring)."""
    sections = ctx.profile.sections
    total = len(sections)
    names = {s.key: s.name if s.name != s.key else SECTION_LABELS.get(s.key, s.key) for s in sections}

    def start(i: int, key: str) -> None:
        say(DraftEvent("section_start", key, i, total, None, f"开始写：{names[key]}（{i}/{total}）"))

    def done(i: int, key: str) -> None:
        say(DraftEvent("section_done", key, i, total, None, f"写完：{names[key]}（{i}/{total}）"))

    units = [u for us in plan.values() for u in us]
    if not (ctx.engine.concurrent and len(units) > 1):
        for i, section in enumerate(sections, 1):
            start(i, section.key)
            for unit in plan.get(section.key, []):
                _write(ctx, unit, ctx.engine)
            done(i, section.key)
        return
    position = {s.key: i for i, s in enumerate(sections, 1)}
    left = {key: len(us) for key, us in plan.items() if us}
    started: set[str] = set()
    lock = threading.Lock()

    def run(unit: _Unit) -> None:
        key = unit.section.key
        with lock:
            first = key not in started
            started.add(key)
        if first:
            start(position[key], key)
        _write(ctx, unit, ctx.engine)
        with lock:
            left[key] -= 1
            finished = left[key] == 0
        if finished:
            done(position[key], key)

    with ThreadPoolExecutor(max_workers=min(4, len(units))) as pool:
        list(pool.map(run, units))
    for i, section in enumerate(sections, 1):      # sections with no sub-points (closing)
        if not plan.get(section.key):
            start(i, section.key)
            done(i, section.key)


# --------------------------------------------------------------------------- planning

def _past_texts(index: Any, metrics: Metrics) -> tuple[tuple[str, int | None], ...]:
    return tuple(index.past_reports(metrics.meta.region, before_year=metrics.meta.year))


# index object → {(profile, facet id): chunks}. Weak keys: a closed index takes its cache with it.
_EXEMPLAR_CACHE: weakref.WeakKeyDictionary[Any, dict[tuple[str, str, str | None], tuple[Chunk, ...]]] = (
    weakref.WeakKeyDictionary()
)


def _exemplars(ctx: _Context, section: SectionPlan, facet: FacetPlan) -> tuple[Chunk, ...]:
    """Corpus chunks a facet may be modelled on. The query depends on the facet only, so a batch of
    thousands of drafts retrieves once per facet and index object."""
    if ctx.index is None:
        return ()
    try:
        per_index = _EXEMPLAR_CACHE.setdefault(ctx.index, {})
    except TypeError:           # an index object that cannot be weakly referenced: no caching
        per_index = {}
    level = level_class(ctx.metrics.meta.level) or level_class(ctx.metrics.meta.region)
    cache_key = (ctx.profile.spec, facet.id, level)
    cached = per_index.get(cache_key)
    if cached is not None:
        return cached
    if ctx.retrieval_failed:
        return ()           # one failure per draft is enough: do not retry (and re-warn) per facet
    bank = ctx.profile.bank(facet.id)
    catalog = ctx.profile.catalog
    words = list(bank.topics[:2]) + [catalog[k].label for k in facet.metrics if k in catalog]
    try:
        # Same-level passages first: a township draft is modelled on township reports.
        query = " ".join(words) or facet.id
        try:
            hits = ctx.index.search(query, k=EXEMPLARS_PER_FACET, section=section.key, level=level)
        except TypeError:       # an index of the user's own without level support
            hits = ctx.index.search(query, k=EXEMPLARS_PER_FACET, section=section.key)
    except Exception as exc:  # noqa: BLE001 - retrieval helps style only; a draft must not fail on it
        # Nothing goes into the shared cache: the failure may be transient (a locked index file,
        # a timeout), and caching it would strip exemplars from every later draft in the process.
        with ctx.retrieval_lock:       # facets may run in threads: still one warning per draft
            if not ctx.retrieval_failed:
                ctx.retrieval_failed = True
                ctx.warnings.append(f"检索范文失败（{exc}），本稿只用短语库。")
        return ()
    cached = tuple(h.chunk for h in hits)
    per_index[cache_key] = cached
    return cached


def _stated_keys(ctx: _Context) -> dict[str, list[str]]:
    """Facet id → metric keys it must state: the plan's keys with a figure, plus keys the plan has no
    facet for (custom metrics), given to the last facet of their section."""
    metrics = ctx.metrics
    by_facet: dict[str, list[str]] = {}
    owner = ctx.profile.facet_of_metric()
    body_sections = {s.key: s for s in ctx.profile.sections if s.facets}
    for m in metrics.values:
        if m.value is None:
            ctx.warnings.append(f"指标 {m.key}（{m.label}）没有给出数值，草稿未写这个数字。")
            continue
        facet = owner.get(m.key)
        if facet is None:
            section = body_sections.get(m.section) or body_sections.get("systems")
            if section is None:
                ctx.warnings.append(f"指标 {m.key} 没有可放的章节，未写入草稿。")
                continue
            # The sub-point whose words the label shares most (海上民兵船只 → 民兵), else the last one.
            facet = max(reversed(section.facets),
                        key=lambda f: sum(len(w) for w in f.keywords if w in m.label))
            ctx.warnings.append(f"指标 {m.key}（{m.label}）在章节计划中没有对应要点，已写入“{section.name}”的通用句。")
        by_facet.setdefault(facet.id, []).append(m.key)
    # Keep the plan's order of keys inside a facet.
    order = {k: i for i, k in enumerate(k for s in ctx.profile.sections for f in s.facets for k in f.metrics)}
    for keys in by_facet.values():
        keys.sort(key=lambda k: order.get(k, len(order)))
    return by_facet


def _plan_units(ctx: _Context, headings: dict[str, str]) -> dict[str, list[_Unit]]:
    from pipeline.drafting.plan import names_for

    metrics = ctx.metrics
    catalog = ctx.profile.catalog
    stated = _stated_keys(ctx)
    names = names_for(ctx.profile, metrics)
    plan: dict[str, list[_Unit]] = {}
    for section in ctx.profile.sections:
        if section.key == "closing":
            continue
        rng = random.Random(f"{ctx.seed}|{metrics.meta.region}|{metrics.meta.year}|topics:{section.key}")
        if section.key == "plans":
            facets_and_plans = route_plans(ctx.profile, metrics.plans, rng)
            by_id = {f.id: f for f in section.facets}
            chosen = [(by_id.get(fid) or FacetPlan(id=fid or "plan_extra", section_key="plans"), text)
                      for fid, text in facets_and_plans]
        else:
            chosen = [
                (f, None) for f in section.facets
                if not f.optional or stated.get(f.id) or names.get(f.id)
            ]
        units: list[_Unit] = []
        ordinal = 0
        for facet, plan_text in chosen:
            bank = ctx.profile.bank(facet.id)
            keys = tuple(stated.get(facet.id, ()))
            numbered = section.key not in ("opening",)
            topic = rng.choice(bank.topics) if bank.topics else ""
            exemplars = _exemplars(ctx, section, facet) if section.key != "plans" else ()
            prefix_sources: tuple[str, ...] = ()
            if numbered and not plan_text and ctx.reuse_corpus and ctx.engine is ctx.fallback:
                # Half the sub-points take their topic from a retrieved sub-point of another unit on
                # the same facet, when one fits (short, no figure, no name, the facet's own words).
                from pipeline.drafting.engines.template import corpus_topics

                found = corpus_topics(exemplars, metrics.meta.region, facet, catalog)
                if found and rng.random() < 0.7:
                    topic, chunk_id = rng.choice(found)
                    prefix_sources = (chunk_id,)
            prefix = ""
            if numbered and (topic or plan_text):
                prefix = f"{ORDINALS[ordinal] if ordinal < len(ORDINALS) else ordinal + 1}是"
                ordinal += 1
                prefix += f"{topic}。" if topic else ""
            labels = {}
            for k in keys:
                m = metrics.get(k)
                entry = catalog.get(k)
                unit = (m.unit if m else entry.unit if entry else "")
                labels[k] = f"{(m.label if m else entry.label if entry else k)}（{unit}）"
            request = FacetRequest(
                profile=ctx.profile.spec, section_key=section.key, section_heading=headings.get(section.key, ""),
                facet_id=facet.id, topic=topic, ordinal=ordinal, metric_keys=keys, metric_labels=labels,
                # Plans are this unit's own targets: corpus plans of other units would read as promises.
                metrics=metrics, exemplars=exemplars, seed=ctx.seed,
            )
            units.append(_Unit(section=section, facet=facet, request=request, prefix=prefix, plan_text=plan_text,
                               prefix_sources=prefix_sources))
        plan[section.key] = units
    return plan


_HEADING_CACHE: weakref.WeakKeyDictionary[Any, dict[str, tuple[str, ...]]] = weakref.WeakKeyDictionary()
_HEADING_NUMBER_RE = re.compile(r"^\s*(?:[一二三四五六七八九十]+[、.．]|（[一二三四五六七八九十]+）|\d+[、.．])\s*")
MAX_HEADING_EXEMPLARS = 8


def past_headings(index: Any, section_key: str) -> tuple[str, ...]:
    """Distinct headings the corpus gave this section (numbering stripped), most frequent first.
    Cached per index object: one pass over the chunks serves a whole batch."""
    if index is None:
        return ()
    try:
        per_index = _HEADING_CACHE.setdefault(index, {})
    except TypeError:
        per_index = {}
    if not per_index:
        counts: dict[str, dict[str, int]] = {}
        try:
            chunks = index.all_chunks()
        except Exception:  # noqa: BLE001 - exemplars are optional style hints
            chunks = []
        for chunk in chunks:
            heading = _HEADING_NUMBER_RE.sub("", (chunk.heading or "").strip()).rstrip("。：:")
            if 6 <= len(heading) <= 40 and not any(ch.isdigit() or ch in "*＊×" for ch in heading):
                bucket = counts.setdefault(chunk.section_key, {})
                bucket[heading] = bucket.get(heading, 0) + 1
        for key, bucket in counts.items():
            ranked = sorted(bucket, key=lambda h: (-bucket[h], h))
            per_index[key] = tuple(ranked[:MAX_HEADING_EXEMPLARS])
        per_index.setdefault("", ())     # marks the index as scanned even when it holds no headings
    return per_index.get(section_key, ())


def _heading_key(heading: str) -> str:
    return re.sub(r"[，,、。；;：:\s]", "", heading)


def _headings(ctx: _Context) -> dict[str, str]:
    """One heading per numbered section. Two sections never share a heading: a repeated one (an LLM
    may write the same line twice) is replaced by the template's heading, or the next unused pattern."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for section in ctx.profile.sections:
        if not section.numbered:
            continue
        request = HeadingRequest(profile=ctx.profile.spec, section_key=section.key, metrics=ctx.metrics,
                                 exemplars=past_headings(ctx.index, section.key), seed=ctx.seed)
        try:
            heading = ctx.engine.write_heading(request).strip()
        except Exception as exc:  # noqa: BLE001 - a heading is style; fall back rather than fail
            ctx.warnings.append(f"章节 {section.key} 的标题生成失败（{exc}），改用模板标题。")
            heading = ""
        if not heading or any(ch.isdigit() for ch in heading):
            heading = ctx.fallback.write_heading(request)
        candidates = [heading]
        if ctx.engine is not ctx.fallback:
            candidates.append(ctx.fallback.write_heading(request))
        start = section.headings.index(candidates[-1]) if candidates[-1] in section.headings else 0
        candidates += list(section.headings[start:] + section.headings[:start])
        filled = [fill(c, ctx.metrics, slots=ctx.slots).text for c in candidates if c]
        chosen = next((h for h in filled if _heading_key(h) not in used), filled[0] if filled else "")
        if chosen != (filled[0] if filled else ""):
            ctx.warnings.append(f"章节 {section.key} 的标题与前文重复，已改用“{chosen}”。")
        used.add(_heading_key(chosen))
        out[section.key] = chosen
    return out


# --------------------------------------------------------------------------- writing one facet

def _write(ctx: _Context, unit: _Unit, engine: Engine) -> None:
    """Ask `engine` for the facet and fill it; on a fill error fall back to the template engine."""
    answer = _ask(ctx, unit, engine)
    try:
        unit.parts = _fill_parts(ctx, unit, answer)
        unit.engine_name = engine.name
    except FillError as exc:
        if engine is ctx.fallback:
            raise
        unit.request = replace(unit.request, feedback=unit.request.feedback + (str(exc),))
        unit.parts = _fill_parts(ctx, unit, _ask(ctx, unit, ctx.fallback))
        unit.engine_name = ctx.fallback.name
    for warning in answer[1]:
        ctx.warnings.append(warning)


def _ask(ctx: _Context, unit: _Unit, engine: Engine) -> tuple[list[tuple[str, tuple[str, ...]]], tuple[str, ...]]:
    """The engine's text as (part text, chunk ids) pieces: per sentence when the engine can tell."""
    request = unit.request
    if engine is ctx.fallback and ctx.engine is not ctx.fallback:
        # The template writes the facet afresh; its own earlier attempts (not the LLM's) vary its choices.
        request = replace(request, feedback=request.feedback[len(request.feedback) - unit.template_attempts:]
                          if unit.template_attempts else ())
    if engine is ctx.fallback:
        unit.template_attempts += 1
    if hasattr(engine, "write_facet_parts"):
        parts, warnings = engine.write_facet_parts(request)
        return list(parts), tuple(warnings)
    answer: FacetText = engine.write_facet(request)
    return [(answer.text, answer.sources)], tuple(answer.warnings)


def _fill_parts(ctx: _Context, unit: _Unit, answer) -> list:  # noqa: ANN001
    pieces, _warnings = answer
    if unit.plan_text:
        text, sources = pieces[-1] if pieces else ("", ())
        pieces = pieces[:-1] + [(join_plan(text, unit.plan_text), sources)]
    filled = []
    for text, sources in pieces:
        result = fill(text, ctx.metrics, slots=ctx.slots, percent_sign=ctx.profile.percent_sign)
        filled.append((result.text, result.spans, tuple(sources)))
    return filled


# --------------------------------------------------------------------------- rendering

@dataclass(frozen=True)
class _Rendered:
    title: str
    text: str
    sections: tuple[DraftSection, ...]
    records: tuple[SentenceRecord, ...]
    figures: tuple[tuple[int, int, str], ...]
    signature: tuple[str, ...]
    unit_spans: tuple[tuple[int, int, int], ...]      # (start, end, id(unit)) of each facet in text
    units_by_id: dict[int, _Unit]


def _render(ctx: _Context, plan: dict[str, list[_Unit]], headings: dict[str, str]) -> _Rendered:
    """Assemble the report text and its provenance. Paragraph layout follows the seed: opening,
    `一、heading`, an intro paragraph, one paragraph per sub-point, plans, closing, signature."""
    metrics = ctx.metrics
    profile = ctx.profile
    title = fill(profile.title, metrics, slots=ctx.slots).text
    lines: list[str] = [title]
    pos = len(title) + 1
    sections: list[DraftSection] = []
    records: list[SentenceRecord] = []
    figures: list[tuple[int, int, str]] = []
    unit_spans: list[tuple[int, int, int]] = []
    number = 0
    for section in profile.sections:
        paragraphs: list[DraftParagraph] = []
        heading = headings.get(section.key, "")
        if section.numbered:
            label = f"{SECTION_NUMERALS[number]}、{heading}"
            number += 1
            lines.append(label)
            pos += len(label) + 1

        def add_paragraph(sentences: list[DraftSentence], paragraphs: list[DraftParagraph] = paragraphs) -> None:
            nonlocal pos
            paragraph = DraftParagraph(tuple(sentences))
            paragraphs.append(paragraph)
            lines.append(paragraph.text)
            pos += len(paragraph.text) + 1

        rng = random.Random(f"{ctx.seed}|{metrics.meta.region}|{metrics.meta.year}|intro:{section.key}")
        if section.intro:
            bank = profile.bank(section.intro)
            if bank.leads:
                from pipeline.drafting.engines.template import repeats_idea

                # An intro restating the heading just above it (年度军事工作任务 twice) is dropped from the choice.
                leads = [t for t in bank.leads if not repeats_idea(t, heading)] or list(bank.leads)
                text = fill(rng.choice(leads), metrics, slots=ctx.slots).text
                records.append(SentenceRecord(section.key, section.intro, text, pos, pos + len(text)))
                add_paragraph([DraftSentence(text, facet=section.intro)])
        if section.key == "closing":
            bank = profile.bank(section.facets[0].id if section.facets else "closing")
            text = rng.choice(bank.closers) if bank.closers else "我的述职完毕，不妥之处，请各位领导批评指正。"
            records.append(SentenceRecord(section.key, "closing", text, pos, pos + len(text)))
            add_paragraph([DraftSentence(text, facet="closing")])
        for unit in plan.get(section.key, []):
            start = pos
            sentences: list[DraftSentence] = []
            cursor = pos
            if unit.prefix:
                sentences.append(DraftSentence(unit.prefix, sources=unit.prefix_sources, facet=unit.facet.id))
                records.append(SentenceRecord(section.key, unit.facet.id, unit.prefix, cursor,
                                              cursor + len(unit.prefix), sources=unit.prefix_sources,
                                              engine=unit.engine_name))
                cursor += len(unit.prefix)
            for text, spans, sources in unit.parts:
                for s_start, s_end in split_sentences(text) or [(0, len(text))]:
                    piece = text[s_start:s_end]
                    keys = tuple(k for a, b, k in spans if s_start <= a < s_end)
                    sentences.append(DraftSentence(piece, metric_keys=keys, sources=sources, facet=unit.facet.id))
                    records.append(SentenceRecord(section.key, unit.facet.id, piece, cursor + s_start,
                                                  cursor + s_end, keys, sources, unit.engine_name,
                                                  comparisons=piece.count("较上年")))
                for a, b, k in spans:
                    figures.append((cursor + a, cursor + b, k))
                cursor += len(text)
            add_paragraph(sentences)
            unit_spans.append((start, pos - 1, id(unit)))
        sections.append(DraftSection(key=section.key, heading=heading if section.numbered else "",
                                     paragraphs=tuple(paragraphs), numbered=section.numbered))
    signature = signature_lines(metrics)
    lines.extend(signature)
    text = "\n".join(lines) + "\n"
    units_by_id = {id(u): u for units in plan.values() for u in units}
    return _Rendered(title, text, tuple(sections), tuple(records), tuple(figures), signature,
                     tuple(unit_spans), units_by_id)


def _bad_units(rendered: _Rendered, check: CheckResult, units: list[_Unit], ctx: _Context) -> dict[_Unit, list[str]]:
    """Facets to repair, with one feedback line per problem: bad findings inside them, and metrics
    stated other than exactly once."""
    bad: dict[_Unit, list[str]] = {}
    for finding in check.findings:
        if finding.verdict not in BAD_VERDICTS:
            continue
        unit = _unit_at(rendered, finding.start)
        if unit is None:
            continue
        bad.setdefault(unit, []).append(feedback_line(finding))
    for unit in units:
        stated = [k for _text, spans, _src in unit.parts for _a, _b, k in spans]
        for key in unit.request.metric_keys:
            count = stated.count(key)
            if count != 1:
                bad.setdefault(unit, []).append(
                    f"指标 {{{key}}} 应当恰好写一次，现在写了 {count} 次。"
                )
        for key in set(stated) - set(unit.request.metric_keys):
            bad.setdefault(unit, []).append(f"指标 {{{key}}} 不属于这一要点，请删去。")
    return bad


def _unit_at(rendered: _Rendered, offset: int) -> _Unit | None:
    for start, end, uid in rendered.unit_spans:
        if start <= offset < end:
            return rendered.units_by_id[uid]
    return None


def feedback_line(finding: Finding) -> str:
    verdict = {"contradicted": "与数据不符", "stale": "是去年的旧数", "unsupported": "数据中没有",
               "masked": "仍是占位符"}.get(finding.verdict, finding.verdict)
    line = f"“{finding.text}”{verdict}"
    if finding.expected:
        line += f"（应为 {finding.expected}）"
    if finding.reason:
        line += f"：{finding.reason}"
    return line
