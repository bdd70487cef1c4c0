"""Update mode: this year's draft written over last year's report of the same unit.

What a secretary does by hand — open last year's report, keep what still holds, update every
figure, add what is new, cut what is stale — done with the checker's aligner:

1. Last year's report (`pipeline.drafting.history`) keeps its sections, headings and order.
2. Every sentence is cut into clauses. A figure is re-bound through the aligner to the metric its
   words name and becomes a `{metric.key}` placeholder, filled with this year's value. A clause is
   dropped when a figure in it binds to no metric with a value this year, when it compares with an
   earlier year (its comparison is recomputed), when it tells a one-off event of its year (建成,
   首次, dated events, 被评为…; the profile's `style.yaml`), or when it names a document or honour
   this year's data does not carry. A sentence left without clauses is dropped.
3. A metric stated twice keeps the statement in its own section. Metrics last year's report did not
   state are added at their facet with the phrase bank's sentences; this year's names (documents,
   partners) likewise; the opening's rankings and honours are written afresh with their comparison.
4. Up to `max_comparisons` changes against last year (the largest first) follow their figure:
   `较上年增加N人`, `较上年提高x个百分点`, `连续两年保持全市第一` — each one judged `derived` by the
   checker.
5. Next year's plans come from this year's metrics file, each in the place of last year's plan of the
   same facet; last year's plans without a target are kept.
6. The whole text is checked (this year's data, last year's data, the old report itself as a past
   text): a sentence with a bad finding is dropped and its metrics written afresh, until clean.

Sentences kept without any figure are marked `kept` (draft.json, and a comment in the review copy):
they may no longer hold, and only a person can tell.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pipeline.drafting.fill import FillError, chinese_numeral, fill
from pipeline.drafting.history import PastReport
from pipeline.drafting.plan import FacetPlan, Profile, _best_facet, names_for, route_plans
from pipeline.drafting.polish import (
    comparison_phrase,
    metric_terms,
    names_metric,
    relative_change,
    with_prior,
)
from pipeline.drafting.rebind import Rebinder, claims, join_clauses
from pipeline.drafting.result import DraftEvent, DraftResult, SentenceRecord, signature_lines
from pipeline.drafting.style import StyleRules, load_style
from pipeline.models import BAD_VERDICTS, Draft, DraftParagraph, DraftSection, DraftSentence, Metrics
from pipeline.reading.sentences import sentences as split_sentences

ORDINALS = "一二三四五六七八九十"
MAX_ROUNDS = 6
_YEAR_RE = re.compile(r"(20\d\d)(?=年)")
_PLANS_COUNT_RE = re.compile(r"[一二两三四五六七八九十]个方面")
_MARKER_RE = re.compile(r"^(?:[一二三四五六七八九十]+是|（[一二三四五六七八九十]+）|[一二三四五六七八九十]+、|\d+[、.．])")
_PLANS_INTRO = ("差距", "不足", "回顾", "问题", "短板", "下一步", "下步", "我将")


# --------------------------------------------------------------------------- pieces of the draft

@dataclass
class _Sentence:
    template: str                      # placeholders for this year's figures, comparisons written out
    origin: str                        # kept | rebound | new
    sources: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    comparisons: int = 0
    uid: int = 0


@dataclass
class _Paragraph:
    section: str
    facet: str | None
    subpoint: bool                     # rendered with `N是` before its topic
    topic: str = ""                    # the sub-point's topic sentence (`民兵队伍建设更加精干。`)
    sentences: list[_Sentence] = field(default_factory=list)
    source: str = ""


@dataclass
class _Section:
    key: str
    heading: str
    paragraphs: list[_Paragraph]


def _shift_years(text: str, old_year: int) -> str:
    """Years of last year's report move on by one (`2023年以来` → `2024年以来`, plans `2024年` → `2025年`)."""
    def move(m: re.Match[str]) -> str:
        y = int(m.group(1))
        return str(y + 1) if old_year - 1 <= y <= old_year + 1 else m.group(1)
    return _YEAR_RE.sub(move, text)


# --------------------------------------------------------------------------- comparisons

def _rank_label(label: str) -> str:
    return re.sub(r"(排名|名次)$", "", label)


