"""Products: version (optimistic edit check), draft_of_id (a draft of a published product),
published_at, and SEO fields (seo_title, meta_description, social_image_url).

Revision ID: 0016_merch_product_drafts
Revises: 0015_anal_jobs_analytics
Create Date: 2026-11-26 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from smplat.models.base import UTCDateTime

revision: str = "0016_merch_product_drafts"
down_revision: str | None = "0015_anal_jobs_analytics"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("draft_of_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("published_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("seo_title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column(
                "meta_description", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False, server_default=""
            )
        )
        batch_op.add_column(
            sa.Column(
                "social_image_url", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False, server_default=""
            )
        )
        batch_op.create_index("ix_products_draft_of_id", ["draft_of_id"], unique=False)
        batch_op.create_foreign_key(
            "fk_products_draft_of_id_products", "products", ["draft_of_id"], ["id"], ondelete="CASCADE"
        )
    # Published products of the seed and of earlier versions count as published now.
    op.execute(sa.text("UPDATE products SET published_at = created_at WHERE status = 'active'"))


def downgrade() -> None:
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_constraint("fk_products_draft_of_id_products", type_="foreignkey")
        batch_op.drop_index("ix_products_draft_of_id")
        for column in ("social_image_url", "meta_description", "seo_title", "published_at", "draft_of_id", "version"):
            batch_op.drop_column(column)
