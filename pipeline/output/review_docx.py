"""The reviewer's copy: a report with a Word comment (批注) on every finding of the checker.

`write_review_docx(result, source_path, out_path, metrics)`:
- a `.docx` source comes back as the reviewer's own file, formatting untouched: the document part is
  edited in place, only the runs that hold a finding are split (each piece keeps a copy of its
  run properties) so that each comment covers exactly the finding's characters;
- a `.txt`/`.md` (or `.doc`) source becomes a GB/T 9704 file (`docx_writer.write_docx`) of the text's
  lines, title and headings styled, with the same comments.

Each comment says the verdict, the metric's Chinese label, the figure in the data, last year's
figure and the checker's reason; a summary comment sits on the title (or the first line). Comments
never contain a path: a path in a reason is cut down to its file name.

Offsets: the checker's spans index `read_text(source_path)`; for a `.docx` that is the paragraphs
joined by `\\n` (`reading.readers.docx_body_lines` walks the same XML the same way and names the
Word element behind each character, which is how a span finds its runs).
"""

from __future__ import annotations

import copy
import io
import os
import re
from collections.abc import Sequence
from pathlib import Path

from pipeline.fsutil import atomic_write_bytes
from pipeline.models import CheckResult, Finding, Metrics, MetricValue, WordBlock

DEFAULT_AUTHOR = "shuzhi审核"
VERDICT_NAMES: dict[str, str] = {
    "supported": "有据", "derived": "推算", "contradicted": "矛盾", "stale": "旧数",
    "unsupported": "无据", "masked": "遮盖",
}
KIND_NAMES = {"quantity": "数字", "honour": "荣誉", "document": "文件", "name": "地名单位"}
# WordprocessingML names in Clark notation (what python-docx's `_W_T` gives): python-docx itself is
# imported only to edit a Word source, not by a draft that borrows the comment wording.
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_W_T, _W_RPR = f"{_W}t", f"{_W}rPr"
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# Absolute or relative file paths (`/home/a/m.yaml`, `C:\\x\\m.xlsx`, `data/m.yaml`): reduced to the name.
_PATH_RE = re.compile(
    r"(?:[A-Za-z]:)?(?:[\\/][^\s\\/，。；：、“”‘’（）()《》]+){2,}"
    r"|(?:\.{0,2}[^\s\\/，。；：、“”‘’（）()《》]*[\\/])+[^\s\\/，。；：、“”‘’（）()《》]+"
    r"\.(?:ya?ml|json|xlsx|xls|txt|md|docx?|csv)\b"
)


# --------------------------------------------------------------------------- comment text

def _no_path(text: str) -> str:
    return _PATH_RE.sub(lambda m: re.split(r"[\\/]", m.group())[-1], text)


def _figure(value, metric: MetricValue) -> str:
    from pipeline.drafting.fill import decimal_text, display_unit

    if metric.kind == "rank":
        return f"{metric.scope or ''}第{decimal_text(value)}名"
    return f"{decimal_text(value)}{display_unit(metric.unit)}"


def finding_comment(finding: Finding, metrics: Metrics | None = None, prior: Metrics | None = None) -> str:
    """One comment: verdict, the metric's Chinese label, the data, last year's value, the reason."""
    parts = [f"【{VERDICT_NAMES.get(finding.verdict, finding.verdict)}】"]
    metric: MetricValue | None = metrics.get(finding.metric) if metrics and finding.metric else None
    if metric is not None:
        parts.append(f"指标：{metric.label}（{metric.key}）")
    elif finding.metric:
        parts.append(f"指标：{finding.metric}")
    else:
        parts.append(f"类别：{KIND_NAMES.get(finding.kind, finding.kind)}")
    if finding.expected:
        parts.append(f"数据：{finding.expected}")
    elif metric is not None and metric.value is not None:
        parts.append(f"数据：{_figure(metric.value, metric)}")
    elif metric is not None:
        parts.append("数据：未填")
    previous = metric.previous if metric is not None else None
    if previous is None and prior is not None and finding.metric:
        before = prior.get(finding.metric)
        previous = before.value if before is not None else None
    if previous is not None and metric is not None:
        parts.append(f"上年：{_figure(previous, metric)}")
    if finding.reason:
        parts.append(f"说明：{finding.reason}")
    return _XML_ILLEGAL.sub("", _no_path("；".join(parts[:1]) + "；".join(parts[1:])))


