"""`POST /api/stripe/webhook`: Stripe's events, signature-checked on the raw body with the SDK.

The event is stored once by its id in its own transaction (so it is on record even if
handling fails), then handled inline in a second transaction. Handling is idempotent and
takes milliseconds (database writes only; the receipt email goes out after commit), so the
answer stays fast without a queue. A failed handling answers 500 and keeps the row as
`failed`: Stripe's retry of the same event id processes it again; a processed duplicate
answers 200 and changes nothing.
"""

from __future__ import annotations

import json
import logging
import time

import stripe
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from smplat.db import session_scope
from smplat.models.payments import WebhookEvent, WebhookStatus
from smplat.services import checkout, counters
from smplat.settings import get_settings

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
    secret = get_settings().stripe_webhook_secret.get_secret_value()
    if len(body) > MAX_BODY_BYTES:
        return _reject("payload too large", 413)
    try:
        stripe.WebhookSignature.verify_header(body, signature, secret, TOLERANCE_SECONDS)
    except stripe.SignatureVerificationError as exc:
        logger.warning("stripe webhook rejected: %s", exc.user_message or exc)
        return _reject("invalid signature")
    except ValueError:
        return _reject("invalid payload")
    problem, event = boundary_problem(body, signature)
    if problem:
        return _reject(problem)

    with session_scope() as db:
        row, is_new = checkout.store_event(db, event)
        row_id = row.id
    if not is_new:
        return JSONResponse({"received": True, "duplicate": True})

    try:
        with session_scope() as db:
            row = db.get(WebhookEvent, row_id)
            outcome = checkout.handle_event(db, row)
    except Exception as exc:  # noqa: BLE001 - recorded on the event row and retried by Stripe
        logger.exception("stripe webhook %s (%s) failed", event["id"], event["type"])
        with session_scope() as db:
            row = db.get(WebhookEvent, row_id)
            row.status = WebhookStatus.FAILED.value
            row.attempts += 1
            row.error = f"{type(exc).__name__}: {exc}"[:2000]
            counters.increment(db, counters.WEBHOOKS_FAILED)
        return JSONResponse({"error": "processing failed; retry"}, status_code=500)
    if outcome.order_to_receipt:
        checkout.send_receipt_safely(outcome.order_to_receipt)
    return JSONResponse({"received": True, "status": outcome.status})


async def stripe_webhook(request: Request) -> Response:
    body = await request.body()  # the raw bytes Stripe signed; never re-serialised
    return await run_in_threadpool(process_webhook, body, request.headers.get("stripe-signature"))


routes = [Route("/api/stripe/webhook", stripe_webhook, methods=["POST"])]
