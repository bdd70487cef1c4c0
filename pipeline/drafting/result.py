"""What a draft comes back as: `DraftResult` with each sentence's provenance, progress events, repairs.

Shared by the default drafter (`pipeline.drafting.draft`) and update mode
(`pipeline.drafting.update`); `pipeline.drafting.draft` re-exports every name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.drafting.fill import format_cn_date
from pipeline.models import CheckResult, Draft, Metrics

# --------------------------------------------------------------------------- results

EVENT_KINDS = ("section_start", "section_done", "repair", "done")


@dataclass(frozen=True)
class DraftEvent(str):
    """A progress event of `draft_report` (see the module docstring). `str(event)` is its message."""

    kind: str                     # one of EVENT_KINDS
    section: str | None = None    # section key; None for `done`
    index: int = 0                # 1-based position of the section in the plan (0 for `done`)
    total: int = 0                # number of sections in the plan
    facet: str | None = None      # facet id, for `repair`
    message: str = ""

    def __new__(cls, kind: str, section: str | None = None, index: int = 0, total: int = 0,
                facet: str | None = None, message: str = "") -> DraftEvent:
        return super().__new__(cls, message)


@dataclass(frozen=True)
class SentenceRecord:
    """Provenance of one sentence of the rendered text (`start`/`end` index `DraftResult.text`)."""

    section: str
    facet: str | None
    text: str
    start: int
    end: int
    metric_keys: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    engine: str = "template"
    # Where the sentence came from in update mode: `kept` (last year's sentence without a figure, to
    # be checked by a person), `rebound` (last year's sentence, every figure re-bound to this year's
    # data), `new` (written this year); "" outside update mode.
    origin: str = ""
    comparisons: int = 0            # changes against last year the sentence states (较上年增加…)

    @property
    def kept(self) -> bool:
        return self.origin == "kept"

    def to_json(self) -> dict[str, Any]:
        out = {
            "section": self.section, "facet": self.facet, "text": self.text, "start": self.start,
            "end": self.end, "metric_keys": list(self.metric_keys), "sources": list(self.sources),
            "engine": self.engine,
        }
        if self.origin:
            out["origin"] = self.origin
            out["kept_from_last_year"] = self.kept
            out["comparisons"] = self.comparisons
        return out


@dataclass(frozen=True)
class Repair:
    facet: str
    attempt: int            # 1, 2: re-asked; MAX_REPAIRS + 1: replaced by the template engine
    problems: tuple[str, ...]
    action: str             # reask | template


@dataclass(frozen=True)
class DraftResult:
    draft: Draft
    text: str
    check: CheckResult
    sentences: tuple[SentenceRecord, ...]
    figures: tuple[tuple[int, int, str], ...]       # (start, end, metric key) in `text`
    warnings: tuple[str, ...] = ()
    repairs: tuple[Repair, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    metrics: Metrics | None = None
    # Update mode: the report the draft was built on (path or index document) and its year.
    based_on: str | None = None
    based_on_year: int | None = None

    @property
    def ok(self) -> bool:
        return self.check.ok

    def to_json(self) -> dict[str, Any]:
        draft = self.draft
        by_section: dict[str, list[SentenceRecord]] = {}
        for record in self.sentences:
            by_section.setdefault(record.section, []).append(record)
        return {
            "title": draft.title,
            "engine": draft.engine,
            "seed": draft.seed,
            "meta": {"year": draft.meta.year, "region": draft.meta.region, "unit": draft.meta.unit,
                     "profile": draft.meta.profile, "level": draft.meta.level, "reporter": draft.meta.reporter,
                     "reporter_title": draft.meta.reporter_title},
            # This year's figures with last year's, so a batch summary can list what changed.
            "metrics": [{"key": m.key, "label": m.label, "unit": m.unit, "kind": m.kind, "scope": m.scope,
                         "value": None if m.value is None else str(m.value),
                         "previous": None if m.previous is None else str(m.previous)}
                        for m in (self.metrics.values if self.metrics is not None else ())],
            "sections": [
                {
                    "key": s.key,
                    "heading": s.heading,
                    "numbered": s.numbered,
                    "paragraphs": [p.text for p in s.paragraphs],
                    "sentences": [
                        {**r.to_json(), "findings": [
                            {"text": f.text, "verdict": f.verdict, "metric": f.metric}
                            for f in self.check.findings if r.start <= f.start < r.end
                        ]}
                        for r in by_section.get(s.key, [])
                    ],
                }
                for s in draft.sections
            ],
            "figures": [{"start": a, "end": b, "metric": k, "text": self.text[a:b]} for a, b, k in self.figures],
            "warnings": list(self.warnings),
            "repairs": [{"facet": r.facet, "attempt": r.attempt, "action": r.action,
                         "problems": list(r.problems)} for r in self.repairs],
            "check": self.check.to_json(),
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "based_on": {"source": self.based_on, "year": self.based_on_year} if self.based_on else None,
        }



def signature_lines(metrics: Metrics) -> tuple[str, ...]:
    meta = metrics.meta
    lines = []
    who = " ".join(x for x in (meta.reporter_title, meta.reporter) if x)
    if who:
        lines.append(who)
    if meta.date:
        try:
            lines.append(format_cn_date(meta.date))
        except (ValueError, TypeError):
            lines.append(str(meta.date))
    return tuple(lines)


