"""Dashboard roll-ups: daily_rollups, daily_sales, daily_service_stats, daily_provider_stats and
daily_payment_stats (services/rollups.py, the `dashboard_rollup` job); and the indexes the
dashboard's live part (today, days not rolled up yet) and the roll-up read by: creation time of
carts, checkout sessions, fulfilment attempts, provider orders, payments and webhooks, and the
last change of orders, provider orders and payments (Analytics' change detector); and orders'
(creation, currency, charged, refunded) so the sales of partial days are read from the index.

Revision ID: 0025_dash_daily_rollups
Revises: 0024_mrch_preset_rollups
Create Date: 2026-11-27 00:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from smplat.models.base import UTCDateTime

revision: str = "0025_dash_daily_rollups"
down_revision: str | None = "0024_mrch_preset_rollups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SUM_TYPE = sa.Numeric(28, 10)

# (table, index, column)
INDEXES = (
    ("orders", "ix_orders_updated", "updated_at"),
    ("carts", "ix_carts_created", "created_at"),
    ("checkout_sessions", "ix_checkout_sessions_created", "created_at"),
    ("fulfillment_attempts", "ix_fulfillment_attempts_created", "created_at"),
    ("provider_orders", "ix_provider_orders_created", "created_at"),
    ("provider_orders", "ix_provider_orders_updated", "updated_at"),
    ("payments", "ix_payments_created", "created_at"),
    ("payments", "ix_payments_updated", "updated_at"),
    ("webhook_events", "ix_webhook_events_received", "received_at"),
)


def upgrade() -> None:
    op.create_table(
        "daily_rollups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("carts", sa.Integer(), nullable=False),
        sa.Column("checkouts", sa.Integer(), nullable=False),
        sa.Column("through", UTCDateTime(timezone=True), nullable=False),
        sa.Column("rolled_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("day"),
    )
    op.create_table(
        "daily_sales",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("paid_orders", sa.Integer(), nullable=False),
        sa.Column("charged_minor", sa.BigInteger(), nullable=False),
        sa.Column("refunded_minor", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("day", "currency", name="uq_daily_sales_day_currency"),
    )
    op.create_table(
        "daily_service_stats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("provider_id", sa.Integer(), nullable=True),
        sa.Column("product_title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("revenue_minor", sa.BigInteger(), nullable=False),
        sa.Column("cost", SUM_TYPE, nullable=False),
        sa.Column("revenue_share", SUM_TYPE, nullable=False),
        sa.Column("completed_lines", sa.Integer(), nullable=False),
        sa.Column("completion_seconds", SUM_TYPE, nullable=False),
        sa.ForeignKeyConstraint(["provider_id"], ["providers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("daily_service_stats", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_daily_service_stats_day"), ["day"], unique=False)
    op.create_table(
        "daily_provider_stats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("succeeded", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("other", sa.Integer(), nullable=False),
        sa.Column("placed", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["provider_id"], ["providers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("day", "provider_id", name="uq_daily_provider_stats_day_provider"),
    )
    op.create_table(
        "daily_payment_stats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("day", "source", "kind", "status", name="uq_daily_payment_stats_key"),
    )
    for table, name, column in INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(name, [column], unique=False)
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(
            "ix_orders_created_sales", ["created_at", "currency", "charged_minor", "refunded_minor"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_created_sales")
    for table, name, _column in reversed(INDEXES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)
    with op.batch_alter_table("daily_service_stats", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_daily_service_stats_day"))
    for table in ("daily_payment_stats", "daily_provider_stats", "daily_service_stats", "daily_sales", "daily_rollups"):
        op.drop_table(table)
