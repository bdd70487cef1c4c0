"""LLM engines: prompts, answer clean-up, the OpenAI-compatible client against a loopback server,
and the transformers path against a tiny randomly initialised model written by the test."""

from __future__ import annotations

import json
import logging
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pipeline.drafting.engines import get_engine
from pipeline.drafting.engines.base import FacetRequest, HeadingRequest
from pipeline.drafting.engines.llm import OpenAIEngine, TransformersEngine
from pipeline.drafting.engines.prompting import (
    clean_facet_text,
    clean_heading,
    facet_messages,
    load_llm_prompts,
    mask_exemplar,
)
from pipeline.errors import EngineError
from pipeline.models import Chunk, Metrics, MetricValue, ReportMeta

ROOT = Path(__file__).resolve().parent.parent
PROFILE = "dangguan-wuzhuang"
KEY = "sk-test-7f3a9c"

METRICS = Metrics(
    meta=ReportMeta(year=2024, region="青岚县", level="县", unit="青岚县人武部",
                    reporter_title="县委书记、县人武部党委第一书记", superiors=("市委", "市政府", "军分区党委")),
    values=(
        MetricValue("conscription.recruits", "输送合格青年", "人", "systems", "count", Decimal(215)),
        MetricValue("conscription.college_ratio", "大学生征集比例", "%", "systems", "percent", Decimal(62)),
        MetricValue("militia.primary", "基干民兵", "人", "systems", "count", Decimal(1800)),
    ),
    partners=("云溪镇竹坪村",),
    documents=("青岚县征兵工作20条措施",),
)

EXEMPLAR = Chunk(
    chunk_id="chengpu-2022#7", doc_id="chengpu-2022", path="corpus/reports/chengpu-2022.txt",
    region="澄浦县", year=2022, section_key="systems", heading="坚持制度",
    text="出台了《澄浦县征兵工作十条》，向部队输送合格青年186人，其中大学生占比达到57.5％，征兵“五率”考评全市第三。",
    position=7,
)


def facet_request(**changes) -> FacetRequest:
    base = dict(
        profile=PROFILE, section_key="systems", section_heading="坚持制度，努力推动党管武装工作措施落地",
        facet_id="conscription", topic="圆满完成新兵征集任务", ordinal=2,
        metric_keys=("conscription.recruits", "conscription.college_ratio"),
        metric_labels={"conscription.recruits": "输送合格青年（人）", "conscription.college_ratio": "大学生征集比例（%）"},
        metrics=METRICS, exemplars=(EXEMPLAR,), seed=3,
    )
    base.update(changes)
    return FacetRequest(**base)


# --------------------------------------------------------------------------- loopback server

@dataclass
class FakeChatServer:
    """POST /v1/chat/completions on 127.0.0.1; answers come from `script`, one per request,
    the last one repeated. An answer is (status, content)."""

    script: list[tuple[int, str]] = field(default_factory=lambda: [(200, "好")])
    requests: list[dict] = field(default_factory=list)
    answer: Callable[[dict], str] | None = None
    url: str = ""
    hold: threading.Event | None = None    # set: the server answers only once the event is set

    def handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:   # keep pytest output clean
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
                if server.hold is not None:
                    server.hold.wait(timeout=30)
                index = min(len(server.requests), len(server.script)) - 1
                status, content = server.script[index]
                if status == 200 and server.answer is not None:
                    content = server.answer(body)
                if status == 200:
                    payload = {
                        "id": "x", "object": "chat.completion", "created": 0, "model": body.get("model"),
                        "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": content}}],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                    }
                else:
                    payload = {"error": {"message": content, "type": "server_error"}}
                data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("retry-after-ms", "1")   # keep the client's retry back-off short
                self.end_headers()
                self.wfile.write(data)

        return Handler


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:   # a client that gave up: expected
        pass


@pytest.fixture
def chat_server(monkeypatch) -> Iterator[FakeChatServer]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    fake = FakeChatServer()
    httpd = _QuietServer(("127.0.0.1", 0), fake.handler())
    fake.url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield fake
    httpd.shutdown()
    httpd.server_close()


def _user_prompt(request: dict) -> str:
    return next(m["content"] for m in request["body"]["messages"] if m["role"] == "user")


# --------------------------------------------------------------------------- prompts

