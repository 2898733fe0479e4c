"""Linked social profiles of a customer and the snapshots of their public numbers over time."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from smplat.models.base import StrEnum, UTCDateTime, created_at_field, utc_field


class ProfilePlatform(StrEnum):
    INSTAGRAM = "instagram"  # fetched today (integrations/instagram.py)
    TIKTOK = "tiktok"  # the model allows them; no adapter yet
    YOUTUBE = "youtube"


class ProfileStatus(StrEnum):
    """The outcome of the last refresh, shown to the customer in their words."""

    PENDING = "pending"  # linked, not fetched yet
    OK = "ok"
    UNKNOWN = "unknown"  # no such account
    PRIVATE = "private"  # private / personal account: its numbers are not public
    RATE_LIMITED = "rate_limited"
    ERROR = "error"  # the platform failed (network, 5xx, malformed answer)


class LinkedProfile(SQLModel, table=True):
    __tablename__ = "linked_profiles"
    __table_args__ = (
        # one link per account per customer: linking again answers the existing row
        sa.UniqueConstraint("user_id", "platform", "handle", name="uq_linked_profiles_user_platform_handle"),
        sa.Index("ix_linked_profiles_next_refresh", "next_refresh_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, nullable=False, ondelete="CASCADE")
    platform: str = Field(default=ProfilePlatform.INSTAGRAM.value, max_length=16, nullable=False)
    handle: str = Field(max_length=64, nullable=False)  # lower case, no "@"
    display_name: str = Field(default="", max_length=200)
    status: str = Field(default=ProfileStatus.PENDING.value, max_length=16, nullable=False)
    status_message: str = Field(default="", max_length=500)
    consecutive_failures: int = Field(default=0, nullable=False)
    next_refresh_at: datetime | None = utc_field()
    last_refreshed_at: datetime | None = utc_field()
    created_at: datetime = created_at_field()


class ProfileSnapshot(SQLModel, table=True):
    """The numbers of one profile at one moment (one row per successful refresh)."""

    __tablename__ = "profile_snapshots"
    __table_args__ = (sa.Index("ix_profile_snapshots_profile_taken", "profile_id", "taken_at"),)

    id: int | None = Field(default=None, primary_key=True)
    profile_id: int = Field(foreign_key="linked_profiles.id", nullable=False, ondelete="CASCADE")
    taken_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    followers: int = Field(default=0, nullable=False)
    following: int = Field(default=0, nullable=False)
    posts: int = Field(default=0, nullable=False)
    # basis points of followers: (likes + comments) per recent post / followers x 10000
    engagement_rate_bps: int = Field(default=0, nullable=False)
    reach: int | None = Field(default=None)  # only where the platform reports it
