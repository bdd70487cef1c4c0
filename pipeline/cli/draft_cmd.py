"""CLI commands `draft` and `demo`. Arguments only; the logic lives in `pipeline.drafting.draft`."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import typer

from pipeline.cli.inputs import default_index, ensure_not_input, require_metric_inputs
from pipeline.errors import UsageError

ROOT = Path(__file__).resolve().parent.parent.parent
DRAFT_FILES = ("draft.docx", "draft.md", "draft.json", "check.html", "draft-review.docx")
SECTION_NAMES = {"opening": "开头", "duty": "履职", "systems": "制度落实", "foundation": "基础建设",
                 "plans": "下步打算", "closing": "结尾", "other": "其他"}
VERDICT_NAMES = {"supported": "有据", "derived": "推算", "contradicted": "矛盾", "stale": "旧数",
                 "unsupported": "无据", "masked": "遮盖"}


def draft_command(
    metrics: Path = typer.Argument(..., help="本年指标文件（.yaml / .json / .xlsx）"),
    engine: str = typer.Option("template", "--engine", "-e",
                               help="生成引擎：template | transformers:模型目录 | openai:地址#模型名"),
    index: Path | None = typer.Option(None, "--index", help="往年报告的索引目录：取范文句子，并核对旧数字"),
    profile: str | None = typer.Option(None, "--profile", help="模板配置名或文件夹（默认取指标文件中的 profile）"),
    seed: int = typer.Option(0, "--seed", help="随机种子：同一种子同一草稿，换种子换句式"),
    prior: Path | None = typer.Option(None, "--prior", help="上年指标文件：用来发现照抄去年的旧数字"),
    out: Path = typer.Option(Path("out/draft"), "-o", "--out", help="输出文件夹"),
    annotate: bool = typer.Option(False, "--annotate", help="另写一份带批注的 draft-review.docx（每个数字注明来源）"),
    no_corpus: bool = typer.Option(False, "--no-corpus",
                                   help="模板引擎不借用往年报告的句子（只用短语库），避免带入别县的具体做法"),
    from_report: Path | None = typer.Option(None, "--from", help="上年的述职报告（.docx/.txt/.md）：在它的基础上更新起草"),
    no_history: bool = typer.Option(False, "--no-history",
                                    help="不在上年报告的基础上更新（默认：索引中有本地区上年报告时自动更新）"),
) -> int:
    """按指标数据起草述职报告：写出 draft.docx、draft.md、draft.json 和 check.html。"""
    from pipeline.drafting.draft import draft_report
    from pipeline.facts.metrics import load_metrics
    from pipeline.output.draft_files import write_draft_outputs

    require_metric_inputs(metrics, prior, index)
    if from_report is not None and no_history:
        raise UsageError("--from 与 --no-history 不能同时使用：前者指定在上年报告上更新，后者关闭更新。")
    if from_report is not None and not from_report.is_file():
        raise UsageError(f"找不到 --from 指定的上年报告：{from_report}。请给出一个 .docx/.txt/.md 文件。")
    ensure_not_input([out / name for name in DRAFT_FILES], [metrics, prior, from_report])
    index = default_index(index, without="起草不借用往年报告的句子，也不核对旧数")
    data = load_metrics(metrics, profile=profile)
    prior_data = load_metrics(prior, profile=profile or data.meta.profile) if prior else None
    hybrid = _open_index(index) if index is not None else None
    result = draft_report(data, engine=engine, index=hybrid, profile=profile, seed=seed, prior=prior_data,
                          progress=_echo_event, reuse_corpus=not no_corpus, history=not no_history,
                          previous_report=from_report)
    written = write_draft_outputs(result, out, annotate=annotate)
    _summary(result, written)
    return 0 if result.ok else 1


def demo_command(
    out: Path = typer.Option(Path("out/demo"), "--out", "-o", help="演示输出文件夹"),
    seed: int = typer.Option(0, "--seed", help="随机种子"),
) -> int:
    """演示：建立 corpus/ 的索引，检索一例，按样例指标起草并核对，写出四个文件。全程离线。"""
    from pipeline.drafting.draft import draft_report
    from pipeline.facts.metrics import load_metrics
    from pipeline.index.hybrid import HybridIndex
    from pipeline.output.draft_files import write_draft_outputs

    corpus = ROOT / "corpus"
    sample = corpus / "sample" / "metrics.yaml"
    if not sample.exists():
        raise UsageError(f"找不到演示用的样例指标：{sample}。请确认仓库完整。")
    started = time.perf_counter()
    typer.echo(f"$ shuzhi demo --out {out}")
    index = HybridIndex.open(out / "index")
    summary = index.ingest([corpus / "reports"])
    typer.echo(
        f"[1/3] 索引 {out / 'index'}：新增 {len(summary.added)}，更新 {len(summary.replaced)}，"
        f"未变 {len(summary.unchanged)}，失败 {len(summary.failed)}；共 {summary.documents} 篇 {summary.chunks} 段"
    )
    query = "民兵整组 基干民兵 集中轮训"
    hits = index.search(query, k=2, section="systems")
    typer.echo(f"[2/3] 检索示例“{query}”（制度落实部分）：")
    for hit in hits:
        chunk = hit.chunk
        typer.echo(f"      {chunk.region or '?'} {chunk.year or '?'} · {chunk.text[:48]}…")
    data = load_metrics(sample)
    result = draft_report(data, index=index, seed=seed)
    written = write_draft_outputs(result, out)
    typer.echo(f"[3/3] 起草 {data.meta.region}{data.meta.year}年度报告（template 引擎，种子 {seed}）：")
    _summary(result, written)
    typer.echo(f"演示完成，用时 {time.perf_counter() - started:.1f} 秒。")
    return 0 if result.ok else 1


def _echo_event(event) -> None:  # noqa: ANN001 - pipeline.drafting.draft.DraftEvent
    # Per-section events are for progress pages; the terminal shows repairs and the final line.
    if getattr(event, "kind", None) not in ("section_start", "section_done"):
        typer.echo(str(event), err=True)


def _open_index(path: Path):  # noqa: ANN202 - HybridIndex, imported lazily
    from pipeline.index.hybrid import HybridIndex

    return HybridIndex.open(path, read_only=True)


def _summary(result, written: dict[str, Path]) -> None:  # noqa: ANN001 - DraftResult
    if result.based_on:
        origins = Counter(r.origin for r in result.sentences if r.section != "closing")
        compared = sum(r.comparisons for r in result.sentences)
        typer.echo(f"      在 {result.based_on_year} 年报告上更新：{Path(result.based_on).name}；沿用 {origins['kept']} 句（待核实），"
                   f"更新数字 {origins['rebound']} 句，新写 {origins['new']} 句，与上年比较 {compared} 处")
    lengths = Counter()
    for record in result.sentences:
        lengths[record.section] += len(record.text)
    parts = "，".join(f"{SECTION_NAMES.get(k, k)} {n} 字" for k, n in lengths.items())
    typer.echo(f"      各部分：{parts}；全文 {len(result.text)} 字，用时 {result.timings.get('total', 0):.2f} 秒")
    counts = "，".join(f"{VERDICT_NAMES.get(k, k)} {v}" for k, v in result.check.summary.items() if v)
    typer.echo(f"      核对：{counts or '无数字'}" + ("" if result.ok else "（有问题，见 check.html）"))
    if result.repairs:
        typer.echo(f"      修正 {len(result.repairs)} 处（详见 draft.json 的 repairs）")
    for warning in result.warnings[:5]:
        typer.echo(f"      提示：{warning}")
    typer.echo("      已写出：" + "、".join(str(p) for p in written.values()))


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `shuzhi` app."""
    app.command("draft")(draft_command)
    app.command("demo")(demo_command)
