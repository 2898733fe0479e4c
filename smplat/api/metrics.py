"""`GET /api/metrics`: Prometheus text format behind a bearer token, and the HTTP timing middleware."""

from __future__ import annotations

import hmac
import time

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from smplat.api._access import public
from smplat.services import metrics
from smplat.settings import get_settings


def token_ok(header: str, expected: str) -> bool:
    """`Authorization: Bearer <token>` against the configured token, in constant time."""
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected.encode())


@public("Prometheus scrapes it with its own bearer token (SMPLAT_METRICS_TOKEN); without one set it answers 404")
async def metrics_endpoint(request: Request) -> Response:
    configured = get_settings().metrics_token
    expected = configured.get_secret_value() if configured else ""
    if not expected:
        return PlainTextResponse("Not Found", status_code=404)
    if not token_ok(request.headers.get("authorization", ""), expected):
        return PlainTextResponse(
            "a valid bearer token is required", status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )
    body = await run_in_threadpool(metrics.render)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


routes = [Route("/api/metrics", metrics_endpoint, methods=["GET"])]

EVENT_PATH = "/_event"


class HttpMetricsMiddleware:
    """Times every HTTP request; the route label is the API route's template, `/_event` or
    `page` (everything Reflex serves), so the label set stays small."""

    def __init__(self, app: ASGIApp, routes: list[BaseRoute]) -> None:
        self.app = app
        self.routes = routes

    def _route(self, scope: Scope) -> str:
        for route in self.routes:
            match, _ = route.matches(scope)
            if match != Match.NONE:
                return getattr(route, "path", "api")
        path = scope.get("path", "")
        if path == EVENT_PATH or path.startswith(EVENT_PATH + "/"):
            return EVENT_PATH
        return "api-unknown" if path.startswith("/api/") else "page"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            metrics.observe_http(scope.get("method", "GET"), self._route(scope), status, time.perf_counter() - started)