def rank_sentence(metrics: Metrics, style: StyleRules, keys: tuple[str, ...]) -> tuple[str, int]:
    """The opening's rankings as clauses, each with its change since last year; (text, comparisons)."""
    clauses, compared = [], 0
    for key in keys:
        m = metrics.get(key)
        if m is None or m.value is None:
            continue
        label = _rank_label(m.label)
        if m.previous is not None and m.previous == m.value:
            clauses.append(style.rank_same.replace("{label}", label).replace("{rank}", "{" + key + "}"))
            compared += 1
        elif m.previous is not None and m.previous > m.value:
            moved = int(m.previous - m.value)
            clauses.append(style.rank_up.replace("{label}", label).replace("{rank}", "{" + key + "}")
                           .replace("{moved}", chinese_numeral(moved) if moved < 100 else str(moved)))
            compared += 1
        else:
            clauses.append(style.rank_down.replace("{label}", label).replace("{rank}", "{" + key + "}"))
    return "，".join(clauses), compared


# --------------------------------------------------------------------------- the orchestration

@dataclass
class UpdateOptions:
    metrics: Metrics
    profile: Profile
    past: PastReport
    prior: Metrics | None
    past_texts: tuple[tuple[str, int | None], ...]
    seed: int
    engine: Any                      # the engine asked to rewrite sub-points (None: template only)
    fallback: Any                    # the template engine (phrase banks for new metrics)
    slots: dict[str, str]
    warnings: list[str]
    progress: Callable[[DraftEvent], None]
    exemplars: Callable[[str, FacetPlan], tuple[Any, ...]] = lambda _s, _f: ()


