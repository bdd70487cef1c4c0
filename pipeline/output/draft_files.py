"""Writing a draft's output set: draft.docx, draft.md, draft.json, check.html, draft-review.docx.

The drafting stage (`pipeline.drafting.draft`) builds the `DraftResult`; this module only turns one
into files. Imports flow one way: output → drafting, never back.

`write_draft_outputs` writes the files as one set: all of them are built in a temporary folder
beside the output folder, then moved in; a failure leaves the previous set untouched.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from pipeline.drafting.draft import SECTION_NUMERALS, DraftResult
from pipeline.errors import OutputError
from pipeline.fsutil import output_error
from pipeline.models import WordBlock


def draft_to_markdown(result: DraftResult) -> str:
    draft = result.draft
    out = [f"# {draft.title}", ""]
    number = 0
    for section in draft.sections:
        if section.numbered:
            out += [f"## {SECTION_NUMERALS[number]}、{section.heading}", ""]
            number += 1
        for paragraph in section.paragraphs:
            out += [paragraph.text, ""]
    for line in draft.signature:
        out += [line, ""]
    return "\n".join(out).rstrip() + "\n"


def draft_to_blocks(result: DraftResult, *, comments: bool = False) -> list[WordBlock]:
    """Word blocks of the draft; with `comments`, a comment on every finding of the draft's check
    (figures, honours, titles, places: verdict, metric label, data, last year, reason — never a
    path), a summary comment on the title (`output.review_docx`), and a comment on every sentence
    carried from last year's report (update mode): kept without a figure, or re-bound."""
    from pipeline.output.review_docx import finding_comment, summary_comment

    draft = result.draft
    metrics = result.metrics
    notes = [(f.start, f.end, finding_comment(f, metrics)) for f in result.check.findings if f.end > f.start]
    kept_note, rebound_note = _history_comments(result)
    notes += [(r.start, r.end, kept_note) for r in result.sentences if r.kept and r.section != "closing"]
    notes += [(r.start, r.end, rebound_note) for r in result.sentences if r.origin == "rebound"]
    notes.sort()
    title_notes = [(0, len(draft.title), summary_comment(result.check))] if draft.title else []
    title_notes += [n for n in notes if n[1] <= len(draft.title)]
    blocks = [WordBlock("title", draft.title, tuple(title_notes) if comments else ())]
    # Paragraph texts appear in `result.text` in order, one per line: map finding offsets through them.
    cursor = len(draft.title) + 1
    number = 0

    def block(style: str, text: str) -> WordBlock:
        nonlocal cursor
        spans: list[tuple[int, int, str]] = []
        if comments:
            for a, b, note in notes:
                if cursor <= a and b <= cursor + len(text):
                    spans.append((a - cursor, b - cursor, note))
        cursor += len(text) + 1
        return WordBlock(style, text, tuple(spans))

    for section in draft.sections:
        if section.numbered:
            blocks.append(block("h1", f"{SECTION_NUMERALS[number]}、{section.heading}"))
            number += 1
        for paragraph in section.paragraphs:
            blocks.append(block("body", paragraph.text))
    for i, line in enumerate(draft.signature):
        is_date = i == len(draft.signature) - 1 and bool(draft.meta.date)
        blocks.append(block("date" if is_date else "signature", line))
    return blocks


def _history_comments(result: DraftResult) -> tuple[str, str]:
    """The review copy's comments on sentences carried from last year: without a figure, re-bound."""
    from pipeline.drafting.style import StyleRules, load_style

    try:
        style = load_style(result.draft.meta.profile or "dangguan-wuzhuang")
    except Exception:  # noqa: BLE001 - a comment's wording must not stop the files being written
        style = StyleRules()
    return style.kept_comment, style.rebound_comment


def author_of(result: DraftResult) -> str:
    """The .docx author: the reporter as the data names them (title when the name is missing)."""
    meta = result.draft.meta
    return (meta.reporter or meta.reporter_title or meta.unit or meta.region or "").strip()


def write_draft_outputs(result: DraftResult, out_dir: str | os.PathLike, *, annotate: bool = False,
                        data: dict[str, Any] | None = None, in_place: bool = False) -> dict[str, Path]:
    """Write the output set into `out_dir` atomically and return name → path. `data` is
    `result.to_json()` when the caller has made it already (draft.json is written from it).
    `in_place`: `out_dir` is an empty folder the caller swaps in as a whole (a batch unit's staging
    folder), so the files go straight into it instead of through a staging folder of their own."""
    target = Path(out_dir)
    if target.exists() and not target.is_dir():
        raise OutputError("无法写出：输出位置是一个文件，不是文件夹。请用 -o 指定一个文件夹。", path=str(target))
    if in_place:
        try:
            return _write_files(result, target, annotate=annotate, data=data, sync=False)
        except OSError as exc:
            raise output_error(exc, target) from exc
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    except OSError as exc:
        raise output_error(exc, target) from exc
    try:
        staged = _write_files(result, staging, annotate=annotate, data=data, sync=True)
        target.mkdir(parents=True, exist_ok=True)
        written: dict[str, Path] = {}
        for name in sorted(staged):
            destination = target / name
            os.replace(staged[name], destination)
            written[name] = destination
        return written
    except OSError as exc:
        # Disk full, read-only, permission: one line naming the folder; the staging folder goes.
        raise output_error(exc, target) from exc
    except OutputError as exc:       # from a writer inside the staging folder: name the real target
        raise OutputError(exc.message, path=str(target)) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_files(result: DraftResult, folder: Path, *, annotate: bool, data: dict[str, Any] | None,
                 sync: bool) -> dict[str, Path]:
    """The output set written into `folder`, name → path; whoever calls this swaps the folder (or its
    files) into place as a set. With `sync` the Word files reach the disk before that (fsync), as they
    always have for a `shuzhi draft`; a batch unit (its folder swapped in whole, its fingerprint
    marking it done) skips it: an fsync per unit cost more wall time than drafting it."""
    from pipeline.output.check_html import render_check_html
    from pipeline.output.docx_writer import docx_bytes
    from pipeline.output.json_text import dumps_indented

    author = author_of(result)
    files = {"draft.docx": docx_bytes(draft_to_blocks(result), author=author)}
    if annotate:
        files["draft-review.docx"] = docx_bytes(draft_to_blocks(result, comments=True), annotate=True, author=author,
                                                comment_author="数据核对")
    files["draft.md"] = draft_to_markdown(result).encode("utf-8")
    files["draft.json"] = (dumps_indented(result.to_json() if data is None else data) + "\n").encode("utf-8")
    files["check.html"] = render_check_html(result.check, title=f"{result.draft.title}（核对）").encode("utf-8")
    written: dict[str, Path] = {}
    for name in sorted(files):
        path = folder / name
        with open(path, "wb") as handle:
            handle.write(files[name])
            if sync and name.endswith(".docx"):
                handle.flush()
                os.fsync(handle.fileno())
        written[name] = path
    return written
