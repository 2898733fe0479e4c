"""The one door to Stripe: the only module of the shop that imports the `stripe` SDK.

Services call these functions with plain values and get plain dicts back; every SDK error is
turned into one of the named errors below, so nothing outside this module catches `stripe.*`:
- `PaymentProviderUnavailable`: no usable answer (network, 5xx, bad key); nothing was done.
- `PaymentProviderNotFound`: Stripe does not know that id (or it is no longer open).
- `PaymentProviderRefused`: Stripe answered and refused (e.g. a refund above what is left).
- `WebhookRejected`: a webhook whose signature or payload does not check out.

The SDK client talks to the local sandbox by default and to Stripe itself with real keys
(see `Settings.effective_stripe_api_base`).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import stripe

from smplat.services.errors import ErrorCode, ServiceError
from smplat.settings import Settings, get_settings

logger = logging.getLogger(__name__)


class PaymentProviderUnavailable(ServiceError):
    """Stripe (or the sandbox) did not answer usefully; nothing was done there."""

    default_code = ErrorCode.UNAVAILABLE


class PaymentProviderNotFound(ServiceError):
    """Stripe does not know the id we asked about."""

    default_code = ErrorCode.NOT_FOUND


class PaymentProviderRefused(ServiceError):
    """Stripe answered and refused the request (its message is kept for the operator)."""

    default_code = ErrorCode.NOT_ALLOWED


class WebhookRejected(ServiceError):
    """The webhook body is not a signed, well-formed Stripe event."""

    default_code = ErrorCode.INVALID


def stripe_client(settings: Settings | None = None) -> stripe.StripeClient:
    """The SDK client: the local sandbox by default, Stripe itself with real keys (see settings)."""
    settings = settings or get_settings()
    base = settings.effective_stripe_api_base
    return stripe.StripeClient(
        settings.stripe_secret_key.get_secret_value(),
        base_addresses={"api": base, "files": base, "connect": base},
        max_network_retries=2,
    )


def _as_dict(obj: Any) -> dict[str, Any]:
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


def _translate(exc: stripe.StripeError, what: str) -> ServiceError:
    if isinstance(exc, stripe.InvalidRequestError):
        if exc.http_status == 404 or exc.code == "resource_missing":
            return PaymentProviderNotFound(f"Stripe does not know {what}.")
        return PaymentProviderRefused(exc.user_message or f"Stripe refused {what}.")
    logger.error("stripe: %s failed: %s", what, exc)
    return PaymentProviderUnavailable("Payments are unavailable right now; please try again in a minute.")


def create_checkout_session(params: dict[str, Any]) -> dict[str, Any]:
    """A hosted Checkout session; returns Stripe's session (id, url, ...)."""
    try:
        return _as_dict(stripe_client().v1.checkout.sessions.create(params=params))
    except stripe.StripeError as exc:
        raise _translate(exc, "the new checkout session") from None


def retrieve_checkout_session(session_id: str) -> dict[str, Any]:
    try:
        return _as_dict(stripe_client().v1.checkout.sessions.retrieve(session_id))
    except stripe.StripeError as exc:
        raise _translate(exc, f"checkout session {session_id}") from None


def expire_checkout_session(session_id: str) -> None:
    try:
        stripe_client().v1.checkout.sessions.expire(session_id)
    except stripe.StripeError as exc:
        raise _translate(exc, f"checkout session {session_id}") from None


def create_refund(
    payment_intent: str, amount_minor: int | None = None, *, idempotency_key: str | None = None
) -> dict[str, Any]:
    """Refund all (amount None) or part of a payment. The same idempotency key returns the
    refund the first call created, so a retried call never refunds twice."""
    params: dict[str, Any] = {"payment_intent": payment_intent}
    if amount_minor is not None:
        params["amount"] = amount_minor
    options: dict[str, Any] = {"idempotency_key": idempotency_key} if idempotency_key else {}
    try:
        return _as_dict(stripe_client().v1.refunds.create(params=params, options=options))
    except stripe.StripeError as exc:
        raise _translate(exc, f"the refund of {payment_intent}") from None