class _Builder:
    def __init__(self, opts: UpdateOptions):
        self.o = opts
        self.metrics = opts.metrics
        # `--prior` fills `previous` where the metrics file has none: the comparisons read it.
        self.compared = with_prior(opts.metrics, opts.prior)
        self.profile = opts.profile
        self.style = load_style(opts.profile.spec)
        self.rebinder = Rebinder(opts.metrics, opts.prior, opts.profile.catalog, self.style)
        self.owner = opts.profile.facet_of_metric()
        self.facets = {f.id: f for s in opts.profile.sections for f in s.facets}
        self.dropped: set[int] = set()       # uids of sentences a check found bad
        self.next_uid = 1
        self.llm_failed: set[int] = set()

    # ------------------------------------------------------------------ building from last year

    def _sentence(self, template: str, origin: str, sources: tuple[str, ...] = (), keys=(), comparisons=0) -> _Sentence:  # noqa: ANN001
        s = _Sentence(template, origin, sources, tuple(keys), comparisons, self.next_uid)
        self.next_uid += 1
        return s

    def from_last_year(self) -> list[_Section]:
        past = self.o.past
        sections: list[_Section] = []
        for psec in past.sections:
            body_facets = tuple(f for s in self.profile.sections if s.key == psec.key for f in s.facets)
            paragraphs: list[_Paragraph] = []
            for passage in psec.passages:
                text = _MARKER_RE.sub("", passage.text.strip())
                parts = split_sentences(text)
                if not parts:
                    continue
                first = parts[0]
                subpoint = (psec.key not in ("opening", "closing", "plans") and len(first) <= 24
                            and first.endswith("。") and not claims(first))
                topic = first if subpoint else ""
                body = parts[1:] if subpoint else parts
                if psec.key == "plans" and not any(w in text for w in _PLANS_INTRO):
                    subpoint = True       # a plan item (`进一步…`): numbered, no topic sentence of its own
                para = _Paragraph(psec.key, None, subpoint, topic, source=passage.chunk_id)
                for sentence in body:
                    sentence = _PLANS_COUNT_RE.sub("{plans_count}个方面", _shift_years(sentence, past.year))
                    clauses = self.rebinder.clauses(sentence, psec.key)
                    kept = [c for c in clauses if not c.bad]
                    if clauses and clauses[0].bad and not any(c.keys for c in kept):
                        continue      # the rest has lost its subject (`转移受困群众，…`): no fragment
                    template = join_clauses(kept, clauses)
                    if not template:
                        continue
                    keys = tuple(k for c in kept for k in c.keys)
                    para.sentences.append(self._sentence(template, "rebound" if keys else "kept",
                                                         (passage.chunk_id,), keys))
                all_keys = [k for s in para.sentences for k in s.keys]
                owners = [self.owner[k].id for k in all_keys if k in self.owner]
                if owners:
                    para.facet = max(set(owners), key=owners.count)
                elif body_facets and subpoint:
                    para.facet = _best_facet(topic + text, body_facets, body_facets[0]).id
                if para.sentences or para.topic:
                    paragraphs.append(para)
            sections.append(_Section(psec.key, psec.heading, paragraphs))
        return sections

    # ------------------------------------------------------------------ this year's additions

    def _dedupe_keys(self, sections: list[_Section]) -> None:
        """A metric stated twice keeps one statement: in its own section, else the first."""
        where: dict[str, list[tuple[_Section, _Paragraph, _Sentence]]] = {}
        for sec in sections:
            for para in sec.paragraphs:
                for s in para.sentences:
                    if s.uid in self.dropped:
                        continue
                    for k in s.keys:
                        where.setdefault(k, []).append((sec, para, s))
        for key, places in where.items():
            if len(places) < 2:
                continue
            m = self.metrics.get(key)
            home = next((p for p in places if m is not None and p[0].key == m.section), places[0])
            for place in places:
                if place is not home:
                    self.dropped.add(place[2].uid)

    def _facet_paragraph(self, sections: list[_Section], facet: FacetPlan) -> _Paragraph:
        sec = next((s for s in sections if s.key == facet.section_key), None)
        if sec is None:
            sec = _Section(facet.section_key, self._heading(facet.section_key), [])
            order = [s.key for s in self.profile.sections]
            at = next((i for i, s in enumerate(sections)
                       if s.key in order and order.index(s.key) > order.index(facet.section_key)), len(sections))
            sections.insert(at, sec)
        para = next((p for p in sec.paragraphs if p.facet == facet.id), None)
        if para is None:
            bank = self.profile.bank(facet.id)
            rng = random.Random(f"{self.o.seed}|{self.metrics.meta.region}|{self.metrics.meta.year}|topic:{facet.id}")
            topic = rng.choice(bank.topics) + "。" if bank.topics else ""
            para = _Paragraph(sec.key, facet.id, bool(topic) and sec.key != "opening", topic)
            # A new sub-point goes after the section's last sub-point, before a plans list's tail.
            last_sub = max((i for i, p in enumerate(sec.paragraphs) if p.subpoint), default=len(sec.paragraphs) - 1)
            sec.paragraphs.insert(last_sub + 1, para)
        return para

    def _heading(self, key: str) -> str:
        plan = self.profile.section(key)
        if plan is None or not plan.numbered or not plan.headings:
            return ""
        rng = random.Random(f"{self.o.seed}|{self.metrics.meta.region}|{self.metrics.meta.year}|heading:{key}")
        return fill(rng.choice(plan.headings), self.metrics, slots=self.o.slots).text

    def add_this_year(self, sections: list[_Section]) -> None:
        self.add_missing(sections)
        self._opening(sections)
        self._names(sections)

    def add_missing(self, sections: list[_Section]) -> None:
        """Metrics with a figure that no live sentence states, written at their facet."""
        from pipeline.drafting.engines.template import cover_metrics

        live = lambda s: s.uid not in self.dropped  # noqa: E731
        stated = {k for sec in sections for p in sec.paragraphs for s in p.sentences if live(s) for k in s.keys}
        missing: dict[str, list[str]] = {}
        opening_keys = tuple(k for f in self.facets.values() if f.section_key == "opening" for k in f.metrics)
        for m in self.metrics.values:
            if m.value is None or m.key in stated or m.key in opening_keys:
                continue
            facet = self.owner.get(m.key)
            if facet is None:
                body = [f for f in self.facets.values() if f.section_key == (m.section or "systems")]
                if not body:
                    self.o.warnings.append(f"指标 {m.key} 没有可放的章节，未写入草稿。")
                    continue
                facet = max(reversed(body), key=lambda f: sum(len(w) for w in f.keywords if w in m.label))
            missing.setdefault(facet.id, []).append(m.key)
        for facet_id, keys in missing.items():
            facet = self.facets[facet_id]
            para = self._facet_paragraph(sections, facet)
            rng = random.Random(f"{self.o.seed}|{self.metrics.meta.region}|{self.metrics.meta.year}|{facet_id}|{len(self.dropped)}")
            bank = self.profile.bank(facet_id)
            if not para.sentences and bank.leads:
                para.sentences.append(self._sentence(rng.choice(bank.leads), "new"))
            remaining = list(keys)
            for template in cover_metrics(bank, remaining, rng):
                ks = tuple(k for k in remaining if "{" + k in template)
                para.sentences.insert(self._insert_at(para), self._sentence(template, "new", (), ks))
                remaining = [k for k in remaining if k not in ks]
            for key in remaining:
                m = self.metrics.get(key)
                label = m.label if m else key
                para.sentences.insert(self._insert_at(para), self._sentence(f"{label}{{{key}}}。", "new", (), (key,)))

    @staticmethod
    def _insert_at(para: _Paragraph) -> int:
        """New figures go after the last sentence that states one (a closing remark stays last)."""
        last = max((i for i, s in enumerate(para.sentences) if s.keys), default=len(para.sentences) - 1)
        return last + 1

    def _opening(self, sections: list[_Section]) -> None:
        """The rankings with their change since last year, and this year's honours, in the opening."""
        keys = tuple(k for f in self.facets.values() if f.section_key == "opening" for k in f.metrics)
        text, compared = rank_sentence(self.compared, self.style, keys)
        honours = "".join(f"“{h}”" for h in self.metrics.honours)
        if honours:
            verb = "先后获评" if len(self.metrics.honours) > 1 else "获评"
            text = f"{text}，{verb}{honours}" if text else f"{self.o.slots.get('unit', '')}{verb}{honours}"
        if not text:
            return
        if text.startswith(("征兵", "人武部")):
            text = self.o.slots.get("whole", "全县") + text
        sec = next((s for s in sections if s.key == "opening"), None)
        if sec is None:
            sec = _Section("opening", "", [])
            sections.insert(0, sec)
        if not sec.paragraphs:
            sec.paragraphs.append(_Paragraph("opening", "opening", False))
        para = sec.paragraphs[0]
        # Last year's statements of the rankings give way to this sentence, which says how they moved.
        for other in sections:
            for p in other.paragraphs:
                for s in p.sentences:
                    if any(k in keys for k in s.keys):
                        self.dropped.add(s.uid)
        # Before the turn to the body (`现将履职情况报告如下：`), which stays last.
        at = next((i for i, s in enumerate(para.sentences) if "如下" in s.template), len(para.sentences))
        used = tuple(k for k in keys if (m := self.metrics.get(k)) is not None and m.value is not None)
        para.sentences.insert(at, self._sentence(text + "。", "new", (), used, compared))

    def _names(self, sections: list[_Section]) -> None:
        """This year's documents and partners not yet named: woven in at their facet by the bank's frames."""
        text = "".join(s.template for sec in sections for p in sec.paragraphs for s in p.sentences)
        rng = random.Random(f"{self.o.seed}|{self.metrics.meta.region}|{self.metrics.meta.year}|names")
        for facet_id, names in names_for(self.profile, self.metrics).items():
            if facet_id == "opening" or facet_id not in self.facets:
                continue
            documents = tuple(d for d in names.documents if d not in text)
            partners = tuple(p for p in names.partners if p not in text)
            highlights = tuple(h for h in names.highlights if h.rstrip("。") not in text)
            if not (documents or partners or highlights):
                continue
            from pipeline.drafting.engines.template import name_sentences
            from pipeline.drafting.plan import FacetNames

            para = self._facet_paragraph(sections, self.facets[facet_id])
            for sentence in name_sentences(self.profile, self.profile.bank(facet_id),
                                           FacetNames(documents=documents, partners=partners, highlights=highlights),
                                           rng, para.topic + "".join(s.template for s in para.sentences)):
                para.sentences.insert(self._insert_at(para), self._sentence(sentence, "new"))

    def plans(self, sections: list[_Section]) -> None:
        """Next year's targets from this year's data, each in the place of last year's plan of its facet."""
        sec = next((s for s in sections if s.key == "plans"), None)
        plan_section = self.profile.section("plans")
        if not self.metrics.plans or plan_section is None:
            return
        if sec is None:
            sec = _Section("plans", "", [])
            at = next((i for i, s in enumerate(sections) if s.key == "closing"), len(sections))
            sections.insert(at, sec)
        rng = random.Random(f"{self.o.seed}|{self.metrics.meta.region}|{self.metrics.meta.year}|plans")
        from pipeline.drafting.wording import join_plan

        old_items = [p for p in sec.paragraphs if p.subpoint]
        intro = [p for p in sec.paragraphs if p not in old_items]
        # Last year's items: the part before any target they stated (a rank, a rate) is the measure.
        for p in old_items:
            p.sentences = [s for s in p.sentences if s.uid not in self.dropped]
        new_items: list[_Paragraph] = []
        used: set[int] = set()
        for facet_id, plan in route_plans(self.profile, self.metrics.plans, rng):
            if plan is None:
                continue
            facet = self.facets.get(facet_id)
            match = next((p for p in old_items if id(p) not in used and facet is not None and p.facet == facet.id), None)
            if match is not None:
                used.add(id(match))
                lead = match.topic + "".join(s.template for s in match.sentences)
                lead = re.split(r"[，；]?(?:确保|力争|争取)", lead.rstrip("。"))[0]
                item = _Paragraph("plans", facet_id, True, "", source=match.source)
                item.sentences.append(self._sentence(join_plan(lead, plan), "new", (match.source,)))
            else:
                bank = self.profile.bank(facet_id) if facet_id else None
                topic = rng.choice(bank.topics) + "。" if bank and bank.topics else ""
                leads = list(bank.leads) if bank else []
                item = _Paragraph("plans", facet_id or None, True, topic)
                item.sentences.append(self._sentence(join_plan(rng.choice(leads) if leads else "", plan), "new"))
            new_items.append(item)
        rest = [p for p in old_items if id(p) not in used and p.sentences and not any(s.keys for s in p.sentences)]
        limit = max(self.profile.max_plans, len(new_items))
        sec.paragraphs = intro + new_items + rest[:max(0, limit - len(new_items))]

    # ------------------------------------------------------------------ LLM rewriting

    def rewrite_with_engine(self, sections: list[_Section]) -> None:
        """An LLM engine rewrites each sub-point from last year's text (placeholders for this year's
        figures), the retrieved corpus sub-points and the comparisons; its answer is filled and
        checked like any other, and a failing one falls back to the re-bound text."""
        engine = self.o.engine
        if engine is None or engine is self.o.fallback:
            return
        from pipeline.drafting.engines.base import FacetRequest

        for sec in sections:
            for para in sec.paragraphs:
                if not para.subpoint or not para.facet or sec.key == "plans":
                    continue
                keys = tuple(k for s in para.sentences if s.uid not in self.dropped for k in s.keys)
                previous = "".join(s.template for s in para.sentences if s.uid not in self.dropped)
                facet = self.facets.get(para.facet)
                if facet is None or not previous:
                    continue
                labels = {k: (self.metrics.get(k).label if self.metrics.get(k) else k) for k in keys}
                request = FacetRequest(
                    profile=self.profile.spec, section_key=sec.key, section_heading=sec.heading,
                    facet_id=para.facet, topic=para.topic.rstrip("。"), ordinal=0, metric_keys=keys,
                    metric_labels=labels, metrics=self.metrics, exemplars=self.o.exemplars(sec.key, facet),
                    seed=self.o.seed, previous=previous,
                )
                try:
                    answer = engine.write_facet(request)
                    filled = fill(answer.text, self.metrics, slots=self.o.slots)
                except (FillError, Exception) as exc:  # noqa: BLE001 - the re-bound text stands
                    self.o.warnings.append(f"要点 {para.facet} 的改写失败（{exc}），保留在上年报告上更新的文字。")
                    continue
                stated = [k for _a, _b, k in filled.spans]
                if sorted(stated) != sorted(keys):
                    self.o.warnings.append(f"要点 {para.facet} 的改写没有恰好写出每个指标一次，保留在上年报告上更新的文字。")
                    continue
                old = [s for s in para.sentences if s.uid not in self.dropped]
                new: list[_Sentence] = []
                for piece in split_sentences(answer.text):
                    ks = tuple(k for k in keys if "{" + k in piece)
                    s = self._sentence(piece, "new", tuple(answer.sources), ks)
                    s.origin = "llm"
                    new.append(s)
                para.sentences = new
                para.llm_backup = old  # type: ignore[attr-defined]

    def restore_llm(self, sections: list[_Section]) -> int:
        """Sub-points whose LLM text the check found bad get last year's re-bound text back."""
        restored = 0
        for sec in sections:
            for para in sec.paragraphs:
                backup = getattr(para, "llm_backup", None)
                if backup and any(s.uid in self.dropped for s in para.sentences):
                    for s in para.sentences:
                        self.dropped.discard(s.uid)
                    para.sentences = backup
                    para.llm_backup = None  # type: ignore[attr-defined]
                    restored += 1
        return restored

    # ------------------------------------------------------------------ comparisons

    def compare(self, sections: list[_Section]) -> None:
        """Changes against last year after the figures that changed most (one per sentence)."""
        candidates: list[tuple[Decimal, _Sentence, str]] = []
        for sec in sections:
            if sec.key in ("plans", "opening"):
                continue
            for para in sec.paragraphs:
                for s in para.sentences:
                    if s.uid in self.dropped or s.comparisons:
                        continue
                    for key in s.keys:
                        m = self.compared.get(key)
                        if comparison_phrase(m, self.style) is None or not m.previous:
                            continue
                        candidates.append((relative_change(m), s, key))
        candidates.sort(key=lambda c: -c[0])
        done: set[int] = set()
        count = 0
        for _rel, s, key in candidates:
            if count >= self.style.max_comparisons:
                break
            if s.uid in done:
                continue
            m = self.compared.get(key)
            # Only where the figure closes its clause (`普通民兵{x}，` — not inside `{x}个乡镇、`).
            match = re.search(r"\{" + re.escape(key) + r"(?::[a-z]+)?\}(?=[，；。])", s.template)
            if match is None:
                continue
            if not names_metric(s.template, match.start(), metric_terms(key, self.compared, self.profile.catalog)):
                continue
            phrase = comparison_phrase(m, self.style, cn=":cn" in match.group(0))
            if phrase is None:
                continue
            s.template = s.template[:match.end()] + phrase + s.template[match.end():]
            s.comparisons += 1
            done.add(s.uid)
            count += 1


