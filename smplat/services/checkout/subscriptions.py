"""Subscriptions bought through checkout: one row per Stripe subscription, kept in step with
Stripe's events (a late "updated" never revives a canceled one), and the operator's cancel."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from smplat.integrations import stripe_gateway
from smplat.models.base import utcnow
from smplat.models.checkout import CheckoutSession
from smplat.models.orders import Order
from smplat.models.payments import Subscription, SubscriptionStatus
from smplat.services.checkout.errors import CheckoutError
from smplat.services.errors import ErrorCode


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
