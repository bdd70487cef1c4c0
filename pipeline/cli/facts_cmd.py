"""CLI command `shuzhi facts FILE [--json] [--out PATH]`: list every quantity in a report."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from pipeline.models import Quantity

_KIND_NAMES = {"count": "数量", "money": "金额", "percent": "比例", "rank": "排名", "ordinal": "序数",
               "year": "年份", "date": "日期", "duration": "时长", "other": "其他"}


def format_quantity(q: Quantity) -> str:
    """One table line: offsets, kind, the text as written, then value and unit and flags."""
    if q.masked:
        value = "（已遮盖）"
    else:
        value = q.to_json()["value"] or ""
        if q.upper is not None and q.lower is not None and q.lower == q.value and not q.approx:
            value += f"～{format(q.upper.normalize(), 'f')}"
    flags = []
    if q.approx:
        bounds = "≥" + format(q.lower.normalize(), "f") if q.lower is not None else ""
        if q.upper is not None:
            bounds += ("，" if bounds else "") + "≤" + format(q.upper.normalize(), "f")
        flags.append("约数" + (f"（{bounds}）" if bounds else ""))
    if q.scope:
        flags.append(f"范围：{q.scope}")
    unit = q.unit or "-"
    kind = _KIND_NAMES.get(q.kind, q.kind)
    line = f"{q.start}-{q.end}\t{kind}\t{q.text}\t{value} {unit}"
    return line + ("\t" + "；".join(flags) if flags else "")


def facts_json(quantities: list[Quantity]) -> str:
    return json.dumps([q.to_json() for q in quantities], ensure_ascii=False, indent=2)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `shuzhi` app."""

    @app.command("facts")
    def facts_command(
        file: Path = typer.Argument(..., help="报告文件（.txt/.md/.docx/.doc）"),
        as_json: bool = typer.Option(False, "--json", help="输出 JSON 列表（text/start/end/value/unit/kind/masked/approx）"),
        out: Path | None = typer.Option(None, "--out", help="把 JSON 结果写入该文件（原子写入），不在屏幕输出"),
    ) -> int:
        """列出报告中的全部数字事实：数量、金额、比例、排名、年份、日期等，含遮盖（***）与约数。"""
        from pipeline.cli.inputs import ensure_not_input, require_file
        from pipeline.facts.quantities import report_quantities
        from pipeline.fsutil import atomic_write_text
        from pipeline.reading.readers import read_text
        from pipeline.reading.textview import clean_view

        require_file(file, "报告文件")
        if out is not None:
            ensure_not_input([out], [file])
        # Extract on the tidy copy the checker uses; report spans in the file's text as read.
        view = clean_view(read_text(file))
        quantities = view.remap(report_quantities(view.text))
        if out is not None:
            atomic_write_text(out, facts_json(quantities) + "\n")
            typer.echo(f"已写入 {out}：{len(quantities)} 个数字。")
        elif as_json:
            typer.echo(facts_json(quantities))
        else:
            for q in quantities:
                typer.echo(format_quantity(q))
            masked = sum(q.masked for q in quantities)
            typer.echo(f"共 {len(quantities)} 个数字，其中遮盖 {masked} 个。")
        return 0
