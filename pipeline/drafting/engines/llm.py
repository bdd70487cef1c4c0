"""LLM engines: a local causal LM (`transformers:PATH`) and any OpenAI-compatible server
(`openai:URL#MODEL`), both through LangChain.

They write the facet text with metric placeholders (`{conscription.recruits}`); the orchestrator
fills the figures, runs the checker and re-asks or falls back to the template engine. Nothing heavy
is imported at module level: naming `template` must never pull in torch or LangChain.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipeline.drafting.engines.base import FacetRequest, FacetText, HeadingRequest
from pipeline.drafting.engines.prompting import (
    SECTION_NAMES,
    LLMPrompts,
    Message,
    clean_facet_text,
    clean_heading,
    facet_messages,
    heading_messages,
    load_llm_prompts,
)
from pipeline.errors import EngineError

__all__ = ["LLMEngine", "OpenAIEngine", "TransformersEngine", "api_key_from_env"]

log = logging.getLogger(__name__)



def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise EngineError(f"环境变量 {name}={raw!r} 不是数字；请改为数字或删除该变量。") from exc


def api_key_from_env() -> str:
    """SHUZHI_API_KEY, else OPENAI_API_KEY, else "EMPTY" (local servers that check no key still
    want the header). The key lives only in memory: never logged, never written."""
    return os.environ.get("SHUZHI_API_KEY") or os.environ.get("OPENAI_API_KEY") or "EMPTY"


class LLMEngine:
    """What both LLM engines share: prompts from the profile, answer clean-up, heading fallback."""

    name = "llm"
    concurrent = False

    def __init__(self, profile: str) -> None:
        self.profile = profile
        self._prompts: LLMPrompts | None = None

    @property
    def prompts(self) -> LLMPrompts:
        if self._prompts is None:
            self._prompts = load_llm_prompts(self.profile)
        return self._prompts

    def complete(self, messages: Sequence[Message], *, seed: int = 0) -> str:
        """One chat completion: the model's raw answer."""
        raise NotImplementedError

    def write_facet(self, request: FacetRequest) -> FacetText:
        raw = self.complete(facet_messages(request, self.prompts), seed=request.seed)
        text, warnings = clean_facet_text(raw, request)
        return FacetText(text=text, sources=tuple(c.chunk_id for c in request.exemplars), warnings=warnings)

    def write_heading(self, request: HeadingRequest) -> str:
        section_name = SECTION_NAMES.get(request.section_key, request.section_key)
        raw = self.complete(heading_messages(request, self.prompts, section_name), seed=request.seed)
        heading = clean_heading(raw)
        if heading is not None:
            return heading
        # A heading has no figures to check, so nothing downstream would catch a bad one: fall back
        # here to what the template engine would have chosen.
        log.info("heading answer unusable, using the template engine's: %r", raw[:80])
        return _template_heading(request)


def _template_heading(request: HeadingRequest) -> str:
    try:
        from pipeline.drafting.engines.template import TemplateEngine
    except ImportError:
        TemplateEngine = None  # noqa: N806 - the template engine is written by another stage
    if TemplateEngine is not None:
        return TemplateEngine(profile=request.profile).write_heading(request)
    if request.exemplars:
        return request.exemplars[0]
    return "扛牢政治责任，推动党管武装工作落地见效"


# --------------------------------------------------------------------------- OpenAI-compatible

class OpenAIEngine(LLMEngine):
    """Any server speaking the OpenAI chat-completions API (vLLM, Ollama, Xinference, …)."""

    name = "openai"
    concurrent = True

    def __init__(self, base_url: str, model: str, profile: str = "dangguan-wuzhuang", *,
                 timeout: float | None = None, max_retries: int | None = None) -> None:
        super().__init__(profile)
        if not re.match(r"^https?://[^/\s]+", base_url):
            raise EngineError(
                f"生成服务地址“{base_url}”不是 http(s):// 开头的网址；写法是 openai:http://主机:端口/v1#模型名。"
            )
        if not model:
            raise EngineError("openai 引擎缺少模型名；写法是 openai:http://主机:端口/v1#模型名。")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.timeout = timeout if timeout is not None else _env_number("SHUZHI_LLM_TIMEOUT", 60.0)
        self.max_retries = int(max_retries if max_retries is not None else _env_number("SHUZHI_LLM_RETRIES", 2))
        self.max_tokens = int(_env_number("SHUZHI_LLM_MAX_TOKENS", 512))
        self.temperature = _env_number("SHUZHI_LLM_TEMPERATURE", 0.0)
        self._chat: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:   # no key in any repr that might reach a log
        return f"OpenAIEngine(base_url={self.base_url!r}, model={self.model!r})"

    def _client(self) -> Any:
        with self._lock:
            if self._chat is None:
                try:
                    from langchain_openai import ChatOpenAI
                except ImportError as exc:
                    raise EngineError("openai 引擎需要 langchain-openai（核心安装已包含，本环境缺失）："
                                      "请运行 pip install 'langchain-openai>=1.0,<2'") from exc
                # `max_tokens` goes in the body as is: LangChain would rename it to
                # `max_completion_tokens`, which older vLLM/Ollama/Xinference servers ignore.
                self._chat = ChatOpenAI(
                    base_url=self.base_url, model=self.model, api_key=api_key_from_env(),
                    timeout=self.timeout, max_retries=self.max_retries, temperature=self.temperature,
                    extra_body={"max_tokens": self.max_tokens},
                )
            return self._chat

    def complete(self, messages: Sequence[Message], *, seed: int = 0) -> str:
        chat = self._client()          # first: a missing package is an EngineError with the fix
        import openai

        try:
            answer = chat.invoke(_lc_messages(messages), seed=seed)
        except openai.APITimeoutError as exc:
            raise EngineError(
                f"无法连接生成服务 {self.base_url}：{self.timeout:g} 秒内没有响应。"
                "请检查地址和服务状态，调大 SHUZHI_LLM_TIMEOUT，或使用 --engine template。"
            ) from exc
        except openai.APIConnectionError as exc:
            raise EngineError(
                f"无法连接生成服务 {self.base_url}：{self._reason(exc)}。请检查地址或使用 --engine template。"
            ) from exc
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            raise EngineError(
                f"生成服务 {self.base_url} 拒绝访问（HTTP {exc.status_code}）：请在环境变量 SHUZHI_API_KEY "
                "中设置正确的密钥。"
            ) from exc
        except openai.NotFoundError as exc:
            raise EngineError(
                f"生成服务 {self.base_url} 找不到模型“{self.model}”或对话接口（HTTP 404）：请检查模型名，"
                "地址通常以 /v1 结尾。"
            ) from exc
        except openai.APIStatusError as exc:
            raise EngineError(
                f"生成服务 {self.base_url} 返回错误（HTTP {exc.status_code}）：{self._reason(exc)}。"
                "请检查服务日志，或使用 --engine template。"
            ) from exc
        return _content(answer)

    def _reason(self, exc: BaseException) -> str:
        """The innermost cause, in words a user can act on; never the key."""
        import socket

        chain = [exc]
        while (nxt := chain[-1].__cause__ or chain[-1].__context__) is not None and len(chain) < 10:
            chain.append(nxt)
        if any(isinstance(e, ConnectionRefusedError) for e in chain):
            text = "连接被拒绝（该地址和端口上没有服务在运行）"
        elif any(isinstance(e, socket.gaierror) for e in chain):
            text = "无法解析主机名"
        elif any(isinstance(e, (TimeoutError, socket.timeout)) for e in chain):
            text = "连接超时"
        else:
            text = (str(chain[-1]) or type(chain[-1]).__name__).rstrip("。. ")
        key = api_key_from_env()
        if key != "EMPTY":
            text = text.replace(key, "***")
        return text[:200]


