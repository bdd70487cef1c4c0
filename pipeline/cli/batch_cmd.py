"""CLI: `shuzhi batch` — draft or check reports for many units."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from pipeline.errors import UsageError


def batch(
    input_path: Path = typer.Argument(..., metavar="INPUT",
                                      help="指标文件夹，或每个单位一张表/一行的 Excel 工作簿；--check-only 时为草稿文件夹"),
    out: Path = typer.Option(..., "-o", "--out", help="输出文件夹：每个单位一个子文件夹，另有 summary.csv/json/html"),
    engine: str = typer.Option("template", "--engine", help="template | transformers:PATH | openai:URL#MODEL"),
    workers: int = typer.Option(0, "--workers", help="并行进程数（默认：本机 CPU 核数；Ray 时为集群 CPU 总数）"),
    executor: str = typer.Option("local", "--executor", help="local（本机进程池）或 ray"),
    ray_address: str = typer.Option(None, "--ray-address", help="Ray 集群地址，如 ray://10.0.0.5:10001；不填则在本机启动"),
    index: Path = typer.Option(None, "--index", help="语料索引文件夹（默认 .shuzhi/index，存在时使用）"),
    chroma_url: str = typer.Option(None, "--chroma-url", help="共享的 Chroma 服务地址，如 http://10.0.0.5:8000"),
    resume: bool = typer.Option(False, "--resume", help="跳过输入和设置都未变化、且已成功的单位"),
    seed: int = typer.Option(0, "--seed"),
    profile: str = typer.Option(None, "--profile"),
    annotate: bool = typer.Option(False, "--annotate", help="每个单位另写一份带批注的审阅稿"),
    check_only: bool = typer.Option(False, "--check-only", help="只核对：INPUT 为草稿文件夹，配合 --metrics-dir"),
    metrics_dir: Path = typer.Option(None, "--metrics-dir", help="--check-only 时各草稿对应的指标文件夹（同名）"),
    prior_dir: Path = typer.Option(None, "--prior-dir", help="上年指标文件夹（同名），用于发现旧数"),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="不显示进度条"),
) -> int:
    """批量起草（或核对）多个单位的述职报告，可中断续跑。"""
    from pipeline.batch.runner import BatchSettings, UnitResult, iter_failed_lines, one_line, run_batch
    from pipeline.cli.inputs import require_file

    require_file(input_path, "批量输入", "请给出一个装有指标文件的文件夹，或一个 Excel 工作簿。")
    if check_only and metrics_dir is None:
        raise UsageError("--check-only 需要 --metrics-dir（各草稿对应的指标文件夹，文件名相同）。")
    if ray_address and executor != "ray":
        raise UsageError("--ray-address 只用于 --executor ray；本机进程池不需要地址。")
    if workers < 0:
        raise UsageError("--workers 应为正整数（0 或不填表示按 CPU 核数）。")
    if not chroma_url or index is not None:
        # With --chroma-url alone the whole index lives on the server (no folder needed).
        from pipeline.cli.inputs import default_index

        index = default_index(index, without="各单位起草不借用往年报告的句子，也不核对旧数")
    settings = BatchSettings(
        out_dir=str(out), engine=engine, seed=seed, profile=profile,
        index_dir=str(index) if index else None, chroma_url=chroma_url,
        check_only=check_only, annotate=annotate,
    )
    bar = not quiet and sys.stderr.isatty()

    def log_failure(result: UnitResult) -> None:
        # Without a terminal (nohup, CI logs) a bad unit is still logged the moment it fails.
        if result.status == "failed":
            typer.echo(f"失败：{result.name}：{one_line(result.error)}", err=True)

    try:
        report = run_batch(
            metrics_dir if check_only else input_path, settings, workers=workers, executor=executor,
            ray_address=ray_address, resume=resume, drafts_dir=input_path if check_only else None,
            prior_dir=prior_dir, progress=bar, on_result=None if quiet or bar else log_failure,
        )
    except KeyboardInterrupt:
        typer.echo(f"\n已中断：已完成的单位已保存（见 {out / 'summary.csv'}），未完成的单位没有留下文件；"
                   "加 --resume 重新运行即可从中断处继续。", err=True)
        raise
    counts = report.counts()
    typer.echo(
        f"完成 {counts['done']} 个，失败 {counts['failed']} 个，跳过（未变化）{counts['skipped']} 个，"
        f"用时 {report.seconds:.1f} 秒。汇总：{out / 'summary.html'}"
    )
    if report.failed:
        if quiet or bar:
            typer.echo("失败的单位：", err=True)
            for line in iter_failed_lines(report):
                typer.echo(line, err=True)
        return 1
    return 0


def register(app: typer.Typer) -> None:
    app.command("batch")(batch)
