"""Subscriptions bought through checkout: one row per Stripe subscription, kept in step with
Stripe's events (a late "updated" never revives a canceled one), the operator's cancel, the
customer's cancel-at-period-end and resume, and renewals: a paid renewal invoice becomes its
own order (once per invoice), a failed one marks the subscription past_due and tells the
customer."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from smplat.integrations import stripe_gateway
from smplat.models.base import utcnow
from smplat.models.checkout import CheckoutSession
from smplat.models.orders import Order, OrderItem
from smplat.models.payments import Subscription, SubscriptionStatus
from smplat.services.checkout.errors import CheckoutError
from smplat.services.errors import ErrorCode

logger = logging.getLogger(__name__)


def _order_for_subscription(session: Session, obj: dict[str, Any]) -> tuple[Order | None, CheckoutSession | None]:
    meta = obj.get("metadata") or (obj.get("subscription_details") or {}).get("metadata") or {}
    ref = meta.get("checkout_session_id")
    if not ref or not str(ref).isdigit():
        return None, None
    checkout = session.get(CheckoutSession, int(ref))
    if checkout is None:
        return None, None
    order = session.execute(select(Order).where(Order.checkout_session_id == checkout.id)).scalars().first()
    return order, checkout


def timestamp(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), tz=UTC) if value else None


def upsert_subscription(
    session: Session,
    obj: dict[str, Any],
    *,
    deleted: bool = False,
    order: Order | None = None,
    checkout: CheckoutSession | None = None,
) -> Subscription | None:
    """Create the row once (unique Stripe id) or bring it up to date with a Stripe object."""
    sub_id = obj.get("id")
    if not sub_id:
        return None
    row = session.execute(select(Subscription).where(Subscription.stripe_subscription_id == sub_id)).scalars().first()
    if row is None:
        if order is None:
            order, checkout = _order_for_subscription(session, obj)
        plan_line = next(
            (line for line in (checkout.lines if checkout else []) if line["price"]["billing"] == "subscription"), None
        )
        row = Subscription(
            stripe_subscription_id=sub_id,
            stripe_customer_id=obj.get("customer"),
            user_id=order.user_id if order else (checkout.user_id if checkout else None),
            order_id=order.id if order else None,
            product_id=plan_line["product_id"] if plan_line else None,
        )
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
        except IntegrityError:
            row = (
                session.execute(select(Subscription).where(Subscription.stripe_subscription_id == sub_id))
                .scalars()
                .one()
            )
    if order is not None and row.order_id is None:
        row.order_id = order.id
    if row.status == SubscriptionStatus.CANCELED.value and not deleted:
        return row  # a late "updated" never revives a canceled subscription
    status = SubscriptionStatus.CANCELED.value if deleted else str(obj.get("status") or row.status)
    if status in SubscriptionStatus.values():
        row.status = status
    if obj.get("current_period_end"):
        row.current_period_end = timestamp(obj["current_period_end"])
    if "cancel_at_period_end" in obj:
        row.cancel_at_period_end = bool(obj["cancel_at_period_end"])
    if deleted:
        row.canceled_at = timestamp(obj.get("canceled_at")) or utcnow()
    session.flush()
    return row


def cancel_subscription(session: Session, subscription_id: int) -> None:
    """Operator action: cancel at Stripe; `customer.subscription.deleted` updates the row."""
    row = session.get(Subscription, subscription_id)
    if row is None:
        raise CheckoutError("That subscription does not exist.", code=ErrorCode.NOT_FOUND)
    try:
        stripe_gateway.cancel_subscription(row.stripe_subscription_id)
    except stripe_gateway.PaymentProviderNotFound:
        raise CheckoutError("Stripe does not know this subscription.", code=ErrorCode.NOT_FOUND) from None


# --- the customer's side: list, cancel at period end, resume --------------------------------

ACTIVE_STATES = frozenset(
    {
        SubscriptionStatus.ACTIVE.value,
        SubscriptionStatus.TRIALING.value,
        SubscriptionStatus.PAST_DUE.value,
        SubscriptionStatus.UNPAID.value,
    }
)
STATUS_LABELS = {
    "incomplete": "Waiting for payment",
    "incomplete_expired": "Payment never completed",
    "trialing": "Trial",
    "active": "Active",
    "past_due": "Payment failed",
    "unpaid": "Unpaid",
    "canceled": "Ended",
    "paused": "Paused",
}


def _plan_items(session: Session, order_id: int | None) -> list[OrderItem]:
    if order_id is None:
        return []
    items = session.execute(select(OrderItem).where(OrderItem.order_id == order_id).order_by(OrderItem.id)).scalars()
    return [item for item in items if (item.snapshot.get("price") or {}).get("billing") == "subscription"]


def plan_amount(session: Session, row: Subscription) -> tuple[int, str, str]:
    """(amount each period in minor units, currency, interval) from the subscribed order's lines."""
    items = _plan_items(session, row.order_id)
    if not items:
        return 0, "EUR", ""
    price = items[0].snapshot["price"]
    count = int(price.get("interval_count") or 1)
    interval = str(price.get("interval") or "")
    interval = interval if count == 1 else f"{count} {interval}s"
    return sum(item.total_minor for item in items), items[0].currency, interval


