"""The chunk store of one index generation, laid out for memory-mapping.

A province's history is hundreds of thousands of chunks; a process that searches it must not parse
them all on open (7.5 s and 1.1 GB at 100k chunks with one JSON line per chunk). So a generation is
columns on disk, opened with `numpy.load(mmap_mode="r")`, and a `Chunk` object is made only for a
hit:

    texts.bin        every chunk text, UTF-8, back to back
    offsets.npy      int64 (n + 1): chunk i is texts.bin[offsets[i]:offsets[i + 1]]
    columns.npy      int32 (7, n): doc, position, region, year, section, heading, level — one
                     contiguous row per column, so a filter is one vectorised compare
    tables.json      the strings the codes stand for: doc ids, paths (per doc), regions, sections,
                     headings, levels
    terms.txt        the BM25 terms of each chunk, one line per chunk (read only by the next ingest)

The chunk id is `{doc_id}:{position}` (as `retrieval.chunk_report` makes it), so it is not stored.
`ChunkTable.from_chunks` builds the same columns in memory (the shared Chroma index, tests).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np

from pipeline.fsutil import atomic_write_bytes, atomic_write_text
from pipeline.index.blocks import ChunkBlock
from pipeline.index.parts import parts_of
from pipeline.index.terms import term_lines
from pipeline.models import Chunk
from pipeline.profile.catalog import level_class

TEXTS_FILE = "texts.bin"
OFFSETS_FILE = "offsets.npy"
COLUMNS_FILE = "columns.npy"
TABLES_FILE = "tables.json"
TERMS_FILE = "terms.txt"
STORE_FILES = (TEXTS_FILE, OFFSETS_FILE, COLUMNS_FILE, TABLES_FILE)

DOC, POSITION, REGION, YEAR, SECTION, HEADING, LEVEL = range(7)
NO_YEAR = -1

# The report's level (county / township) from its region's name (岚川县, 雾溪镇, 滨港街道): the filter that
# keeps county exemplars out of a township's draft and the other way round (`profile.catalog.level_class`).
LEVELS = ("county", "township")


def region_level(region: str | None) -> str:
    """`county` / `township` for a region name, "" when unknown."""
    return level_class(region) or ""


def _npy_bytes(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


class ChunkTable(Sequence[Chunk]):
    """The chunks of one generation as columns; `table[i]` makes the `Chunk` on demand."""

    def __init__(self, texts: Any, offsets: np.ndarray, columns: np.ndarray, tables: dict[str, list[str]],
                 terms_path: Path | None = None):
        self._texts = texts                  # bytes or an mmap of texts.bin
        self._offsets = offsets
        self.columns = columns
        self.docs: list[str] = tables["docs"]
        self.paths: list[str] = tables["paths"]
        self.regions: list[str] = tables["regions"]
        self.sections: list[str] = tables["sections"]
        self.headings: list[str] = tables["headings"]
        self.levels: list[str] = tables["levels"]
        self._terms_path = terms_path
        self._terms: list[list[str]] | None = None
        self._row_of: dict[str, int] | None = None
        self._codes: dict[str, dict[str, int]] = {}

    # ---------------------------------------------------------------- building

    @classmethod
    def from_chunks(cls, chunks: Sequence[Chunk], terms: Sequence[Sequence[str]] | None = None) -> ChunkTable:
        texts, offsets, columns, tables = _encode(chunks)
        table = cls(texts, offsets, columns, tables)
        if terms is not None:
            table._terms = [list(t) for t in terms]
        return table

    @staticmethod
    def write(directory: Path, chunks: Sequence[Chunk], terms: Sequence[Sequence[str]]) -> None:
        """Write the store files of `chunks` into `directory` (each file atomically)."""
        texts, offsets, columns, tables = _encode(chunks)
        atomic_write_bytes(directory / TEXTS_FILE, texts)
        atomic_write_bytes(directory / OFFSETS_FILE, _npy_bytes(offsets))
        atomic_write_bytes(directory / COLUMNS_FILE, _npy_bytes(columns))
        atomic_write_text(directory / TABLES_FILE, json.dumps(tables, ensure_ascii=False))
        # Terms never hold whitespace (segment.terms drops it), so a tab joins and a newline ends.
        lines = list(term_lines(terms))
        atomic_write_text(directory / TERMS_FILE, "\n".join(lines) + "\n" if lines else "")

    @classmethod
    def open(cls, directory: Path) -> ChunkTable:
        """Memory-map a generation's store; raises OSError/ValueError when a file is missing or bad."""
        import mmap

        tables = json.loads((directory / TABLES_FILE).read_text(encoding="utf-8"))
        offsets = np.load(directory / OFFSETS_FILE, mmap_mode="r", allow_pickle=False)
        columns = np.load(directory / COLUMNS_FILE, mmap_mode="r", allow_pickle=False)
        with (directory / TEXTS_FILE).open("rb") as handle:
            size = handle.seek(0, 2)
            texts: Any = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        n = offsets.shape[0] - 1
        if columns.shape != (7, n) or int(offsets[-1]) != size:
            raise ValueError("chunk store files disagree in length")
        return cls(texts, offsets, columns, tables, directory / TERMS_FILE)

    # ---------------------------------------------------------------- reading

    def __len__(self) -> int:
        return int(self._offsets.shape[0]) - 1

    @overload
    def __getitem__(self, i: int) -> Chunk: ...

    @overload
    def __getitem__(self, i: slice) -> list[Chunk]: ...

    def __getitem__(self, i: int | slice) -> Chunk | list[Chunk]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(i)
        col = self.columns[:, i].tolist()
        doc_id = self.docs[col[DOC]]
        region = self.regions[col[REGION]]
        return Chunk(
            chunk_id=f"{doc_id}:{col[POSITION]}", doc_id=doc_id, text=self.text(i), path=self.paths[col[DOC]],
            region=region or None, year=None if col[YEAR] == NO_YEAR else col[YEAR],
            section_key=self.sections[col[SECTION]], heading=self.headings[col[HEADING]], position=col[POSITION],
        )

    def __iter__(self) -> Iterator[Chunk]:
        for i in range(len(self)):
            yield self[i]

    def text(self, i: int) -> str:
        start, end = int(self._offsets[i]), int(self._offsets[i + 1])
        return bytes(self._texts[start:end]).decode("utf-8")

    def chunk_id(self, i: int) -> str:
        return f"{self.docs[int(self.columns[DOC, i])]}:{int(self.columns[POSITION, i])}"

    def row_of(self, chunk_id: str) -> int | None:
        """The row of a chunk id (the map is built on first use: only ingest and Chroma need it)."""
        if self._row_of is None:
            docs, positions = self.columns[DOC].tolist(), self.columns[POSITION].tolist()
            self._row_of = {f"{self.docs[d]}:{p}": i for i, (d, p) in enumerate(zip(docs, positions, strict=True))}
        return self._row_of.get(chunk_id)

    def terms(self) -> list[list[str]]:
        """Every chunk's BM25 terms (read from terms.txt on first use)."""
        if self._terms is None:
            if self._terms_path is None:
                raise ValueError("no terms stored")
            lines = self._terms_path.read_text(encoding="utf-8").split("\n")[: len(self)]
            if len(lines) != len(self):
                raise ValueError("terms.txt is shorter than the store")
            self._terms = [line.split("\t") if line else [] for line in lines]
        return self._terms

    # ---------------------------------------------------------------- filtering

    def _code(self, column: str, value: str) -> int:
        codes = self._codes.get(column)
        if codes is None:
            codes = self._codes[column] = {v: i for i, v in enumerate(getattr(self, column))}
        return codes.get(value, -2)       # -2 matches no row

    def mask(self, *, section: str | None = None, region: str | None = None, year: int | None = None,
             level: str | None = None) -> np.ndarray | None:
        """True for the rows that pass; None when there is no filter at all. One int compare per column."""
        tests: list[tuple[int, int]] = []
        if section is not None:
            tests.append((SECTION, self._code("sections", section)))
        if region is not None:
            tests.append((REGION, self._code("regions", region)))
        if year is not None:
            tests.append((YEAR, int(year)))
        if level is not None:       # `county`/`township`, or a level word (县, 镇, 乡镇) that names one
            tests.append((LEVEL, self._code("levels", level_class(level) or level)))
        if not tests:
            return None
        column, value = tests[0]
        keep = self.columns[column] == value
        for column, value in tests[1:]:
            keep &= self.columns[column] == value
        return keep

    def doc_rows(self, region: str) -> dict[int, np.ndarray]:
        """Rows of each document whose region is `region` or not stated, in store order (the
        chunks of a document are written together, in position order)."""
        regions = self.columns[REGION]
        keep = regions == self._code("regions", region)
        blank = self._code("regions", "")
        if blank >= 0:
            keep |= regions == blank
        rows = np.flatnonzero(keep)
        docs = np.asarray(self.columns[DOC])[rows]
        out: dict[int, np.ndarray] = {}
        if rows.size:
            cuts = np.flatnonzero(np.diff(docs)) + 1
            for part in np.split(rows, cuts):
                doc = int(self.columns[DOC, part[0]])
                out[doc] = np.concatenate([out[doc], part]) if doc in out else part
        return out


