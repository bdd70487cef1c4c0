"""Key points of a past report, section by section.

Extractive by default: sentences are scored (figures first, then metric vocabulary from the
catalog, the topic clause of a sub-point, position) and the best `n` per section are kept in their
original order, each a verbatim span of the report text, so every figure is the source's own.

With an LLM engine the summary is abstractive, and checked the way drafts are: every figure in
the answer must be one of the source's figures (same value in the same base unit, or the same
mask); a sentence that fails is dropped and reported, and a section left with nothing falls back
to its extractive points.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Protocol

from pipeline.facts.quantities import extract_quantities, to_base
from pipeline.models import Quantity, Report, Section
from pipeline.profile.catalog import DEFAULT_PROFILE, load_catalog, profile_for_level
from pipeline.reading.sentences import split_sentences

__all__ = [
    "SECTION_NAMES", "SummaryPoint", "SectionSummary", "Summary", "Completer", "summarize_report",
    "summarize_file", "score_sentence", "unsupported_figures",
]

SECTION_NAMES = {"opening": "开头", "duty": "履职", "systems": "制度落实", "foundation": "基础建设",
                 "plans": "下步打算", "closing": "结尾", "other": "其他"}

# Figures that measure something; years, dates and ordinals place a sentence in time, they are not
# what a reader of a summary looks for.
_MEASURE_KINDS = frozenset({"count", "money", "percent", "rank", "duration", "other"})
_TOPIC = re.compile(r"^(?:[一二三四五六七八九十]+是|（[一二三四五六七八九十]+）|[0-9]+[、.])")
# Formulae every report carries; never a key point.
_BOILERPLATE = ("现将履职情况报告如下", "我的述职完毕", "请各位领导批评指正", "不妥之处")


@dataclass(frozen=True)
class SummaryPoint:
    text: str
    # offsets into Report.text (into the file's text as read when made by summarize_file); None for
    # an abstractive point
    start: int | None
    end: int | None
    figures: tuple[Quantity, ...]   # offsets into Report.text when extractive, into `text` otherwise

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "start": self.start, "end": self.end,
                "figures": [q.to_json() for q in self.figures]}


@dataclass(frozen=True)
class SectionSummary:
    key: str
    heading: str
    points: tuple[SummaryPoint, ...]
    dropped: tuple[str, ...] = ()   # abstractive sentences removed, with the reason
    mode: str = "extractive"        # extractive | abstractive | fallback

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "heading": self.heading, "mode": self.mode,
                "points": [p.to_json() for p in self.points], "dropped": list(self.dropped)}


@dataclass(frozen=True)
class Summary:
    title: str | None
    year: int | None
    region: str | None
    sections: tuple[SectionSummary, ...]
    source: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"title": self.title, "year": self.year, "region": self.region,
                "sections": [s.to_json() for s in self.sections]}


class Completer(Protocol):
    """What abstractive summarising needs of an engine: one chat completion (the LLM engines)."""

    def complete(self, messages: Sequence[tuple[str, str]], *, seed: int = 0) -> str: ...


# --------------------------------------------------------------------------- extractive

def _vocabulary(profile: str) -> tuple[tuple[str, ...], ...]:
    """Per catalog metric, the words that name it (label and aliases), longest first."""
    words = []
    for entry in load_catalog(profile).values():
        names = {entry.label, *entry.aliases}
        words.append(tuple(sorted((n for n in names if len(n) >= 2), key=len, reverse=True)))
    return tuple(words)


def _measures(quantities: Sequence[Quantity]) -> list[Quantity]:
    return [q for q in quantities if q.kind in _MEASURE_KINDS]


def score_sentence(sentence: str, quantities: Sequence[Quantity], *, first: bool, topic: bool,
                   vocabulary: Sequence[Sequence[str]]) -> float:
    """How much a sentence says: figures weigh most (a masked figure half), then each catalog
    metric it names, then being the topic clause or the first sentence of a paragraph."""
    figures = _measures(quantities)
    score = sum(1.0 if q.masked else 2.0 for q in figures[:4])
    hits = sum(1 for names in vocabulary if any(name in sentence for name in names))
    score += min(hits, 3) * 0.75
    if topic:
        score += 1.0
    if first:
        score += 0.5
    length = len(sentence)
    if length < 8:
        score -= 1.0
    elif length > 160:
        score -= 0.5
    return score


def _paragraph_offsets(report: Report, section: Section, cursor: int) -> list[tuple[int, str]]:
    found = []
    for paragraph in section.paragraphs:
        at = report.text.find(paragraph, cursor)
        if at < 0:
            at = report.text.find(paragraph)
        if at < 0:
            continue   # the parser normalised this paragraph differently: no verbatim offsets
        found.append((at, paragraph))
        cursor = at + len(paragraph)
    return found


def _extractive(report: Report, section: Section, n: int, vocabulary, cursor: int) -> tuple[SummaryPoint, ...]:
    candidates: list[tuple[float, int, SummaryPoint]] = []
    for para_start, paragraph in _paragraph_offsets(report, section, cursor):
        for index, (s, e) in enumerate(split_sentences(paragraph)):
            text = paragraph[s:e]
            if any(b in text for b in _BOILERPLATE):
                continue
            quantities = extract_quantities(text)
            score = score_sentence(text, quantities, first=index == 0, topic=bool(_TOPIC.match(text)),
                                   vocabulary=vocabulary)
            start = para_start + s
            figures = tuple(_shift(q, start) for q in _measures(quantities))
            candidates.append((score, start, SummaryPoint(text, start, start + len(text), figures)))
    best = sorted(candidates, key=lambda c: (-c[0], c[1]))[:n]
    return tuple(point for _score, _start, point in sorted(best, key=lambda c: c[1]))


def _shift(q: Quantity, offset: int) -> Quantity:
    return replace(q, start=q.start + offset, end=q.end + offset)


# --------------------------------------------------------------------------- abstractive

# People are counted in 人 or 名 interchangeably: "215名" restates a source's "215人".
_UNIT_SYNONYMS = {"名": "人", "位": "人"}


def _figure_key(q: Quantity) -> tuple[str, Decimal | None, str]:
    unit = _UNIT_SYNONYMS.get(q.unit, q.unit)
    if q.kind == "rank":
        return ("rank", q.value, "")
    if q.value is None:
        return ("masked", None, unit)
    value, base = to_base(q.value, unit)
    return ("measure", value, _UNIT_SYNONYMS.get(base, base))


def unsupported_figures(sentence: str, source_figures: Sequence[Quantity]) -> list[Quantity]:
    """Figures in `sentence` that are not among `source_figures`: same value in the same base unit
    (2.1万人 = 21000人, 人 = 名), a rank of the same place, a mask with the same unit. Years and dates
    count too: an invented year is as wrong as an invented sum."""
    known = {_figure_key(q) for q in source_figures}
    return [q for q in extract_quantities(sentence) if q.kind != "ordinal" and _figure_key(q) not in known]


def _answer_sentences(answer: str) -> list[str]:
    from pipeline.drafting.engines.prompting import strip_markup

    out = []
    for line in strip_markup(answer).splitlines():
        line = re.sub(r"^[（(]?[0-9一二三四五六七八九十]+[）)、.]\s*", "", line.strip())
        for s, e in split_sentences(line):
            if e - s >= 4:
                out.append(line[s:e])
    return out


def _abstractive(engine: Completer, report: Report, section: Section, n: int, vocabulary,
                 cursor: int, seed: int) -> SectionSummary:
    from pipeline.drafting.engines.prompting import load_llm_prompts, summary_messages

    prompts = load_llm_prompts(getattr(engine, "profile", DEFAULT_PROFILE))
    heading = section.heading or SECTION_NAMES.get(section.key, section.key)
    answer = engine.complete(summary_messages(heading, section.text, n, prompts), seed=seed)
    source_figures = extract_quantities(section.text)
    points: list[SummaryPoint] = []
    dropped: list[str] = []
    for sentence in _answer_sentences(answer):
        bad = unsupported_figures(sentence, source_figures)
        if bad:
            dropped.append(f"{sentence}（原文没有这些数字：{'、'.join(q.text for q in bad)}）")
            continue
        points.append(SummaryPoint(sentence, None, None, tuple(_measures(extract_quantities(sentence)))))
    points = points[:n]
    if not points:
        fallback = _extractive(report, section, n, vocabulary, cursor)
        return SectionSummary(section.key, section.heading, fallback, tuple(dropped), mode="fallback")
    return SectionSummary(section.key, section.heading, tuple(points), tuple(dropped), mode="abstractive")


# --------------------------------------------------------------------------- entry points

def summarize_report(report: Report, n: int = 3, *, engine: Completer | None = None,
                     profile: str = DEFAULT_PROFILE, seed: int = 0) -> Summary:
    """Key points per section (the closing formula is skipped); `engine` None means extractive."""
    if n < 1:
        raise ValueError("n must be at least 1")
    vocabulary = _vocabulary(profile)
    sections = []
    cursor = 0
    for section in report.sections:
        if section.key == "closing" or not section.text.strip():
            continue
        if engine is None:
            points = _extractive(report, section, n, vocabulary, cursor)
            summary = SectionSummary(section.key, section.heading, points)
        else:
            summary = _abstractive(engine, report, section, n, vocabulary, cursor, seed)
        if summary.points or summary.dropped:
            sections.append(summary)
        if section.paragraphs:
            at = report.text.find(section.paragraphs[-1], cursor)
            if at >= 0:
                cursor = at + len(section.paragraphs[-1])
    return Summary(report.title, report.year, report.region, tuple(sections), source=report.source)


def summarize_file(path: str, n: int = 3, *, engine_spec: str = "template",
                   profile: str | None = None, seed: int = 0) -> tuple[Report, Summary]:
    """Parse `path` and summarise it; `template` (the default) is extractive, an LLM engine spec
    (`openai:URL#MODEL`, `transformers:PATH`) abstractive. Without `profile`, the report's region
    chooses it (雾溪镇 → the township profile's vocabulary and prompts)."""
    from pipeline.reading.parse import parse_text
    from pipeline.reading.readers import read_document

    text, digest = read_document(path)
    report = replace(parse_text(text, source=str(path)), doc_id=digest)
    profile = profile or profile_for_level(report.region) or DEFAULT_PROFILE
    engine = None
    if engine_spec not in ("template", "extractive"):
        from pipeline.drafting.engines import get_engine
        from pipeline.errors import UsageError

        engine = get_engine(engine_spec, profile=profile)
        if not hasattr(engine, "complete"):
            raise UsageError(f"引擎“{engine_spec}”不能做概括式摘要；请用 template（摘句）或 openai:/transformers: 引擎。")
    return report, _in_file(summarize_report(report, n, engine=engine, profile=profile, seed=seed), text)


def _in_file(summary: Summary, text: str) -> Summary:
    """Extractive offsets moved from the parser's copy (`Report.text`) into the file's text as read."""
    from pipeline.reading.textview import clean_view

    view = clean_view(text)
    if view.identity:
        return summary

    def moved(point: SummaryPoint) -> SummaryPoint:
        if point.start is None or point.end is None:
            return point
        start, end = view.span(point.start, point.end)
        return replace(point, start=start, end=end, figures=tuple(view.remap(point.figures)))

    return replace(summary, sections=tuple(replace(s, points=tuple(moved(p) for p in s.points))
                                           for s in summary.sections))


def render_text(summary: Summary) -> str:
    """The summary as the CLI prints it: title line, then each section's heading and points."""
    head = summary.title or "（无标题）"
    facts = "　".join(x for x in (f"{summary.year}年度" if summary.year else "", summary.region or "") if x)
    lines = [head + (f"（{facts}）" if facts else "")]
    for section in summary.sections:
        name = section.heading or f"【{SECTION_NAMES.get(section.key, section.key)}】"
        note = {"fallback": "（生成摘要未通过核对，改用原文摘句）"}.get(section.mode, "")
        lines.append(name + note)
        lines += [f"  · {p.text}" for p in section.points]
    return "\n".join(lines)
