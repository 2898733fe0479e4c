"""Checkout sessions: a priced, frozen cart handed to Stripe for payment."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from smplat.models.base import StrEnum, created_at_field, currency_field, json_field, updated_at_field, utc_field


class CheckoutMode(StrEnum):
    PAYMENT = "payment"
    SUBSCRIPTION = "subscription"


class CheckoutStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    EXPIRED = "expired"
    FAILED = "failed"
    ABANDONED = "abandoned"


class CheckoutSession(SQLModel, table=True):
    """`lines` is the priced snapshot of every cart item at the moment checkout started
    (product, configuration, prices, price breakdown); the order is built from it, not
    from the cart, which may change while the customer is on Stripe's page."""

    __tablename__ = "checkout_sessions"
    # the expiry sweep: open sessions past expires_at
    __table_args__ = (sa.Index("ix_checkout_sessions_status_expires", "status", "expires_at"),)

    id: int | None = Field(default=None, primary_key=True)
    # SET NULL: the lines snapshot keeps what was bought if the cart is purged
    cart_id: int | None = Field(default=None, foreign_key="carts.id", index=True, nullable=True, ondelete="SET NULL")
    user_id: int | None = Field(default=None, foreign_key="users.id", index=True, nullable=True, ondelete="SET NULL")
    customer_email: str = Field(default="", max_length=320, index=True)
    stripe_session_id: str | None = Field(default=None, max_length=255, unique=True, nullable=True)
    mode: str = Field(default=CheckoutMode.PAYMENT.value, max_length=20)
    status: str = Field(default=CheckoutStatus.OPEN.value, max_length=20)
    amount_total_minor: int = Field(default=0, nullable=False)
    currency: str = currency_field()
    lines: list[dict[str, Any]] = json_field(list)
    success_url: str = Field(default="", max_length=1000)
    cancel_url: str = Field(default="", max_length=1000)
    expires_at: datetime | None = utc_field()
    completed_at: datetime | None = utc_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