def test_facet_prompt_lists_placeholders_names_and_masked_exemplars():
    system, user = facet_messages(facet_request(), load_llm_prompts(PROFILE))
    assert system[0] == "system" and "公文语体" in system[1] and "Markdown" in system[1]
    prompt = user[1]
    assert "{conscription.recruits}：输送合格青年（人）" in prompt
    assert "{conscription.college_ratio}：大学生征集比例（%）" in prompt
    assert "圆满完成新兵征集任务" in prompt and "第二个要点" in prompt
    assert "云溪镇竹坪村" in prompt and "《青岚县征兵工作20条措施》" in prompt
    # the exemplar's figures and names are gone, its phrasing stays
    assert "向部队输送合格青年＊人" in prompt
    for leaked in ("186", "57.5", "澄浦", "第三", "征兵工作十条"):
        assert leaked not in prompt
    assert "上一稿" not in prompt


def test_prompt_as_the_orchestrator_asks_for_the_opening():
    # the orchestrator sends no heading and ordinal 0 for un-numbered facets
    request = facet_request(section_key="opening", section_heading="", topic="", ordinal=0,
                            metric_keys=("conscription.recruits",), exemplars=())
    prompt = facet_messages(request, load_llm_prompts(PROFILE))[1][1]
    assert "述职报告“开头”部分的第一个要点" in prompt and "“”" not in prompt
    assert "{conscription.recruits}：输送合格青年（人）" in prompt
    assert "{conscription.college_ratio}" not in prompt


def test_feedback_goes_into_the_prompt():
    request = facet_request(feedback=("“186人”与数据不符：输送合格青年应为{conscription.recruits}",
                                      "出现了未给定的地名“澄浦县”"))
    prompt = facet_messages(request, load_llm_prompts(PROFILE))[1][1]
    assert "上一稿存在以下问题" in prompt
    assert "（1）“186人”与数据不符" in prompt and "（2）出现了未给定的地名“澄浦县”" in prompt


@pytest.mark.parametrize(
    ("text", "names", "expected"),
    [
        ("向部队输送合格青年186人", (), "向部队输送合格青年＊人"),
        ("参训率达到９８％，合格率100%", (), "参训率达到＊％，合格率＊%"),
        ("分三批参加集中轮训，走访慰问二十余次", (), "分＊批参加集中轮训，走访慰问＊余次"),
        ("考评排名全市第二，综合考核位居全省第一", (), "考评排名全市第＊，综合考核位居全省第＊"),
        ("一是推进民兵改革。统一规划、进一步落实第一书记职责", (), "一是推进民兵改革。统一规划、进一步落实第一书记职责"),
        ("出台《澄浦县征兵工作十条》", (), "出台《＊＊》"),
        ("澄浦县人武部与澄浦二中共建", ("澄浦县", "澄浦"), "＊＊人武部与＊＊二中共建"),
        ("基干民兵精简至****人，普通民兵*万人，投入45万元", (), "基干民兵精简至＊人，普通民兵＊万人，投入＊万元"),
        ("2022年以来，8月27日召开", (), "＊年以来，＊月＊日召开"),
    ],
)
def test_mask_exemplar(text, names, expected):
    assert mask_exemplar(text, names) == expected


@pytest.mark.parametrize(
    ("raw", "expected", "warning"),
    [
        ("向部队输送合格青年{conscription.recruits}，其中大学生占{conscription.college_ratio}。",
         "向部队输送合格青年{conscription.recruits}，其中大学生占{conscription.college_ratio}。", None),
        ("<think>先想一想</think>\n**圆满完成新兵征集任务。**\n- 向部队输送合格青年｛conscription.recruits｝，"
         "大学生占{ conscription.college_ratio }",
         "向部队输送合格青年{conscription.recruits}，大学生占{conscription.college_ratio}。", None),
        ("二是坚持全面动员。输送{conscription.recruits}，大学生{conscription.college_ratio}。"
         "基干民兵{militia.primary}。",
         "坚持全面动员。输送{conscription.recruits}，大学生{conscription.college_ratio}。", "militia.primary"),
        ("{whole}输送合格青年{conscription.recruits}，{region}大学生比例{conscription.college_ratio}。",
         "全县输送合格青年{conscription.recruits}，青岚县大学生比例{conscription.college_ratio}。", None),
        ("严格把关，确保兵员质量。", "严格把关，确保兵员质量。", "缺少占位符"),
    ],
)
def test_clean_facet_text(raw, expected, warning):
    text, warnings = clean_facet_text(raw, facet_request())
    assert text == expected
    if warning is None:
        assert warnings == ()
    else:
        assert any(warning in w for w in warnings)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("一、立足岗位，不断提升党管武装工作能力素质", "立足岗位，不断提升党管武装工作能力素质"),
        ("## “强化担当，全面加强党对武装工作的领导。”", "强化担当，全面加强党对武装工作的领导"),
        ("标题如下：\n聚焦主责,扎实履行第一书记职责使命", "聚焦主责，扎实履行第一书记职责使命"),
        ("记 记 记 记", None),
        ("完成2024年任务，输送青年", None),
    ],
)
def test_clean_heading(raw, expected):
    assert clean_heading(raw) == expected


