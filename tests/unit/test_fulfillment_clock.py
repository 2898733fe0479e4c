"""The clock the fulfilment rooms read (`common.clock_from`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from smplat.models.base import utcnow
from smplat.services.fulfillment.common import clock_from
from tests.fake_clock import FakeClock

pytestmark = pytest.mark.unit


def test_an_injected_clock_wins_over_now():
    fake = FakeClock(datetime(2030, 1, 1, tzinfo=UTC))
    clock = clock_from(datetime(2020, 1, 1, tzinfo=UTC), fake)
    fake.advance(minutes=5)
    assert clock() == datetime(2030, 1, 1, 0, 5, tzinfo=UTC)


def test_time_moves_on_from_the_given_now():
    start = datetime(2020, 6, 1, 12, 0, tzinfo=UTC)
    clock = clock_from(start)
    first, second = clock(), clock()
    assert start <= first <= second < start + timedelta(seconds=5)


def test_no_now_is_the_wall_clock():
    before = utcnow()
    assert before <= clock_from()() <= utcnow()


def test_a_naive_now_is_refused():
    with pytest.raises(ValueError):
        clock_from(datetime(2020, 6, 1, 12, 0))
