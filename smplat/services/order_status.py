"""The order and order-item state machine: allowed transitions, an OrderEvent per change.

Items move through pending -> processing -> active -> completed, or on_hold /
partially_delivered / canceled. The order's status is derived from its items (never set
by hand elsewhere), so an order is completed exactly when every line is done.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlmodel import Session

from smplat.db import RowBatch, column_values, insert_rows
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


def add_event(
    session: Session,
    order_id: int,
    kind: str,
    actor: Actor,
    message: str,
    item_id: int | None = None,
    data: dict[str, Any] | None = None,
    *,
    at: datetime | None = None,
) -> OrderEvent:
    """Append an event to the order's timeline; `at` is the caller's clock (default: now)."""
    event = _event(order_id, kind, actor, message, item_id, data, at=at)
    session.add(event)
    return event


def _event(
    order_id: int,
    kind: str,
    actor: Actor,
    message: str,
    item_id: int | None = None,
    data: dict[str, Any] | None = None,
    *,
    at: datetime | None = None,
) -> OrderEvent:
    event = OrderEvent(
        order_id=order_id,
        order_item_id=item_id,
        kind=str(kind),
        actor_type=actor.type,
        actor_user_id=actor.user_id,
        actor_label=actor.label[:200],
        message=message[:2000],
        data=dict(data or {}),
    )
    if at is not None:
        event.created_at = at
    return event


PLACED = S.PROCESSING.value  # the status a paid order starts its lifecycle in


def place_order(
    session: Session,
    order: Order,
    actor: Actor,
    message: str,
    data: dict[str, Any] | None = None,
    *,
    at: datetime | None = None,
    batch: RowBatch | None = None,
) -> None:
    """A paid order enters its lifecycle (pending -> processing) with its "placed" event. (An
    order created paid is stored `PLACED` at once: no UPDATE follows its INSERT.) The event is
    written at once, or added to `batch` (see `smplat.db.RowBatch`)."""
    if order.status == S.PENDING:
        order.status = PLACED
        session.add(order)
    # written once, never read back here: one INSERT, no flush
    event = _event(order.id, OrderEventKind.PLACED, actor, message, data=data, at=at)
    insert_rows(session, OrderEvent.__table__, [column_values(event)], batch)


def can_move(current: str, new: str) -> bool:
    return current == new or new in ITEM_TRANSITIONS.get(current, set())


def set_item_status(
    session: Session,
    item: OrderItem,
    new: str,
    actor: Actor,
    reason: str,
    *,
    recompute_order: bool = True,
    at: datetime | None = None,
) -> bool:
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
    add_event(
        session,
        item.order_id,
        OrderEventKind.STATUS_CHANGED,
        actor,
        f"Line {item.product_title}: {old} → {new}. {reason}".strip(),
        item.id,
        {"from": old, "to": new, "scope": "item"},
        at=at,
    )
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
        add_event(
            session,
            order_id,
            OrderEventKind.STATUS_CHANGED,
            actor,
            f"Order {old} → {new}",
            None,
            {"from": old, "to": new, "scope": "order"},
            at=at,
        )
    return new


class TransitionBatch:
    """Many lines moving at once (the fulfilment engine records a batch of submits): the same
    rules, messages and event rows as `set_item_status` / `recompute_order_status` /
    `add_event`, written in a fixed number of statements by `flush` (one UPDATE per target
    status, one multi-row INSERT of events), so a batch of 50 costs what a batch of 2 costs.

    `item_status` holds the current status of every line of the orders involved (by item id),
    `order_status` the current status of those orders, `items_of` each order's item ids."""

    def __init__(
        self, now: datetime, item_status: dict[int, str], order_status: dict[int, str], items_of: dict[int, list[int]]
    ) -> None:
        self.now = now
        self.item_status, self.order_status, self.items_of = item_status, order_status, items_of
        self.moved_items: dict[int, str] = {}
        self.moved_orders: dict[int, str] = {}
        self.events: list[dict[str, Any]] = []

    def event(
        self,
        order_id: int,
        item_id: int | None,
        kind: str,
        actor: Actor,
        message: str,
        data: dict[str, Any] | None = None,
    ) -> None:
        """`add_event`, deferred to `flush` (the same columns)."""
        self.events.append(
            {
                "order_id": order_id,
                "order_item_id": item_id,
                "kind": str(kind),
                "actor_type": actor.type,
                "actor_user_id": actor.user_id,
                "actor_label": actor.label[:200],
                "message": message[:2000],
                "data": dict(data or {}),
                "created_at": self.now,
            }
        )

    def move_item(self, order_id: int, item_id: int, item_title: str, new: str, actor: Actor, reason: str) -> bool:
        """`set_item_status` with the order recomputed; False when the line already had `new`."""
        new, old = str(new), self.item_status[item_id]
        if old == new:
            return False
        if not can_move(old, new):
            raise IllegalTransition(f"order item {item_id}: {old} -> {new} is not allowed")
        self.item_status[item_id] = self.moved_items[item_id] = new
        self.event(
            order_id,
            item_id,
            OrderEventKind.STATUS_CHANGED,
            actor,
            f"Line {item_title}: {old} → {new}. {reason}".strip(),
            {"from": old, "to": new, "scope": "item"},
        )
        derived = derive_order_status([self.item_status[i] for i in self.items_of[order_id]])
        if self.order_status[order_id] != derived:
            was = self.order_status[order_id]
            self.order_status[order_id] = self.moved_orders[order_id] = derived
            self.event(
                order_id,
                None,
                OrderEventKind.STATUS_CHANGED,
                actor,
                f"Order {was} → {derived}",
                {"from": was, "to": derived, "scope": "order"},
            )
        return True

    def flush(self, session: Session) -> None:
        for table, moved in ((OrderItem.__table__, self.moved_items), (Order.__table__, self.moved_orders)):
            by_status: dict[str, list[int]] = defaultdict(list)
            for row_id, status in moved.items():
                by_status[status].append(row_id)
            for status, ids in by_status.items():
                session.execute(
                    update(table).where(table.c.id.in_(sorted(ids))).values(status=status, updated_at=self.now)
                )
        if self.events:
            session.execute(insert(OrderEvent.__table__), self.events)
        self.moved_items, self.moved_orders, self.events = {}, {}, []
