"""Hostile uploads, cross-site posts, error pages and HEAD on the web workbench (TestClient).

Every hostile file here is refused before a parser sees it; the refusal is a Chinese page with a way
back. (How fast it is refused lives in eval/bench_web.py: tests never assert time.)
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pipeline.web.app import create_app
from pipeline.web.uploads import MAX_XLSX_ROWS, MAX_YAML_ALIASES, MAX_ZIP_ENTRIES, UploadRejected, check_shape

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures" / "web"
BASE = "http://127.0.0.1"


@pytest.fixture
def client(tmp_path) -> TestClient:
    return TestClient(create_app(tmp_path / "index", work_dir=tmp_path / "data", run_jobs_inline=True),
                      base_url=BASE, headers={"Origin": BASE})


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def docx_bomb() -> bytes:
    """A small .docx whose document.xml expands to 24 MB of one repeated paragraph."""
    para = b"<w:p><w:r><w:t>" + "民兵".encode() * 20 + b"</w:t></w:r></w:p>"
    body = para * (24 * 1024 * 1024 // len(para))
    return _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document><w:body>" + body
                 + b"</w:body></w:document>"})


def xlsx_many_rows(rows: int = MAX_XLSX_ROWS + 1) -> bytes:
    sheet = b"".join(b'<row r="%d"><c r="A%d"><v>1</v></c></row>' % (i, i) for i in range(1, rows + 1))
    return _zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>",
                 "xl/worksheets/sheet1.xml": b"<worksheet><sheetData>" + sheet + b"</sheetData></worksheet>"})


def xlsx_wide() -> bytes:
    sheet = b'<row r="1"><c r="A1"><v>1</v></c><c r="ZZ1"><v>1</v></c></row>'
    return _zip({"xl/worksheets/sheet1.xml": b"<worksheet><sheetData>" + sheet + b"</sheetData></worksheet>"})


def zip_many_entries() -> bytes:
    return _zip({f"word/media/x{i}.xml": b"" for i in range(MAX_ZIP_ENTRIES + 1)})


def yaml_alias_bomb() -> bytes:
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for i, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    return ("\n".join(lines) + "\n").encode()


HOSTILE = [
    # (where, field, file name, content, status, words in the message)
    ("/review", "report_file", "bomb.docx", docx_bomb, 413, "解压后过大"),
    ("/compare", "file_a", "bomb.docx", docx_bomb, 413, "解压后过大"),
    ("/corpus/ingest", "reports", "bomb.docx", docx_bomb, 413, "解压后过大"),
    ("/draft", "metrics_file", "rows.xlsx", xlsx_many_rows, 413, "工作表太大"),
    ("/draft", "metrics_file", "wide.xlsx", xlsx_wide, 413, "列"),
    ("/review", "report_file", "parts.docx", zip_many_entries, 413, "个部件"),
    ("/draft", "metrics_file", "laughs.yaml", yaml_alias_bomb, 413, "展开后极大"),
    ("/draft", "metrics_file", "deep.yaml", lambda: ("a: " + "[" * 60 + "]" * 60 + "\n").encode(), 400, "嵌套过深"),
    ("/draft", "metrics_file", "nan.yaml", lambda: b"meta:\n  year: 2024\nmetrics:\n  militia.primary: .nan\n", 400,
     "第 4 行"),
    ("/draft", "metrics_file", "nan.json", lambda: b'{"meta": {"year": 2024},\n "metrics": {"militia.primary": NaN}}',
     400, "非数"),
    ("/draft", "metrics_file", "deep.json", lambda: b"[" * 100 + b"]" * 100, 400, "嵌套过深"),
]


@pytest.mark.parametrize("url, field, name, make, status, needle", HOSTILE, ids=[h[2] + h[0] for h in HOSTILE])
def test_hostile_uploads_are_refused_with_a_chinese_page(client, url, field, name, make, status, needle):
    files = {field: (name, make())}
    if url == "/review":
        files["metrics_file"] = ("metrics.yaml", (FIX / "metrics.yaml").read_bytes())
    if url == "/compare":
        files["file_b"] = ("b.txt", (FIX / "report_wrong.txt").read_bytes())
    r = client.post(url, files=files, data={"engine": "template"})
    assert r.status_code == status, r.text[-500:]
    assert needle in r.text and name in r.text
    assert '<a href="/draft"' in r.text            # the menu: a way back
    # Nothing of a refused upload is kept, and no job was recorded.
    assert client.app.state.jobs.count() == 0
    assert not list((client.app.state.work_dir / "corpus").glob("*")) if (
        client.app.state.work_dir / "corpus").exists() else True


def test_shape_check_passes_the_real_files(tmp_path):
    for name in ("metrics.xlsx", "metrics.yaml", "prior.yaml"):
        check_shape(FIX / name, (FIX / name).suffix, name, "指标文件")
    check_shape(ROOT / "corpus" / "reports" / "lanchuan-2023.docx", ".docx", "x.docx", "报告")
    few = tmp_path / "few.yaml"
    few.write_text("a: &x 1\n" + "".join(f"k{i}: *x\n" for i in range(MAX_YAML_ALIASES)), encoding="utf-8")
    check_shape(few, ".yaml", "few.yaml", "指标文件")          # a few aliases are fine
    quoted = tmp_path / "q.json"
    quoted.write_text(json.dumps({"meta": {"region": "NaN 镇"}}), encoding="utf-8")
    check_shape(quoted, ".json", "q.json", "指标文件")          # NaN inside a string is text


def test_problem_list_is_capped(client):
    """A workbook with hundreds of bad rows gives a short page: 30 lines and a count of the rest."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["key", "label", "value", "unit"])
    for i in range(400):
        sheet.append([f"custom.x{i}", f"项{i}", "abc", "个"])
    buffer = io.BytesIO()
    book.save(buffer)
    r = client.post("/draft", files={"metrics_file": ("many.xlsx", buffer.getvalue())}, data={"engine": "template"})
    assert r.status_code == 400
    assert r.text.count('<p class="problem">') <= 31
    assert "还有" in r.text and len(r.text) < 200_000


