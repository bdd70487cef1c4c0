"""CLI command `serve`: the web workbench. Arguments only; the app lives in `pipeline.web.app`."""

from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path

import typer

from pipeline.errors import UsageError


def is_loopback_host(host: str) -> bool:
    if host.lower() in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def resolve_token(host: str, token: str | None) -> str | None:
    """The access token to enforce: from --token or SHUZHI_TOKEN; required off loopback."""
    chosen = token or os.environ.get("SHUZHI_TOKEN") or None
    if chosen is not None and len(chosen) < 8:
        raise UsageError("访问令牌太短：请用至少 8 个字符（可用 python -c \"import secrets;print(secrets.token_urlsafe())\" 生成）。")
    if chosen is None and not is_loopback_host(host):
        example = secrets.token_urlsafe(18)
        raise UsageError(
            f"监听 {host} 会让其他电脑访问工作台，必须设置访问令牌：加 --token 令牌 或设置环境变量 SHUZHI_TOKEN，"
            f"例如 --token {example}。只在本机使用时去掉 --host（默认 127.0.0.1）。"
        )
    return chosen


def serve_command(
    host: str = typer.Option("127.0.0.1", "--host", help="监听地址（默认只允许本机访问；改成其他地址必须设置令牌）"),
    port: int = typer.Option(8000, "--port", help="端口"),
    index: Path | None = typer.Option(None, "--index", help="往年报告的索引目录（默认 .shuzhi/index 或 SHUZHI_INDEX）"),
    token: str | None = typer.Option(None, "--token", help="访问令牌（也可用环境变量 SHUZHI_TOKEN）"),
    work_dir: Path | None = typer.Option(None, "--work-dir", help="上传文件和生成结果的存放目录（默认临时目录）"),
) -> int:
    """启动网页工作台：起草、审核、对比、语料四个页面，全部在本机处理。"""
    import uvicorn

    from pipeline.index.hybrid import default_index_dir
    from pipeline.web.app import create_app

    if not 0 < port < 65536:
        raise UsageError(f"端口 {port} 无效：应在 1 到 65535 之间。")
    chosen = resolve_token(host, token)
    index_dir = index if index is not None else default_index_dir()
    if index_dir.exists() and not index_dir.is_dir():
        raise UsageError(f"索引路径 {index_dir} 不是文件夹；请用 --index 指定一个文件夹。")
    if not (index_dir / "state.json").is_file():
        typer.echo(f"提示：{index_dir} 还没有索引，起草和审核暂不使用往年报告（建立索引后自动生效：shuzhi ingest 往年报告文件夹）。",
                   err=True)
    app = create_app(index_dir, token=chosen, work_dir=work_dir)
    shown_host = f"[{host}]" if ":" in host else host
    url = f"http://{shown_host}:{port}/"
    typer.echo(f"工作台地址：{url}" + (f"?token={chosen}" if chosen else ""))
    typer.echo(f"索引目录：{index_dir}；上传与结果目录：{app.state.work_dir}")
    typer.echo("按 Ctrl+C 停止。")
    uvicorn.run(app, host=host, port=port, log_level="warning")
    return 0


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `shuzhi` app."""
    app.command("serve")(serve_command)
