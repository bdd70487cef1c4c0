"""Dataclasses that cross stage boundaries.

Every stage imports from here, not from another stage's internals. All are frozen; figures are
`Decimal`, never float. Offsets (`start`, `end`) are Python string indices into the text the stage
was given, end exclusive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

SECTION_KEYS: tuple[str, ...] = ("opening", "duty", "systems", "foundation", "plans", "closing", "other")
"""Stable section keys. Headings change every year; keys do not."""

QUANTITY_KINDS: tuple[str, ...] = (
    "count", "money", "percent", "rank", "ordinal", "year", "date", "duration", "other",
)

VERDICTS: tuple[str, ...] = ("supported", "contradicted", "stale", "unsupported", "masked", "derived")
"""Checker verdicts. `supported` and `derived` are good; the other four need a human."""

BAD_VERDICTS: frozenset[str] = frozenset({"contradicted", "stale", "unsupported", "masked"})


def _dec(value: Decimal | None) -> str | None:
    """Decimal to a plain string for JSON (`21034`, `2.1`, `98`), None stays None."""
    if value is None:
        return None
    text = format(value.normalize(), "f") if value == value.to_integral_value() else format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


# --------------------------------------------------------------------------- numbers in text

@dataclass(frozen=True)
class Quantity:
    """A number that measures something, as found in a text.

    `value` is None when the figure is masked (`***人`). For approximate figures (`两千余人`,
    `近百次`) `value` is the stated number and `lower`/`upper` bound the truth (either may be None
    for an open side). For ranges (`18—35周岁`) `value` is the low end and `upper` the high end.
    `unit` is canonical (人, 名, 次, 个, 所, 批, 件, 场次, 人次, 万元, 元, 亿元, %, 年, 月, 日, 周岁…)
    or "" when there is none (a bare rank has unit "名" only when written).
    `scope` is the comparison set of a rank (全市, 全省, 全县, 全区, 军分区…).
    """

    start: int
    end: int
    text: str
    value: Decimal | None
    unit: str
    kind: str
    masked: bool = False
    approx: bool = False
    lower: Decimal | None = None
    upper: Decimal | None = None
    scope: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "value": _dec(self.value),
            "unit": self.unit,
            "kind": self.kind,
            "masked": self.masked,
            "approx": self.approx,
        }


# --------------------------------------------------------------------------- parsed reports

@dataclass(frozen=True)
class Section:
    """One section of a report.

    `key` is one of SECTION_KEYS. `level` is 1 for `一、` headings (and for the opening, closing
    and an un-numbered plans block), 2 for `（一）`-style headings when they open a section of
    their own. `subpoints` holds the sub-point texts (`一是…`, `（一）…`, `1、…`) with their markers
    stripped, in order; `paragraphs` holds the body paragraphs in order (sub-point text included,
    marker kept), so `text` is the section body as written.
    """

    key: str
    heading: str
    level: int
    paragraphs: tuple[str, ...]
    subpoints: tuple[str, ...] = ()
    # Where the section (heading included) starts and ends in the text as read
    # (`reading.readers.read_text`), end exclusive, and the 1-based line it starts on; -1/0 unknown.
    start: int = -1
    end: int = -1
    line: int = 0

    @property
    def text(self) -> str:
        return "\n".join(self.paragraphs)


@dataclass(frozen=True)
class Report:
    """A parsed report. `text` is the parser's tidy working copy of the file's text (the sections were
    cut from it); the sections' `start`/`end`/`line` point into the text as read instead."""

    source: str
    title: str | None
    year: int | None
    region: str | None
    sections: tuple[Section, ...]
    text: str
    doc_id: str = ""

    def section(self, key: str) -> Section | None:
        return next((s for s in self.sections if s.key == key), None)

    def children(self, index: int) -> list[int]:
        """Indices of the level-2 sections under the level-1 section at `index` (its `（一）`…).
        Only a level-1 section with a heading has children: in a report whose top level is `（一）`
        those sections are level 2 with no parent, not children of the opening."""
        if self.sections[index].level != 1 or not self.sections[index].heading:
            return []
        out: list[int] = []
        for i in range(index + 1, len(self.sections)):
            if self.sections[i].level == 1:
                break
            out.append(i)
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "year": self.year,
            "region": self.region,
            "sections": [
                {
                    "key": s.key,
                    "heading": s.heading,
                    "level": s.level,
                    "subpoints": list(s.subpoints),
                    "text": s.text,
                    "start": s.start,
                    "end": s.end,
                    "line": s.line,
                    "children": self.children(i),
                }
                for i, s in enumerate(self.sections)
            ],
        }


# --------------------------------------------------------------------------- index

@dataclass(frozen=True)
class Chunk:
    """A retrievable passage: one sub-point or one paragraph of a past report."""

    chunk_id: str
    doc_id: str
    text: str
    path: str
    region: str | None
    year: int | None
    section_key: str
    heading: str
    position: int


@dataclass(frozen=True)
class SearchHit:
    chunk: Chunk
    score: float
    bm25_rank: int | None = None
    vector_rank: int | None = None


# --------------------------------------------------------------------------- metrics

