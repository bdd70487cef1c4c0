"""CLI commands `shuzhi ingest` and `shuzhi search`: build and query the hybrid index."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from pipeline.errors import UsageError
from pipeline.models import SECTION_KEYS, SearchHit
from pipeline.profile.catalog import level_class

SNIPPET_CHARS = 80
_STATUS_NAMES = {"added": "新增", "replaced": "替换", "unchanged": "未变", "failed": "失败",
                 "duplicate": "重复"}


def _snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "…"


def format_hits(hits: list[SearchHit]) -> str:
    """Numbered hits: score, source, section and year, then a one-line snippet."""
    if not hits:
        return "没有找到相关段落。"
    lines: list[str] = []
    for n, hit in enumerate(hits, start=1):
        chunk = hit.chunk
        where = " · ".join(x for x in (
            chunk.path,
            f"{chunk.section_key}（{_snippet(chunk.heading, 20)}）" if chunk.heading else chunk.section_key,
            chunk.region or "",
            f"{chunk.year}年" if chunk.year else "",
        ) if x)
        lines.append(f"{n}. [{hit.score:.4f}] {where}")
        lines.append(f"   {_snippet(chunk.text)}")
    return "\n".join(lines)


def hit_json(hit: SearchHit) -> dict:
    chunk = hit.chunk
    return {
        "score": round(hit.score, 6), "bm25_rank": hit.bm25_rank, "vector_rank": hit.vector_rank,
        "chunk_id": chunk.chunk_id, "doc_id": chunk.doc_id, "path": chunk.path, "region": chunk.region,
        "year": chunk.year, "section": chunk.section_key, "heading": chunk.heading,
        "position": chunk.position, "text": chunk.text,
    }


def register(app: typer.Typer) -> None:
    """Add `ingest` and `search` to the `shuzhi` app."""

    @app.command("ingest")
    def ingest_command(
        paths: list[Path] = typer.Argument(..., help="报告文件或文件夹（递归查找 .txt/.md/.docx 等）"),
        index: Path | None = typer.Option(None, "--index", help="索引目录（默认 .shuzhi/index 或环境变量 SHUZHI_INDEX）"),
        chroma_url: str | None = typer.Option(
            None, "--chroma-url",
            help="Chroma 服务地址，如 http://127.0.0.1:8000；不加 --index 时整个索引（正文、元数据、向量）都存到服务上，"
                 "各台机器直接用 --chroma-url 读取"),
        embedder: str | None = typer.Option(None, "--embedder", help="向量化方式：hash（默认）或 st:本地模型目录"),
        rebuild: bool = typer.Option(False, "--rebuild", help="清空索引后重建"),
        verbose: bool = typer.Option(False, "--verbose", "-v", help="逐个文件显示处理结果"),
        as_json: bool = typer.Option(False, "--json", help="以 JSON 输出汇总"),
    ) -> int:
        """把往年报告切分成段落，建立 BM25 + 向量混合索引。未变的文件跳过，改过的文件替换。"""
        from pipeline.index.hybrid import HybridIndex

        hybrid = HybridIndex.open(index, chroma_url=chroma_url, embedder=embedder)

        def progress(path: str, status: str) -> None:
            if verbose and not as_json:
                typer.echo(f"{_STATUS_NAMES.get(status, status)}  {path}")

        summary = hybrid.ingest(paths, rebuild=rebuild, progress=progress)
        if as_json:
            typer.echo(json.dumps(summary.to_json(), ensure_ascii=False, indent=2))
        else:
            total = (len(summary.added) + len(summary.replaced) + len(summary.unchanged)
                     + len(summary.failed) + len(summary.duplicates))
            typer.echo(
                f"处理 {total} 个文件：新增 {len(summary.added)}，替换 {len(summary.replaced)}，"
                f"未变 {len(summary.unchanged)}，重复 {len(summary.duplicates)}，失败 {len(summary.failed)}。"
                f"索引共 {summary.documents} 份报告、{summary.chunks} 段（{hybrid.location}）。"
            )
            for path, same in summary.duplicates:
                typer.echo(f"重复：{path} 与 {same} 内容相同，已跳过。")
            for path, message in summary.failed:
                typer.echo(f"失败：{path}：{message}", err=True)
        return 0 if summary.ok else 1

    @app.command("search")
    def search_command(
        query: str = typer.Argument(..., help="检索内容，如“民兵整组”“征兵宣传怎么写”"),
        section: str | None = typer.Option(None, "--section", help=f"只查某一节：{'/'.join(SECTION_KEYS)}"),
        region: str | None = typer.Option(None, "--region", help="只查某地区，如 岚川县"),
        year: int | None = typer.Option(None, "--year", help="只查某年度"),
        level: str | None = typer.Option(None, "--level", help="优先某一层级的报告：县/区 或 乡/镇/街道"),
        k: int = typer.Option(5, "-k", "--top", help="返回条数"),
        mode: str = typer.Option("hybrid", "--mode", help="hybrid（默认，BM25+向量融合）/ bm25 / vector"),
        index: Path | None = typer.Option(None, "--index", help="索引目录"),
        chroma_url: str | None = typer.Option(
            None, "--chroma-url", help="Chroma 服务地址；不加 --index 时读取服务上的共享索引（集合 shuzhi-shared）"),
        as_json: bool = typer.Option(False, "--json", help="以 JSON 输出"),
    ) -> int:
        """在往年报告中检索相似段落（BM25 与向量检索按倒数排名融合）。"""
        from pipeline.index.hybrid import HybridIndex

        if section is not None and section not in SECTION_KEYS:
            raise UsageError(f"--section “{section}” 无效；可选：{'、'.join(SECTION_KEYS)}。")
        if k <= 0:
            raise UsageError("-k 必须是正整数。")
        if level is not None and level_class(level) is None:
            raise UsageError(f"--level “{level}” 无效；可选：县、区、乡、镇、街道（或 county、township）。")
        hybrid = HybridIndex.open(index, chroma_url=chroma_url, read_only=True)
        hits = hybrid.search(query, k=k, section=section, region=region, year=year, mode=mode, level=level)
        if as_json:
            typer.echo(json.dumps([hit_json(h) for h in hits], ensure_ascii=False, indent=2))
        else:
            typer.echo(format_hits(hits))
        return 0