def _encode(chunks: Sequence[Chunk]) -> tuple[bytes, np.ndarray, np.ndarray, dict[str, list[str]]]:
    """The store's columns of `chunks`. Codes are given in first-seen order. A `ChunkBlock` (a
    file's chunks as columns: `pipeline.index.blocks`) is encoded without making its chunks; other
    chunks one by one."""
    docs: dict[str, int] = {}
    paths: list[str] = []
    regions: dict[str, int] = {"": 0}
    levels: dict[str, int] = {"": 0}
    level_of: dict[int, int] = {0: 0}          # region code → level code
    sections: dict[str, int] = {}
    headings: dict[str, int] = {}
    doc_col: list[int] = []
    position_col: list[int] = []
    region_col: list[int] = []
    year_col: list[int] = []
    section_col: list[int] = []
    heading_col: list[int] = []
    encoded: list[bytes] = []

    def region_code(name: str) -> int:
        code = regions.setdefault(name, len(regions))
        if code not in level_of:
            level_of[code] = levels.setdefault(region_level(name), len(levels))
        return code

    for part in parts_of(chunks):
        if isinstance(part, ChunkBlock):
            n = len(part)
            if not n:
                continue
            doc = docs.setdefault(part.doc_id, len(docs))
            if doc == len(paths):
                paths.append(part.path)
            doc_col.extend([doc] * n)
            position_col.extend(range(n))
            region_col.extend([region_code(part.region or "")] * n)
            year_col.extend([NO_YEAR if part.year is None else part.year] * n)
            keys = [sections.setdefault(k, len(sections)) for k in part.keys]
            heads = [headings.setdefault(h, len(headings)) for h in part.headings]
            section_col.extend(map(keys.__getitem__, part.section_of))
            heading_col.extend(map(heads.__getitem__, part.section_of))
            encoded.extend([t.encode("utf-8") for t in part.texts])
            continue
        for c in part:
            if c.chunk_id != f"{c.doc_id}:{c.position}":
                raise ValueError(f"chunk id {c.chunk_id} is not doc:position")
            doc = docs.setdefault(c.doc_id, len(docs))
            if doc == len(paths):
                paths.append(c.path)
            doc_col.append(doc)
            position_col.append(c.position)
            region_col.append(region_code(c.region or ""))
            year_col.append(NO_YEAR if c.year is None else c.year)
            section_col.append(sections.setdefault(c.section_key, len(sections)))
            heading_col.append(headings.setdefault(c.heading, len(headings)))
            encoded.append(c.text.encode("utf-8"))
    n = len(encoded)
    columns = np.array([doc_col, position_col, region_col, year_col, section_col, heading_col,
                        list(map(level_of.__getitem__, region_col))], dtype=np.int32).reshape(7, n)
    offsets = np.zeros(n + 1, dtype=np.int64)
    if encoded:
        np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=n), out=offsets[1:])
    tables = {"docs": list(docs), "paths": paths, "regions": list(regions), "sections": list(sections),
              "headings": list(headings), "levels": list(levels)}
    return b"".join(encoded), offsets, columns, tables
