"""Engine registry: `template`, `transformers:PATH`, `openai:URL#MODEL`.

Engines load lazily: naming `template` never imports torch or LangChain.
"""

from __future__ import annotations

from collections.abc import Callable

from pipeline.engines.base import Engine, FacetRequest, FacetText, HeadingRequest
from pipeline.errors import UsageError

__all__ = ["Engine", "FacetRequest", "FacetText", "HeadingRequest", "get_engine", "ENGINES"]


def _template(arg: str, profile: str) -> Engine:
    from pipeline.engines.template import TemplateEngine

    return TemplateEngine(profile=profile)


def _transformers(arg: str, profile: str) -> Engine:
    from pipeline.engines.llm import TransformersEngine

    return TransformersEngine(path=arg, profile=profile)


def _openai(arg: str, profile: str) -> Engine:
    from pipeline.engines.llm import OpenAIEngine

    base_url, _, model = arg.partition("#")
    return OpenAIEngine(base_url=base_url, model=model, profile=profile)


ENGINES: dict[str, Callable[[str, str], Engine]] = {
    "template": _template,
    "transformers": _transformers,
    "openai": _openai,
}


def get_engine(spec: str = "template", *, profile: str = "dangguan-wuzhuang") -> Engine:
    """Build an engine from a spec such as `template`, `transformers:/models/qwen`,
    `openai:http://127.0.0.1:8000/v1#qwen2.5`."""
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
