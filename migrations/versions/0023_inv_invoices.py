"""Invoices: billing_profiles (the buyer's details, one per account), invoice_sequences (the
per-series, per-year counter rows that keep numbers gapless) and invoices (invoices and
credit notes, frozen at issue, one per payment).

Revision ID: 0023_inv_invoices
Revises: 0022_ntf_notifications
Create Date: 2026-11-26 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import smplat.models.base

revision: str = "0023_inv_invoices"
down_revision: str | None = "0022_ntf_notifications"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "billing_profiles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", _text(200), nullable=False),
        sa.Column("company", _text(200), nullable=False),
        sa.Column("address", _text(500), nullable=False),
        sa.Column("country", _text(2), nullable=False),
        sa.Column("vat_id", _text(20), nullable=False),
        sa.Column("created_at", smplat.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", smplat.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id"),
    )
    op.create_table(
        "invoice_sequences",
        sa.Column("series", _text(8), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("series", "year"),
    )
    op.create_table(
        "invoices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", _text(32), nullable=False),
        sa.Column("kind", _text(16), nullable=False),
        sa.Column("series", _text(8), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("credited_invoice_id", sa.Integer(), nullable=True),
        sa.Column("customer_email", _text(320), nullable=False),
        sa.Column("currency", _text(3), nullable=False),
        sa.Column("net_minor", sa.Integer(), nullable=False),
        sa.Column("vat_minor", sa.Integer(), nullable=False),
        sa.Column("gross_minor", sa.Integer(), nullable=False),
        sa.Column("vat_rate", _text(8), nullable=False),
        sa.Column("reverse_charge", sa.Boolean(), nullable=False),
        sa.Column("vat_note", _text(300), nullable=False),
        sa.Column("seller", smplat.models.base.JSONType, nullable=False),
        sa.Column("buyer", smplat.models.base.JSONType, nullable=False),
        sa.Column("lines", smplat.models.base.JSONType, nullable=False),
        sa.Column("issued_at", smplat.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("pdf_generated_at", smplat.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("pdf_sha256", _text(64), nullable=False),
        sa.ForeignKeyConstraint(["payment_id"], ["payments.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["credited_invoice_id"], ["invoices.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number"),
        sa.UniqueConstraint("payment_id"),
        sa.UniqueConstraint("series", "year", "sequence", name="uq_invoices_series_year_sequence"),
    )
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invoices_order_id"), ["order_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_invoices_credited_invoice_id"), ["credited_invoice_id"], unique=False)
        batch_op.create_index("ix_invoices_user_issued", ["user_id", "issued_at"], unique=False)


def downgrade() -> None:
    op.drop_table("invoices")
    op.drop_table("invoice_sequences")
    op.drop_table("billing_profiles")
