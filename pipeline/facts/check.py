"""The consistency checker: every figure and name in a report, held against the year's data.

Each quantity the extractor finds becomes a `Finding` with one verdict:
- masked: a placeholder (`***人`) is still in the text;
- supported: the metric its context names has this value (within the rounding or bounds written);
- derived: it is computed from the data (a 同比 change, a sum of two metrics, a ratio), the reason
  shows the computation;
- stale: it equals last year's value of that metric (`previous`, or the prior metrics file), or the
  figure a past report of the same region gave under the same words;
- contradicted: the context names a metric and the value differs (`expected` holds the data);
- unsupported: no metric fits.

Decisions (why these and not others):
- Years, dates, durations and ordinals (`2022年`, `8月27日`, `三昼夜`, `第三季度`), anniversaries and
  ages are not findings: they date and frame the claims rather than measure the work. When a metric in
  the data has that unit (a custom `天` or `岁` metric, say) they are checked like counts: a figure the
  clause aligns to the metric is supported or contradicted (`每月确定7天` against 4 天 is contradicted,
  the rule of frequency below does not hide it); one that no words align is judged by value only, and
  left alone when the value differs (`年满18周岁` is no claim about `平均年龄`). A range (`18—35周岁`)
  agrees when the metric equals one of its ends.
- Figures inside 《…》 or a short “…” are part of a title or a name (`《征兵工作20条措施》`).
- A figure in a typed text table (`基干民兵　　人　　1260　　1210`) is aligned by its row's label alone;
  a column headed 上年/去年/上年度 (or last year's number) holds previous-year figures, held against
  `previous` (equal is supported there; in the this-year column it is stale).
- A figure is aligned by the words of its clause (see `pipeline.facts.align`); when the clause names no
  metric, by the words of its sentence at half weight, and only by words about a clause away
  (`SENTENCE_FAR_SCORE`: `选派基干民兵参加轮训，…，转移群众四百余人` names no 基干民兵 count), never by a
  metric an earlier figure of the sentence already states — unless the figure is said to be last
  year's (`输送合格青年265人（上年为248人）`, `较上年的287人`: held against `previous`); when the sentence
  names none either, a figure whose value and unit equal exactly one metric's is supported "by value"
  (the reason says so), since no other metric is claimed. Only a figure of 10 or more can be called last
  year's this way: small counts coincide by chance.
- A qualitative rank (`保持全省前列`) is held against the rank metric named between the sentence's previous
  figure and it, near enough to name it; the words of an earlier figure's ranking are that figure's.
- Sentences about next year inside the plans section (`力争…保持全市第一`) are targets: they are held
  against the data's `plans`, not against this year's figures. The parser's plans section alone is
  not trusted (a misfiled sub-point must still be checked as this year's work).
- Sums are derived only when the text says so (`共`, `合计`): two of ~30 metrics adding up to a
  figure by chance must not excuse a wrong one. Changes (`同比增长8.6%`, `比上年减少20人`,
  `提升2个位次`) are computed from `previous`.
- `每半年至少研究一次` is a rule of frequency, not a figure of the year: figures in a clause with 每
  are reported only when supported.
- Names (honours, titles, places) are checked by `pipeline.facts.check_names`.
"""

from __future__ import annotations

import gc
import re
from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from decimal import Decimal
from functools import lru_cache
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.errors import InputError
from pipeline.facts.align import (
    Alignment,
    MetricAligner,
    MetricProfile,
    aligner_for,
    clause_bounds,
    quantity_family,
    sentence_bounds,
    unit_family,
    unit_scale,
    value_agrees,
)
from pipeline.facts.check_compare import _ComparisonRules, _expected, _plain, _show
from pipeline.facts.check_names import QUOTE_RE, TITLE_RE, SpanIndex, name_findings, norm_name
from pipeline.facts.quantities import (
    FRONT_RANK_MAX,
    TableCell,
    previous_year_header,
    qualitative_ranks,
    quoted_data,
    table_cell,
)
from pipeline.models import CheckResult, Finding, Metrics, MetricValue, Quantity
from pipeline.profile.catalog import CatalogEntry

if TYPE_CHECKING:
    from pipeline.reading.textview import TextView

# Below this sentence-fallback score a metric's words are too far from the figure to name it: a term of
# weight w at g characters' distance scores w / (1 + g/4), so a four-character alias (4) must lie within
# 12 characters, a six-character label (9) within 32 — about a clause, not across a sentence's clauses.
SENTENCE_FAR_SCORE = 1.0
SKIP_KINDS = frozenset({"year", "date", "duration", "ordinal"})
FUTURE_WORDS = ("力争", "争创", "确保", "保持", "争取", "冲刺", "重返", "将", "计划", "目标", "进一步", "明年", "下一步",
                "下步", "努力", "实现", "达到")
