"""The engine protocol: what a drafting engine is asked and what it answers.

The draft orchestrator (`pipeline/draft.py`) plans sections and facets from the profile, retrieves
exemplars, and asks an engine for one facet (sub-point) at a time. Engines never write figures:
they write placeholders naming metric keys, e.g. `{conscription.recruits}`, which the
orchestrator fills from the metrics and formats. A literal number an engine writes anyway is
checked like any other figure; a failing facet is re-asked with `feedback`, then replaced by the
template engine's text for the same facet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from pipeline.models import Chunk, Metrics


@dataclass(frozen=True)
class FacetRequest:
    profile: str
    section_key: str                 # duty / systems / foundation / plans / opening / closing
    section_heading: str             # the heading chosen for this section (no number)
    facet_id: str                    # stable id from the profile, e.g. "militia_reform"
    topic: str                       # short topic clause, e.g. "推进民兵改革训练"
    ordinal: int                     # 1-based position among the section's sub-points (一是, 二是…)
    metric_keys: tuple[str, ...]     # metrics this facet must state, each exactly once
    metric_labels: dict[str, str]    # key -> label with unit, e.g. "普通民兵（人）", for prompts
    metrics: Metrics
    exemplars: tuple[Chunk, ...] = ()
    seed: int = 0
    feedback: tuple[str, ...] = ()   # one line per problem found in the previous attempt
    # Update mode: last year's text of this sub-point with this year's figures as placeholders (and
    # the comparisons with last year already written out); the engine keeps what still holds.
    previous: str = ""


@dataclass(frozen=True)
class FacetText:
    """An engine's answer: text with `{metric.key}` placeholders, and what it was modelled on."""

    text: str
    sources: tuple[str, ...] = ()    # chunk ids
    warnings: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class HeadingRequest:
    profile: str
    section_key: str
    metrics: Metrics
    exemplars: tuple[str, ...] = ()  # past headings of this section
    seed: int = 0


@runtime_checkable
class Engine(Protocol):
    name: str
    concurrent: bool                 # True: the orchestrator may run sections in parallel threads

    def write_heading(self, request: HeadingRequest) -> str: ...

    def write_facet(self, request: FacetRequest) -> FacetText: ...
