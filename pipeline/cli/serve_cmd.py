"""CLI command `serve`: the web workbench. Arguments only; the app lives in `pipeline.web.app`."""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
import sys
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


def default_data_dir() -> Path:
    """Where jobs are kept between runs: SHUZHI_DATA, else the user's data folder (not /tmp)."""
    if os.environ.get("SHUZHI_DATA"):
        return Path(os.environ["SHUZHI_DATA"]).expanduser()
    if sys.platform.startswith("win"):
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "shuzhi" / "web"


def mask_token(token: str) -> str:
    """Enough of the token to tell which one is set, never enough to use it."""
    return token[:2] + "*" * 6 + token[-2:] if len(token) >= 8 else "********"


def machine_addresses() -> list[str]:
    """This machine's IPv4 addresses other computers can reach (for a server bound to 0.0.0.0).

    Read from the host name's addresses; no packet leaves the machine."""
    found: list[str] = []
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:
        infos = []
    for info in infos:
        address = str(info[4][0])
        if address not in found and not ipaddress.ip_address(address).is_loopback:
            found.append(address)
    return found


def shown_urls(host: str, port: int) -> list[str]:
    """The addresses to type into a browser: the real ones when bound to every interface."""
    if host in ("0.0.0.0", "::", ""):
        addresses = machine_addresses() or ["本机IP地址"]
        return [f"http://{a}:{port}/" for a in addresses] + [f"http://127.0.0.1:{port}/（本机）"]
    shown_host = f"[{host}]" if ":" in host else host
    return [f"http://{shown_host}:{port}/"]


def resolve_token(host: str, token: str | None) -> str | None:
    """The access token to enforce: SHUZHI_TOKEN (or the deprecated --token); required off loopback."""
    chosen = token or os.environ.get("SHUZHI_TOKEN") or None
    if chosen is not None and len(chosen) < 8:
        raise UsageError("访问令牌太短：请用至少 8 个字符（可用 python -c \"import secrets;print(secrets.token_urlsafe())\" 生成）。")
    if chosen is None and not is_loopback_host(host):
        example = secrets.token_urlsafe(18)
        raise UsageError(
            f"监听 {host} 会让其他电脑访问工作台，必须设置访问令牌：设置环境变量 SHUZHI_TOKEN，"
            f"例如 export SHUZHI_TOKEN={example}。只在本机使用时去掉 --host（默认 127.0.0.1）。"
        )
    return chosen


def serve_command(
    host: str = typer.Option("127.0.0.1", "--host", help="监听地址（默认只允许本机访问；改成其他地址必须设置令牌）"),
    port: int = typer.Option(8000, "--port", help="端口"),
    index: Path | None = typer.Option(None, "--index", help="往年报告的索引目录（默认 .shuzhi/index 或 SHUZHI_INDEX）"),
    token: str | None = typer.Option(None, "--token", help="（已不推荐：命令行参数会被 ps 看到）请改用环境变量 SHUZHI_TOKEN"),
    data: Path | None = typer.Option(None, "--data", help="任务记录和结果的保存目录（默认用户数据目录，或 SHUZHI_DATA）"),
    work_dir: Path | None = typer.Option(None, "--work-dir", hidden=True, help="旧名称，同 --data"),
    max_jobs: int = typer.Option(2, "--max-jobs", help="同时进行的起草/审核任务数，其余排队"),
    job_timeout: float = typer.Option(300.0, "--job-timeout", help="每个任务的时间上限（秒）"),
    keep: int = typer.Option(500, "--keep", help="最多保存多少个任务（超出时先删最早的）"),
    keep_days: float = typer.Option(180.0, "--keep-days", help="任务最多保存多少天"),
    keep_mb: int = typer.Option(2048, "--keep-mb", help="所有任务文件合计最多多少 MB"),
) -> int:
    """启动网页工作台：起草、审核、对比、语料四个页面，全部在本机处理。"""
    import uvicorn

    from pipeline.index.hybrid import default_index_dir
    from pipeline.web.app import create_app

    if not 0 < port < 65536:
        raise UsageError(f"端口 {port} 无效：应在 1 到 65535 之间。")
    if token is not None:
        typer.echo("提示：--token 已不推荐使用（命令行参数会被同一台电脑上的其他用户用 ps 看到）；"
                   "请改用环境变量 SHUZHI_TOKEN。", err=True)
    if max_jobs < 1 or job_timeout <= 0 or keep < 1 or keep_days <= 0 or keep_mb < 1:
        raise UsageError("--max-jobs、--job-timeout、--keep、--keep-days、--keep-mb 都应为正数。")
    chosen = resolve_token(host, token)
    index_dir = index if index is not None else default_index_dir()
    if index_dir.exists() and not index_dir.is_dir():
        raise UsageError(f"索引路径 {index_dir} 不是文件夹；请用 --index 指定一个文件夹。")
    data_dir = data or work_dir or default_data_dir()
    if data_dir.exists() and not data_dir.is_dir():
        raise UsageError(f"数据目录 {data_dir} 不是文件夹；请用 --data 指定一个文件夹。")
    if not (index_dir / "state.json").is_file():
        typer.echo(f"提示：{index_dir} 还没有索引，起草和审核暂不使用往年报告（建立索引后自动生效：shuzhi ingest 往年报告文件夹）。",
                   err=True)
    app = create_app(index_dir, token=chosen, work_dir=data_dir, max_jobs=max_jobs, job_timeout=job_timeout,
                     keep_count=keep, keep_days=keep_days, keep_bytes=keep_mb * 1024 * 1024)
    for url in shown_urls(host, port):
        typer.echo(f"工作台地址：{url}")
    if chosen:
        typer.echo(f"访问令牌：{mask_token(chosen)}（已隐藏；第一次打开时在网址后加 ?token=令牌，令牌即 SHUZHI_TOKEN 的值）")
    typer.echo(f"索引目录：{index_dir}；任务与结果目录：{app.state.work_dir}")
    typer.echo("按 Ctrl+C 停止。")
    uvicorn.run(app, host=host, port=port, log_level="warning")
    return 0


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `shuzhi` app."""
    app.command("serve")(serve_command)
