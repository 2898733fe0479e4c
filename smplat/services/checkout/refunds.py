"""Refunds: money back through Stripe, recorded once, with the order's totals following.

Three ways a refund happens, one way it is recorded:
- `refund_undelivered`: fulfilment refunds the undelivered rest of a partial delivery,
  once per provider order (the idempotency key is both Stripe's and our UNIQUE column);
- `refund_order`: an operator refunds all or part of an order;
- `record_charge_refunded`: Stripe's `charge.refunded` webhook (refunds made anywhere,
  including the two above, whose Stripe refund id it then finds already recorded).
Each writes a refund `Payment` (UNIQUE stripe refund id) and calls
`payments.record_refunded_total`, the one place the refunded total and payment status move.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from smplat.integrations import stripe_gateway
from smplat.models.orders import Order, OrderEventKind
from smplat.models.payments import Payment, PaymentEvent, PaymentKind, PaymentRowStatus
from smplat.services import audit, order_status, permissions, resellers
from smplat.services.checkout.errors import CheckoutError
from smplat.services.checkout.payments import record_refunded_total
from smplat.services.errors import ErrorCode, ServiceError
from smplat.services.money import format_money

logger = logging.getLogger(__name__)


def card_charge(session: Session, order_id: int) -> Payment | None:
    """The order's card payment at Stripe (the one refunds are made against)."""
    return (
        session.execute(
            select(Payment)
            .where(Payment.order_id == order_id, Payment.kind == PaymentKind.CHARGE.value)
            .order_by(Payment.id)
        )
        .scalars()
        .first()
    )


def _by_key(session: Session, idempotency_key: str) -> Payment:
    return session.execute(select(Payment).where(Payment.idempotency_key == idempotency_key)).scalars().one()