_FUTURE_RE = re.compile("|".join(map(re.escape, FUTURE_WORDS)))
# A line holding one of these may be a typed text table (`quantities.table_cell` needs a cell separator).
_CELL_SEPARATOR_RE = re.compile(r"[\t\u3000]|  ")
LAST_YEAR_CITED = re.compile(r"(上年|去年|上一年|2\d{3}年)(的|为|是|底|末)?$")
# Anniversaries and ages frame a claim (`建党一百周年`, `18至22周岁`), they do not measure the year's work.
FRAMING_UNITS = frozenset({"周年", "周岁", "岁"})
# Beyond this many characters the CLI shows a progress bar (a megabyte takes a second or two).
PROGRESS_MIN_CHARS = 200_000
# Beyond this many characters the cyclic garbage collector pauses during a check: a megabyte's check
# allocates and holds ~150k small objects (figures, findings) and creates no cycles, and the collector's
# passes over them cost a seventh of the check.
GC_PAUSE_MIN_CHARS = 100_000
# Words after a count that make it part of the report's framing or a set name, not a figure of the year:
# `抓好四个方面工作`, `县四套班子`, `营区改造二期工程`, `两件大事`.
FRAMING_FOLLOWERS = ("方面", "班子", "工程", "大事", "大任务", "大工程", "大行动", "个到位", "个一批", "条措施")


# --------------------------------------------------------------------------- public API

