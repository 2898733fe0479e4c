"""Audit log: who changed what in the admin, API and jobs, kept as append-only rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel import Field, SQLModel

from smplat.models.base import created_at_field, json_field


class AppendOnly(RuntimeError):
    """Code tried to update a history row (event, audit entry); history is only appended."""


def refuse_update(mapper: Any, connection: Any, target: Any) -> None:
    """`before_update` listener for append-only tables (audit log, order and payment events)."""
    raise AppendOnly(f"{type(target).__name__} rows are append-only")


class AuditLog(SQLModel, table=True):
    """One change that matters: catalog publish, manual override, provider edit, role change.
    `data` holds the parameters (before/after values); secrets never go in it."""

    __tablename__ = "audit_logs"
    __table_args__ = (
        sa.Index("ix_audit_logs_entity", "entity_type", "entity_id"),
        sa.Index("ix_audit_logs_created_at", "created_at"),  # the admin's audit page pages by time
    )

    id: int | None = Field(default=None, primary_key=True)
    actor_user_id: int | None = Field(
        default=None, foreign_key="users.id", index=True, nullable=True, ondelete="SET NULL"
    )
    actor_label: str = Field(default="", max_length=200)  # kept when the user is deleted
    action: str = Field(max_length=80, nullable=False, index=True)  # "product.publish", "provider.update"
    entity_type: str = Field(max_length=60, nullable=False)
    entity_id: str = Field(default="", max_length=64)
    data: dict[str, Any] = json_field()
    ip_address: str = Field(default="", max_length=64)
    created_at: datetime = created_at_field()


event.listen(AuditLog, "before_update", refuse_update)