# --------------------------------------------------------------------------- OpenAI-compatible

def test_openai_engine_sends_prompt_and_bearer_key(chat_server, monkeypatch, caplog, tmp_path):
    monkeypatch.setenv("SHUZHI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-other")
    chat_server.script = [(200, "向部队输送合格青年{conscription.recruits}，大学生占{conscription.college_ratio}。")]
    caplog.set_level(logging.DEBUG)
    engine = get_engine(f"openai:{chat_server.url}#qwen-local", profile=PROFILE)
    assert isinstance(engine, OpenAIEngine) and engine.concurrent is True and engine.name == "openai"
    answer = engine.write_facet(facet_request())
    assert answer.text == "向部队输送合格青年{conscription.recruits}，大学生占{conscription.college_ratio}。"
    assert answer.sources == ("chengpu-2022#7",)
    (request,) = chat_server.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["authorization"] == f"Bearer {KEY}"
    assert request["body"]["model"] == "qwen-local"
    assert request["body"]["seed"] == 3
    assert (request["body"]["max_tokens"], request["body"]["temperature"]) == (512, 0.0)
    assert "{conscription.recruits}：输送合格青年（人）" in _user_prompt(request)
    out = tmp_path / "answer.json"
    out.write_text(json.dumps({"text": answer.text, "warnings": answer.warnings, "repr": repr(engine)}),
                   encoding="utf-8")
    assert KEY not in out.read_text(encoding="utf-8")
    assert KEY not in caplog.text


