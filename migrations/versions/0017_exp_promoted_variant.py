"""Pricing experiments: price_experiments.promoted_variant_key (the variant whose price became
the list price when an admin promoted it).

Revision ID: 0017_exp_promoted_variant
Revises: 0016_merch_product_drafts
Create Date: 2026-11-26 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0017_exp_promoted_variant"
down_revision: str | None = "0016_merch_product_drafts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("price_experiments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "promoted_variant_key", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False, server_default=""
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("price_experiments", schema=None) as batch_op:
        batch_op.drop_column("promoted_variant_key")