def _refund(
    session: Session,
    order: Order,
    charge: Payment | None,
    amount_minor: int,
    *,
    reason: str,
    idempotency_key: str,
    actor: order_status.Actor,
) -> Payment:
    """Create the refund row once by its key, then ask Stripe with the same key."""
    by_card = charge is not None and bool(charge.stripe_payment_intent_id)
    row = Payment(
        order_id=order.id,
        kind=PaymentKind.REFUND.value,
        provider="stripe" if by_card else "manual",
        stripe_payment_intent_id=charge.stripe_payment_intent_id if charge else None,
        amount_minor=amount_minor,
        currency=order.currency,
        status=PaymentRowStatus.PENDING.value,
        idempotency_key=idempotency_key,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return _by_key(session, idempotency_key)  # already asked for: never twice
    money = format_money(amount_minor, order.currency)
    if not by_card and charge is not None and charge.provider == resellers.PAYMENT_PROVIDER:
        # paid from a reseller's wallet: the money goes back to the wallet, once per key
        resellers.credit_refund(session, order, amount_minor, reason, idempotency_key)
        row.provider = resellers.PAYMENT_PROVIDER
        row.status = PaymentRowStatus.SUCCEEDED.value
        session.flush()
        order_status.add_event(
            session,
            order.id,
            OrderEventKind.PAYMENT,
            actor,
            f"Refunded {money} to the reseller wallet ({reason})",
            data={"refund_minor": amount_minor, "payment_id": row.id, "state": "wallet"},
        )
        record_refunded_total(session, order.id, actor)
        return row
    if not by_card:
        row.failure_reason = "no card payment to refund; refund it by hand"
        order_status.add_event(
            session,
            order.id,
            OrderEventKind.PAYMENT,
            actor,
            f"Refund of {money} due ({reason}); the order has no card payment, refund it by hand",
            data={"refund_minor": amount_minor, "payment_id": row.id, "state": "manual"},
        )
        session.flush()
        return row
    try:
        refund = stripe_gateway.create_refund(
            charge.stripe_payment_intent_id, amount_minor, idempotency_key=idempotency_key
        )
    except ServiceError as exc:  # unavailable or refused: nothing moved, the row says why
        logger.warning("refund %s of order %s failed: %s", idempotency_key, order.id, exc.message)
        row.status = PaymentRowStatus.FAILED.value
        row.failure_reason = exc.message[:1000]
        order_status.add_event(
            session,
            order.id,
            OrderEventKind.PAYMENT,
            actor,
            f"Refund of {money} ({reason}) failed at Stripe: {exc.message}",
            data={"refund_minor": amount_minor, "payment_id": row.id, "state": "failed", "code": exc.code.value},
        )
        session.flush()
        return row
    row.status = PaymentRowStatus.SUCCEEDED.value
    try:
        with session.begin_nested():
            row.stripe_refund_id = refund["id"]
            session.flush()
    except IntegrityError:
        # Stripe's charge.refunded webhook recorded this refund first: that row counts
        session.refresh(row)
        row.status = PaymentRowStatus.CANCELED.value
        row.failure_reason = f"recorded from Stripe's webhook as {refund['id']}"
    session.flush()
    session.add(
        PaymentEvent(
            payment_id=row.id,
            kind="refund_created",
            data={"stripe_refund": refund["id"], "reason": reason, "amount_minor": amount_minor},
        )
    )
    record_refunded_total(session, order.id, actor)
    return row


def refund_undelivered(
    session: Session,
    order: Order,
    amount_minor: int,
    reason: str,
    idempotency_key: str,
    actor: order_status.Actor = order_status.SYSTEM,
) -> Payment | None:
    """Fulfilment: give back the price of what was not delivered, once per key (one key per
    provider order). Returns the refund row (succeeded, failed, or manual when the order has
    no card payment), or None for a zero amount."""
    if amount_minor <= 0:
        return None
    return _refund(
        session,
        order,
        card_charge(session, order.id),
        amount_minor,
        reason=reason,
        idempotency_key=idempotency_key,
        actor=actor,
    )


def refund_order(
    session: Session,
    order_id: int,
    amount_minor: int | None = None,
    *,
    actor: order_status.Actor = order_status.SYSTEM,
    idempotency_key: str | None = None,
) -> Payment:
    """Operator action: refund all that is left, or `amount_minor`, of the order's card payment."""
    order = session.get(Order, order_id)
    charge = card_charge(session, order_id) if order else None
    by_wallet = charge is not None and charge.provider == resellers.PAYMENT_PROVIDER
    if order is None or charge is None or not (charge.stripe_payment_intent_id or by_wallet):
        raise CheckoutError("This order has no card payment to refund.", code=ErrorCode.NOT_ALLOWED)
    left = charge.amount_minor - order.refunded_minor
    if amount_minor is None:
        amount_minor = left
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or not 0 < amount_minor <= left:
        raise CheckoutError("The refund must be between 1 and the amount not yet refunded.", field="amount")
    if isinstance(actor, audit.Actor) and not permissions.can_refund(actor.role, amount_minor, charge.currency):
        # staff refunds above the operator limit need an admin; the refusal is logged on its own
        needed = (
            permissions.Permission.REFUND
            if not actor.may(permissions.Permission.REFUND)
            else permissions.Permission.REFUND_ABOVE_LIMIT
        )
        audit.require(actor, needed, "order.refund", "order", order.number)
    before = {"refunded_minor": order.refunded_minor}
    key = idempotency_key or f"order:{order_id}:refund:{order.refunded_minor}:{amount_minor}"
    row = _refund(session, order, charge, amount_minor, reason="operator refund", idempotency_key=key, actor=actor)
    if row.status == PaymentRowStatus.FAILED.value:
        raise CheckoutError(row.failure_reason or "Stripe refused the refund.", code=ErrorCode.UNAVAILABLE)
    if isinstance(actor, audit.Actor):
        audit.record(
            session,
            actor,
            "order.refund",
            "order",
            order.number,
            before=before,
            after={"refunded_minor": order.refunded_minor},
            data={"amount_minor": amount_minor, "currency": charge.currency, "payment_id": row.id},
        )
    return row


def record_charge_refunded(session: Session, obj: dict[str, Any], webhook_event_id: int | None) -> None:
    """`charge.refunded`: record each refund of the charge once, then the cumulative total."""
    charge = (
        session.execute(
            select(Payment).where(
                Payment.stripe_payment_intent_id == obj.get("payment_intent"), Payment.kind == PaymentKind.CHARGE.value
            )
        )
        .scalars()
        .first()
    )
    if charge is None:
        raise LookupError(f"no payment for {obj.get('payment_intent')} yet")  # stored as failed, retried by Stripe
    for refund in (obj.get("refunds") or {}).get("data", []):
        if session.execute(select(Payment.id).where(Payment.stripe_refund_id == refund["id"])).first():
            continue
        try:
            with session.begin_nested():
                refund_row = Payment(
                    order_id=charge.order_id,
                    kind=PaymentKind.REFUND.value,
                    stripe_refund_id=refund["id"],
                    stripe_payment_intent_id=charge.stripe_payment_intent_id,
                    amount_minor=int(refund["amount"]),
                    currency=charge.currency,
                    status=PaymentRowStatus.SUCCEEDED.value,
                )
                session.add(refund_row)
                session.flush()
                session.add(
                    PaymentEvent(
                        payment_id=refund_row.id,
                        webhook_event_id=webhook_event_id,
                        kind="refunded",
                        data={"amount_minor": int(refund["amount"])},
                    )
                )
                session.flush()
        except IntegrityError:
            continue
    if charge.order_id is not None:
        # the charge's cumulative refunded amount, so events in any order converge
        record_refunded_total(
            session, charge.order_id, order_status.Actor.webhook(), at_least=int(obj.get("amount_refunded") or 0)
        )
