"""The web workbench (`shuzhi serve`): four server-rendered pages over the same library calls as the CLI.

起草 /draft, 审核 /review, 对比 /compare, 语料 /corpus. The routes parse the request, call
`pipeline.facts.metrics`, `pipeline.drafting.draft`, `pipeline.facts.check`, `pipeline.facts.diff`, `pipeline.index.hybrid`, and
render a Jinja2 template (autoescape on: every piece of report text is untrusted).

Safety, in one place (`_guard`): without a token only loopback Host names are served (a page on
another site cannot reach the workbench through DNS rebinding); with a token every request must
carry it (Bearer header, or the cookie set by one `?token=` visit); a POST from another origin is
refused; bodies over the size limit get 413 before they are parsed. Every response carries a CSP
that allows only this origin's scripts and styles, so templates have no inline script or style.
"""

from __future__ import annotations

import hmac
import ipaddress
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import jinja2
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from pipeline.errors import ShuzhiError
from pipeline.facts.diff import SECTION_NAMES
from pipeline.models import BAD_VERDICTS, VERDICTS, MetricProblem, Metrics
from pipeline.output.check_html import KIND_NAMES, VERDICT_COLOURS, VERDICT_NAMES, render_report_spans
from pipeline.profile.catalog import DEFAULT_PROFILE, installed_profiles
from pipeline.web import forms
from pipeline.web.compare_view import compare_sections
from pipeline.web.jobs import JobStore, valid_job_id
from pipeline.web.uploads import (
    METRICS_SUFFIXES,
    REPORT_SUFFIXES,
    SavedUpload,
    UploadRejected,
    is_present,
    max_upload_bytes,
    save_upload,
    size_text,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SAMPLE_METRICS = ROOT / "corpus" / "sample" / "metrics.yaml"
TOKEN_COOKIE = "shuzhi_token"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
JOB_FILES = {
    "draft.docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "draft-review.docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "draft.md": "text/markdown; charset=utf-8",
    "draft.json": "application/json",
    "check.html": "text/html; charset=utf-8",
}
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
MAX_FILES_PER_REQUEST = 20
BODY_SLACK = 256 * 1024                   # multipart headers and text fields on top of the files
ENGINE_PREFIXES = ("template", "transformers:", "openai:")


def create_app(
    index_dir: Path | None = None,
    *,
    token: str | None = None,
    work_dir: Path | None = None,
    max_upload: int | None = None,
    allowed_hosts: Sequence[str] | None = None,
    run_jobs_inline: bool = False,
) -> FastAPI:
    """Build the app. `index_dir`: the index of past reports (None: the 语料 page says none is set).

    `token`: required on every request when set. `work_dir`: uploads and job outputs (default: a new
    temporary folder). `max_upload`: bytes per file (default SHUZHI_MAX_UPLOAD or 10 MB).
    `allowed_hosts`: Host names served without a token (default: loopback names). `run_jobs_inline`
    drafts inside the request (tests); the server drafts in a background thread.
    """
    work = Path(work_dir) if work_dir is not None else Path(tempfile.mkdtemp(prefix="shuzhi-web-"))
    work.mkdir(parents=True, exist_ok=True)
    limit = max_upload if max_upload is not None else max_upload_bytes()
    hosts = frozenset(h.lower() for h in (allowed_hosts or LOOPBACK_NAMES))
    jobs = JobStore(work / "jobs")

    app = FastAPI(title="shuzhi 述职报告工作台", docs_url=None, redoc_url=None, openapi_url=None)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,            # every template, whatever its extension
        undefined=jinja2.StrictUndefined,
    )
    env.globals.update(verdict_names=VERDICT_NAMES, section_names=SECTION_NAMES, kind_names=KIND_NAMES,
                       verdicts=VERDICTS, bad_verdicts=BAD_VERDICTS)
    templates = Jinja2Templates(env=env)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_middleware(_BodyLimit, limit=limit * 4 + BODY_SLACK)
    app.state.work_dir = work
    app.state.jobs = jobs

    def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("active", name.split(".")[0])
        context.setdefault("error", None)
        context.setdefault("max_upload", size_text(limit))
        return templates.TemplateResponse(request, name, context, status_code=status)

    def error_page(request: Request, message: str, status: int, active: str = "") -> HTMLResponse:
        return page(request, "error.html", status=status, message=message, active=active)

    def request_dir() -> Path:
        return Path(tempfile.mkdtemp(prefix="req-", dir=work))

    # ------------------------------------------------------------------ guard

    @app.middleware("http")
    async def _guard(request: Request, call_next):  # noqa: ANN202 - Starlette middleware signature
        response = _refuse(request)
        set_cookie = False
        if response is None and token is not None:
            supplied = _supplied_token(request)
            if supplied is None or not hmac.compare_digest(supplied.encode(), token.encode()):
                response = _plain(401, "未授权：请使用启动时给出的访问令牌打开本页（网址后加 ?token=令牌），"
                                       "或在请求头加 Authorization: Bearer 令牌。")
            elif request.query_params.get("token") is not None:
                # Logged in by URL once: keep the token in a cookie and drop it from the address bar.
                rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
                url = request.url.path + (f"?{urlencode(rest)}" if rest else "")
                response = RedirectResponse(url, status_code=303)
                set_cookie = True
        if response is None:
            declared = request.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > limit * 4 + BODY_SLACK:
                response = _plain(413, f"上传内容太大：每个文件不能超过 {size_text(limit)}。请上传更小的文件。")
        if response is None:
            response = await call_next(request)
        if set_cookie:
            response.set_cookie(TOKEN_COOKIE, token or "", httponly=True, samesite="strict",
                                secure=request.url.scheme == "https")
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    def _refuse(request: Request) -> Response | None:
        host = (request.url.hostname or "").lower().strip("[]")
        if token is None and host not in hosts and not _is_loopback(host):
            return _plain(400, f"拒绝访问：本工作台只接受本机地址（如 127.0.0.1）的访问，收到的主机名是“{host}”。"
                               "如需让其他电脑访问，请用 --host 和 --token 启动。")
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            origin = request.headers.get("origin")
            if origin and origin != "null":
                parts = urlsplit(origin)
                if (parts.hostname or "").lower() != host or (parts.port or _default_port(parts.scheme)) != (
                        request.url.port or _default_port(request.url.scheme)):
                    return _plain(403, "拒绝访问：这个提交来自其他网站。请直接在工作台页面上操作。")
        return None

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

    # ------------------------------------------------------------------ 起草

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
        profile = context.pop("profile", None) or DEFAULT_PROFILE
        return page(request, "draft.html", status=status, groups=forms.catalog_groups(profile),
                    profile=profile, profiles=[(p.name, p.title or p.name) for p in installed_profiles()],
                    meta_fields=forms.META_FIELDS, list_fields=forms.LIST_FIELDS,
                    list_label=forms.list_label, list_hints=forms.LIST_HINTS,
                    has_sample=SAMPLE_METRICS.is_file(), **context)

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
        from pipeline.facts.metrics import MetricsError, load_metrics, metrics_from_mapping

        form, rejected = await _read_form(request, error_page)
        if rejected is not None:
            return rejected
        engine = _text(form.get("engine")) or "template"
        engine_spec = _text(form.get("engine_spec"))
        keep = {"values": forms.form_values(form), "engine": engine, "engine_spec": engine_spec,
                "seed": _text(form.get("seed")) or "0", "profile": chosen_profile(_text(form.get("profile")))}
        spec = engine_spec if engine == "other" else engine
        if not spec.startswith(ENGINE_PREFIXES) or (spec != "template" and ":" not in spec):
            return draft_page(request, 400, general_errors=[
                f"生成引擎“{spec or '（空）'}”无效：请选 template，或在“其他引擎”中写 transformers:模型目录 "
                "或 openai:地址#模型名。"], **keep)
        seed_text = keep["seed"]
        if not seed_text.isdigit() or int(seed_text) > 2**31:
            return draft_page(request, 400, general_errors=[
                f"随机种子应为 0 到 {2**31} 之间的整数，收到“{seed_text}”。"], **keep)
        folder = request_dir()
        try:
            metrics_upload = form.get("metrics_file")
            if is_present(metrics_upload):
                saved = save_upload(metrics_upload, folder, allowed=METRICS_SUFFIXES, what="指标文件",
                                    max_bytes=limit)
                try:
                    metrics = _relabel(await run_in_threadpool(load_metrics, saved.path), saved)
                except MetricsError as exc:
                    problems = [(_where(p.location), p.message) for p in exc.problems if p.severity == "error"]
                    return draft_page(request, 400, mode="file", file_problems=problems,
                                      file_label=saved.label, **keep)
            else:
                try:
                    metrics = metrics_from_mapping(forms.mapping_from_form(form, keep["profile"]), source="表单")
                except MetricsError as exc:
                    by_field, general = forms.field_errors(exc.problems)
                    return draft_page(request, 400, field_errors=by_field, general_errors=general, **keep)
            prior = None
            prior_upload = form.get("prior_file")
            if is_present(prior_upload):
                saved_prior = save_upload(prior_upload, folder, allowed=METRICS_SUFFIXES, what="上年指标文件",
                                          max_bytes=limit)
                try:
                    prior = await run_in_threadpool(load_metrics, saved_prior.path, profile=metrics.meta.profile)
                except MetricsError as exc:
                    problems = [(_where(p.location), p.message) for p in exc.problems if p.severity == "error"]
                    return draft_page(request, 400, mode="file", file_problems=problems,
                                      file_label=saved_prior.label, **keep)
        except UploadRejected as exc:
            return draft_page(request, exc.status, general_errors=[str(exc)], **keep)
        except ShuzhiError as exc:
            return draft_page(request, 400, general_errors=[_hide(str(exc), folder)], **keep)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        job = await run_in_threadpool(jobs.start_draft, metrics, engine=spec, seed=int(seed_text), prior=prior,
                                      index=open_index(), run_inline=run_jobs_inline)
        return RedirectResponse(f"/draft/jobs/{job.job_id}", status_code=303)

    @app.get("/draft/jobs/{job_id}")
    async def draft_job_page(request: Request, job_id: str) -> HTMLResponse:
        job = jobs.get(job_id)
        if job is None:
            return error_page(request, "找不到这个起草任务：编号无效，或服务已重启。请回到“起草”页重新生成。", 404, "draft")
        state = job.to_json()
        result = job.result if state["status"] == "done" else None
        context: dict[str, Any] = {"job": state, "job_id": job.job_id, "active": "draft"}
        if result is not None:
            context.update(report_html=Markup(render_report_spans(result.check)),
                           summary=result.check.summary, ok=result.ok, title=result.draft.title,
                           warnings=result.warnings[:10], files=[n for n in JOB_FILES if n in job.files],
                           findings=result.check.findings)
        return page(request, "job.html", **context)

    @app.get("/jobs/{job_id}")
    async def job_status(job_id: str) -> JSONResponse:
        job = jobs.get(job_id)
        if job is None:
            return JSONResponse({"error": "找不到这个任务（编号应为 32 位十六进制）。"}, status_code=404)
        return JSONResponse(job.to_json())

    @app.get("/jobs/{job_id}/files/{name}")
    async def job_file(request: Request, job_id: str, name: str) -> Response:
        job = jobs.get(job_id) if valid_job_id(job_id) else None
        if job is None or name not in JOB_FILES or name not in job.files:
            allowed = "、".join(JOB_FILES)
            return error_page(request, f"找不到这个文件：任务编号无效，或文件名不是 {allowed} 之一。", 404, "draft")
        # Attachment: check.html carries its own inline style, which this origin's CSP would block.
        return FileResponse(job.out_dir / name, media_type=JOB_FILES[name], filename=name,
                            content_disposition_type="attachment")

    # ------------------------------------------------------------------ 审核

    @app.get("/review")
    async def review_form(request: Request) -> HTMLResponse:
        return page(request, "review.html", result=None)

    @app.post("/review")
    async def review_submit(request: Request) -> Response:
        from pipeline.facts.check import check_file

        form, rejected = await _read_form(request, error_page)
        if rejected is not None:
            return rejected
        if not is_present(form.get("report_file")) or not is_present(form.get("metrics_file")):
            return page(request, "review.html", 400, result=None,
                        error="请同时选择“要核对的报告”（.docx/.txt/.md）和“本年指标文件”（.yaml/.json/.xlsx）。")
        folder = request_dir()
        saved: list[SavedUpload] = []
        try:
            report = save_upload(form["report_file"], folder, allowed=REPORT_SUFFIXES, what="报告", max_bytes=limit)
            saved.append(report)
            metrics_file = save_upload(form["metrics_file"], folder, allowed=METRICS_SUFFIXES, what="指标文件",
                                       max_bytes=limit)
            saved.append(metrics_file)
            prior = None
            if is_present(form.get("prior_file")):
                prior = save_upload(form["prior_file"], folder, allowed=METRICS_SUFFIXES, what="上年指标文件",
                                    max_bytes=limit)
                saved.append(prior)
            # Library calls are synchronous: run them off the event loop so job polling stays live.
            result = await run_in_threadpool(check_file, report.path, metrics_file.path,
                                             prior_path=prior.path if prior else None, index=open_index())
            result = replace(result, source=report.label)
        except UploadRejected as exc:
            return page(request, "review.html", exc.status, result=None, error=str(exc))
        except ShuzhiError as exc:
            return page(request, "review.html", 400, result=None, error=_shown(exc, folder, saved))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return page(request, "review.html", result=result, report_html=Markup(render_report_spans(result)),
                    summary=result.summary, labels={"report": report.label, "metrics": metrics_file.label,
                                                    "prior": prior.label if prior else ""})

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

    # ------------------------------------------------------------------ 语料

    shared_index: dict[str, Any] = {}

    def open_index(*, write: bool = False):  # noqa: ANN202 - HybridIndex, imported lazily
        """One read-only index for the whole server (drafts, reviews, search), loaded once; it
        notices a newer generation written by an ingest and reloads itself."""
        from pipeline.index.hybrid import HybridIndex

        if index_dir is None:
            return None
        if write:
            return HybridIndex.open(index_dir, read_only=False)
        if not (index_dir / "state.json").is_file():
            return None
        if "read" not in shared_index:
            shared_index["read"] = HybridIndex.open(index_dir, read_only=True)
        return shared_index["read"]

    async def corpus_page(request: Request, status: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("error", None)
        context.setdefault("hits", None)
        context.setdefault("query", "")
        context.setdefault("section", "")
        context.setdefault("ingest", None)
        documents: list[dict[str, Any]] = []
        try:
            index = open_index()
            documents = await run_in_threadpool(index.documents) if index is not None else []
        except ShuzhiError as exc:
            context["error"] = context["error"] or str(exc)
        return page(request, "corpus.html", status, documents=documents, index_set=index_dir is not None,
                    section_keys=[k for k in SECTION_NAMES if k != "other"], **context)

    @app.get("/corpus")
    async def corpus(request: Request, q: str = "", section: str = "", k: int = 10) -> HTMLResponse:
        query = q.strip()[:200]
        if section and section not in SECTION_NAMES:
            return await corpus_page(request, 400, query=query, error=f"部分“{section}”无效；可选：{'、'.join(SECTION_NAMES)}。")
        if not query:
            return await corpus_page(request, section=section)
        try:
            index = open_index()
            if index is None:
                return await corpus_page(request, query=query, section=section, hits=[],
                                   error="还没有索引：请先在下方上传往年报告，或用 shuzhi ingest 建立索引。")
            hits = await run_in_threadpool(index.search, query, k=max(1, min(k, 50)), section=section or None)
        except ShuzhiError as exc:
            return await corpus_page(request, 400, query=query, section=section, error=str(exc))
        return await corpus_page(request, query=query, section=section, hits=hits)

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
        try:
            for upload in uploads:
                saved.append(save_upload(upload, store, allowed=REPORT_SUFFIXES, what="报告", max_bytes=limit,
                                         keep_year=True))
            index = open_index(write=True)
            summary = await run_in_threadpool(index.ingest, [s.path for s in saved])
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

class BodyTooLarge(Exception):
    """A request body (sent without Content-Length, chunked) grew past the limit while being read."""


class _BodyLimit:
    """Counts body bytes as they arrive: a chunked upload has no Content-Length for `_guard` to check."""

    def __init__(self, app, limit: int):  # noqa: ANN001 - an ASGI app
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):  # noqa: ANN001, ANN204 - ASGI signature
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        seen = 0

        async def limited():  # noqa: ANN202
            nonlocal seen
            message = await receive()
            if message.get("type") == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge
            return message

        await self.app(scope, limited, send)


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


def _where(location: str) -> str:
    """`line 12, column 5` / `cell C7` as a secretary reads them: 第 12 行第 5 列 / 单元格 C7."""
    return MetricProblem(source="", location=location, message="").where


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _plain(status: int, message: str) -> Response:
    return Response(message + "\n", status_code=status, media_type="text/plain; charset=utf-8")


def _supplied_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.query_params.get("token") or request.cookies.get(TOKEN_COOKIE)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _default_port(scheme: str) -> int:
    return 443 if scheme in ("https", "wss") else 80

