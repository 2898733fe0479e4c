"""Carts: what a signed-in or guest shopper has configured but not paid yet."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from smplat.models.base import StrEnum, created_at_field, currency_field, json_field, updated_at_field


class CartStatus(StrEnum):
    ACTIVE = "active"
    CONVERTED = "converted"  # paid; an order exists
    MERGED = "merged"  # a guest cart folded into the user's cart at sign-in
    ABANDONED = "abandoned"


class Cart(SQLModel, table=True):
    __tablename__ = "carts"
    # the abandonment sweep and recovery emails look for stale active carts
    # the dashboard roll-up and the funnel of today count carts by creation
    __table_args__ = (
        sa.Index("ix_carts_status_updated", "status", "updated_at"),
        sa.Index("ix_carts_created", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int | None = Field(default=None, foreign_key="users.id", index=True, nullable=True, ondelete="SET NULL")
    # guests carry a random token in a cookie; only its SHA-256 is stored
    guest_token_hash: str | None = Field(default=None, max_length=64, unique=True, nullable=True)
    currency: str = currency_field()
    status: str = Field(default=CartStatus.ACTIVE.value, max_length=20)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class CartItem(SQLModel, table=True):
    """One configured product in a cart.

    `configuration`: {"options": {"<group key>": "<option key>" | [keys]}, "add_ons": [keys],
    "plan": "<key>" | null, "fields": {"<field key>": value}, "preset": "<key>" | null}.
    Prices are what the server last computed; checkout prices again and never trusts them.
    """

    __tablename__ = "cart_items"

    id: int | None = Field(default=None, primary_key=True)
    cart_id: int = Field(foreign_key="carts.id", index=True, nullable=False, ondelete="CASCADE")
    product_id: int = Field(foreign_key="products.id", index=True, nullable=False, ondelete="CASCADE")
    quantity: int = Field(default=1, nullable=False)  # how many of this configured package
    configuration: dict[str, Any] = json_field()
    unit_price_minor: int = Field(default=0, nullable=False)
    line_total_minor: int = Field(default=0, nullable=False)
    price_breakdown: dict[str, Any] = json_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
