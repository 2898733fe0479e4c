"""Two-factor sign-in (TOTP): the encrypted secret on users, and single-use backup codes.

Revision ID: 0009_totp_two_factor
Revises: 0007_sec1_attempt_kind
Create Date: 2026-11-26 17:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import smplat.models.base

revision: str = "0009_totp_two_factor"
down_revision: str | None = "0008_prof_linked_profiles"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "two_factor_secret", sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False, server_default=""
            )
        )
        batch_op.add_column(
            sa.Column("two_factor_enabled_at", smplat.models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("two_factor_last_step", sa.BigInteger(), nullable=True))

    op.create_table(
        "two_factor_backup_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", smplat.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", smplat.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code_hash"),
    )
    with op.batch_alter_table("two_factor_backup_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_two_factor_backup_codes_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("two_factor_backup_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_two_factor_backup_codes_user_id"))
    op.drop_table("two_factor_backup_codes")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("two_factor_last_step")
        batch_op.drop_column("two_factor_enabled_at")
        batch_op.drop_column("two_factor_secret")
