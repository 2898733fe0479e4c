"""Stripe's webhook events: stored once, claimed by one worker, applied idempotently.

`claim_event` records an event by its id (UNIQUE(source, external_id)) and claims it for
processing in one short transaction. Two copies of one event arriving at the same moment
cannot both be claimed: the first inserts the row as `processing`; the second hits the
constraint and tries a conditional UPDATE that only matches a row nobody is working on
(`received`, `failed`, or `processing` whose claim went stale after a crash). A row in
progress is therefore not new: the copy is told to come back later (Stripe retries).
`handle_event` then applies the event in its own transaction; a failure is recorded by
`release_failed` so Stripe's retry gets another go.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from smplat.models.base import utcnow
from smplat.models.checkout import CheckoutSession, CheckoutStatus
from smplat.models.payments import (
    Payment,
    PaymentEvent,
    PaymentKind,
    PaymentRowStatus,
    SubscriptionStatus,
    WebhookEvent,
    WebhookStatus,
)
from smplat.services import counters, invoices, resellers
from smplat.services.checkout import placement, refunds, subscriptions
from smplat.settings import get_settings

HANDLED_EVENTS = (
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
    "invoice.paid",
    "invoice.payment_failed",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "charge.refunded",
)

# a claim older than this belongs to a worker that died mid-way; handling is idempotent
CLAIM_TIMEOUT = timedelta(minutes=5)


@dataclass(frozen=True)
class Claim:
    row_id: int
    status: str  # claimed, duplicate (already processed or ignored), in_progress (another worker has it)


@dataclass(frozen=True)
class WebhookOutcome:
    status: str  # processed, ignored
    order_id: int | None = None


def claim_event(session: Session, event: dict[str, Any], now: datetime | None = None) -> Claim:
    """Record the event once by its id and claim it for this worker, if nobody else has it."""
    now = now or utcnow()
    counters.increment(session, counters.WEBHOOKS_RECEIVED)
    row = WebhookEvent(
        source="stripe",
        external_id=str(event.get("id", ""))[:255],
        event_type=str(event.get("type", ""))[:100],
        payload=event,
        signature_ok=True,
        status=WebhookStatus.PROCESSING.value,
        attempts=1,
        claimed_at=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
        return Claim(row.id, "claimed")
    except IntegrityError:
        pass
    existing_id = session.execute(
        select(WebhookEvent.id).where(WebhookEvent.source == "stripe", WebhookEvent.external_id == row.external_id)
    ).scalar_one()
    claimable = or_(
        WebhookEvent.status.in_([WebhookStatus.RECEIVED.value, WebhookStatus.FAILED.value]),
        and_(WebhookEvent.status == WebhookStatus.PROCESSING.value, WebhookEvent.claimed_at < now - CLAIM_TIMEOUT),
    )
    taken = session.execute(
        update(WebhookEvent)
        .where(WebhookEvent.id == existing_id, claimable)
        .values(status=WebhookStatus.PROCESSING.value, claimed_at=now, attempts=WebhookEvent.attempts + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken == 1:
        return Claim(existing_id, "claimed")
    status = session.execute(select(WebhookEvent.status).where(WebhookEvent.id == existing_id)).scalar_one()
    if status in (WebhookStatus.PROCESSED.value, WebhookStatus.IGNORED.value):
        counters.increment(session, counters.WEBHOOKS_DUPLICATE)
        return Claim(existing_id, "duplicate")
    return Claim(existing_id, "in_progress")


def handle_event(session: Session, row_id: int) -> WebhookOutcome:
    """Apply one claimed event. Every handler is idempotent and safe out of order."""
    row = session.get(WebhookEvent, row_id)
    event = row.payload
    kind = event.get("type", "")
    obj = (event.get("data") or {}).get("object") or {}
    order_id: int | None = None
    if kind not in HANDLED_EVENTS:
        _finish(row, WebhookStatus.IGNORED)
        return WebhookOutcome("ignored")
    if kind.startswith("checkout.session.") and resellers.is_topup(obj):
        if kind in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
            resellers.credit_topup(session, obj)  # a wallet top-up, never an order
    elif kind in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
        order_id = placement.fulfil_paid_session(session, obj, actor="webhook").order_id
    elif kind == "checkout.session.async_payment_failed":
        checkout = _close_session(session, obj, CheckoutStatus.FAILED, counters.CHECKOUT_FAILED)
        if checkout is not None:
            checkout_payment_failed(session, checkout)
    elif kind == "checkout.session.expired":
        _close_session(session, obj, CheckoutStatus.EXPIRED, counters.CHECKOUT_ABANDONED)
    elif kind == "invoice.paid":
        invoice_paid(session, obj, row.id)
    elif kind == "invoice.payment_failed":
        subscriptions.renewal_failed(session, obj)  # the subscription is past due
        renewal_payment_failed(session, obj)  # the customer is told, once per invoice and attempt
    elif kind in ("customer.subscription.updated", "customer.subscription.deleted"):
        subscriptions.upsert_subscription(session, obj, deleted=kind.endswith("deleted"))
    elif kind == "charge.refunded":
        refunds.record_charge_refunded(session, obj, row.id)
    _finish(row, WebhookStatus.PROCESSED)
    return WebhookOutcome("processed", order_id)


def _finish(row: WebhookEvent, status: WebhookStatus) -> None:
    row.status = status.value
    row.processed_at = utcnow()
    row.error = ""


def release_failed(session: Session, row_id: int, error: BaseException) -> None:
    """Handling raised: keep the event as failed (claimable again) with the reason."""
    session.execute(
        update(WebhookEvent)
        .where(WebhookEvent.id == row_id)
        .values(status=WebhookStatus.FAILED.value, error=f"{type(error).__name__}: {error}"[:2000])
    )
    counters.increment(session, counters.WEBHOOKS_FAILED)


def _close_session(
    session: Session, obj: dict[str, Any], status: CheckoutStatus, counter: str
) -> CheckoutSession | None:
    """Close an open checkout; the closed row, or None when there was nothing to close."""
    checkout = placement.find_checkout(session, obj)
    if checkout is None or checkout.status != CheckoutStatus.OPEN.value:
        return None  # completed (or already closed) wins: a late expiry never undoes a payment
    checkout.status = status.value
    counters.increment(session, counter)
    return checkout


def checkout_payment_failed(session: Session, checkout: CheckoutSession) -> None:
    """Tell the customer a delayed checkout payment (bank debit...) failed: once per checkout."""
    from smplat.models.accounts import User
    from smplat.services import notifications
    from smplat.services.money import format_money

    user = session.get(User, checkout.user_id) if checkout.user_id else None
    recipient = user.email if user is not None else checkout.customer_email
    if not recipient:
        return
    base = get_settings().public_base_url.rstrip("/")
    notifications.notify(
        session,
        notifications.NotificationKind.PAYMENT_FAILED,
        user=user,
        recipient=recipient,
        context={
            "renewal": False,
            "amount": format_money(checkout.amount_total_minor, checkout.currency),
            "reason": "",
            "product": "",
            "action_url": f"{base}/cart",
        },
        event_key=f"payment_failed:checkout:{checkout.id}",
    )


def renewal_payment_failed(session: Session, obj: dict[str, Any]) -> None:
    """A subscription renewal could not be charged (`invoice.payment_failed`): the customer is
    told once per invoice and attempt (Stripe retries a renewal several times)."""
    from smplat.models.accounts import User
    from smplat.models.catalog import Product
    from smplat.models.payments import Subscription
    from smplat.services import notifications
    from smplat.services.money import format_money

    if obj.get("billing_reason") == "subscription_create" or not obj.get("subscription"):
        return  # the first invoice is the checkout's own payment (its page shows the failure)
    subscription = session.execute(
        select(Subscription).where(Subscription.stripe_subscription_id == obj["subscription"])
    ).scalar_one_or_none()
    user = session.get(User, subscription.user_id) if subscription and subscription.user_id else None
    recipient = user.email if user is not None else str(obj.get("customer_email") or "")
    if not recipient:
        return
    product = session.get(Product, subscription.product_id) if subscription and subscription.product_id else None
    error = (obj.get("last_finalization_error") or {}).get("message") or ""
    base = get_settings().public_base_url.rstrip("/")
    notifications.notify(
        session,
        notifications.NotificationKind.PAYMENT_FAILED,
        user=user,
        recipient=recipient,
        context={
            "renewal": True,
            "amount": format_money(int(obj.get("amount_due") or 0), str(obj.get("currency", "eur")).upper()),
            "reason": str(error)[:300],
            "product": product.title if product is not None else "",
            "action_url": f"{base}/account/subscriptions",
        },
        event_key=f"payment_failed:invoice:{obj.get('id')}:{int(obj.get('attempt_count') or 1)}",
    )


def invoice_paid(session: Session, obj: dict[str, Any], webhook_event_id: int | None) -> Payment | None:
    """A renewal invoice becomes one payment row: UNIQUE(stripe_invoice_id), so a second copy
    (another event id for the same invoice, or the same event twice at once) finds the first."""
    if obj.get("billing_reason") == "subscription_create":
        return None  # the first invoice is the checkout's own charge, recorded at fulfilment
    subscription = subscriptions.upsert_subscription(
        session,
        {
            "id": obj.get("subscription"),
            "customer": obj.get("customer"),
            "metadata": (obj.get("subscription_details") or {}).get("metadata"),
        },
    )
    payment = Payment(
        order_id=subscription.order_id if subscription else None,
        kind=PaymentKind.SUBSCRIPTION_INVOICE.value,
        stripe_invoice_id=obj.get("id"),
        stripe_subscription_id=obj.get("subscription"),
        stripe_payment_intent_id=obj.get("payment_intent"),
        amount_minor=int(obj.get("amount_paid") or 0),
        currency=str(obj.get("currency", "eur")).upper(),
        status=PaymentRowStatus.SUCCEEDED.value,
    )
    try:
        with session.begin_nested():
            session.add(payment)
            session.flush()
            session.add(
                PaymentEvent(
                    payment_id=payment.id,
                    webhook_event_id=webhook_event_id,
                    kind="invoice_paid",
                    data={"billing_reason": obj.get("billing_reason")},
                )
            )
            session.flush()
    except IntegrityError:
        return session.execute(select(Payment).where(Payment.stripe_invoice_id == obj.get("id"))).scalars().one()
    if subscription and obj.get("period_end"):
        subscription.current_period_end = subscriptions.timestamp(obj["period_end"])
    if subscription and subscription.status == SubscriptionStatus.PAST_DUE.value:
        subscription.status = SubscriptionStatus.ACTIVE.value  # the retried payment went through
    if subscription and obj.get("billing_reason") == "subscription_cycle":
        # only the creator of the invoice's (unique) payment row gets here: one order per invoice
        renewal = subscriptions.create_renewal_order(session, subscription, obj)
        if renewal is not None:
            payment.order_id = renewal.id
            session.flush()
    invoices.issue_for_renewal(session, payment)  # a renewal is invoiced once, like its payment row
    return payment
