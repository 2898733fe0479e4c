"""Invoices: the buyer's billing profile, invoices and credit notes (frozen at issue), and the
per-year number counters that keep their numbers gapless."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from smplat.models.base import StrEnum, created_at_field, currency_field, json_field, updated_at_field, utc_field


class InvoiceKind(StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class BillingProfile(SQLModel, table=True):
    """Who an account's invoices are made out to (one per account)."""

    __tablename__ = "billing_profiles"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", unique=True, nullable=False, ondelete="CASCADE")
    name: str = Field(default="", max_length=200)
    company: str = Field(default="", max_length=200)
    address: str = Field(default="", max_length=500)  # street, postcode and city, one per line
    country: str = Field(default="", max_length=2)  # ISO 3166-1 alpha-2, from the VAT table
    vat_id: str = Field(default="", max_length=20)  # normalised: upper case, no spaces, with its prefix
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class InvoiceSequence(SQLModel, table=True):
    """The last number given in one series (INV, CN) and year. Issuing locks this row
    (SELECT ... FOR UPDATE) and moves it in the invoice's own transaction: no gap, no duplicate."""

    __tablename__ = "invoice_sequences"

    series: str = Field(primary_key=True, max_length=8)
    year: int = Field(primary_key=True)
    last_number: int = Field(default=0, nullable=False)


class Invoice(SQLModel, table=True):
    """An invoice or a credit note as issued: seller, buyer, lines and totals frozen. Amounts
    are minor units, VAT included in gross; a credit note's amounts are negative."""

    __tablename__ = "invoices"
    __table_args__ = (
        sa.UniqueConstraint("series", "year", "sequence", name="uq_invoices_series_year_sequence"),
        sa.Index("ix_invoices_user_issued", "user_id", "issued_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=32, unique=True, nullable=False)  # INV-2026-000001
    kind: str = Field(default=InvoiceKind.INVOICE.value, max_length=16)
    series: str = Field(max_length=8, nullable=False)
    year: int = Field(nullable=False)
    sequence: int = Field(nullable=False)
    # unique: one document per payment (the charge, a renewal, a refund), however often it is reported
    payment_id: int = Field(foreign_key="payments.id", unique=True, nullable=False, ondelete="RESTRICT")
    order_id: int | None = Field(default=None, foreign_key="orders.id", index=True, nullable=True, ondelete="RESTRICT")
    user_id: int | None = Field(default=None, foreign_key="users.id", nullable=True, ondelete="SET NULL")
    credited_invoice_id: int | None = Field(
        default=None, foreign_key="invoices.id", index=True, nullable=True, ondelete="RESTRICT"
    )
    customer_email: str = Field(default="", max_length=320)
    currency: str = currency_field()
    net_minor: int = Field(default=0, nullable=False)
    vat_minor: int = Field(default=0, nullable=False)
    gross_minor: int = Field(default=0, nullable=False)
    vat_rate: str = Field(default="0", max_length=8)  # percent as text ("21", "5.5"): exact, never a float
    reverse_charge: bool = Field(default=False)
    vat_note: str = Field(default="", max_length=300)
    seller: dict[str, Any] = json_field()
    buyer: dict[str, Any] = json_field()
    lines: list[dict[str, Any]] = json_field(list)
    issued_at: datetime = created_at_field()
    pdf_generated_at: datetime | None = utc_field()
    pdf_sha256: str = Field(default="", max_length=64)
