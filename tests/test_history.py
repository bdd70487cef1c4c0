"""Last year's report as update mode reads it (pipeline.drafting.history)."""

from __future__ import annotations

from pipeline.drafting.history import _from_chunks
from pipeline.models import Chunk


def _chunk(i: int, key: str, heading: str, text: str) -> Chunk:
    return Chunk(chunk_id=f"d:{i}", doc_id="d", text=text, path="/r/d.txt", region="岚川县", year=2024,
                 section_key=key, heading=heading, position=i)


def test_second_level_sections_fold_under_their_first_level_heading() -> None:
    """A report with `（一）` sections (level 2) keeps one numbered level in the draft: each `（一）`
    heading becomes the topic sentence of its passage under the `一、` section (11 such sections
    once overflowed the section numbering)."""
    chunks = [
        _chunk(0, "opening", "", "2024年以来，我认真履行党管武装职责。"),
        _chunk(1, "duty", "一、立足岗位，提升能力", "全年主持专题学习五次。"),
        _chunk(2, "duty", "（一）带头学习", "组织中心组专题学习党管武装理论五次。"),
        _chunk(3, "systems", "（二）带头研究。", "召开常委会专题研究武装工作六次。"),
        _chunk(4, "systems", "二、坚持制度，抓好落实", "完成民兵整组。"),
        _chunk(5, "systems", "1. 民兵整组", "带头学习后完成民兵整组。"),
    ]
    past = _from_chunks(chunks, "d.txt", "岚川县", 2024)
    assert [(s.key, s.heading) for s in past.sections] == [
        ("opening", ""), ("duty", "立足岗位，提升能力"), ("systems", "坚持制度，抓好落实")]
    duty = past.sections[1]
    assert [p.text for p in duty.passages] == [
        "全年主持专题学习五次。", "带头学习。组织中心组专题学习党管武装理论五次。", "带头研究。召开常委会专题研究武装工作六次。"]
    assert past.sections[2].passages[-1].text == "民兵整组。带头学习后完成民兵整组。"


class _ColumnIndex:
    """An index that answers `all_chunks` with filters, as HybridIndex does, and records the asks."""

    def __init__(self, chunks: list[Chunk]):
        self.chunks = chunks
        self.asks: list[dict] = []

    def all_chunks(self, region: str | None = None, year: int | None = None, section: str | None = None,
                   level: str | None = None) -> list[Chunk]:
        self.asks.append({"region": region, "year": year})
        return [c for c in self.chunks if (region is None or c.region == region) and (year is None or c.year == year)]


class _PlainIndex:
    """A user's own index without filters: the lookup scans it."""

    def __init__(self, chunks: list[Chunk]):
        self.chunks = chunks

    def all_chunks(self) -> list[Chunk]:
        return list(self.chunks)


def _metrics(region: str, year: int):  # noqa: ANN202
    from pipeline.models import Metrics, ReportMeta

    return Metrics(meta=ReportMeta(region=region, year=year), values=())


def test_last_years_report_is_looked_up_by_region_and_year() -> None:
    """The lookup asks the index for the region's chunks of last year (a column filter), instead of
    reading every chunk of the index once per unit; an index without filters is scanned."""
    from pipeline.drafting.history import previous_from_index

    chunks = [_chunk(0, "opening", "", "2024年以来，我认真履行职责。"), _chunk(1, "duty", "一、带头学习", "学习五次。")]
    others = [Chunk(chunk_id=f"e:{i}", doc_id="e", text="别县的报告。", path="/r/e.txt", region="远山县", year=2024,
                    section_key="opening", heading="", position=i) for i in range(2)]
    index = _ColumnIndex(others + chunks)
    past = previous_from_index(index, _metrics("岚川县", 2025))
    assert index.asks == [{"region": "岚川县", "year": 2024}]
    assert past is not None and past.region == "岚川县" and past.year == 2024
    assert past == previous_from_index(_PlainIndex(others + chunks), _metrics("岚川县", 2025))
    assert previous_from_index(index, _metrics("岚川县", 2026)) is None