def test_openai_engine_without_key_sends_placeholder_key(chat_server, monkeypatch):
    monkeypatch.delenv("SHUZHI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    OpenAIEngine(chat_server.url, "m", PROFILE).write_facet(facet_request())
    assert chat_server.requests[0]["headers"]["authorization"] == "Bearer EMPTY"


def test_openai_engine_retries_after_server_error(chat_server, monkeypatch):
    monkeypatch.setenv("SHUZHI_LLM_RETRIES", "2")
    chat_server.script = [(500, "busy"), (200, "严格把关，输送{conscription.recruits}，大学生{conscription.college_ratio}。")]
    answer = OpenAIEngine(chat_server.url, "m", PROFILE).write_facet(facet_request())
    assert len(chat_server.requests) == 2
    assert answer.text == "严格把关，输送{conscription.recruits}，大学生{conscription.college_ratio}。"


@pytest.mark.parametrize(
    ("status", "expected"),
    [(500, "返回错误（HTTP 500）"), (401, "SHUZHI_API_KEY"), (404, "找不到模型“m”")],
)
def test_openai_engine_http_errors_are_clear(chat_server, monkeypatch, status, expected):
    monkeypatch.setenv("SHUZHI_API_KEY", KEY)
    chat_server.script = [(status, f"denied for {KEY}")]
    engine = OpenAIEngine(chat_server.url, "m", PROFILE, max_retries=0)
    with pytest.raises(EngineError) as info:
        engine.write_facet(facet_request())
    assert expected in str(info.value) and chat_server.url in str(info.value)
    assert KEY not in str(info.value)


def test_openai_engine_unreachable_port(monkeypatch):
    monkeypatch.setenv("SHUZHI_API_KEY", KEY)
    monkeypatch.setenv("SHUZHI_LLM_TIMEOUT", "2")
    monkeypatch.setenv("SHUZHI_LLM_RETRIES", "0")
    with socket.socket() as probe:   # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    with pytest.raises(EngineError) as info:
        get_engine(f"openai:{url}#m", profile=PROFILE).write_facet(facet_request())
    message = str(info.value)
    assert message.startswith(f"无法连接生成服务 {url}：连接被拒绝")
    assert "--engine template" in message and KEY not in message


def test_openai_engine_timeout(chat_server):
    release = threading.Event()
    chat_server.hold = release
    try:
        with pytest.raises(EngineError) as info:
            OpenAIEngine(chat_server.url, "m", PROFILE, timeout=0.3, max_retries=0).write_facet(facet_request())
    finally:
        release.set()
    assert f"无法连接生成服务 {chat_server.url}：0.3 秒内没有响应" in str(info.value)


@pytest.mark.parametrize("url", ["127.0.0.1:8000/v1", "ftp://host/v1"])
def test_openai_engine_rejects_bad_url(url):
    with pytest.raises(EngineError, match="http"):
        OpenAIEngine(url, "m", PROFILE)


def test_heading_from_server_and_fallback(chat_server):
    chat_server.script = [(200, "一、强化担当，全面加强党对武装工作的领导"), (200, "Sure! Here is a heading.")]
    engine = OpenAIEngine(chat_server.url, "m", PROFILE)
    request = HeadingRequest(profile=PROFILE, section_key="duty", metrics=METRICS,
                             exemplars=("立足岗位，不断提升党管武装工作能力素质",))
    assert engine.write_heading(request) == "强化担当，全面加强党对武装工作的领导"
    fallback = engine.write_heading(request)
    assert clean_heading(fallback) == fallback   # a well-formed heading from the template engine
    assert "立足岗位" in _user_prompt(chat_server.requests[0])


def test_template_engine_never_imports_torch_or_langchain():
    code = (
        "import sys\n"
        "from pipeline.drafting.engines import get_engine\n"
        "import pipeline.drafting.engines.llm\n"
        "get_engine('template')\n"
        "heavy = [m for m in ('torch', 'transformers', 'langchain_openai', 'langchain_huggingface') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


# --------------------------------------------------------------------------- transformers

STEERED_CHAR = "记"


def _write_tiny_model(directory: Path, *, chat_template: str | None = None) -> None:
    """A 1-layer GPT-2 with random weights and a character-level tokenizer, built offline. Its
    output head is steered to one character, so a test can tell generated text from an empty or
    echoed answer whatever the random body computes."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    alphabet = ("{}._:，。、；：“”《》（）<>abcdefghijklmnopqrstuvwxyz0123456789 "
                "党管武装工作述职报告民兵征兵青年县委书记人武部一二三是推进训练合格输送基干")
    vocab = {"[UNK]": 0, "[PAD]": 1, "</s>": 2}
    for char in alphabet:
        vocab.setdefault(char, len(vocab))
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]",
                                   eos_token="</s>")
    if chat_template:
        fast.chat_template = chat_template
    fast.save_pretrained(directory)
    config = GPT2Config(n_layer=1, n_head=2, n_embd=32, vocab_size=len(vocab), n_positions=4096,
                        bos_token_id=2, eos_token_id=2, tie_word_embeddings=False)
    torch.manual_seed(0)
    model = GPT2LMHeadModel(config)
    with torch.no_grad():   # final hidden state = ones; only the steered row of the head sees it
        model.transformer.ln_f.weight.zero_()
        model.transformer.ln_f.bias.fill_(1.0)
        model.lm_head.weight.zero_()
        model.lm_head.weight[vocab[STEERED_CHAR]].fill_(1.0)
    model.save_pretrained(directory)


CHAT_TEMPLATE = ("{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}"
                 "{% if add_generation_prompt %}<assistant>{% endif %}")


@pytest.fixture(scope="module", params=[None, CHAT_TEMPLATE], ids=["base", "chat"])
def tiny_model(request, tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("tiny-gpt2")
    _write_tiny_model(directory, chat_template=request.param)
    return directory


def test_transformers_engine_generates_from_local_dir(tiny_model, monkeypatch):
    monkeypatch.setenv("SHUZHI_LLM_MAX_TOKENS", "6")
    engine = get_engine(f"transformers:{tiny_model}", profile=PROFILE)
    assert isinstance(engine, TransformersEngine) and engine.concurrent is False
    first = engine.write_facet(facet_request())
    again = engine.write_facet(facet_request())
    assert first.text.replace(" ", "") == STEERED_CHAR * 6 + "。"   # generated, not the prompt echoed
    assert first == again                      # greedy decoding: same request, same answer
    # a model that writes no placeholders: the engine says so and the orchestrator falls back
    assert any("缺少占位符" in w for w in first.warnings)
    heading = engine.write_heading(HeadingRequest(profile=PROFILE, section_key="duty", metrics=METRICS))
    assert clean_heading(heading) == heading   # gibberish heading replaced by the template's


def test_transformers_engine_missing_dir(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(EngineError) as info:
        get_engine(f"transformers:{missing}")
    assert str(missing) in str(info.value) and "不会下载" in str(info.value)


def test_transformers_engine_not_a_model_dir(tmp_path):
    (tmp_path / "readme.txt").write_text("not a model", encoding="utf-8")
    with pytest.raises(EngineError, match="config.json") as info:
        TransformersEngine(tmp_path, PROFILE)
    assert str(tmp_path) in str(info.value)


def test_transformers_engine_broken_weights(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}), encoding="utf-8")
    engine = TransformersEngine(tmp_path, PROFILE)
    with pytest.raises(EngineError, match="无法从") as info:
        engine.write_facet(facet_request())
    assert str(tmp_path) in str(info.value)


# --------------------------------------------------------------------------- through the orchestrator

def _stubborn_writer(body: dict) -> str:
    """A model that always copies a figure and a place from another county's report: the draft
    must still come out clean, through re-asking and then the template engine's sentence."""
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    if "一级标题" in user:
        return "一、统筹推进，全面提升武装工作水平。"
    keys = re.findall(r"^\{([\w.]+)\}：", user, re.M)
    return "一年来，澄浦县向部队输送合格青年999人。" + "".join(f"落实{{{key}}}。" for key in keys)


def test_full_draft_with_openai_engine_repairs_then_falls_back(chat_server, monkeypatch, tmp_path):
    from pipeline.drafting.draft import MAX_REPAIRS, draft_report
    from pipeline.facts.metrics import load_metrics
    from pipeline.output.draft_files import write_draft_outputs

    monkeypatch.setenv("SHUZHI_API_KEY", KEY)
    chat_server.answer = _stubborn_writer
    metrics = load_metrics(ROOT / "tests" / "fixtures" / "llm" / "metrics.yaml")
    result = draft_report(metrics, engine=f"openai:{chat_server.url}#m")

    assert result.check.ok, [f.to_json() for f in result.check.findings if f.verdict != "supported"]
    assert "999" not in result.text and "澄浦" not in result.text
    assert "215人" in result.text                        # this year's figure, filled by code
    actions = {(r.facet, r.action) for r in result.repairs}
    facets = {facet for facet, _ in actions}
    assert facets and all((f, "reask") in actions and (f, "template") in actions for f in facets)
    assert max(r.attempt for r in result.repairs if r.action == "reask") == MAX_REPAIRS
    # the re-asked prompts carried the checker's findings
    asked_again = [_user_prompt(r) for r in chat_server.requests if "上一稿存在以下问题" in _user_prompt(r)]
    assert asked_again and any("999人" in p and "澄浦县" in p for p in asked_again)
    assert all(r["headers"]["authorization"] == f"Bearer {KEY}" for r in chat_server.requests)

    written = write_draft_outputs(result, tmp_path / "out", annotate=True)
    assert "draft.docx" in written
    for path in (tmp_path / "out").iterdir():
        assert KEY.encode() not in path.read_bytes(), path.name


# --------------------------------------------------------------------------- update mode

_UPDATE_MARK = "这是上年报告中这一要点的文字"


def _previous_text(user: str) -> str:
    lines = user.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith(_UPDATE_MARK))
    return lines[at + 1]


def _update_writer(body: dict) -> str:
    """A model that rewrites last year's sub-point it is given (placeholders kept), except for the
    veterans' sub-point, where it copies a figure and a place from another county."""
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    if _UPDATE_MARK not in user:
        return "坚持统筹推进。"
    previous = _previous_text(user)
    if "{veterans." in previous:
        return "澄浦县补助退役士兵999名。" + previous
    return "一年来，" + previous


def test_llm_draft_in_update_mode_comes_out_clean(chat_server, monkeypatch):
    from pipeline.drafting.draft import draft_report
    from pipeline.facts.metrics import load_metrics

    monkeypatch.setenv("SHUZHI_API_KEY", KEY)
    chat_server.answer = _update_writer
    metrics = load_metrics(ROOT / "corpus" / "metrics" / "lanchuan-2024.yaml")
    prior = load_metrics(ROOT / "corpus" / "metrics" / "lanchuan-2023.yaml")
    result = draft_report(metrics, engine=f"openai:{chat_server.url}#m", prior=prior,
                          previous_report=ROOT / "corpus" / "reports" / "lanchuan-2023.docx")

    assert result.based_on and result.based_on.endswith("lanchuan-2023.docx")
    assert result.check.ok, [f.to_json() for f in result.check.findings if f.verdict != "supported"]
    assert "999" not in result.text and "澄浦" not in result.text
    # the model was given last year's text with this year's figures as placeholders
    prompts = [_user_prompt(r) for r in chat_server.requests if _UPDATE_MARK in _user_prompt(r)]
    assert prompts and any("{militia.primary}" in p for p in prompts)
    assert not any("1560人" in p for p in prompts)           # last year's figure never reaches the model
    # its rewrites stand where they are clean; the bad one fell back to last year's re-bound text
    llm = [r for r in result.sentences if r.engine == "openai"]
    assert llm and any(r.text.startswith("一年来，") for r in llm)
    assert "196名退役士兵" in result.text
    assert not any(r.engine == "openai" and "退役士兵" in r.text for r in result.sentences)
    assert sum(1 for f in result.check.findings if f.verdict == "derived") >= 4
