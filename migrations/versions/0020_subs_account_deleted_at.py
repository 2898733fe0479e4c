"""Users: deleted_at, when the customer deleted their account (personal data anonymised then;
the purge job removes the rest once the retention period has passed since).

Revision ID: 0020_subs_account_deleted_at
Revises: 0019_fld_fields_presets
Create Date: 2026-11-26 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from smplat.models.base import UTCDateTime

revision: str = "0020_subs_account_deleted_at"
down_revision: str | None = "0019_fld_fields_presets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deleted_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_users_deleted_at", ["deleted_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index("ix_users_deleted_at")
        batch_op.drop_column("deleted_at")
