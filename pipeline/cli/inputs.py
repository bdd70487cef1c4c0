"""Checks shared by every command: input paths, the default index, outputs that must not be inputs.

The CLI contract (README, "Exit codes"): 0 success; 1 findings, a failed input (a file that exists
but cannot be used) or a failed write; 2 usage (a wrong option, a path that does not exist, an
output that would overwrite an input). Errors are one line unless SHUZHI_DEBUG=1.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

from pipeline.errors import UsageError
from pipeline.fsutil import ensure_not_input  # noqa: F401 - re-exported for the commands

# Where an index lives when none is named, and the file that marks a folder as one: the values of
# `pipeline.index.hybrid` (a test holds them equal), kept here so that a command without an index
# does not import the index stage (numpy and all) only to find that out.
DEFAULT_INDEX_DIR = Path(".shuzhi") / "index"
STATE_FILE = "state.json"


def require_file(path: Path, what: str = "文件", hint: str = "请检查路径。") -> None:
    """A path named on the command line that does not exist is a usage error (exit 2)."""
    if not path.exists() and not path.is_symlink():
        raise UsageError(f"找不到{what}：{path}。{hint}")


def require_metric_inputs(metrics: Path, prior: Path | None = None, index: Path | None = None) -> None:
    """Usage errors (exit 2) naming the missing path and the fix, before any work starts."""
    require_file(metrics, "指标文件", "请检查路径，或用 shuzhi metrics init 生成模板。")
    if prior is not None:
        require_file(prior, "上年指标文件")
    if index is not None and not index.is_dir():
        raise UsageError(f"找不到索引目录：{index}。请先运行 shuzhi ingest 建立索引，或去掉 --index。")


def default_index(index: Path | None, *, without: str) -> Path | None:
    """The index a reading command uses: `--index`, else `SHUZHI_INDEX`, else `./.shuzhi/index`
    when it holds an index. Without one, say so on stderr (`without`: what the run goes without)."""
    if index is not None:
        if not index.is_dir():
            raise UsageError(f"找不到索引目录：{index}。请先运行 shuzhi ingest 建立索引，或去掉 --index。")
        return index
    env = os.environ.get("SHUZHI_INDEX")
    if env:
        if not (Path(env) / STATE_FILE).is_file():
            raise UsageError(f"环境变量 SHUZHI_INDEX 指向 {env}，但那里没有索引。"
                             "请先运行 shuzhi ingest 建立索引，或改正/清除 SHUZHI_INDEX。")
        return Path(env)
    if (DEFAULT_INDEX_DIR / STATE_FILE).is_file():
        return DEFAULT_INDEX_DIR
    typer.echo(f"提示：未使用往年报告索引（未设 SHUZHI_INDEX，{DEFAULT_INDEX_DIR} 也不存在），{without}。"
               "可先运行 shuzhi ingest 往年报告文件夹，或用 --index 指定。", err=True)
    return None
