"""Build corpus/township/{reports,metrics}/ (and corpus/shuangyong/) from the tagged sources in
corpus/tools/src/township/ and corpus/tools/src/shuangyong/.

Same source format as build_corpus.py (YAML front matter, then the body with `{key:value:shown}` tags),
but the catalog is the source's own profile (meta.profile, else meta.level: 镇 → the township profile),
file stems are `<county>-<town>-<year>`, and rank scopes include 全县. `previous` comes from the same
unit's file of the year before. Next-year files (`src/township/next/*.yaml`) go to corpus/township/next/.

Run: .venv/bin/python corpus/tools/build_township.py
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from corpus.tools import build_corpus as base  # noqa: E402
from pipeline.fsutil import atomic_write_text  # noqa: E402
from pipeline.profile.catalog import choose_profile, load_catalog  # noqa: E402

STEM_RE = re.compile(r"^([a-z]+(?:-[a-z]+)*)-(\d{4})$")
SCOPE_RE = re.compile(r"(全县|全区|全市|全省)[^，。；]{0,12}$")
GENRES = ("township", "shuangyong")


def _render(body: str, path: Path) -> tuple[str, dict[str, dict[str, Any]]]:
    saved = base.SCOPE_RE
    base.SCOPE_RE = SCOPE_RE          # township ranks are 全县第X
    try:
        return base.render(body, path)
    finally:
        base.SCOPE_RE = saved


def rendered_genre(genre: str) -> list[tuple[Path, str, str, str]]:
    """(source, format, report text, metrics YAML text) of every source of a genre, oldest year first,
    without writing anything (tests compare these with the committed files)."""
    src = ROOT / "corpus" / "tools" / "src" / genre
    out: list[tuple[Path, str, str, str]] = []
    by_stem: dict[str, dict[str, Any]] = {}
    for path in sorted(src.glob("*.txt"), key=lambda p: STEM_RE.match(p.stem).groups()):
        unit, year = STEM_RE.match(path.stem).groups()
        head, body = base.split_source(path)
        meta = head["meta"]
        if meta["year"] != int(year):
            raise SystemExit(f"{path}: meta.year 与文件名年份不一致")
        catalog = load_catalog(choose_profile(None, meta.get("profile"), meta.get("level")))
        text, figures = _render(body, path)
        text = base.layout(head["format"], text)
        doc = base.metrics_document(head, figures, by_stem.get(f"{unit}-{int(year) - 1}"), catalog)
        by_stem[path.stem] = doc["metrics"]
        comment = (f"# 虚构样例：{path.stem} 的指标文件，由 corpus/tools/build_township.py 从 "
                   f"corpus/tools/src/{genre}/{path.name} 生成，请改源文件后重新生成。\n")
        out.append((path, head["format"], text, base.dump_yaml(doc, comment)))
    return out


def build_genre(genre: str) -> list[Path]:
    src = ROOT / "corpus" / "tools" / "src" / genre
    out_root = ROOT / "corpus" / genre
    written: list[Path] = []
    by_stem: dict[str, dict[str, Any]] = {}
    base.REPORTS = out_root / "reports"
    for path, fmt, text, metrics_yaml in rendered_genre(genre):
        by_stem[path.stem] = yaml.safe_load(metrics_yaml)["metrics"]
        written.append(base.write_report(fmt, text, path.stem))
        written.append(atomic_write_text(out_root / "metrics" / f"{path.stem}.yaml", metrics_yaml))
    for path in sorted((src / "next").glob("*.yaml")):
        head = yaml.safe_load(path.read_text(encoding="utf-8"))
        unit, year = STEM_RE.match(path.stem).groups()
        previous = by_stem.get(f"{unit}-{int(year) - 1}") or {}
        for key, item in head["metrics"].items():
            prior = previous.get(key)
            if isinstance(prior, dict) and prior.get("value") is not None:
                item["previous"] = prior["value"]
        comment = (f"# 虚构样例：{unit} {year} 年指标（下一年度），由 build_township.py 从 "
                   f"corpus/tools/src/{genre}/next/{path.name} 生成，previous 取自上一年度指标文件。\n")
        written.append(atomic_write_text(out_root / "next" / path.name, base.dump_yaml(head, comment)))
    return written


def build() -> list[Path]:
    saved = base.REPORTS
    try:
        return [p for genre in GENRES for p in build_genre(genre)]
    finally:
        base.REPORTS = saved


if __name__ == "__main__":
    for out in build():
        print(out.relative_to(ROOT))
