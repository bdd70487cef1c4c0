"""The third pass of reading-stage speedups changes no output.

* Every report of the corpus and of the eval sets parses and chunks to what it did before the pass:
  `fixtures/parse/speed3_digests.json` holds a digest of each file's `Report` (sections with their
  offsets, title, year, region, working copy, doc id) and of its `ChunkBlock` columns, recorded with
  the code before the pass (commit 2d49aa6). A deliberate change of the parser's output changes
  digests: re-record them with `SHUZHI_UPDATE_GOLDEN=1` and say why in the commit.
* Each shortcut of the pass is checked against the straightforward computation it stands for, on
  seeded random inputs built from the characters it depends on.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import warnings
from pathlib import Path

from pipeline.index.retrieval import chunk_block
from pipeline.reading.parse import parse_file

ROOT = Path(__file__).resolve().parent.parent
DIGESTS = Path(__file__).resolve().parent / "fixtures" / "parse" / "speed3_digests.json"
# Report-like files of the corpus and the eval sets (read only). Not the eval sets' gold files.
_SETS = ("corpus/reports", "corpus/shuangyong/reports", "corpus/township/reports", "corpus/tools/src",
         "eval/parse_set", "eval/holdout", "eval/holdout2", "eval/holdout3", "eval/holdout4", "eval/check_set",
         "eval/extract_set", "eval/reading/kit", "tests/fixtures/check", "tests/fixtures/web")
_SUFFIXES = (".txt", ".md", ".docx")


def _report_files() -> list[str]:
    found = []
    for folder in _SETS:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix in _SUFFIXES and path.is_file() and path.name != "README.md":
                found.append(path.relative_to(ROOT).as_posix())
    return found


def _digest(relative: str) -> str:
    """sha256 of what parsing and chunking the file gives (the refusal message for a refused file)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = parse_file(ROOT / relative)
    except Exception as exc:  # noqa: BLE001 - a refusal is an output too
        return hashlib.sha256(f"{type(exc).__name__}: {exc}".replace(str(ROOT), "<root>").encode()).hexdigest()
    fields = dataclasses.asdict(report)
    fields.pop("source")                  # the absolute path differs between checkouts
    block = chunk_block(report, path=relative)
    columns = (block.doc_id, block.path, block.region, block.year, block.texts, block.section_of, block.keys,
               block.headings)
    return hashlib.sha256(f"{fields!r}\x00{columns!r}".encode()).hexdigest()


def test_corpus_and_eval_reports_parse_and_chunk_as_before() -> None:
    files = _report_files()
    assert len(files) > 150
    got = {relative: _digest(relative) for relative in files}
    if os.environ.get("SHUZHI_UPDATE_GOLDEN"):
        DIGESTS.write_text(json.dumps(got, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    expected = json.loads(DIGESTS.read_text(encoding="utf-8"))
    assert sorted(got) == sorted(expected)
    changed = [name for name in got if got[name] != expected[name]]
    assert not changed, changed