# ---------------------------------------------------------------------- cross-site posts

@pytest.mark.parametrize("origin", [None, "null", "http://evil.example", "http://127.0.0.1:9999", "http://localhost"])
@pytest.mark.parametrize("url", ["/draft", "/review", "/compare", "/corpus/ingest"])
def test_post_without_this_origin_is_refused(tmp_path, origin, url):
    app = create_app(tmp_path / "index", work_dir=tmp_path / "data", run_jobs_inline=True)
    headers = {"Origin": origin} if origin else {}
    client = TestClient(app, base_url=BASE + ":8000")
    r = client.post(url, headers=headers, files={"metrics_file": ("m.yaml", b"meta: {}\n")})
    assert r.status_code == 403
    assert "不是从本工作台的页面发出的" in r.text
    assert app.state.jobs.count() == 0


def test_token_mode_also_refuses_cross_site_posts_but_accepts_bearer(tmp_path):
    token = "t0ken-for-tests"
    app = create_app(tmp_path / "index", work_dir=tmp_path / "data", token=token, run_jobs_inline=True)
    client = TestClient(app, base_url=BASE)
    client.cookies.set("shuzhi_token", token)
    sample = (ROOT / "corpus" / "sample" / "metrics.yaml").read_bytes()
    refused = client.post("/draft", headers={"Origin": "null"}, files={"metrics_file": ("m.yaml", sample)})
    assert refused.status_code == 403
    ok = client.post("/draft", headers={"Origin": BASE}, files={"metrics_file": ("m.yaml", sample)},
                     follow_redirects=False)
    assert ok.status_code == 303
    tool = TestClient(app, base_url=BASE)
    by_header = tool.post("/draft", headers={"Authorization": f"Bearer {token}"},
                          files={"metrics_file": ("m.yaml", sample)}, follow_redirects=False)
    assert by_header.status_code == 303


