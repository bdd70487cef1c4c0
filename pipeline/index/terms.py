"""The BM25 terms of many chunks, held so that a commit does not loop over every token in Python.

An index generation needs its chunks' terms twice: as `terms.txt` (one tab-joined line per chunk,
read back by the next ingest) and as term ids for the BM25 matrix. Built from lists of strings,
both are a Python step per token (2.4 M terms for 5 M characters, ~0.3 s of a commit that runs
after the workers are done). So an ingest worker sends its batch's terms as `TermRows`: the lines
already joined, and every term as an id into the batch's own small vocabulary. The commit then maps
each distinct term of a batch once (`Vocabulary.ids`) and writes the lines as they are.

`TermRows` and `TermColumn` are sequences of term lists, so code that wants `terms[i]` as a list
(Chroma upserts, re-embedding a missing vector) still gets one, split on demand.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import overload

import numpy as np

from pipeline.index.parts import Parts, parts_of

TermLists = Sequence[Sequence[str]]


class TermRows(Sequence[list[str]]):
    """Terms of consecutive chunks: `lines[i]` is chunk i's terms joined by tabs (terms never hold
    whitespace: `segment.terms` drops it); `ids` (int32) every term in order as an index into
    `vocab`; `lengths` (int64) the terms per chunk. Several `TermRows` may share one `vocab`."""

    __slots__ = ("ids", "lengths", "lines", "vocab")

    def __init__(self, lines: list[str], vocab: list[str], ids: np.ndarray, lengths: np.ndarray):
        if len(lines) != len(lengths) or int(lengths.sum()) != len(ids):
            raise ValueError("term rows disagree in length")
        self.lines, self.vocab, self.ids, self.lengths = lines, vocab, ids, lengths

    @classmethod
    def from_lists(cls, terms: TermLists, vocab: list[str] | None = None,
                   ids: np.ndarray | None = None) -> TermRows:
        """From term lists; `vocab` and `ids` (every term's index into it) when the caller has them."""
        lengths = np.fromiter(map(len, terms), dtype=np.int64, count=len(terms))
        if vocab is None or ids is None:
            index: dict[str, int] = {}
            setdefault = index.setdefault
            ids = np.fromiter((setdefault(w, len(index)) for doc in terms for w in doc), dtype=np.int32,
                              count=int(lengths.sum()))
            vocab = list(index)
        return cls(["\t".join(t) for t in terms], vocab, ids, lengths)

    def split(self, counts: Sequence[int]) -> list[TermRows]:
        """Consecutive parts of `counts` chunks each (sharing this vocabulary)."""
        bounds = np.concatenate([[0], np.cumsum(self.lengths)])
        parts: list[TermRows] = []
        start = 0
        for count in counts:
            stop = start + count
            parts.append(TermRows(self.lines[start:stop], self.vocab,
                                  self.ids[int(bounds[start]):int(bounds[stop])], self.lengths[start:stop]))
            start = stop
        return parts

    def __len__(self) -> int:
        return len(self.lines)

    @overload
    def __getitem__(self, i: int) -> list[str]: ...

    @overload
    def __getitem__(self, i: slice) -> list[list[str]]: ...

    def __getitem__(self, i: int | slice) -> list[str] | list[list[str]]:
        if isinstance(i, slice):
            return [line.split("\t") if line else [] for line in self.lines[i]]
        line = self.lines[i]
        return line.split("\t") if line else []

    def __iter__(self) -> Iterator[list[str]]:
        return (line.split("\t") if line else [] for line in self.lines)


class TermColumn(Parts[Sequence[str]]):
    """The terms of a whole generation as consecutive parts: plain lists (kept from the previous
    generation, or made in this process) and `TermRows` (from workers)."""

    KEPT = TermRows


def term_lines(terms: TermLists) -> Iterator[str]:
    """Each chunk's terms as its `terms.txt` line, without the newline."""
    for part in parts_of(terms):
        if isinstance(part, TermRows):
            yield from part.lines
        else:
            yield from ("\t".join(t) for t in part)


class Vocabulary:
    """Term → id in first-seen order, fed term lists or `TermRows` (one lookup per distinct term
    of a part; a vocabulary shared by several parts is mapped once)."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self._mapped: dict[int, tuple[list[str], np.ndarray]] = {}

    def ids(self, terms: TermLists) -> np.ndarray:
        """Every term's id, chunk after chunk (int64)."""
        arrays = [self._part_ids(part) for part in parts_of(terms)]
        return np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int64)

    def _part_ids(self, part: TermLists) -> np.ndarray:
        index = self.index
        setdefault = index.setdefault
        if isinstance(part, TermRows):
            key = id(part.vocab)
            known = self._mapped.get(key)
            if known is None or known[0] is not part.vocab:
                table = np.fromiter((setdefault(w, len(index)) for w in part.vocab), dtype=np.int64,
                                    count=len(part.vocab))
                known = self._mapped[key] = (part.vocab, table)      # holding vocab keeps its id unique
            return known[1][part.ids]
        total = sum(map(len, part))
        return np.fromiter((setdefault(w, len(index)) for doc in part for w in doc), dtype=np.int64, count=total)


def term_lengths(terms: TermLists) -> np.ndarray:
    """Terms per chunk (int64)."""
    arrays = [part.lengths if isinstance(part, TermRows) else np.fromiter(map(len, part), dtype=np.int64,
                                                                           count=len(part)) for part in parts_of(terms)]
    return np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int64)
