"""Admin order queue: (created_at, id) and (total_minor, id) indexes for its keyset pagination.

Revision ID: 0014_ops_order_queue
Revises: 0012_dash_tracking
Create Date: 2026-11-26 18:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014_ops_order_queue"
down_revision: str | None = "0013_resel_wallet"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index("ix_orders_created_id", ["created_at", "id"], unique=False)
        batch_op.create_index("ix_orders_total_id", ["total_minor", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_total_id")
        batch_op.drop_index("ix_orders_created_id")