# ---------------------------------------------------------------------- error pages, HEAD, templates

def test_error_pages_are_chinese_with_a_link_back(tmp_path, client):
    r = client.get("/no/such/page")
    assert r.status_code == 404 and "找不到这个页面" in r.text and 'id="back-link"' in r.text
    assert r.headers["content-type"].startswith("text/html")
    job = client.get("/draft/jobs/" + "a" * 32)
    assert job.status_code == 404 and "历史记录" in job.text
    locked = TestClient(create_app(tmp_path / "i2", work_dir=tmp_path / "d2", token="secret-token-1"), base_url=BASE)
    r = locked.get("/draft")
    assert r.status_code == 401 and "访问令牌" in r.text and r.headers["content-type"].startswith("text/html")
    big = TestClient(create_app(tmp_path / "i3", work_dir=tmp_path / "d3", max_upload=1024), base_url=BASE,
                     headers={"Origin": BASE})
    r = big.post("/review", files={"report_file": ("r.txt", b"x" * 20_000), "metrics_file": ("m.yaml", b"a: 1\n")})
    assert r.status_code == 413 and "“r.txt”太大" in r.text and "开始核对" in r.text


def test_server_error_is_a_chinese_page(tmp_path, monkeypatch):
    app = create_app(tmp_path / "index", work_dir=tmp_path / "data")
    monkeypatch.setattr("pipeline.web.forms.catalog_groups", lambda profile: 1 / 0)
    r = TestClient(app, base_url=BASE, raise_server_exceptions=False).get("/draft")
    assert r.status_code == 500 and "服务出错了" in r.text and "ZeroDivisionError" in r.text


@pytest.mark.parametrize("url", ["/draft", "/review", "/history", "/corpus", "/static/app.css", "/template/metrics.xlsx"])
def test_head_is_answered_like_get(client, url):
    get = client.get(url)
    head = client.head(url)
    assert head.status_code == get.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]


def test_excel_and_yaml_templates_download(client):
    import openpyxl

    r = client.get("/template/metrics.xlsx")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    book = openpyxl.load_workbook(io.BytesIO(r.content))
    assert book.worksheets
    y = client.get("/template/metrics.yaml")
    assert y.status_code == 200 and "meta:" in y.text
    page = client.get("/draft").text
    assert "下载 Excel 模板" in page and "下载 YAML 模板" in page


def test_draft_form_speaks_the_office_language(client):
    page = client.get("/draft").text
    assert "placeholder=" not in page                       # no grey example that looks filled in
    assert '<details class="advanced"' in page and "高级设置" in page
    # The engine choice and the seed live only inside the folded advanced settings.
    before, _, after = page.partition('<details class="advanced"')
    assert 'name="engine"' not in before and 'name="seed"' not in before
    assert "template（" not in page and "随机种子" not in page
    # Metric keys appear only as a detail line under the Chinese name.
    assert '<small class="detail key">militia.primary</small>' in page
    assert ">militia.primary<" not in page.replace('<small class="detail key">militia.primary</small>', "")


UIEXTRA = [
    ("line 12, column 5：x", "第 12 行第 5 列：x"),
    ("cell A44 应为数字", "单元格 A44 应为数字"),
    ("militia.primary.value：应为数字", "“基干民兵（本年）”：应为数字"),
    ("缺少 meta.year", "缺少 “述职年度”"),
    ("metrics.yaml 不变", "metrics.yaml 不变"),
]


@pytest.mark.parametrize("raw, shown", UIEXTRA)
def test_office_words(raw, shown):
    from pipeline.web.views import metric_labels, office_words

    labels = metric_labels(None, "dangguan-wuzhuang")
    labels.setdefault("militia.primary", "基干民兵")
    assert office_words(raw, {**labels, "militia.primary": "基干民兵"}) == shown


def test_upload_rejected_is_an_exception_with_status():
    exc = UploadRejected("x", status=413)
    assert exc.status == 413 and str(exc) == "x"
