"""Admin analytics: revenue and orders over time with period comparison, the conversion funnel,
fulfilment per provider, margins by service and provider, average completion time per service,
payment and webhook outcomes; and the cheap "did anything change" version a live page ticks on.

Every aggregate is a GROUP BY in the database (a fixed number of statements however many rows,
checked by tests with counted statements). Money is integer minor units of one currency; a
provider's charge (a decimal in major units) is converted with `to_minor`. Orders count from
their creation (they are created when paid), in half-open windows [start, end).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func, select
from sqlmodel import Session

from smplat.models.analytics import DailyCounter, SearchRecord
from smplat.models.base import utcnow
from smplat.models.carts import Cart
from smplat.models.catalog import Product
from smplat.models.checkout import CheckoutSession
from smplat.models.fulfillment import AttemptOutcome, FulfillmentAttempt
from smplat.models.orders import Order, OrderItem, OrderStatus
from smplat.models.payments import Payment, WebhookEvent
from smplat.models.providers import Provider, ProviderOrder, ProviderOrderStatus, ProviderService

VISITS = "visits"
PRODUCT_VIEWS = "product_views"
FUNNEL_STAGES = ("Visits", "Product views", "Carts", "Checkouts", "Paid orders")
# the last completed lines per service an average completion time is taken over (as panels do)
COMPLETION_SAMPLE = 10
SUCCEEDED_OUTCOMES = (AttemptOutcome.SUCCEEDED.value, AttemptOutcome.RECONCILED.value)
FAILED_OUTCOMES = (AttemptOutcome.RETRIED.value, AttemptOutcome.DEAD_LETTERED.value)
# provider orders that cost nothing (never accepted, or given back)
NO_COST_STATUSES = (
    ProviderOrderStatus.FAILED.value,
    ProviderOrderStatus.CANCELED.value,
    ProviderOrderStatus.REFUNDED.value,
)


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
    """The last `days` days up to now."""
    return now - timedelta(days=days), now


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


def _paid_in(start: datetime, end: datetime, currency: str) -> list[Any]:
    return [Order.created_at >= start, Order.created_at < end, Order.charged_minor > 0, Order.currency == currency]


# --- revenue ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Totals:
    revenue_minor: int  # charged less refunded
    orders: int
    aov_minor: int


def totals(session: Session, start: datetime, end: datetime, currency: str = "EUR") -> Totals:
    orders, revenue = session.execute(
        select(func.count(), func.coalesce(func.sum(Order.charged_minor - Order.refunded_minor), 0)).where(
            *_paid_in(start, end, currency)
        )
    ).one()
    return Totals(int(revenue), int(orders), average_minor(int(revenue), int(orders)))


def comparison(session: Session, now: datetime, days: int, currency: str = "EUR") -> dict[str, Any]:
    """This period (the last `days` days) against the one before it: two statements."""
    start, end = window(now, days)
    current = totals(session, start, end, currency)
    previous = totals(session, start - timedelta(days=days), start, currency)
    return {
        "current": current,
        "previous": previous,
        "revenue_change": change_percent(current.revenue_minor, previous.revenue_minor),
        "orders_change": change_percent(current.orders, previous.orders),
        "aov_change": change_percent(current.aov_minor, previous.aov_minor),
    }


def _day_of(session: Session, column: Any) -> Any:
    """The UTC calendar day of a timestamp column, on either backend."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)  # SQLite stores UTC text


def _as_day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def daily_series(session: Session, start: datetime, end: datetime, currency: str = "EUR") -> list[dict[str, Any]]:
    """Revenue and orders per UTC day in [start, end), every day present (one statement)."""
    day = _day_of(session, Order.created_at)
    rows = session.execute(
        select(day, func.count(), func.sum(Order.charged_minor - Order.refunded_minor))
        .where(*_paid_in(start, end, currency))
        .group_by(day)
    ).all()
    found = {_as_day(d): (int(n), int(r or 0)) for d, n, r in rows}
    out, current = [], start.date()
    while current <= (end - timedelta(microseconds=1)).date():
        n, r = found.get(current, (0, 0))
        out.append({"day": current.isoformat(), "orders": n, "revenue_minor": r})
        current += timedelta(days=1)
    return out


