"""API tests of the web workbench (pipeline.web.app) with FastAPI's TestClient: every route, every bad input."""

from __future__ import annotations

import io
import re
from pathlib import Path

import docx
import pytest
from fastapi.testclient import TestClient

from pipeline.cli import run
from pipeline.cli.serve_cmd import resolve_token
from pipeline.drafting.draft import DraftEvent
from pipeline.errors import EngineError, UsageError
from pipeline.web.app import CSP, create_app
from pipeline.web.jobs import DraftJob, valid_job_id

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures" / "web"
SAMPLE = ROOT / "corpus" / "sample" / "metrics.yaml"
BASE = "http://127.0.0.1"


def _file(name: str, content: bytes | None = None) -> tuple[str, bytes]:
    return (name, content if content is not None else (FIX / name).read_bytes())


@pytest.fixture
def make_client(tmp_path):
    def make(**kwargs) -> TestClient:
        kwargs.setdefault("work_dir", tmp_path / "work")
        index_dir = kwargs.pop("index_dir", tmp_path / "index")
        base_url = kwargs.pop("base_url", BASE)
        # A browser sends its page's origin with every POST; the workbench refuses a POST without it.
        origin = kwargs.pop("origin", base_url)
        headers = {"Origin": origin} if origin else {}
        return TestClient(create_app(index_dir, run_jobs_inline=True, **kwargs), base_url=base_url,
                          headers=headers)
    return make


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()


