"""Admin analytics on a constructed history: every number hand-computed, statements counted.
Each case runs twice: read live from the raw tables (no roll-up yet), and after the
`dashboard_rollup` job rolled the closed days up (roll-ups for those, raw for today and the
window's partial first day): the numbers are the same.

The history (EUR unless said; now = 2026-11-20 12:00 UTC; this period = the last 7 days):
  this period   O1 11-14 10:00 charged 1000            line A 1000 (1000 units)
                O2 11-14 15:00 charged 3000, refunded 500  line A 1000 (1000 units), line B 2000 (500 units)
                O3 11-19 09:00 charged 2000            line B 2000 (500 units)
                O4 11-18 unpaid (charged 0)            line A 5000     -> not counted
                O5 11-18 USD charged 9999              -> another currency, not counted
  previous      P1 11-10 00:00 charged 2000            line A 2000
                P2 11-12 charged 1000, refunded 1000
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from smplat.models.analytics import DailyCounter
from smplat.models.carts import Cart
from smplat.models.checkout import CheckoutSession
from smplat.models.fulfillment import FulfillmentAttempt, FulfillmentTask
from smplat.models.orders import Order, OrderItem
from smplat.models.payments import Payment, WebhookEvent
from smplat.models.providers import Provider, ProviderOrder, ProviderService
from smplat.services import analytics, rollups
from tests.fulfillment_factory import product, seed_with_panel

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def at(month_day: str, hour: int = 0, minute: int = 0) -> datetime:
    month, day = (int(x) for x in month_day.split("-"))
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture(params=["live", "rolled"])
def history(request, session):
    seed_with_panel(session, "http://127.0.0.1:9/api/v2")
    a, b = product(session, "instagram-followers"), product(session, "instagram-likes")
    fast = Provider(name="Fast", slug="fast", base_url="http://127.0.0.1:1/api/v2")
    slow = Provider(name="Slow", slug="slow", base_url="http://127.0.0.1:2/api/v2")
    session.add_all([fast, slow])
    session.flush()
    fast_svc = ProviderService(provider_id=fast.id, external_service_id="1", name="f", rate_per_1000=Decimal("9"))
    slow_svc = ProviderService(provider_id=slow.id, external_service_id="1", name="s", rate_per_1000=Decimal("3"))
    slow_svc_b = ProviderService(provider_id=slow.id, external_service_id="2", name="s2", rate_per_1000=Decimal("4"))
    session.add_all([fast_svc, slow_svc, slow_svc_b])

    def order(when, charged, refunded=0, currency="EUR"):
        o = Order(
            status="processing",
            payment_status="paid" if charged else "unpaid",
            charged_minor=charged,
            total_minor=charged,
            refunded_minor=refunded,
            currency=currency,
            created_at=when,
            placed_at=when,
        )
        session.add(o)
        session.flush()
        return o

    def line(o, prod, total, units, status="processing"):
        item = OrderItem(
            order_id=o.id,
            product_id=prod.id,
            product_title=prod.title,
            total_minor=total,
            service_quantity=units,
            status=status,
            created_at=o.created_at,
        )
        session.add(item)
        session.flush()
        return item

    tasks = iter(range(1000))

    def po(item, provider, service, qty, status, charge=None, completed=None, external=True):
        task = FulfillmentTask(order_item_id=item.id, idempotency_key=f"t{next(tasks)}", status="completed")
        session.add(task)
        session.flush()
        row = ProviderOrder(
            fulfillment_task_id=task.id,
            order_item_id=item.id,
            provider_id=provider.id,
            provider_service_id=service.id,
            submission_key=f"k{task.id}",
            external_order_id=f"x{task.id}" if external else None,
            quantity=qty,
            status=status,
            charge=charge,
            completed_at=completed,
            created_at=item.created_at,
        )
        session.add(row)
        session.flush()
        return task

    o1 = order(at("11-14", 10), 1000)
    o2 = order(at("11-14", 15), 3000, 500)
    o3 = order(at("11-19", 9), 2000)
    o4 = order(at("11-18"), 0)
    o5 = order(at("11-18"), 9999, currency="USD")
    p1 = order(at("11-10"), 2000)
    p2 = order(at("11-12"), 1000, 1000)
    o1a = line(o1, a, 1000, 1000, "completed")
    o2a = line(o2, a, 1000, 1000)
    o2b = line(o2, b, 2000, 500, "completed")
    o3b = line(o3, b, 2000, 500, "completed")
    line(o4, a, 5000, 1000)
    line(o5, a, 9999, 1000)
    p1a = line(p1, a, 2000, 2000, "completed")
    line(p2, b, 1000, 500)
    t1 = po(o1a, fast, fast_svc, 1000, "completed", Decimal("2.50"), at("11-14", 12, 30))
    t2 = po(o2a, slow, slow_svc, 1000, "in_progress")
    po(o2b, fast, fast_svc, 300, "partial", Decimal("1.20"), at("11-14", 16))
    po(o2b, slow, slow_svc_b, 200, "completed", None, at("11-14", 19))
    po(o3b, fast, fast_svc, 500, "canceled")
    po(o3b, slow, slow_svc, 500, "completed", Decimal("2.00"), at("11-19", 10))
    po(p1a, fast, fast_svc, 2000, "completed", Decimal("5"), at("11-10", 1))
    po(o2a, fast, fast_svc, 1000, "failed", external=False)

    def attempt(task, provider, outcome, when):
        session.add(
            FulfillmentAttempt(
                task_id=task.id, provider_id=provider.id, task_kind="submit", outcome=outcome, created_at=when
            )
        )

    for outcome in ("succeeded", "succeeded", "retried"):
        attempt(t1, fast, outcome, at("11-15"))
    for outcome in ("dead_lettered", "succeeded", "waited"):
        attempt(t2, slow, outcome, at("11-16"))
    attempt(t1, fast, "retried", at("11-01"))  # before the window

    session.add_all(
        [
            DailyCounter(day=date(2026, 11, 14), name="visits", value=5),  # the window's first day
            DailyCounter(day=date(2026, 11, 19), name="visits", value=7),
            DailyCounter(day=date(2026, 11, 13), name="visits", value=100),  # the day before it
            DailyCounter(day=date(2026, 11, 14), name="product_views", value=6),
            *[Cart(created_at=at("11-15")) for _ in range(4)],
            Cart(created_at=at("11-01")),
            *[CheckoutSession(created_at=at("11-16")) for _ in range(3)],
            Payment(order_id=o1.id, kind="charge", status="succeeded", amount_minor=1000, created_at=at("11-14")),
            Payment(order_id=o2.id, kind="charge", status="succeeded", amount_minor=3000, created_at=at("11-14")),
            Payment(order_id=o3.id, kind="charge", status="succeeded", amount_minor=2000, created_at=at("11-19")),
            Payment(order_id=o2.id, kind="refund", status="succeeded", amount_minor=500, created_at=at("11-15")),
            Payment(order_id=o4.id, kind="charge", status="failed", amount_minor=700, created_at=at("11-18")),
            Payment(order_id=p1.id, kind="charge", status="succeeded", amount_minor=2000, created_at=at("11-10")),
            WebhookEvent(
                external_id="e1", event_type="checkout.session.completed", status="processed", received_at=at("11-14")
            ),
            WebhookEvent(
                external_id="e2", event_type="checkout.session.completed", status="processed", received_at=at("11-19")
            ),
            WebhookEvent(external_id="e3", event_type="charge.refunded", status="failed", received_at=at("11-15")),
        ]
    )
    session.commit()
    if request.param == "rolled":
        # 11-01 (the first attempt and cart) to today (11-20, up to a few minutes ago)
        assert rollups.rollup(session, NOW)["days"] == 20
        session.commit()
    return {"a": a, "b": b}


def test_revenue_orders_and_period_comparison(session, history, count_queries):
    rolled = rollups.rolled_days(session)
    with count_queries(session) as q:
        result = analytics.comparison(session, NOW, 7, rolled=rolled)
    assert q.count == 1
    assert analytics.comparison(session, NOW, 7) == result  # looks the rolled days up itself
    assert result["current"] == analytics.Totals(revenue_minor=5500, orders=3, aov_minor=1833)
    assert result["previous"] == analytics.Totals(revenue_minor=2000, orders=2, aov_minor=1000)
    assert (result["revenue_change"], result["orders_change"], result["aov_change"]) == (175.0, 50.0, 83.3)


def test_daily_series_fills_every_day(session, history, count_queries):
    rolled = rollups.rolled_days(session)
    with count_queries(session) as q:
        series = analytics.daily_series(session, *analytics.window(NOW, 7), rolled=rolled)
    assert q.count == 1
    # the last 7 calendar days: 14 to 20 November (today so far)
    assert [s["day"] for s in series] == [f"2026-11-{d}" for d in range(14, 21)]
    assert {s["day"]: (s["orders"], s["revenue_minor"]) for s in series if s["orders"]} == {
        "2026-11-14": (2, 3500),
        "2026-11-19": (1, 2000),
    }


def test_conversion_funnel(session, history, count_queries):
    with count_queries(session) as q:
        stages = analytics.funnel(session, *analytics.window(NOW, 7))
    # the rolled days; then daily counters, carts and checkouts, paid orders (one round trip on
    # PostgreSQL)
    assert q.count == (2 if session.get_bind().dialect.name == "postgresql" else 4)
    assert stages == [("Visits", 12), ("Product views", 6), ("Carts", 4), ("Checkouts", 3), ("Paid orders", 3)]


def test_margin_by_service_and_by_provider(session, history, count_queries):
    rolled = rollups.rolled_days(session)
    with count_queries(session) as q:
        by_service, by_provider = analytics.margins(session, *analytics.window(NOW, 7), rolled=rolled)
    assert q.count == (1 if session.get_bind().dialect.name == "postgresql" else 2)  # revenue, costs
    a, b = history["a"].title, history["b"].title
    # A: revenue 1000 + 1000; cost 2.50 (charged) + 3.00 (rate 3/1000 x 1000, not yet charged)
    # B: revenue 2000 + 2000; cost 1.20 + 0.80 (rate 4/1000 x 200) + 2.00; the canceled order costs nothing
    assert [
        (r["service"], r["revenue_minor"], r["cost_minor"], r["margin_minor"], r["margin_percent"]) for r in by_service
    ] == [
        (b, 4000, 400, 3600, 90.0),
        (a, 2000, 550, 1450, 72.5),
    ]
    # fast: 1000 (O1 A) + 2000 x 300/500 (O2 B) = 2200, cost 2.50 + 1.20
    # slow: 1000 (O2 A) + 2000 x 200/500 + 2000 (O3 B) = 3800, cost 3.00 + 0.80 + 2.00
    assert [
        (r["provider"], r["revenue_minor"], r["cost_minor"], r["margin_minor"], r["margin_percent"])
        for r in by_provider
    ] == [
        ("slow", 3800, 580, 3220, 84.7),
        ("fast", 2200, 370, 1830, 83.2),
    ]


def test_average_completion_time_over_the_last_completed_lines(session, history, count_queries):
    a, b = history["a"].id, history["b"].id
    with count_queries(session) as q:
        averages = analytics.completion_seconds(session)
    assert q.count == 1
    # A: 2 h 30 min (O1) and 1 h (P1); B: 4 h to the last provider order (O2) and 1 h (O3)
    assert averages == {a: 6300, b: 9000}
    assert analytics.completion_seconds(session, [a, b], sample=1) == {a: 9000, b: 3600}
    assert analytics.average_time_label(session, a) == "1 hour 45 minutes"
    assert analytics.average_time_label(session, 999_999) == ""


def test_average_completion_time_of_the_period(session, history, count_queries):
    a, b = history["a"].id, history["b"].id
    rolled = rollups.rolled_days(session)
    with count_queries(session) as q:
        week = analytics.completion_by_service(session, *analytics.window(NOW, 7), rolled=rolled)
    assert q.count == 1
    # the week's completed lines: A 2 h 30 min (O1); B 4 h (O2) and 1 h (O3); O2's A is not done
    assert week == {a: 9000, b: 9000}
    # 30 days add P1 (A, 1 h)
    assert analytics.completion_by_service(session, *analytics.window(NOW, 30)) == {a: 6300, b: 9000}


def test_provider_activity_and_share(session, history, count_queries):
    rolled = rollups.rolled_days(session)
    with count_queries(session) as q:
        rows = analytics.provider_activity(session, *analytics.window(NOW, 7), rolled=rolled)
    assert q.count == 1
    assert rows == [
        {"provider": "fast", "succeeded": 2, "failed": 1, "other": 0, "orders": 3, "share": 50.0},
        {"provider": "slow", "succeeded": 1, "failed": 1, "other": 1, "orders": 3, "share": 50.0},
    ]


def test_payment_and_webhook_outcomes(session, history, count_queries):
    rolled = rollups.rolled_days(session)
    with count_queries(session) as q:
        outcomes = analytics.payment_outcomes(session, *analytics.window(NOW, 7), rolled=rolled)
    assert q.count == 1
    assert outcomes["payments"] == [
        {"kind": "charge", "status": "failed", "count": 1, "amount_minor": 700},
        {"kind": "charge", "status": "succeeded", "count": 3, "amount_minor": 6000},
        {"kind": "refund", "status": "succeeded", "count": 1, "amount_minor": 500},
    ]
    assert outcomes["webhooks"] == [
        {"type": "charge.refunded", "status": "failed", "count": 1},
        {"type": "checkout.session.completed", "status": "processed", "count": 2},
    ]


def test_live_version_moves_with_a_new_order_and_daily_counts_add_up(session, history, count_queries):
    with count_queries(session) as q:
        before = analytics.live_version(session)
    assert q.count == 1
    assert analytics.live_version(session) == before
    session.add(Order(charged_minor=100, payment_status="paid"))
    session.commit()
    assert analytics.live_version(session) != before
    with count_queries(session) as q:
        analytics.record_daily(session, "visits", now=NOW)
        analytics.record_daily(session, "visits", "product_views", now=NOW, by=2)
    assert q.count == 2
    session.commit()
    assert analytics.funnel(session, NOW - timedelta(hours=1), NOW + timedelta(hours=1))[:2] == [
        ("Visits", 3),
        ("Product views", 2),
    ]


def test_duration_labels():
    assert [analytics.duration_label(s) for s in (20, 2700, 3600, 6300, 90000, 86400 * 2)] == [
        "1 minute",
        "45 minutes",
        "1 hour",
        "1 hour 45 minutes",
        "1 day 1 hour",
        "2 days",
    ]
