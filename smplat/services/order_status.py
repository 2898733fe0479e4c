"""The order and order-item state machine: allowed transitions, an OrderEvent per change.

Items move through pending -> processing -> active -> completed, or on_hold /
partially_delivered / canceled. The order's status is derived from its items (never set
by hand elsewhere), so an order is completed exactly when every line is done.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from smplat.models.orders import ActorType, Order, OrderEvent, OrderEventKind, OrderItem, OrderStatus

S = OrderStatus

ITEM_TRANSITIONS: dict[str, set[str]] = {
    S.PENDING: {S.PROCESSING, S.ON_HOLD, S.CANCELED},
    S.PROCESSING: {S.ACTIVE, S.COMPLETED, S.PARTIALLY_DELIVERED, S.ON_HOLD, S.CANCELED},
    S.ACTIVE: {S.PROCESSING, S.COMPLETED, S.PARTIALLY_DELIVERED, S.ON_HOLD, S.CANCELED},
    S.ON_HOLD: {S.PENDING, S.PROCESSING, S.CANCELED},
    S.PARTIALLY_DELIVERED: {S.PROCESSING, S.COMPLETED, S.CANCELED},
    S.COMPLETED: {S.PROCESSING},  # a replay or refill reopens a finished line
    S.CANCELED: set(),
}


class IllegalTransition(ValueError):
    """The requested status change is not allowed from the current status."""


@dataclass(frozen=True)
class Actor:
    """Who did it: the customer, an operator, a job or the system, with a label for the timeline."""

    type: str
    label: str
    user_id: int | None = None

    @classmethod
    def job(cls, name: str) -> Actor:
        return cls(ActorType.JOB.value, f"job:{name}")

    @classmethod
    def operator(cls, user_id: int, email: str) -> Actor:
        return cls(ActorType.OPERATOR.value, email, user_id)

    @classmethod
    def customer(cls, user_id: int | None, email: str) -> Actor:
        return cls(ActorType.USER.value, email, user_id)

    @classmethod
    def webhook(cls, source: str = "stripe") -> Actor:
        return cls(ActorType.WEBHOOK.value, source)


SYSTEM = Actor(ActorType.SYSTEM.value, "system")


def add_event(session: Session, order_id: int, kind: str, actor: Actor, message: str,
              item_id: int | None = None, data: dict[str, Any] | None = None, *, at: datetime | None = None) -> OrderEvent:
    """Append an event to the order's timeline; `at` is the caller's clock (default: now)."""
    event = OrderEvent(order_id=order_id, order_item_id=item_id, kind=str(kind), actor_type=actor.type,
                       actor_user_id=actor.user_id, actor_label=actor.label[:200], message=message[:2000],
                       data=dict(data or {}))
    if at is not None:
        event.created_at = at
    session.add(event)
    return event


def place_order(session: Session, order: Order, actor: Actor, message: str,
                data: dict[str, Any] | None = None) -> None:
    """A paid order enters its lifecycle (pending -> processing) with its "placed" event."""
    if order.status == S.PENDING:
        order.status = S.PROCESSING.value
        session.add(order)
    add_event(session, order.id, OrderEventKind.PLACED, actor, message, data=data)


def can_move(current: str, new: str) -> bool:
    return current == new or new in ITEM_TRANSITIONS.get(current, set())


def set_item_status(session: Session, item: OrderItem, new: str, actor: Actor, reason: str,
                    *, recompute_order: bool = True, at: datetime | None = None) -> bool:
    """Move an item; returns False when it already had that status (no event). Raises
    IllegalTransition for a move the state machine forbids."""
    new = str(new)
    if item.status == new:
        return False
    if not can_move(item.status, new):
        raise IllegalTransition(f"order item {item.id}: {item.status} -> {new} is not allowed")
    old = item.status
    item.status = new
    session.add(item)
    add_event(session, item.order_id, OrderEventKind.STATUS_CHANGED, actor,
              f"Line {item.product_title}: {old} → {new}. {reason}".strip(), item.id,
              {"from": old, "to": new, "scope": "item"}, at=at)
    if recompute_order:
        recompute_order_status(session, item.order_id, actor, at=at)
    return True


def derive_order_status(item_statuses: list[str]) -> str:
    statuses = set(item_statuses)
    if not statuses:
        return S.PENDING
    if statuses == {S.CANCELED}:
        return S.CANCELED
    if S.ON_HOLD in statuses:
        return S.ON_HOLD
    if statuses <= {S.COMPLETED, S.CANCELED}:
        return S.COMPLETED
    if statuses <= {S.COMPLETED, S.CANCELED, S.PARTIALLY_DELIVERED}:
        return S.PARTIALLY_DELIVERED
    if S.PROCESSING in statuses or S.PARTIALLY_DELIVERED in statuses:
        return S.PROCESSING
    if S.ACTIVE in statuses:
        return S.ACTIVE
    if statuses == {S.PENDING}:
        return S.PENDING
    return S.PROCESSING


def recompute_order_status(session: Session, order_id: int, actor: Actor, *, at: datetime | None = None) -> str:
    session.flush()
    order = session.get(Order, order_id)
    statuses = list(session.execute(select(OrderItem.status).where(OrderItem.order_id == order_id)).scalars())
    new = derive_order_status(statuses)
    if order.status != new:
        old = order.status
        order.status = new
        session.add(order)
        add_event(session, order_id, OrderEventKind.STATUS_CHANGED, actor, f"Order {old} → {new}",
                  None, {"from": old, "to": new, "scope": "order"}, at=at)
    return new
