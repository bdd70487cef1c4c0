"""CLI command `check`: hold a report against the year's metrics. Arguments only; the logic lives in
`pipeline.facts.check` and the rendering in `pipeline.output.check_html`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import typer

from pipeline.cli.inputs import default_index, ensure_not_input, require_file, require_metric_inputs
from pipeline.errors import UsageError

FORMATS = ("table", "json", "html")


def check_command(
    doc: Path = typer.Argument(..., help="要核对的报告（.docx / .txt / .md，UTF-8 或 GBK 均可）"),
    metrics: Path | None = typer.Option(None, "--metrics", "-m", help="本年指标文件（.yaml / .json / .xlsx）"),
    prior: Path | None = typer.Option(None, "--prior", help="上年指标文件：用来发现照抄去年的旧数字"),
    index: Path | None = typer.Option(None, "--index", help="往年报告的索引目录：与同一地区往年报告的数字比对"),
    fmt: str = typer.Option("table", "--format", "-f", help="输出格式：table | json | html"),
    output: Path | None = typer.Option(None, "-o", "--output", help="写到文件（默认打印）"),
    strict: bool = typer.Option(False, "--strict", help="有矛盾、旧数、无据或遮盖时退出码为 1"),
    all_findings: bool = typer.Option(False, "--all", help="表格中也列出有据和推算的项目"),
    review_docx: Path | None = typer.Option(
        None, "--review-docx", help="另写一份带批注的审阅稿（.docx）：原为 Word 的保留原格式，每项结论批注在原文字上"),
) -> int:
    """核对报告中的每个数字、荣誉、文件名和地名是否与指标数据一致。"""
    from pipeline.facts.check import check_document, load_check_metrics
    from pipeline.fsutil import atomic_write_text
    from pipeline.output.check_html import VERDICT_NAMES, render_check_html, render_check_table

    if review_docx is not None and review_docx.suffix.lower() != ".docx":
        raise UsageError(f"--review-docx 需要 .docx 文件名，收到“{review_docx.name}”。")
    if fmt not in FORMATS:
        raise UsageError(f"不支持的输出格式“{fmt}”；可用：{' | '.join(FORMATS)}。")
    if metrics is None:
        raise UsageError("缺少指标文件：请用 --metrics 指定本年的指标文件（可用 shuzhi metrics init 生成模板）。")
    require_file(doc, "报告文件")
    require_metric_inputs(metrics, prior, index)
    if output is not None:
        ensure_not_input([output], [doc, metrics, prior])
    index = default_index(index, without="不与往年报告比对旧数")

    opened = None
    if index is not None:
        from pipeline.index.hybrid import HybridIndex

        opened = HybridIndex.open(index, read_only=True)
    loaded, before = load_check_metrics(metrics, prior)
    result = check_document(doc, loaded, prior=before, index=opened, progress=_progress_bar())
    if fmt == "json":
        from pipeline.output.json_text import dumps_indented

        rendered = dumps_indented(result.to_json()) + "\n"
    elif fmt == "html":
        rendered = render_check_html(result, title=f"核对结果：{doc.name}")
    else:
        rendered = render_check_table(result, all_findings=all_findings)
    if review_docx is not None:
        from pipeline.output.review_docx import write_review_docx

        write_review_docx(result, doc, review_docx, loaded, prior=before)
        typer.echo(f"已写出审阅稿：{review_docx}（{len(result.findings)} 条批注和 1 条总评）", err=output is None)
    if output is not None:
        atomic_write_text(output, rendered)
        counts = "，".join(f"{VERDICT_NAMES.get(k, k)} {v}" for k, v in result.summary.items() if v)
        typer.echo(f"已写出：{output}（{counts or '无发现'}）")
    else:
        typer.echo(rendered, nl=False)
    return 1 if strict and not result.ok else 0


def _progress_bar() -> Callable[[int, int], None]:
    """A one-line bar on stderr (stdout stays the report); the checker calls it for long texts only."""
    shown = {"percent": -1}

    def draw(done: int, total: int) -> None:
        percent = 100 * done // total if total else 100
        if percent == shown["percent"]:
            return
        shown["percent"] = percent
        bar = "█" * (percent // 5) + "·" * (20 - percent // 5)
        end = "\n" if done >= total else ""
        sys.stderr.write(f"\r核对中 {bar} {percent:3d}%（{done}/{total} 个数字）{end}")
        sys.stderr.flush()

    return draw


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `shuzhi` app."""
    app.command("check")(check_command)