def _lc_messages(messages: Sequence[Message]) -> list[Any]:
    from langchain_core.messages import HumanMessage, SystemMessage

    return [SystemMessage(content=text) if role == "system" else HumanMessage(content=text)
            for role, text in messages]


def _content(answer: Any) -> str:
    content = getattr(answer, "content", answer)
    if isinstance(content, list):   # content blocks from newer chat models
        content = "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)
    return str(content)


# --------------------------------------------------------------------------- local transformers

class TransformersEngine(LLMEngine):
    """A local causal LM directory (config.json + weights + tokenizer); nothing is downloaded."""

    name = "transformers"
    concurrent = False   # one model in memory, generation holds both cores anyway

    def __init__(self, path: str | os.PathLike, profile: str = "dangguan-wuzhuang", *,
                 max_new_tokens: int | None = None) -> None:
        super().__init__(profile)
        self.path = Path(path).expanduser()
        if not self.path.is_dir():
            raise EngineError(
                f"模型目录不存在：{self.path}。transformers 引擎需要本机上的模型文件夹（含 config.json、"
                "权重和分词器文件），本工具不会下载模型。"
            )
        if not (self.path / "config.json").is_file():
            raise EngineError(
                f"{self.path} 不是模型目录：缺少 config.json。请给出 Hugging Face 格式的本地模型文件夹。"
            )
        self.max_new_tokens = int(max_new_tokens or _env_number("SHUZHI_LLM_MAX_TOKENS", 512))
        self.sample = os.environ.get("SHUZHI_LLM_SAMPLE", "") not in ("", "0")
        self.temperature = _env_number("SHUZHI_LLM_TEMPERATURE", 0.7)
        self._runner: Any = None
        self._chat_template = False
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._runner is not None:
                return self._runner
            try:
                from langchain_huggingface import ChatHuggingFace, HuggingFacePipeline
                from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline
            except ImportError as exc:
                raise EngineError(
                    "transformers 引擎需要 transformers、torch 和 langchain-huggingface："
                    "pip install transformers langchain-huggingface（torch 请装 CPU 版）"
                ) from exc
            try:
                tokenizer = AutoTokenizer.from_pretrained(str(self.path), local_files_only=True)
                model = AutoModelForCausalLM.from_pretrained(str(self.path), local_files_only=True)
            except (OSError, ValueError, KeyError) as exc:
                raise EngineError(f"无法从 {self.path} 加载模型：{str(exc)[:200]}") from exc
            model.eval()
            generation: dict[str, Any] = {"max_new_tokens": self.max_new_tokens, "do_sample": self.sample,
                                          "return_full_text": False}
            if self.sample:
                generation["temperature"] = self.temperature
            if tokenizer.pad_token_id is None and tokenizer.eos_token_id is not None:
                generation["pad_token_id"] = tokenizer.eos_token_id
            runner = pipeline("text-generation", model=model, tokenizer=tokenizer, **generation)
            llm = HuggingFacePipeline(pipeline=runner, pipeline_kwargs=generation)
            self._chat_template = bool(getattr(tokenizer, "chat_template", None))
            self._runner = ChatHuggingFace(llm=llm, tokenizer=tokenizer) if self._chat_template else llm
            return self._runner

    def complete(self, messages: Sequence[Message], *, seed: int = 0) -> str:
        runner = self._load()
        from transformers import set_seed

        set_seed(seed)   # identical seed → identical answer, also when sampling
        if self._chat_template:
            return _content(runner.invoke(_lc_messages(messages)))
        # a base model without a chat template gets the plain concatenation
        prompt = "\n\n".join(text for _role, text in messages) + "\n\n"
        return _content(runner.invoke(prompt))
