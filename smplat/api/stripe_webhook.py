"""`POST /api/stripe/webhook`: Stripe's events, signature-checked on the raw body with the SDK
(through `integrations.stripe_gateway`).

The event is stored once by its id and claimed by this request in one short transaction
(`payment_events.claim_event`), then handled in a second transaction. Handling is idempotent
and takes milliseconds (database writes only; the receipt email goes out after commit), so
the answer stays fast without a queue. Answers:
- 200 `processed` / `ignored`: done;
- 200 `duplicate`: already processed, nothing changed;
- 409 `in_progress`: another copy of this event is being handled right now; Stripe retries;
- 500: handling failed, the row is kept as `failed` and Stripe's retry gets another go.
"""

from __future__ import annotations

import json
import logging
import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from smplat.api._access import public
from smplat.db import session_scope
from smplat.integrations import stripe_gateway
from smplat.services import counters
from smplat.services.checkout import payment_events

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000
# Stripe's own tolerance for an old signature; we refuse one this far in the future as well.
TOLERANCE_SECONDS = 300


def _signed_at(signature: str | None) -> int | None:
    for part in (signature or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            return int(value)
    return None


def boundary_problem(body: bytes, signature: str | None, now: float | None = None) -> tuple[str, dict] | None:
    """Checks on a signature-verified body before it is handed over: the signing time within
    the tolerance either way, an object with `id`, `type` and an object `data.object`.
    Returns `(problem, {})` when refused, `("", event)` when the event may be stored."""
    now = time.time() if now is None else now
    signed_at = _signed_at(signature)
    if signed_at is None or abs(now - signed_at) > TOLERANCE_SECONDS:
        return "timestamp outside tolerance", {}
    try:
        event = json.loads(body)
    except ValueError:
        return "invalid payload", {}
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) or not isinstance(event.get("type"), str):
        return "invalid payload", {}
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        return "invalid payload", {}
    return "", event


def _reject(message: str, status: int = 400) -> Response:
    with session_scope() as db:
        counters.increment(db, counters.WEBHOOKS_REJECTED)
    return JSONResponse({"error": message}, status_code=status)


def process_webhook(body: bytes, signature: str | None) -> Response:
    if len(body) > MAX_BODY_BYTES:
        return _reject("payload too large", 413)
    try:
        stripe_gateway.verify_webhook(body, signature)  # the signature; then our own checks of the body
    except stripe_gateway.WebhookRejected as exc:
        return _reject(exc.message)
    problem, event = boundary_problem(body, signature)
    if problem:
        return _reject(problem)

    with session_scope() as db:
        claim = payment_events.claim_event(db, event)
    if claim.status == "duplicate":
        return JSONResponse({"received": True, "duplicate": True})
    if claim.status == "in_progress":
        return JSONResponse({"received": True, "in_progress": True}, status_code=409)

    try:
        with session_scope() as db:  # a created order's receipt goes out when this commits
            outcome = payment_events.handle_event(db, claim.row_id)
    except Exception as exc:
        logger.exception("stripe webhook %s (%s) failed", event["id"], event["type"])
        with session_scope() as db:
            payment_events.release_failed(db, claim.row_id, exc)
        return JSONResponse({"error": "processing failed; retry"}, status_code=500)
    return JSONResponse({"received": True, "status": outcome.status})


@public("Stripe calls it; every event is verified with the webhook signing secret")
async def stripe_webhook(request: Request) -> Response:
    body = await request.body()  # the raw bytes Stripe signed; never re-serialised
    return await run_in_threadpool(process_webhook, body, request.headers.get("stripe-signature"))


routes = [Route("/api/stripe/webhook", stripe_webhook, methods=["POST"])]
