"""The web workbench (`shuzhi serve`): server-rendered pages over the same library calls as the CLI.

起草 /draft, 审核 /review, 对比 /compare, 语料 /corpus, 历史记录 /history. The routes parse the
request, call `pipeline.facts.metrics`, `pipeline.drafting.draft`, `pipeline.facts.check`,
`pipeline.facts.diff`, `pipeline.index.hybrid`, and render a Jinja2 template (autoescape on: every
piece of report text is untrusted).

Safety, in one place (`_guard`): without a token only loopback Host names are served (a page on
another site cannot reach the workbench through DNS rebinding); with a token every request must
carry it (Bearer header, or the cookie set by one `?token=` visit); every state-changing request
must come from this origin: its `Origin` header must name this host and port (a missing or `null`
Origin — a sandboxed frame, a privacy-stripped form — is refused), unless it carries the token in
an `Authorization` header, which no other site's page can add. Bodies over the size limit get 413
before they are parsed, and every upload's shape is checked (`uploads.check_shape`) before a parser
sees it. Every response carries a CSP that allows only this origin's scripts and styles, so
templates have no inline script or style. Drafts and reviews are jobs (`jobs.JobStore`): limited in
number and time, run in worker processes (`workers.WorkerPool`, stopped with the server), kept on
disk in the data folder, listed on 历史记录.

Threads: the routes are `async`. The event loop itself renders pages and runs searches (a search
is ~0.2 ms of CPU; the read index is loaded at start-up and after an upload to 语料, in a thread);
it does no disk work and no upload parsing, so it keeps answering while 20 drafts are submitted:
submissions are checked and filed on at most `UPLOAD_THREADS` threads (`in_threads`), job pages and
downloads read the disk in Starlette's thread pool, and drafts and reviews run in the worker
processes, one thread waiting for each. All of it shares one GIL; more threads would only take
turns at it (eval/bench_web.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import shutil
import tempfile
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import anyio
import anyio.to_thread
import jinja2
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipeline.errors import ShuzhiError
from pipeline.facts.diff import SECTION_NAMES
from pipeline.models import BAD_VERDICTS, VERDICTS, MetricProblem, Metrics
from pipeline.output.check_html import KIND_NAMES, VERDICT_COLOURS, VERDICT_NAMES
from pipeline.profile.catalog import DEFAULT_PROFILE, installed_profiles
from pipeline.web import forms
from pipeline.web.compare_view import compare_sections
from pipeline.web.jobs import (
    DEFAULT_KEEP_BYTES,
    DEFAULT_KEEP_COUNT,
    DEFAULT_KEEP_DAYS,
    DEFAULT_MAX_RUNNING,
    DEFAULT_TIME_LIMIT,
    DraftJob,
    JobStore,
    valid_job_id,
)
from pipeline.web.middleware import (  # noqa: F401 - CSP: re-exported for the tests
    CSP,
    TOKEN_COOKIE,
    BodyLimit,
    BodyTooLarge,
    Guard,
    HeadAsGet,
    is_loopback,
    same_origin,
    supplied_token,
)
from pipeline.web.tasks import DraftTask, JobTimeout, ReviewTask, TaskContext, TaskCrashed, WorkerDied
from pipeline.web.uploads import (
    MAX_SHOWN_PROBLEMS,
    METRICS_SUFFIXES,
    REPORT_SUFFIXES,
    SavedUpload,
    UploadRejected,
    is_present,
    max_upload_bytes,
    save_upload,
    size_text,
)
from pipeline.web.views import blocks_from_text, check_view, metric_labels, office_words
from pipeline.web.workers import DEFAULT_RECYCLE_AFTER, WorkerPool, WorkerSettings

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SAMPLE_METRICS = ROOT / "corpus" / "sample" / "metrics.yaml"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
JOB_FILES = {
    "draft.docx": DOCX_TYPE,
    "draft-review.docx": DOCX_TYPE,
    "review.docx": DOCX_TYPE,
    "edited.docx": DOCX_TYPE,
    "draft.md": "text/markdown; charset=utf-8",
    "draft.json": "application/json",
    "check.html": "text/html; charset=utf-8",
}
FILE_NAMES = {
    "draft.docx": "Word 稿", "draft-review.docx": "带批注的审阅稿",
    "review.docx": "下载带批注的审阅稿", "edited.docx": "修改后的 Word 稿",
    "draft.md": "纯文本", "draft.json": "数据文件", "check.html": "核对报告",
}
MAX_FILES_PER_REQUEST = 20
UPLOAD_THREADS = 2                        # submissions checked and filed at once (see `in_threads`)
BODY_SLACK = 256 * 1024                   # multipart headers and text fields on top of the files
MAX_EDIT_CHARS = 200_000                  # an edited report sent for re-checking or for Word
ENGINE_PREFIXES = ("template", "transformers:", "openai:")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
STATUS_TITLES = {400: "请求有误", 401: "需要访问令牌", 403: "拒绝访问", 404: "找不到这个页面", 405: "不支持的操作",
                 413: "上传内容太大", 415: "文件类型不支持", 500: "服务出错了", 503: "服务繁忙"}


def create_app(
    index_dir: Path | None = None,
    *,
    token: str | None = None,
    work_dir: Path | None = None,
    max_upload: int | None = None,
    allowed_hosts: Sequence[str] | None = None,
    run_jobs_inline: bool = False,
    max_jobs: int = DEFAULT_MAX_RUNNING,
    job_timeout: float = DEFAULT_TIME_LIMIT,
    keep_count: int = DEFAULT_KEEP_COUNT,
    keep_days: float = DEFAULT_KEEP_DAYS,
    keep_bytes: int = DEFAULT_KEEP_BYTES,
    worker_jobs: int = DEFAULT_RECYCLE_AFTER,
) -> FastAPI:
    """Build the app. `index_dir`: the index of past reports (None: the 语料 page says none is set).

    `token`: required on every request when set. `work_dir`: the data folder (job table, job files,
    uploaded corpus; default: a new temporary folder — `shuzhi serve` passes a lasting one).
    `max_upload`: bytes per file (default SHUZHI_MAX_UPLOAD or 10 MB). `allowed_hosts`: Host names
    served without a token (default: loopback names). `max_jobs` jobs run at once, each in one of
    `max_jobs` worker processes (started with the first job, each replaced after `worker_jobs` jobs)
    and killed after `job_timeout` seconds; `run_jobs_inline` runs a job inside the request, in this
    process (tests). Finished jobs are kept up to `keep_count` / `keep_days` / `keep_bytes`.
    """
    work = Path(work_dir) if work_dir is not None else Path(tempfile.mkdtemp(prefix="shuzhi-web-"))
    work.mkdir(parents=True, exist_ok=True)
    limit = max_upload if max_upload is not None else max_upload_bytes()
    hosts = frozenset(h.lower() for h in (allowed_hosts or LOOPBACK_NAMES))
    shared_index: dict[str, Any] = {}

    def open_index(*, write: bool = False):  # noqa: ANN202 - HybridIndex, imported lazily
        """One read-only index for the whole server (searches, live re-checks), loaded once; it
        notices a newer generation written by an ingest and reloads itself. Workers open their own."""
        from pipeline.index.hybrid import HybridIndex

        if index_dir is None:
            return None
        if write:
            return HybridIndex.open(index_dir, read_only=False)
        if "read" not in shared_index:
            if not (index_dir / "state.json").is_file():
                return None
            shared_index["read"] = HybridIndex.open(index_dir, read_only=True)
        return shared_index["read"]

    pool = None if run_jobs_inline else WorkerPool(
        max_jobs, WorkerSettings(index_dir=Path(index_dir) if index_dir is not None else None), recycle_after=worker_jobs)
    jobs = JobStore(work, max_running=max_jobs, time_limit=job_timeout, keep_count=keep_count,
                    keep_days=keep_days, keep_bytes=keep_bytes, pool=pool, context=TaskContext(open_index))

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(warm_index)
        yield
        # The server is stopping: no worker process outlives it, running jobs end as failed.
        await run_in_threadpool(jobs.close)

    app = FastAPI(title="shuzhi 述职报告工作台", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,            # every template, whatever its extension
        auto_reload=False,          # no stat() of the template files on every page
        undefined=jinja2.StrictUndefined,
    )
    env.globals.update(verdict_names=VERDICT_NAMES, section_names=SECTION_NAMES, kind_names=KIND_NAMES,
                       verdicts=VERDICTS, bad_verdicts=BAD_VERDICTS, file_names=FILE_NAMES)
    templates = Jinja2Templates(env=env)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_middleware(BodyLimit, limit=limit * 4 + BODY_SLACK)
    app.add_middleware(HeadAsGet)
    app.state.work_dir = work
    app.state.jobs = jobs

    def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("active", name.split(".")[0])
        context.setdefault("error", None)
        context.setdefault("errors", [])
        context.setdefault("max_upload", size_text(limit))
        return templates.TemplateResponse(request, name, context, status_code=status)

    def error_html(message: str, status: int, active: str = "", back: str = "/draft") -> HTMLResponse:
        """A Chinese error page with a way back; rendered without the request (also from `_guard`)."""
        html = env.get_template("error.html").render(
            message=message, status=status, title=STATUS_TITLES.get(status, "出错了"), active=active,
            back=back, back_name=_back_name(back), error=None, errors=[], max_upload=size_text(limit))
        return HTMLResponse(html, status_code=status)

    def error_page(request: Request, message: str, status: int, active: str = "") -> HTMLResponse:
        return error_html(message, status, active, back=f"/{active}" if active else "/draft")

    def request_dir() -> Path:
        return Path(tempfile.mkdtemp(prefix="req-", dir=work))

    # ------------------------------------------------------------------ guard

    def _guard(request: Request) -> Response | None:
        """The answer instead of the route's (refused, or the token login's redirect), or None."""
        response = _refuse(request)
        if response is None and token is not None:
            supplied = supplied_token(request)
            if supplied is None or not hmac.compare_digest(supplied.encode(), token.encode()):
                response = error_html("未授权：请使用启动时给出的访问令牌打开本页（网址后加 ?token=令牌），"
                                      "或在请求头加 Authorization: Bearer 令牌。令牌请向启动工作台的同事索取。", 401)
            elif request.query_params.get("token") is not None:
                # Logged in by URL once: keep the token in a cookie and drop it from the address bar.
                rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
                url = request.url.path + (f"?{urlencode(rest)}" if rest else "")
                response = RedirectResponse(url, status_code=303)
                response.set_cookie(TOKEN_COOKIE, token or "", httponly=True, samesite="strict",
                                    secure=request.url.scheme == "https")
        if response is None:
            declared = request.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > limit * 4 + BODY_SLACK:
                response = error_html(f"上传内容太大：每个文件不能超过 {size_text(limit)}。请上传更小的文件。", 413)
        return response

    app.add_middleware(Guard, check=_guard)

    def _refuse(request: Request) -> Response | None:
        host = (request.url.hostname or "").lower().strip("[]")
        if token is None and host not in hosts and not is_loopback(host):
            return error_html(f"拒绝访问：本工作台只接受本机地址（如 127.0.0.1）的访问，收到的主机名是“{host}”。"
                              "如需让其他电脑访问，请用 --host 启动并设置访问令牌（环境变量 SHUZHI_TOKEN）。", 400)
        if request.method not in SAFE_METHODS and not same_origin(request, host, token):
            return error_html("拒绝访问：这个提交不是从本工作台的页面发出的（可能来自其他网站或嵌入的页面）。"
                              "请直接在工作台页面上操作。", 403)
        return None

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return error_html(f"找不到这个页面：{request.url.path}。请从上方的菜单进入。", 404)
        if exc.status_code == 405:
            return error_html("不支持这样打开本页面；请从上方的菜单进入后操作。", 405)
        return error_html(str(exc.detail), exc.status_code)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> Response:
        name = exc.type_name if isinstance(exc, TaskCrashed) else type(exc).__name__
        return error_html(f"服务出错了（{name}）。请回到上一页重试；如果再次出现，请把这个页面的地址"
                          "和出错时间告诉维护人员。", 500)

    # ------------------------------------------------------------------ shared pieces

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse("/draft", status_code=303)

    @app.get("/assets/verdicts.css", include_in_schema=False)
    async def verdict_css() -> Response:
        # Generated from check_html's colours so the workbench and check.html never disagree.
        rules = []
        for verdict, colour in VERDICT_COLOURS.items():
            rules.append(f".v-{verdict}{{color:{colour};border-color:{colour}}}")
            rules.append(f".b-{verdict}{{background:{colour};color:#fff;padding:0 .4em;border-radius:3px}}")
        return Response("\n".join(rules) + "\n", media_type="text/css")

    @app.get("/sample/metrics.yaml")
    async def sample_metrics(request: Request) -> Response:
        if not SAMPLE_METRICS.is_file():
            return error_page(request, "本安装没有附带样例指标文件（corpus/sample/metrics.yaml）。", 404)
        return FileResponse(SAMPLE_METRICS, media_type="application/x-yaml", filename="metrics.yaml")

    @app.get("/template/metrics.xlsx")
    async def template_xlsx() -> Response:
        from pipeline.facts.metrics_template import template_xlsx_bytes

        data = await run_in_threadpool(template_xlsx_bytes, DEFAULT_PROFILE)
        return Response(data, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": _attachment("指标模板.xlsx", "metrics-template.xlsx")})

    @app.get("/template/metrics.yaml")
    async def template_yaml() -> Response:
        from pipeline.facts.metrics_template import template_yaml as make

        return Response(make(DEFAULT_PROFILE), media_type="application/x-yaml; charset=utf-8",
                        headers={"Content-Disposition": _attachment("指标模板.yaml", "metrics-template.yaml")})

    def labels_for(metrics: Metrics | None = None) -> dict[str, str]:
        return metric_labels(metrics, DEFAULT_PROFILE)

    def problem_lines(problems: Sequence[MetricProblem], labels: dict[str, str]) -> list[str]:
        """One line per problem, in the office's words, at most MAX_SHOWN_PROBLEMS then a count."""
        errors = [p for p in problems if p.severity == "error"]
        lines = [(f"{p.where}：" if p.location else "") + office_words(p.message, labels)
                 for p in errors[:MAX_SHOWN_PROBLEMS]]
        if len(errors) > MAX_SHOWN_PROBLEMS:
            lines.append(f"……还有 {len(errors) - MAX_SHOWN_PROBLEMS} 处错误未列出；请先改好上面这些后重新上传。")
        return lines

    # ------------------------------------------------------------------ 起草

    limiters: dict[str, anyio.CapacityLimiter] = {}

    async def in_threads(kind: str, count: int, work: Callable[..., Any], *args: Any) -> Any:
        """Run CPU-heavy request work (`upload`: checking and filing a submission) on at most `count`
        threads of its kind, first come first served. In Starlette's pool 20 drafts submitted at once
        would start 20 threads (each start blocks the event loop until the thread runs), and they would
        take turns at the GIL with the event loop that answers everyone else."""
        if kind not in limiters:                    # made inside the event loop, on first use
            limiters[kind] = anyio.CapacityLimiter(count)
        return await anyio.to_thread.run_sync(lambda: work(*args), limiter=limiters[kind])

    def draft_page(request: Request, status: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("values", {})
        context.setdefault("field_errors", {})
        context.setdefault("file_problems", [])
        context.setdefault("general_errors", [])
        context.setdefault("engine", "template")
        context.setdefault("engine_spec", "")
        context.setdefault("seed", "0")
        context.setdefault("mode", "form")
        context.setdefault("prefilled", False)
        context.setdefault("file_label", "")
        profile = context.pop("profile", None) or DEFAULT_PROFILE
        return page(request, "draft.html", status=status, groups=forms.catalog_groups(profile),
                    profile=profile, profiles=[(p.name, p.title or p.name) for p in installed_profiles()],
                    meta_fields=forms.META_FIELDS, list_fields=forms.LIST_FIELDS,
                    list_label=forms.list_label, list_hints=forms.LIST_HINTS,
                    has_sample=SAMPLE_METRICS.is_file(), queued=jobs.slots.queued(), **context)

    def chosen_profile(name: str) -> str:
        """The form's profile (a township form has township fields); unknown names fall back to the default."""
        return name if name in {p.name for p in installed_profiles()} else DEFAULT_PROFILE

    @app.get("/draft")
    async def draft_form(request: Request, prefill: str = "", profile: str = "") -> HTMLResponse:
        values: dict[str, str] = {}
        chosen = chosen_profile(profile)
        if prefill == "sample" and SAMPLE_METRICS.is_file():
            from pipeline.facts.metrics import load_metrics

            values = forms.form_from_metrics(load_metrics(SAMPLE_METRICS))
            chosen = DEFAULT_PROFILE
        return draft_page(request, values=values, prefilled=bool(values), profile=chosen)

    @app.post("/draft")
    async def draft_submit(request: Request) -> Response:
        form, rejected = await _read_form(request, error_page)
        if rejected is not None:
            return rejected
        # Checking, saving and filing the upload read and write the disk and parse: off the event
        # loop, which keeps answering searches and progress polls meanwhile.
        accepted = await in_threads("upload", UPLOAD_THREADS, accept_draft, form)
        if isinstance(accepted, dict):
            return draft_page(request, **accepted)
        return RedirectResponse(f"/draft/jobs/{accepted}", status_code=303)

    def accept_draft(form: FormData) -> str | dict[str, Any]:
        """File a submitted draft as a job and queue it: its id, or what the form page should say."""
        from pipeline.facts.metrics import MetricsError, load_metrics, metrics_from_mapping

        engine = _text(form.get("engine")) or "template"
        engine_spec = _text(form.get("engine_spec"))
        keep = {"values": forms.form_values(form), "engine": engine, "engine_spec": engine_spec,
                "seed": _text(form.get("seed")) or "0", "profile": chosen_profile(_text(form.get("profile")))}
        spec = engine_spec if engine == "other" else engine
        if not spec.startswith(ENGINE_PREFIXES) or (spec != "template" and ":" not in spec):
            return {"status": 400, "general_errors": [
                f"生成方式“{spec or '（空）'}”无效：在“高级设置”里选“标准模板”，或在“其他生成方式”中写 "
                "transformers:模型目录 或 openai:地址#模型名。"], **keep}
        seed_text = keep["seed"]
        if not seed_text.isdigit() or int(seed_text) > 2**31:
            return {"status": 400, "general_errors": [
                f"“高级设置”中的句式编号应为 0 到 {2**31} 之间的整数，收到“{seed_text}”。"], **keep}
        seed = int(seed_text)
        # Saved straight into a new job folder (no copy, no temporary folder: on a busy disk each
        # folder made and removed costs milliseconds); it becomes a job only once it is valid.
        job_id = jobs.new_folder()
        folder = jobs.folder(job_id)
        labels = labels_for()
        accepted = False
        saved_files: list[SavedUpload] = []
        try:
            metrics_upload = form.get("metrics_file")
            if is_present(metrics_upload):
                saved = save_upload(metrics_upload, folder, allowed=METRICS_SUFFIXES, what="指标文件",
                                    max_bytes=limit, name="metrics")
                saved_files.append(saved)
                try:
                    metrics = _relabel(load_metrics(saved.path), saved)
                except MetricsError as exc:
                    return {"status": 400, "mode": "file", "file_problems": problem_lines(exc.problems, labels),
                            "file_label": saved.label, **keep}
            else:
                mapping = forms.mapping_from_form(form, keep["profile"])
                try:
                    metrics = metrics_from_mapping(mapping, source="表单")
                except MetricsError as exc:
                    by_field, general = forms.field_errors(exc.problems)
                    by_field = {k: [office_words(m, labels) for m in v] for k, v in by_field.items()}
                    return {"status": 400, "field_errors": by_field,
                            "general_errors": [office_words(m, labels) for m in general], **keep}
                # The job folder keeps the metrics it was drafted from: live re-checking loads them again.
                (folder / "metrics.json").write_text(json.dumps(mapping, ensure_ascii=False), encoding="utf-8")
            prior = None
            prior_upload = form.get("prior_file")
            if is_present(prior_upload):
                saved_prior = save_upload(prior_upload, folder, allowed=METRICS_SUFFIXES, what="上年指标文件",
                                          max_bytes=limit, name="prior")
                saved_files.append(saved_prior)
                try:
                    prior = load_metrics(saved_prior.path, profile=metrics.meta.profile)
                except MetricsError as exc:
                    return {"status": 400, "mode": "file", "file_problems": problem_lines(exc.problems, labels),
                            "file_label": saved_prior.label, **keep}
            jobs.create("draft", label=metrics.source or "", job_id=job_id)
            accepted = True
        except UploadRejected as exc:
            return {"status": exc.status, "general_errors": [str(exc)], **keep}
        except ShuzhiError as exc:
            return {"status": 400, "general_errors": [office_words(_shown(exc, folder, saved_files), labels)], **keep}
        finally:
            if not accepted:
                shutil.rmtree(folder, ignore_errors=True)
        jobs.start_draft(DraftTask(job_id=job_id, folder=folder, metrics=metrics, prior=prior, engine=spec, seed=seed),
                         run_inline=run_jobs_inline)
        return job_id

    def result_page(request: Request, kind: str, job_id: str) -> HTMLResponse:
        row = jobs.row(job_id)
        if row is None or row.kind != kind:
            what = "起草" if kind == "draft" else "审核"
            return error_page(request, f"找不到这个{what}任务：编号无效，或已按保存期限清理。"
                                       "可在“历史记录”里查看保存着的任务。", 404, kind)
        live: DraftJob | None = jobs.get(job_id)
        if row.status in ("queued", "running") and live is not None:
            return page(request, "job.html", job=live.to_json(), job_id=job_id, active=kind, row=row)
        if row.status != "done":
            return page(request, "job.html", job={"status": "error", "error": row.error or "任务没有完成。"},
                        job_id=job_id, active=kind, row=row)
        view = jobs.view(job_id)
        if view is None:
            return error_page(request, "这个任务的结果文件不见了（可能被手工删除）；请重新提交。", 404, kind)
        edited = jobs.folder(job_id) / "edited.txt"
        text = edited.read_text(encoding="utf-8") if edited.is_file() else view["text"]
        files = [n for n in JOB_FILES if n in jobs.files(job_id)]
        return page(request, "result.html", active=kind, job_id=job_id, row=row, view=view,
                    report_html=Markup(view["report_html"]), edit_text=text, files=files,
                    job={"status": "done"})

    @app.get("/draft/jobs/{job_id}")
    async def draft_job_page(request: Request, job_id: str) -> HTMLResponse:
        return await run_in_threadpool(result_page, request, "draft", job_id)     # reads the job folder

    @app.get("/review/jobs/{job_id}")
    async def review_job_page(request: Request, job_id: str) -> HTMLResponse:
        return await run_in_threadpool(result_page, request, "review", job_id)     # reads the job folder

    @app.get("/jobs/{job_id}")
    async def job_status(job_id: str) -> JSONResponse:
        live = jobs.get(job_id)                 # a running job: from memory, on the event loop
        if live is not None:
            return JSONResponse(live.to_json())
        return await run_in_threadpool(finished_status, job_id)     # the table and the folder: a thread

    def finished_status(job_id: str) -> JSONResponse:
        row = jobs.row(job_id)
        if row is None:
            return JSONResponse({"error": "找不到这个任务（编号应为 32 位十六进制）。"}, status_code=404)
        return JSONResponse({"id": row.job_id, "status": row.status, "error": row.error, "done": 0, "total": 0,
                             "phase": row.status_name, "messages": [], "ahead": 0,
                             "files": sorted(jobs.files(row.job_id) & set(JOB_FILES))})

    @app.get("/jobs/{job_id}/files/{name}")
    async def job_file(request: Request, job_id: str, name: str) -> Response:
        row = await run_in_threadpool(jobs.row, job_id) if valid_job_id(job_id) else None
        if row is None or name not in JOB_FILES or not (jobs.folder(job_id) / name).is_file():
            allowed = "、".join(FILE_NAMES.values())
            return error_page(request, f"找不到这个文件：任务编号无效、已被清理，或不是可下载的文件（{allowed}）。", 404,
                              row.kind if row else "draft")
        # Attachment: check.html carries its own inline style, which this origin's CSP would block.
        return FileResponse(jobs.folder(job_id) / name, media_type=JOB_FILES[name], filename=name,
                            content_disposition_type="attachment")

    # ------------------------------------------------------------------ editing with live checking

    checkers: OrderedDict[str, tuple[Metrics, Metrics | None, tuple, dict[str, str]]] = OrderedDict()

    def job_checker(job_id: str) -> tuple[Metrics, Metrics | None, tuple, dict[str, str]]:
        """The metrics (and prior, past reports, labels) a job was checked against, loaded once."""
        from pipeline.facts.metrics import load_metrics

        if job_id in checkers:
            checkers.move_to_end(job_id)
            return checkers[job_id]
        folder = jobs.folder(job_id)
        found = [p for p in sorted(folder.glob("metrics.*")) if p.suffix in METRICS_SUFFIXES]
        if not found:
            raise ShuzhiError("这个任务没有保存指标文件，不能重新核对；请重新提交。")
        metrics = load_metrics(found[0])
        row = jobs.row(job_id)
        if row is not None and row.label:
            metrics = replace(metrics, source=row.label)
        priors = [p for p in sorted(folder.glob("prior.*")) if p.suffix in METRICS_SUFFIXES]
        prior = load_metrics(priors[0], profile=metrics.meta.profile) if priors else None
        index = open_index()
        past = tuple(index.past_reports(metrics.meta.region, before_year=metrics.meta.year)) if index else ()
        checkers[job_id] = (metrics, prior, past, labels_for(metrics))
        while len(checkers) > 16:
            checkers.popitem(last=False)
        return checkers[job_id]

    async def edited_text(request: Request, job_id: str) -> tuple[str | None, Response | None]:
        row = jobs.row(job_id)
        if row is None or row.status != "done":
            return None, JSONResponse({"error": "找不到这个任务，或它还没有完成。"}, status_code=404)
        try:
            if request.headers.get("content-type", "").startswith("application/json"):
                body = await request.json()
                text = body.get("text") if isinstance(body, dict) else None
            else:
                text = (await request.form()).get("text")
        except Exception:  # noqa: BLE001 - a malformed body is the client's error
            text = None
        if not isinstance(text, str):
            return None, JSONResponse({"error": "没有收到报告正文。"}, status_code=400)
        if len(text) > MAX_EDIT_CHARS:
            return None, JSONResponse({"error": f"正文太长（超过 {MAX_EDIT_CHARS} 字）。"}, status_code=413)
        return text.replace("\r\n", "\n"), None

    @app.post("/jobs/{job_id}/check")
    async def recheck(request: Request, job_id: str) -> Response:
        """The edited text checked by the same checker against the job's metrics; the coloured report back."""
        from pipeline.facts.check import check_text

        text, refused = await edited_text(request, job_id)
        if refused is not None:
            return refused
        try:
            metrics, prior, past, labels = await run_in_threadpool(job_checker, job_id)
            result = await run_in_threadpool(check_text, text, metrics, prior=prior, past_texts=past)
        except ShuzhiError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        view = check_view(result, labels)
        return JSONResponse({k: view[k] for k in ("report_html", "summary", "ok", "bad")})

    @app.post("/jobs/{job_id}/word")
    async def save_word(request: Request, job_id: str) -> Response:
        """The edited text through the same GB/T 9704 writer; kept in the job folder and downloaded."""
        from pipeline.fsutil import atomic_write_text
        from pipeline.output.docx_writer import write_docx

        text, refused = await edited_text(request, job_id)
        if refused is not None:
            return error_page(request, json.loads(refused.body)["error"], refused.status_code)
        blocks = blocks_from_text(text)
        if not blocks:
            return error_page(request, "正文是空的，没有可以保存的内容。", 400)
        folder = jobs.folder(job_id)
        await run_in_threadpool(write_docx, blocks, folder / "edited.docx")
        atomic_write_text(folder / "edited.txt", text)
        title = blocks[0].text[:60]
        return FileResponse(folder / "edited.docx", media_type=DOCX_TYPE,
                            headers={"Content-Disposition": _attachment(f"{title}.docx", "edited.docx")})

    # ------------------------------------------------------------------ 审核

    @app.get("/review")
    async def review_form(request: Request) -> HTMLResponse:
        return page(request, "review.html")

    @app.post("/review")
    async def review_submit(request: Request) -> Response:
        form, rejected = await _read_form(request, error_page)
        if rejected is not None:
            return rejected
        if not is_present(form.get("report_file")) or not is_present(form.get("metrics_file")):
            return page(request, "review.html", 400,
                        error="请同时选择“要核对的报告”（.docx/.txt/.md）和“本年指标文件”（.yaml/.json/.xlsx）。")
        accepted = await in_threads("upload", UPLOAD_THREADS, accept_review, form)
        if isinstance(accepted, dict):
            return page(request, "review.html", **accepted)
        try:
            # The worker is killed at the time limit; the extra seconds only bound a job run inline.
            accepted = await asyncio.wait_for(run_in_threadpool(run_review, *accepted), timeout=jobs.time_limit + 30)
        except TimeoutError:
            return page(request, "review.html", 503, error=f"核对超过了 {jobs.time_limit:.0f} 秒的时间上限，已放弃。"
                                                           "请稍后重试，或把报告分成几份分别核对。")
        if isinstance(accepted, dict):
            return page(request, "review.html", **accepted)
        return RedirectResponse(f"/review/jobs/{accepted}", status_code=303)

    def accept_review(form: FormData) -> tuple[str, ReviewTask, list[SavedUpload]] | dict[str, Any]:
        """Save a review's uploads into a new job's folder: the job and its task, or what the form
        page should say (the job is then removed)."""
        job_id = jobs.create("review")
        folder = jobs.folder(job_id)
        saved: list[SavedUpload] = []
        try:
            report = save_upload(form["report_file"], folder / "in", allowed=REPORT_SUFFIXES, what="报告",
                                 max_bytes=limit)
            saved.append(report)
            metrics_file = save_upload(form["metrics_file"], folder / "in", allowed=METRICS_SUFFIXES, what="指标文件",
                                       max_bytes=limit)
            saved.append(metrics_file)
            prior = None
            if is_present(form.get("prior_file")):
                prior = save_upload(form["prior_file"], folder / "in", allowed=METRICS_SUFFIXES, what="上年指标文件",
                                    max_bytes=limit)
                saved.append(prior)
            shutil.copyfile(metrics_file.path, folder / f"metrics{metrics_file.path.suffix}")
            if prior is not None:
                shutil.copyfile(prior.path, folder / f"prior{prior.path.suffix}")
        except UploadRejected as exc:
            jobs.delete(job_id)
            return {"status": exc.status, "error": str(exc)}
        except ShuzhiError as exc:
            jobs.delete(job_id)
            return {"status": 400, "errors": _lines(office_words(_shown(exc, folder, saved), labels_for()))}
        task = ReviewTask(job_id=job_id, folder=folder, report=report.path, report_label=report.label,
                          metrics_file=metrics_file.path, metrics_label=metrics_file.label,
                          prior_file=prior.path if prior else None, prior_label=prior.label if prior else "")
        return job_id, task, saved

    def run_review(job_id: str, task: ReviewTask, saved: list[SavedUpload]) -> str | dict[str, Any]:
        """Check the report in a worker (waiting in line for a slot) and record the job: its id, or
        what the form page should say (status and error lines)."""
        from pipeline.facts.metrics import MetricsError

        folder = task.folder
        labels = labels_for()
        done = False
        try:
            try:
                outcome = jobs.execute(DraftJob(job_id=job_id, out_dir=folder, sections=()), task)
            except (JobTimeout, WorkerDied) as exc:
                message = str(exc) if isinstance(exc, WorkerDied) else (
                    f"核对超过了 {jobs.time_limit:.0f} 秒的时间上限，已停止。请稍后重试，或把报告分成几份分别核对。")
                jobs.finish(job_id, error=message)          # listed on 历史记录 as failed
                done = True
                return {"status": 503, "error": message}
            jobs.finish(job_id, outcome=outcome)
            done = True
        except MetricsError as exc:
            return {"status": 400, "errors": [f"指标文件“{saved[1].label if len(saved) > 1 else ''}”有错误，请改好后重新上传："]
                    + problem_lines(exc.problems, labels)}
        except ShuzhiError as exc:
            return {"status": 400, "errors": _lines(office_words(_shown(exc, folder, saved), labels))}
        finally:
            shutil.rmtree(folder / "in", ignore_errors=True)
            if not done:
                jobs.delete(job_id)
        return job_id

    # ------------------------------------------------------------------ 对比

    @app.get("/compare")
    async def compare_form(request: Request) -> HTMLResponse:
        return page(request, "compare.html", diff=None)

    @app.post("/compare")
    async def compare_submit(request: Request) -> Response:
        from pipeline.facts.diff import diff_reports
        from pipeline.reading.parse import parse_text
        from pipeline.reading.readers import read_text

        form, rejected = await _read_form(request, error_page)
        if rejected is not None:
            return rejected
        if not is_present(form.get("file_a")) or not is_present(form.get("file_b")):
            return page(request, "compare.html", 400, diff=None,
                        error="请选择两份报告：A 通常是去年的报告，B 是今年的稿子（.docx/.txt/.md）。")
        folder = request_dir()
        saved: list[SavedUpload] = []
        try:
            a = save_upload(form["file_a"], folder, allowed=REPORT_SUFFIXES, what="报告 A", max_bytes=limit)
            saved.append(a)
            b = save_upload(form["file_b"], folder, allowed=REPORT_SUFFIXES, what="报告 B", max_bytes=limit)
            saved.append(b)
            diff = await run_in_threadpool(lambda: diff_reports(parse_text(read_text(a.path), source=a.label),
                                                                parse_text(read_text(b.path), source=b.label)))
        except UploadRejected as exc:
            return page(request, "compare.html", exc.status, diff=None, error=str(exc))
        except ShuzhiError as exc:
            return page(request, "compare.html", 400, diff=None, error=_shown(exc, folder, saved))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return page(request, "compare.html", diff=diff, sections=compare_sections(diff),
                    labels={"a": a.label, "b": b.label})

    # ------------------------------------------------------------------ 历史记录

    @app.get("/history")
    async def history(request: Request) -> HTMLResponse:
        rows = await run_in_threadpool(jobs.history)
        return page(request, "history.html", rows=rows, total=jobs.count(),
                    keep={"count": jobs.keep_count, "days": int(jobs.keep_days), "size": size_text(jobs.keep_bytes)})

    # ------------------------------------------------------------------ 语料

    def warm_index() -> None:
        """Load the read index (memory maps, term tables, the segmenter) now, in a thread: searches
        run on the event loop and should find it loaded. At start-up and after an upload to 语料
        (another process's `shuzhi ingest` is noticed, and loaded, by the next search)."""
        try:
            index = open_index()
            if index is not None:
                index.search("民兵整组", k=1)
                index.documents()
        except ShuzhiError:
            pass                    # the page that needs the index says what is wrong

    documents_html: dict[tuple, Markup] = {}

    def documents_table(documents: list[dict[str, Any]]) -> Markup:
        """The 已入库 table, rendered once per index content (it changes only with an ingest): on a
        corpus of hundreds of reports it would cost more than the search above it."""
        key = tuple((d["path"], d["doc_id"], d["title"], d["region"], d["year"], tuple(d["sections"] or ()),
                     d["chunks"]) for d in documents)
        if key not in documents_html:
            documents_html.clear()
            documents_html[key] = Markup(env.get_template("_documents.html").render(documents=documents))
        return documents_html[key]

    async def corpus_page(request: Request, status: int = 200, *, documents: list[dict[str, Any]] | None = None,
                          **context: Any) -> HTMLResponse:
        context.setdefault("error", None)
        context.setdefault("hits", None)
        context.setdefault("query", "")
        context.setdefault("section", "")
        context.setdefault("ingest", None)
        if documents is None:
            try:
                index = open_index()
                documents = index.documents() if index is not None else []
            except ShuzhiError as exc:
                context["error"] = context["error"] or str(exc)
                documents = []
        return page(request, "corpus.html", status, documents_count=len(documents),
                    documents_html=documents_table(documents), index_set=index_dir is not None,
                    section_keys=[k for k in SECTION_NAMES if k != "other"], **context)

    @app.get("/corpus")
    async def corpus(request: Request, q: str = "", section: str = "", k: int = 10) -> HTMLResponse:
        query = q.strip()[:200]
        if section and section not in SECTION_NAMES:
            names = "、".join(v for key, v in SECTION_NAMES.items() if key != "other")
            return await corpus_page(request, 400, query=query, error=f"要检索的部分无效；可选：全部、{names}。")
        if not query:
            return await corpus_page(request, section=section)
        try:
            index = open_index()
            if index is None:
                return await corpus_page(request, query=query, section=section, hits=[],
                                         error="还没有索引：请先在下方上传往年报告，或用 shuzhi ingest 建立索引。")
            # On the event loop: a search is ~0.2 ms of CPU here (a few ms at 100,000 passages,
            # eval/bench_search.py); a thread hop costs as much, and the loop would then wait for the
            # GIL after every system call (eval/bench_web.py measured both).
            hits = index.search(query, k=max(1, min(k, 50)), section=section or None)
            documents = index.documents()
        except ShuzhiError as exc:
            return await corpus_page(request, 400, query=query, section=section, error=str(exc))
        return await corpus_page(request, query=query, section=section, hits=hits, documents=documents)

    @app.post("/corpus/ingest")
    async def corpus_ingest(request: Request) -> Response:
        form, rejected = await _read_form(request, error_page)
        if rejected is not None:
            return rejected
        if index_dir is None:
            return await corpus_page(request, 400, error="本工作台启动时没有指定索引目录（--index），不能入库。")
        uploads = [u for u in form.getlist("reports") if is_present(u)]
        if not uploads:
            return await corpus_page(request, 400, error="请选择要入库的往年报告（.docx/.txt/.md，可多选）。")
        if len(uploads) > MAX_FILES_PER_REQUEST:
            return await corpus_page(request, 400, error=f"一次最多上传 {MAX_FILES_PER_REQUEST} 份报告，请分批上传。")
        # Ingested files stay: the index records their paths and a later rebuild reads them again.
        store = work / "corpus"
        saved: list[SavedUpload] = []

        def save_and_ingest() -> Any:
            for upload in uploads:
                saved.append(save_upload(upload, store, allowed=REPORT_SUFFIXES, what="报告", max_bytes=limit,
                                         keep_year=True))
            summary = open_index(write=True).ingest([s.path for s in saved])
            warm_index()                    # the new generation, loaded here rather than by a search
            return summary

        try:
            summary = await run_in_threadpool(save_and_ingest)
        except UploadRejected as exc:
            for s in saved:
                s.path.unlink(missing_ok=True)
            return await corpus_page(request, exc.status, error=str(exc))
        except ShuzhiError as exc:
            return await corpus_page(request, 400, error=_shown(exc, store, saved))
        names = {str(s.path): s.label for s in saved}
        report = {
            "added": [names.get(p, Path(p).name) for p in summary.added],
            "replaced": [names.get(p, Path(p).name) for p in summary.replaced],
            "unchanged": [names.get(p, Path(p).name) for p in summary.unchanged],
            "failed": [(names.get(p, Path(p).name), _hide(msg, store)) for p, msg in summary.failed],
            "duplicates": [names.get(p, Path(p).name) for p, _same in summary.duplicates],
            "documents": summary.documents, "chunks": summary.chunks,
        }
        return await corpus_page(request, 200 if summary.ok else 400, ingest=report)

    return app


# ---------------------------------------------------------------------- helpers

async def _read_form(request: Request, error_page) -> tuple[FormData, Response | None]:  # noqa: ANN001
    try:
        form = await request.form(max_files=MAX_FILES_PER_REQUEST, max_fields=500)
    except BodyTooLarge:
        return FormData(), error_page(request, "上传内容太大：超过了上传大小的上限。请上传更小的文件。", 413)
    except Exception as exc:  # noqa: BLE001 - a malformed body must be a clear 400, not a traceback
        return FormData(), error_page(request, f"无法读取提交的表单（{type(exc).__name__}）：请在页面上重新选择文件后提交。",
                                      400)
    return form, None


def _relabel(metrics: Metrics, saved: SavedUpload) -> Metrics:
    # The saved name is ours; pages and Word comments should name the user's file.
    return replace(metrics, source=saved.label)


def _shown(exc: ShuzhiError, folder: Path, saved: Sequence[SavedUpload] = ()) -> str:
    """The library's message with our server-side names replaced by the user's file names."""
    message = str(exc)
    for item in saved:
        message = message.replace(str(item.path), item.label)
    return _hide(message, folder)


def _hide(message: str, folder: Path) -> str:
    return message.replace(str(folder) + "/", "").replace(str(folder), "")


def _lines(message: str) -> list[str]:
    """A library message that lists several problems (`；` or new lines) as one line each."""
    parts = [p.strip() for p in message.replace("\r", "").split("\n") if p.strip()]
    return parts or [message]


def _back_name(back: str) -> str:
    return {"/draft": "起草", "/review": "审核", "/compare": "对比", "/corpus": "语料",
            "/history": "历史记录"}.get(back, "首页")


def _attachment(name: str, ascii_name: str) -> str:
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""
