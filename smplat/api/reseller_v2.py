"""Panel API v2 for resellers: `/api/v2` on the shop's own port (see docs/api.md).

The common SMM-panel convention: a form POST (or GET, or a JSON body; `/api/v2/` the same)
with `key` and `action`; answers are JSON; a refused request is HTTP 200 `{"error": "…"}`,
except a spent rate limit, which is HTTP 429 `{"error": "…"}`. The route is `@public`
because it checks its own credential, the API key (`resellers.authenticate`), per request.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from smplat.api._access import public
from smplat.db import session_scope
from smplat.services import rate_limits, resellers
from smplat.services.errors import ServiceError

MAX_BODY = 256 * 1024


def _error(message: str, status: int = 200) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _params(request: Request) -> dict[str, Any] | None:
    """Query string, then the form or JSON body (the body wins); None for an unreadable body."""
    params: dict[str, Any] = dict(request.query_params)
    if request.method != "POST":
        return params
    body = await request.body()
    if len(body) > MAX_BODY:
        return None
    if not body.strip():
        return params
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json" or (not kind and body.lstrip()[:1] == b"{"):
        try:
            parsed = json.loads(body)
        except ValueError:
            return None
        if not isinstance(parsed, dict):
            return None
        params.update({str(k): v for k, v in parsed.items()})
        return params
    try:
        params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        return None
    return params


def _many(raw: Any, one: Callable[[str], Any]) -> dict[str, Any]:
    answer: dict[str, Any] = {}
    for part in resellers.parse_ids(raw):
        try:
            answer[part] = one(part)
        except ServiceError as exc:
            answer[part] = {"error": exc.message}
    return answer


def _serve(params: dict[str, Any], client_ip: str | None) -> JSONResponse:
    key = str(params.get("key") or "")
    try:
        rate_limits.hit("reseller_key", key or None)
    except rate_limits.RateLimited as exc:
        return _error(exc.message, 429)
    action = str(params.get("action") or "").strip().lower()
    try:
        with session_scope() as db:
            caller = resellers.authenticate(db, key, client_ip)
        if action == "add":
            return JSONResponse(_add(caller, params))
        if action == "mass_add":
            return JSONResponse(resellers.mass_order(caller, str(params.get("orders") or "")))
        with session_scope() as db:
            return JSONResponse(_read_or_act(db, caller, action, params))
    except ServiceError as exc:
        return _error(exc.message)


def _add(caller: resellers.Caller, params: dict[str, Any]) -> dict[str, Any]:
    return {"order": resellers.add_in_own_transactions(caller, params).order_id}


def _read_or_act(db: Any, caller: resellers.Caller, action: str, params: dict[str, Any]) -> Any:
    if action == "services":
        return resellers.services(db, caller)
    if action == "balance":
        return resellers.balance(db, caller)
    if action == "status":
        if params.get("orders") not in (None, ""):
            return _many(params["orders"], lambda i: resellers.order_status(db, caller, i))
        return resellers.order_status(db, caller, params.get("order"))
    if action == "refill":
        if params.get("orders") not in (None, ""):
            return [
                {"order": int(i) if i.isdigit() else i, "refill": r.get("refill", r)}
                for i, r in _many(
                    params["orders"], lambda i: {"refill": resellers.request_refill(db, caller, i)}
                ).items()
            ]
        return {"refill": resellers.request_refill(db, caller, params.get("order"))}
    if action == "refill_status":
        if params.get("refills") not in (None, ""):
            return [
                {"refill": int(i) if i.isdigit() else i, "status": r.get("status", r)}
                for i, r in _many(params["refills"], lambda i: resellers.refill_status(db, caller, i)).items()
            ]
        return resellers.refill_status(db, caller, params.get("refill"))
    if action == "cancel":
        raw = params.get("orders") if params.get("orders") not in (None, "") else params.get("order")
        return [
            {"order": int(i) if i.isdigit() else i, "cancel": r}
            for i, r in _many(raw, lambda i: resellers.cancel(db, caller, i)).items()
        ]
    raise resellers.ResellerError("Incorrect action")


@public("resellers' panel API: every request carries its own API key, checked per request")
async def panel_v2(request: Request) -> Response:
    params = await _params(request)
    if params is None:
        return _error("Incorrect request")
    client_ip = request.client.host if request.client else None
    return await run_in_threadpool(_serve, params, client_ip)


routes = [
    Route("/api/v2", panel_v2, methods=["GET", "POST"]),
    Route("/api/v2/", panel_v2, methods=["GET", "POST"]),
]