def summary_comment(result: CheckResult) -> str:
    """The comment on the title: counts by verdict and the overall verdict."""
    counts = "，".join(f"{VERDICT_NAMES.get(v, v)} {n}" for v, n in result.summary.items() if n)
    verdict = "未发现问题。" if result.ok else "有需要人工核对的项目（矛盾、旧数、无据或遮盖），见各处批注。"
    return f"核对结果：共 {len(result.findings)} 项（{counts or '无'}）。{verdict}"


# --------------------------------------------------------------------------- entry point

def write_review_docx(result: CheckResult, source_path: str | os.PathLike, out_path: str | os.PathLike,
                      metrics: Metrics | None = None, *, prior: Metrics | None = None,
                      author: str = DEFAULT_AUTHOR) -> Path:
    """Write the review copy of `source_path` with a comment on every finding of `result`
    (`result.text` must be `read_text(source_path)`, as `check_file` reads it); atomic; returns the path."""
    notes = [(f.start, f.end, finding_comment(f, metrics, prior)) for f in result.findings if f.end > f.start]
    if Path(source_path).suffix.lower() == ".docx":
        data = _annotated_docx(Path(source_path), result, notes, author)
        return atomic_write_bytes(out_path, data)
    from pipeline.output.docx_writer import write_docx

    return write_docx(text_blocks(result.text, notes, summary_comment(result)), out_path,
                      annotate=True, author=author)


# --------------------------------------------------------------------------- .txt / .md → GB/T 9704

def text_blocks(text: str, notes: Sequence[tuple[int, int, str]], summary: str | None = None) -> list[WordBlock]:
    """Word blocks of a report's text (one per non-empty line of its tidy copy) with the notes,
    given as spans of `text`, moved onto the blocks; the title (else the first line) gets `summary`."""
    from pipeline.reading.parse import parse_text
    from pipeline.reading.textview import clean_view

    view = clean_view(text)
    report = parse_text(text)
    levels = {s.line: s.level for s in report.sections if s.heading and s.line}
    lines = view.text.split("\n") if view.text else []
    line_starts = []
    at = 0
    for line in lines:
        line_starts.append(at)
        at += len(line) + 1
    source_lines = [text.count("\n", 0, view.position(start)) + 1 for start in line_starts]
    per_line: dict[int, list[tuple[int, int, str]]] = {}
    for start, end, note in notes:
        a, b = view.copy_position(start), view.copy_position(end - 1) + 1
        index = max(0, _line_index(line_starts, a))
        base = line_starts[index] if line_starts else 0
        limit = len(lines[index]) if lines else 0
        a, b = a - base, min(b - base, limit)
        if 0 <= a < b:
            per_line.setdefault(index, []).append((a, b, note))
    blocks: list[WordBlock] = []
    for i, line in enumerate(lines):
        style = "body"
        if i == 0 and report.title and line.strip() == report.title.strip():
            style = "title"
        elif levels.get(source_lines[i]) == 1:
            style = "h1"
        elif levels.get(source_lines[i]) == 2:
            style = "h2"
        spans = per_line.get(i, [])
        if summary and i == 0 and line:
            spans = [(0, len(line), summary), *spans]
        blocks.append(WordBlock(style, line, tuple(spans)))
    return blocks


def _line_index(starts: list[int], offset: int) -> int:
    from bisect import bisect_right

    return bisect_right(starts, offset) - 1


# --------------------------------------------------------------------------- .docx in place

def _part_blob(doc, suffix: str) -> bytes | None:
    for rel in doc.part.rels.values():
        if rel.reltype.endswith("/" + suffix) and not rel.is_external:
            return rel.target_part.blob
    return None


