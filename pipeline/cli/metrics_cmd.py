"""CLI commands: `metrics init`, `metrics validate`, `metrics from-report` and `diff`. Arguments only; logic lives in
`pipeline.facts.metrics` and `pipeline.facts.diff`."""

from __future__ import annotations

from pathlib import Path

import typer

from pipeline.cli.inputs import ensure_not_input, require_file
from pipeline.errors import UsageError
from pipeline.profile.catalog import DEFAULT_PROFILE

metrics_app = typer.Typer(
    name="metrics",
    help="指标文件：生成模板、检查填写。",
    no_args_is_help=True,
    add_completion=False,
)


@metrics_app.command("init")
def init_command(
    output: Path | None = typer.Option(None, "-o", "--output", help="写到哪里；默认 metrics.yaml（--xlsx 时 metrics.xlsx）"),
    xlsx: bool = typer.Option(False, "--xlsx", help="生成 Excel 模板（含填写说明表）"),
    force: bool = typer.Option(False, "--force", help="覆盖已存在的文件"),
    profile: str = typer.Option(DEFAULT_PROFILE, "--profile", help="模板配置（指标目录）"),
) -> None:
    """生成带注释的指标文件模板（YAML，或 --xlsx 生成 Excel）。"""
    from pipeline.facts.metrics_template import write_template

    target = output or Path("metrics.xlsx" if xlsx else "metrics.yaml")
    written = write_template(target, xlsx=xlsx, profile=profile, force=force)
    typer.echo(f"已生成模板：{written}。填写后运行：shuzhi metrics validate {written}")


@metrics_app.command("validate")
def validate_command(
    file: Path = typer.Argument(..., help="指标文件（.yaml / .yml / .json / .xlsx）"),
    profile: str | None = typer.Option(None, "--profile", help="模板配置；默认取文件 meta.profile"),
) -> None:
    """检查指标文件，一次列出全部问题（行号或单元格）。有错误时退出码为 1。"""
    from pipeline.facts.metrics import validate_metrics_file

    require_file(file, "指标文件", "请检查路径，或用 shuzhi metrics init 生成模板。")
    problems = validate_metrics_file(file, profile=profile)
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity != "error"]
    for problem in problems:
        prefix = f"{problem.source}" + (f" {problem.where}" if problem.location else "")
        mark = "" if problem.severity == "error" else "提示："
        typer.echo(f"{prefix}: {mark}{problem.message}")
    if errors:
        typer.echo(f"未通过：{len(errors)} 处错误" + (f"，{len(warnings)} 条提示" if warnings else "") + "。")
        raise typer.Exit(code=1)
    typer.echo("通过" + (f"（{len(warnings)} 条提示）" if warnings else ""))


@metrics_app.command("from-report")
def from_report_command(
    report: Path = typer.Argument(..., help="已有的报告（.docx / .txt / .md）"),
    output: Path = typer.Option(..., "-o", "--output", help="起草的指标文件（.yaml）"),
    profile: str = typer.Option(DEFAULT_PROFILE, "--profile", help="模板配置（指标目录）"),
    force: bool = typer.Option(False, "--force", help="覆盖已存在的文件"),
) -> None:
    """从一份已有报告起草指标文件：能对上指标的数字逐项写入，注释中附上原句，供核对后使用。"""
    from pipeline.facts.metrics_draft import draft_metrics_file

    if not report.exists():
        raise UsageError(f"找不到报告文件：{report}。请检查路径。")
    written = draft_metrics_file(report, output, profile=profile, force=force)
    typer.echo(f"已起草：{written}。请逐项对照原始数据核对，再运行：shuzhi metrics validate {written}")


def diff_command(
    a: Path = typer.Argument(..., help="旧版报告（如去年的述职报告）"),
    b: Path = typer.Argument(..., help="新版报告（如今年的稿子）"),
    fmt: str = typer.Option("table", "--format", "-f", help="输出格式：table | json | html"),
    output: Path | None = typer.Option(None, "-o", "--output", help="写入文件（默认输出到屏幕）"),
) -> None:
    """按章节比较两份报告：新增、删除、修改的句子，变化的数字，以及照抄比例。"""
    from pipeline.facts.diff import RENDERERS, diff_reports
    from pipeline.fsutil import atomic_write_text
    from pipeline.reading.parse import parse_file

    if fmt not in RENDERERS:
        raise UsageError(f"--format 只能是 {' | '.join(RENDERERS)}，收到“{fmt}”。")
    require_file(a, "报告文件")
    require_file(b, "报告文件")
    if output is not None:
        ensure_not_input([output], [a, b])
    rendered = RENDERERS[fmt](diff_reports(parse_file(a), parse_file(b)))
    if output is None:
        typer.echo(rendered, nl=False)
    else:
        atomic_write_text(output, rendered)
        typer.echo(f"已写入：{output}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `shuzhi` app."""
    app.add_typer(metrics_app, name="metrics")
    app.command("diff")(diff_command)
