"""End-to-end tests of the web workbench in headless Chromium (Debian's /usr/bin/chromium, driven by
Python Playwright with `executable_path`; `playwright install` is never needed).

The server is uvicorn in a thread on a socket bound here first (port 0), so the browser's first
request waits in the listen backlog instead of the test polling for readiness. Screenshots go to
out/screenshots/. Skipped, with the reason, when Chromium or Playwright is missing.
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import docx
import pytest

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures" / "web"
SAMPLE = ROOT / "corpus" / "sample" / "metrics.yaml"
SHOTS = ROOT / "out" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.browser

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

if not CHROMIUM.exists():
    pytestmark = [pytest.mark.browser, pytest.mark.skip(
        reason=f"浏览器测试已跳过：找不到 {CHROMIUM}（Debian：apt-get install chromium）")]
elif sync_playwright is None:
    pytestmark = [pytest.mark.browser, pytest.mark.skip(
        reason="浏览器测试已跳过：没有安装 Python playwright（pip install -e '.[dev]'）")]


class _Gate:
    """Holds the drafting thread in its progress callback until the test has seen the progress page."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()


class _Logged:
    """The app as the server runs it, with each POST's (path, Origin, status) kept for the tests: what the
    workbench answered, seen from its side (a sandboxed frame's requests are invisible to the page)."""

    def __init__(self, app):
        self.app = app
        self.posts: list[tuple[str, str, int]] = []
        self.arrived = threading.Condition()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        origin = dict(scope["headers"]).get(b"origin", b"(none)").decode()

        async def spy(message):
            if message["type"] == "http.response.start":
                with self.arrived:
                    self.posts.append((scope["path"], origin, message["status"]))
                    self.arrived.notify_all()
            await send(message)

        await self.app(scope, receive, spy)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    import uvicorn

    from pipeline.web.app import create_app

    base = tmp_path_factory.mktemp("web")
    app = create_app(base / "index", token=None, work_dir=base / "work")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(_Logged(app), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    _APPS[url] = app
    _POSTS[url] = srv.config.app
    yield url
    srv.should_exit = True
    thread.join(timeout=10)
    sock.close()
    app.state.jobs.close()          # lifespan is off here: stop the worker processes ourselves


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(base_url=server, accept_downloads=True, locale="zh-CN",
                                  viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    foreign: list[str] = []
    dialogs: list[str] = []
    pg.on("request", lambda req: foreign.append(req.url) if not req.url.startswith(server) else None)
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    pg.foreign_requests = foreign
    pg.dialogs = dialogs
    yield pg
    context.close()
    assert foreign == [], f"page fetched something off this machine: {foreign}"
    assert dialogs == [], f"a script from report text ran: {dialogs}"


def _shot(pg, name: str, *, full_page: bool = True) -> None:
    pg.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def test_draft_upload_progress_highlight_and_docx(page, tmp_path, monkeypatch):
    from pipeline.web.jobs import DraftJob

    gate = _Gate()
    real = DraftJob.on_progress

    def held(self, event):
        """The job's own progress handler, then a hold at the start of 履职 until the screenshot is taken."""
        real(self, event)
        if getattr(event, "kind", None) == "section_start" and event.section == "duty" and not gate.release.is_set():
            gate.entered.set()
            gate.release.wait(30)

    monkeypatch.setattr(DraftJob, "on_progress", held)

    page.goto("/draft")
    expect(page.get_by_role("link", name="下载样例指标文件")).to_be_visible()
    _shot(page, "01-draft-form")
    page.locator("#upload-form input[name=metrics_file]").set_input_files(str(SAMPLE))
    page.locator("#upload-form button[type=submit]").click()
    page.wait_for_url("**/draft/jobs/*")
    assert gate.entered.wait(20)
    expect(page.locator("#job-phase")).to_contain_text("正在写：履职")
    expect(page.locator("#job-done")).to_have_text("1")          # 开头 written, 履职 under way
    _shot(page, "02-draft-progress")
    gate.release.set()

    report = page.locator("#report")
    expect(report).to_be_visible()
    expect(report).to_contain_text("2025年度党管武装工作述职报告")
    supported = page.locator("#report .f.v-supported")
    assert supported.count() >= 20
    figure = page.locator("#report .f", has_text="238人").first
    assert "conscription.recruits" in figure.get_attribute("title")
    figure.hover()
    expect(figure.locator(".tip")).to_be_visible()
    expect(figure.locator(".tip")).to_contain_text("指标：")
    expect(figure.locator(".tip")).not_to_contain_text("conscription.recruits")   # the key is for experts only
    _shot(page, "03-draft-result-hover", full_page=False)
    _shot(page, "03-draft-result")

    with page.expect_download() as info:
        page.locator("#downloads a", has_text="draft.docx").first.click()
    download = info.value
    target = tmp_path / "draft.docx"
    download.save_as(str(target))
    body = "\n".join(p.text for p in docx.Document(str(target)).paragraphs)
    assert "2025年度党管武装工作述职报告" in body and "238人" in body
    with page.expect_download() as info:
        page.locator("#downloads a", has_text="draft-review.docx").click()
    review_copy = tmp_path / "draft-review.docx"
    info.value.save_as(str(review_copy))
    assert docx.Document(str(review_copy)).paragraphs


def test_draft_form_shows_errors_next_to_fields(page):
    page.goto("/draft?prefill=sample")
    region = page.locator("input[name='meta.region']")
    expect(region).to_have_value("岚川县")
    page.fill("input[name='metrics.militia.primary.value']", "很多")
    region.fill("")
    page.locator("#metrics-form button[type=submit]").click()
    row = page.locator("tr.bad", has=page.locator("input[name='metrics.militia.primary.value']"))
    expect(row.locator(".field-error")).to_contain_text("应为数字")
    expect(page.locator("label.bad", has_text="地区名称")).to_contain_text("缺少 “地区名称”")
    page.locator("tr.bad").first.scroll_into_view_if_needed()
    _shot(page, "04-draft-form-errors")


def test_review_flags_wrong_figure_and_filters(page):
    page.goto("/review")
    page.locator("input[name=report_file]").set_input_files(str(FIX / "report_wrong.txt"))
    page.locator("input[name=metrics_file]").set_input_files(str(FIX / "metrics.yaml"))
    page.locator("input[name=prior_file]").set_input_files(str(FIX / "prior.yaml"))
    page.get_by_role("button", name="开始核对").click()
    wrong = page.locator("#report .f.v-contradicted")
    expect(wrong).to_contain_text("1230人")
    assert "militia.primary" in wrong.get_attribute("title")
    wrong.hover()
    _shot(page, "05-review-result")
    rows = page.locator("#findings-table tbody tr[data-verdict]")
    total = rows.count()
    page.get_by_role("button", name="只看有问题的").click()
    visible = page.locator("#findings-table tbody tr[data-verdict]:visible")
    expect(visible).to_have_count(1)
    assert total > 1
    expect(visible.first).to_contain_text("1230人")
    _shot(page, "06-review-filtered")
    page.emulate_media(media="print")
    expect(page.locator(".topbar")).to_be_hidden()
    expect(page.locator("#review-form")).to_be_hidden()
    expect(page.locator("#report")).to_be_visible()
    # What the reviewer filtered is what gets printed.
    expect(page.locator("#findings-table tbody tr[data-verdict]:visible")).to_have_count(1)
    _shot(page, "06b-review-print")


def test_report_with_script_is_shown_as_text(page):
    page.goto("/review")
    page.locator("input[name=report_file]").set_input_files(str(FIX / "report_xss.txt"))
    page.locator("input[name=metrics_file]").set_input_files(str(FIX / "metrics.yaml"))
    page.get_by_role("button", name="开始核对").click()
    expect(page.locator("#report")).to_contain_text("<script>alert('xss')</script>")
    expect(page.locator("#report")).to_contain_text('onerror="alert(1)"')
    assert page.locator("#report img, #report script, #report b").count() == 0
    page.locator("#report").hover()           # would fire onmouseover if it had become markup
    _shot(page, "07-review-xss-escaped")


def test_compare_side_by_side(page):
    page.goto("/compare")
    page.locator("input[name=file_a]").set_input_files(str(FIX / "report_last_year.txt"))
    page.locator("input[name=file_b]").set_input_files(str(FIX / "report_wrong.txt"))
    page.get_by_role("button", name="开始对比").click()
    expect(page.locator("#compare-summary")).to_contain_text("数字变化")
    expect(page.locator("mark.fig-old", has_text="1290人")).to_be_visible()
    expect(page.locator("mark.fig-new", has_text="1230人")).to_be_visible()
    _shot(page, "08-compare")


def test_corpus_ingest_and_search(page):
    page.goto("/corpus")
    page.locator("input[name=reports]").set_input_files([str(FIX / "report_last_year.txt"),
                                                          str(ROOT / "corpus" / "reports" / "lanchuan-2023.docx")])
    page.get_by_role("button", name="入库").click()
    expect(page.locator("#ingest-result")).to_contain_text("新增 2 份")
    expect(page.locator("#documents tbody tr")).to_have_count(2)
    page.fill("input[name=q]", "基干民兵 整组")
    page.select_option("select[name=section]", "systems")
    page.get_by_role("button", name="检索").click()
    expect(page.locator("#hits li").first).to_contain_text("制度落实")
    _shot(page, "09-corpus")



# ---------------------------------------------------------------------- editing with live checking

def test_edit_a_figure_see_it_turn_red_fix_it_and_download(page, tmp_path):
    """The secretary changes 1535人 to 1553人 in the page: the figure turns red (checked on the
    server by the same checker); she puts it back, it turns green, and the Word file has her text."""
    sample = SAMPLE.read_text(encoding="utf-8")
    metrics = tmp_path / "metrics.yaml"
    metrics.write_text(sample.replace("    value: 1520\n    previous: 1535", "    value: 1535\n    previous: 1520"),
                       encoding="utf-8")
    page.goto("/draft")
    page.locator("#upload-form input[name=metrics_file]").set_input_files(str(metrics))
    page.locator("#upload-form button[type=submit]").click()
    page.wait_for_url("**/draft/jobs/*")
    editor = page.locator("#edit-text")
    expect(editor).to_be_visible()
    expect(page.locator("#report .f.v-supported", has_text="1535人").first).to_be_visible()
    original = editor.input_value()
    assert "1535人" in original
    editor.fill(original.replace("1535人", "1553人", 1))
    red = page.locator("#report .f.v-contradicted", has_text="1553人")
    expect(red).to_be_visible()
    expect(page.locator("#check-status")).to_contain_text("需要核对")
    red.scroll_into_view_if_needed()
    _shot(page, "10-edit-red", full_page=False)
    editor.fill(original)
    expect(page.locator("#report .f.v-contradicted")).to_have_count(0)
    expect(page.locator("#report .f.v-supported", has_text="1535人").first).to_be_visible()
    expect(page.locator("#check-status")).to_contain_text("所有数字都有依据")
    with page.expect_download() as info:
        page.get_by_role("button", name="保存并下载 Word").click()
    target = tmp_path / "edited.docx"
    info.value.save_as(str(target))
    body = "\n".join(p.text for p in docx.Document(str(target)).paragraphs)
    assert "1535人" in body and "1553人" not in body


# ---------------------------------------------------------------------- a hostile page on another origin

HOSTILE_PAGE = """<!DOCTYPE html><html><body><h1>抽奖</h1>
<iframe sandbox="allow-scripts allow-forms" srcdoc="<script>
const f = new FormData();
f.append('metrics_file', new Blob([atob('{yaml}')], {{type: 'application/x-yaml'}}), 'm.yaml');
fetch('{target}/draft', {{method: 'POST', mode: 'no-cors', body: f}})
  .finally(() => parent.postMessage('framed', '*'));
</script>"></iframe>
<form id="f" method="post" action="{target}/corpus/ingest" enctype="multipart/form-data" target="sink">
<input type="hidden" name="x" value="1"></form><iframe name="sink"></iframe>
<script>
let seen = 0;
const mark = () => {{ seen += 1; if (seen === 3) document.title = 'all sent'; }};
window.addEventListener('message', mark);
const g = new FormData();
g.append('reports', new Blob(['某县2024年述职报告'], {{type: 'text/plain'}}), 'r.txt');
fetch('{target}/corpus/ingest', {{method: 'POST', mode: 'no-cors', body: g}}).finally(mark);
document.querySelector('iframe[name=sink]').addEventListener('load', mark);
document.getElementById('f').submit();
</script></body></html>"""


def test_hostile_page_on_another_origin_cannot_post(browser, server, tmp_path):
    import base64
    import http.server

    sample_b64 = base64.b64encode(SAMPLE.read_bytes()).decode()
    html = HOSTILE_PAGE.format(target=server, yaml=sample_b64).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args):  # quiet
            pass

    hostile = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=hostile.serve_forever, daemon=True)
    thread.start()
    jobs = _server_app(server).state.jobs
    before = jobs.count()
    corpus = _server_app(server).state.work_dir / "corpus"
    files_before = sorted(corpus.glob("*")) if corpus.exists() else []
    context = browser.new_context(locale="zh-CN")
    pg = context.new_page()
    logged = _POSTS[server]
    posts = logged.posts
    seen_before = len(posts)
    try:
        pg.goto(f"http://127.0.0.1:{hostile.server_address[1]}/")
        with logged.arrived:       # the three posts reach the workbench (no fixed wait)
            assert logged.arrived.wait_for(lambda: len(posts) >= seen_before + 3, timeout=20)
        _shot(pg, "11-hostile-page")
    finally:
        context.close()
        hostile.shutdown()
    posted = posts[seen_before:]
    hostile_origin = f"http://127.0.0.1:{hostile.server_address[1]}"
    # The sandboxed frame (Origin: null) and both cross-origin posts reached the workbench and were refused.
    assert sorted(posted) == sorted([("/draft", "null", 403), ("/corpus/ingest", hostile_origin, 403),
                                     ("/corpus/ingest", hostile_origin, 403)]), posted
    assert jobs.count() == before
    assert (sorted(corpus.glob("*")) if corpus.exists() else []) == files_before