def view(session: Session, row: Subscription) -> dict[str, Any]:
    """One subscription as the customer's page shows it (all strings)."""
    from smplat.services.money import format_money

    amount, currency, interval = plan_amount(session, row)
    items = _plan_items(session, row.order_id)
    plan = ", ".join(item.snapshot.get("summary") or item.product_title for item in items)
    title = items[0].product_title if items else "Subscription"
    live = row.status in ACTIVE_STATES
    if row.status == SubscriptionStatus.CANCELED.value:
        renewal = "Ended " + row.canceled_at.strftime("%d %b %Y") if row.canceled_at else "Ended"
    elif row.current_period_end is None:
        renewal = "—"
    else:
        renewal = row.current_period_end.strftime("%d %b %Y")
    order = session.get(Order, row.order_id) if row.order_id else None
    return {
        "id": str(row.id),
        "title": title,
        "plan": plan or title,
        "status": row.status,
        "status_label": "Ends at period end"
        if live and row.cancel_at_period_end
        else STATUS_LABELS.get(row.status, row.status),
        "next_renewal": renewal,
        "amount": f"{format_money(amount, currency)} / {interval}" if interval else format_money(amount, currency),
        "order_number": order.number if order else "",
        "can_cancel": "1" if live and not row.cancel_at_period_end else "",
        "can_resume": "1" if live and row.cancel_at_period_end else "",
    }


def list_for_user(session: Session, user_id: int) -> list[dict[str, Any]]:
    rows = (
        session.execute(select(Subscription).where(Subscription.user_id == user_id).order_by(Subscription.id.desc()))
        .scalars()
        .all()
    )
    return [view(session, row) for row in rows]


def _owned(session: Session, user_id: int, subscription_id: int) -> Subscription:
    row = session.get(Subscription, subscription_id)
    if row is None or row.user_id != user_id:  # someone else's is "not found", not "forbidden"
        raise CheckoutError("That subscription does not exist.", code=ErrorCode.NOT_FOUND)
    return row


def set_cancel_at_period_end(session: Session, user_id: int, subscription_id: int, cancel: bool) -> Subscription:
    """The customer stops (cancel=True) or resumes (False) renewals. Stripe is asked first; its
    answer updates the row now (the `customer.subscription.updated` webhook says the same
    later, idempotently). A subscription that has ended cannot be resumed."""
    row = _owned(session, user_id, subscription_id)
    if row.status not in ACTIVE_STATES:
        raise CheckoutError("This subscription has ended; start a new one from the shop.", code=ErrorCode.NOT_ALLOWED)
    if row.cancel_at_period_end == cancel:
        return row  # already so: a double click changes nothing
    try:
        remote = stripe_gateway.set_cancel_at_period_end(row.stripe_subscription_id, cancel)
    except stripe_gateway.PaymentProviderNotFound:
        raise CheckoutError("Stripe does not know this subscription.", code=ErrorCode.NOT_FOUND) from None
    except stripe_gateway.PaymentProviderRefused:
        raise CheckoutError(
            "This subscription can no longer be changed; it may have just ended.", code=ErrorCode.NOT_ALLOWED
        ) from None
    upsert_subscription(session, remote)
    return row


# --- renewals -------------------------------------------------------------------------------


def create_renewal_order(session: Session, subscription: Subscription, invoice: dict[str, Any]) -> Order | None:
    """The order of one paid renewal: the subscribed lines again, paid, through the normal
    paid-order path (delivery queued, placed, receipt after commit). The caller guarantees it
    runs once per Stripe invoice (the invoice's payment row is unique)."""
    from smplat.models.orders import ActorType, OrderStatus
    from smplat.services import order_status
    from smplat.services.checkout import receipts
    from smplat.services.checkout.payments import payment_status_for
    from smplat.services.delivery import enqueue_delivery
    from smplat.services.money import format_money

    original = session.get(Order, subscription.order_id) if subscription.order_id else None
    items = _plan_items(session, subscription.order_id)
    if original is None or not items:
        logger.warning("renewal %s: subscription %s has no order to repeat", invoice.get("id"), subscription.id)
        return None
    now = utcnow()
    total = sum(item.total_minor for item in items)
    charged = int(invoice.get("amount_paid") or total)
    order = Order(
        user_id=subscription.user_id,
        customer_email=original.customer_email,
        payment_status=payment_status_for(charged, 0),
        currency=original.currency,
        subtotal_minor=total,
        total_minor=total,
        charged_minor=charged,
        placed_at=now,
    )
    session.add(order)
    session.flush()
    for item in items:
        snapshot = dict(item.snapshot)
        snapshot["renewal"] = {"stripe_invoice": invoice.get("id"), "of_order": original.number}
        session.add(
            OrderItem(
                order_id=order.id,
                product_id=item.product_id,
                product_title=item.product_title,
                quantity=item.quantity,
                unit_price_minor=item.unit_price_minor,
                total_minor=item.total_minor,
                currency=item.currency,
                status=OrderStatus.PENDING.value,
                snapshot=snapshot,
                service_quantity=item.service_quantity,
            )
        )
    session.flush()
    enqueue_delivery(session, order, now=now)
    order_status.place_order(
        session,
        order,
        order_status.Actor(ActorType.WEBHOOK.value, "webhook"),
        f"Renewal of order {original.number}: paid {format_money(charged, order.currency)} by subscription",
        {"stripe_invoice": invoice.get("id"), "renewal_of": original.number},
        at=now,
    )
    receipts.send_after_commit(session, order.id)
    return order


def renewal_failed(session: Session, invoice: dict[str, Any]) -> Subscription | None:
    """`invoice.payment_failed` for a subscription: it becomes past_due (the customer is told by
    `payment_events.renewal_payment_failed`, once per invoice and attempt, through the
    notification service)."""
    sub_id = invoice.get("subscription")
    if not sub_id:
        return None
    row = session.execute(select(Subscription).where(Subscription.stripe_subscription_id == sub_id)).scalars().first()
    if row is None or row.status == SubscriptionStatus.CANCELED.value:
        return row
    period_end = timestamp(invoice.get("period_end"))
    row.status = SubscriptionStatus.PAST_DUE.value
    if period_end:
        row.current_period_end = period_end
    session.flush()
    return row
