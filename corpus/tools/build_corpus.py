"""Build corpus/reports/* and corpus/metrics/* from the tagged sources in corpus/tools/src/.

Why a generator: the report text and its metrics file are ground truth for the checker, so they must agree
figure for figure. Each source is YAML front matter (format, meta, honours, documents, partners, plans,
highlights, custom metric definitions) followed by the report body, in which every catalog figure is written
as a tag `{key:value:shown}`: `{conscription.recruits:215}` prints 215, `{militia.ordinary:21034:2.1万}`
prints 2.1万 and records 21034, `{militia.towns:null:**}` prints a mask and records value null. The metrics
file is derived from the tags, and `previous` is filled from the same region's file for the year before, so
the figures cannot drift apart across a region's years.

Run: .venv/bin/python corpus/tools/build_corpus.py      (rewrites every generated report and metrics file)
"""

from __future__ import annotations

import re
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from corpus.tools.make_docx import write_docx  # noqa: E402
from pipeline.fsutil import atomic_write_bytes, atomic_write_text  # noqa: E402

SRC = ROOT / "corpus" / "tools" / "src"
REPORTS = ROOT / "corpus" / "reports"
METRICS = ROOT / "corpus" / "metrics"
NEXT_SRC = SRC / "next"
SAMPLE = ROOT / "corpus" / "sample"
CATALOG = ROOT / "prompts" / "dangguan-wuzhuang" / "catalog.yaml"

TAG_RE = re.compile(r"\{((?:custom\.)?[a-z_]+\.[a-z_]+)(?::([^:{}]*))?(?::([^{}]*))?\}")
SCOPE_RE = re.compile(r"(全市|全省|全区|全州)[^，。；]{0,12}$")
STEM_RE = re.compile(r"^([a-z]+)-(\d{4})$")
EXTENSIONS = {
    "txt": ".txt",
    "txt-gbk": ".txt",
    "txt-bom": ".txt",
    "txt-crlf": ".txt",
    "txt-oneline": ".txt",
    "md": ".md",
    "docx": ".docx",
    "docx-autonum": ".docx",
}


def _number(value: Decimal | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def split_source(path: Path) -> tuple[dict[str, Any], str]:
    raw = path.read_text(encoding="utf-8")
    if not raw.startswith("---\n"):
        raise SystemExit(f"{path}: 源文件须以 --- 开头的 YAML 头部开始")
    head, body = raw[4:].split("\n---\n", 1)
    return yaml.safe_load(head), body.strip("\n") + "\n"


def render(body: str, path: Path) -> tuple[str, dict[str, dict[str, Any]]]:
    """Replace tags by their shown text; collect {key: {value, scope}} from them."""
    found: dict[str, dict[str, Any]] = {}
    out: list[str] = []
    pos = 0
    for match in TAG_RE.finditer(body):
        out.append(body[pos : match.start()])
        key, value_text, shown = match.group(1), match.group(2), match.group(3)
        value = None if value_text in (None, "null") else Decimal(value_text)
        if shown is None:
            if value is None:
                raise SystemExit(f"{path}: 标签 {match.group(0)} 缺少数值")
            shown = value_text
        entry: dict[str, Any] = {"value": value}
        if key.startswith("ranking."):
            scope = SCOPE_RE.search("".join(out)[-20:])
            if scope:
                entry["scope"] = scope.group(1)
        if key in found and found[key]["value"] != value:
            raise SystemExit(f"{path}: {key} 在文中出现两个不同数值 {found[key]['value']} 与 {value}")
        found.setdefault(key, entry)
        out.append(shown)
        pos = match.end()
    out.append(body[pos:])
    return "".join(out), found


def metrics_document(
    head: dict[str, Any],
    figures: dict[str, dict[str, Any]],
    previous: dict[str, Any] | None,
    catalog: dict[str, Any],
) -> dict[str, Any]:
    custom = head.get("custom") or {}
    metrics: dict[str, Any] = {}
    for key, entry in figures.items():
        if key not in catalog and key not in custom:
            raise SystemExit(f"{key}: 既不在指标目录中，也未在 custom 中定义")
        item: dict[str, Any] = dict(custom.get(key, {}))
        item["value"] = _number(entry["value"])
        if "scope" in entry:
            item["scope"] = entry["scope"]
        prior = (previous or {}).get(key)
        if isinstance(prior, dict):
            prior = prior.get("value")
        if prior is not None:
            item["previous"] = prior
        metrics[key] = item
    doc: dict[str, Any] = {"meta": head["meta"], "metrics": metrics}
    for name in ("honours", "documents", "partners", "plans", "highlights"):
        doc[name] = list(head.get(name) or [])
    return doc


def dump_yaml(doc: dict[str, Any], comment: str) -> str:
    return comment + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=200)


