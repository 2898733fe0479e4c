"""Product media: padded variants (card, thumbnail) and what the server decoded (type,
pixel size, byte size) for uploads checked by services/media.py.

Revision ID: 0021_media_variants
Revises: 0020_subs_account_deleted_at
Create Date: 2026-11-26 20:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0021_media_variants"
down_revision: str | None = "0020_subs_account_deleted_at"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("product_media", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("card_url", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("thumb_url", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("content_type", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("width", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("height", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("byte_size", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("product_media", schema=None) as batch_op:
        for column in ("byte_size", "height", "width", "content_type", "thumb_url", "card_url"):
            batch_op.drop_column(column)
