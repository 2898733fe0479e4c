"""What the rooms of the fulfilment package share: the job actors, the provider statuses
that are still open, the task kinds that submit an order, and the clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

from smplat.models.base import utcnow
from smplat.models.fulfillment import TaskKind
from smplat.models.providers import ProviderOrderStatus
from smplat.services.order_status import Actor

JOB_ACTOR = Actor.job("fulfillment")
SYNC_ACTOR = Actor.job("status_sync")
OPEN_PROVIDER_STATUSES = (
    ProviderOrderStatus.PENDING.value,
    ProviderOrderStatus.IN_PROGRESS.value,
    ProviderOrderStatus.PROCESSING.value,
    ProviderOrderStatus.UNKNOWN.value,
)
SUBMITTING_KINDS = (TaskKind.SUBMIT.value, TaskKind.REPLAY.value)

Clock = Callable[[], datetime]
"""What every room reads the time of day from: a function returning tz-aware UTC."""


def clock_from(now: datetime | None = None, clock: Clock | None = None) -> Clock:
    """The clock a run reads. An injected `clock` wins (tests pass a fake one and advance
    it); else time moves on from `now`, the instant the scheduler gave the job (a run
    that lasts a minute must not stamp every row with its start); else the wall clock.

    Durations (provider latency, a tick's run-time budget) are measured with
    `time.monotonic()` everywhere: they are how long real work took, not a time of day."""
    if clock is not None:
        return clock
    if now is None:
        return utcnow
    if now.tzinfo is None:
        raise ValueError("the clock needs a tz-aware UTC time")
    started = time.monotonic()
    return lambda: now + timedelta(seconds=time.monotonic() - started)
