"""Job runs: one row per execution of a scheduled or manually triggered job."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from smplat.models.base import StrEnum, UTCDateTime, json_field, utc_field


class JobOutcome(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"  # it did some work, and some of it failed (a failure count above zero)
    FAILED = "failed"
    SKIPPED = "skipped"  # already running in this process


# Outcomes the admin and the metrics count as failing runs.
FAILING_OUTCOMES = (JobOutcome.FAILED.value, JobOutcome.PARTIAL.value)


class JobTrigger(StrEnum):
    SCHEDULE = "schedule"
    MANUAL = "manual"


class JobRun(SQLModel, table=True):
    __tablename__ = "job_runs"
    __table_args__ = (
        sa.Index("ix_job_runs_job_started", "job_name", "started_at"),
        # the jobs page lists runs that did something: idle scheduled ticks are hidden by default
        sa.Index("ix_job_runs_idle_started", "idle", "started_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    job_name: str = Field(max_length=100, nullable=False)
    trigger: str = Field(default=JobTrigger.SCHEDULE.value, max_length=20)
    outcome: str = Field(default=JobOutcome.RUNNING.value, max_length=20, index=True)
    started_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    finished_at: datetime | None = utc_field()
    duration_ms: int | None = Field(default=None)
    counts: dict[str, Any] = json_field()
    message: str = Field(default="", max_length=2000)
    hostname: str = Field(default="", max_length=200)
    pid: int | None = Field(default=None)
    # a scheduled run that succeeded with nothing counted (routine; hidden on the jobs page)
    idle: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