def _draft_from_sample(client: TestClient, **data: str) -> str:
    fields = {"engine": "template", "seed": "0", **data}
    r = client.post("/draft", files={"metrics_file": _file("metrics.yaml", SAMPLE.read_bytes())}, data=fields,
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    location = r.headers["location"]
    assert re.fullmatch(r"/draft/jobs/[0-9a-f]{32}", location)
    return location.rsplit("/", 1)[1]


# ---------------------------------------------------------------------- pages and headers

@pytest.mark.parametrize("url, needle", [
    ("/draft", "下载样例指标文件"),
    ("/draft?prefill=sample", 'value="岚川县"'),
    ("/review", "开始核对"),
    ("/compare", "开始对比"),
    ("/corpus", "上传往年报告入库"),
])
def test_pages_render_with_nav_and_security_headers(client, url, needle):
    r = client.get(url)
    assert r.status_code == 200
    assert needle in r.text
    for label in ("起草", "审核", "对比", "语料"):
        assert f">{label}</a>" in r.text
    assert r.headers["content-security-policy"] == CSP
    assert r.headers["x-content-type-options"] == "nosniff"
    # No inline script or style anywhere: the CSP would block them.
    assert "<script>" not in r.text and "<style" not in r.text and " style=" not in r.text
    # Every asset is local (air-gapped offices).
    for ref in re.findall(r'(?:src|href)="([^"]+)"', r.text):
        assert ref.startswith(("/", "#")), ref


def test_home_redirects_to_draft(client):
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/draft"


def test_static_assets_and_verdict_css(client):
    assert "pollJob" in client.get("/static/app.js").text
    css = client.get("/static/app.css")
    assert css.status_code == 200 and css.headers["x-content-type-options"] == "nosniff"
    verdicts = client.get("/assets/verdicts.css").text
    assert ".v-contradicted{color:#c62828" in verdicts     # the same colour as check.html


def test_sample_metrics_download(client):
    r = client.get("/sample/metrics.yaml")
    assert r.status_code == 200
    assert r.content == SAMPLE.read_bytes()
    assert "attachment" in r.headers["content-disposition"]


def test_prefilled_form_has_sample_figures(client):
    text = client.get("/draft?prefill=sample").text
    assert 'name="metrics.militia.primary.value" value="1520"' in text
    assert 'name="metrics.militia.primary.previous" value="1535"' in text
    assert 'name="metrics.ranking.conscription_five_rates.scope" value="全市"' in text
    assert "已用样例数据填好" in text


# ---------------------------------------------------------------------- 起草

def test_draft_upload_runs_job_and_offers_downloads(client):
    job_id = _draft_from_sample(client)
    status = client.get(f"/jobs/{job_id}").json()
    assert status["status"] == "done"
    assert "draft.docx" in status["files"]
    page = client.get(f"/draft/jobs/{job_id}").text
    assert "2025年度党管武装工作述职报告" in page
    assert page.count('class="f v-supported"') >= 20
    # The tooltip names the metric in Chinese; the key is only in the expert's title detail.
    assert re.search(r'title="有据：与“输送合格青年”一致；指标：[^"；]+；数据：238人（conscription.recruits）"', page)
    assert '<span class="tip">有据：与“输送合格青年”一致；指标：' in page
    for name in ("draft.docx", "draft-review.docx", "draft.md", "check.html"):
        assert f"/jobs/{job_id}/files/{name}" in page


def test_downloaded_docx_opens_and_review_copy_has_comments(client):
    job_id = _draft_from_sample(client)
    r = client.get(f"/jobs/{job_id}/files/draft.docx")
    assert r.status_code == 200
    assert r.headers["content-disposition"].startswith("attachment")
    document = docx.Document(io.BytesIO(r.content))
    body = "\n".join(p.text for p in document.paragraphs)
    assert "2025年度党管武装工作述职报告" in body and "238" in body
    review = client.get(f"/jobs/{job_id}/files/draft-review.docx")
    assert b"word/comments.xml" in review.content
    check = client.get(f"/jobs/{job_id}/files/check.html")
    assert check.headers["content-disposition"].startswith("attachment")


def test_draft_from_form_uses_the_typed_figures(client):
    data = {
        "meta.year": "2024", "meta.region": "柘溪县", "meta.unit": "柘溪县人武部",
        "meta.superiors": "市委、市政府、军分区党委",
        "metrics.militia.primary.value": "1320", "metrics.militia.primary.previous": "1290",
        "metrics.conscription.recruits.value": "186",
        "metrics.ranking.conscription_five_rates.value": "2",
        "metrics.ranking.conscription_five_rates.scope": "全市",
        "list.honours": "全市国防动员工作先进单位\n",
        "engine": "template", "seed": "3",
    }
    r = client.post("/draft", data=data, files={"_empty": ("", b"")}, follow_redirects=False)
    assert r.status_code == 303, r.text
    page = client.get(r.headers["location"]).text
    assert re.search(r'title="有据：[^"]*；数据：1320人（militia.primary）">1320人', page)
    assert re.search(r'title="有据：[^"]*；数据：186人（conscription.recruits）">186人', page)


def test_form_errors_are_shown_next_to_their_fields(client):
    data = {"meta.year": "今年", "metrics.militia.primary.value": "x12", "engine": "template", "seed": "0"}
    r = client.post("/draft", data=data, files={"_empty": ("", b"")})
    assert r.status_code == 400
    row = re.search(r'<tr class="bad">.*?</tr>', r.text, re.S)
    assert row and 'name="metrics.militia.primary.value" value="x12"' in row.group(0)
    assert "应为数字" in row.group(0)
    year = re.search(r'<label class="bad">述职年度.*?</label>', r.text, re.S)
    assert year and "四位年份" in year.group(0)
    region = re.search(r'<label class="bad">地区名称.*?</label>', r.text, re.S)
    message = re.search(r'<span class="field-error">(.*?)</span>', region.group(0)).group(1)
    assert "缺少 “地区名称”" in message and "meta." not in message


def test_metrics_file_errors_name_the_line(client):
    bad = "meta:\n  year: 20x3\n  region: 柘溪县\nmetrics:\n  conscription.recruits: abc\n".encode()
    r = client.post("/draft", files={"metrics_file": _file("bad.yaml", bad)}, data={"engine": "template"})
    assert r.status_code == 400
    assert "指标文件“bad.yaml”有错误" in r.text
    # One problem per line, each starting with where it is.
    problems = re.findall(r'<p class="problem">(.*?)</p>', r.text)
    assert len(problems) == 2 and problems[0].startswith("第 2 行") and problems[1].startswith("第 5 行")


@pytest.mark.parametrize("name, content, status, needle", [
    ("metrics.exe", b"MZ\x90\x00", 415, "允许的类型：.yaml、.yml、.json、.xlsx"),
    ("metrics", b"meta: {}", 415, "无扩展名"),
    ("metrics.xlsx", b"not a zip at all", 415, "内容不是 .xlsx 文件"),
    ("metrics.yaml", b"", 400, "是空文件"),
    ("../../etc/passwd.yaml", b"meta: [", 400, "passwd.yaml"),
])
def test_bad_metrics_uploads(client, name, content, status, needle):
    r = client.post("/draft", files={"metrics_file": (name, content)}, data={"engine": "template"})
    assert r.status_code == status
    assert needle in r.text
    assert "/tmp" not in r.text and "req-" not in r.text       # server paths never shown


def test_upload_too_large_is_413_with_chinese_message(make_client):
    client = make_client(max_upload=1024)
    r = client.post("/draft", files={"metrics_file": _file("metrics.yaml", b"#" * 2048)}, data={"engine": "template"})
    assert r.status_code == 413
    assert "太大：超过 1 KB 的上限" in r.text


def test_declared_body_over_limit_is_refused_before_parsing(make_client):
    client = make_client(max_upload=1024)
    r = client.post("/draft", content=b"x" * 400_000, headers={"content-type": "multipart/form-data; boundary=x"})
    assert r.status_code == 413
    assert "每个文件不能超过 1 KB" in r.text


def test_chunked_body_over_limit_is_refused_while_reading(make_client):
    client = make_client(max_upload=1024)
    boundary = "bnd"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"metrics_file\"; filename=\"m.yaml\"\r\n"
            "Content-Type: application/x-yaml\r\n\r\n").encode()

    def body():
        yield head
        for _ in range(100):
            yield b"#" * 4096
        yield f"\r\n--{boundary}--\r\n".encode()

    r = client.post("/draft", content=body(), headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 413
    assert "上传内容太大" in r.text


def test_max_upload_from_environment(make_client, monkeypatch):
    monkeypatch.setenv("SHUZHI_MAX_UPLOAD", "2K")
    client = make_client()
    r = client.post("/draft", files={"metrics_file": _file("metrics.yaml", b"#" * 3000)}, data={"engine": "template"})
    assert r.status_code == 413 and "2 KB" in r.text


@pytest.mark.parametrize("fields, needle", [
    ({"engine": "gpt4"}, "生成方式“gpt4”无效"),
    ({"engine": "other", "engine_spec": "rm -rf /"}, "无效"),
    ({"engine": "template", "seed": "-1"}, "句式编号应为"),
    ({"engine": "template", "seed": "abc"}, "句式编号应为"),
])
def test_bad_engine_or_seed(client, fields, needle):
    r = client.post("/draft", files={"metrics_file": _file("metrics.yaml", SAMPLE.read_bytes())}, data=fields)
    assert r.status_code == 400
    assert needle in r.text


def test_draft_with_prior_metrics_and_bad_prior(client):
    good = client.post("/draft", files={"metrics_file": _file("metrics.yaml"), "prior_file": _file("prior.yaml")},
                       data={"engine": "template"}, follow_redirects=False)
    assert good.status_code == 303
    bad = client.post("/draft", files={"metrics_file": _file("metrics.yaml"),
                                       "prior_file": _file("prior.yaml", b"meta:\n  year: x\n")},
                      data={"engine": "template"})
    assert bad.status_code == 400 and "prior.yaml" in bad.text


def test_progress_follows_sections_in_order(client, monkeypatch):
    # The page polls /jobs/{id}: record what it would see after every progress event of a real draft.
    states: list[tuple[str, int, int, str | None]] = []
    real = DraftJob.on_progress

    seen_jobs: list[DraftJob] = []

    def recording(self, event):
        real(self, event)
        seen_jobs.append(self)
        state = self.to_json()
        states.append((getattr(event, "kind", "str"), state["done"], state["total"], state["current"]))

    monkeypatch.setattr(DraftJob, "on_progress", recording)
    job_id = _draft_from_sample(client)
    job = seen_jobs[-1]
    assert job.job_id == job_id
    keys = ["opening", "duty", "systems", "foundation", "plans"]
    assert job.seen == job.finished == keys
    starts = [(done, total, current) for kind, done, total, current in states if kind == "section_start"]
    assert starts == [(i, 5, key) for i, key in enumerate(keys)] + [(5, 5, "plans")]   # closing: not counted
    assert [s[1] for s in states] == sorted(s[1] for s in states)                       # the bar never goes back
    assert states[-1][0] == "done" and job.to_json()["done"] == 5
    assert client.get(f"/jobs/{job_id}").json()["status"] == "done"


def _event(kind: str, section: str | None = None, message: str = "") -> DraftEvent:
    return DraftEvent(kind, section, 0, 6, None, message or f"{kind}:{section}")


SECTIONS = ("opening", "duty", "systems")


@pytest.mark.parametrize("events, done, current, phase, messages", [
    ([], 0, None, "排队中", []),
    ([_event("section_start", "opening")], 0, "opening", "正在写：开头", []),
    ([_event("section_start", "opening"), _event("section_done", "opening"), _event("section_start", "duty")],
     1, "duty", "正在写：履职", []),
    # A concurrent engine: sections finish out of order; the latest section still being written is shown.
    ([_event("section_start", "opening"), _event("section_start", "duty"), _event("section_start", "systems"),
      _event("section_done", "systems"), _event("section_done", "opening")], 2, "duty", "正在写：履职", []),
    # Every counted section written: checking; a repeated done counts once; closing is not a step.
    ([_event(k, s) for s in SECTIONS for k in ("section_start", "section_done")]
     + [_event("section_done", "systems"), _event("section_start", "closing"), _event("section_done", "closing")],
     3, "systems", "正在核对数字", []),
    ([_event("repair", "duty", "修正：duty_x 第1次（重写）"), "旧式消息"],
     0, None, "正在修正有问题的数字", ["修正：duty_x 第1次（重写）", "旧式消息"]),
    # Drafted and checked: the files are being written.
    ([_event("section_start", "opening"), _event("done", None, "起草完成：6 部分")],
     0, None, "正在写出 Word 文件", ["起草完成：6 部分"]),
])
def test_job_progress_from_draft_events(events, done, current, phase, messages):
    job = DraftJob(job_id="a" * 32, out_dir=Path("unused"), sections=SECTIONS, status="running")
    for event in events:
        job.on_progress(event)
    state = job.to_json()
    assert (state["done"], state["total"], state["current"], state["phase"]) == (done, 3, current, phase)
    assert state["messages"] == messages


def test_failing_engine_shows_error_on_job_page(client, monkeypatch):
    class Broken:
        name, concurrent = "broken", False

        def write_heading(self, request):
            return ""

        def write_facet(self, request):
            raise EngineError("内网模型服务没有响应：请检查地址。")

    monkeypatch.setattr("pipeline.drafting.engines.get_engine", lambda spec, profile: Broken())
    r = client.post("/draft", files={"metrics_file": _file("metrics.yaml")},
                    data={"engine": "other", "engine_spec": "openai:http://127.0.0.1:9/v1#m"}, follow_redirects=False)
    job_id = r.headers["location"].rsplit("/", 1)[1]
    assert client.get(f"/jobs/{job_id}").json()["status"] == "error"
    page = client.get(f"/draft/jobs/{job_id}")
    assert "起草失败" in page.text and "内网模型服务没有响应" in page.text


@pytest.mark.parametrize("url", [
    "/jobs/not-hex", "/jobs/" + "0" * 32, "/jobs/" + "A" * 32,
    "/draft/jobs/../../etc", "/draft/jobs/" + "f" * 32,
])
def test_unknown_or_invalid_job_ids(client, url):
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("name", ["../state.json", "draft.docx.bak", "..%2F..%2Fetc%2Fpasswd", "metrics.yaml"])
def test_job_files_only_from_the_allow_list(client, name):
    job_id = _draft_from_sample(client)
    assert client.get(f"/jobs/{job_id}/files/{name}").status_code == 404


def test_job_ids_are_hex():
    assert valid_job_id("0123456789abcdef" * 2)
    assert not valid_job_id("../" + "a" * 29) and not valid_job_id("a" * 31)


# ---------------------------------------------------------------------- 审核

def test_review_flags_the_wrong_figure(client):
    r = client.post("/review", files={"report_file": _file("report_wrong.txt"),
                                      "metrics_file": _file("metrics.yaml"), "prior_file": _file("prior.yaml")})
    assert r.status_code == 200
    assert re.search(r"/review/jobs/[0-9a-f]{32}$", str(r.url))
    assert re.search(r'<span class="f v-contradicted"[^>]*title="矛盾：[^"]*（militia.primary）">1230人', r.text)
    assert 'data-verdict="contradicted"' in r.text
    assert "处需要人工核对" in r.text
    assert "核对结果：report_wrong.txt" in r.text


def test_review_escapes_script_and_event_handlers(client):
    r = client.post("/review", files={"report_file": _file("report_xss.txt"), "metrics_file": _file("metrics.yaml")})
    assert r.status_code == 200
    assert "<script>alert" not in r.text and "<img" not in r.text and "<b onmouseover" not in r.text
    assert "&lt;script&gt;alert(" in r.text and "&lt;/script&gt;" in r.text
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in r.text
    # No tag in the page carries an event handler attribute.
    assert not re.search(r"<[a-z][^>]*\son\w+=", r.text)


@pytest.mark.parametrize("files, status, needle", [
    ({"report_file": _file("report_wrong.txt")}, 400, "请同时选择"),
    ({"metrics_file": _file("metrics.yaml")}, 400, "请同时选择"),
    ({"report_file": ("report.pdf", b"%PDF-1.4"), "metrics_file": _file("metrics.yaml")}, 415, ".docx、.txt、.md"),
    ({"report_file": ("report.docx", b"PK\x03\x04broken"), "metrics_file": _file("metrics.yaml")}, 400, "report.docx"),
    ({"report_file": _file("report_wrong.txt"), "metrics_file": ("m.yaml", b"meta: {year: 2024}\n")}, 400, "地区名称"),
])
def test_review_bad_inputs(client, files, status, needle):
    r = client.post("/review", files=files)
    assert r.status_code == status
    assert needle in r.text
    assert "req-" not in r.text


# ---------------------------------------------------------------------- 对比

def test_compare_marks_changed_figures_side_by_side(client):
    r = client.post("/compare", files={"file_a": _file("report_last_year.txt"), "file_b": _file("report_wrong.txt")})
    assert r.status_code == 200
    assert '<mark class="fig-old">1290人</mark>' in r.text
    assert '<mark class="fig-new">1230人</mark>' in r.text
    assert "【制度落实】" in r.text and "A：report_last_year.txt" in r.text


def test_compare_escapes_report_text(client):
    r = client.post("/compare", files={"file_a": _file("report_wrong.txt"), "file_b": _file("report_xss.txt")})
    assert r.status_code == 200
    assert "<script>alert" not in r.text and not re.search(r"<[a-z][^>]*\son\w+=", r.text)


@pytest.mark.parametrize("files, status", [
    ({"file_a": _file("report_wrong.txt")}, 400),
    ({"file_a": _file("report_wrong.txt"), "file_b": ("b.html", b"<html>")}, 415),
    ({"file_a": _file("report_wrong.txt"), "file_b": ("b.txt", b"\x00\x01\x02\x00" * 50)}, 400),
])
def test_compare_bad_inputs(client, files, status):
    assert client.post("/compare", files=files).status_code == status


# ---------------------------------------------------------------------- 语料

def test_corpus_ingest_list_and_search(client):
    page = client.get("/corpus").text
    assert "索引中还没有报告" in page
    r = client.post("/corpus/ingest", files=[("reports", _file("report_last_year.txt")),
                                             ("reports", ("柘溪县-2024.txt", (FIX / "report_wrong.txt").read_bytes()))])
    assert r.status_code == 200, r.text
    assert "新增 2 份" in r.text and "柘溪县-2024.txt" in r.text
    assert re.search(r'<td data-label="年度">2023</td>', r.text) and re.search(r'<td data-label="年度">2024</td>', r.text)
    hits = client.get("/corpus", params={"q": "基干民兵", "section": "systems"})
    assert hits.status_code == 200
    assert "基干民兵1290人" in hits.text or "基干民兵1230人" in hits.text
    none = client.get("/corpus", params={"q": "基干民兵", "section": "closing"})
    assert "没有找到相关段落" in none.text
    again = client.post("/corpus/ingest", files=[("reports", _file("report_last_year.txt"))])
    assert "内容重复 1 份" in again.text


@pytest.mark.parametrize("files, status, needle", [
    ([("reports", ("old.doc", b"\xd0\xcf\x11\xe0"))], 415, "允许的类型"),
    ([("other", _file("report_wrong.txt"))], 400, "请选择要入库的往年报告"),
])
def test_corpus_ingest_bad_inputs(client, files, status, needle):
    r = client.post("/corpus/ingest", files=files)
    assert r.status_code == status and needle in r.text


def test_corpus_bad_section_and_missing_index(client, make_client):
    assert client.get("/corpus", params={"q": "民兵", "section": "../x"}).status_code == 400
    assert "还没有索引" in client.get("/corpus", params={"q": "民兵"}).text
    no_index = make_client(index_dir=None)
    assert "没有指定索引目录" in no_index.get("/corpus").text
    r = no_index.post("/corpus/ingest", files=[("reports", _file("report_wrong.txt"))])
    assert r.status_code == 400


# ---------------------------------------------------------------------- access control

def test_token_required_on_every_route(make_client):
    client = make_client(token="s3cret-token-123", base_url="http://192.0.2.10:8000")
    for url in ("/draft", "/static/app.css", "/jobs/" + "a" * 32, "/sample/metrics.yaml"):
        r = client.get(url)
        assert r.status_code == 401, url
        assert "访问令牌" in r.text
        assert r.headers["content-security-policy"] == CSP
    assert client.get("/draft", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/draft", headers={"Authorization": "Bearer s3cret-token-123"}).status_code == 200


def test_token_login_sets_cookie_then_cookie_works(make_client):
    client = make_client(token="s3cret-token-123", base_url="http://192.0.2.10:8000")
    r = client.get("/review?token=s3cret-token-123", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/review"
    assert "httponly" in r.headers["set-cookie"].lower() and "samesite=strict" in r.headers["set-cookie"].lower()
    assert client.get("/review").status_code == 200          # the cookie carries the token now
    assert client.get("/review?token=wrong", follow_redirects=False).status_code == 401


def test_without_token_only_loopback_hosts(make_client):
    client = make_client(base_url="http://evil.example")
    r = client.get("/draft")
    assert r.status_code == 400 and "只接受本机地址" in r.text
    assert make_client(base_url="http://localhost:8000").get("/draft").status_code == 200


def test_cross_origin_post_refused(client):
    r = client.post("/review", headers={"Origin": "http://evil.example"},
                    files={"report_file": _file("report_wrong.txt"), "metrics_file": _file("metrics.yaml")})
    assert r.status_code == 403 and "其他网站" in r.text
    same = client.post("/review", headers={"Origin": BASE},
                       files={"report_file": _file("report_wrong.txt"), "metrics_file": _file("metrics.yaml")})
    assert same.status_code == 200


# ---------------------------------------------------------------------- shuzhi serve

@pytest.mark.parametrize("host, token, env, expected", [
    ("127.0.0.1", None, None, None),
    ("localhost", None, None, None),
    ("::1", None, None, None),
    ("0.0.0.0", "long-enough-token", None, "long-enough-token"),
    ("0.0.0.0", None, "from-environment", "from-environment"),
])
def test_resolve_token(monkeypatch, host, token, env, expected):
    if env:
        monkeypatch.setenv("SHUZHI_TOKEN", env)
    else:
        monkeypatch.delenv("SHUZHI_TOKEN", raising=False)
    assert resolve_token(host, token) == expected


@pytest.mark.parametrize("host, token", [("0.0.0.0", None), ("192.168.1.5", None), ("127.0.0.1", "short")])
def test_resolve_token_refuses(monkeypatch, host, token):
    monkeypatch.delenv("SHUZHI_TOKEN", raising=False)
    with pytest.raises(UsageError):
        resolve_token(host, token)


def test_serve_refuses_public_host_without_token(monkeypatch, capsys):
    monkeypatch.delenv("SHUZHI_TOKEN", raising=False)
    called = []
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: called.append(a))
    assert run(["serve", "--host", "0.0.0.0"]) == 2
    assert "必须设置访问令牌" in capsys.readouterr().err
    assert not called


def test_serve_prints_url_and_runs_uvicorn(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("SHUZHI_TOKEN", raising=False)
    calls = []
    monkeypatch.setattr("uvicorn.run", lambda app, **k: calls.append(k))
    code = run(["serve", "--port", "8765", "--index", str(tmp_path / "idx"), "--work-dir", str(tmp_path / "w")])
    assert code == 0
    assert "工作台地址：http://127.0.0.1:8765/" in capsys.readouterr().out
    assert calls == [{"host": "127.0.0.1", "port": 8765, "log_level": "warning"}]


def test_draft_page_escapes_metrics_text(client):
    data = {"meta.year": "2024", "meta.region": "<img src=x onerror=alert(1)>县",
            "metrics.conscription.recruits.value": "186", "list.highlights": "<script>alert(3)</script>全年无事故。",
            "engine": "template", "seed": "0"}
    r = client.post("/draft", data=data, files={"_empty": ("", b"")}, follow_redirects=False)
    assert r.status_code == 303, r.text
    page = client.get(r.headers["location"]).text
    assert "<script>alert" not in page and not re.search(r"<[a-z][^>]*\son\w+=", page)
    assert "&lt;img src=x onerror=alert(1)&gt;" in page or "&lt;script&gt;alert(3)" in page


def test_xlsx_metrics_upload_and_cell_errors(client):
    good = client.post("/draft", files={"metrics_file": _file("metrics.xlsx")}, data={"engine": "template"},
                       follow_redirects=False)
    assert good.status_code == 303
    page = client.get(good.headers["location"]).text
    assert re.search(r'数据：1320人（militia.primary）">1320人', page)
    bad = client.post("/draft", files={"metrics_file": _file("metrics_bad.xlsx")}, data={"engine": "template"})
    assert bad.status_code == 400
    assert re.search(r'<p class="problem">单元格 C\d+：“[^”]+”', bad.text)


def test_review_of_a_docx_draft_and_json_metrics(client, tmp_path):
    import json

    import yaml

    document = docx.Document()
    for line in (FIX / "report_wrong.txt").read_text(encoding="utf-8").splitlines():
        document.add_paragraph(line)
    buffer = io.BytesIO()
    document.save(buffer)
    data = yaml.safe_load((FIX / "metrics.yaml").read_text(encoding="utf-8"))
    data["meta"]["date"] = str(data["meta"]["date"])
    metrics_json = json.dumps(data, ensure_ascii=False).encode()
    r = client.post("/review", files={"report_file": ("稿子.docx", buffer.getvalue()),
                                      "metrics_file": ("metrics.json", metrics_json)})
    assert r.status_code == 200
    assert re.search(r'class="f v-contradicted"[^>]*>1230人', r.text)
    assert "核对结果：稿子.docx" in r.text
    # 「下载带批注的审阅稿」: the reviewer's own Word file, a comment anchored on the wrong figure.
    link = re.search(r'id="review-docx" href="(/jobs/[0-9a-f]{32}/files/review.docx)"', r.text)
    assert link, "the review page offers the annotated copy"
    review = client.get(link.group(1))
    assert review.status_code == 200
    annotated = docx.Document(io.BytesIO(review.content))
    assert [p.text for p in annotated.paragraphs] == [p.text for p in document.paragraphs]
    comments = [c.text for c in annotated.comments]
    assert any("矛盾" in c for c in comments)
    assert not any("/" in c and ("tmp" in c or "work" in c) for c in comments), "comments never carry a path"
    xml = review.content
    assert b"word/comments.xml" in xml


def test_server_keeps_one_read_index_and_sees_new_ingests(client, monkeypatch):
    """Searches, reviews and drafts share one loaded index; an ingest makes it reload, not reopen."""
    from pipeline.index.hybrid import HybridIndex

    real_open = HybridIndex.open.__func__
    read_opens = []

    def counting_open(cls, *args, **kwargs):
        if kwargs.get("read_only"):
            read_opens.append(1)
        return real_open(cls, *args, **kwargs)

    monkeypatch.setattr(HybridIndex, "open", classmethod(counting_open))
    client.post("/corpus/ingest", files=[("reports", _file("report_last_year.txt"))])
    assert "基干民兵1290人" in client.get("/corpus", params={"q": "基干民兵"}).text
    client.post("/corpus/ingest", files=[("reports", ("柘溪县-2024.txt", (FIX / "report_wrong.txt").read_bytes()))])
    assert "基干民兵1230人" in client.get("/corpus", params={"q": "基干民兵1230人", "k": "10"}).text
    client.get("/corpus", params={"q": "征兵"})
    assert len(read_opens) == 1


def test_form_follows_the_chosen_profile(client):
    """述职类别 switch: the township form has township fields, and a draft from it is a township report."""
    page = client.get("/draft?profile=dangguan-wuzhuang-township").text
    assert 'name="metrics.conscription.registered.value"' in page and "militia.towns" not in page
    assert 'name="profile" value="dangguan-wuzhuang-township"' in page and "范围（如 全县）" in page
    assert "militia.towns" in client.get("/draft?profile=nonsense").text      # unknown: the default form
    data = {
        "profile": "dangguan-wuzhuang-township", "meta.year": "2025", "meta.region": "雾溪镇",
        "meta.superiors": "县委、县政府、县人武部党委",
        "metrics.conscription.registered.value": "405", "metrics.militia.emergency_platoons.value": "3",
        "metrics.ranking.department_annual.value": "2", "metrics.ranking.department_annual.scope": "全县",
        "engine": "template", "seed": "1",
    }
    r = client.post("/draft", data=data, files={"_empty": ("", b"")}, follow_redirects=False)
    assert r.status_code == 303, r.text
    page = client.get(r.headers["location"]).text
    assert "405人" in page and "与“兵役登记”一致" in page
    assert "全县第二" in page and "编组乡镇" not in page and "全市" not in page
