"""preset_daily_metrics: the nightly roll-up of preset apply/clear events per UTC day, product,
preset and source (services/merch_analytics.py).

Revision ID: 0024_mrch_preset_rollups
Revises: 0023_inv_invoices
Create Date: 2026-11-26 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from smplat.models.base import UTCDateTime

revision: str = "0024_mrch_preset_rollups"
down_revision: str | None = "0023_inv_invoices"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "preset_daily_metrics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("preset_key", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("applies", sa.Integer(), nullable=False),
        sa.Column("clears", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("day", "product_id", "preset_key", "source", name="uq_preset_daily_metrics_key"),
    )
    with op.batch_alter_table("preset_daily_metrics", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_preset_daily_metrics_day"), ["day"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("preset_daily_metrics", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_preset_daily_metrics_day"))
    op.drop_table("preset_daily_metrics")
