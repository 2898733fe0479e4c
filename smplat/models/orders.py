"""Orders: what a customer bought (with its frozen snapshot) and the timeline of everything that happened to it."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel import Field, SQLModel

from smplat.models.audit import refuse_update
from smplat.models.base import StrEnum, created_at_field, currency_field, json_field, updated_at_field, utc_field


class OrderStatus(StrEnum):
    """Lifecycle of an order and of each of its items (the same state machine)."""

    PENDING = "pending"
    PROCESSING = "processing"
    ACTIVE = "active"  # a running subscription or drip-feed
    COMPLETED = "completed"
    ON_HOLD = "on_hold"
    PARTIALLY_DELIVERED = "partially_delivered"
    CANCELED = "canceled"


class PaymentStatus(StrEnum):
    """Money state of an order, kept apart from its lifecycle status."""

    UNPAID = "unpaid"
    PAID = "paid"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    FAILED = "failed"


class OrderEventKind(StrEnum):
    PLACED = "placed"
    STATUS_CHANGED = "status_changed"
    PAYMENT = "payment"
    PROVIDER_ORDER = "provider_order"
    REFILL = "refill"
    REPLAY = "replay"
    NOTE = "note"
    MANUAL_OVERRIDE = "manual_override"
    EMAIL_SENT = "email_sent"
    CUSTOMER_MESSAGE = "customer_message"  # an operator wrote to the customer (shown on their order page)


class ActorType(StrEnum):
    USER = "user"  # the customer
    OPERATOR = "operator"  # staff in the admin
    JOB = "job"
    SYSTEM = "system"
    WEBHOOK = "webhook"


# Crockford-style alphabet: no 0/O, 1/I/L, so a number read over the phone is unambiguous.
_ORDER_NUMBER_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_order_number() -> str:
    """A short, random, human-readable order number, e.g. "SMP-7KQ4-X9TM".

    Random rather than sequential: it needs no id before insert and does not reveal
    order volume. The unique constraint catches the (~1 in 6e11) collision.
    """
    chars = "".join(secrets.choice(_ORDER_NUMBER_ALPHABET) for _ in range(8))
    return f"SMP-{chars[:4]}-{chars[4:]}"


class Order(SQLModel, table=True):
    __tablename__ = "orders"
    __table_args__ = (
        sa.Index("ix_orders_status_created", "status", "created_at"),
        sa.Index("ix_orders_user_created", "user_id", "created_at"),
        sa.Index("ix_orders_payment_status_created", "payment_status", "created_at"),
        # the admin queue's keyset pagination: (sort column, id) for each sortable column
        sa.Index("ix_orders_created_id", "created_at", "id"),
        sa.Index("ix_orders_total_id", "total_minor", "id"),
        # Analytics' change detector: the newest change of any order
        sa.Index("ix_orders_updated", "updated_at"),
        # the dashboard's sales of today and of partial days, read from the index alone
        sa.Index("ix_orders_created_sales", "created_at", "currency", "charged_minor", "refunded_minor"),
    )

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(default_factory=new_order_number, max_length=20, unique=True, index=True, nullable=False)
    user_id: int | None = Field(default=None, foreign_key="users.id", nullable=True, ondelete="SET NULL")
    customer_email: str = Field(default="", max_length=320, index=True)
    # unique: one order per checkout session, however often the webhook arrives
    checkout_session_id: int | None = Field(
        default=None, foreign_key="checkout_sessions.id", unique=True, nullable=True, ondelete="RESTRICT"
    )
    status: str = Field(default=OrderStatus.PENDING.value, max_length=24)
    payment_status: str = Field(default=PaymentStatus.UNPAID.value, max_length=24)
    currency: str = currency_field()
    subtotal_minor: int = Field(default=0, nullable=False)
    discount_minor: int = Field(default=0, nullable=False)
    total_minor: int = Field(default=0, nullable=False)
    charged_minor: int = Field(default=0, nullable=False)
    refunded_minor: int = Field(default=0, nullable=False)
    # part of every guest tracking link's signature: changing it revokes the links sent so far
    tracking_nonce: str = Field(default="", max_length=32, sa_column_kwargs={"server_default": ""})
    placed_at: datetime | None = utc_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class OrderItem(SQLModel, table=True):
    """One bought line. `snapshot` is the immutable purchase record: product, options,
    add-ons, field values, preset, plan, prices, price breakdown and blueprint as they
    were at checkout. It is written once on insert and refused afterwards (see below).

    `quantity` counts configured packages (priced by unit_price_minor); `service_quantity`
    is the number of service units to deliver (e.g. 2 x 1,000 followers = 2,000), which
    delivered_quantity, start_count and remains are measured in.
    """

    __tablename__ = "order_items"
    # covering: the admin home counts waiting lines and their orders (and tests their age and
    # product) from this index alone
    __table_args__ = (
        sa.Index("ix_order_items_status_created_product_order", "status", "created_at", "product_id", "order_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="orders.id", index=True, nullable=False, ondelete="CASCADE")
    # SET NULL: deleting a product must not erase what customers bought; the snapshot keeps it
    product_id: int | None = Field(
        default=None, foreign_key="products.id", index=True, nullable=True, ondelete="SET NULL"
    )
    product_title: str = Field(max_length=200, nullable=False)
    quantity: int = Field(default=1, nullable=False)
    unit_price_minor: int = Field(default=0, nullable=False)
    total_minor: int = Field(default=0, nullable=False)
    currency: str = currency_field()
    status: str = Field(default=OrderStatus.PENDING.value, max_length=24)
    snapshot: dict[str, Any] = json_field()
    service_quantity: int = Field(default=0, nullable=False)
    delivered_quantity: int = Field(default=0, nullable=False)
    start_count: int | None = Field(default=None)
    remains: int | None = Field(default=None)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class SnapshotImmutable(RuntimeError):
    """Code tried to change an order item's purchase snapshot after it was stored."""


