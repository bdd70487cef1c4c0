"""Profiles: the metric catalog and section plan of a report genre, kept as data in `prompts/`.

A profile is a folder `prompts/<name>/` (or any folder path). Users copy and edit one to make a
genre of their own without touching code. A folder may hold `profile.yaml` naming the profile it
`extends:`; its own files then only override the parent's (catalog entries, plan sections and
facets, phrase banks, LLM prompts), so a township profile does not copy the county files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import InputError
from pipeline.models import SECTION_KEYS

DEFAULT_PROFILE = "dangguan-wuzhuang"
TOWNSHIP_PROFILE = "dangguan-wuzhuang-township"
PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"
MANIFEST = "profile.yaml"
METRIC_KINDS = ("count", "money", "percent", "rank")
# How deep `extends:` may chain; deeper is a loop someone did not see or a mistake.
MAX_EXTENDS = 8

YamlPath = tuple[str | int, ...]


@dataclass(frozen=True)
class CatalogEntry:
    key: str
    label: str
    unit: str
    kind: str          # count | money | percent | rank
    section: str
    aliases: tuple[str, ...] = ()
    # Other count units the same figure is written in (`协调解决实际问题17项` for a metric in 个): the
    # catalog marks them per metric, so validation and checking accept the same family.
    units: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProfileInfo:
    """What `profile.yaml` says about a profile folder (all optional)."""

    name: str
    path: Path
    title: str = ""                         # 县（区）委书记党管武装述职
    extends: str | None = None
    levels: tuple[str, ...] = ()            # meta.level values this profile serves (县、区 / 乡、镇、街道)
    avoid: tuple[str, ...] = ()             # words its drafts never say (another level's: 全镇 in a county draft)


@dataclass(frozen=True)
class LocatedYaml:
    """A profile YAML file as data, with the line of every key and list item (for error messages)."""

    path: Path
    data: dict
    lines: dict[YamlPath, int]

    def where(self, *path: str | int) -> str:
        """`line N` of the deepest known prefix of `path` (the file itself when none is known)."""
        for end in range(len(path), 0, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return f"第 {line} 行"
        return ""

    def error(self, message: str, *path: str | int) -> InputError:
        return InputError(message, path=str(self.path), location=self.where(*path) or None)


def _roots() -> list[Path]:
    extra = os.environ.get("SHUZHI_PROFILES")
    return ([Path(extra)] if extra else []) + [PROMPTS_DIR]


def profile_dir(profile: str = DEFAULT_PROFILE, *, relative_to: Path | None = None) -> Path:
    """Resolve a profile name (`dangguan-wuzhuang`) or a folder path to its folder. `relative_to`:
    the folder of a profile that `extends:` this one (a relative path is read from there)."""
    candidate = Path(profile)
    if candidate.is_dir():
        return candidate
    if relative_to is not None and (relative_to / profile).is_dir():
        return relative_to / profile
    for root in _roots():
        if (root / profile).is_dir():
            return root / profile
    known = sorted(p.name for p in PROMPTS_DIR.iterdir() if p.is_dir()) if PROMPTS_DIR.is_dir() else []
    raise InputError(
        f"找不到模板配置（profile）“{profile}”；可用：{', '.join(known) or '无'}，或给出一个配置文件夹的路径。"
    )


def read_located_yaml(path: Path, what: str, *, required: bool = True) -> LocatedYaml | None:
    """One YAML file of a profile with line numbers; a missing (when `required`) or malformed file is an
    InputError naming the file, the line and which part of the profile it is (`what`)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        if not required:
            return None
        raise InputError(
            f"模板配置缺少 {path.name}（{what}）；可从 prompts/{DEFAULT_PROFILE}/ 复制一份，"
            f"或在 {MANIFEST} 中用 extends: 继承另一个配置。", path=str(path)
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{what}无法读取（{exc}）；请另存为 UTF-8 文本。", path=str(path)) from exc
    # libyaml when present: a profile is nine files, read at the start of every command (eval/bench_cli.py).
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        node = loader.get_single_node()
        lines: dict[YamlPath, int] = {}
        data = _construct(loader, node, (), lines) if node is not None else {}
    except InputError as exc:           # a duplicate key found while constructing
        raise InputError(exc.message, path=str(path), location=exc.location) from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise InputError(f"{what}不是合法的 YAML：{exc.problem or exc.context}；请检查这一行的缩进、冒号后的空格和引号。",
                         path=str(path), location=f"第 {mark.line + 1} 行" if mark else None) from exc
    except yaml.YAMLError as exc:
        raise InputError(f"{what}不是合法的 YAML：{exc}", path=str(path)) from exc
    finally:
        loader.dispose()
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(f"{what}应是“键: 内容”的映射，实际是 {type(data).__name__}。", path=str(path),
                         location="第 1 行")
    return LocatedYaml(path=path, data=data, lines=lines)


def _construct(loader: Any, node: yaml.Node, path: YamlPath, lines: dict[YamlPath, int]) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if key in result:
                raise InputError(f"键“{key}”重复；同一个键只能写一次。", location=f"第 {key_node.start_mark.line + 1} 行")
            lines[path + (key,)] = key_node.start_mark.line + 1
            result[key] = _construct(loader, value_node, path + (key,), lines)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_construct(loader, item, path + (i,), lines) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def read_profile_yaml(path: Path, what: str) -> dict:
    """One YAML file of a profile as a mapping (see `read_located_yaml`)."""
    located = read_located_yaml(path, what)
    assert located is not None
    return located.data


# --------------------------------------------------------------------------- profile.yaml and extends

@lru_cache(maxsize=64)
def profile_info(profile: str = DEFAULT_PROFILE) -> ProfileInfo:
    folder = profile_dir(profile)
    return _info(folder)


def _info(folder: Path) -> ProfileInfo:
    manifest = read_located_yaml(folder / MANIFEST, "配置说明", required=False)
    if manifest is None:
        return ProfileInfo(name=folder.name, path=folder)
    data = manifest.data
    extends = data.get("extends")
    if extends is not None and not isinstance(extends, str):
        raise manifest.error("extends 应写一个配置名或文件夹路径，如 extends: dangguan-wuzhuang。", "extends")
    levels = data.get("levels") or []
    if not isinstance(levels, list) or not all(isinstance(v, str) for v in levels):
        raise manifest.error("levels 应是层级名称的列表，如 [乡, 镇, 街道]。", "levels")
    avoid = data.get("avoid") or []
    if not isinstance(avoid, list) or not all(isinstance(v, str) for v in avoid):
        raise manifest.error("avoid 应是词语的列表，如 [全镇, 镇党委]。", "avoid")
    return ProfileInfo(name=str(data.get("name") or folder.name), path=folder, title=str(data.get("title") or ""),
                       extends=extends, levels=tuple(levels), avoid=tuple(avoid))


@lru_cache(maxsize=64)
def profile_chain(profile: str = DEFAULT_PROFILE) -> tuple[Path, ...]:
    """The folders a profile is built from, the base first and the profile itself last."""
    folder = profile_dir(profile)
    chain = [folder]
    info = _info(folder)
    while info.extends:
        parent = profile_dir(info.extends, relative_to=info.path.parent)
        if parent.resolve() in {p.resolve() for p in chain}:
            raise InputError(f"extends 形成了循环（{' → '.join(p.name for p in chain)} → {parent.name}）；"
                             "请让一个配置只继承它的上级。", path=str(info.path / MANIFEST))
        if len(chain) > MAX_EXTENDS:
            raise InputError(f"extends 层数超过 {MAX_EXTENDS}；请检查继承关系。", path=str(info.path / MANIFEST))
        chain.append(parent)
        info = _info(parent)
    return tuple(reversed(chain))


def installed_profiles() -> list[ProfileInfo]:
    """Every profile folder in `SHUZHI_PROFILES` and `prompts/` (the first of a name wins)."""
    seen: dict[str, ProfileInfo] = {}
    for root in _roots():
        if not root.is_dir():
            continue
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            if folder.name in seen:
                continue
            if not any((folder / f).is_file() for f in (MANIFEST, "catalog.yaml", "plan.yaml")):
                continue
            seen[folder.name] = _info(folder)
    return list(seen.values())


# Levels as people write them in meta.level, to the profile family: 县/区 are county reports,
# 乡/镇/街道 township reports. A profile's own `levels:` list wins over these defaults.
_COUNTY_LEVELS = ("县", "区", "县级市", "旗", "县（区）", "县区")
_TOWNSHIP_LEVELS = ("乡", "镇", "街道", "乡镇", "乡镇（街道）", "苏木", "民族乡")


def level_class(level_or_region: str | None) -> str | None:
    """`county` or `township` for a meta.level (`镇`) or a region name (`雾溪镇`, `岚川县`); None if unknown."""
    text = (level_or_region or "").strip()
    if not text:
        return None
    if text in ("county", "township"):
        return text
    if text in _TOWNSHIP_LEVELS or text.endswith(("乡", "镇", "街道", "苏木")):
        return "township"
    if text in _COUNTY_LEVELS or text.endswith(("县", "区", "旗")):
        return "county"
    return None


def profile_for_level(level: str | None) -> str | None:
    """The installed profile serving a meta.level: the one listing it in `levels:`, else by level class."""
    text = (level or "").strip()
    if not text:
        return None
    for info in installed_profiles():
        if text in info.levels:
            return info.name
    cls = level_class(text)
    if cls == "township":
        return TOWNSHIP_PROFILE
    if cls == "county":
        return DEFAULT_PROFILE
    return None


def choose_profile(explicit: str | None, meta_profile: str | None, meta_level: str | None) -> str:
    """The profile of a metrics file: its meta.profile, else the one the caller names (`--profile`),
    else the profile of its meta.level (镇 → township), else the default (county)."""
    return meta_profile or explicit or profile_for_level(meta_level) or DEFAULT_PROFILE


# --------------------------------------------------------------------------- the catalog

@lru_cache(maxsize=16)
def load_catalog(profile: str = DEFAULT_PROFILE) -> dict[str, CatalogEntry]:
    """The merged metric catalog: the base profile's entries, each child's entries merged over them
    (a child may change only `label` or `aliases`), `key: null` or `remove: [keys]` dropping one."""
    chain = profile_chain(profile)
    merged: dict[str, dict[str, Any]] = {}
    origin: dict[str, tuple[LocatedYaml, str]] = {}
    found = False
    for folder in chain:
        located = read_located_yaml(folder / "catalog.yaml", "指标目录", required=False)
        if located is None:
            continue
        found = True
        data = located.data
        metrics = data.get("metrics") or {}
        if not isinstance(metrics, dict):
            raise located.error("metrics 应是“指标键: 说明”的映射。", "metrics")
        removed = data.get("remove") or []
        if not isinstance(removed, list):
            raise located.error("remove 应是指标键的列表。", "remove")
        for i, key in enumerate(removed):
            if key not in merged:
                raise located.error(f"remove 中的指标“{key}”在上级配置中不存在；请检查拼写。", "remove", i)
            merged.pop(key)
        for key, spec in metrics.items():
            if spec is None:
                merged.pop(str(key), None)
                continue
            if not isinstance(spec, dict):
                raise located.error(f"指标 {key} 应是 label、unit、kind、section 等字段的映射。", "metrics", key)
            merged[str(key)] = {**merged.get(str(key), {}), **spec}
            origin[str(key)] = (located, str(key))
    if not found:
        raise InputError(f"模板配置缺少 catalog.yaml（指标目录）；可从 prompts/{DEFAULT_PROFILE}/ 复制一份，"
                         f"或在 {MANIFEST} 中用 extends: 继承另一个配置。", path=str(chain[-1] / "catalog.yaml"))
    entries: dict[str, CatalogEntry] = {}
    for key, spec in merged.items():
        located, _ = origin[key]
        for field_name in ("label", "unit", "kind", "section"):
            if spec.get(field_name) in (None, ""):
                raise located.error(f"指标 {key} 缺少 {field_name}；每个指标须有 label、unit、kind、section。",
                                    "metrics", key)
        if spec["kind"] not in METRIC_KINDS:
            raise located.error(f"指标 {key} 的 kind“{spec['kind']}”无效；可用：{'、'.join(METRIC_KINDS)}。",
                                "metrics", key, "kind")
        if spec["section"] not in SECTION_KEYS:
            raise located.error(f"指标 {key} 的 section“{spec['section']}”无效；可用：{'、'.join(SECTION_KEYS)}。",
                                "metrics", key, "section")
        aliases = spec.get("aliases") or ()
        if not isinstance(aliases, list | tuple) or not all(isinstance(a, str) for a in aliases):
            raise located.error(f"指标 {key} 的 aliases 应是字符串列表。", "metrics", key, "aliases")
        units = spec.get("units") or ()
        if not isinstance(units, list | tuple) or not all(isinstance(u, str) for u in units):
            raise located.error(f"指标 {key} 的 units 应是字符串列表。", "metrics", key, "units")
        entries[key] = CatalogEntry(key=key, label=str(spec["label"]), unit=str(spec["unit"]), kind=str(spec["kind"]),
                                    section=str(spec["section"]), aliases=tuple(aliases),
                                    units=tuple(str(u) for u in units))
    return entries
