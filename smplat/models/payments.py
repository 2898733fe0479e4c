"""Payments: Stripe charges, refunds and subscription invoices, their events, received webhooks and subscriptions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel import Field, SQLModel

from smplat.models.audit import refuse_update
from smplat.models.base import (
    StrEnum,
    UTCDateTime,
    created_at_field,
    currency_field,
    json_field,
    updated_at_field,
    utc_field,
    utcnow,
)


class PaymentKind(StrEnum):
    CHARGE = "charge"
    REFUND = "refund"
    SUBSCRIPTION_INVOICE = "subscription_invoice"


class PaymentRowStatus(StrEnum):
    PENDING = "pending"
    REQUIRES_ACTION = "requires_action"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


class WebhookStatus(StrEnum):
    RECEIVED = "received"
    PROCESSING = "processing"  # claimed by one worker (see services/checkout/payment_events.py)
    PROCESSED = "processed"
    FAILED = "failed"
    IGNORED = "ignored"  # an event type we do not act on, kept for the record


class SubscriptionStatus(StrEnum):
    # Stripe's own values, so a webhook can store them as they come
    INCOMPLETE = "incomplete"
    INCOMPLETE_EXPIRED = "incomplete_expired"
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    UNPAID = "unpaid"
    CANCELED = "canceled"
    PAUSED = "paused"


class Payment(SQLModel, table=True):
    """One movement of money. Amounts are positive; `kind` says the direction."""

    __tablename__ = "payments"
    # created: the dashboard roll-up and today's outcomes; updated: Analytics' change detector
    __table_args__ = (
        sa.Index("ix_payments_status_created", "status", "created_at"),
        sa.Index("ix_payments_created", "created_at"),
        sa.Index("ix_payments_updated", "updated_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # no cascade: money history outlives nothing, an order with payments is never deleted
    order_id: int | None = Field(default=None, foreign_key="orders.id", index=True, nullable=True, ondelete="RESTRICT")
    checkout_session_id: int | None = Field(
        default=None, foreign_key="checkout_sessions.id", index=True, nullable=True, ondelete="SET NULL"
    )
    provider: str = Field(default="stripe", max_length=20)
    kind: str = Field(default=PaymentKind.CHARGE.value, max_length=24)
    stripe_payment_intent_id: str | None = Field(default=None, max_length=255, index=True)
    stripe_charge_id: str | None = Field(default=None, max_length=255, index=True)
    # unique: a renewal invoice is one payment, however many events report it
    stripe_invoice_id: str | None = Field(default=None, max_length=255, unique=True, nullable=True)
    stripe_subscription_id: str | None = Field(default=None, max_length=255, index=True)
    # a Stripe refund is recorded once, whether we issued it or a webhook told us
    stripe_refund_id: str | None = Field(default=None, max_length=255, unique=True, nullable=True)
    # a refund we ask for is asked once per key (also sent to Stripe as its Idempotency-Key)
    idempotency_key: str | None = Field(default=None, max_length=120, unique=True, nullable=True)
    amount_minor: int = Field(default=0, nullable=False)
    currency: str = currency_field()
    status: str = Field(default=PaymentRowStatus.PENDING.value, max_length=20)
    failure_reason: str = Field(default="", max_length=1000)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class PaymentEvent(SQLModel, table=True):
    """Append-only history of a payment (created, succeeded, refunded, disputed...)."""

    __tablename__ = "payment_events"

    id: int | None = Field(default=None, primary_key=True)
    payment_id: int = Field(foreign_key="payments.id", index=True, nullable=False, ondelete="CASCADE")
    webhook_event_id: int | None = Field(
        default=None, foreign_key="webhook_events.id", index=True, nullable=True, ondelete="SET NULL"
    )
    kind: str = Field(max_length=40, nullable=False)
    data: dict[str, Any] = json_field()
    created_at: datetime = created_at_field()


class WebhookEvent(SQLModel, table=True):
    """Every webhook delivery we accepted. UNIQUE(source, external_id) makes handling
    idempotent: a redelivered Stripe event hits the constraint and is not handled twice."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        sa.UniqueConstraint("source", "external_id", name="uq_webhook_events_source_external"),
        sa.Index("ix_webhook_events_status_received", "status", "received_at"),
        sa.Index("ix_webhook_events_received", "received_at"),  # the dashboard roll-up and today's outcomes
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(default="stripe", max_length=20)
    external_id: str = Field(max_length=255, nullable=False)  # Stripe: evt_...
    event_type: str = Field(default="", max_length=100, index=True)
    payload: dict[str, Any] = json_field()
    signature_ok: bool = Field(default=False)
    status: str = Field(default=WebhookStatus.RECEIVED.value, max_length=20)
    attempts: int = Field(default=0, nullable=False)
    error: str = Field(default="", sa_type=sa.Text)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    processed_at: datetime | None = utc_field()
    claimed_at: datetime | None = utc_field()  # when a worker took it (a stale claim may be retaken)


class Subscription(SQLModel, table=True):
    __tablename__ = "subscriptions"
    __table_args__ = (sa.Index("ix_subscriptions_status_period_end", "status", "current_period_end"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int | None = Field(default=None, foreign_key="users.id", index=True, nullable=True, ondelete="SET NULL")
    order_id: int | None = Field(default=None, foreign_key="orders.id", index=True, nullable=True, ondelete="SET NULL")
    stripe_subscription_id: str = Field(max_length=255, unique=True, nullable=False)
    stripe_customer_id: str | None = Field(default=None, max_length=255, index=True)
    product_id: int | None = Field(
        default=None, foreign_key="products.id", index=True, nullable=True, ondelete="SET NULL"
    )
    plan_id: int | None = Field(
        default=None, foreign_key="product_plans.id", index=True, nullable=True, ondelete="SET NULL"
    )
    status: str = Field(default=SubscriptionStatus.INCOMPLETE.value, max_length=24)
    current_period_end: datetime | None = utc_field()
    cancel_at_period_end: bool = Field(default=False)
    canceled_at: datetime | None = utc_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


event.listen(PaymentEvent, "before_update", refuse_update)
