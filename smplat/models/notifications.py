"""Notifications: the delivery log (one row per message) and each customer's preferences."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from smplat.models.base import StrEnum, created_at_field, json_field, updated_at_field, utc_field


class NotificationChannel(StrEnum):
    """Where a message goes. Email is sent today; the others are reserved so preferences and
    the log need no migration when a Slack-compatible or Telegram webhook sender is added."""

    EMAIL = "email"
    WEBHOOK = "webhook"
    TELEGRAM = "telegram"


class NotificationStatus(StrEnum):
    QUEUED = "queued"  # waiting for the sender (next_attempt_at says when)
    SENDING = "sending"  # claimed by one sender until claimed_until
    SENT = "sent"
    FAILED = "failed"  # gave up after the last attempt (or the message cannot be sent at all)
    SKIPPED = "skipped"  # the customer opted out of this kind: nothing was sent


class NotificationMessage(SQLModel, table=True):
    """One message to one recipient for one event. `event_key` is UNIQUE: a second notify()
    for the same event finds the first row, so nothing is ever sent twice for one event."""

    __tablename__ = "notification_messages"
    __table_args__ = (
        # the sender's scan: queued rows that are due, oldest first
        sa.Index("ix_notification_messages_status_next", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=40, nullable=False, index=True)
    channel: str = Field(default=NotificationChannel.EMAIL.value, max_length=16, nullable=False)
    recipient: str = Field(max_length=320, nullable=False)
    user_id: int | None = Field(default=None, foreign_key="users.id", index=True, nullable=True, ondelete="SET NULL")
    event_key: str = Field(max_length=200, nullable=False, unique=True)
    status: str = Field(default=NotificationStatus.QUEUED.value, max_length=16, nullable=False)
    subject: str = Field(default="", max_length=300)
    body_text: str = Field(default="", sa_type=sa.Text)
    body_html: str = Field(default="", sa_type=sa.Text)
    headers: dict[str, Any] = json_field()  # extra headers (List-Unsubscribe ...)
    # a file attached when sent, by reference ("invoice:<id>": that invoice's PDF, made again if
    # its file is gone), so the row never holds the bytes
    attachment_ref: str = Field(default="", max_length=80)
    attempts: int = Field(default=0, nullable=False)
    last_error: str = Field(default="", max_length=2000)
    provider_message_id: str = Field(default="", max_length=300)  # the Message-ID the server accepted
    next_attempt_at: datetime | None = utc_field()
    claimed_until: datetime | None = utc_field()  # a SENDING row whose sender died is claimable after this
    sent_at: datetime | None = utc_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class NotificationPreference(SQLModel, table=True):
    """A customer's choice for one kind on one channel; no row means the kind's default (on)."""

    __tablename__ = "notification_preferences"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "kind", "channel", name="uq_notification_preferences_user_kind_channel"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, nullable=False, ondelete="CASCADE")
    kind: str = Field(max_length=40, nullable=False)
    channel: str = Field(default=NotificationChannel.EMAIL.value, max_length=16, nullable=False)
    enabled: bool = Field(default=True, nullable=False)
    updated_at: datetime = updated_at_field()
