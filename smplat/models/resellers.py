"""Resellers: a prepaid wallet per reseller, its append-only ledger, and hashed API keys.

A user is a reseller when a `ResellerAccount` row exists for them and is enabled. The
balance moves only through `smplat.services.resellers`, always with one ledger row in the
same transaction, so `balance_minor == sum(ledger.amount_minor)` holds at every commit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel import Field, SQLModel

from smplat.models.audit import refuse_update
from smplat.models.base import created_at_field, currency_field, json_field, updated_at_field, utc_field


class ResellerAccount(SQLModel, table=True):
    __tablename__ = "reseller_accounts"
    __table_args__ = (sa.CheckConstraint("balance_minor >= 0", name="ck_reseller_accounts_balance_non_negative"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", unique=True, nullable=False, ondelete="CASCADE")
    enabled: bool = Field(default=True)
    balance_minor: int = Field(default=0, nullable=False)
    currency: str = currency_field()
    markup_bps: int | None = Field(default=None)  # None: the `reseller_default_markup_bps` setting
    rates: dict[str, Any] = json_field()  # {"<product id>": rate per 1000 in minor units}
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class LedgerKind:
    TOPUP = "topup"
    ADJUSTMENT = "adjustment"
    ORDER = "order"
    REFUND = "refund"


class ResellerLedgerEntry(SQLModel, table=True):
    """One movement of a wallet (append-only). `idempotency_key` is unique per account: an
    `add` retried with the same key finds its first debit instead of paying twice; a refund
    credit carries the refund's key so it is credited once."""

    __tablename__ = "reseller_ledger"
    __table_args__ = (
        sa.UniqueConstraint("account_id", "idempotency_key", name="uq_reseller_ledger_account_key"),
        sa.Index("ix_reseller_ledger_account_id", "account_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="reseller_accounts.id", nullable=False, ondelete="CASCADE")
    kind: str = Field(max_length=20, nullable=False)
    amount_minor: int = Field(nullable=False)  # + credit, - debit
    balance_after_minor: int = Field(nullable=False)
    order_id: int | None = Field(default=None, foreign_key="orders.id", index=True, nullable=True, ondelete="SET NULL")
    idempotency_key: str | None = Field(default=None, max_length=120, nullable=True)
    reason: str = Field(default="", max_length=500)
    actor_label: str = Field(default="", max_length=200)
    created_at: datetime = created_at_field()


event.listen(ResellerLedgerEntry, "before_update", refuse_update)


class ResellerApiKey(SQLModel, table=True):
    """An API key: only its SHA-256 is stored; `prefix` (the first characters) names it in lists."""

    __tablename__ = "reseller_api_keys"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="reseller_accounts.id", index=True, nullable=False, ondelete="CASCADE")
    name: str = Field(default="", max_length=80)
    prefix: str = Field(max_length=12, nullable=False)
    key_hash: str = Field(max_length=64, unique=True, nullable=False)
    allowed_ips: list[str] = json_field(list)
    revoked_at: datetime | None = utc_field()
    created_at: datetime = created_at_field()