# --------------------------------------------------------------------------- rendering

@dataclass(frozen=True)
class _Rendered:
    title: str
    text: str
    sections: tuple[DraftSection, ...]
    records: tuple[SentenceRecord, ...]
    figures: tuple[tuple[int, int, str], ...]
    signature: tuple[str, ...]
    uids: tuple[tuple[int, int, int], ...]        # (start, end, uid) of each sentence


def _render(b: _Builder, sections: list[_Section]) -> _Rendered:
    metrics, profile = b.metrics, b.profile
    slots = dict(b.o.slots)
    plans = next((s for s in sections if s.key == "plans"), None)
    n_plans = sum(1 for p in plans.paragraphs if p.subpoint) if plans else 0
    slots["plans_count"] = chinese_numeral(n_plans) if 0 < n_plans < 100 else "几"
    title = fill(profile.title, metrics, slots=slots).text
    lines = [title]
    pos = len(title) + 1
    out_sections: list[DraftSection] = []
    records: list[SentenceRecord] = []
    figures: list[tuple[int, int, str]] = []
    uids: list[tuple[int, int, int]] = []
    seen: set[str] = set()
    number = 0
    for sec in sections:
        numbered = bool(sec.heading)
        if numbered:
            label = f"{ORDINALS[number] if number < len(ORDINALS) else chinese_numeral(number + 1)}、{sec.heading}"
            number += 1
            lines.append(label)
            pos += len(label) + 1
        paragraphs: list[DraftParagraph] = []
        ordinal = 0
        for para in sec.paragraphs:
            live = [s for s in para.sentences if s.uid not in b.dropped]
            if not live and not para.topic:
                continue
            if para.subpoint and not live:
                continue          # a topic with nothing under it is a heading over nothing
            pieces: list[DraftSentence] = []
            cursor = pos
            if para.subpoint:
                prefix = (ORDINALS[ordinal] if ordinal < len(ORDINALS) else str(ordinal + 1)) + "是" + para.topic
                ordinal += 1
                pieces.append(DraftSentence(prefix, facet=para.facet))
                records.append(SentenceRecord(sec.key, para.facet, prefix, cursor, cursor + len(prefix),
                                              sources=(para.source,) if para.source else (),
                                              origin="kept" if para.source else "new"))
                cursor += len(prefix)
            for s in live:
                filled = fill(s.template, metrics, slots=slots, percent_sign=profile.percent_sign)
                text = filled.text
                norm = re.sub(r"\s", "", text)
                if norm in seen:
                    continue          # no sentence twice in one draft
                seen.add(norm)
                keys = tuple(k for _a, _b, k in filled.spans)
                pieces.append(DraftSentence(text, metric_keys=keys, sources=s.sources, facet=para.facet))
                records.append(SentenceRecord(sec.key, para.facet, text, cursor, cursor + len(text), keys,
                                              s.sources, getattr(b.o.engine, "name", "llm") if s.origin == "llm" else "template",
                                              origin=s.origin if s.origin != "llm" else "new",
                                              comparisons=s.comparisons))
                uids.append((cursor, cursor + len(text), s.uid))
                for a, bb, k in filled.spans:
                    figures.append((cursor + a, cursor + bb, k))
                cursor += len(text)
            paragraph = DraftParagraph(tuple(pieces))
            paragraphs.append(paragraph)
            lines.append(paragraph.text)
            pos += len(paragraph.text) + 1
        out_sections.append(DraftSection(key=sec.key, heading=sec.heading, paragraphs=tuple(paragraphs),
                                         numbered=numbered))
    signature = signature_lines(metrics)
    lines.extend(signature)
    return _Rendered(title, "\n".join(lines) + "\n", tuple(out_sections), tuple(records), tuple(figures),
                     signature, tuple(uids))


