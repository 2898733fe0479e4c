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


def boundary_problem(event: dict, signature: str | None, now: float | None = None) -> str:
    """Checks on a signature-verified event (the adapter parsed it and made sure it is an object
    with `id` and `type`) before it is stored: the signing time within the tolerance either
    way, and an object `data.object`. Returns the problem, or "" when the event may be stored."""
    now = time.time() if now is None else now
    signed_at = _signed_at(signature)
    if signed_at is None or abs(now - signed_at) > TOLERANCE_SECONDS:
        return "timestamp outside tolerance"
    if not isinstance(event.get("id"), str) or not isinstance(event.get("type"), str):
        return "invalid payload"
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        return "invalid payload"
    return ""


def _reject(message: str, status: int = 400) -> Response:
    with session_scope() as db:
        counters.increment(db, counters.WEBHOOKS_REJECTED)
    return JSONResponse({"error": message}, status_code=status)


def process_webhook(body: bytes, signature: str | None) -> Response:
    if len(body) > MAX_BODY_BYTES:
        return _reject("payload too large", 413)
    try:
        event = stripe_gateway.verify_webhook(body, signature)
    except stripe_gateway.WebhookRejected as exc:
        return _reject(exc.message)
    problem = boundary_problem(event, signature)
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
