"""The one payment-status rule, and the only place an order's refunded total changes.

An order's payment status is derived from what was charged and what was refunded; nothing
sets it by hand. Refunds arrive from several places (the `charge.refunded` webhook, an
operator's refund, fulfilment refunding an undelivered rest); each records its refund row
and then calls `record_refunded_total`, which takes the largest known cumulative total, so
events in any order converge on the same figures.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlmodel import Session

from smplat.models.orders import Order, OrderEventKind, PaymentStatus
from smplat.models.payments import Payment, PaymentKind, PaymentRowStatus
from smplat.services import order_status
from smplat.services.money import format_money


def payment_status_for(charged_minor: int, refunded_minor: int) -> str:
    """paid / partially_refunded / refunded from the amounts (unpaid when nothing was charged)."""
    if charged_minor <= 0:
        return PaymentStatus.UNPAID.value
    if refunded_minor <= 0:
        return PaymentStatus.PAID.value
    if refunded_minor >= charged_minor:
        return PaymentStatus.REFUNDED.value
    return PaymentStatus.PARTIALLY_REFUNDED.value


def refunded_rows_total(session: Session, order_id: int) -> int:
    return int(
        session.execute(
            select(func.coalesce(func.sum(Payment.amount_minor), 0)).where(
                Payment.order_id == order_id,
                Payment.kind == PaymentKind.REFUND.value,
                Payment.status == PaymentRowStatus.SUCCEEDED.value,
            )
        ).scalar_one()
    )


def record_refunded_total(session: Session, order_id: int, actor: order_status.Actor, *, at_least: int = 0) -> Order:
    """Bring the order's refunded total up to the larger of its succeeded refund rows and
    `at_least` (Stripe's cumulative `amount_refunded`), and its payment status with it.
    The order row is locked first, so two refunds recorded at once both count."""
    # FOR NO KEY UPDATE on PostgreSQL: serialises refund writers without conflicting with the
    # KEY SHARE lock a payment row insert takes on its order (which would deadlock two writers)
    order = (
        session.execute(
            select(Order)
            .where(Order.id == order_id)
            .with_for_update(key_share=True)
            .execution_options(populate_existing=True)
        )
        .scalars()
        .one()
    )
    refunded = max(order.refunded_minor, refunded_rows_total(session, order_id), int(at_least or 0))
    if refunded != order.refunded_minor:
        order.refunded_minor = refunded
        order_status.add_event(
            session,
            order.id,
            OrderEventKind.PAYMENT,
            actor,
            f"Refunded {format_money(refunded, order.currency)} in total",
            data={"refunded_minor": refunded},
        )
    order.payment_status = payment_status_for(order.charged_minor, order.refunded_minor)
    session.add(order)
    session.flush()
    # each succeeded refund gets its credit note once (the order row lock serialises this)
    from smplat.services import invoices

    invoices.issue_credit_notes(session, order.id)
    return order
