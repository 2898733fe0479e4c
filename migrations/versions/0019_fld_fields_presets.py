"""Custom fields get `choices` (the choice type) and `sample_values`; presets get `badge`
and `image_url` (the preset builder).

Revision ID: 0019_fld_fields_presets
Revises: 0018_cust_customer_notes
Create Date: 2026-11-26 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from smplat.models.base import JSONType

revision: str = "0019_fld_fields_presets"
down_revision: str | None = "0018_cust_customer_notes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("product_custom_fields", schema=None) as batch_op:
        batch_op.add_column(sa.Column("choices", JSONType, nullable=True))
        batch_op.add_column(sa.Column("sample_values", JSONType, nullable=True))
    op.execute(sa.text("UPDATE product_custom_fields SET choices = '[]', sample_values = '[]'"))
    with op.batch_alter_table("product_custom_fields", schema=None) as batch_op:
        batch_op.alter_column("choices", existing_type=JSONType, nullable=False)
        batch_op.alter_column("sample_values", existing_type=JSONType, nullable=False)
    with op.batch_alter_table("product_presets", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("badge", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("image_url", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("product_presets", schema=None) as batch_op:
        batch_op.drop_column("image_url")
        batch_op.drop_column("badge")
    with op.batch_alter_table("product_custom_fields", schema=None) as batch_op:
        batch_op.drop_column("sample_values")
        batch_op.drop_column("choices")
