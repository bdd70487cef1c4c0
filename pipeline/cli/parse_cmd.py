"""CLI command `shuzhi parse FILE [--json]`: show a report's structure."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from pipeline.models import Report

_KEY_NAMES = {"opening": "开头", "duty": "履职", "systems": "制度落实", "foundation": "基础建设",
              "plans": "下步打算", "closing": "结尾", "other": "其他"}


def outline(report: Report) -> str:
    """A readable outline: title, year, region, then each section with its sub-points."""
    lines = [
        f"标题：{report.title or '（无）'}",
        f"年度：{report.year or '（未识别）'}　地区：{report.region or '（未识别）'}",
        f"共 {len(report.sections)} 节",
    ]
    for section in report.sections:
        indent = "  " * (section.level - 1)
        heading = section.heading or "（无标题）"
        chars = len(section.text)
        lines.append(f"{indent}[{section.key}/{_KEY_NAMES.get(section.key, section.key)}] {heading}"
                     f"（{chars} 字）")
        for point in section.subpoints:
            short = point if len(point) <= 30 else point[:30] + "…"
            lines.append(f"{indent}    · {short}")
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `shuzhi` app."""

    @app.command("parse")
    def parse_command(
        file: Path = typer.Argument(..., help="报告文件（.txt/.md/.docx/.doc）"),
        as_json: bool = typer.Option(False, "--json", help="输出 JSON（标题、年度、地区、各节）"),
    ) -> int:
        """解析报告结构：标题、年度、地区、各节标题与要点。"""
        from pipeline.cli.inputs import require_file
        from pipeline.reading.parse import parse_file

        require_file(file, "报告文件")
        report = parse_file(file)
        if as_json:
            typer.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
        else:
            typer.echo(outline(report))
        return 0
