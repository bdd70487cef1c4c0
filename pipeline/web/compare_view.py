"""Rows for the side-by-side 对比 page, from a `ReportDiff` (pipeline.facts.diff does the comparing).

Each section becomes a list of (A cell, B cell) rows; in a changed sentence the figures that differ
(`FigureChange.old` in A, `.new` in B) are wrapped in <mark>. All text is escaped here, before the
marks go in, because the cells reach the template as markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from markupsafe import Markup

from pipeline.facts.diff import SECTION_NAMES, FigureChange, ReportDiff, SectionDiff


@dataclass(frozen=True)
class CompareRow:
    kind: str            # changed | removed | added
    a: Markup
    b: Markup
    figures: tuple[FigureChange, ...] = ()


@dataclass(frozen=True)
class CompareSection:
    key: str
    name: str
    heading_a: str
    heading_b: str
    rows: tuple[CompareRow, ...]
    unchanged: int
    figure_changes: int


def mark_figures(sentence: str, figures: set[str], css: str) -> Markup:
    """`sentence` escaped, each extracted figure whose text is in `figures` wrapped in <mark>."""
    from pipeline.facts.quantities import extract_quantities

    out: list[str] = []
    pos = 0
    for q in sorted(extract_quantities(sentence), key=lambda q: q.start):
        if q.text not in figures or q.start < pos:
            continue
        out.append(escape(sentence[pos:q.start]))
        out.append(f'<mark class="{css}">{escape(sentence[q.start:q.end])}</mark>')
        pos = q.end
    out.append(escape(sentence[pos:]))
    return Markup("".join(out))


def _section(s: SectionDiff) -> CompareSection:
    rows: list[CompareRow] = []
    for c in s.changed:
        old = {f.old for f in c.figures if f.old}
        new = {f.new for f in c.figures if f.new}
        rows.append(CompareRow("changed", mark_figures(c.a, old, "fig-old"), mark_figures(c.b, new, "fig-new"),
                               c.figures))
    rows.extend(CompareRow("removed", Markup(escape(r)), Markup("")) for r in s.removed)
    rows.extend(CompareRow("added", Markup(""), Markup(escape(a))) for a in s.added)
    return CompareSection(
        key=s.key, name=SECTION_NAMES.get(s.key, s.key),
        heading_a=s.heading_a if s.heading_a is not None else "（A 无此部分）",
        heading_b=s.heading_b if s.heading_b is not None else "（B 无此部分）",
        rows=tuple(rows), unchanged=s.unchanged, figure_changes=sum(len(c.figures) for c in s.changed),
    )


def compare_sections(diff: ReportDiff) -> list[CompareSection]:
    return [_section(s) for s in diff.sections]
