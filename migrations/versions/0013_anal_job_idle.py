"""Job runs: job_runs.idle (a scheduled tick that did nothing), so the jobs page hides them by an index.

Revision ID: 0013_anal_job_idle
Revises: 0012_dash_tracking
Create Date: 2026-11-26 18:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_anal_job_idle"
down_revision: str | None = "0012_dash_tracking"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("idle", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_index("ix_job_runs_idle_started", ["idle", "started_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_job_runs_idle_started")
        batch_op.drop_column("idle")
