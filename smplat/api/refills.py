"""Customer line actions: `POST /api/order-items/{item_id}/refill` and
`POST /api/order-items/{item_id}/cancel` (cancel at the supplier), mirroring the client
dashboard's buttons.

The route checks the permission first (`@protected`), then the body; every refusal is a
service error whose code decides the HTTP status (`errors.http_status`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from smplat.api._access import protected
from smplat.db import session_scope
from smplat.services import rate_limits
from smplat.services.errors import ErrorCode, ServiceError, http_status
from smplat.services.fulfillment.cancel import request_cancel
from smplat.services.fulfillment.operator_actions import request_refill
from smplat.services.order_status import Actor
from smplat.services.permissions import Permission


def _refused(error: ServiceError) -> JSONResponse:
    return JSONResponse(error.as_json(), status_code=http_status(error))


async def _reason(request: Request) -> str | JSONResponse:
    """The body's reason, or the refusal to answer (the body is read after `@protected`)."""
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        return _refused(ServiceError('body must be JSON: {"reason": "..."}', code=ErrorCode.INVALID))
    reason = body.get("reason", "") if isinstance(body, dict) else None
    if not isinstance(reason, str):
        return _refused(ServiceError('body must be JSON: {"reason": "..."}', code=ErrorCode.INVALID, field="reason"))
    return reason


async def _line_action(request: Request, act: Callable[..., Any], answer: Callable[[Any], dict[str, Any]]) -> Response:
    """A customer's action on their own order line (refill, cancel): the JSON reason, one rate
    limit for both, the service call as that customer, 202 with what was queued."""
    reason = await _reason(request)
    if isinstance(reason, JSONResponse):
        return reason
    user = request.state.user  # resolved by @protected before the body was read
    with session_scope() as db:
        try:
            rate_limits.hit("refill_user", str(user.id))  # one budget for a customer's line actions
        except ServiceError as exc:
            return _refused(exc)
        try:
            queued = act(
                db,
                int(request.path_params["item_id"]),
                Actor.customer(user.id, user.email),
                reason,
                customer_user_id=user.id,
            )
        except ServiceError as exc:
            db.rollback()
            return _refused(exc)
        return JSONResponse(answer(queued), status_code=202)


@protected(Permission.REQUEST_REFILLS)
async def refill(request: Request) -> Response:
    return await _line_action(request, request_refill, lambda r: {"refill_id": r.id, "status": r.status})


@protected(Permission.CANCEL_OWN_ORDERS)
async def cancel(request: Request) -> Response:
    return await _line_action(request, request_cancel, lambda t: {"cancel_id": t.id, "status": t.status})


routes = [
    Route("/api/order-items/{item_id:int}/refill", refill, methods=["POST"]),
    Route("/api/order-items/{item_id:int}/cancel", cancel, methods=["POST"]),
]
