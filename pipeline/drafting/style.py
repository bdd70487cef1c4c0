"""The genre's writing rules kept as profile data (`prompts/<profile>/style.yaml`).

Separate from the plan and phrase banks (`pipeline.drafting.plan.load_profile`): these are the
rules update mode and the measurement apply — which words mark a one-off event, which compare with
an earlier year, the stock words whose density is watched, and the phrases of a comparison. A
profile without the file gets the defaults below (the 党管武装 genre's).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from pipeline.errors import InputError
from pipeline.profile.catalog import DEFAULT_PROFILE, profile_dir, read_profile_yaml


@dataclass(frozen=True)
class StyleRules:
    event_words: tuple[str, ...] = ("首次", "建成", "新建", "新增", "投用", "落成", "竣工", "启动", "被评为", "荣获")
    change_words: tuple[str, ...] = ("较上年", "比上年", "同比", "增长", "增加", "减少", "下降", "提高", "继续",
                                     "连续", "保持", "再次", "重返", "跃升", "首次")
    stock_words: tuple[str, ...] = ("坚持", "推动", "切实", "不断", "进一步")
    max_comparisons: int = 6
    # Stock words per 1,000 characters a draft may hold (the seed report has 12.3); 0 turns the trim off.
    stock_budget: float = 11.5
    comparison: dict[str, str] = field(default_factory=lambda: {
        "up": "，较上年增加{diff}", "down": "，较上年减少{diff}",
        "points_up": "，较上年提高{points}个百分点", "points_down": "，较上年下降{points}个百分点"})
    rank_same: str = "{label}连续两年保持{rank}"
    rank_up: str = "{label}排名{rank}，较上年前进{moved}个位次"
    rank_down: str = "{label}排名{rank}"
    kept_comment: str = "沿用上年表述，请核实是否仍然属实"
    rebound_comment: str = "数字已换成本年数据，其余表述沿用上年，请核实是否仍然属实"
    # Openings of a sentence with no subject (a bare result): such a sentence continues the one before.
    fragment_starts: tuple[str, ...] = ("有力", "有效", "为", "推动了", "切实做到", "全面提升了", "圆满完成了",
                                        "巩固和发展了", "形成了", "实现了", "激发了", "确保了", "进一步", "在{whole}营造",
                                        "以实际行动")


def _words(data: dict, key: str, default: tuple[str, ...], where: str) -> tuple[str, ...]:
    value = data.get(key)
    if value is None:
        return default
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InputError(f"{key} 应是非空字符串的列表。", path=where)
    return tuple(value)


def _text(data: dict, key: str, default: str, where: str) -> str:
    value = data.get(key)
    if value is None:
        return default
    if not isinstance(value, str) or not value:
        raise InputError(f"{key} 应是一段文字。", path=where)
    return value


def _number(data: dict, key: str, default: float, where: str) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise InputError(f"{key} 应是不小于 0 的数。", path=where)
    return float(value)


@lru_cache(maxsize=16)
def load_style(profile: str = DEFAULT_PROFILE) -> StyleRules:
    """The profile's style rules; defaults when the profile has no style.yaml."""
    path = profile_dir(profile) / "style.yaml"
    if not path.exists():
        return StyleRules()
    data = read_profile_yaml(path, "写作规则")
    where = str(path)
    base = StyleRules()
    comparison = data.get("comparison", base.comparison)
    if not isinstance(comparison, dict) or not all(isinstance(v, str) for v in comparison.values()):
        raise InputError("comparison 应是“up/down/points_up/points_down: 句式”的映射。", path=where)
    missing = [k for k in ("up", "down", "points_up", "points_down") if k not in comparison]
    if missing:
        raise InputError(f"comparison 缺少这些句式：{'、'.join(missing)}。", path=where)
    limit = data.get("max_comparisons", base.max_comparisons)
    if not isinstance(limit, int) or limit < 0:
        raise InputError("max_comparisons 应是不小于 0 的整数。", path=where)
    return StyleRules(
        event_words=_words(data, "event_words", base.event_words, where),
        change_words=_words(data, "change_words", base.change_words, where),
        stock_words=_words(data, "stock_words", base.stock_words, where),
        max_comparisons=limit,
        stock_budget=_number(data, "stock_budget", base.stock_budget, where),
        comparison=dict(comparison),
        rank_same=_text(data, "rank_same", base.rank_same, where),
        rank_up=_text(data, "rank_up", base.rank_up, where),
        rank_down=_text(data, "rank_down", base.rank_down, where),
        kept_comment=_text(data, "kept_comment", base.kept_comment, where),
        rebound_comment=_text(data, "rebound_comment", base.rebound_comment, where),
        fragment_starts=_words(data, "fragment_starts", base.fragment_starts, where),
    )


def stock_density(text: str, words: tuple[str, ...]) -> float:
    """Occurrences of the stock words per 1,000 characters of `text`."""
    if not text:
        return 0.0
    return sum(text.count(w) for w in words) * 1000 / len(text)
