"""Prompts for the LLM engines and the clean-up of what a model answers.

No model code here (no torch, no LangChain): building messages and cleaning answers are pure
string work, shared by the transformers and OpenAI-compatible engines and tested without a model.
Prompt wording is data, in `prompts/<profile>/llm.yaml`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from pipeline.drafting.engines.base import FacetRequest, HeadingRequest
from pipeline.errors import InputError
from pipeline.facts.quantities import extract_quantities
from pipeline.models import Chunk, Metrics
from pipeline.profile.catalog import profile_chain, profile_dir, read_profile_yaml

__all__ = [
    "LLMPrompts", "Message", "PLACEHOLDER", "load_llm_prompts", "mask_exemplar", "facet_messages",
    "heading_messages", "summary_messages", "clean_facet_text", "clean_heading", "strip_markup",
    "allowed_names", "fill_slots", "SECTION_NAMES",
]

Message = tuple[str, str]   # (role, content); role is "system" or "user"

_ORDINALS = "一二三四五六七八九十"
PLACEHOLDER = re.compile(r"\{\s*([A-Za-z_][\w]*(?:\.[\w]+)+)\s*(?::\s*(cn|num|rank)\s*)?\}")
"""A metric placeholder: `{conscription.recruits}`, optionally `{key:cn}`, `{key:num}`, `{key:rank}`."""

# Slots the phrase banks use; the LLM engines fill them here, so the orchestrator only ever sees
# metric placeholders from an LLM answer.
_SLOT = re.compile(r"\{(year|next_year|region|whole|superiors|role|unit)\}")

_REQUIRED_KEYS = ("system", "heading", "facet", "feedback", "summarize_system", "summarize")


@dataclass(frozen=True)
class LLMPrompts:
    system: str
    heading: str
    facet: str
    feedback: str
    summarize_system: str
    summarize: str
    no_placeholders: str = "本要点不需要数字，不要写任何数字或占位符。"
    no_names: str = "（无）"
    no_exemplars: str = "（无）"
    # Update mode: last year's text of the sub-point, this year's figures as placeholders.
    update: str = ("这是上年报告中这一要点的文字，数字已换成今年的占位符，与上年的比较已经写好：\n{{previous}}\n"
                   "请在这段文字的基础上改写成今年的表述：保留仍然成立的内容和写法，每个占位符恰好用一次，"
                   "不得改动占位符和“较上年”之后的数字。")


@lru_cache(maxsize=8)
def load_llm_prompts(profile: str) -> LLMPrompts:
    # A profile that extends another overrides only the prompt texts it writes.
    path = profile_dir(profile) / "llm.yaml"
    data: dict = {}
    for folder in profile_chain(profile):
        if (folder / "llm.yaml").is_file():
            path = folder / "llm.yaml"
            data.update(read_profile_yaml(path, "大模型提示词"))
    missing = [k for k in _REQUIRED_KEYS if not isinstance(data.get(k), str)]
    if missing:
        raise InputError(f"提示词文件缺少这些文本项：{'、'.join(missing)}；请按 prompts/dangguan-wuzhuang/llm.yaml 补齐。",
                         path=str(path))
    fields = {k: str(v).strip() for k, v in data.items() if k in LLMPrompts.__dataclass_fields__}
    return LLMPrompts(**fields)


def _render(template: str, **slots: str) -> str:
    """Fill `{{slot}}`s; single braces stay, they are placeholders the model must copy."""
    def sub(match: re.Match[str]) -> str:
        return slots.get(match.group(1), match.group(0))

    text = re.sub(r"\{\{(\w+)\}\}", sub, template)
    # an empty optional block (no feedback) should not leave a blank line in the prompt
    return re.sub(r"\n\s*\n", "\n", text).strip()


SECTION_NAMES = {
    "opening": "开头", "duty": "履职情况", "systems": "制度落实", "foundation": "基础建设",
    "plans": "下步打算", "closing": "结尾", "other": "其他",
}


def _ordinal(n: int) -> str:
    return _ORDINALS[n - 1] if 1 <= n <= len(_ORDINALS) else str(n)


def _whole(metrics: Metrics) -> str:
    level = metrics.meta.level or (metrics.meta.region[-1:] if metrics.meta.region else "")
    return {"县": "全县", "区": "全区", "市": "全市", "乡镇": "全镇", "镇": "全镇", "乡": "全乡"}.get(level, "全县")


def _role(metrics: Metrics) -> str:
    return metrics.meta.reporter_title or "县委书记、县人武部党委第一书记"


def allowed_names(metrics: Metrics) -> tuple[str, ...]:
    """Every name the data allows a draft to mention, as the text would write it."""
    names: list[str] = [metrics.meta.region]
    if metrics.meta.unit:
        names.append(metrics.meta.unit)
    names += list(metrics.meta.superiors)
    names += list(metrics.partners)
    names += [f"《{d}》" for d in metrics.documents]
    names += [f"“{h}”" for h in metrics.honours]
    return tuple(dict.fromkeys(n for n in names if n))


def fill_slots(text: str, metrics: Metrics) -> str:
    meta = metrics.meta
    values = {
        "year": str(meta.year), "next_year": str(meta.year + 1), "region": meta.region,
        "whole": _whole(metrics), "superiors": "、".join(meta.superiors) or "上级党委",
        "role": _role(metrics), "unit": meta.unit or f"{meta.region}人武部",
    }
    return _SLOT.sub(lambda m: values[m.group(1)], text)


# --------------------------------------------------------------------------- exemplars

# Inside a quantity's span: digits, Chinese numerals (万/亿 kept when they end the figure, so
# "45万元" reads "＊万元") and the masks authors use.
_FIGURE = re.compile(r"[0-9０-９]+(?:[.．][0-9０-９]+)?|[零〇一二两三四五六七八九十百千]+(?:[万亿][零〇一二两三四五六七八九十百千]+)*"
                     r"|[*＊×xX]+")
_TITLE = re.compile(r"《[^》]{1,60}》")


def mask_exemplar(text: str, names: Iterable[str] = ()) -> str:
    """A past passage with its figures replaced by ＊ and the given names by ＊＊, so a model can
    learn the phrasing without copying last year's (or another county's) facts. Figures are the
    spans the checker itself reads as quantities, so a masked exemplar has nothing it would check."""
    pieces: list[str] = []
    cursor = 0
    for quantity in extract_quantities(text):
        pieces.append(text[cursor:quantity.start])
        pieces.append(_FIGURE.sub("＊", text[quantity.start:quantity.end]))
        cursor = quantity.end
    pieces.append(text[cursor:])
    text = "".join(pieces)
    for name in sorted({n for n in names if n}, key=len, reverse=True):
        text = text.replace(name, "＊＊")
    text = _TITLE.sub("《＊＊》", text)
    return re.sub("＊{2,}", "＊＊", text)


def _exemplar_names(chunk: Chunk) -> tuple[str, ...]:
    if not chunk.region:
        return ()
    region = chunk.region
    # "澄浦县" is also written "澄浦" and "澄浦县人武部"
    stem = region[:-1] if len(region) > 2 and region[-1] in "县区市镇乡" else region
    return (region, stem)


# --------------------------------------------------------------------------- messages

def facet_messages(request: FacetRequest, prompts: LLMPrompts, *, max_exemplars: int = 3) -> list[Message]:
    if request.metric_keys:
        placeholders = "\n".join(
            f"{{{key}}}：{request.metric_labels.get(key, key)}" for key in request.metric_keys
        )
    else:
        placeholders = prompts.no_placeholders
    names = "、".join(allowed_names(request.metrics)) or prompts.no_names
    exemplars = "\n".join(
        f"（{i}）{mask_exemplar(chunk.text, _exemplar_names(chunk))}"
        for i, chunk in enumerate(request.exemplars[:max_exemplars], start=1)
    ) or prompts.no_exemplars
    feedback = ""
    if request.feedback:
        lines = "\n".join(f"（{i}）{line}" for i, line in enumerate(request.feedback, start=1))
        feedback = _render(prompts.feedback, feedback=lines)
    meta = request.metrics.meta
    # the orchestrator numbers sub-points itself and may not have chosen the heading yet
    heading = request.section_heading or SECTION_NAMES.get(request.section_key, request.section_key)
    topic = request.topic or heading
    ordinal = _ordinal(request.ordinal) if request.ordinal >= 1 else "一"
    user = _render(
        prompts.facet, heading=heading, ordinal=ordinal, topic=topic,
        placeholders=placeholders, names=names, exemplars=exemplars, feedback=feedback,
        region=meta.region, year=str(meta.year), section=request.section_key,
    )
    if request.previous:
        user = user + "\n" + _render(prompts.update, previous=request.previous)
    return [("system", _system(prompts, request.metrics)), ("user", user)]


def heading_messages(request: HeadingRequest, prompts: LLMPrompts, section_name: str) -> list[Message]:
    meta = request.metrics.meta
    past = "\n".join(request.exemplars[:5]) or prompts.no_exemplars
    user = _render(prompts.heading, region=meta.region, year=str(meta.year), section=section_name,
                   past_headings=past)
    return [("system", _system(prompts, request.metrics)), ("user", user)]


def summary_messages(heading: str, source: str, count: int, prompts: LLMPrompts) -> list[Message]:
    user = _render(prompts.summarize, heading=heading, count=str(count), source=source)
    return [("system", prompts.summarize_system), ("user", user)]


def _system(prompts: LLMPrompts, metrics: Metrics) -> str:
    return _render(prompts.system, role=_role(metrics), region=metrics.meta.region, year=str(metrics.meta.year))


# --------------------------------------------------------------------------- answers

_THINK = re.compile(r"<think>.*?(?:</think>|\Z)", re.S)
_MD_LINE = re.compile(r"^\s*(?:#{1,6}\s*|>\s*|[-*+•]\s+|\d+[.、)]\s*|（?[一二三四五六七八九十]+）\s*)")
_LEAD_ORDINAL = re.compile(rf"^\s*(?:[{_ORDINALS}]是|首先|其次|最后)[，,：:]?")


def strip_markup(text: str) -> str:
    """Remove what chat models add around an answer: reasoning blocks, Markdown, code fences."""
    text = _THINK.sub("", text)
    text = text.replace("```", "")
    text = re.sub(r"\*\*|__|`", "", text)
    text = text.replace("｛", "{").replace("｝", "}")
    lines = [_MD_LINE.sub("", line).strip() for line in text.splitlines()]
    return "\n".join(line for line in lines if line)


def _sentences(text: str) -> list[str]:
    return [s for s in re.findall(r"[^。！？；]*[。！？；]|[^。！？；]+$", text) if s.strip()]


def clean_facet_text(raw: str, request: FacetRequest) -> tuple[str, tuple[str, ...]]:
    """Turn a model's answer into one paragraph with only the facet's placeholders.

    A sentence naming a placeholder the facet was not given is dropped (the orchestrator could not
    fill it), with a warning; everything else, literal figures included, is left for the checker.
    """
    warnings: list[str] = []
    text = strip_markup(raw)
    text = "".join(text.split("\n"))
    text = _LEAD_ORDINAL.sub("", text)
    topic = request.topic.strip("。 ")
    if topic and text.startswith(topic):
        text = text[len(topic):].lstrip("。，,；; ")
    text = fill_slots(text, request.metrics)
    text = PLACEHOLDER.sub(lambda m: "{" + m.group(1) + (f":{m.group(2)}" if m.group(2) else "") + "}", text)
    allowed = set(request.metric_keys)
    kept: list[str] = []
    for sentence in _sentences(text):
        unknown = [m.group(1) for m in PLACEHOLDER.finditer(sentence) if m.group(1) not in allowed]
        if unknown:
            warnings.append(f"删去含未给定占位符 {', '.join('{' + k + '}' for k in unknown)} 的句子：{sentence}")
            continue
        kept.append(sentence)
    text = "".join(kept).strip()
    if text and text[-1] not in "。！？":
        text = text.rstrip("，,；;：: ") + "。"
    stated = {m.group(1) for m in PLACEHOLDER.finditer(text)}
    missing = [k for k in request.metric_keys if k not in stated]
    if missing:
        warnings.append(f"生成文本缺少占位符：{', '.join('{' + k + '}' for k in missing)}")
    return text, tuple(warnings)


_HEADING_OK = re.compile(r"^[\u4e00-\u9fff“”]{4,16}，[\u4e00-\u9fff“”]{4,20}$")


def clean_heading(raw: str) -> str | None:
    """The first usable line of a heading answer, without number or final stop; None if it does not
    look like a 公文 heading (two Chinese clauses joined by a comma, no figures)."""
    for line in strip_markup(raw).splitlines():
        line = re.sub(r"^[一二三四五六七八九十]+、\s*", "", line.strip())
        line = line.strip("“”\"'。．. ").replace(",", "，")
        if _HEADING_OK.match(line):
            return line
    return None
