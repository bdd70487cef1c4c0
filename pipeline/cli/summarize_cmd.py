"""CLI command `shuzhi summarize FILE [-n N] [--json] [--engine …]`: key points of a past report."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `shuzhi` app."""

    @app.command("summarize")
    def summarize_command(
        file: Path = typer.Argument(..., help="报告文件（.txt/.md/.docx）"),
        n: int = typer.Option(3, "-n", "--points", min=1, max=20, help="每节要点数"),
        as_json: bool = typer.Option(False, "--json", help="输出 JSON（各节要点、原文位置和数字）"),
        engine: str = typer.Option(
            "template", "--engine",
            help="template：从原文摘句（默认，数字原样）；openai:地址#模型名 或 transformers:模型目录：生成式概括，"
                 "数字逐一与原文核对",
        ),
        profile: str | None = typer.Option(None, "--profile",
                                           help="模板配置（指标目录、提示词）；默认按报告的地区选（镇/乡/街道 → 乡镇配置）"),
        seed: int = typer.Option(0, "--seed", help="生成式概括的随机种子"),
    ) -> int:
        """提炼往年报告各节要点：默认摘取含数字的原句，数字与原文一致。"""
        from pipeline.cli.inputs import require_file
        from pipeline.drafting.summarize import render_text, summarize_file

        require_file(file, "报告文件")

        _report, summary = summarize_file(str(file), n, engine_spec=engine, profile=profile, seed=seed)
        if as_json:
            typer.echo(json.dumps(summary.to_json(), ensure_ascii=False, indent=2))
        else:
            typer.echo(render_text(summary))
        for section in summary.sections:
            for note in section.dropped:
                typer.echo(f"已删去（数字与原文不符）：{note}", err=True)
        return 0
