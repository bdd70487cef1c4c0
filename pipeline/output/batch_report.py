"""Batch results: one `UnitResult` per unit, the progress bar, and OUT/summary.{csv,json,html}.

Split from `pipeline.batch.runner` (which re-exports these names) so that module stays about running units.
"""

from __future__ import annotations

import csv
import html
import io
import sys
import time
from collections.abc import Callable, Iterable
from copy import copy
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from pipeline.fsutil import atomic_write_bytes, atomic_write_text
from pipeline.output.batch_units import (
    KEY_FIGURES,
    LEVEL_CN,
    RANKINGS,
    UnitSummary,
    group_by_level,
    read_unit,
)
from pipeline.output.json_text import dumps_indented


@dataclass
class UnitResult:
    name: str
    status: str                     # done | failed | skipped
    source: str = ""
    seconds: float = 0.0
    cpu_seconds: float = 0.0        # CPU time of the unit in its worker (wall time includes waiting)
    findings: dict[str, int] = field(default_factory=dict)
    error: str = ""
    warnings: int = 0
    worker: str = ""                # host:pid that ran the unit (which node, under Ray)
    worker_rss_mb: float = 0.0      # that worker's peak resident memory so far
    # What the summary shows of a drafted unit, made by the worker from the draft.json it wrote
    # (None: the summary reads that file back). Not a column of summary.json/csv.
    summary: UnitSummary | None = field(default=None, repr=False, compare=False)

    def row(self) -> dict[str, object]:
        """The unit's fields as summary.json lists them."""
        return {f.name: copy(getattr(self, f.name)) for f in fields(self) if f.name != "summary"}


ProgressFn = Callable[[UnitResult], None]


@dataclass
class BatchReport:
    results: list[UnitResult]
    out_dir: Path
    seconds: float
    interrupted: bool = False      # Ctrl-C or SIGTERM: units not listed were not run
    pending: int = 0               # units that were to run and have no result

    @property
    def failed(self) -> list[UnitResult]:
        return [r for r in self.results if r.status == "failed"]

    def counts(self) -> dict[str, int]:
        out = {"done": 0, "failed": 0, "skipped": 0}
        for r in self.results:
            out[r.status] = out.get(r.status, 0) + 1
        return out


class Progress:
    """A one-line progress bar on stderr: units done, failed, skipped, and the rate."""

    def __init__(self, total: int, stream=None, enabled: bool = True):
        self.total = total
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.done = self.failed = self.skipped = 0
        self.started = time.perf_counter()

    def update(self, result: UnitResult) -> None:
        if result.status == "failed":
            self.failed += 1
            if self.enabled:
                # A bad unit is logged as it happens, above the bar, and the batch goes on.
                self.stream.write(f"\r\033[K失败：{result.name}：{one_line(result.error)}\n")
        elif result.status == "skipped":
            self.skipped += 1
        else:
            self.done += 1
        if self.enabled:
            self._draw()

    def _draw(self) -> None:
        finished = self.done + self.failed + self.skipped
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        width = 24
        filled = int(width * finished / max(self.total, 1))
        rate = (self.done + self.failed) / elapsed
        line = (f"\r[{'#' * filled}{'.' * (width - filled)}] {finished}/{self.total} "
                f"完成 {self.done} 失败 {self.failed} 跳过 {self.skipped}  {rate:.1f} 个/秒")
        self.stream.write(line)
        if finished >= self.total:
            self.stream.write("\n")
        self.stream.flush()


# --------------------------------------------------------------------------- summaries

SUMMARY_VERDICTS = ("supported", "derived", "contradicted", "stale", "unsupported", "masked")


def write_summary(report: BatchReport) -> None:
    counts = report.counts()
    units = _unit_summaries(report)
    payload = {
        "interrupted": report.interrupted,
        "pending": report.pending,
        "counts": counts,
        "seconds": round(report.seconds, 3),
        "workers": worker_stats(report.results),
        "units": [{**r.row(), **_unit_fields(units.get(r.name))} for r in report.results],
    }
    atomic_write_text(report.out_dir / "summary.json", dumps_indented(payload))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["unit", "status", *SUMMARY_VERDICTS, "seconds", "error"])
    for r in report.results:
        writer.writerow([r.name, r.status, *(r.findings.get(v, 0) for v in SUMMARY_VERDICTS),
                         f"{r.seconds:.3f}", one_line(r.error, limit=2000)])
    # utf-8-sig so Excel on a Chinese Windows opens the CSV with the right encoding.
    atomic_write_text(report.out_dir / "summary.csv", buffer.getvalue(), encoding="utf-8-sig")
    atomic_write_text(report.out_dir / "summary.html", summary_html(report, units))
    atomic_write_bytes(report.out_dir / "summary.xlsx", summary_xlsx(report, units))


def _unit_summaries(report: BatchReport) -> dict[str, UnitSummary]:
    """Each finished unit's summary, read back from its own draft.json (none for failed units)."""
    out: dict[str, UnitSummary] = {}
    for r in report.results:
        if r.status == "failed":
            continue
        unit = r.summary if r.summary is not None else read_unit(report.out_dir, r.name)
        if unit is not None:
            out[r.name] = unit
    return out


