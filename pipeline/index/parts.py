"""A sequence made of consecutive parts, without copying them into one list.

An ingest gathers a generation's chunks (`blocks.ChunkColumn`) and their terms (`terms.TermColumn`)
file by file: what a worker sent stays the object it sent (a `ChunkBlock`, a `TermRows`), and the
commit writes each part as a whole. Anything else is appended to a trailing plain list.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from itertools import chain
from typing import Generic, TypeVar, overload

T = TypeVar("T")


class Parts(Sequence[T], Generic[T]):
    """Consecutive parts; `KEPT` is the part type kept as it is (subclasses set it)."""

    KEPT: type = type(None)

    def __init__(self) -> None:
        self.parts: list[Sequence[T]] = []
        self._starts: list[int] = []
        self._size = 0

    def extend(self, items: Sequence[T]) -> None:
        if not len(items):
            return
        if not isinstance(items, self.KEPT):
            if self.parts and isinstance(self.parts[-1], list):
                self.parts[-1].extend(items)
                self._size += len(items)
                return
            items = list(items)
        self._starts.append(self._size)
        self.parts.append(items)
        self._size += len(items)

    def __len__(self) -> int:
        return self._size

    @overload
    def __getitem__(self, i: int) -> T: ...

    @overload
    def __getitem__(self, i: slice) -> list[T]: ...

    def __getitem__(self, i: int | slice) -> T | list[T]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._size))]
        if i < 0:
            i += self._size
        if not 0 <= i < self._size:
            raise IndexError(i)
        part = bisect.bisect_right(self._starts, i) - 1
        return self.parts[part][i - self._starts[part]]

    def __iter__(self) -> Iterator[T]:
        return chain.from_iterable(self.parts)


def parts_of(items: Sequence[T]) -> list[Sequence[T]]:
    """The consecutive parts of a `Parts`; any other sequence (a worker's block or rows too) is one part."""
    return items.parts if isinstance(items, Parts) else [items]