@event.listens_for(OrderItem.snapshot, "set", propagate=True)
def _refuse_snapshot_reassignment(target: OrderItem, value: Any, oldvalue: Any, initiator: Any) -> None:
    # Stored rows have an identity key; new (transient/pending) items may still be built up.
    # Re-setting an equal value (session.merge does) changes nothing and is let through.
    if sa.inspect(target).has_identity and value != oldvalue:
        raise SnapshotImmutable(f"order item {target.id}: the purchase snapshot is immutable")


@event.listens_for(OrderItem, "before_update", propagate=True)
def _refuse_snapshot_change(mapper: Any, connection: Any, target: OrderItem) -> None:
    # Catches in-place edits flagged with flag_modified(), which bypass the "set" event.
    if sa.inspect(target).attrs.snapshot.history.has_changes():
        raise SnapshotImmutable(f"order item {target.id}: the purchase snapshot is immutable")


class OrderEvent(SQLModel, table=True):
    """Append-only timeline row: who (actor) did what (kind) to an order, with parameters."""

    __tablename__ = "order_events"
    __table_args__ = (sa.Index("ix_order_events_order_created", "order_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    # order_id is covered by the leading column of ix_order_events_order_created
    order_id: int = Field(foreign_key="orders.id", nullable=False, ondelete="CASCADE")
    order_item_id: int | None = Field(
        default=None, foreign_key="order_items.id", index=True, nullable=True, ondelete="CASCADE"
    )
    kind: str = Field(max_length=32, nullable=False, index=True)
    actor_type: str = Field(default=ActorType.SYSTEM.value, max_length=20)
    actor_user_id: int | None = Field(
        default=None, foreign_key="users.id", index=True, nullable=True, ondelete="SET NULL"
    )
    actor_label: str = Field(default="", max_length=200)  # "operator@smplat.local", "job:fulfillment"
    message: str = Field(default="", max_length=2000)
    data: dict[str, Any] = json_field()
    created_at: datetime = created_at_field()


event.listen(OrderEvent, "before_update", refuse_update)
