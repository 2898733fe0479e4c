"""Reseller API: reseller accounts (prepaid wallet, markup, per-service rates), the
append-only wallet ledger, and hashed API keys.

Revision ID: 0013_resel_wallet
Revises: 0012_dash_tracking
Create Date: 2026-11-26 18:07:45
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import smplat.models.base

revision: str = "0013_resel_wallet"
down_revision: str | None = "0012_dash_tracking"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reseller_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("balance_minor", sa.Integer(), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("markup_bps", sa.Integer(), nullable=True),
        sa.Column("rates", smplat.models.base.JSONType, nullable=False),
        sa.Column("created_at", smplat.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", smplat.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("balance_minor >= 0", name="ck_reseller_accounts_balance_non_negative"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id"),
    )
    op.create_table(
        "reseller_api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("prefix", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("key_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("allowed_ips", smplat.models.base.JSONType, nullable=False),
        sa.Column("revoked_at", smplat.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", smplat.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["reseller_accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_hash"),
    )
    with op.batch_alter_table("reseller_api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reseller_api_keys_account_id"), ["account_id"], unique=False)

    op.create_table(
        "reseller_ledger",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("amount_minor", sa.Integer(), nullable=False),
        sa.Column("balance_after_minor", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("idempotency_key", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("actor_label", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("created_at", smplat.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["reseller_accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "idempotency_key", name="uq_reseller_ledger_account_key"),
    )
    with op.batch_alter_table("reseller_ledger", schema=None) as batch_op:
        batch_op.create_index("ix_reseller_ledger_account_id", ["account_id", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_reseller_ledger_order_id"), ["order_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("reseller_ledger", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reseller_ledger_order_id"))
        batch_op.drop_index("ix_reseller_ledger_account_id")

    op.drop_table("reseller_ledger")
    with op.batch_alter_table("reseller_api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reseller_api_keys_account_id"))

    op.drop_table("reseller_api_keys")
    op.drop_table("reseller_accounts")
