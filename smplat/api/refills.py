"""Customer refill requests: `POST /api/order-items/{item_id}/refill` (the client dashboard calls it).

Every refusal is a `ServiceError` whose code picks the HTTP status (`http_status`): the body is
`{"error", "code", "field"?}`. The reason rule (required, at most 1000 characters) lives in
the service; this route only checks the body's shape."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from smplat.db import session_scope
from smplat.services import accounts
from smplat.services.errors import ErrorCode, ServiceError, http_status
from smplat.services.fulfillment.operator_actions import request_refill
from smplat.services.order_status import Actor
from smplat.settings import get_settings


def _refused(error: ServiceError) -> JSONResponse:
    return JSONResponse(error.as_json(), status_code=http_status(error))


async def refill(request: Request) -> Response:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        return _refused(ServiceError('body must be JSON: {"reason": "..."}', code=ErrorCode.INVALID))
    reason = body.get("reason", "") if isinstance(body, dict) else None
    if not isinstance(reason, str):
        return _refused(ServiceError('body must be JSON: {"reason": "..."}', code=ErrorCode.INVALID, field="reason"))
    token = request.cookies.get(get_settings().session_cookie_name)
    with session_scope() as db:
        user = accounts.resolve_session(db, token)
        if user is None:
            return _refused(ServiceError("sign in first", code=ErrorCode.UNAUTHENTICATED))
        try:
            created = request_refill(db, int(request.path_params["item_id"]), Actor.customer(user.id, user.email),
                                     reason, customer_user_id=user.id)
        except ServiceError as exc:
            db.rollback()
            return _refused(exc)
        return JSONResponse({"refill_id": created.id, "status": created.status}, status_code=202)


routes = [Route("/api/order-items/{item_id:int}/refill", refill, methods=["POST"])]
