"""Render a `CheckResult`: a self-contained HTML page for reviewers and a plain table for the terminal.

The page has no external assets (air-gapped offices), prints cleanly (@media print drops the
tooltips and keeps the colours), and escapes every piece of report text: a report is untrusted input.
"""

from __future__ import annotations

from html import escape

from pipeline.models import VERDICTS, CheckResult, Finding

VERDICT_NAMES: dict[str, str] = {
    "supported": "有据", "derived": "推算", "contradicted": "矛盾", "stale": "旧数",
    "unsupported": "无据", "masked": "遮盖",
}
VERDICT_COLOURS: dict[str, str] = {
    "supported": "#1b7f3b", "derived": "#1f5fbf", "contradicted": "#c62828", "stale": "#e67e00",
    "unsupported": "#7b2cbf", "masked": "#6b6b6b",
}
KIND_NAMES = {"quantity": "数字", "honour": "荣誉", "document": "文件", "name": "地名单位"}

_CSS = """
body{font-family:"FangSong","仿宋","STFangsong","Songti SC",serif;margin:2em auto;max-width:60em;
line-height:1.9;color:#222;padding:0 1em}
h1{font-family:"SimHei","黑体",sans-serif;font-size:1.5em}
h2{font-family:"SimHei","黑体",sans-serif;font-size:1.15em;margin-top:2em}
.report{white-space:pre-wrap;border:1px solid #ccc;padding:1em 1.5em;background:#fff}
.f{position:relative;border-bottom:2px solid;padding:0 1px;cursor:help}
.f .tip{display:none;position:absolute;left:0;top:1.8em;z-index:5;min-width:16em;max-width:28em;
background:#333;color:#fff;font:13px/1.5 sans-serif;padding:.4em .6em;border-radius:4px;white-space:normal}
.f:hover .tip,.f:focus .tip{display:block}
table{border-collapse:collapse;margin:.5em 0;font:14px/1.5 sans-serif}
th,td{border:1px solid #bbb;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f2f2f2}
.ok{color:#1b7f3b}.bad{color:#c62828}
@media print{.f .tip{display:none!important}body{margin:0;max-width:none}
.report{border:none;padding:0}a{color:inherit}}
"""


def _verdict_css() -> str:
    rules = []
    for verdict, colour in VERDICT_COLOURS.items():
        rules.append(f".v-{verdict}{{color:{colour};border-color:{colour}}}")
        rules.append(f".b-{verdict}{{background:{colour};color:#fff;padding:0 .4em;border-radius:3px}}")
    return "\n".join(rules)


def finding_tip(f: Finding, *, reason: str | None = None, metric: str | None = None) -> str:
    """A finding's tooltip: verdict and reason, the metric, the data. A page for people who are not
    engineers passes the reason and the metric in its own words (`web.views`)."""
    parts = [f"{VERDICT_NAMES.get(f.verdict, f.verdict)}：{f.reason if reason is None else reason}"]
    if f.metric:
        parts.append(f"指标：{f.metric if metric is None else metric}")
    if f.expected:
        parts.append(f"数据：{f.expected}")
    return "；".join(parts)


def non_overlapping(findings: tuple[Finding, ...]) -> list[Finding]:
    """Spans to colour: when two overlap, the earlier (then the longer) one wins."""
    chosen: list[Finding] = []
    last_end = -1
    for f in sorted(findings, key=lambda f: (f.start, -(f.end - f.start))):
        if f.start >= last_end and f.end > f.start:
            chosen.append(f)
            last_end = f.end
    return chosen


def render_report_spans(result: CheckResult) -> str:
    """The report text, escaped, with each finding wrapped in a coloured span carrying its reason."""
    text = result.text
    out: list[str] = []
    pos = 0
    for f in non_overlapping(result.findings):
        out.append(escape(text[pos:f.start]))
        tip = escape(finding_tip(f), quote=True)
        out.append(f'<span class="f v-{escape(f.verdict, quote=True)}" tabindex="0" title="{tip}">'
                   f'{escape(text[f.start:f.end])}<span class="tip">{tip}</span></span>')
        pos = f.end
    out.append(escape(text[pos:]))
    return "".join(out)


def render_check_html(result: CheckResult, *, title: str) -> str:
    """A self-contained, printable page: coloured report, summary table, findings table."""
    summary = result.summary
    summary_rows = "".join(
        f'<tr><td><span class="b-{v}">{VERDICT_NAMES[v]}</span> {v}</td><td>{summary.get(v, 0)}</td></tr>'
        for v in VERDICTS
    )
    finding_rows = "".join(
        "<tr>"
        f"<td>{i}</td>"
        f'<td><span class="b-{escape(f.verdict, quote=True)}">{escape(VERDICT_NAMES.get(f.verdict, f.verdict))}'
        "</span></td>"
        f"<td>{escape(KIND_NAMES.get(f.kind, f.kind))}</td>"
        f"<td>{escape(f.text)}</td>"
        f"<td>{escape(f.metric or '')}</td>"
        f"<td>{escape(f.expected or '')}</td>"
        f"<td>{escape(f.reason)}</td>"
        "</tr>"
        for i, f in enumerate(result.findings, 1)
    )
    verdict_line = ('<p class="ok">未发现问题：所有数字和名称都有依据。</p>' if result.ok else
                    '<p class="bad">有需要人工核对的项目（矛盾、旧数、无据或遮盖），见下表。</p>')
    source = f"<p>文件：{escape(result.source)}</p>" if result.source else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
        f"<title>{escape(title)}</title><style>{_CSS}{_verdict_css()}</style></head><body>"
        f"<h1>{escape(title)}</h1>{source}{verdict_line}"
        "<h2>汇总</h2><table><tr><th>结论</th><th>个数</th></tr>"
        f"{summary_rows}</table>"
        f'<h2>报告原文</h2><div class="report">{render_report_spans(result)}</div>'
        "<h2>核对明细</h2><table><tr><th>#</th><th>结论</th><th>类别</th><th>原文</th><th>指标</th>"
        f"<th>数据</th><th>说明</th></tr>{finding_rows}</table>"
        "</body></html>\n"
    )


def _width(text: str) -> int:
    return sum(2 if ord(c) > 0x2E7F else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def render_check_table(result: CheckResult, *, all_findings: bool = False) -> str:
    """Terminal table: one line per finding needing attention (all with `all_findings`), then the summary."""
    rows = [f for f in result.findings if all_findings or f.verdict not in ("supported", "derived")]
    lines: list[str] = []
    if rows:
        header = ("位置", "结论", "原文", "指标", "数据", "说明")
        table = [header] + [
            (str(_line_of(result.text, f.start)), VERDICT_NAMES.get(f.verdict, f.verdict), f.text,
             f.metric or "", f.expected or "", f.reason)
            for f in rows
        ]
        widths = [min(max(_width(r[i]) for r in table), 36) for i in range(5)]
        for row in table:
            cells = [_pad(row[i], widths[i]) for i in range(5)]
            lines.append("  ".join(cells) + "  " + row[5])
    counts = "，".join(f"{VERDICT_NAMES[v]} {n}" for v, n in result.summary.items() if n)
    lines.append(f"共 {len(result.findings)} 项：{counts or '无'}")
    lines.append("结论：未发现问题。" if result.ok else "结论：有需要人工核对的项目。")
    return "\n".join(lines) + "\n"


def _line_of(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"{line}:{column}"
