"""Customer refill requests: `POST /api/order-items/{item_id}/refill` (the client dashboard calls it)."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from smplat.db import session_scope
from smplat.services import accounts, rate_limits
from smplat.services.errors import ServiceError, http_status
from smplat.services.order_status import Actor
from smplat.services.refills import RefillRefused, request_refill
from smplat.settings import get_settings


async def refill(request: Request) -> Response:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        return JSONResponse({"error": "body must be JSON: {\"reason\": \"...\"}"}, status_code=400)
    reason = body.get("reason") if isinstance(body, dict) else None
    if not isinstance(reason, str):
        return JSONResponse({"error": "reason is required"}, status_code=400)
    token = request.cookies.get(get_settings().session_cookie_name)
    with session_scope() as db:
        user = accounts.resolve_session(db, token)
        if user is None:
            return JSONResponse({"error": "sign in first"}, status_code=401)
        try:
            rate_limits.hit("refill_user", str(user.id))
        except ServiceError as exc:
            return JSONResponse(exc.as_json(), status_code=http_status(exc))
        try:
            created = request_refill(db, int(request.path_params["item_id"]), Actor.customer(user.id, user.email),
                                     reason, customer_user_id=user.id)
        except RefillRefused as exc:
            db.rollback()
            return JSONResponse({"error": str(exc)}, status_code=409 if "no such" not in str(exc) else 404)
        return JSONResponse({"refill_id": created.id, "status": created.status}, status_code=202)


routes = [Route("/api/order-items/{item_id:int}/refill", refill, methods=["POST"])]
