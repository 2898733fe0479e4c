"""Dashboard: the order lines' status index covers the admin home's waiting-line counts
(`status, created_at` plus `product_id, order_id`), so the awaiting-placement and stuck tiles
read the index alone (no visit to each waiting line's row).

Revision ID: 0027_dash_open_lines_index
Revises: 0026_dash_rollup_generation
Create Date: 2026-11-27 05:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0027_dash_open_lines_index"
down_revision: str | None = "0026_dash_rollup_generation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("order_items") as batch:
        batch.create_index(
            "ix_order_items_status_created_product_order", ["status", "created_at", "product_id", "order_id"]
        )
        batch.drop_index("ix_order_items_status_created")


def downgrade() -> None:
    with op.batch_alter_table("order_items") as batch:
        batch.create_index("ix_order_items_status_created", ["status", "created_at"])
        batch.drop_index("ix_order_items_status_created_product_order")