# --- funnel -------------------------------------------------------------------------------------


def funnel(session: Session, start: datetime, end: datetime, currency: str = "EUR") -> list[tuple[str, int]]:
    """Visits → product views → carts → checkouts → paid orders in the window (four statements).
    Visits and views are counted per UTC day, so they cover the window's days."""
    daily = dict(
        session.execute(
            select(DailyCounter.name, func.sum(DailyCounter.value))
            .where(
                DailyCounter.day >= start.date(),
                DailyCounter.day <= (end - timedelta(microseconds=1)).date(),
                DailyCounter.name.in_((VISITS, PRODUCT_VIEWS)),
            )
            .group_by(DailyCounter.name)
        ).all()
    )
    carts = session.execute(
        select(func.count()).select_from(Cart).where(Cart.created_at >= start, Cart.created_at < end)
    ).scalar_one()
    checkouts = session.execute(
        select(func.count())
        .select_from(CheckoutSession)
        .where(CheckoutSession.created_at >= start, CheckoutSession.created_at < end)
    ).scalar_one()
    paid = totals(session, start, end, currency).orders
    values = (int(daily.get(VISITS) or 0), int(daily.get(PRODUCT_VIEWS) or 0), int(carts), int(checkouts), paid)
    return list(zip(FUNNEL_STAGES, values, strict=True))


# --- fulfilment per provider -------------------------------------------------------------------


