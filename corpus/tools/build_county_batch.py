"""Write corpus/sample/county-batch.xlsx: one county's year-end 述职会 as one workbook.

One row per unit (the wide layout `shuzhi batch` reads): 岚川县's secretary (corpus/sample/metrics.yaml)
and every township and street of 岚川县 (corpus/township/next/lanchuan-*.yaml), with a 层级 column
(县 / 乡 / 镇 / 街道) choosing each row's profile and a 配置 column naming it where a row wants to be
explicit. A column per metric key, `<key>.previous` and for ranks `<key>.scope` (全市 / 全县); lists are joined with `；`. All fictional.

Run: .venv/bin/python corpus/tools/build_county_batch.py
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

import yaml
from openpyxl import Workbook
from openpyxl.styles import Font

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pipeline.fsutil import atomic_write_bytes  # noqa: E402

TARGET = ROOT / "corpus" / "sample" / "county-batch.xlsx"
REPORTERS = {"岚川县": "林某某", "雾溪镇": "周某某", "柘岭乡": "吴某某", "青檀镇": "郑某某", "石笋乡": "王某某",
             "岚溪街道": "冯某某"}
LISTS = ("honours", "documents", "partners", "plans", "highlights")


def units() -> list[dict[str, Any]]:
    files = [ROOT / "corpus" / "sample" / "metrics.yaml",
             *sorted((ROOT / "corpus" / "township" / "next").glob("lanchuan-*.yaml"))]
    return [yaml.safe_load(p.read_text(encoding="utf-8")) for p in files]


def workbook_bytes(docs: list[dict[str, Any]], reporters: dict[str, str] | None = None) -> bytes:
    """One wide sheet 「述职单位」: a row per metrics document (a metrics YAML as a mapping)."""
    reporters = REPORTERS if reporters is None else reporters
    keys: list[str] = []
    for doc in docs:
        keys += [k for k in doc["metrics"] if k not in keys]
    heads = ["单位", "层级", "配置", "述职人", "meta.year", "meta.unit", "meta.reporter_title", "meta.superiors",
             "meta.date"]
    for key in keys:
        heads += [key, f"{key}.previous"] + ([f"{key}.scope"] if key.startswith("ranking.") else [])
    heads += list(LISTS)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "述职单位"
    sheet.append(heads)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for doc in docs:
        meta = doc["meta"]
        row: list[Any] = [meta["region"], meta.get("level"), meta.get("profile"), reporters.get(meta["region"]),
                          meta["year"], meta.get("unit"), meta.get("reporter_title"), "；".join(meta.get("superiors") or []),
                          str(meta.get("date") or "")]
        for key in keys:
            entry = doc["metrics"].get(key)
            entry = entry if isinstance(entry, dict) else ({"value": entry} if entry is not None else {})
            row += [entry.get("value"), entry.get("previous")]
            if key.startswith("ranking."):
                row.append(entry.get("scope"))
        row += ["；".join(doc.get(name) or []) or None for name in LISTS]
        sheet.append(row)
    sheet.freeze_panes = "B2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def build() -> Path:
    return atomic_write_bytes(TARGET, workbook_bytes(units()))


if __name__ == "__main__":
    print(build().relative_to(ROOT))
