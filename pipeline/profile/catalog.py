"""Profiles: the metric catalog and section plan of a report genre, kept as data in `prompts/`.

A profile is a folder `prompts/<name>/` (or any folder path). Users copy and edit one to make a
genre of their own without touching code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from pipeline.errors import InputError

DEFAULT_PROFILE = "dangguan-wuzhuang"
PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"


@dataclass(frozen=True)
class CatalogEntry:
    key: str
    label: str
    unit: str
    kind: str          # count | money | percent | rank
    section: str
    aliases: tuple[str, ...] = ()


def profile_dir(profile: str = DEFAULT_PROFILE) -> Path:
    """Resolve a profile name (`dangguan-wuzhuang`) or a folder path to its folder."""
    candidate = Path(profile)
    if candidate.is_dir():
        return candidate
    extra = os.environ.get("SHUZHI_PROFILES")
    roots = ([Path(extra)] if extra else []) + [PROMPTS_DIR]
    for root in roots:
        if (root / profile).is_dir():
            return root / profile
    known = sorted(p.name for p in PROMPTS_DIR.iterdir() if p.is_dir()) if PROMPTS_DIR.is_dir() else []
    raise InputError(
        f"找不到模板配置（profile）“{profile}”；可用：{', '.join(known) or '无'}，或给出一个配置文件夹的路径。"
    )


def read_profile_yaml(path: Path, what: str) -> dict:
    """One YAML file of a profile as a mapping; a missing or malformed file is an InputError that
    says which part of the profile it is (`what`, e.g. “指标目录”) and how to restore it."""
    try:
        # libyaml's loader when present: the profile's nine files cost ~0.2 s of every command's
        # start with the pure-Python one (eval/bench_cli.py).
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    except FileNotFoundError as exc:
        raise InputError(
            f"模板配置缺少 {path.name}（{what}）；可从 prompts/{DEFAULT_PROFILE}/ 复制一份。", path=str(path)
        ) from exc
    except yaml.YAMLError as exc:
        raise InputError(f"{what}不是合法的 YAML：{exc}", path=str(path)) from exc
    if not isinstance(data, dict):
        raise InputError(f"{what}应是“键: 内容”的映射，实际是 {type(data).__name__}。", path=str(path))
    return data


@lru_cache(maxsize=16)
def load_catalog(profile: str = DEFAULT_PROFILE) -> dict[str, CatalogEntry]:
    data = read_profile_yaml(profile_dir(profile) / "catalog.yaml", "指标目录")
    entries: dict[str, CatalogEntry] = {}
    for key, spec in (data.get("metrics") or {}).items():
        entries[key] = CatalogEntry(
            key=key,
            label=spec["label"],
            unit=str(spec["unit"]),
            kind=spec["kind"],
            section=spec["section"],
            aliases=tuple(spec.get("aliases") or ()),
        )
    return entries
