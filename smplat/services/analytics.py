"""Admin analytics: revenue and orders over time with period comparison, the conversion funnel,
fulfilment per provider, margins by service and provider, average completion time per service,
payment and webhook outcomes; and the cheap "did anything change" version a live page ticks on.

Every aggregate is a GROUP BY in the database (a fixed number of statements however many rows,
checked by tests with counted statements). Whole days the `dashboard_rollup` job has rolled up
are read from the daily roll-ups, the rest of a window (today so far, days not rolled up yet, a
partial first day) from the raw tables, in the same statement (services/rollups.py); pass the
`rolled` run (`rollups.rolled_days`) to save its lookup when calling several. Money is integer minor
units of one currency; a provider's charge (a decimal in major units) is converted with
`to_minor`. Orders count from their creation (they are created when paid), in half-open
windows [start, end).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func, select
from sqlmodel import Session

from smplat import db as smplat_db
from smplat.models.analytics import DailyCounter, SearchRecord
from smplat.models.base import utcnow
from smplat.models.catalog import Product
from smplat.models.fulfillment import FulfillmentAttempt
from smplat.models.orders import Order, OrderItem, OrderStatus
from smplat.models.payments import Payment, WebhookEvent
from smplat.models.providers import ProviderOrder
from smplat.services import live, rollups, search
from smplat.services.rollups import Rolled

VISITS = "visits"
PRODUCT_VIEWS = "product_views"
FUNNEL_STAGES = ("Visits", "Product views", "Carts", "Checkouts", "Paid orders")
# the last completed lines per service an average completion time is taken over (as panels do)
COMPLETION_SAMPLE = 10


# --- recording ----------------------------------------------------------------------------


def record_daily(session: Session, *names: str, now: datetime | None = None, by: int = 1) -> None:
    """Add `by` to today's (UTC) counters `names` in one upsert statement, so concurrent workers
    never lose a count and a page load pays one statement."""
    if not names:
        return
    day, stamp = (now or utcnow()).date(), utcnow()
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(DailyCounter).values([{"day": day, "name": n, "value": by, "updated_at": stamp} for n in names])
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["day", "name"],
            set_={"value": DailyCounter.value + statement.excluded.value, "updated_at": statement.excluded.updated_at},
        )
    )


# --- windows and money ----------------------------------------------------------------------


def window(now: datetime, days: int) -> tuple[datetime, datetime]:
    """The period of the last `days` days (`rollups.last_days`: calendar days, today so far)."""
    return rollups.last_days(now, days)


def to_minor(amount: Any) -> int:
    """A provider charge (major units, decimal) in minor units, half up."""
    return int((Decimal(str(amount)) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def average_minor(total: int, count: int) -> int:
    """total / count rounded half up (0 for no count)."""
    return (2 * total + count) // (2 * count) if count else 0


def change_percent(current: int, previous: int) -> float | None:
    """Change against the previous period in percent, one decimal; None when there was nothing."""
    if not previous:
        return None
    return round((current - previous) * 100 / previous, 1)


# --- revenue ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Totals:
    revenue_minor: int  # charged less refunded
    orders: int
    aov_minor: int


def _totals(days: dict[Any, tuple[int, int]]) -> Totals:
    orders, revenue = rollups.day_totals(days)
    return Totals(revenue, orders, average_minor(revenue, orders))


def totals(
    session: Session, start: datetime, end: datetime, currency: str = "EUR", rolled: Rolled | None = None
) -> Totals:
    """Paid orders created in [start, end) and their revenue: one statement (and the rolled
    run's lookup unless given)."""
    return _totals(rollups.sales_by_day(session, start, end, currency, rolled))


def _compared(current: Totals, previous: Totals) -> dict[str, Any]:
    return {
        "current": current,
        "previous": previous,
        "revenue_change": change_percent(current.revenue_minor, previous.revenue_minor),
        "orders_change": change_percent(current.orders, previous.orders),
        "aov_change": change_percent(current.aov_minor, previous.aov_minor),
    }


def comparison(
    session: Session, now: datetime, days: int, currency: str = "EUR", rolled: Rolled | None = None
) -> dict[str, Any]:
    """This period (the last `days` days) against the one before it: one statement (two
    without `rolled`)."""
    start, end = window(now, days)
    current, previous = rollups.sales_windows(
        session, [(start, end), rollups.days_before(start, days)], currency, rolled
    )
    return _compared(_totals(current), _totals(previous))


def _filled(found: dict[Any, tuple[int, int]], start: datetime, end: datetime) -> list[dict[str, Any]]:
    out, current = [], start.date()
    while current <= (end - timedelta(microseconds=1)).date():
        n, r = found.get(current, (0, 0))
        out.append({"day": current.isoformat(), "orders": n, "revenue_minor": r})
        current += timedelta(days=1)
    return out


def daily_series(
    session: Session, start: datetime, end: datetime, currency: str = "EUR", rolled: Rolled | None = None
) -> list[dict[str, Any]]:
    """Revenue and orders per UTC day in [start, end), every day present (one statement)."""
    return _filled(rollups.sales_by_day(session, start, end, currency, rolled), start, end)


# --- funnel -------------------------------------------------------------------------------------


# visits and product views of a window's UTC days (`_counter_days`)
_COUNTERS = (
    select(DailyCounter.name, func.sum(DailyCounter.value))
    .where(
        DailyCounter.day >= sa.bindparam("counters_first", type_=sa.Date()),
        DailyCounter.day <= sa.bindparam("counters_last", type_=sa.Date()),
        DailyCounter.name.in_((VISITS, PRODUCT_VIEWS)),
    )
    .group_by(DailyCounter.name)
)
_TITLES = select(Product.id, Product.title)


def _counter_days(start: datetime, end: datetime) -> dict[str, Any]:
    return {"counters_first": start.date(), "counters_last": (end - timedelta(microseconds=1)).date()}


def _funnel_from(counters: list[Any], carts_checkouts: tuple[int, int], paid: int) -> list[tuple[str, int]]:
    daily = {name: value for name, value in counters}
    carts, checkouts = carts_checkouts
    values = (int(daily.get(VISITS) or 0), int(daily.get(PRODUCT_VIEWS) or 0), int(carts), int(checkouts), paid)
    return list(zip(FUNNEL_STAGES, values, strict=True))


def funnel(
    session: Session,
    start: datetime,
    end: datetime,
    currency: str = "EUR",
    rolled: Rolled | None = None,
    paid: int | None = None,
) -> list[tuple[str, int]]:
    """Visits → product views → carts → checkouts → paid orders in the window (one round trip,
    two without `rolled`). Visits and views are counted per UTC day, so they cover the window's
    days."""
    reads = [rollups.funnel_read(session, start, end)]
    if paid is None:
        reads.append(rollups.sales_read(session, [(start, end)], currency))
    found, extra = rollups.fetch(session, reads, rolled, {"counters": _COUNTERS}, _counter_days(start, end))
    if paid is None:
        paid = rollups.day_totals(rollups.sales_from(found["sales1"], 1)[0])[0]
    return _funnel_from(extra["counters"], rollups.funnel_from(found["funnel"]), paid)


# --- fulfilment per provider -------------------------------------------------------------------


def _activity_from(found: dict[str, list[int]]) -> list[dict[str, Any]]:
    stats: dict[str, dict[str, Any]] = {}
    for slug, (succeeded, failed, other, placed) in found.items():
        stats[slug] = {"provider": slug, "succeeded": succeeded, "failed": failed, "other": other, "orders": placed}
    total_placed = sum(row["orders"] for row in stats.values())
    for row in stats.values():
        row["share"] = round(row["orders"] * 100 / total_placed, 1) if total_placed else 0.0
    return [stats[s] for s in sorted(stats)]


def provider_activity(
    session: Session, start: datetime, end: datetime, rolled: Rolled | None = None
) -> list[dict[str, Any]]:
    """Per provider: calls that succeeded and failed, and the share of provider orders placed in
    the window (one statement, two without `rolled`)."""
    return _activity_from(rollups.provider_activity(session, start, end, rolled))


# --- margins ----------------------------------------------------------------------------------


def margins(
    session: Session, start: datetime, end: datetime, currency: str = "EUR", rolled: Rolled | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(by service, by provider) for order lines of paid orders in the window (one round trip,
    two without `rolled`).

    A service's revenue is its lines' totals; its cost the provider charges of the lines'
    provider orders (the panel's reported charge, else rate * quantity * runs / 1000), orders
    that failed, were canceled or refunded cost nothing. A provider's revenue is each line's
    total shared by the units it was asked to deliver (quantity * runs / the line's units).
    """
    found, _ = rollups.fetch(
        session,
        [rollups.revenue_read(session, start, end, currency), rollups.costs_read(session, start, end, currency)],
        rolled,
    )
    return _margins_from(rollups.revenue_from(found["revenue"]), rollups.costs_from(found["costs"]))


def _margins_from(
    revenue: dict[Any, tuple[str, int]], costs: dict[tuple[Any, str], tuple[Decimal, Decimal]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    services: dict[Any, dict[str, Any]] = {
        pid: {"service": title, "revenue_minor": revenue, "cost_minor": 0} for pid, (title, revenue) in revenue.items()
    }
    providers: dict[str, dict[str, Any]] = {}
    for (pid, slug), (cost_major, shared) in sorted(costs.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])):
        cost_minor = to_minor(cost_major)
        if pid in services:
            services[pid]["cost_minor"] += cost_minor
        row = providers.setdefault(slug, {"provider": slug, "revenue_minor": 0, "cost_minor": 0})
        row["revenue_minor"] += int(shared.quantize(Decimal(1), rounding=ROUND_HALF_UP))
        row["cost_minor"] += cost_minor
    for row in (*services.values(), *providers.values()):
        row["margin_minor"] = row["revenue_minor"] - row["cost_minor"]
        row["margin_percent"] = (
            round(row["margin_minor"] * 100 / row["revenue_minor"], 1) if row["revenue_minor"] else None
        )
    by_service = sorted(services.values(), key=lambda r: (-r["revenue_minor"], r["service"]))
    by_provider = sorted(providers.values(), key=lambda r: (-r["revenue_minor"], r["provider"]))
    return by_service, by_provider


# --- average completion time --------------------------------------------------------------------


def completion_seconds(
    session: Session, product_ids: list[int] | None = None, sample: int = COMPLETION_SAMPLE
) -> dict[int, int]:
    """Average seconds from a line's creation to its last provider order's completion, over each
    service's last `sample` completed lines (one statement)."""
    done = func.max(ProviderOrder.completed_at)
    ranked = (
        select(
            OrderItem.product_id.label("product_id"),
            OrderItem.created_at.label("created_at"),
            done.label("done_at"),
            func.row_number()
            .over(partition_by=OrderItem.product_id, order_by=(done.desc(), OrderItem.id.desc()))
            .label("rank"),
        )
        .join(ProviderOrder, ProviderOrder.order_item_id == OrderItem.id)
        .where(
            OrderItem.status == OrderStatus.COMPLETED.value,
            OrderItem.product_id.is_not(None),
            ProviderOrder.completed_at.is_not(None),
        )
        .group_by(OrderItem.id, OrderItem.product_id, OrderItem.created_at)
    )
    if product_ids is not None:
        ranked = ranked.where(OrderItem.product_id.in_(product_ids))
    sq = ranked.subquery()
    rows = session.execute(select(sq.c.product_id, sq.c.created_at, sq.c.done_at).where(sq.c.rank <= sample)).all()
    spans: dict[int, list[float]] = {}
    for pid, created, finished in rows:
        created, finished = rollups.utc(created), rollups.utc(finished)
        spans.setdefault(int(pid), []).append(max(0.0, (finished - created).total_seconds()))
    return {pid: round(sum(v) / len(v)) for pid, v in spans.items()}


def completion_by_service(
    session: Session, start: datetime, end: datetime, rolled: Rolled | None = None
) -> dict[int, int]:
    """Average seconds from a line's creation to its last provider order's completion, per
    service, over the completed lines created in [start, end) (one statement, two without
    `rolled`): the dashboard's figure (the storefront's is `completion_seconds`)."""
    return _averages(rollups.completion(session, start, end, rolled))


def _averages(found: dict[int, tuple[int, Decimal]]) -> dict[int, int]:
    return {pid: round(seconds / lines) for pid, (lines, seconds) in found.items() if lines}


def duration_label(seconds: int) -> str:
    """'2 hours 5 minutes', '45 minutes', '1 day 3 hours': how panels show an average time."""
    minutes = max(1, round(seconds / 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)

    def part(n: int, unit: str) -> str:
        return f"{n} {unit}{'' if n == 1 else 's'}"

    if days:
        return " ".join([part(days, "day")] + ([part(hours, "hour")] if hours else []))
    if hours:
        return " ".join([part(hours, "hour")] + ([part(minutes, "minute")] if minutes else []))
    return part(minutes, "minute")


def average_time_label(session: Session, product_id: int) -> str:
    """The storefront's "average time" for a service, or "" before it has completed orders."""
    seconds = completion_seconds(session, [product_id]).get(product_id)
    return duration_label(seconds) if seconds is not None else ""


# --- payment and webhook outcomes ----------------------------------------------------------------


def payment_outcomes(
    session: Session, start: datetime, end: datetime, rolled: Rolled | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Payments by kind and status and webhooks by type and status in the window (one
    statement, two without `rolled`)."""
    return _outcomes_from(rollups.payment_outcomes(session, start, end, rolled))


def _outcomes_from(outcomes: dict[tuple[str, str, str], tuple[int, int]]) -> dict[str, list[dict[str, Any]]]:
    found = sorted(outcomes.items())
    return {
        "payments": [
            {"kind": k, "status": st, "count": n, "amount_minor": a}
            for (source, k, st), (n, a) in found
            if source == rollups.PAYMENT
        ],
        "webhooks": [
            {"type": k, "status": st, "count": n} for (source, k, st), (n, _a) in found if source == rollups.WEBHOOK
        ],
    }


# --- the page ---------------------------------------------------------------------------------


def period_figures(session: Session, now: datetime, days: int, currency: str = "EUR") -> dict[str, Any]:
    """Everything Analytics shows for the last `days` days (and the period before), search
    insights and the page's live version included: two round trips (the version and the rolled
    run, then every figure's select at once).
    Whole rolled days come from the roll-ups, read once per roll-up run (`rollups.fetch`)."""
    first = smplat_db.fetch_many(session, {"version": VERSION, "rolled": rollups.ROLLED})
    rolled = rollups.rolled_from(first["rolled"][0])
    start, end = window(now, days)
    before = rollups.days_before(start, days)[0]
    reads = [
        rollups.sales_read(session, [(start, end), (before, start)], currency),
        rollups.revenue_read(session, start, end, currency),
        rollups.costs_read(session, start, end, currency),
        rollups.completion_read(session, start, end),
        rollups.funnel_read(session, start, end),
        rollups.activity_read(session, start, end),
        rollups.payments_read(session, start, end),
    ]
    found, extra = rollups.fetch(
        session,
        reads,
        rolled,
        {"counters": _COUNTERS, "titles": _TITLES, **search.insight_statements()},
        {**_counter_days(start, end), **search.insight_params(days, now)},
    )
    current, previous = rollups.sales_from(found["sales2"], 2)
    compared = _compared(_totals(current), _totals(previous))
    by_service, by_provider = _margins_from(rollups.revenue_from(found["revenue"]), rollups.costs_from(found["costs"]))
    seconds = _averages(rollups.completion_from(found["completion"]))
    return {
        "comparison": compared,
        "series": _filled(current, start, end),
        "previous_series": _filled(previous, before, start),
        "funnel": _funnel_from(extra["counters"], rollups.funnel_from(found["funnel"]), compared["current"].orders),
        "activity": _activity_from(rollups.activity_from(found["activity"])),
        "by_service": by_service,
        "by_provider": by_provider,
        "completion": seconds,
        "titles": {int(pid): title for pid, title in extra["titles"] if int(pid) in seconds},
        "outcomes": _outcomes_from(rollups.payments_from(found["payments"])),
        "search": search.insights_from(extra, days),
        # read before the figures: the page's live version
        "version": live.version_text(first["version"][0]),
    }


# --- live -----------------------------------------------------------------------------------------


# changes whenever an order, payment, attempt, webhook, visit or search does (index lookups:
# the newest id or change of each)
VERSION = live.newest_of(
    Order.id,
    Order.updated_at,
    Payment.updated_at,
    FulfillmentAttempt.id,
    WebhookEvent.id,
    DailyCounter.updated_at,
    SearchRecord.id,
    ProviderOrder.updated_at,
)


def live_version(session: Session) -> str:
    """One statement (`VERSION`)."""
    return live.version_text(session.execute(VERSION).one())
