"""Chunks held as columns while an ingest gathers them, so that no `Chunk` object is made per passage.

An ingest of 5 M characters makes 58k chunks. As frozen dataclasses they were built in the worker,
pickled, unpickled in the parent (0.28 s of its CPU) and taken apart again field by field to write
the chunk store's columns (0.14 s, after the workers are done). So a file's chunks travel as one
`ChunkBlock`: its texts, which section each text is in, and what all of them share (document, path,
region, year). A generation's chunks are a `ChunkColumn` of consecutive parts, blocks or plain
lists (chunks kept from the previous generation, the shared server's path); `store._encode` writes
a block's columns without looking at a chunk.

Both are sequences of `Chunk`, made on demand, so code that wants `chunks[i]` (Chroma upserts,
re-embedding a missing vector) still gets one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import overload

from pipeline.index.parts import Parts, parts_of
from pipeline.models import Chunk


class ChunkBlock(Sequence[Chunk]):
    """The chunks of one file, in position order: chunk i is `texts[i]` in section
    `section_of[i]` (an index into `keys` and `headings`), with id `{doc_id}:{i}`."""

    __slots__ = ("doc_id", "headings", "keys", "path", "region", "section_of", "texts", "year")

    def __init__(self, doc_id: str, path: str, region: str | None, year: int | None, texts: list[str],
                 section_of: list[int], keys: list[str], headings: list[str]):
        if len(texts) != len(section_of) or len(keys) != len(headings):
            raise ValueError("chunk block columns disagree in length")
        self.doc_id, self.path, self.region, self.year = doc_id, path, region, year
        self.texts, self.section_of, self.keys, self.headings = texts, section_of, keys, headings

    def __reduce__(self) -> tuple[type, tuple]:      # positional: pickles without a state dict
        return (ChunkBlock, (self.doc_id, self.path, self.region, self.year, self.texts, self.section_of,
                             self.keys, self.headings))

    def __len__(self) -> int:
        return len(self.texts)

    @overload
    def __getitem__(self, i: int) -> Chunk: ...

    @overload
    def __getitem__(self, i: slice) -> list[Chunk]: ...

    def __getitem__(self, i: int | slice) -> Chunk | list[Chunk]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        n = len(self.texts)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(i)
        section = self.section_of[i]
        return Chunk(chunk_id=f"{self.doc_id}:{i}", doc_id=self.doc_id, text=self.texts[i], path=self.path,
                     region=self.region, year=self.year, section_key=self.keys[section],
                     heading=self.headings[section], position=i)

    def __iter__(self) -> Iterator[Chunk]:
        return (self[i] for i in range(len(self.texts)))

    def chunk_ids(self) -> list[str]:
        prefix = self.doc_id + ":"
        return [prefix + str(i) for i in range(len(self.texts))]


class ChunkColumn(Parts[Chunk]):
    """The chunks of a whole generation as consecutive parts: `ChunkBlock`s and lists of `Chunk`."""

    KEPT = ChunkBlock


def chunk_ids(chunks: Sequence[Chunk], start: int = 0) -> list[str]:
    """The ids of `chunks[start:]`, without making a `Chunk` for a block's passages."""
    out: list[str] = []
    skip = start
    for part in parts_of(chunks):
        if skip >= len(part):
            skip -= len(part)
            continue
        if isinstance(part, ChunkBlock):
            ids = part.chunk_ids()
            out.extend(ids[skip:] if skip else ids)
        else:
            out.extend(c.chunk_id for c in part[skip:])
        skip = 0
    return out
