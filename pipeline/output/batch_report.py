"""Batch results: one `UnitResult` per unit, the progress bar, and OUT/summary.{csv,json,html}.

Split from `pipeline.batch.runner` (which re-exports these names) so that module stays about running units.
"""

from __future__ import annotations

import csv
import html
import io
import json
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pipeline.fsutil import atomic_write_text


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
    payload = {
        "interrupted": report.interrupted,
        "pending": report.pending,
        "counts": counts,
        "seconds": round(report.seconds, 3),
        "workers": worker_stats(report.results),
        "units": [asdict(r) for r in report.results],
    }
    atomic_write_text(report.out_dir / "summary.json", json.dumps(payload, ensure_ascii=False, indent=2))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["unit", "status", *SUMMARY_VERDICTS, "seconds", "error"])
    for r in report.results:
        writer.writerow([r.name, r.status, *(r.findings.get(v, 0) for v in SUMMARY_VERDICTS),
                         f"{r.seconds:.3f}", one_line(r.error, limit=2000)])
    # utf-8-sig so Excel on a Chinese Windows opens the CSV with the right encoding.
    atomic_write_text(report.out_dir / "summary.csv", buffer.getvalue(), encoding="utf-8-sig")
    atomic_write_text(report.out_dir / "summary.html", summary_html(report))


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


def summary_html(report: BatchReport) -> str:
    counts = report.counts()
    interrupted = (f'\n<p class="interrupted"><strong>已中断</strong>：另有 {report.pending} 个单位未运行；'
                   "加 --resume 重新运行即可从中断处继续。</p>") if report.interrupted else ""
    rows = []
    for r in report.results:
        link = (f'<a href="{html.escape(r.name)}/check.html">{html.escape(r.name)}</a>'
                if r.status != "failed" else html.escape(r.name))
        cells = "".join(f"<td class=n>{r.findings.get(v, 0)}</td>" for v in SUMMARY_VERDICTS)
        rows.append(
            f'<tr class="{r.status}"><td>{link}</td><td>{_STATUS_CN.get(r.status, r.status)}</td>{cells}'
            f"<td class=n>{r.seconds:.2f}</td><td>{html.escape(r.error)}</td></tr>"
        )
    heads = "".join(f"<th>{_VERDICT_CN[v]}</th>" for v in SUMMARY_VERDICTS)
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>批量起草汇总</title>
<style>
body{{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em;color:#222}}
table{{border-collapse:collapse;width:100%}}th,td{{border:1px solid #ccc;padding:4px 8px;text-align:left}}
td.n{{text-align:right}}tr.failed{{background:#fde8e8}}tr.skipped{{color:#666}}
.summary span{{margin-right:1.5em}}@media print{{a{{color:inherit;text-decoration:none}}}}
</style></head><body>
<h1>批量起草汇总</h1>{interrupted}
<p class="summary"><span>完成 {counts.get('done', 0)}</span><span>失败 {counts.get('failed', 0)}</span>
<span>跳过 {counts.get('skipped', 0)}</span><span>用时 {report.seconds:.1f} 秒</span></p>
<table><thead><tr><th>单位</th><th>状态</th>{heads}<th>秒</th><th>错误</th></tr></thead>
<tbody>{''.join(rows)}</tbody></table></body></html>
"""


def one_line(error: str, limit: int = 300) -> str:
    """An error message on one line (multi-line metrics errors list each problem), cut at `limit`."""
    text = " ".join(part.strip() for part in error.splitlines() if part.strip())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def iter_failed_lines(report: BatchReport) -> Iterable[str]:
    for r in report.failed:
        yield f"  {r.name}: {one_line(r.error)}"