def _uid_at(rendered: _Rendered, offset: int) -> int | None:
    for start, end, uid in rendered.uids:
        if start <= offset < end:
            return uid
    return None


def draft_update(opts: UpdateOptions) -> DraftResult:
    """Draft this year's report over last year's (module docstring)."""
    from pipeline.facts.check import check_text

    t0 = time.perf_counter()
    b = _Builder(opts)
    metrics = opts.metrics
    past_texts = tuple(opts.past_texts)
    if not any(y == opts.past.year for _t, y in past_texts):
        past_texts += ((opts.past.text, opts.past.year),)
    opts.progress(DraftEvent("section_start", "update", 1, 1, None,
                             f"在 {opts.past.year} 年报告的基础上起草：{opts.past.source}"))
    sections = b.from_last_year()
    b._dedupe_keys(sections)
    b.plans(sections)
    b.add_this_year(sections)
    b.rewrite_with_engine(sections)
    b.compare(sections)
    opts.progress(DraftEvent("section_done", "update", 1, 1, None, "上年报告已更新，开始核对"))
    rendered = _render(b, sections)
    check = check_text(rendered.text, metrics, prior=opts.prior, past_texts=past_texts,
                       source=metrics.source, catalog=opts.profile.catalog)
    for _round in range(MAX_ROUNDS):
        bad = [f for f in check.findings if f.verdict in BAD_VERDICTS]
        stated = [k for _a, _b, k in rendered.figures]
        if not bad and len(stated) == len(set(stated)):
            break
        for f in bad:
            uid = _uid_at(rendered, f.start)
            if uid is not None:
                b.dropped.add(uid)
                opts.progress(DraftEvent("repair", None, 0, 0, None, f"删去：“{f.text}”{f.reason}"[:120]))
        b.restore_llm(sections)
        b._dedupe_keys(sections)
        b.add_missing(sections)
        rendered = _render(b, sections)
        check = check_text(rendered.text, metrics, prior=opts.prior, past_texts=past_texts,
                           source=metrics.source, catalog=opts.profile.catalog)
    if not check.ok:
        opts.warnings.append(
            f"核对仍有 {sum(1 for f in check.findings if f.verdict in BAD_VERDICTS)} 处问题，请在 check.html 中逐条处理。")
    kept = sum(1 for r in rendered.records if r.origin == "kept" and r.section not in ("closing",))
    if kept:
        opts.warnings.append(f"沿用上年报告的 {kept} 句没有数字可核，已在 draft.json 中标为 kept，请核实是否仍然属实。")
    draft = Draft(title=rendered.title, sections=rendered.sections, meta=metrics.meta, engine=getattr(opts.engine, "name", "template"),
                  seed=opts.seed, warnings=tuple(dict.fromkeys(opts.warnings)), signature=rendered.signature)
    total = time.perf_counter() - t0
    opts.progress(DraftEvent("done", None, 0, 1, None,
                             f"起草完成（在上年报告上更新）：{len(rendered.sections)} 部分，{len(rendered.text)} 字，用时 {total:.2f} 秒"))
    return DraftResult(draft=draft, text=rendered.text, check=check, sentences=rendered.records,
                       figures=rendered.figures, warnings=draft.warnings, timings={"total": total},
                       metrics=metrics, based_on=opts.past.source, based_on_year=opts.past.year)
