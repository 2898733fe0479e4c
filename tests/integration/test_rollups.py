"""The dashboard roll-ups (smplat/services/rollups.py, the `dashboard_rollup` job) on constructed
histories: the rows of each day hand-computed, two currencies, refunds, a late refund landing
when its day is re-rolled, an idempotent re-run; and the dashboard's figures (Analytics, the
admin home, the all-time overview) equal to the raw computation before and after the roll-up.

The small history (now = 2026-03-10 12:00 UTC, the sandbox provider "P"):
  03-01 10:00  E1 EUR charged 1000            line A 1000 (1000 units), P charged 2.50, done 12:30
  03-01 11:00  E2 EUR charged 2000, refunded 500   line A 2000 (2000 units), processing
  03-01 12:00  U1 USD charged 3000            line B 3000
  03-01 13:00  E3 EUR unpaid                  line A 900  -> an order, not a paid one
  03-02 09:00  E4 EUR charged 4000            line B 4000
  03-10 08:00  E5 EUR charged 700             line B 700  -> today: rolled up to 5 minutes ago
  payments on 03-01: a charge of 1000 (succeeded), a refund of 500 (succeeded); one webhook;
  two carts on 03-01, one checkout session on 03-02; P's call on 03-01 succeeded.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from smplat.db import session_scope
from smplat.models.carts import Cart
from smplat.models.checkout import CheckoutSession
from smplat.models.fulfillment import FulfillmentAttempt, FulfillmentTask
from smplat.models.orders import Order, OrderItem
from smplat.models.payments import Payment, WebhookEvent
from smplat.models.providers import Provider, ProviderOrder, ProviderService
from smplat.models.rollups import DailyPaymentStats, DailyProviderStats, DailyRollup, DailySales, DailyServiceStats
from smplat.services import admin_orders, analytics, dashboard, rollups
from smplat.settings import Settings
from tests.fulfillment_factory import product, seed_with_panel

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
MARCH_1, MARCH_2, TODAY = date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 10)


def at(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


class Shop:
    """Orders, lines and provider orders written straight into the tables."""

    def __init__(self, session):
        self.session = session
        seed_with_panel(session, "http://127.0.0.1:9/api/v2")
        self.a, self.b = product(session, "instagram-followers"), product(session, "instagram-likes")
        self.provider = session.execute(select(Provider)).scalars().first()
        self.service = ProviderService(
            provider_id=self.provider.id, external_service_id="x1", name="s", rate_per_1000=Decimal("3")
        )
        session.add(self.service)
        session.flush()
        self.tasks = 0

    def order(self, when, charged, refunded=0, currency="EUR"):
        o = Order(
            status="processing",
            payment_status="paid" if charged else "unpaid",
            currency=currency,
            total_minor=charged,
            charged_minor=charged,
            refunded_minor=refunded,
            created_at=when,
            placed_at=when,
        )
        self.session.add(o)
        self.session.flush()
        return o

    def line(self, o, prod, total, units=1000, status="processing"):
        item = OrderItem(
            order_id=o.id,
            product_id=prod.id,
            product_title=prod.title,
            total_minor=total,
            service_quantity=units,
            currency=o.currency,
            status=status,
            snapshot={},
            created_at=o.created_at,
        )
        self.session.add(item)
        self.session.flush()
        return item

    def provider_order(self, item, qty, status, charge=None, completed=None):
        self.tasks += 1
        task = FulfillmentTask(order_item_id=item.id, idempotency_key=f"r{self.tasks}", status="completed")
        self.session.add(task)
        self.session.flush()
        self.session.add(
            ProviderOrder(
                fulfillment_task_id=task.id,
                order_item_id=item.id,
                provider_id=self.provider.id,
                provider_service_id=self.service.id,
                submission_key=f"r{task.id}",
                external_order_id=f"x{task.id}",
                quantity=qty,
                status=status,
                charge=charge,
                completed_at=completed,
                created_at=item.created_at,
            )
        )
        self.session.flush()
        return task


@pytest.fixture
def small(session):
    shop = Shop(session)
    e1 = shop.order(at(1, 10), 1000)
    e2 = shop.order(at(1, 11), 2000, 500)
    u1 = shop.order(at(1, 12), 3000, currency="USD")
    e3 = shop.order(at(1, 13), 0)
    e4 = shop.order(at(2, 9), 4000)
    e5 = shop.order(at(10, 8), 700)
    task = shop.provider_order(
        shop.line(e1, shop.a, 1000, status="completed"), 1000, "completed", Decimal("2.50"), at(1, 12, 30)
    )
    shop.line(e2, shop.a, 2000, units=2000)
    shop.line(u1, shop.b, 3000)
    shop.line(e3, shop.a, 900)
    shop.line(e4, shop.b, 4000)
    shop.line(e5, shop.b, 700)
    session.add_all(
        [
            FulfillmentAttempt(
                task_id=task.id,
                provider_id=shop.provider.id,
                task_kind="submit",
                outcome="succeeded",
                created_at=at(1, 10),
            ),
            Payment(order_id=e1.id, kind="charge", status="succeeded", amount_minor=1000, created_at=at(1, 10)),
            Payment(order_id=e2.id, kind="refund", status="succeeded", amount_minor=500, created_at=at(1, 15)),
            WebhookEvent(
                external_id="w1", event_type="checkout.session.completed", status="processed", received_at=at(1, 10)
            ),
            Cart(created_at=at(1, 9)),
            Cart(created_at=at(1, 20)),
            CheckoutSession(created_at=at(2, 9)),
        ]
    )
    session.commit()
    return {"shop": shop, "e4": e4}


def _table(session, model, *columns):
    return sorted(tuple(row) for row in session.execute(select(*[getattr(model, c) for c in columns])).all())


def _everything(session):
    return (
        _table(session, DailyRollup, "day", "carts", "checkouts"),
        _table(session, DailySales, "day", "currency", "orders", "paid_orders", "charged_minor", "refunded_minor"),
        sorted(
            (d, cur, p or 0, v or 0, t, r, Decimal(c), Decimal(s), n, Decimal(sec))
            for d, cur, p, v, t, r, c, s, n, sec in session.execute(
                select(
                    DailyServiceStats.day,
                    DailyServiceStats.currency,
                    DailyServiceStats.product_id,
                    DailyServiceStats.provider_id,
                    DailyServiceStats.product_title,
                    DailyServiceStats.revenue_minor,
                    DailyServiceStats.cost,
                    DailyServiceStats.revenue_share,
                    DailyServiceStats.completed_lines,
                    DailyServiceStats.completion_seconds,
                )
            ).all()
        ),
        _table(session, DailyProviderStats, "day", "provider_id", "succeeded", "failed", "other", "placed"),
        _table(session, DailyPaymentStats, "day", "source", "kind", "status", "count", "amount_minor"),
    )


def test_the_rows_of_each_day_two_currencies_and_refunds(session, small, count_queries):
    shop = small["shop"]
    assert rollups.rolled_days(session) == rollups.Rolled()
    counts = rollups.rollup(session, NOW)
    session.commit()
    # the first day anything happened (03-01) to today (03-10) up to 11:55
    assert counts["days"] == 10
    rolled = rollups.rolled_days(session)
    assert rolled == rollups.Rolled(MARCH_1, TODAY, NOW - rollups.SETTLE, rolled.generation)
    assert len(rolled.generation) == 32  # the run's random stamp, on every rolled day
    days, sales, services, providers, payments = _everything(session)
    assert days == [(MARCH_1, 2, 0), (MARCH_2, 0, 1)] + [(date(2026, 3, d), 0, 0) for d in range(3, 11)]
    assert sales == [
        (MARCH_1, "EUR", 3, 2, 3000, 500),  # E1, E2 paid; E3 unpaid counts as an order only
        (MARCH_1, "USD", 1, 1, 3000, 0),
        (MARCH_2, "EUR", 1, 1, 4000, 0),
        (TODAY, "EUR", 1, 1, 700, 0),
    ]
    a, b, p = shop.a.id, shop.b.id, shop.provider.id
    zero = Decimal(0)
    assert services == sorted(
        [
            # A's paid lines on 03-01: 1000 + 2000 (E3 is unpaid); E1's line completed in 2 h 30 min
            (MARCH_1, "EUR", a, 0, shop.a.title, 3000, zero, zero, 1, Decimal(9000)),
            # P's part of A: charged 2.50, asked for all of E1's line (1000 of 1000 units)
            (MARCH_1, "EUR", a, p, "", 0, Decimal("2.5"), Decimal(1000), 0, zero),
            (MARCH_1, "USD", b, 0, shop.b.title, 3000, zero, zero, 0, zero),
            (MARCH_2, "EUR", b, 0, shop.b.title, 4000, zero, zero, 0, zero),
            (TODAY, "EUR", b, 0, shop.b.title, 700, zero, zero, 0, zero),
        ]
    )
    assert providers == [(MARCH_1, p, 1, 0, 0, 1)]
    assert payments == [
        (MARCH_1, "payment", "charge", "succeeded", 1, 1000),
        (MARCH_1, "payment", "refund", "succeeded", 1, 500),
        (MARCH_1, "webhook", "checkout.session.completed", "processed", 1, 0),
    ]
    # the dashboard: the roll-ups, then the last minutes of today live, per currency
    shop.order(NOW - timedelta(minutes=1), 300)
    session.commit()
    rolled = rollups.rolled_days(session)
    with count_queries(session) as q:
        eur = analytics.totals(session, NOW - timedelta(days=10), NOW, "EUR", rolled)
    assert q.count == 1
    assert eur == analytics.Totals(revenue_minor=1000 + 1500 + 4000 + 700 + 300, orders=5, aov_minor=1500)
    assert analytics.totals(session, NOW - timedelta(days=10), NOW, "USD") == analytics.Totals(3000, 1, 3000)
    overview = dashboard.overview(session)
    assert (overview.orders_total, overview.revenue) == (7, "€75.00")


def test_a_late_refund_lands_when_its_day_is_re_rolled_and_a_re_run_changes_nothing(session, small):
    rollups.rollup(session, NOW)
    session.commit()
    before = _everything(session)
    # re-running the same day replaces the same rows (and rolls nothing new)
    again = rollups.rollup(session, NOW)
    session.commit()
    assert again["days"] == 10 and again["replaced"] > 0
    assert _everything(session) == before

    # ten days later E4 (03-02) is refunded 1000; the window then starts 03-20 - 20 days
    later = NOW + timedelta(days=10)
    session.execute(update(Order).where(Order.id == small["e4"].id).values(refunded_minor=1000))
    session.commit()
    window = (later - timedelta(days=20), later)
    raw = analytics.totals(session, *window, rolled=rollups.Rolled())  # nothing rolled: all raw
    assert raw.revenue_minor == 1000 + 1500 + 3000 + 700

    # re-rolling the last 10 days only: 03-02 keeps its old sum (the refund is too late for it)
    short = Settings(_env_file=None, dashboard_rollup_reroll_days=10)
    counts = rollups.rollup(session, later, short)
    session.commit()
    assert counts["days"] == 11  # 03-10 (partly rolled) to 03-20
    rerolled = rollups.rolled_days(session)
    assert rerolled == rollups.Rolled(MARCH_1, date(2026, 3, 20), later - rollups.SETTLE, rerolled.generation)
    assert analytics.totals(session, *window).revenue_minor == raw.revenue_minor + 1000
    # 20 days reach back to 03-01: the refund lands
    counts = rollups.rollup(session, later, Settings(_env_file=None, dashboard_rollup_reroll_days=20))
    session.commit()
    assert counts["days"] == 20
    assert (MARCH_2, "EUR", 1, 1, 4000, 1000) in _everything(session)[1]
    assert analytics.totals(session, *window) == raw


def test_the_figures_are_read_from_the_roll_ups_for_rolled_days(session, small):
    rollups.rollup(session, NOW)
    session.commit()
    window = (NOW - timedelta(days=10), NOW)
    before = analytics.totals(session, *window)
    session.execute(
        update(DailySales).where(DailySales.day == MARCH_2, DailySales.currency == "EUR").values(charged_minor=4001)
    )
    session.commit()
    # the rolled part is kept per roll-up run (only a run writes these rows, with a new generation)
    assert analytics.totals(session, *window) == before
    rollups.forget_rolled()
    assert analytics.totals(session, *window).revenue_minor == before.revenue_minor + 1


def test_a_run_s_new_generation_is_read_at_once_and_the_kept_rolled_part_saves_its_read(session, small, count_queries):
    rollups.rollup(session, NOW)
    session.commit()
    window = (rollups.start_of(MARCH_1), rollups.start_of(TODAY))  # whole rolled days only
    first = analytics.totals(session, *window)
    with count_queries(session) as q:
        assert analytics.totals(session, *window) == first
    assert q.count == 1  # the rolled run only: the rolled rows were kept
    generation = rollups.rolled_days(session).generation
    session.execute(
        update(DailySales).where(DailySales.day == MARCH_2, DailySales.currency == "EUR").values(charged_minor=4001)
    )
    rollups.rollup(session, NOW)  # the next run writes its sums again, with a new generation
    session.commit()
    assert rollups.rolled_days(session).generation != generation
    assert analytics.totals(session, *window) == first  # the run's rows, not the kept ones


def test_the_job_is_registered_and_records_its_run(db_url):
    from jobs.definitions import JOBS, run_job

    assert JOBS["dashboard_rollup"].interval_seconds(Settings(_env_file=None)) == 3600
    with session_scope() as db:
        Shop(db).order(datetime.now(UTC) - timedelta(days=3), 1200)
        db.commit()
    run = run_job("dashboard_rollup")
    assert run.outcome == "succeeded", run.counts
    assert run.counts["days"] == 4  # three days ago to today
    with session_scope() as db:
        assert _table(db, DailySales, "orders", "paid_orders", "charged_minor") == [(1, 1, 1200)]


# --- a random history: roll-ups + today == the raw computation -----------------------------------


@pytest.fixture
def busy(session):
    """60 days of random orders in two currencies (some unpaid, some refunded), lines of two
    services with provider orders (some completed, canceled or failed), calls, payments, carts."""
    rng = random.Random(12)
    shop = Shop(session)
    now = datetime(2026, 5, 20, 15, 30, tzinfo=UTC)
    start = now - timedelta(days=60)
    for n in range(400):
        when = start + timedelta(seconds=rng.randrange(int((now - start).total_seconds())))
        charged = rng.choice((0, 500, 1250, 3999, 10000))
        refunded = rng.choice((0, 0, 0, charged // 2, charged)) if charged else 0
        o = shop.order(when, charged, refunded, rng.choice(("EUR", "EUR", "USD")))
        done = rng.random() < 0.6
        item = shop.line(
            o, rng.choice((shop.a, shop.b)), charged, rng.choice((1000, 2000)), "completed" if done else "processing"
        )
        status = "completed" if done else rng.choice(("in_progress", "canceled", "failed"))
        charge = rng.choice((None, Decimal("1.234567")))
        task = shop.provider_order(
            item,
            item.service_quantity,
            status,
            charge,
            when + timedelta(minutes=rng.randrange(1, 3000)) if done else None,
        )
        session.add(
            FulfillmentAttempt(
                task_id=task.id,
                provider_id=shop.provider.id,
                task_kind="submit",
                outcome=rng.choice(("succeeded", "retried", "waited")),
                created_at=when,
            )
        )
        if charged:
            session.add(
                Payment(order_id=o.id, kind="charge", status="succeeded", amount_minor=charged, created_at=when)
            )
        if n % 3 == 0:
            session.add(Cart(created_at=when))
        if n % 4 == 0:
            session.add(CheckoutSession(created_at=when))
    session.commit()
    return now


def _dashboard(session, now):
    figures = analytics.period_figures(session, now, 30, "EUR")
    figures["usd"] = analytics.comparison(session, now, 7, "USD")
    figures["home"] = admin_orders.home(session, now)
    figures["home"].pop("alerts")
    overview = dashboard.overview(session)
    figures["overview"] = (overview.orders_total, overview.revenue)
    return figures


def test_rolled_up_figures_equal_the_raw_computation(session, busy, count_queries):
    now = busy
    raw = _dashboard(session, now)
    assert raw["comparison"]["current"].orders > 20 and raw["by_provider"] and raw["completion"]
    rollups.rollup(session, now)
    session.commit()
    assert rollups.rolled_days(session).last == now.date()
    assert _dashboard(session, now) == raw
    # an order paid after the run counts at once (the rest of today is read live)
    session.add(Order(charged_minor=900, payment_status="paid", created_at=now - timedelta(minutes=2)))
    session.commit()
    window = analytics.window(now, 30)
    assert analytics.totals(session, *window) == analytics.totals(session, *window, rolled=rollups.Rolled())
    assert analytics.totals(session, *window).orders == raw["comparison"]["current"].orders + 1
    # a fixed number of statements however long the history. PostgreSQL: two round trips (the
    # page's version and the rolled run; then every figure at once). SQLite (in-process, one
    # statement each): the version; the rolled run; both periods' sales by day; revenue by
    # service; costs; completion; carts and checkouts; provider activity; payment outcomes;
    # visits and views; titles; the four search insights
    postgres = session.get_bind().dialect.name == "postgresql"
    with count_queries(session) as q:
        analytics.period_figures(session, now, 90, "EUR")
    assert q.count == (2 if postgres else 15)


@pytest.mark.parametrize(
    ("start", "end", "days", "live", "through"),
    [
        # a partial first day, whole rolled days, then today read live
        (
            datetime(2026, 3, 1, 12, tzinfo=UTC),
            datetime(2026, 3, 10, 9, tzinfo=UTC),
            (MARCH_2, date(2026, 3, 9)),
            (
                (datetime(2026, 3, 1, 12, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC)),
                (datetime(2026, 3, 10, tzinfo=UTC), datetime(2026, 3, 10, 9, tzinfo=UTC)),
            ),
            None,
        ),
        # days before the rolled run, and days after it not rolled up yet, are read live
        (
            datetime(2026, 2, 20, tzinfo=UTC),
            datetime(2026, 3, 20, 9, tzinfo=UTC),
            (MARCH_1, date(2026, 3, 9)),
            (
                (datetime(2026, 2, 20, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)),
                (datetime(2026, 3, 10, tzinfo=UTC), datetime(2026, 3, 20, 9, tzinfo=UTC)),
            ),
            None,
        ),
        # today rolled up to 11:55: read from there on live
        (
            datetime(2026, 3, 1, 12, tzinfo=UTC),
            datetime(2026, 3, 10, 12, tzinfo=UTC),
            (MARCH_2, TODAY),
            (
                (datetime(2026, 3, 1, 12, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC)),
                (datetime(2026, 3, 10, 11, 55, tzinfo=UTC), datetime(2026, 3, 10, 12, tzinfo=UTC)),
            ),
            datetime(2026, 3, 10, 11, 55, tzinfo=UTC),
        ),
        # ... unless the window ends before that: its part of today is live
        (
            datetime(2026, 3, 1, 12, tzinfo=UTC),
            datetime(2026, 3, 10, 9, tzinfo=UTC),
            (MARCH_2, date(2026, 3, 9)),
            (
                (datetime(2026, 3, 1, 12, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC)),
                (datetime(2026, 3, 10, tzinfo=UTC), datetime(2026, 3, 10, 9, tzinfo=UTC)),
            ),
            datetime(2026, 3, 10, 11, 55, tzinfo=UTC),
        ),
        # no whole rolled day inside: all live
        (
            datetime(2026, 3, 3, 1, tzinfo=UTC),
            datetime(2026, 3, 3, 23, tzinfo=UTC),
            None,
            ((datetime(2026, 3, 3, 1, tzinfo=UTC), datetime(2026, 3, 3, 23, tzinfo=UTC)),),
            None,
        ),
    ],
)
def test_a_window_splits_into_rolled_days_and_live_ranges(start, end, days, live, through):
    rolled = rollups.Rolled(MARCH_1, TODAY, through) if through else rollups.Rolled(MARCH_1, date(2026, 3, 9))
    found = rollups.split(start, end, rolled)
    assert (found.days, found.live) == (days, live)
    assert rollups.split(start, end, rollups.Rolled()) == rollups.Split(None, ((start, end),))
