"""The layout names of an index folder and its loaded generation (`_Loaded`).

Shared by `pipeline.index.hybrid` (opening, loading, search) and `pipeline.index.ingest` (writing
a generation): kept apart from both so that neither imports the other's module.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import InputError
from pipeline.index.ann import VectorSearch
from pipeline.index.retrieval import Bm25Ranker
from pipeline.index.store import ChunkTable
from pipeline.models import Chunk

# 2: the memory-mapped generation (pipeline.index.store, pipeline.index.ann); 1 was chunks.jsonl.
FORMAT_VERSION = 2
STATE_FILE = "state.json"
VECTORS_FILE = "vectors.npy"
MANIFEST_FILE = "manifest.json"
CHROMA_DIR = "chroma"


@dataclass
class _Loaded:
    """The current generation: the chunk store memory-mapped, the rest loaded on first use."""

    generation: int
    chunks: ChunkTable
    manifest_path: Path | None = None
    loaded_manifest: dict[str, dict[str, Any]] | None = None
    bm25: Bm25Ranker | None = None
    vectors: VectorSearch | None = None        # rows aligned with chunks (pipeline.index.ann)
    vectors_checked: bool = False
    past: dict[tuple[str, int | None], list[tuple[str, int | None]]] = field(default_factory=dict)

    @classmethod
    def of(cls, generation: int, chunks: Sequence[Chunk], terms: Sequence[Sequence[str]],
           manifest: dict[str, dict[str, Any]], vectors: np.ndarray | None = None) -> _Loaded:
        """A generation held in memory (empty, or the shared server's)."""
        loaded = cls(generation, ChunkTable.from_chunks(chunks, terms), loaded_manifest=manifest)
        if vectors is not None and len(vectors) == len(chunks):
            loaded.vectors, loaded.vectors_checked = VectorSearch(np.asarray(vectors, dtype=np.float32)), True
        return loaded

    @property
    def manifest(self) -> dict[str, dict[str, Any]]:
        if self.loaded_manifest is None:
            assert self.manifest_path is not None
            try:
                self.loaded_manifest = json.loads(self.manifest_path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise InputError(f"索引数据缺失或损坏（{exc}）；请用 shuzhi ingest --rebuild 重建索引。",
                                 path=str(self.manifest_path)) from exc
        return self.loaded_manifest

    @property
    def terms(self) -> list[list[str]]:
        try:
            return self.chunks.terms()
        except (OSError, ValueError) as exc:
            raise InputError(f"索引数据缺失或损坏（{exc}）；请用 shuzhi ingest --rebuild 重建索引。",
                             path=str(self.manifest_path or "")) from exc