def check_text(
    text: str,
    metrics: Metrics,
    *,
    prior: Metrics | None = None,
    past_texts: Sequence[tuple[str, int | None]] = (),
    source: str = "",
    catalog: Mapping[str, CatalogEntry] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> CheckResult:
    """Check every figure and name in `text` against `metrics`.

    `progress(done, total)` is called while the figures are judged, for texts longer than
    `PROGRESS_MIN_CHARS` only (a short report is checked in well under a second): the CLI draws a bar.

    `catalog` is the profile's metric catalog when the caller has it loaded (the drafter does);
    without it the aligner reads the catalog of `metrics.meta.profile`.

    `prior` is last year's metrics (fills `previous` where the metrics file has none); `past_texts`
    are (text, year) of past reports of the same region, whose figures under the same words count as
    stale when repeated.
    """
    if len(text) < GC_PAUSE_MIN_CHARS or not gc.isenabled():
        return _check_text(text, metrics, prior, past_texts, source, catalog, progress)
    gc.disable()
    try:
        return _check_text(text, metrics, prior, past_texts, source, catalog, progress)
    finally:
        gc.enable()


def _check_text(text: str, metrics: Metrics, prior: Metrics | None, past_texts: Sequence[tuple[str, int | None]],
                source: str, catalog: Mapping[str, CatalogEntry] | None,
                progress: Callable[[int, int], None] | None) -> CheckResult:
    from pipeline.facts.quantities import extract_quantities
    from pipeline.reading.textview import clean_view

    # Work on the tidy copy (no blank lines or indentation); report spans in the text as given.
    view = clean_view(text)
    given, text = text, view.text
    try:
        aligner = aligner_for(metrics, prior, tuple(catalog.items()) if catalog is not None else None)
    except TypeError:          # a Metrics built with a list inside is unhashable: prepare it uncached
        aligner = MetricAligner(metrics, prior, catalog=catalog)
    past = tuple((str(t), y) for t, y in past_texts)
    quantities = extract_quantities(text)
    run = _Run(text=text, metrics=metrics, aligner=aligner,
               protected=_protected_spans(text),
               past=_past_figures(aligner, past),
               quantities=[q for q in quantities if _is_claim(q, metrics)],
               span=None if view.identity else view.span)
    findings: list[Finding] = []
    total = len(run.quantities)
    report = progress if progress is not None and len(text) > PROGRESS_MIN_CHARS else None
    step = max(1, total // 100)
    for i, q in enumerate(run.quantities):
        finding = run.judge(i, q)
        if finding is not None:
            findings.append(finding)
        if report is not None and (i + 1) % step == 0:
            report(i + 1, total)
    for q in qualitative_ranks(text):
        finding = run.front_rank(q)
        if finding is not None:
            findings.append(finding)
    # The run's findings are in the text as given already; the names' are moved there.
    findings.extend(_remapped(view, name_findings(text, metrics)))
    if report is not None:
        report(total, total)
    findings.sort(key=lambda f: (f.start, f.end))
    return CheckResult(text=given, findings=tuple(findings), source=source)


_FINDING_FIELDS = tuple(f.name for f in fields(Finding))
assert _FINDING_FIELDS[:2] == ("start", "end")
_FINDING_REST = attrgetter(*_FINDING_FIELDS[2:])


def _remapped(view: TextView, findings: list[Finding]) -> list[Finding]:
    """The findings with their spans moved into the text as given (`TextView.remap`, without
    `dataclasses.replace`, which cost a tenth of a megabyte's check)."""
    if view.identity:
        return findings
    span = view.span
    return [Finding(*span(f.start, f.end), *_FINDING_REST(f)) for f in findings]


def check_file(
    path: str | Path,
    metrics_path: str | Path,
    *,
    prior_path: str | Path | None = None,
    index: Any = None,
    progress: Callable[[int, int], None] | None = None,
) -> CheckResult:
    """Read a report (.docx/.txt/.md, any common encoding) and check it against a metrics file
    (`check_document` with the metrics files loaded)."""
    metrics, prior = load_check_metrics(metrics_path, prior_path)
    return check_document(path, metrics, prior=prior, index=index, progress=progress)


def load_check_metrics(metrics_path: str | Path,
                       prior_path: str | Path | None = None) -> tuple[Metrics, Metrics | None]:
    """This year's metrics and last year's, the latter read with this year's profile."""
    from pipeline.facts.metrics import load_metrics

    metrics = load_metrics(metrics_path)
    prior = load_metrics(prior_path, profile=metrics.meta.profile) if prior_path else None
    return metrics, prior


def check_document(
    path: str | Path,
    metrics: Metrics,
    *,
    prior: Metrics | None = None,
    index: Any = None,
    progress: Callable[[int, int], None] | None = None,
) -> CheckResult:
    """Read a report and check it against loaded metrics (callers that also need the metrics, for a
    review copy or a page, load them once).

    Past reports for stale figures come from `index`: anything with `past_reports(region,
    before_year=…)`, in practice an open `pipeline.index.hybrid.HybridIndex` that the caller opened
    (facts never import the index stage)."""
    from pipeline.reading.readers import read_text

    text = read_text(path)
    if not text.strip():
        raise InputError("报告是空的，没有可核对的内容；请确认选对了文件。", path=str(path))
    past = tuple(index.past_reports(metrics.meta.region, before_year=metrics.meta.year)) if index else ()
    return check_text(text, metrics, prior=prior, past_texts=past, source=str(path), progress=progress)


# --------------------------------------------------------------------------- spans of the text

def _is_claim(q: Quantity, metrics: Metrics) -> bool:
    """Figures that measure something (not years, dates, ages): the only ones judged, and the only
    ones that cut a neighbour's context (`连续两年位列全市第三` keeps 位列… with 第三)."""
    if q.unit in FRAMING_UNITS or q.kind in SKIP_KINDS:
        return _unit_metric(q, metrics)
    return True


def _unit_metric(q: Quantity, metrics: Metrics) -> bool:
    """Is there a metric of the figure's unit (a 天, 岁 or 年 metric) that makes a framing figure a claim?"""
    if q.kind in ("year", "date", "ordinal"):
        return any(m.unit == q.unit for m in metrics.values)
    family = unit_family(q.unit)
    return any(m.kind not in ("rank", "percent") and (m.unit == q.unit or unit_family(m.unit) == family)
               for m in metrics.values)


def _protected_spans(text: str) -> SpanIndex:
    spans = [(m.start(), m.end()) for m in TITLE_RE.finditer(text)]
    # Short quotes are names (“一园二馆三区”); a long one may quote a claim with real figures.
    spans += [(m.start(), m.end()) for m in QUOTE_RE.finditer(text)
              if m.end() - m.start() <= 14 and not quoted_data(m.group(0))]
    return SpanIndex(spans)


# Beyond this length sections come from the numbered headings alone (`_heading_sections`): the parser
# reads a whole report's structure, which costs more than linear time on megabytes of text.
PARSE_SECTIONS_MAX_CHARS = 200_000


def _heading_sections(text: str) -> list[tuple[int, int, str]]:
    """(start, end, key) from the `一、…` heading lines, in one pass: each runs to the next heading."""
    from pipeline.reading.parse import classify_heading

    heads = [(m.start(), classify_heading(text[m.start():text.find("\n", m.start()) % (len(text) + 1)][:40]))
             for m in TOP_HEADING_RE.finditer(text)]
    return [(start, heads[i + 1][0] if i + 1 < len(heads) else len(text), key)
            for i, (start, key) in enumerate(heads)]


def _section_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, key) of each section, located in `text` from the parser's paragraphs."""
    if len(text) > PARSE_SECTIONS_MAX_CHARS:
        try:
            return _heading_sections(text)
        except ImportError:
            return []
    try:
        from pipeline.reading.parse import parse_text
    except ImportError:        # the parser is optional for checking: sections only break ties
        return []
    try:
        report = parse_text(text)
    except Exception:          # noqa: BLE001 - a parser failure must not stop the check
        return []
    spans: list[tuple[int, int, str]] = []
    cursor = 0
    for section in report.sections:
        first = last = None
        for piece in (section.heading, *section.paragraphs):
            probe = piece.strip()[:30]
            if not probe:
                continue
            pos = text.find(probe, cursor)
            if pos < 0:
                continue
            if first is None:
                first = pos
            end = text.find(piece.strip()[-30:], pos)
            last = (end + len(piece.strip()[-30:])) if end >= 0 else pos + len(probe)
            cursor = pos + len(probe)
        if first is not None and last is not None:
            spans.append((first, last, section.key))
    return spans


# How the plans block opens (DOMAIN.md §1: after the admission of shortcomings, often unnumbered).
PLANS_HEADING_RE = re.compile(r"^[一二三四五六七八九十]+[、.．]\s*.{0,12}(下步|下一步|工作打算|努力方向|工作思路|打算)", re.M)
PLANS_OPENER_RE = re.compile(r"(在下步工作中|下步打算|下一步|下一年|新的一年|明年|今后|\d{4}年[，,]?\s*(我|我们)将|我将|我们将)")
TOP_HEADING_RE = re.compile(r"^[一二三四五六七八九十]+[、.．]", re.M)


def plans_start(text: str) -> int:
    """Where the plans block begins: a `四、下步打算` heading, else the first plans phrase after the
    last numbered heading (the plans paragraph usually follows the last section without a number).
    len(text) when there is none. Cheaper than parsing and not fooled by a sub-point the parser
    misfiles; sentences after it count as targets only when they speak of the future."""
    heading = PLANS_HEADING_RE.search(text)
    if heading:
        return heading.start()
    headings = list(TOP_HEADING_RE.finditer(text))
    last = headings[-1] if headings else None
    after = text.find("\n", last.end()) if last else 0
    if after < 0:
        return len(text)
    opener = PLANS_OPENER_RE.search(text, after)
    if opener is None:
        return len(text)
    line_start = text.rfind("\n", 0, opener.start()) + 1
    sentence_start = max(text.rfind(c, line_start, opener.start()) for c in "。；") + 1
    return max(line_start, sentence_start)


def _section_at(spans: list[tuple[int, int, str]], pos: int) -> str | None:
    for start, end, key in spans:
        if start <= pos < end:
            return key
    return None


# --------------------------------------------------------------------------- past reports

@dataclass(frozen=True)
class _PastFigure:
    year: int | None
    text: str
    base: Decimal
    label: str


@dataclass(frozen=True)
class _PastFigures:
    by_metric: dict[str, tuple[_PastFigure, ...]]
    by_label: dict[str, tuple[_PastFigure, ...]]


def _left_label(text: str, q: Quantity, width: int = 6) -> str:
    start = q.start
    while start > 0 and q.start - start < width and text[start - 1] not in "，；。：、\n,;:":
        start -= 1
    return text[start:q.start].strip()


@lru_cache(maxsize=32)
def _past_figures(aligner: MetricAligner, past_texts: tuple[tuple[str, int | None], ...]) -> _PastFigures:
    from pipeline.facts.quantities import extract_quantities

    by_metric: dict[str, list[_PastFigure]] = {}
    by_label: dict[str, list[_PastFigure]] = {}
    for past_text, year in past_texts:
        quantities = [q for q in extract_quantities(past_text) if _is_claim(q, aligner.metrics)]
        for i, q in enumerate(quantities):
            if q.value is None:
                continue
            scale = unit_scale(q.unit) if q.kind not in ("rank", "percent") else Decimal(1)
            label = _left_label(past_text, q)
            figure = _PastFigure(year=year, text=q.text, base=q.value * scale, label=label)
            if label:
                by_label.setdefault(label, []).append(figure)
            aligned = aligner.align(past_text, q, clause_bounds(past_text, q, _neighbours(quantities, i)))
            if aligned:
                by_metric.setdefault(aligned[0].profile.key, []).append(figure)
    return _PastFigures({k: tuple(v) for k, v in by_metric.items()}, {k: tuple(v) for k, v in by_label.items()})


@lru_cache(maxsize=64)
def _plan_figures(plans: tuple[str, ...]) -> tuple[tuple[str, Quantity, str], ...]:
    """(plan, figure, the four characters before it) for each figure in the data's plans."""
    from pipeline.facts.quantities import extract_quantities

    out = []
    for plan in plans:
        for q in extract_quantities(plan):
            label = plan[max(0, q.start - 4):q.start]
            if q.value is not None and len(label) >= 2:
                out.append((plan, q, label))
    return tuple(out)


def _neighbours(quantities: Sequence[Quantity], i: int) -> tuple[int, int]:
    prev_end = quantities[i - 1].end if i > 0 else 0
    next_start = quantities[i + 1].start if i + 1 < len(quantities) else 10**9
    return prev_end, next_start


# --------------------------------------------------------------------------- judging figures

@dataclass
class _Run(_ComparisonRules):
    text: str
    metrics: Metrics
    aligner: MetricAligner
    protected: SpanIndex
    past: _PastFigures
    quantities: list[Quantity]
    _sections: list[tuple[int, int, str]] | None = None
    _plans_start: int | None = None
    # maps a span of the working copy into the text as given (None: the same text); a finding is built
    # once, in the given text's positions (a frozen dataclass's __init__ is a tenth of the check)
    span: Callable[[int, int], tuple[int, int]] | None = None
    _future: dict[int, bool] = field(default_factory=dict)     # sentence start → speaks of next year
    _plans_text: str = field(default="", init=False)
    _plans_norm: tuple[str, ...] = field(default=(), init=False)
    _starts: list[int] = field(default_factory=list, init=False)
    _table_lines: frozenset[int] | None = field(default=None, init=False)   # starts of lines with a cell separator

    def __post_init__(self) -> None:
        # the data's plans in one string: most figures are in none, found with one search
        self._plans_text = "\n".join(self.metrics.plans)
        self._plans_norm = tuple(norm_name(plan) for plan in self.metrics.plans)
        self._starts = [x.start for x in self.quantities]

    @property
    def plans_start(self) -> int:
        if self._plans_start is None:
            self._plans_start = plans_start(self.text)
        return self._plans_start

    def section_at(self, pos: int) -> str | None:
        # Parsed only when two metrics nearly tie for a figure (the section breaks the tie): parsing
        # costs more than checking, and the drafter calls the checker after every section it writes.
        if self._sections is None:
            self._sections = _section_spans(self.text)
        return _section_at(self._sections, pos)

    def judge(self, i: int, q: Quantity) -> Finding | None:
        if self.protected.contains(q.start, q.end, strict=True):
            return None
        if q.kind == "count" and self.text.startswith(FRAMING_FOLLOWERS, q.end):
            return None
        if q.value is None and not q.masked:
            return None        # `前列`, `第x位` without a figure: a position, not a claim to check
        cell = table_cell(self.text, q) if self._may_be_table(q) else None
        if cell is not None:
            return self._table_figure(q, cell)
        bounds = clause_bounds(self.text, q, _neighbours(self.quantities, i))
        aligned = self.aligner.align(self.text, q, bounds)
        section: str | None = None
        if len(aligned) > 1 and aligned[0].score - aligned[1].score < 0.5:
            section = self.section_at(q.start)
            aligned = self.aligner.align(self.text, q, bounds, section)
        if q.masked:
            return self._masked(q, aligned)
        is_target = q.start >= self.plans_start and self._future_sentence(q)
        target = self._plan_target(q, is_target)
        if target is not None:
            return target
        if is_target:
            return self._plan(q, aligned)
        if self.text[q.start - 1:q.start] == "前" and q.unit in ("名", "位") \
                or q.kind == "rank" and "前" in q.text and q.upper is not None:
            return self._top_n(q, aligned)     # `前两名`, `全省前三名`
        if self.text.startswith(("位次", "个位次", "名次"), q.end) or q.text.endswith("位次"):
            return self._rank_move(q)
        if q.unit == "倍":
            return self._times(q)
        respectively = self._respectively(q)
        if respectively is not None:
            aligned = respectively
        change = self._change_word(q)
        if change:
            finding = self._change(q, change)
            if finding is not None:
                return finding
        if not aligned:
            # Nothing in the clause: the sentence may name the metric a clause earlier
            # (`拨付自谋职业补助58万元，惠及15名退役士兵`).
            # Only leftwards: the clause's right side was read already, and past it lies the next item.
            sentence_start = sentence_bounds(self.text, q)[0]
            aligned = self.aligner.align(self.text, q, (sentence_start, bounds[1]), section)
            # A metric an earlier figure of the same kind already states is that figure's, not this
            # one's (`补助137名退役士兵自谋职业，安排25名退役士兵到…岗位就业`: 25 is not self-employed).
            # A change (`比上年增加12名`) is about the metric the earlier figure states: nothing is claimed.
            # So is last year's figure cited beside this year's (`输送合格青年265人（上年为248人）`).
            claimed = frozenset() if change or self._cites_last_year(q) else self._claimed_before(i, q, sentence_start)
            # A metric's word far back in a long sentence names nothing (`选派基干民兵参加轮训，…，转移群众
            # 四百余人`, `投入…资金36万元，…，村集体经济收入突破10万元`): an unrelated figure of the same unit would
            # be held against it.
            aligned = [Alignment(a.profile, a.score * 0.5) for a in aligned if a.profile.key not in claimed
                       and a.score >= SENTENCE_FAR_SCORE]
        framing = q.unit in FRAMING_UNITS or q.kind in SKIP_KINDS
        if aligned:
            finding = self._against(q, aligned)
        elif framing:
            # `年满18周岁`, `三年来`: a framing figure no words tie to the metric is judged by value only
            finding = self._unaligned(q)
            return finding if finding.verdict == "supported" else None
        else:
            finding = self._unaligned(q)
        if finding.verdict != "supported" and "每" in self.text[bounds[0]:q.start] and not framing \
                and not self._per_metric(finding):
            return None        # `每半年至少研究一次`: a rule of frequency, not a figure of the year
        return finding

    def _may_be_table(self, q: Quantity) -> bool:
        """Does `q`'s line hold a cell separator (tab, ideographic space, two spaces)? Without one
        `table_cell` finds no table; asking it costs a slice of the line per figure."""
        if self._table_lines is None:
            text = self.text
            self._table_lines = frozenset(text.rfind("\n", 0, m.start()) + 1
                                          for m in _CELL_SEPARATOR_RE.finditer(text))
        return bool(self._table_lines) and self.text.rfind("\n", 0, q.start) + 1 in self._table_lines

    def _per_metric(self, finding: Finding) -> bool:
        """Is the finding's metric itself a rate per period (`每月军事日天数`)? Then 每 states it."""
        m = self.metrics.get(finding.metric) if finding.metric else None
        return m is not None and ("每" in m.label or any("每" in a for a in m.aliases))

    def _claimed_before(self, i: int, q: Quantity, sentence_start: int) -> frozenset[str]:
        """Metrics aligned in their own clause to the earlier figures of `q`'s family in its sentence."""
        family = quantity_family(q)
        claimed: set[str] = set()
        for j in range(i - 1, -1, -1):
            other = self.quantities[j]
            if other.start < sentence_start:
                break
            if quantity_family(other) != family or other.value is None and not other.masked:
                continue
            bounds = clause_bounds(self.text, other, _neighbours(self.quantities, j))
            aligned = self.aligner.align(self.text, other, bounds)
            if aligned:
                claimed.add(aligned[0].profile.key)
        return frozenset(claimed)

    # ----------------------------------------------------------------- verdict builders

    def _finding(self, q: Quantity, verdict: str, reason: str, m: MetricValue | None = None,
                 expected: str | None = None) -> Finding:
        start, end = self.span(q.start, q.end) if self.span is not None else (q.start, q.end)
        return Finding(start=start, end=end, text=q.text, verdict=verdict,
                       metric=m.key if m else None,
                       expected=expected if expected is not None else (_expected(m) if m else None),
                       found=q.text, reason=reason, kind="quantity")

    def _masked(self, q: Quantity, aligned: list[Alignment]) -> Finding:
        if aligned:
            m = aligned[0].profile.metric
            if m.value is not None:
                reason = f"数字被遮盖（{q.text}），应填“{m.label}”：{_expected(m)}"
            else:
                reason = f"数字被遮盖（{q.text}），对应“{m.label}”，数据中也未填"
            return self._finding(q, "masked", reason, m)
        return self._finding(q, "masked", f"数字被遮盖（{q.text}），需补上实际数字")

    def _future_sentence(self, q: Quantity) -> bool:
        """Does the figure's sentence speak of next year? A parser's plans section alone is not
        trusted: a sub-point misfiled there must still be checked as this year's work."""
        start, end = sentence_bounds(self.text, q)
        future = self._future.get(start)
        if future is None:
            future = self._future[start] = _FUTURE_RE.search(self.text, start, end) is not None
        return future

    def _plan_target(self, q: Quantity, is_target: bool) -> Finding | None:
        """A figure inside a sentence that states one of the data's plans (`力争…保持全市第一`)."""
        candidates = [plan for plan in self.metrics.plans if q.text in plan] if q.text in self._plans_text else []
        if candidates:
            start, end = sentence_bounds(self.text, q)
            sentence = norm_name(self.text[start:end])
            for plan in candidates:
                if norm_name(plan) in sentence:
                    return self._finding(q, "supported", f"下年目标，见数据“下步打算”：{plan}")
        # The same target with another figure (`力争全市第二` for the data's `力争全市第一`).
        if not is_target:
            return None
        for plan, figure, label in _plan_figures(self.metrics.plans):
            if figure.kind == q.kind and self.text[max(0, q.start - len(label)):q.start] == label:
                if figure.value == q.value:
                    return self._finding(q, "supported", f"下年目标，见数据“下步打算”：{plan}")
                return self._finding(q, "contradicted", f"下年目标在数据中是“{plan}”", expected=figure.text)
        return None

    def _rank_named(self, q: Quantity) -> MetricProfile | None:
        """The rank metric named before the figure, after the sentence's previous figure and near enough
        (None when none is): in `比武中获团体第二名，民兵应急排建设排名全省前列` the contest's words belong to
        第二名, and 民兵 seven characters back names no ranking."""
        start, _ = sentence_bounds(self.text, q)
        k = bisect_left(self._starts, q.start)
        if k > 0:
            start = max(start, min(self.quantities[k - 1].end, q.start))
        aligned = self.aligner.align(self.text, q, (start, q.start))
        return aligned[0].profile if aligned and aligned[0].score >= SENTENCE_FAR_SCORE else None

    def front_rank(self, q: Quantity) -> Finding | None:
        """`征兵“五率”考评保持全省前列`: a rank without a number, held against the rank metric its sentence
        names and that metric's scope; 前列 counts as the first FRONT_RANK_MAX places."""
        if self.protected.contains(q.start, q.end, strict=True):
            return None
        if q.start >= self.plans_start and self._future_sentence(q):
            return None            # `力争进入全省前列`: a target
        p = self._rank_named(q)
        if p is None:
            return None            # no rank metric named: nothing in the data to hold it against
        m = p.metric
        if p.base_value is None:
            return self._finding(q, "unsupported", f"对应“{m.label}”，但数据中该项未填，无法核对“前列”", m)
        place = f"{m.scope or ''}第{_plain(p.base_value)}名"
        if m.scope and q.scope and norm_name(m.scope) != norm_name(q.scope):
            return self._finding(q, "contradicted", f"“{m.label}”的排名范围是{m.scope}（{place}），文中写的是{q.scope}", m)
        if p.base_value <= FRONT_RANK_MAX:
            return self._finding(q, "supported", f"“{m.label}”为{place}，属前列（按前{FRONT_RANK_MAX}名核对）", m)
        return self._finding(q, "contradicted", f"“{m.label}”为{place}，不在前列（按前{FRONT_RANK_MAX}名核对）", m)

    def _top_n(self, q: Quantity, aligned: list[Alignment]) -> Finding:
        """`进入全市前两名`: a rank bound, true when the rank metric is at most N."""
        assert q.value is not None
        ranks = [p for p in self.aligner.profiles if p.metric.kind == "rank" and p.base_value is not None]
        start, _ = sentence_bounds(self.text, q)
        left = self.text[start:q.start]
        ranks.sort(key=lambda p: -max((w for t, w in p.terms if t in left), default=0.0))
        if not ranks:
            return self._finding(q, "unsupported", "数据中没有排名指标，无法核对“前N名”")
        p = ranks[0]
        assert p.base_value is not None
        if q.scope and p.metric.scope and norm_name(q.scope) != norm_name(p.metric.scope):
            return self._finding(q, "contradicted", f"“{p.metric.label}”的排名范围是{p.metric.scope}，文中写的是{q.scope}",
                                 p.metric)
        if p.base_value <= q.value:
            return self._finding(q, "supported", f"“{p.metric.label}”为第{_plain(p.base_value)}名，在前{q.text}之内",
                                 p.metric)
        return self._finding(q, "contradicted", f"“{p.metric.label}”为第{_plain(p.base_value)}名，不在前{q.text}",
                             p.metric)

    def _plan(self, q: Quantity, aligned: list[Alignment]) -> Finding:
        window = norm_name(self.text[max(0, q.start - 20):q.end + 4])
        for plan, normalized in zip(self.metrics.plans, self._plans_norm, strict=True):
            if q.text in plan or normalized in window:
                return self._finding(q, "supported", f"下年目标，见数据“下步打算”：{plan}")
        if aligned:
            p = aligned[0].profile
            if value_agrees(q, p.base_value, self.text):
                return self._finding(q, "supported", f"与“{p.metric.label}”本年数字一致", p.metric)
        return self._finding(q, "unsupported", "下年目标中的数字在数据的“下步打算”（plans）中找不到")

    def _against(self, q: Quantity, aligned: list[Alignment]) -> Finding:
        best = aligned[0]
        m = best.profile.metric
        if value_agrees(q, best.profile.base_value, self.text, approx=m.approx):
            if q.kind == "rank" and q.scope and m.scope and norm_name(q.scope) != norm_name(m.scope):
                return self._finding(q, "contradicted", f"“{m.label}”的排名范围是{m.scope}，文中写的是{q.scope}", m)
            if self._last_years_figure(q, best.profile):
                # `登记率99％` with 99.4 this year and 99.0 last year: it rounds to this year's figure
                # but is exactly last year's, the mark of a sentence copied from last year's report.
                return self._finding(
                    q, "stale", f"正好等于“{m.label}”的上年数字{_show(m.previous, m)}，本年应为{_expected(m)}", m)
            return self._finding(q, "supported", f"与“{m.label}”一致", m)
        for other in aligned[1:]:
            if best.qualifier > 0 and other.qualifier == 0:
                break          # `配齐1名民兵连长`: the qualifier names the best metric; the other cannot absorb it
            if other.score >= 0.8 * best.score and value_agrees(q, other.profile.base_value, self.text,
                                                                 approx=other.profile.metric.approx):
                om = other.profile.metric
                return self._finding(q, "supported", f"与“{om.label}”一致", om)
        if m.value is None:
            return self._finding(q, "unsupported", f"对应“{m.label}”，但数据中该项未填，无法核对", m)
        if value_agrees(q, best.profile.base_previous, self.text):
            if self._cites_last_year(q):
                # `由上年的980人调整为1020人`: last year's figure, said to be last year's.
                return self._finding(q, "supported", f"文中注明是上年数字，与“{m.label}”上年{_show(m.previous, m)}一致",
                                     m, expected=_show(m.previous, m))
            return self._finding(
                q, "stale", f"等于“{m.label}”的上年数字{_show(m.previous, m)}，本年应为{_expected(m)}", m)
        for past in self.past.by_metric.get(m.key, ()):
            if value_agrees(q, past.base, self.text):
                year = f"{past.year}年" if past.year else "往年"
                return self._finding(
                    q, "stale", f"与{year}述职报告中“{m.label}”的数字（{past.text}）相同，本年应为{_expected(m)}", m)
        return self._finding(q, "contradicted", f"“{m.label}”在数据中是{_expected(m)}，文中写的是{q.text}", m)

    def _cites_last_year(self, q: Quantity) -> bool:
        """Does the text say right before the figure that it is last year's (`上年为`, `较上年的`, `2022年`
        in a report of 2023)?"""
        # a rank's scope stands between the cue and its span: `由上年的全市第5位`
        lead = q.start - len(q.scope) if q.scope and self.text.endswith(q.scope, 0, q.start) else q.start
        cited = LAST_YEAR_CITED.search(self.text[max(0, lead - 6):lead])
        if cited is None:
            return False
        year = self.metrics.meta.year
        return not cited.group(1)[0].isdigit() or year is None or int(cited.group(1)[:4]) < year

    def _last_years_figure(self, q: Quantity, p: MetricProfile) -> bool:
        """The figure as written equals last year's value exactly and this year's only by rounding, and
        the text does not say it is last year's."""
        if q.kind == "rank" or q.approx or q.lower is not None or q.upper is not None or q.value is None:
            return False
        if p.base_previous is None or p.base_value is None or p.base_previous == p.base_value:
            return False
        written = q.value * (unit_scale(q.unit) if q.kind != "percent" else Decimal(1))
        if written != p.base_previous or written == p.base_value:
            return False
        return not LAST_YEAR_CITED.search(self.text[max(0, q.start - 6):q.start])

    def _table_figure(self, q: Quantity, cell: TableCell) -> Finding:
        """A figure in a text-table row: its metric is named by the row's label, its year by the column."""
        aligned = self.aligner.align_label(cell.label, q)
        if q.masked:
            return self._masked(q, aligned)
        if not previous_year_header(cell.header, self.metrics.meta.year):
            return self._against(q, aligned) if aligned else self._unaligned(q)
        if not aligned:
            return self._finding(q, "unsupported", f"表中“{cell.label}”的上年数字，数据中没有对应指标")
        p = aligned[0].profile
        m = p.metric
        if p.base_previous is None:
            return self._finding(q, "unsupported", f"表中“{m.label}”的上年数字，数据中没有上年数字，无法核对", m)
        if value_agrees(q, p.base_previous, self.text):
            return self._finding(q, "supported", f"表中上年栏，与“{m.label}”上年{_show(m.previous, m)}一致",
                                 m, expected=_show(m.previous, m))
        return self._finding(q, "contradicted", f"表中“{cell.header}”栏：“{m.label}”上年在数据中是"
                             f"{_show(m.previous, m)}，文中写的是{q.text}", m, expected=_show(m.previous, m))

    def _unaligned(self, q: Quantity) -> Finding:
        derived = self._derived(q)
        if derived is not None:
            return derived
        places = self._partner_count(q)
        if places is not None:
            return places
        candidates = self.aligner.candidates(q)
        for p in candidates:
            if value_agrees(q, p.base_value, self.text, approx=p.metric.approx):
                return self._finding(q, "supported", f"上下文未点明指标，数值与“{p.metric.label}”一致", p.metric)
        for p in candidates:
            # Without words naming the metric, only a distinctive figure can be called last year's:
            # small counts (`两场`, `三次`) coincide by chance.
            if p.base_previous is not None and p.base_value is not None and q.value >= 10 \
                    and value_agrees(q, p.base_previous, self.text):
                return self._finding(
                    q, "stale", f"等于“{p.metric.label}”的上年数字{_show(p.metric.previous, p.metric)}，"
                    f"本年应为{_expected(p.metric)}", p.metric)
        label = _left_label(self.text, q)
        scale = unit_scale(q.unit) if q.kind not in ("rank", "percent") else Decimal(1)
        assert q.value is not None
        for past in self.past.by_label.get(label, ()) if label else ():
            if past.base == q.value * scale:
                year = f"{past.year}年" if past.year else "往年"
                return self._finding(q, "stale", f"与{year}述职报告中“{label}{past.text}”相同，数据中没有本年对应数字")
        return self._finding(q, "unsupported", "数据中没有与此对应的指标（上下文和单位都对不上）")

    def _partner_count(self, q: Quantity) -> Finding | None:
        """`帮助两村`: the number of villages (towns…) among the data's partners."""
        if q.unit not in ("村", "镇", "乡", "个村", "社区") or q.value is None:
            return None
        suffix = q.unit[-1] if q.unit != "社区" else "社区"
        named = [p for p in self.metrics.partners if norm_name(p).endswith(suffix)]
        if named and Decimal(len(named)) == q.value:
            return self._finding(q, "derived", f"数据“地名单位”中有{len(named)}个：{'、'.join(named)}",
                                 expected=str(len(named)))
        return None

    # ----------------------------------------------------------------- derived figures

    def _respectively(self, q: Quantity) -> list[Alignment] | None:
        """`参训率、合格率分别达到97.5%和100%`: the k-th figure after 分别 states the k-th metric named
        before it. None when the sentence has no such list (or the counts do not match)."""
        start, end = sentence_bounds(self.text, q)
        marker = self.text.rfind("分别", start, q.start)
        if marker < 0:
            return None
        list_start = max(self.text.rfind(c, start, marker) for c in "，；：") + 1 if start < marker else start
        list_start = max(list_start, start)
        named = self.text[list_start:marker]
        family = quantity_family(q)
        following = [x for x in self.quantities
                     if marker < x.start < end and quantity_family(x) == family and x.end <= end]
        if q not in following:
            return None
        positions: list[tuple[int, MetricProfile]] = []
        for p in self.aligner.candidates(q):
            hits = [named.find(t) for t, _ in p.terms if named.find(t) >= 0]
            if hits:
                positions.append((min(hits), p))
        positions.sort(key=lambda item: item[0])
        if len(positions) != len(following):
            return None
        p = positions[following.index(q)][1]
        return [Alignment(p, 10.0)]