def _server_app(server: str):
    return _APPS[server]


_APPS: dict[str, object] = {}
_POSTS: dict[str, list] = {}


# ---------------------------------------------------------------------- phone and laptop

PAGES_TO_SHOW = ["/draft", "/review", "/compare", "/corpus", "/history", "/draft?prefill=sample", "/no-such-page"]


@pytest.mark.parametrize("width, height", [(390, 844), (1366, 768)])
def test_every_page_fits_the_screen_and_the_menu_is_one_line(browser, server, width, height):
    context = browser.new_context(base_url=server, locale="zh-CN", viewport={"width": width, "height": height},
                                  accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    # A review result and a comparison: the pages with the widest tables.
    pg.goto("/review")
    pg.locator("input[name=report_file]").set_input_files(str(FIX / "report_wrong.txt"))
    pg.locator("input[name=metrics_file]").set_input_files(str(FIX / "metrics.yaml"))
    pg.get_by_role("button", name="开始核对").click()
    pg.wait_for_url("**/review/jobs/*")
    review_url = pg.url
    urls = PAGES_TO_SHOW + [review_url]
    try:
        for i, url in enumerate(urls):
            pg.goto(url)
            _check_fits(pg, width)
            _shot(pg, f"20-{width}-{i:02d}")
        pg.goto("/compare")
        pg.locator("input[name=file_a]").set_input_files(str(FIX / "report_last_year.txt"))
        pg.locator("input[name=file_b]").set_input_files(str(FIX / "report_wrong.txt"))
        pg.get_by_role("button", name="开始对比").click()
        expect(pg.locator("#compare-summary")).to_be_visible()
        _check_fits(pg, width)
        _shot(pg, f"20-{width}-compare-result")
        pg.goto(review_url)
        if width < 600:
            # Tables become cards: a findings row is a block with its column names written in.
            row = pg.locator("#findings-table tbody tr").first
            assert row.evaluate("r => getComputedStyle(r).display") == "block"
            assert pg.locator("#findings-table thead").is_hidden()
    finally:
        context.close()


def _check_fits(pg, width: int) -> None:
    scroll = pg.evaluate("() => document.documentElement.scrollWidth")
    assert scroll <= width, f"{pg.url}: page is {scroll}px wide at a {width}px screen"
    tops = pg.locator(".topbar nav a").evaluate_all("links => links.map(a => Math.round(a.getBoundingClientRect().top))")
    assert len(set(tops)) == 1, f"{pg.url}: menu wraps: {tops}"
