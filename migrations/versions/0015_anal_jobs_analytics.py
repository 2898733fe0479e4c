"""Job runs: job_runs.idle (a scheduled tick that did nothing, hidden on the jobs page by an index);
daily_counters (anonymous storefront visits and product views per UTC day, for the funnel).

Revision ID: 0015_anal_jobs_analytics
Revises: 0012_dash_tracking
Create Date: 2026-11-26 18:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from smplat.models.base import UTCDateTime

revision: str = "0015_anal_jobs_analytics"
down_revision: str | None = "0014_ops_order_queue"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("idle", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_index("ix_job_runs_idle_started", ["idle", "started_at"], unique=False)
    op.create_table(
        "daily_counters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("day", "name", name="uq_daily_counters_day_name"),
    )


def downgrade() -> None:
    op.drop_table("daily_counters")
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_job_runs_idle_started")
        batch_op.drop_column("idle")