@dataclass(frozen=True)
class ReportMeta:
    year: int
    region: str
    level: str | None = None           # 县 / 区 / 乡镇 …
    unit: str | None = None            # 青岚县人武部 …
    reporter: str | None = None        # the reporter's name, if the user wants it in the signature
    reporter_title: str | None = None  # 县委书记、县人武部党委第一书记
    superiors: tuple[str, ...] = ()    # 市委、市政府和军分区党委
    date: str | None = None            # ISO date of the report
    profile: str = "dangguan-wuzhuang"


@dataclass(frozen=True)
class MetricValue:
    """One figure of the year. `value` None means "known to exist, figure not given"."""

    key: str
    label: str
    unit: str
    section: str
    kind: str                      # count / money / percent / rank
    value: Decimal | None
    previous: Decimal | None = None
    scope: str | None = None       # for ranks: 全市 / 全省
    note: str | None = None
    custom: bool = False
    aliases: tuple[str, ...] = ()  # words the report may name it by, beyond the catalog's (`议武会`)
    approx: bool = False           # the data itself is approximate: a figure near it agrees (see facts.align)
    units: tuple[str, ...] = ()    # other count units that state it as well (项/件 for a metric in 个)


@dataclass(frozen=True)
class Metrics:
    meta: ReportMeta
    values: tuple[MetricValue, ...]
    honours: tuple[str, ...] = ()
    documents: tuple[str, ...] = ()
    partners: tuple[str, ...] = ()
    plans: tuple[str, ...] = ()
    highlights: tuple[str, ...] = ()
    source: str = ""

    def get(self, key: str) -> MetricValue | None:
        return next((m for m in self.values if m.key == key), None)

    def keys(self) -> tuple[str, ...]:
        return tuple(m.key for m in self.values)


@dataclass(frozen=True)
class MetricProblem:
    """One problem found while loading or validating a metrics file."""

    source: str
    location: str      # "line 12, column 5" or "cell C7" or ""
    message: str       # Chinese, says what was expected and how to fix it
    key: str | None = None
    severity: str = "error"   # error | warning

    @property
    def where(self) -> str:
        """The location as a secretary reads it: `第 12 行第 5 列`, `单元格 C7` (stored as
        `line 12, column 5` / `cell C7` so code can sort and match it)."""
        text = re.sub(r"line (\d+)", r"第 \1 行", self.location)
        text = re.sub(r",?\s*column (\d+)", r"第 \1 列", text)
        return re.sub(r"cell ([A-Z]+\d+)", r"单元格 \1", text)

    def __str__(self) -> str:
        where = f"{self.source}" + (f" {self.where}" if self.location else "")
        return f"{where}: {self.message}"


# --------------------------------------------------------------------------- checking

@dataclass(frozen=True)
class Finding:
    start: int
    end: int
    text: str
    verdict: str
    metric: str | None = None
    expected: str | None = None
    found: str | None = None
    reason: str = ""
    kind: str = "quantity"   # quantity / honour / document / name

    def to_json(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "verdict": self.verdict,
            "metric": self.metric,
            "expected": self.expected,
            "found": self.found,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class CheckResult:
    text: str
    findings: tuple[Finding, ...]
    source: str = ""

    @property
    def summary(self) -> dict[str, int]:
        counts = {v: 0 for v in VERDICTS}
        for f in self.findings:
            counts[f.verdict] = counts.get(f.verdict, 0) + 1
        return counts

    @property
    def ok(self) -> bool:
        return not any(f.verdict in BAD_VERDICTS for f in self.findings)

    def to_json(self) -> dict[str, Any]:
        return {"summary": self.summary, "findings": [f.to_json() for f in self.findings]}


# --------------------------------------------------------------------------- drafting

@dataclass(frozen=True)
class DraftSentence:
    text: str
    metric_keys: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()    # chunk ids the sentence was modelled on
    facet: str | None = None


@dataclass(frozen=True)
class DraftParagraph:
    sentences: tuple[DraftSentence, ...]

    @property
    def text(self) -> str:
        return "".join(s.text for s in self.sentences)


@dataclass(frozen=True)
class DraftSection:
    key: str
    heading: str                     # without its number; the renderer numbers level-1 headings
    paragraphs: tuple[DraftParagraph, ...]
    numbered: bool = True            # opening/closing and some plans blocks carry no `一、`


@dataclass(frozen=True)
class Draft:
    title: str
    sections: tuple[DraftSection, ...]
    meta: ReportMeta
    engine: str = "template"
    seed: int = 0
    warnings: tuple[str, ...] = ()
    signature: tuple[str, ...] = field(default_factory=tuple)   # lines of the signature block


# --------------------------------------------------------------------------- Word output

@dataclass(frozen=True)
class WordBlock:
    """One paragraph of the Word file, in order.

    `style`: title | subtitle | h1 | h2 | h3 | body | signature | date.
    `comments`: (start, end, text) spans inside `text` that get a Word comment (批注) in the
    review copy, e.g. a figure and the metric it came from.
    """

    style: str
    text: str
    comments: tuple[tuple[int, int, str], ...] = ()
