"""The ASGI layers every request passes before a route: the guard (host, token, same origin,
declared size, security headers), a byte count of the body as it arrives, and HEAD answered as GET.

Plain ASGI classes rather than `@app.middleware("http")`: that wrapper runs a task and two streams
per request, which cost more CPU than a search itself (eval/bench_web.py).
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Callable
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import Response
from starlette.datastructures import MutableHeaders

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
TOKEN_COOKIE = "shuzhi_token"


class BodyTooLarge(Exception):
    """A request body (sent without Content-Length, chunked) grew past the limit while being read."""


class BodyLimit:
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


class Guard:
    """Every request passes `check` (the app's: host, token, same origin, declared size), whose
    answer, if any, replaces the route's; every response gets the security headers."""

    def __init__(self, app, check: Callable[[Request], Response | None]):  # noqa: ANN001 - an ASGI app
        self.app = app
        self.check = check

    async def __call__(self, scope, receive, send):  # noqa: ANN001, ANN204 - ASGI signature
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message):  # noqa: ANN001, ANN202
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = CSP
                headers["X-Content-Type-Options"] = "nosniff"
                headers["X-Frame-Options"] = "DENY"
                # "same-origin", not "no-referrer": under no-referrer a browser sends `Origin: null`
                # even on this page's own forms, which the same-origin check must refuse.
                headers["Referrer-Policy"] = "same-origin"
                if "cache-control" not in headers:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        refused = self.check(Request(scope))
        if refused is not None:
            await refused(scope, receive, with_headers)
            return
        await self.app(scope, receive, with_headers)


class HeadAsGet:
    """HEAD answered as GET without the body (FastAPI routes declare GET only)."""

    def __init__(self, app):  # noqa: ANN001 - an ASGI app
        self.app = app

    async def __call__(self, scope, receive, send):  # noqa: ANN001, ANN204 - ASGI signature
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message):  # noqa: ANN001, ANN202
            if message["type"] == "http.response.body":
                message = {"type": "http.response.body", "body": b"", "more_body": message.get("more_body", False)}
            await send(message)

        await self.app(dict(scope, method="GET"), receive, headers_only)


def supplied_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.query_params.get("token") or request.cookies.get(TOKEN_COOKIE)


def same_origin(request: Request, host: str, token: str | None) -> bool:
    """A state-changing request came from this workbench's own page.

    The `Origin` header must be present, not `null` and name this scheme's host and port. A request
    carrying the token in `Authorization` passes (scripts and tools; no other site's page can add
    that header without a CORS preflight, which this app never grants)."""
    header = request.headers.get("authorization", "")
    if token is not None and header.lower().startswith("bearer ") and hmac.compare_digest(
            header[7:].strip().encode(), token.encode()):
        return True
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return False
    parts = urlsplit(origin)
    try:
        port = parts.port or default_port(parts.scheme)
    except ValueError:
        return False
    return ((parts.hostname or "").lower() == host
            and port == (request.url.port or default_port(request.url.scheme)))


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def default_port(scheme: str) -> int:
    return 443 if scheme in ("https", "wss") else 80

