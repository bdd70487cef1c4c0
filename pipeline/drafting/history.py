"""Last year's report of the same region, as the drafter's starting point (update mode).

`find_previous_report` looks for it in the index (a document of the same region whose year is the
year before the metrics' year) or reads the file named with `--from`; either way the report comes
back as `PastReport`: its sections in order, each with its heading and its passages (the index's
chunks: one per sub-point, else one per paragraph).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.models import Chunk, Metrics

# Second-level heading markers: `（一）`, `(一)`, `1.`, `1、`.
_LEVEL_TWO_RE = re.compile(r"^\s*(?:[（(][一二三四五六七八九十]+[）)]|\d+[、.．])")
_HEADING_NUMBER_RE = re.compile(r"^\s*(?:[一二三四五六七八九十]+[、.．]|[（(][一二三四五六七八九十]+[）)]|\d+[、.．])\s*")


@dataclass(frozen=True)
class PastPassage:
    chunk_id: str
    text: str


@dataclass(frozen=True)
class PastSection:
    key: str
    heading: str                    # without its number; "" for opening, closing, an unheaded plans block
    passages: tuple[PastPassage, ...]


@dataclass(frozen=True)
class PastReport:
    source: str
    region: str
    year: int
    sections: tuple[PastSection, ...]

    @property
    def text(self) -> str:
        lines = []
        for s in self.sections:
            if s.heading:
                lines.append(s.heading)
            lines += [p.text for p in s.passages]
        return "\n".join(lines)


def _from_chunks(chunks: list[Chunk], source: str, region: str, year: int) -> PastReport:
    chunks = sorted(chunks, key=lambda c: c.position)
    sections: list[PastSection] = []
    for chunk in chunks:
        raw = (chunk.heading or "").strip()
        heading = _HEADING_NUMBER_RE.sub("", raw)
        if sections and sections[-1].key == chunk.section_key and sections[-1].heading == heading:
            last = sections[-1]
            sections[-1] = PastSection(last.key, last.heading, last.passages + (PastPassage(chunk.chunk_id, chunk.text),))
        elif sections and sections[-1].heading and _LEVEL_TWO_RE.match(raw):
            # A `（一）…` / `1.` section lives under the `一、` section before it: its heading becomes
            # the topic sentence of its first passage, so the draft keeps one numbered level.
            last = sections[-1]
            topic = heading.rstrip("。：:；;，, ") + "。"
            text = chunk.text if chunk.text.startswith(heading.rstrip("。：:；;，, ")) else topic + chunk.text
            seen = any(p.text.startswith(topic) for p in last.passages)
            sections[-1] = PastSection(last.key, last.heading,
                                       last.passages + (PastPassage(chunk.chunk_id, chunk.text if seen else text),))
        else:
            sections.append(PastSection(chunk.section_key, heading, (PastPassage(chunk.chunk_id, chunk.text),)))
    return PastReport(source=source, region=region, year=year, sections=tuple(sections))


def previous_from_index(index: Any, metrics: Metrics) -> PastReport | None:
    """The region's report of the previous year held by `index`, or None."""
    region, year = metrics.meta.region, metrics.meta.year
    if index is None or not region or not year:
        return None
    try:
        try:
            # The region's chunks of that year through the index's columns: a scan of every chunk of
            # the province per unit cost a batch more than drafting (124 ms at 100k chunks).
            chunks = index.all_chunks(region=region, year=year - 1)
        except TypeError:       # an index of the user's own without filters: scan it
            chunks = index.all_chunks()
    except Exception:  # noqa: BLE001 - history is optional: without it the draft starts afresh
        return None
    docs: dict[str, list[Chunk]] = {}
    for chunk in chunks:
        if chunk.region == region and chunk.year == year - 1:
            docs.setdefault(chunk.doc_id, []).append(chunk)
    if not docs:
        return None
    # Two versions of one year (a .docx and its .txt): the longer one is the fuller report.
    doc = max(docs.values(), key=lambda cs: sum(len(c.text) for c in cs))
    return _from_chunks(doc, doc[0].path or doc[0].doc_id, region, year - 1)


def previous_from_file(path: str | Path, metrics: Metrics) -> PastReport:
    """A report file named by the user (`--from`): read, parsed and cut like an indexed one."""
    from pipeline.errors import InputError
    from pipeline.index.retrieval import chunk_report
    from pipeline.reading.parse import parse_text
    from pipeline.reading.readers import read_text

    text = read_text(path)
    if not text.strip():
        raise InputError("上年报告是空的，无法在其基础上起草；请确认 --from 指向上年的述职报告。", path=str(path))
    report = parse_text(text, source=str(path))
    chunks = chunk_report(report, path=str(path))
    if not chunks:
        raise InputError("上年报告中没有可用的段落；请确认 --from 指向上年的述职报告。", path=str(path))
    year = report.year if report.year is not None else metrics.meta.year - 1
    return _from_chunks(chunks, str(path), report.region or metrics.meta.region, year)
