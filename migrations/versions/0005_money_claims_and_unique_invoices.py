"""Money: webhook events are claimed by one worker (status `processing` + claimed_at); a
renewal invoice is one payment (UNIQUE payments.stripe_invoice_id); a refund we ask for is
asked once per key (UNIQUE payments.idempotency_key).

Revision ID: 0005_money
Revises: 0004_checkout
Create Date: 2026-11-26 14:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import smplat.models.base

revision: str = "0005_money"
down_revision: str | None = "0004_checkout"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_at", smplat.models.base.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("idempotency_key", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True))
        batch_op.drop_index(batch_op.f("ix_payments_stripe_invoice_id"))
        batch_op.create_unique_constraint("uq_payments_stripe_invoice_id", ["stripe_invoice_id"])
        batch_op.create_unique_constraint("uq_payments_idempotency_key", ["idempotency_key"])


def downgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_constraint("uq_payments_idempotency_key", type_="unique")
        batch_op.drop_constraint("uq_payments_stripe_invoice_id", type_="unique")
        batch_op.create_index(batch_op.f("ix_payments_stripe_invoice_id"), ["stripe_invoice_id"], unique=False)
        batch_op.drop_column("idempotency_key")
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.drop_column("claimed_at")
