"""customer_notes: staff notes about a customer (Admin -> Customers -> a customer).

Revision ID: 0018_cust_customer_notes
Revises: 0017_exp_promoted_variant
Create Date: 2026-11-26 21:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from smplat.models.base import UTCDateTime

revision: str = "0018_cust_customer_notes"
down_revision: str | None = "0017_exp_promoted_variant"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customer_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("author_user_id", sa.Integer(), nullable=True),
        sa.Column("author_label", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["author_user_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_customer_notes_user_created", "customer_notes", ["user_id", "created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_customer_notes_user_created", table_name="customer_notes")
    op.drop_table("customer_notes")
