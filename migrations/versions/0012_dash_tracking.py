"""Client dashboard: orders.tracking_nonce (revocable guest tracking links) and
users.email_verified_at (guest orders attach to an account only after its email is verified).

Revision ID: 0012_dash_tracking
Revises: 0007_sec1_attempt_kind
Create Date: 2026-11-26 17:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from smplat.models.base import UTCDateTime

revision: str = "0012_dash_tracking"
down_revision: str | None = "0011_dial_provider_order_flag"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("tracking_nonce", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False, server_default="")
        )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email_verified_at", UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("email_verified_at")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("tracking_nonce")
