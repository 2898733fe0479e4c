"""Fulfillment tasks: the durable work queue the jobs process claims to submit, refill, replay and cancel provider orders."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from smplat.models.base import StrEnum, UTCDateTime, created_at_field, json_field, updated_at_field, utc_field, utcnow


class TaskKind(StrEnum):
    SUBMIT = "submit"
    REFILL = "refill"
    REPLAY = "replay"
    CANCEL = "cancel"


class TaskStatus(StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"
    SUBMITTING = "submitting"  # the provider call is in flight: after a crash, reconcile
    SUBMITTED = "submitted"
    COMPLETED = "completed"
    FAILED = "failed"
    RETRY_WAIT = "retry_wait"
    DEAD_LETTER = "dead_letter"  # out of attempts; an operator decides
    CANCELED = "canceled"


class AttemptOutcome(StrEnum):
    """What one processing of a task came to (a row per attempt: the observability counters)."""

    SUCCEEDED = "succeeded"
    RECONCILED = "reconciled"  # an unanswered add was found on the panel and adopted
    RETRIED = "retried"
    DEAD_LETTERED = "dead_lettered"
    AMBIGUOUS = "ambiguous"  # no answer to an add: reconcile later, never resubmit blindly
    WAITED = "waited"  # "active order with this link": not a failure
    HELD = "held"  # outcome of an add unknown on a panel without lookup: an operator decides


# What the claim query picks up.
CLAIMABLE_STATUSES = (TaskStatus.PENDING.value, TaskStatus.RETRY_WAIT.value)


def _max_attempts_setting() -> int:
    """SMPLAT_FULFILLMENT_MAX_ATTEMPTS, read when a task is created (every creator: delivery,
    refills, replays, re-routed remainders)."""
    from smplat.settings import get_settings

    return get_settings().fulfillment_max_attempts


class FulfillmentTask(SQLModel, table=True):
    """One unit of provider work. Workers claim with
    `status IN ('pending', 'retry_wait') AND next_attempt_at <= now ORDER BY id`
    (FOR UPDATE SKIP LOCKED on PostgreSQL, a conditional UPDATE on SQLite) and hold a
    lease; a lease that expires unfinished is reclaimed by the sweep."""

    __tablename__ = "fulfillment_tasks"
    __table_args__ = (
        sa.Index("ix_fulfillment_tasks_status_next_attempt", "status", "next_attempt_at"),
        sa.Index("ix_fulfillment_tasks_status_lease", "status", "lease_expires_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    order_item_id: int = Field(foreign_key="order_items.id", index=True, nullable=False, ondelete="CASCADE")
    kind: str = Field(default=TaskKind.SUBMIT.value, max_length=20)
    status: str = Field(default=TaskStatus.PENDING.value, max_length=20)
    attempts: int = Field(default=0, nullable=False)
    # the retry limit, stamped from SMPLAT_FULFILLMENT_MAX_ATTEMPTS when the task is created
    max_attempts: int = Field(default_factory=lambda: _max_attempts_setting(), nullable=False)
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    claimed_by: str = Field(default="", max_length=120)  # "hostname:pid:worker"
    claimed_at: datetime | None = utc_field()
    lease_expires_at: datetime | None = utc_field()
    last_error: str = Field(default="", sa_type=sa.Text)
    # create-once: e.g. "submit:item:42" so a retried webhook or double click queues one task
    idempotency_key: str = Field(max_length=160, unique=True, nullable=False)
    payload: dict[str, Any] = json_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class FulfillmentAttempt(SQLModel, table=True):
    """One processing of a task against one provider: outcome and provider latency.

    Append-only; the admin's and tests' counters (processed / failed / retried /
    dead-lettered and latency per provider and task kind) are aggregates over it."""

    __tablename__ = "fulfillment_attempts"
    __table_args__ = (
        sa.Index("ix_fulfillment_attempts_provider_kind_created", "provider_id", "task_kind", "created_at"),
        # the dashboard roll-up and today's provider activity: every provider's calls of a day
        sa.Index("ix_fulfillment_attempts_created", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="fulfillment_tasks.id", index=True, nullable=False, ondelete="CASCADE")
    provider_id: int | None = Field(default=None, foreign_key="providers.id", nullable=True, ondelete="SET NULL")
    task_kind: str = Field(max_length=20, nullable=False)
    outcome: str = Field(max_length=20, nullable=False)
    latency_ms: int | None = Field(default=None)
    error: str = Field(default="", max_length=1000)
    created_at: datetime = created_at_field()
