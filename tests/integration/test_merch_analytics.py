"""Merchandising analytics: preset roll-ups (exact windows and rolling averages on a constructed
history, idempotent re-runs, pruning), the risky-preset rule at its thresholds, the alert sent
once per preset per day, blueprint adoption on constructed orders, and the page's fixed number
of statements. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from smplat.db import session_scope
from smplat.models.accounts import Role
from smplat.models.fulfillment import FulfillmentTask
from smplat.models.merchandising import PresetDailyMetric, PresetEvent
from smplat.models.orders import Order, OrderItem
from smplat.models.providers import AlertNotice, Provider, ProviderOrder, ProviderService
from smplat.sandbox.smtp_sink import SmtpSink, list_messages
from smplat.services import alerts, merch_analytics
from smplat.settings import Settings, reset_settings_cache
from smplat.ui import routes
from smplat.ui.pages.admin import merchandising
from smplat.ui.pages.admin.merchandising import MerchandisingState
from tests.fulfillment_factory import product, seed_with_panel

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
TODAY = NOW.date()


def _at(days_ago: int, hour: int = 10) -> datetime:
    return datetime.combine(TODAY - timedelta(days=days_ago), datetime.min.time(), tzinfo=UTC) + timedelta(hours=hour)


def _events(session, prod, key, days_ago, applies, clears=0, source="configurator", hour=10) -> None:
    for action, n in (("apply", applies), ("clear", clears)):
        for i in range(n):
            session.add(
                PresetEvent(
                    product_id=prod.id,
                    preset_key=key,
                    action=action,
                    source=source,
                    created_at=_at(days_ago, hour) + timedelta(minutes=i),
                )
            )


def _history(session):
    """followers/starter: today 2a 1c; 3 days ago 5a 2c (cards); 6 days 3a; 7 days 4a 4c; 29 days
    1a; 30 days 6a; 89 days 2a 1c; 90 days 7a (outside every window).
    likes/boost: yesterday 10a 4c (40 % with 10 applies: risky). likes/trial: 2 days ago 9a 5c
    (55 % but only 9 applies: not risky)."""
    seed_with_panel(session, "http://127.0.0.1:9/api/v2")
    followers, likes = product(session, "instagram-followers"), product(session, "instagram-likes")
    _events(session, followers, "starter", 0, 2, 1)
    _events(session, followers, "starter", 3, 5, 2, source="marketing_card")
    _events(session, followers, "starter", 6, 3)
    _events(session, followers, "starter", 7, 4, 4)
    _events(session, followers, "starter", 29, 1)
    _events(session, followers, "starter", 30, 6)
    _events(session, followers, "starter", 89, 2, 1)
    _events(session, followers, "starter", 90, 7)
    _events(session, likes, "boost", 1, 10, 4)
    _events(session, likes, "trial", 2, 9, 5)
    session.commit()
    return followers, likes


def _windows(report) -> dict[str, dict[int, tuple[int, int, float | None, int]]]:
    return {
        p.preset_key: {n: (w.applies, w.clears, w.clear_rate, w.net) for n, w in p.windows.items()}
        for p in report.presets
    }


EXPECTED_WINDOWS = {
    "starter": {7: (10, 3, 30.0, 7), 30: (15, 7, 46.7, 8), 90: (23, 8, 34.8, 15)},
    "boost": {7: (10, 4, 40.0, 6), 30: (10, 4, 40.0, 6), 90: (10, 4, 40.0, 6)},
    "trial": {7: (9, 5, 55.6, 4), 30: (9, 5, 55.6, 4), 90: (9, 5, 55.6, 4)},
}


def _check_report(report) -> None:
    assert _windows(report) == EXPECTED_WINDOWS
    assert [p.preset_key for p in report.risky] == ["boost"]
    starter = next(p for p in report.presets if p.preset_key == "starter")
    assert starter.by_source == {"configurator": 18, "marketing_card": 5}
    series = {s["day"]: s for s in report.series}
    assert len(report.series) == 30 and report.series[-1]["day"] == TODAY.isoformat()
    # today: days 0..6 hold 2+10+9+5+3 = 29 applies and 1+4+5+2 = 12 clears
    assert series[TODAY.isoformat()] == {
        "day": TODAY.isoformat(),
        "applies": 2,
        "clears": 1,
        "applies_avg": round(29 / 7, 2),
        "clears_avg": round(12 / 7, 2),
    }
    # yesterday: days 1..7 hold 10+9+5+3+4 = 31 applies, 4+5+2+4 = 15 clears
    yesterday = series[(TODAY - timedelta(days=1)).isoformat()]
    assert (yesterday["applies"], yesterday["applies_avg"], yesterday["clears_avg"]) == (10, 4.43, 2.14)
    # the first day of the chart (29 days ago): days 29..35 hold 1 + 6 applies
    first = report.series[0]
    assert (first["day"], first["applies"], first["applies_avg"], first["clears_avg"]) == (
        (TODAY - timedelta(days=29)).isoformat(),
        1,
        1.0,
        0.0,
    )


def _metrics(session) -> dict[tuple, tuple[int, int]]:
    rows = session.execute(
        select(
            PresetDailyMetric.day,
            PresetDailyMetric.preset_key,
            PresetDailyMetric.source,
            PresetDailyMetric.applies,
            PresetDailyMetric.clears,
        )
    ).all()
    return {(merch_analytics._as_day(d), k, s): (a, c) for d, k, s, a, c in rows}


def test_rollup_windows_and_rolling_averages_on_a_constructed_history(session) -> None:
    _history(session)
    # nothing rolled up yet: everything is read live, with the same numbers
    _check_report(merch_analytics.preset_report(session, NOW))
    counts = merch_analytics.rollup(session, NOW)
    session.commit()
    # the first run rolls every finished day from the oldest event (90 days ago) to yesterday
    assert counts == {"days": 90, "rows": 9, "replaced": 0, "pruned": 0}
    metrics = _metrics(session)
    assert metrics[(TODAY - timedelta(days=3), "starter", "marketing_card")] == (5, 2)
    assert metrics[(TODAY - timedelta(days=90), "starter", "configurator")] == (7, 0)
    assert not any(day == TODAY for day, _, _ in metrics)  # today stays live
    _check_report(merch_analytics.preset_report(session, NOW))

    # a re-run replaces yesterday only: same rows, same numbers
    again = merch_analytics.rollup(session, NOW)
    session.commit()
    assert again == {"days": 1, "rows": 1, "replaced": 1, "pruned": 0}
    assert _metrics(session) == metrics
    # an event of yesterday that arrived late is picked up by the next re-run
    likes = product(session, "instagram-likes")
    _events(session, likes, "boost", 1, 1, hour=23)
    session.commit()
    merch_analytics.rollup(session, NOW)
    session.commit()
    assert _metrics(session)[(TODAY - timedelta(days=1), "boost", "configurator")] == (11, 4)

    # the next day: only the day before it (today, now finished) is rolled, yesterday is not touched twice
    tomorrow = merch_analytics.rollup(session, NOW + timedelta(days=1))
    session.commit()
    assert tomorrow == {"days": 1, "rows": 1, "replaced": 0, "pruned": 0}
    assert _metrics(session)[(TODAY, "starter", "configurator")] == (2, 1)


def test_prune_keeps_the_numbers_in_the_roll_ups(session) -> None:
    _history(session)
    settings = Settings(merch_preset_event_retention_days=30, _env_file=None)
    counts = merch_analytics.rollup(session, NOW, settings)
    session.commit()
    # events before the start of the day 30 days ago: 89 days (2 + 1) and 90 days (7) ago
    assert counts["pruned"] == 10
    assert session.execute(select(func.count()).select_from(PresetEvent)).scalar_one() == 66 - 10
    _check_report(merch_analytics.preset_report(session, NOW, settings))


def test_the_rollup_job_records_its_run(db_url) -> None:
    from jobs.definitions import run_job

    with session_scope() as db:
        _history(db)
    run = run_job("merch_rollup")
    assert run.outcome == "succeeded", run.counts
    assert run.counts["rows"] >= 9
    with session_scope() as db:
        assert db.execute(select(func.count()).select_from(PresetDailyMetric)).scalar_one() == run.counts["rows"]


@pytest.mark.parametrize(
    ("applies", "clears", "risky"),
    [
        pytest.param(9, 9, False, id="9-applies-too-few"),
        pytest.param(10, 4, True, id="10-applies-40-percent"),
        pytest.param(10, 3, False, id="10-applies-30-percent"),
        pytest.param(100, 39, False, id="39-percent"),
        pytest.param(100, 40, True, id="40-percent"),
    ],
)
def test_the_risky_rule_at_its_thresholds(applies, clears, risky) -> None:
    assert merch_analytics.is_risky(applies, clears, Settings(_env_file=None)) is risky


def test_risky_presets_from_events_at_the_thresholds(session) -> None:
    seed_with_panel(session, "http://127.0.0.1:9/api/v2")
    followers = product(session, "instagram-followers")
    _events(session, followers, "nine", 1, 9, 9)  # 9 applies: not judged
    _events(session, followers, "ten", 1, 10, 4)  # 10 applies, 40 %: risky
    _events(session, followers, "rate39", 1, 100, 39)  # 39 %: not risky
    _events(session, followers, "old", 7, 10, 10)  # 8 days ago: outside the 7-day window
    session.commit()
    assert [p.preset_key for p in merch_analytics.risky_presets(session, NOW)] == ["ten"]


def test_a_risky_preset_is_alerted_once_per_day(session, tmp_path, monkeypatch) -> None:
    _history(session)
    with SmtpSink("127.0.0.1", 0, tmp_path / "mailbox") as smtp:
        monkeypatch.setenv("SMPLAT_ENV", "dev")
        monkeypatch.setenv("SMPLAT_ALERT_EMAIL_TO", "ops@example.test")
        monkeypatch.setenv("SMPLAT_ALERT_WEBHOOK_URL", "off")
        monkeypatch.setenv("SMPLAT_SMTP_PORT", str(smtp.port))
        monkeypatch.setenv("SMPLAT_SMTP_STARTTLS", "false")
        reset_settings_cache()
        first = alerts.run_alerts(session_scope, NOW)
        later = alerts.run_alerts(session_scope, NOW + timedelta(hours=3))  # past alert_repeat_minutes
        next_day = alerts.run_alerts(session_scope, NOW + timedelta(days=1))
    reset_settings_cache()
    assert (first["sent"], first["emailed"]) == (1, 1)
    assert later["sent"] == 0 and later["raised"] == 1
    assert next_day["sent"] == 1
    mails = list_messages(tmp_path / "mailbox")
    assert len(mails) == 2
    assert "Preset boost of" in mails[0].subject and "cleared 4 times after 10 applies" in mails[0].subject
    with session_scope() as db:
        [notice] = db.execute(select(AlertNotice).where(AlertNotice.kind == "risky_preset")).scalars().all()
        assert notice.subject.endswith(":boost") and notice.times_raised == 3


def _line(session, order, prod, days_ago, preset, add_ons, providers=()):
    item = OrderItem(
        order_id=order.id,
        product_id=prod.id,
        product_title=prod.title,
        status="processing",
        snapshot={"product": {"id": prod.id, "title": prod.title}, "preset": preset, "add_ons": list(add_ons)},
        created_at=NOW - timedelta(days=days_ago),
    )
    session.add(item)
    session.flush()
    for n, (provider, service) in enumerate(providers):
        task = FulfillmentTask(order_item_id=item.id, idempotency_key=f"adopt-{item.id}-{n}")
        session.add(task)
        session.flush()
        session.add(
            ProviderOrder(
                fulfillment_task_id=task.id,
                order_item_id=item.id,
                provider_id=provider.id,
                provider_service_id=service.id,
                submission_key=f"adopt-{item.id}-{n}",
            )
        )
    session.flush()


def _orders(session):
    """Lines in the last 30 days: (1) followers, starter, priority, at panel A; (2) followers,
    starter, priority + refill, at A then re-routed to B; (3) likes, nothing; (4) likes
    (partially refunded), boost, refill, at A. Not counted: an unpaid starter line; a starter
    line 40 days ago (counted over 90 days)."""
    a = seed_with_panel(session, "http://127.0.0.1:9/api/v2")
    b = Provider(name="Panel B", slug="panel-b", base_url="http://127.0.0.1:9/b")
    session.add(b)
    session.flush()
    service_a = ProviderService(provider_id=a.id, external_service_id="sa", name="a", rate_per_1000=Decimal(1))
    service_b = ProviderService(provider_id=b.id, external_service_id="sb", name="b", rate_per_1000=Decimal(1))
    session.add_all([service_a, service_b])
    followers, likes = product(session, "instagram-followers"), product(session, "instagram-likes")
    paid = Order(status="processing", payment_status="paid", customer_email="p@example.test")
    refunded = Order(status="processing", payment_status="partially_refunded", customer_email="r@example.test")
    unpaid = Order(status="pending", payment_status="unpaid", customer_email="u@example.test")
    session.add_all([paid, refunded, unpaid])
    session.flush()
    _line(session, paid, followers, 1, "starter", ["priority"], [(a, service_a)])
    _line(session, paid, followers, 2, "starter", ["priority", "refill"], [(a, service_a), (b, service_b)])
    _line(session, paid, likes, 3, None, [])
    _line(session, refunded, likes, 10, "boost", ["refill"], [(a, service_a)])
    _line(session, unpaid, followers, 1, "starter", ["priority"])
    _line(session, paid, followers, 40, "starter", [])
    session.commit()
    return a, b, followers, likes


def test_blueprint_adoption_on_constructed_orders(session, count_queries) -> None:
    a, _b, followers, likes = _orders(session)
    with count_queries(session) as q:
        total, rows = merch_analytics.adoption(session, NOW, 30)
    assert q.count == 2
    assert total == 4
    got = {(r.kind, r.name, r.product): (r.lines, r.share, r.per_day, r.per_30_days) for r in rows}
    assert got == {
        ("preset", "starter", followers.title): (2, 50.0, 0.07, 2.0),
        ("preset", "boost", likes.title): (1, 25.0, 0.03, 1.0),
        ("add_on", "priority", followers.title): (2, 50.0, 0.07, 2.0),
        ("add_on", "refill", followers.title): (1, 25.0, 0.03, 1.0),
        ("add_on", "refill", likes.title): (1, 25.0, 0.03, 1.0),
        ("provider", a.name, ""): (2, 50.0, 0.07, 2.0),
        ("provider", "Panel B", ""): (1, 25.0, 0.03, 1.0),
    }
    total90, rows90 = merch_analytics.adoption(session, NOW, 90)
    starter = next(r for r in rows90 if r.name == "starter")
    assert (total90, starter.lines, starter.share, starter.per_day, starter.per_30_days) == (5, 3, 60.0, 0.03, 1.0)
    total7, rows7 = merch_analytics.adoption(session, NOW, 7)
    assert total7 == 3 and not any(r.name == "boost" for r in rows7)


async def test_the_page_reads_a_fixed_number_of_statements(
    db_url, root_state, session_cookie_for, count_queries, monkeypatch
) -> None:
    monkeypatch.setattr(merchandising, "utcnow", lambda: NOW)
    with session_scope() as db:
        _history(db)
        merch_analytics.rollup(db, NOW)
    state = await root_state(MerchandisingState, routes.ADMIN_MERCHANDISING, cookie=session_cookie_for(Role.OPERATOR))
    with count_queries(db_url) as small:
        state.load_merchandising()
    assert state.loaded and state.kpis["risky"] == "1" and state.kpis["presets"] == "3"
    assert state.presets[0]["preset"] == "boost" and state.presets[0]["risky"] == "risky"
    assert state.presets[0]["rate_7"] == "40.0 %" and state.presets[0]["net_7"] == "+6"
    assert [t.name for t in state.chart.data] == [
        "Applies",
        "Clears",
        "Applies, 7-day average",
        "Clears, 7-day average",
    ]
    assert list(state.chart.data[2].y)[-1] == round(29 / 7, 2)
    # more presets (today's, read live) and more orders: the same number of statements
    with session_scope() as db:
        _, _, followers, _ = _orders(db)
        for n in range(14):
            _events(db, followers, f"p{n}", 0, 2, 1)
    with count_queries(db_url) as large:
        state.load_merchandising()
    assert len(state.presets) == 3 + 14 and len(state.adoption) == 7
    assert state.adoption[0] == {
        "kind": "Preset",
        "name": "starter",
        "product": followers.title,
        "lines": "2",
        "share": "50.0 %",
        "per_day": "0.07",
        "per_30": "2.0",
    }
    assert large.count == small.count, large
    merch = [s for s in large.statements if "preset_" in s or "order_items" in s]
    assert len(merch) == 6, large  # the report's five and the live version (services.live)


async def test_a_customer_gets_nothing(sqlite_url, root_state, session_cookie_for) -> None:
    state = await root_state(MerchandisingState, routes.ADMIN_MERCHANDISING, cookie=session_cookie_for(Role.CUSTOMER))
    state.load_merchandising()
    assert state.loaded is False and state.presets == []