def _unit_fields(unit: UnitSummary | None) -> dict[str, object]:
    if unit is None:
        return {}
    return {"region": unit.region, "level": unit.level, "profile": unit.profile,
            "changed": [asdict(c) for c in unit.changes], "problems": unit.problems}


def worker_stats(results: Iterable[UnitResult]) -> dict[str, dict[str, float]]:
    """Per worker (host:pid): units run and peak resident memory in MB."""
    stats: dict[str, dict[str, float]] = {}
    for r in results:
        if not r.worker:
            continue
        entry = stats.setdefault(r.worker, {"units": 0, "peak_rss_mb": 0.0})
        entry["units"] += 1
        entry["peak_rss_mb"] = max(entry["peak_rss_mb"], r.worker_rss_mb)
    return dict(sorted(stats.items()))


_STATUS_CN = {"done": "完成", "failed": "失败", "skipped": "跳过（未变化）"}
_VERDICT_CN = {"supported": "有据", "derived": "推算", "contradicted": "矛盾", "stale": "旧数",
               "unsupported": "无据", "masked": "未填"}


def summary_html(report: BatchReport, units: dict[str, UnitSummary] | None = None) -> str:
    """The batch at a glance: the status table, then every unit grouped by level (县（区） first, then
    乡镇（街道）) with its findings, the figures that changed since last year and its draft."""
    units = units if units is not None else _unit_summaries(report)
    counts = report.counts()
    interrupted = (f'\n<p class="interrupted"><strong>已中断</strong>：另有 {report.pending} 个单位未运行；'
                   "加 --resume 重新运行即可从中断处继续。</p>") if report.interrupted else ""
    rows = []
    for r in report.results:
        link = (f'<a href="{html.escape(r.name)}/check.html">{html.escape(r.name)}</a>'
                if r.status != "failed" else html.escape(r.name))
        cells = "".join(f"<td class=n>{r.findings.get(v, 0)}</td>" for v in SUMMARY_VERDICTS)
        unit = units.get(r.name)
        level = LEVEL_CN.get(unit.level, "") if unit else ""
        rows.append(
            f'<tr class="{r.status}"><td>{link}</td><td>{level}</td><td>{_STATUS_CN.get(r.status, r.status)}</td>'
            f"{cells}<td class=n>{r.seconds:.2f}</td><td>{html.escape(r.error)}</td></tr>"
        )
    heads = "".join(f"<th>{_VERDICT_CN[v]}</th>" for v in SUMMARY_VERDICTS)
    groups = []
    for level, members in group_by_level(list(units.values())):
        blocks = "".join(_unit_block(u) for u in members)
        groups.append(f'<section class="level"><h2>{LEVEL_CN[level]}（{len(members)} 个单位）</h2>{blocks}</section>')
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>批量起草汇总</title>
<style>
body{{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em;color:#222}}
table{{border-collapse:collapse;width:100%}}th,td{{border:1px solid #ccc;padding:4px 8px;text-align:left}}
td.n{{text-align:right}}tr.failed{{background:#fde8e8}}tr.skipped{{color:#666}}
.summary span{{margin-right:1.5em}}@media print{{a{{color:inherit;text-decoration:none}}}}
.unit{{border-top:1px solid #999;margin-top:1.5em}}.ok{{color:#17642f}}.bad{{color:#a31515}}
.draft p{{text-indent:2em;margin:.3em 0;font-family:"FangSong","STFangsong",serif}}.draft h4{{margin:.6em 0 .2em}}
</style></head><body>
<h1>批量起草汇总</h1>{interrupted}
<p class="summary"><span>完成 {counts.get('done', 0)}</span><span>失败 {counts.get('failed', 0)}</span>
<span>跳过 {counts.get('skipped', 0)}</span><span>用时 {report.seconds:.1f} 秒</span>
<span>汇总表：<a href="summary.xlsx">summary.xlsx</a></span></p>
<table><thead><tr><th>单位</th><th>层级</th><th>状态</th>{heads}<th>秒</th><th>错误</th></tr></thead>
<tbody>{''.join(rows)}</tbody></table>
{''.join(groups)}
</body></html>
"""


def _unit_block(unit: UnitSummary) -> str:
    name = html.escape(unit.name)
    who = "，".join(html.escape(x) for x in (unit.reporter_title, unit.reporter) if x)
    if unit.problems:
        problems = "<ul class=bad>" + "".join(f"<li>{html.escape(p)}</li>" for p in unit.problems) + "</ul>"
    else:
        problems = "<p class=ok>核对：全部数字有据，无需人工核对的问题。</p>"
    if unit.changes:
        changes = ("<table><thead><tr><th>指标</th><th>上年</th><th>本年</th></tr></thead><tbody>"
                   + "".join(f"<tr><td>{html.escape(c.label)}</td><td class=n>{html.escape(c.previous)}</td>"
                             f"<td class=n>{html.escape(c.value)}</td></tr>" for c in unit.changes)
                   + "</tbody></table>")
    else:
        changes = "<p>与上年相比没有变化的数字（或数据未填上年数）。</p>"
    draft = "".join((f"<h4>{html.escape(h)}</h4>" if h else "") + f"<p>{html.escape(t)}</p>"
                    for h, t in unit.paragraphs)
    return (f'<div class="unit" id="{name}"><h3>{html.escape(unit.region or unit.name)}'
            f'<small>（{html.escape(unit.profile)}）</small></h3><p>{who}　'
            f'<a href="{name}/draft.docx">draft.docx</a> · <a href="{name}/draft.md">draft.md</a> · '
            f'<a href="{name}/check.html">check.html</a></p>'
            f"<h4>核对结论</h4>{problems}<h4>较上年变化的数字（{len(unit.changes)} 项）</h4>{changes}"
            f"<details><summary>草稿全文：{html.escape(unit.title)}</summary><div class=draft>{draft}</div></details></div>")


SUMMARY_SHEET = "汇总表"


def summary_xlsx(report: BatchReport, units: dict[str, UnitSummary] | None = None) -> bytes:
    """summary.xlsx: 「汇总表」 (one row per unit, county first then townships: unit, reporter, key
    figures, rankings, problems found — laid out to print on A4 landscape) and 「核对明细」 (every finding
    and every changed figure)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, Side

    units = units if units is not None else _unit_summaries(report)
    status = {r.name: r for r in report.results}
    ordered = [u for _level, members in group_by_level(list(units.values())) for u in members]
    failed = [r for r in report.results if r.name not in units]
    years = sorted({u.year for u in ordered if u.year})
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = SUMMARY_SHEET
    heads = ["序号", "单位", "层级", "述职人及职务", *(label for _k, label in KEY_FIGURES),
             *(label for _k, label in RANKINGS), "较上年变化", "核对发现的问题", "状态"]
    title = f"{years[-1] if years else ''}年度党管武装工作述职汇总表"
    sheet.append([title])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(heads))
    sheet["A1"].font = Font(name="黑体", size=16, bold=True)
    sheet["A1"].alignment = Alignment(horizontal="center")
    sheet.append(heads)
    thin = Side(style="thin", color="000000")
    for i, unit in enumerate(ordered, start=1):
        who = "、".join(x for x in (unit.reporter, unit.reporter_title) if x)
        r = status.get(unit.name)
        sheet.append([
            i, unit.region or unit.name, LEVEL_CN.get(unit.level, ""), who,
            *(unit.figures.get(k, "") for k, _ in KEY_FIGURES),
            *(unit.figures.get(k, "") for k, _ in RANKINGS),
            "；".join(f"{c.label} {c.previous}→{c.value}" for c in unit.changes) or "无",
            "；".join(unit.problems) or "无",
            _STATUS_CN.get(r.status, r.status) if r else "",
        ])
    for r in failed:
        sheet.append([sheet.max_row - 1, r.name, "", "", *([""] * (len(KEY_FIGURES) + len(RANKINGS))), "",
                      one_line(r.error, limit=500), _STATUS_CN.get(r.status, r.status)])
    widths = [6, 14, 10, 26, *([11] * (len(KEY_FIGURES) + len(RANKINGS))), 40, 40, 10]
    for col, width in enumerate(widths, start=1):
        sheet.column_dimensions[sheet.cell(row=2, column=col).column_letter].width = width
    # Every cell of a row kind (the header, the units) carries one style: it is set once through
    # openpyxl's descriptors on the first cell and copied to the others as the style index array
    # they share (what openpyxl's own worksheet copy does). Setting three style objects per cell
    # hashed and compared them against the workbook's style lists: most of a 2,000-unit summary's time.
    prototypes: dict[bool, object] = {}
    for row in sheet.iter_rows(min_row=2, max_row=sheet.max_row):
        for cell in row:
            header = cell.row == 2
            proto = prototypes.get(header)
            if proto is not None:
                cell._style = copy(proto._style)
                continue
            cell.border = Border(left=thin, right=thin, top=thin, bottom=thin)
            cell.alignment = Alignment(wrap_text=True, vertical="center")
            if header:
                cell.font = Font(name="黑体", bold=True)
            prototypes[header] = cell
    sheet.freeze_panes = "C3"
    sheet.print_title_rows = "2:2"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    detail = workbook.create_sheet("核对明细")
    detail.append(["单位", "类别", "内容"])
    for unit in ordered:
        for p in unit.problems:
            detail.append([unit.region or unit.name, "核对问题", p])
        for c in unit.changes:
            detail.append([unit.region or unit.name, "较上年变化", f"{c.label}：{c.previous} → {c.value}"])
    for col, width in zip("ABC", (14, 12, 80), strict=True):
        detail.column_dimensions[col].width = width
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def one_line(error: str, limit: int = 300) -> str:
    """An error message on one line (multi-line metrics errors list each problem), cut at `limit`."""
    text = " ".join(part.strip() for part in error.splitlines() if part.strip())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def iter_failed_lines(report: BatchReport) -> Iterable[str]:
    for r in report.failed:
        yield f"  {r.name}: {one_line(r.error)}"
