"""Checks shared by commands that take this year's metrics, last year's metrics and an index."""

from __future__ import annotations

from pathlib import Path

from pipeline.errors import UsageError


def require_metric_inputs(metrics: Path, prior: Path | None = None, index: Path | None = None) -> None:
    """Usage errors (exit 2) naming the missing path and the fix, before any work starts."""
    if not metrics.exists():
        raise UsageError(f"找不到指标文件：{metrics}。请检查路径，或用 shuzhi metrics init 生成模板。")
    if prior is not None and not prior.exists():
        raise UsageError(f"找不到上年指标文件：{prior}。请检查路径。")
    if index is not None and not index.is_dir():
        raise UsageError(f"找不到索引目录：{index}。请先运行 shuzhi ingest 建立索引，或去掉 --index。")
