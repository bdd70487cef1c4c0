"""Engine registry: `template`, `transformers:PATH`, `openai:URL#MODEL`.

Engines load lazily: naming `template` never imports torch or LangChain.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pipeline.drafting.engines.base import Engine, FacetRequest, FacetText, HeadingRequest
from pipeline.errors import UsageError

if TYPE_CHECKING:
    from pipeline.drafting.plan import Profile

__all__ = ["Engine", "FacetRequest", "FacetText", "HeadingRequest", "get_engine", "ENGINES"]


def _template(arg: str, profile: str | Profile) -> Engine:
    from pipeline.drafting.engines.template import TemplateEngine

    return TemplateEngine(profile=profile)


def _spec(profile: str | Profile) -> str:
    return profile if isinstance(profile, str) else profile.spec


def _transformers(arg: str, profile: str | Profile) -> Engine:
    from pipeline.drafting.engines.llm import TransformersEngine

    return TransformersEngine(path=arg, profile=_spec(profile))


def _openai(arg: str, profile: str | Profile) -> Engine:
    from pipeline.drafting.engines.llm import OpenAIEngine

    base_url, _, model = arg.partition("#")
    return OpenAIEngine(base_url=base_url, model=model, profile=_spec(profile))


ENGINES: dict[str, Callable[[str, str | Profile], Engine]] = {
    "template": _template,
    "transformers": _transformers,
    "openai": _openai,
}


def get_engine(spec: str = "template", *, profile: str | Profile = "dangguan-wuzhuang") -> Engine:
    """Build an engine from a spec such as `template`, `transformers:/models/qwen`,
    `openai:http://127.0.0.1:8000/v1#qwen2.5`. `profile` is a profile name or an already loaded
    `Profile` (the drafter passes the one it loaded, so the profile is read once per run)."""
    name, _, arg = spec.partition(":")
    factory = ENGINES.get(name)
    if factory is None:
        raise UsageError(
            f"未知的生成引擎“{spec}”；可用：template、transformers:模型目录、openai:地址#模型名。"
        )
    if name != "template" and not arg:
        raise UsageError(f"引擎“{name}”需要参数，例如 transformers:/path/to/model 或 openai:http://127.0.0.1:8000/v1#qwen。")
    if name == "openai" and "#" not in arg:
        raise UsageError("openai 引擎的写法是 openai:地址#模型名，例如 openai:http://127.0.0.1:8000/v1#qwen2.5。")
    return factory(arg, profile)
