"""Whole-number configurator fields: the drip-feed days field becomes an `integer` field.

`product_custom_fields.field_type` is a short string (no database enum), so no column
changes; existing shops get their seeded `drip_days` field retyped so a value like "2.5"
is refused where it is typed instead of breaking checkout. Only fields still of the
seeded type `number` are changed (an owner's own retyping is left alone).

Revision ID: 0006_pricing_integer_fields
Revises: 0004_checkout
Create Date: 2026-11-26 14:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_pricing_integer_fields"
down_revision: str | None = "0005_money"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        sa.text(
            "UPDATE product_custom_fields SET field_type = 'integer' WHERE key = 'drip_days' AND field_type = 'number'"
        )
    )


def downgrade() -> None:
    op.execute(
        sa.text(
            "UPDATE product_custom_fields SET field_type = 'number' WHERE key = 'drip_days' AND field_type = 'integer'"
        )
    )