def layout(fmt: str, text: str) -> str:
    """The report text as the file holds it (before encoding): tables only in Word; one line if asked."""
    if "docx" not in fmt:
        text = re.sub(r"^\|.*\|\n", "", text, flags=re.M)
    if fmt == "txt-oneline":  # some real reports arrive as a single line with no breaks at all
        text = text.replace("\n", "") + "\n"
    return text


def write_report(fmt: str, text: str, stem: str) -> Path:
    target = REPORTS / f"{stem}{EXTENSIONS[fmt]}"
    if fmt in ("txt", "md", "txt-oneline"):
        return atomic_write_text(target, text)
    if fmt == "txt-bom":
        return atomic_write_bytes(target, b"\xef\xbb\xbf" + text.encode("utf-8"))
    if fmt == "txt-crlf":
        return atomic_write_bytes(target, text.replace("\n", "\r\n").encode("utf-8"))
    if fmt == "txt-gbk":
        return atomic_write_bytes(target, text.encode("gbk"))  # raises if a character is not in GBK
    return write_docx(text, target, autonum=(fmt == "docx-autonum"))


def build() -> list[Path]:
    catalog = yaml.safe_load(CATALOG.read_text(encoding="utf-8"))["metrics"]
    written: list[Path] = []
    by_stem: dict[str, dict[str, Any]] = {}
    sources = sorted(SRC.glob("*.txt"), key=lambda p: (STEM_RE.match(p.stem).group(1), p.stem))
    for path in sources:
        region, year = STEM_RE.match(path.stem).groups()
        head, body = split_source(path)
        if head["meta"]["year"] != int(year):
            raise SystemExit(f"{path}: meta.year 与文件名年份不一致")
        text, figures = render(body, path)
        text = layout(head["format"], text)
        previous = by_stem.get(f"{region}-{int(year) - 1}")
        doc = metrics_document(head, figures, previous, catalog)
        by_stem[path.stem] = doc["metrics"]
        written.append(write_report(head["format"], text, path.stem))
        comment = (
            f"# 虚构样例：{path.stem} 的指标文件，由 corpus/tools/build_corpus.py 从 "
            f"corpus/tools/src/{path.name} 生成，请改源文件后重新生成。\n"
        )
        written.append(atomic_write_text(METRICS / f"{path.stem}.yaml", dump_yaml(doc, comment)))
    for path in sorted(NEXT_SRC.glob("*.yaml")):
        head = yaml.safe_load(path.read_text(encoding="utf-8"))
        region, year = STEM_RE.match(path.stem).groups()
        previous = by_stem.get(f"{region}-{int(year) - 1}") or {}
        for key, item in head["metrics"].items():
            prior = previous.get(key)
            if isinstance(prior, dict) and prior.get("value") is not None:
                item["previous"] = prior["value"]
        comment = (
            f"# 虚构样例：{region} {year} 年指标（下一年度，供起草演示），由 build_corpus.py 从 "
            f"corpus/tools/src/next/{path.name} 生成，previous 取自上一年度指标文件。\n"
        )
        target = SAMPLE / "metrics.yaml" if head.pop("sample", False) else SAMPLE / "next" / path.name
        written.append(atomic_write_text(target, dump_yaml(head, comment)))
    return written


if __name__ == "__main__":
    for out in build():
        print(out.relative_to(ROOT))