def cancel_subscription(subscription_id: str) -> dict[str, Any]:
    try:
        return _as_dict(stripe_client().v1.subscriptions.cancel(subscription_id))
    except stripe.StripeError as exc:
        raise _translate(exc, f"subscription {subscription_id}") from None


def create_price(
    *,
    product_name: str,
    currency: str,
    unit_amount: int,
    interval: str | None = None,
    interval_count: int = 1,
    metadata: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A new Stripe Price (recurring when `interval` is given), with its own Stripe product
    named `product_name`. Prices are immutable: a new amount or interval is a new price."""
    params: dict[str, Any] = {
        "currency": currency.lower(),
        "unit_amount": int(unit_amount),
        "product_data": {"name": product_name},
        "metadata": metadata or {},
    }
    if interval:
        params["recurring"] = {"interval": interval, "interval_count": int(interval_count)}
    try:
        return _as_dict(stripe_client().v1.prices.create(params=params))
    except stripe.StripeError as exc:
        raise _translate(exc, "the new price") from None


def deactivate_price(price_id: str) -> dict[str, Any]:
    """Retire a price (Stripe keeps it for existing subscriptions; new checkouts cannot use it)."""
    try:
        return _as_dict(stripe_client().v1.prices.update(price_id, params={"active": False}))
    except stripe.StripeError as exc:
        raise _translate(exc, f"price {price_id}") from None


def retrieve_price(price_id: str) -> dict[str, Any]:
    try:
        return _as_dict(stripe_client().v1.prices.retrieve(price_id))
    except stripe.StripeError as exc:
        raise _translate(exc, f"price {price_id}") from None


def retrieve_subscription(subscription_id: str) -> dict[str, Any]:
    try:
        return _as_dict(stripe_client().v1.subscriptions.retrieve(subscription_id))
    except stripe.StripeError as exc:
        raise _translate(exc, f"subscription {subscription_id}") from None


def set_cancel_at_period_end(subscription_id: str, cancel: bool) -> dict[str, Any]:
    """Stop (True) or resume (False) the renewals of a subscription at the end of the period it
    is in: `POST /v1/subscriptions/{id}` with `cancel_at_period_end`, as Stripe documents it."""
    try:
        return _as_dict(
            stripe_client().v1.subscriptions.update(subscription_id, params={"cancel_at_period_end": cancel})
        )
    except stripe.StripeError as exc:
        raise _translate(exc, f"subscription {subscription_id}") from None


def verify_webhook(body: bytes, signature: str | None, secret: str | None = None) -> dict[str, Any]:
    """The event of a webhook body, after the SDK's signature and timestamp check on the raw
    bytes. Raises WebhookRejected (code INVALID) with a short reason."""
    secret = secret if secret is not None else get_settings().stripe_webhook_secret.get_secret_value()
    try:
        # The signature and the age check only: parsing is ours, so a signed body that is not
        # an event object (a JSON array, say) is a clear 400, never an SDK error.
        stripe.WebhookSignature.verify_header(body, signature, secret, stripe.Webhook.DEFAULT_TOLERANCE)
    except stripe.SignatureVerificationError as exc:
        logger.warning("stripe webhook rejected: %s", exc.user_message or exc)
        raise WebhookRejected("invalid signature") from None
    except ValueError:  # a body that is not UTF-8
        raise WebhookRejected("invalid payload") from None
    try:
        payload = json.loads(body)  # the bytes Stripe signed, not the SDK's object wrapper
    except ValueError:
        raise WebhookRejected("invalid payload") from None
    if not isinstance(payload, dict) or not payload.get("id") or not payload.get("type"):
        raise WebhookRejected("invalid payload")
    return payload