def provider_activity(session: Session, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Per provider: calls that succeeded and failed, and the share of provider orders placed in
    the window (two statements)."""
    a = FulfillmentAttempt
    outcome_rows = session.execute(
        select(Provider.slug, a.outcome, func.count())
        .select_from(a)
        .join(Provider, Provider.id == a.provider_id)
        .where(a.created_at >= start, a.created_at < end)
        .group_by(Provider.slug, a.outcome)
    ).all()
    placed = dict(
        session.execute(
            select(Provider.slug, func.count())
            .select_from(ProviderOrder)
            .join(Provider, Provider.id == ProviderOrder.provider_id)
            .where(
                ProviderOrder.created_at >= start,
                ProviderOrder.created_at < end,
                ProviderOrder.external_order_id.is_not(None),
            )
            .group_by(Provider.slug)
        ).all()
    )
    stats: dict[str, dict[str, Any]] = {}
    for slug, outcome, n in outcome_rows:
        row = stats.setdefault(slug, {"provider": slug, "succeeded": 0, "failed": 0, "other": 0})
        key = "succeeded" if outcome in SUCCEEDED_OUTCOMES else "failed" if outcome in FAILED_OUTCOMES else "other"
        row[key] += int(n)
    total_placed = sum(placed.values())
    for slug in placed:
        stats.setdefault(slug, {"provider": slug, "succeeded": 0, "failed": 0, "other": 0})
    for slug, row in stats.items():
        row["orders"] = int(placed.get(slug, 0))
        row["share"] = round(row["orders"] * 100 / total_placed, 1) if total_placed else 0.0
    return [stats[s] for s in sorted(stats)]


# --- margins ----------------------------------------------------------------------------------


def margins(
    session: Session, start: datetime, end: datetime, currency: str = "EUR"
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(by service, by provider) for order lines of paid orders in the window (two statements).

    A service's revenue is its lines' totals; its cost the provider charges of the lines'
    provider orders (the panel's reported charge, else rate * quantity * runs / 1000), orders
    that failed, were canceled or refunded cost nothing. A provider's revenue is each line's
    total shared by the units it was asked to deliver (quantity * runs / the line's units).
    """
    revenue_rows = session.execute(
        select(OrderItem.product_id, func.max(OrderItem.product_title), func.sum(OrderItem.total_minor))
        .join(Order, Order.id == OrderItem.order_id)
        .where(*_paid_in(start, end, currency))
        .group_by(OrderItem.product_id)
    ).all()
    po = ProviderOrder
    units = po.quantity * func.coalesce(po.runs, 1)
    cost = func.coalesce(po.charge, ProviderService.rate_per_1000 * units / 1000)
    share = OrderItem.total_minor * units * sa.literal(1.0) / func.nullif(OrderItem.service_quantity, 0)
    cost_rows = session.execute(
        select(OrderItem.product_id, Provider.slug, func.sum(cost), func.sum(share))
        .select_from(po)
        .join(OrderItem, OrderItem.id == po.order_item_id)
        .join(Order, Order.id == OrderItem.order_id)
        .join(Provider, Provider.id == po.provider_id)
        .join(ProviderService, ProviderService.id == po.provider_service_id)
        .where(*_paid_in(start, end, currency), po.external_order_id.is_not(None), po.status.not_in(NO_COST_STATUSES))
        .group_by(OrderItem.product_id, Provider.slug)
    ).all()
    services: dict[Any, dict[str, Any]] = {
        pid: {"service": title, "revenue_minor": int(rev or 0), "cost_minor": 0} for pid, title, rev in revenue_rows
    }
    providers: dict[str, dict[str, Any]] = {}
    for pid, slug, cost_major, shared in cost_rows:
        cost_minor = to_minor(cost_major or 0)
        if pid in services:
            services[pid]["cost_minor"] += cost_minor
        row = providers.setdefault(slug, {"provider": slug, "revenue_minor": 0, "cost_minor": 0})
        row["revenue_minor"] += int(Decimal(str(shared or 0)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
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
        created, finished = _utc(created), _utc(finished)
        spans.setdefault(int(pid), []).append(max(0.0, (finished - created).total_seconds()))
    return {pid: round(sum(v) / len(v)) for pid, v in spans.items()}


def _utc(value: Any) -> datetime:
    from datetime import UTC

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


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


def payment_outcomes(session: Session, start: datetime, end: datetime) -> dict[str, list[dict[str, Any]]]:
    """Payments by kind and status and webhooks by type and status in the window (two statements)."""
    payments = session.execute(
        select(Payment.kind, Payment.status, func.count(), func.coalesce(func.sum(Payment.amount_minor), 0))
        .where(Payment.created_at >= start, Payment.created_at < end)
        .group_by(Payment.kind, Payment.status)
        .order_by(Payment.kind, Payment.status)
    ).all()
    webhooks = session.execute(
        select(WebhookEvent.event_type, WebhookEvent.status, func.count())
        .where(WebhookEvent.received_at >= start, WebhookEvent.received_at < end)
        .group_by(WebhookEvent.event_type, WebhookEvent.status)
        .order_by(WebhookEvent.event_type, WebhookEvent.status)
    ).all()
    return {
        "payments": [{"kind": k, "status": s, "count": int(n), "amount_minor": int(a)} for k, s, n, a in payments],
        "webhooks": [{"type": t, "status": s, "count": int(n)} for t, s, n in webhooks],
    }


# --- live -----------------------------------------------------------------------------------------


def live_version(session: Session) -> str:
    """One statement: changes whenever an order, payment, attempt, webhook, visit or search does."""
    parts = session.execute(
        select(
            select(func.count(Order.id)).scalar_subquery(),
            select(func.max(Order.updated_at)).scalar_subquery(),
            select(func.max(Payment.updated_at)).scalar_subquery(),
            select(func.max(FulfillmentAttempt.id)).scalar_subquery(),
            select(func.max(WebhookEvent.id)).scalar_subquery(),
            select(func.max(DailyCounter.updated_at)).scalar_subquery(),
            select(func.max(SearchRecord.id)).scalar_subquery(),
            select(func.max(ProviderOrder.updated_at)).scalar_subquery(),
        )
    ).one()
    return "|".join(str(p) for p in parts)


def product_titles(session: Session, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(session.execute(select(Product.id, Product.title).where(Product.id.in_(ids))).all())
