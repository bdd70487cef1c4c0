"""Writing a draft's output set: draft.docx, draft.md, draft.json, check.html, draft-review.docx.

The drafting stage (`pipeline.drafting.draft`) builds the `DraftResult`; this module only turns one
into files. Imports flow one way: output → drafting, never back.

`write_draft_outputs` writes the files as one set: all of them are built in a temporary folder
beside the output folder, then moved in; a failure leaves the previous set untouched.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from pipeline.drafting.draft import SECTION_NUMERALS, DraftResult
from pipeline.errors import OutputError
from pipeline.fsutil import output_error
from pipeline.models import Metrics, WordBlock


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
    """Word blocks of the draft; with `comments`, a comment on every figure naming its metric and source."""
    draft = result.draft
    metrics = result.metrics
    figures = sorted(result.figures)
    blocks = [WordBlock("title", draft.title)]
    # Paragraph texts appear in `result.text` in order, one per line: map figure offsets through them.
    cursor = len(draft.title) + 1
    number = 0

    def block(style: str, text: str) -> WordBlock:
        nonlocal cursor
        spans: list[tuple[int, int, str]] = []
        if comments:
            for a, b, key in figures:
                if cursor <= a and b <= cursor + len(text):
                    spans.append((a - cursor, b - cursor, _figure_comment(key, metrics)))
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


def _figure_comment(key: str, metrics: Metrics | None) -> str:
    m = metrics.get(key) if metrics else None
    if m is None:
        return f"指标 {key}"
    from pipeline.drafting.fill import decimal_text, display_unit

    value = decimal_text(m.value) if m.value is not None else "—"
    text = f"指标 {key}（{m.label}）= {value}{display_unit(m.unit)}"
    if m.previous is not None:
        text += f"；上年 {decimal_text(m.previous)}"
    source = metrics.source if metrics else ""
    return text + (f"；来源：{source}" if source else "")


def write_draft_outputs(result: DraftResult, out_dir: str | os.PathLike, *, annotate: bool = False) -> dict[str, Path]:
    """Write the output set into `out_dir` atomically and return name → path."""
    from pipeline.output.check_html import render_check_html
    from pipeline.output.docx_writer import write_docx

    target = Path(out_dir)
    if target.exists() and not target.is_dir():
        raise OutputError("无法写出：输出位置是一个文件，不是文件夹。请用 -o 指定一个文件夹。", path=str(target))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    except OSError as exc:
        raise output_error(exc, target) from exc
    try:
        write_docx(draft_to_blocks(result), staging / "draft.docx")
        if annotate:
            write_docx(draft_to_blocks(result, comments=True), staging / "draft-review.docx", annotate=True)
        (staging / "draft.md").write_text(draft_to_markdown(result), encoding="utf-8")
        (staging / "draft.json").write_text(
            json.dumps(result.to_json(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        (staging / "check.html").write_text(
            render_check_html(result.check, title=f"{result.draft.title}（核对）"), encoding="utf-8"
        )
        target.mkdir(parents=True, exist_ok=True)
        written: dict[str, Path] = {}
        for item in sorted(staging.iterdir()):
            destination = target / item.name
            os.replace(item, destination)
            written[item.name] = destination
        return written
    except OSError as exc:
        # Disk full, read-only, permission: one line naming the folder; the staging folder goes.
        raise output_error(exc, target) from exc
    except OutputError as exc:       # from a writer inside the staging folder: name the real target
        raise OutputError(exc.message, path=str(target)) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
