"""Linked profiles: linking (sandbox over HTTP), the refresh job's budget and back-off (fake
clock), isolation between customers, and the charts' data and query counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from jobs.definitions import JOBS
from smplat.db import session_scope
from smplat.models.orders import OrderItem, OrderStatus
from smplat.models.profiles import LinkedProfile, ProfileSnapshot
from smplat.services import accounts, profiles
from smplat.services.errors import ErrorCode, ServiceError
from tests.fake_clock import FakeClock
from tests.fulfillment_factory import paid_order, product, seed_with_panel

pytestmark = pytest.mark.integration


def _customer(session, email="ada@example.com") -> int:
    return accounts.sign_up(session, email=email, password="violet-harbour-42").id


def _snapshot_count(session, profile_id: int) -> int:
    return session.execute(
        select(func.count()).select_from(ProfileSnapshot).where(ProfileSnapshot.profile_id == profile_id)
    ).scalar_one()


def test_linking_takes_the_first_snapshot(session, instagram):
    clock = FakeClock()
    user_id = _customer(session)
    profile = profiles.link_profile(session, user_id, "instagram", "https://www.instagram.com/Violet.Bakery/", clock())
    assert (profile.handle, profile.status, profile.status_message) == ("violet.bakery", "ok", "")
    assert profile.display_name == "Violet Bakery"
    assert profile.next_refresh_at == clock() + timedelta(hours=1)
    assert _snapshot_count(session, profile.id) == 1
    # linking the same account again answers the same row, and calls nobody
    again = profiles.link_profile(session, user_id, "instagram", "@violet.bakery", clock())
    assert again.id == profile.id
    assert _snapshot_count(session, profile.id) == 1


@pytest.mark.parametrize(
    ("handle", "status", "words"),
    [
        pytest.param("unknown.brand", "unknown", "found no public Instagram", id="unknown"),
        pytest.param("private.brand", "private", "is private", id="private"),
    ],
)
def test_unknown_and_private_profiles_are_linked_with_the_reason(session, instagram, handle, status, words):
    clock = FakeClock()
    profile = profiles.link_profile(session, _customer(session), "instagram", handle, clock())
    assert profile.status == status
    assert words in profile.status_message
    assert profile.consecutive_failures == 1
    assert profile.next_refresh_at == clock() + timedelta(seconds=900)
    assert _snapshot_count(session, profile.id) == 0


@pytest.mark.parametrize(
    ("platform", "handle", "code", "field"),
    [
        pytest.param("instagram", "no spaces allowed", ErrorCode.INVALID, "handle", id="bad-handle"),
        pytest.param("instagram", "https://www.instagram.com/p/Cx1AbC2dEf/", ErrorCode.INVALID, "handle", id="post"),
        pytest.param("tiktok", "violet", ErrorCode.NOT_ALLOWED, "platform", id="tiktok-not-yet"),
        pytest.param("myspace", "violet", ErrorCode.INVALID, "platform", id="unknown-platform"),
    ],
)
def test_bad_links_are_refused_and_store_nothing(session, instagram, platform, handle, code, field):
    user_id = _customer(session)
    with pytest.raises(ServiceError) as raised:
        profiles.link_profile(session, user_id, platform, handle, FakeClock()())
    assert (raised.value.code, raised.value.field) == (code, field)
    assert session.execute(select(func.count()).select_from(LinkedProfile)).scalar_one() == 0


def test_the_job_backs_off_a_failing_profile_and_recovers(session, instagram):
    # given a linked profile whose next refreshes fail twice (HTTP 500), on a fake clock
    clock = FakeClock()
    profile = profiles.link_profile(session, _customer(session), "instagram", "violet.bakery", clock())
    instagram.state.set_knobs(script=["http500", "http500"])
    refresh = lambda: JOBS["profile_refresh"].func(session_scope, clock())  # noqa: E731

    clock.advance(hours=1)
    assert refresh() == {"due": 1, "refreshed": 0, "failed": 1, "rate_limited": 0, "stopped_early": 0}
    session.refresh(profile)
    assert (profile.status, profile.consecutive_failures) == ("error", 1)
    assert profile.next_refresh_at == clock() + timedelta(seconds=900)

    clock.advance(seconds=899)  # not due yet: no call
    assert refresh()["due"] == 0
    clock.advance(seconds=1)
    assert refresh()["failed"] == 1
    session.refresh(profile)
    assert profile.consecutive_failures == 2
    assert profile.next_refresh_at == clock() + timedelta(seconds=1800)  # doubled

    clock.advance(seconds=1800)
    assert refresh()["refreshed"] == 1
    session.refresh(profile)
    assert (profile.status, profile.consecutive_failures, profile.status_message) == ("ok", 0, "")
    assert profile.next_refresh_at == clock() + timedelta(hours=1)
    assert _snapshot_count(session, profile.id) == 2


def test_the_backoff_is_capped(monkeypatch):
    from smplat.settings import reset_settings_cache

    monkeypatch.setenv("SMPLAT_PROFILE_BACKOFF_MAX_SECONDS", "3000")
    reset_settings_cache()
    assert [profiles.backoff_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [900, 1800, 3000, 3000]
    reset_settings_cache()


def test_a_rate_limited_run_stops_and_leaves_the_rest_due(session, instagram):
    clock = FakeClock()
    user_id = _customer(session)
    ids = [profiles.link_profile(session, user_id, "instagram", h, clock()).id for h in ("one.a", "two.b", "three.c")]
    # when the next run's second call is refused for the app's rate limit
    instagram.state.set_knobs(script=["pass", "rate_limit"])  # the first call goes through
    clock.advance(hours=1)
    counts = JOBS["profile_refresh"].func(session_scope, clock())
    # then the run stops: one refreshed, one marked rate limited, the third untouched and still due
    assert counts == {"due": 3, "refreshed": 1, "failed": 1, "rate_limited": 1, "stopped_early": 1}
    rows = {p.id: p for p in session.execute(select(LinkedProfile)).scalars()}
    for row in rows.values():
        session.refresh(row)
    assert rows[ids[1]].status == "rate_limited"
    assert "limiting how often" in rows[ids[1]].status_message
    assert rows[ids[2]].status == "ok" and rows[ids[2]].next_refresh_at <= clock()
    assert [_snapshot_count(session, i) for i in ids] == [2, 1, 1]


def test_a_run_stops_before_the_budget_is_spent(session, instagram, monkeypatch):
    from smplat.settings import reset_settings_cache

    clock = FakeClock()
    user_id = _customer(session)
    for handle in ("one.a", "two.b", "three.c"):
        profiles.link_profile(session, user_id, "instagram", handle, clock())
    instagram.state.reset()
    instagram.state.set_knobs(calls_per_hour=4)  # each call is 25 % of the budget
    monkeypatch.setenv("SMPLAT_PROFILE_REFRESH_USAGE_STOP_PERCENT", "50")
    reset_settings_cache()
    clock.advance(hours=1)
    counts = JOBS["profile_refresh"].func(session_scope, clock())
    assert counts == {"due": 3, "refreshed": 2, "failed": 0, "rate_limited": 0, "stopped_early": 1}
    assert len(instagram.state.calls) == 2


def test_another_customers_profile_is_not_found(session, instagram):
    owner = _customer(session, "owner@example.com")
    stranger = _customer(session, "stranger@example.com")
    profile = profiles.link_profile(session, owner, "instagram", "violet.bakery", FakeClock()())
    for attempt in (
        lambda: profiles.profile_chart(session, stranger, profile.id, FakeClock()()),
        lambda: profiles.unlink_profile(session, stranger, profile.id),
        lambda: profiles.prefill_for_profile(session, stranger, profile.id, "instagram", ["username"]),
        lambda: profiles.profile_chart(session, stranger, "not-a-number", FakeClock()()),
    ):
        with pytest.raises(ServiceError) as raised:
            attempt()
        assert raised.value.code == ErrorCode.NOT_FOUND
        assert raised.value.message == "That profile was not found."
    session.expire_all()
    assert session.get(LinkedProfile, profile.id) is not None
    assert _snapshot_count(session, profile.id) == 1


def test_unlinking_removes_the_profile_and_its_snapshots(session, instagram):
    user_id = _customer(session)
    profile = profiles.link_profile(session, user_id, "instagram", "violet.bakery", FakeClock()())
    profiles.unlink_profile(session, user_id, profile.id)
    assert session.execute(select(func.count()).select_from(LinkedProfile)).scalar_one() == 0
    assert _snapshot_count(session, profile.id) == 0


def test_chart_marks_the_profiles_orders_and_compares_a_week_before_and_after(session, instagram, panel, count_queries):
    # given a customer with a linked profile, snapshots over three weeks, and two orders:
    # 500 followers for that profile (completed on day 10) and likes for a post (not this profile)
    seed_with_panel(session, panel.base_url)
    clock = FakeClock()
    start = clock()
    user_id = _customer(session)
    profile = profiles.link_profile(session, user_id, "instagram", "violet.bakery", start)
    first = session.execute(select(ProfileSnapshot)).scalars().one()
    for day, followers in ((2, 1000), (10, 1100), (16, 1600), (20, 1650)):
        session.add(ProfileSnapshot(profile_id=profile.id, taken_at=start + timedelta(days=day), followers=followers))
    session.commit()
    order = paid_order(
        session,
        [(product(session, "instagram-followers"), "https://www.instagram.com/violet.bakery/", 500, 690)],
        user_id=user_id,
    )
    paid_order(
        session,
        [(product(session, "instagram-likes"), "https://www.instagram.com/p/Cx1AbC2dEf/", 100, 190)],
        user_id=user_id,
    )
    item = session.execute(select(OrderItem).where(OrderItem.order_id == order.id)).scalars().one()
    item.status, item.updated_at = OrderStatus.COMPLETED.value, start + timedelta(days=10)
    session.add(item)
    session.commit()
    session.expire_all()
    # when the chart data is read
    with count_queries(session) as queries:
        chart = profiles.profile_chart(session, user_id, profile.id, start + timedelta(days=21))
    # then the followers order is marked at its completion, the likes order is not, in 3 queries
    assert queries.count == 3, queries
    assert [(m.number, m.quantity, m.completed) for m in chart.orders] == [(order.number, 500, True)]
    assert [s.followers for s in chart.snapshots] == [first.followers, 1000, 1100, 1600, 1650]
    (comparison,) = chart.comparisons
    assert (comparison.before, comparison.at, comparison.after) == (1000, 1100, 1600)


def test_sparklines_in_two_queries(session, instagram, count_queries):
    user_id = _customer(session)
    clock = FakeClock()
    for handle in ("one.a", "two.b"):
        profiles.link_profile(session, user_id, "instagram", handle, clock())
    session.expire_all()
    with count_queries(session) as queries:
        lines = profiles.sparklines(session, user_id, clock())
    assert queries.count == 2, queries
    assert [(p.handle, len(values)) for p, values in lines] == [("one.a", 1), ("two.b", 1)]


def test_sparkline_path():
    assert profiles.sparkline_path([5]) == ""
    assert profiles.sparkline_path([0, 10], width=100, height=24) == "M0.0,22.0 L100.0,2.0"
