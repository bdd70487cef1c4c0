"""CLI command `shuzhi profiles [--json]`: the installed profiles (genres) with their metric counts."""

from __future__ import annotations

import json

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `shuzhi` app."""

    @app.command("profiles")
    def profiles_command(
        as_json: bool = typer.Option(False, "--json", help="输出 JSON"),
    ) -> int:
        """列出已安装的模板配置（述职类别）：名称、继承自、适用层级、指标数、要点数。"""
        from pipeline.drafting.plan import profile_rows

        rows = profile_rows()
        if as_json:
            typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
            return 0
        typer.echo("配置                        指标  要点  继承自               适用层级        说明")
        for row in rows:
            if row.get("error"):
                typer.echo(f"{row['name']:<26}  （无法读取：{row['error']}）")
                continue
            typer.echo(f"{row['name']:<26}  {row['metrics']:>4}  {row['facets']:>4}  {row['extends'] or '—':<18}  "
                       f"{'、'.join(row['levels']) or '—':<12}  {row['title']}")
        return 0
