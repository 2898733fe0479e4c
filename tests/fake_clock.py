"""A clock for tests: stands still until the test moves it (no test sleeps to let time pass)."""

from __future__ import annotations

from datetime import datetime, timedelta

from smplat.models.base import utcnow


class FakeClock:
    """Callable like `utcnow`; `advance(seconds=...)` moves it on."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now