def _annotated_docx(path: Path, result: CheckResult, notes: list[tuple[int, int, str]], author: str) -> bytes:
    from docx import Document
    from docx.text.run import Run

    from pipeline.reading.readers import _line_text, docx_body_lines

    doc = Document(str(path))
    body = doc.element.body
    lines = docx_body_lines(body, _part_blob(doc, "numbering"), _part_blob(doc, "styles"))
    text = "\n".join(_line_text(line) for line in lines)
    if text != result.text:
        raise ValueError("review copy: the check result was not made from this file's text "
                         "(run check_file on the same .docx)")
    # Global offset → (w:t element, offset in its text) for every character that has one.
    pieces: list[tuple[int, int, object, int]] = []     # (start, end, element, element offset)
    at = 0
    for line in lines:
        for piece_text, element, offset in line:
            if element is not None and element.tag == _W_T:
                pieces.append((at, at + len(piece_text), element, offset))
            at += len(piece_text)
        at += 1
    starts = [p[0] for p in pieces]
    summary_at = _summary_span(text)
    spans = [(s, e, note) for s, e, note in notes]
    if summary_at is not None:
        spans.insert(0, (*summary_at, summary_comment(result)))
    # Cut every w:t at every span edge first, then anchor: overlapping spans find whole runs.
    cuts: dict[object, set[int]] = {}
    for start, end, _note in spans:
        for p_start, p_end, element, offset in _overlapping(pieces, starts, start, end):
            local = cuts.setdefault(element, set())
            local.add(offset + max(start, p_start) - p_start)
            local.add(offset + min(end, p_end) - p_start)
    segments = {element: _split_text(element, sorted(c)) for element, c in cuts.items()}
    initials = author[:1]
    for start, end, note in spans:
        runs = []
        for p_start, p_end, element, offset in _overlapping(pieces, starts, start, end):
            lo = offset + max(start, p_start) - p_start
            hi = offset + min(end, p_end) - p_start
            runs += [run for seg_lo, seg_hi, run in segments[element] if lo <= seg_lo and seg_hi <= hi]
        if not runs:
            continue
        first, last = Run(runs[0], None), Run(runs[-1], None)
        doc.add_comment([first, last], text=note, author=author, initials=initials)
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def _summary_span(text: str) -> tuple[int, int] | None:
    """The title's span (the first non-empty line, trimmed)."""
    for m in re.finditer(r"[^\n]+", text):
        line = m.group()
        if line.strip():
            left = len(line) - len(line.lstrip())
            return m.start() + left, m.start() + len(line.rstrip())
    return None


def _overlapping(pieces: list[tuple[int, int, object, int]], starts: list[int], start: int, end: int):
    from bisect import bisect_right

    i = max(0, bisect_right(starts, start) - 1)
    while i < len(pieces) and pieces[i][0] < end:
        if pieces[i][1] > start:
            yield pieces[i]
        i += 1


def _split_text(t, cuts: list[int]) -> list[tuple[int, int, object]]:
    """Split the run holding `t` so that each stretch [cut, next cut) of `t`'s text is a run of its
    own, each with a copy of the run's properties; (start, end, w:r) of every stretch in order."""
    text = t.text or ""
    points = sorted({0, len(text), *(c for c in cuts if 0 < c < len(text))})
    head = _isolate(t)
    # Right to left: each split leaves `t` the head and puts the cut-off tail in a run right after it.
    tails = [_split_run(t, cut) for cut in reversed(points[1:-1])]
    runs = [head, *reversed(tails)]
    return list(zip(points[:-1], points[1:], runs, strict=True))


def _bare_copy(run):
    """An empty run with a copy of `run`'s properties."""
    new_run = copy.deepcopy(run)
    for child in list(new_run):
        if child.tag != _W_RPR:
            new_run.remove(child)
    return new_run


def _set_text(t, text: str) -> None:
    t.text = text
    if text != text.strip():
        t.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")


def _split_run(t, cut: int):
    """Move `t.text[cut:]` into a new run right after `t`'s run (which holds `t` alone)."""
    run = t.getparent()
    new_run = _bare_copy(run)
    new_t = copy.deepcopy(t)
    _set_text(new_t, (t.text or "")[cut:])
    _set_text(t, (t.text or "")[:cut])
    new_run.append(new_t)
    run.addnext(new_run)
    return new_run


def _isolate(t):
    """Make `t` the only content of its run: what stands before and after it moves to runs of its
    own (same properties). Returns `t`'s run."""
    run = t.getparent()
    after = list(t.itersiblings())
    if after:
        tail = _bare_copy(run)
        for sibling in after:
            tail.append(sibling)
        run.addnext(tail)
    if any(c is not t and c.tag != _W_RPR for c in run):
        head = _bare_copy(run)
        run.addnext(head)
        head.append(t)
        return head
    return run
