"""Provider orders flagged for an operator: a status word outside the provider's dialect.

`flagged_at` is set (and `flag_reason` says why) when the panel answers a status word its
dialect does not map; the raw answer is in `last_response`. Cleared by the next known word.

Revision ID: 0011_dial_provider_order_flag
Revises: 0007_sec1_attempt_kind
Create Date: 2026-11-26 17:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import smplat.models.base

revision: str = "0011_dial_provider_order_flag"
down_revision: str | None = "0010_sess_email_change"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("provider_orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("flagged_at", smplat.models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("flag_reason", sa.Text(), nullable=False, server_default=""))
        batch_op.create_index("ix_provider_orders_flagged_at", ["flagged_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("provider_orders", schema=None) as batch_op:
        batch_op.drop_index("ix_provider_orders_flagged_at")
        batch_op.drop_column("flag_reason")
        batch_op.drop_column("flagged_at")
