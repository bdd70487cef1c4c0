"""What the result pages show, in the words of the office: the coloured report, findings with metric
names (keys only in a detail line), messages with 第 N 行 / 单元格 A4 instead of `line`/`cell`, and
the plain text of an edited report turned back into Word paragraphs.

A job's view is a plain dict (stored as `view.json` in its folder) so a restarted server renders the
same page from disk.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from html import escape
from typing import Any

from pipeline.models import BAD_VERDICTS, CheckResult, Metrics, WordBlock
from pipeline.output.check_html import KIND_NAMES, VERDICT_NAMES, finding_tip, non_overlapping

META_NAMES = {
    "year": "述职年度", "region": "地区名称", "level": "行政级别", "unit": "单位", "reporter": "述职人",
    "reporter_title": "职务", "superiors": "向谁述职", "date": "述职日期", "profile": "文种",
}
PART_NAMES = {"value": "本年", "previous": "上年", "scope": "范围", "unit": "单位", "label": "名称",
              "note": "备注"}
_KEY = re.compile(r"(?<![\w.])((?:meta|metrics)\.)?([a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+)(?![\w])")
_HEADING_1 = re.compile(r"^[一二三四五六七八九十]+、")
_HEADING_2 = re.compile(r"^（[一二三四五六七八九十]+）")
_DATE_LINE = re.compile(r"^\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日$|^[〇零一二三四五六七八九十○]{4}年.{1,3}月.{1,3}日$")


def metric_labels(metrics: Metrics | None, profile: str | None = None) -> dict[str, str]:
    """key → Chinese name, from the metrics file and the profile's catalog."""
    labels: dict[str, str] = {}
    try:
        from pipeline.profile.catalog import load_catalog

        labels.update({k: e.label for k, e in load_catalog(profile or (metrics.meta.profile if metrics else None)
                                                            or "dangguan-wuzhuang").items()})
    except Exception:  # noqa: BLE001 - a missing profile leaves the keys as they are
        pass
    if metrics is not None:
        labels.update({m.key: m.label for m in metrics.values if m.label})
    return labels


def office_words(message: str, labels: Mapping[str, str]) -> str:
    """A library message as a secretary reads it: metric keys become their names, `line 3` 第 3 行."""
    text = re.sub(r"\bline (\d+), column (\d+)", r"第 \1 行第 \2 列", message)
    text = re.sub(r"\bline (\d+)", r"第 \1 行", text)
    text = re.sub(r"\bcell ([A-Z]+\d+)", r"单元格 \1", text)
    text = re.sub(r"\bsheet (\S+) ", r"工作表 \1 ", text)

    def name(match: re.Match[str]) -> str:
        prefix, dotted = match.group(1) or "", match.group(2)
        if prefix == "meta." or (not prefix and dotted.split(".")[0] == "meta"):
            field = dotted.split(".")[-1] if not prefix else dotted
            return f"“{META_NAMES.get(field, field)}”" if field in META_NAMES else match.group(0)
        parts = dotted.split(".")
        for cut in range(len(parts), 0, -1):
            key = ".".join(parts[:cut])
            if key in labels:
                rest = [PART_NAMES.get(p, p) for p in parts[cut:]]
                return f"“{labels[key]}{'（' + '、'.join(rest) + '）' if rest else ''}”"
        return match.group(0)

    text = re.sub(r"\bmeta\.([a-z_]+)", lambda m: f"“{META_NAMES.get(m.group(1), m.group(1))}”", text)
    return _KEY.sub(name, text)


def render_spans(result: CheckResult, labels: Mapping[str, str]) -> str:
    """The report, escaped, each finding in a coloured span; the tooltip names the metric in Chinese
    and the `title` (for experts) adds its key."""
    text = result.text
    out: list[str] = []
    pos = 0
    for f in non_overlapping(result.findings):
        tip = finding_tip(f, reason=office_words(f.reason, labels), metric=labels.get(f.metric, f.metric))
        detail = tip + (f"（{f.metric}）" if f.metric else "")
        out.append(escape(text[pos:f.start]))
        out.append(f'<span class="f v-{escape(f.verdict, quote=True)}" tabindex="0" '
                   f'title="{escape(detail, quote=True)}">{escape(text[f.start:f.end])}'
                   f'<span class="tip">{escape(tip)}</span></span>')
        pos = f.end
    out.append(escape(text[pos:]))
    return "".join(out)


def finding_rows(result: CheckResult, labels: Mapping[str, str]) -> list[dict[str, Any]]:
    return [{
        "verdict": f.verdict, "verdict_name": VERDICT_NAMES.get(f.verdict, f.verdict),
        "kind": KIND_NAMES.get(f.kind, f.kind), "text": f.text,
        "metric": labels.get(f.metric, f.metric) if f.metric else "", "key": f.metric or "",
        "expected": f.expected or "", "reason": office_words(f.reason, labels),
    } for f in result.findings]


def check_view(result: CheckResult, labels: Mapping[str, str]) -> dict[str, Any]:
    """The coloured report and its counts: what live re-checking sends back to the page."""
    summary = result.summary
    return {
        "report_html": render_spans(result, labels),
        "summary": summary,
        "ok": result.ok,
        "bad": sum(n for v, n in summary.items() if v in BAD_VERDICTS),
        "findings": finding_rows(result, labels),
    }


def draft_view(result: Any) -> dict[str, Any]:
    """A finished draft (`DraftResult`) as its result page shows it."""
    labels = metric_labels(result.metrics)
    view = check_view(result.check, labels)
    view.update(kind="draft", title=result.draft.title, text=result.text,
                warnings=[office_words(w, labels) for w in result.warnings[:10]])
    return view


def review_view(result: CheckResult, metrics: Metrics, *, title: str, labels_of_files: dict[str, str]) -> dict[str, Any]:
    labels = metric_labels(metrics)
    view = check_view(result, labels)
    view.update(kind="review", title=title, text=result.text, warnings=[], files_shown=labels_of_files)
    return view


def blocks_from_text(text: str) -> list[WordBlock]:
    """Plain report text (one paragraph per line, as the editor holds it) as GB/T 9704 Word blocks:
    the first line is the title, 一、 lines are level-1 headings, （一） lines level-2, and the short
    lines after the last body paragraph are the signature (a date line last)."""
    lines = [line.strip() for line in text.replace("\r\n", "\n").split("\n")]
    lines = [line for line in lines if line]
    if not lines:
        return []
    blocks = [WordBlock("title", lines[0])]
    body = lines[1:]
    tail = len(body)
    while tail > 0 and len(body[tail - 1]) <= 30 and not body[tail - 1].endswith(("。", "；", "！", "？", "：")) \
            and not _HEADING_1.match(body[tail - 1]) and not _HEADING_2.match(body[tail - 1]):
        tail -= 1
    if tail == 0:               # no body paragraph at all: everything is body text
        tail = len(body)
    for line in body[:tail]:
        style = "h1" if _HEADING_1.match(line) else "h2" if _HEADING_2.match(line) else "body"
        blocks.append(WordBlock(style, line))
    for line in body[tail:]:
        blocks.append(WordBlock("date" if _DATE_LINE.match(line) else "signature", line))
    return blocks
