"""Linked social profiles and their snapshots (followers, following, posts, engagement, reach).

Revision ID: 0008_prof_linked_profiles
Revises: 0007_sec1_attempt_kind
Create Date: 2026-11-26 17:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import smplat.models.base

revision: str = "0008_prof_linked_profiles"
down_revision: str | None = "0007_sec1_attempt_kind"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "linked_profiles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("handle", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("display_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("status_message", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("next_refresh_at", smplat.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_refreshed_at", smplat.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", smplat.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "platform", "handle", name="uq_linked_profiles_user_platform_handle"),
    )
    with op.batch_alter_table("linked_profiles", schema=None) as batch_op:
        batch_op.create_index("ix_linked_profiles_next_refresh", ["next_refresh_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_linked_profiles_user_id"), ["user_id"], unique=False)
    op.create_table(
        "profile_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("profile_id", sa.Integer(), nullable=False),
        sa.Column("taken_at", smplat.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("followers", sa.Integer(), nullable=False),
        sa.Column("following", sa.Integer(), nullable=False),
        sa.Column("posts", sa.Integer(), nullable=False),
        sa.Column("engagement_rate_bps", sa.Integer(), nullable=False),
        sa.Column("reach", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["profile_id"], ["linked_profiles.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("profile_snapshots", schema=None) as batch_op:
        batch_op.create_index("ix_profile_snapshots_profile_taken", ["profile_id", "taken_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("profile_snapshots", schema=None) as batch_op:
        batch_op.drop_index("ix_profile_snapshots_profile_taken")
    op.drop_table("profile_snapshots")
    with op.batch_alter_table("linked_profiles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_linked_profiles_user_id"))
        batch_op.drop_index("ix_linked_profiles_next_refresh")
    op.drop_table("linked_profiles")
