"""Dashboard roll-ups: `daily_rollups.generation`, the roll-up run's random stamp on every rolled
day (readers keep the rolled part of a figure per generation, services/rollups.py `fetch`).

Revision ID: 0026_dash_rollup_generation
Revises: 0025_dash_daily_rollups
Create Date: 2026-11-27 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0026_dash_rollup_generation"
down_revision: str | None = "0025_dash_daily_rollups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("daily_rollups") as batch:
        batch.add_column(
            sa.Column("generation", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("daily_rollups") as batch:
        batch.drop_column("generation")
