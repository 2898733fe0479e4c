"""Daily roll-ups behind the sales dashboard (the admin home and Analytics).

The `dashboard_rollup` job (jobs process) sums every closed UTC day once into the roll-up
tables (models/rollups.py): per day and currency the orders, paid orders, charged and refunded
amounts; per day, currency and service the lines' revenue, completion times and, per provider,
the provider charges and revenue shares (the margin parts); per day and provider the calls by
outcome and the provider orders placed; per day the payments and webhooks by kind and status,
the carts and the checkout sessions. A run rolls every closed day not rolled up yet, again the
last `dashboard_rollup_reroll_days` days, so late refunds, completions and status changes land,
and today up to a few minutes before the run (a day's rows are replaced: re-running is
harmless). A day is rolled up when it has a `daily_rollups` row (`through`: how far); the
rolled days are one unbroken run of days.

Readers split a window [start, end) (`split`): the rolled days inside it are read from the
roll-ups, the rest (today since the last run, days not rolled up yet, a window's partial first
day) from the raw tables by indexed time ranges, both in one UNION ALL statement per figure
(`fetch`: a page's figures in one round trip on PostgreSQL; the rolled rows kept per roll-up
run). So a figure is right the moment an order is paid, before any job has run, and its cost
does not grow with the history. Every raw aggregate below is the one rule: the job rolls
up exactly what a reader would read live for the same day.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy import case, delete, func, insert, literal, literal_column, select, union_all
from sqlmodel import Session

from smplat import db as smplat_db
from smplat.models.base import UTCDateTime, utcnow
from smplat.models.carts import Cart
from smplat.models.checkout import CheckoutSession
from smplat.models.fulfillment import AttemptOutcome, FulfillmentAttempt
from smplat.models.orders import Order, OrderItem, OrderStatus
from smplat.models.payments import Payment, WebhookEvent
from smplat.models.providers import Provider, ProviderOrder, ProviderOrderStatus, ProviderService
from smplat.models.rollups import DailyPaymentStats, DailyProviderStats, DailyRollup, DailySales, DailyServiceStats
from smplat.settings import Settings, get_settings

SUCCEEDED_OUTCOMES = (AttemptOutcome.SUCCEEDED.value, AttemptOutcome.RECONCILED.value)
FAILED_OUTCOMES = (AttemptOutcome.RETRIED.value, AttemptOutcome.DEAD_LETTERED.value)
# provider orders that cost nothing (never accepted, or given back)
NO_COST_STATUSES = (
    ProviderOrderStatus.FAILED.value,
    ProviderOrderStatus.CANCELED.value,
    ProviderOrderStatus.REFUNDED.value,
)
PAYMENT, WEBHOOK = "payment", "webhook"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FOREVER = datetime(9999, 1, 1, tzinfo=UTC)
MILLISECOND = "0.001"  # completion seconds are summed to the millisecond (SQLite's julianday)
# today is rolled up to this long before the job's run: an order still being written then is
# created before that time but not yet visible; it lands in the next run
SETTLE = timedelta(minutes=5)


# --- days and times -------------------------------------------------------------------------


def utc(value: Any) -> datetime:
    """A stored or given time as an aware UTC datetime (SQLite returns text or naive times)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def as_day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def day_of(session: Session, column: Any) -> Any:
    """The UTC calendar day of a timestamp column, on either backend."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)  # SQLite stores UTC text


def _seconds(session: Session, start: Any, end: Any) -> Any:
    """Seconds from `start` to `end`, never below zero, on either backend."""
    if session.get_bind().dialect.name == "postgresql":
        return func.greatest(0, sa.extract("epoch", end - start))
    return func.max(0.0, (func.julianday(end) - func.julianday(start)) * 86400.0)


def last_days(now: datetime, days: int) -> tuple[datetime, datetime]:
    """The last `days` calendar days (UTC) up to now: today so far and the `days - 1` whole
    days before it, the way shop dashboards count "last 30 days". Every day but today is a
    whole day, read from the roll-ups; only today since the last roll-up is read raw."""
    return start_of(utc(now).date()) - timedelta(days=days - 1), now


def days_before(start: datetime, days: int) -> tuple[datetime, datetime]:
    """The `days` whole days before a period that starts at midnight `start` (its comparison)."""
    return start - timedelta(days=days), start


@dataclass(frozen=True)
class Rolled:
    """The run of days rolled up so far (None, None before the first roll-up): the last one
    may be today, rolled up `through` the time of the job's run (a closed day: to its end).
    `generation` is the last run's random stamp (readers keep rolled rows per generation)."""

    first: date | None = None
    last: date | None = None
    through: datetime | None = None
    generation: str = ""

    @property
    def until(self) -> datetime | None:
        """The end of what the roll-ups cover."""
        if self.last is None:
            return None
        return self.through if self.through is not None else start_of(self.last + timedelta(days=1))


# the rolled run and its generation: index lookups and one pass over a row per day
ROLLED = select(
    func.min(DailyRollup.day),
    func.max(DailyRollup.day),
    func.max(DailyRollup.through),
    func.max(DailyRollup.generation),
)


def rolled_from(row: Any) -> Rolled:
    """The `ROLLED` select's row as a `Rolled` (dates and times as SQLAlchemy or the driver give
    them: objects, or SQLite's stored text)."""
    first, last, through, generation = row
    if first is None:
        return Rolled()
    return Rolled(as_day(first), as_day(last), utc(through), generation or "")


def rolled_days(session: Session) -> Rolled:
    """One statement."""
    return rolled_from(session.execute(ROLLED).one())


@dataclass(frozen=True)
class Split:
    days: tuple[date, date] | None  # whole days read from the roll-ups (inclusive)
    live: tuple[tuple[datetime, datetime], ...]  # [start, end) ranges read from the raw tables

    @property
    def days_list(self) -> list[tuple[date, date]]:
        return [self.days] if self.days else []


def split(start: datetime, end: datetime, rolled: Rolled) -> Split:
    """The rolled days of [start, end) (whole days; today as far as it is rolled up, when the
    window reaches that far), and the rest as at most two raw ranges (before them: a partial
    first day or days before the run; after them: days not rolled up yet, the rest of today)."""
    start, end = utc(start), utc(end)
    if end <= start:
        return Split(None, ())
    until = rolled.until
    if rolled.first is None or rolled.last is None or until is None:
        return Split(None, ((start, end),))
    first = start.date() if start == start_of(start.date()) else start.date() + timedelta(days=1)
    first = max(first, rolled.first)
    last = rolled.last if until <= end else min(end.date(), rolled.last) - timedelta(days=1)
    if first > last:
        return Split(None, ((start, end),))
    covered = until if last == rolled.last else start_of(last + timedelta(days=1))
    live = []
    if start < start_of(first):
        live.append((start, start_of(first)))
    if covered < end:
        live.append((covered, end))
    return Split((first, last), tuple(live))


def _rows(session: Session, parts: list[Any]) -> list[Any]:
    """Run the parts as one statement (UNION ALL)."""
    if not parts:
        return []
    return session.execute(parts[0] if len(parts) == 1 else union_all(*parts)).all()


def _in(column: Any, start: Any, end: Any) -> tuple[Any, Any]:
    return column >= start, column < end


def _zero(name: str) -> Any:
    return literal_column("0").label(name)


def _grouped(session: Session, column: Any, per_day: bool, *more: Any) -> list[Any]:
    return ([day_of(session, column).label("day")] if per_day else []) + list(more)


# --- the raw aggregates (the rules; the job rolls up exactly these per day) -------------------
# start, end and currency are values (the job) or bound parameters (the readers' cached statements)


def paid_in(start: Any, end: Any, currency: Any) -> list[Any]:
    """Paid orders (charged) created in [start, end), in `currency` (any when None)."""
    where = [*_in(Order.created_at, start, end), Order.charged_minor > 0]
    return where + ([Order.currency == currency] if currency is not None else [])


def _raw_sales(session: Session, start: Any, end: Any, currency: Any, per_day: bool) -> Any:
    """(day, currency,) orders, paid orders, charged, refunded."""
    keys = _grouped(session, Order.created_at, per_day, *([Order.currency] if per_day else []))
    paid = Order.charged_minor > 0
    where = list(_in(Order.created_at, start, end)) + ([Order.currency == currency] if currency is not None else [])
    return (
        select(
            *keys,
            func.count(),
            func.count().filter(paid),
            func.coalesce(func.sum(Order.charged_minor).filter(paid), 0),
            func.coalesce(func.sum(Order.refunded_minor).filter(paid), 0),
        )
        .where(*where)
        .group_by(*keys)
    )


def _raw_revenue(session: Session, start: Any, end: Any, currency: Any, per_day: bool) -> Any:
    """(day, currency,) product, title, the paid lines' revenue."""
    keys = _grouped(session, Order.created_at, per_day, *([Order.currency] if per_day else []), OrderItem.product_id)
    return (
        select(*keys, func.max(OrderItem.product_title), func.sum(OrderItem.total_minor))
        .join(Order, Order.id == OrderItem.order_id)
        .where(*paid_in(start, end, currency))
        .group_by(*keys)
    )


def _raw_costs(session: Session, start: Any, end: Any, currency: Any, per_day: bool) -> Any:
    """(day, currency,) product, provider (slug when read, id when rolled), cost, revenue share.

    Cost: the panel's reported charge, else rate * quantity * runs / 1000 (major units);
    failed, canceled and refunded provider orders cost nothing. Share: the line's total shared
    by the units the provider was asked to deliver (quantity * runs / the line's units)."""
    po = ProviderOrder
    units = po.quantity * func.coalesce(po.runs, 1)
    cost = func.coalesce(po.charge, ProviderService.rate_per_1000 * units / 1000)
    share = OrderItem.total_minor * units * sa.literal(1.0) / func.nullif(OrderItem.service_quantity, 0)
    provider = po.provider_id if per_day else Provider.slug
    keys = _grouped(
        session, Order.created_at, per_day, *([Order.currency] if per_day else []), OrderItem.product_id, provider
    )
    where = [*paid_in(start, end, currency), po.external_order_id.is_not(None), po.status.not_in(NO_COST_STATUSES)]
    if session.get_bind().dialect.name == "sqlite":
        # the range's lines first: SQLite's planner would otherwise scan every provider order
        lines = select(OrderItem.id).join(Order, Order.id == OrderItem.order_id).where(*paid_in(start, end, currency))
        where.append(OrderItem.id.in_(lines.correlate(None)))
    return (
        select(*keys, func.sum(cost), func.sum(share))
        .select_from(po)
        .join(OrderItem, OrderItem.id == po.order_item_id)
        .join(Order, Order.id == OrderItem.order_id)
        .join(Provider, Provider.id == po.provider_id)
        .join(ProviderService, ProviderService.id == po.provider_service_id)
        .where(*where)
        .group_by(*keys)
    )


def _raw_completion(session: Session, start: Any, end: Any, per_day: bool) -> Any:
    """(day, currency,) product, completed lines, the sum of their seconds from the line's
    creation to its last provider order's completion (lines created in [start, end))."""
    done = func.max(ProviderOrder.completed_at)
    lines = (
        select(
            OrderItem.product_id.label("product_id"),
            OrderItem.currency.label("currency"),
            OrderItem.created_at.label("created_at"),
            done.label("done_at"),
        )
        .join(ProviderOrder, ProviderOrder.order_item_id == OrderItem.id)
        .where(
            OrderItem.status == OrderStatus.COMPLETED.value,
            *_in(OrderItem.created_at, start, end),
            OrderItem.product_id.is_not(None),
            ProviderOrder.completed_at.is_not(None),
        )
        .group_by(OrderItem.id, OrderItem.product_id, OrderItem.currency, OrderItem.created_at)
        .subquery()
    )
    keys = _grouped(session, lines.c.created_at, per_day, *([lines.c.currency] if per_day else []), lines.c.product_id)
    return select(*keys, func.count(), func.sum(_seconds(session, lines.c.created_at, lines.c.done_at))).group_by(*keys)


def _raw_activity(session: Session, start: Any, end: Any, per_day: bool) -> list[Any]:
    """(day,) provider (slug when read, id when rolled), succeeded, failed, other, placed:
    calls by outcome, and provider orders placed (accepted by the panel)."""
    a, po = FulfillmentAttempt, ProviderOrder
    outcome = a.outcome
    calls_keys = _grouped(session, a.created_at, per_day, a.provider_id if per_day else Provider.slug)
    calls = (
        select(
            *calls_keys,
            func.sum(case((outcome.in_(SUCCEEDED_OUTCOMES), 1), else_=0)),
            func.sum(case((outcome.in_(FAILED_OUTCOMES), 1), else_=0)),
            func.sum(case((outcome.in_(SUCCEEDED_OUTCOMES + FAILED_OUTCOMES), 0), else_=1)),
            _zero("placed"),
        )
        .select_from(a)
        .join(Provider, Provider.id == a.provider_id)
        .where(*_in(a.created_at, start, end))
        .group_by(*calls_keys)
    )
    placed_keys = _grouped(session, po.created_at, per_day, po.provider_id if per_day else Provider.slug)
    placed = (
        select(*placed_keys, _zero("succeeded"), _zero("failed"), _zero("other"), func.count())
        .select_from(po)
        .join(Provider, Provider.id == po.provider_id)
        .where(*_in(po.created_at, start, end), po.external_order_id.is_not(None))
        .group_by(*placed_keys)
    )
    return [calls, placed]


def _raw_payments(session: Session, start: Any, end: Any, per_day: bool) -> list[Any]:
    """(day,) source, kind, status, count, amount: payments by kind and status, webhooks by type
    and status."""
    p, w = Payment, WebhookEvent
    p_keys = _grouped(session, p.created_at, per_day, p.kind, p.status)
    w_keys = _grouped(session, w.received_at, per_day, w.event_type, w.status)
    payments = (
        select(*p_keys[:-2], literal(PAYMENT), *p_keys[-2:], func.count(), func.coalesce(func.sum(p.amount_minor), 0))
        .where(*_in(p.created_at, start, end))
        .group_by(*p_keys)
    )
    webhooks = (
        select(*w_keys[:-2], literal(WEBHOOK), *w_keys[-2:], func.count(), _zero("amount"))
        .where(*_in(w.received_at, start, end))
        .group_by(*w_keys)
    )
    return [payments, webhooks]


def _raw_funnel(session: Session, start: Any, end: Any, per_day: bool) -> list[Any]:
    """(day,) carts, checkout sessions created."""
    c_keys = _grouped(session, Cart.created_at, per_day)
    s_keys = _grouped(session, CheckoutSession.created_at, per_day)
    return [
        select(*c_keys, func.count(), _zero("checkouts"))
        .select_from(Cart)
        .where(*_in(Cart.created_at, start, end))
        .group_by(*c_keys),
        select(*s_keys, _zero("carts"), func.count())
        .select_from(CheckoutSession)
        .where(*_in(CheckoutSession.created_at, start, end))
        .group_by(*s_keys),
    ]


# --- the roll-up (the job) ------------------------------------------------------------------


def _earliest(session: Session) -> date | None:
    """The first day anything the roll-ups sum happened (one statement of index lookups)."""
    columns = (
        Order.created_at,
        OrderItem.created_at,
        Cart.created_at,
        CheckoutSession.created_at,
        FulfillmentAttempt.created_at,
        ProviderOrder.created_at,
        Payment.created_at,
        WebhookEvent.received_at,
    )
    found = session.execute(select(*[select(func.min(c)).scalar_subquery() for c in columns])).one()
    times = [utc(t) for t in found if t is not None]
    return min(times).date() if times else None


def rollup(session: Session, now: datetime | None = None, settings: Settings | None = None) -> dict[str, int]:
    """Roll every closed day not rolled up yet, the last `dashboard_rollup_reroll_days` days
    again, and today up to a few minutes ago (`SETTLE`: orders still being written land in the
    next run), into the roll-up tables (each day's rows replaced)."""
    settings = settings or get_settings()
    now = utc(now or utcnow())
    today = now.date()
    rolled = rolled_days(session)
    if rolled.first is None or rolled.last is None:
        earliest = _earliest(session)
        first = min(earliest, today) if earliest is not None else today
    else:
        first = min(rolled.last + timedelta(days=1), today - timedelta(days=settings.dashboard_rollup_reroll_days))
        first = max(first, min(rolled.first, today))
    return roll_days(session, first, today, through=max(start_of(today), now - SETTLE))


def roll_days(session: Session, first: date, last: date, through: datetime | None = None) -> dict[str, int]:
    """Replace the roll-ups of the days [first, last] with fresh sums; the last day up to
    `through` when given (today), else whole."""
    start, end = start_of(first), through or start_of(last + timedelta(days=1))
    replaced = 0
    for model in (DailyRollup, DailySales, DailyServiceStats, DailyProviderStats, DailyPaymentStats):
        replaced += int(
            session.execute(delete(model).where(model.day >= first, model.day <= last)).rowcount or 0  # type: ignore[attr-defined]
        )

    sales = [
        {
            "day": as_day(d),
            "currency": cur,
            "orders": int(n),
            "paid_orders": int(paid),
            "charged_minor": int(charged),
            "refunded_minor": int(refunded),
        }
        for d, cur, n, paid, charged, refunded in session.execute(_raw_sales(session, start, end, None, True)).all()
    ]

    services: dict[tuple[date, str, int | None, int | None], dict[str, Any]] = {}

    def service(d: Any, cur: str, product_id: Any, provider_id: Any) -> dict[str, Any]:
        key = (as_day(d), cur, product_id, provider_id)
        return services.setdefault(
            key,
            {
                "day": key[0],
                "currency": cur,
                "product_id": product_id,
                "provider_id": provider_id,
                "product_title": "",
                "revenue_minor": 0,
                "cost": Decimal(0),
                "revenue_share": Decimal(0),
                "completed_lines": 0,
                "completion_seconds": Decimal(0),
            },
        )

    for d, cur, product_id, title, revenue in session.execute(_raw_revenue(session, start, end, None, True)).all():
        row = service(d, cur, product_id, None)
        row["product_title"], row["revenue_minor"] = title or "", int(revenue or 0)
    for d, cur, product_id, provider_id, cost, share in session.execute(
        _raw_costs(session, start, end, None, True)
    ).all():
        row = service(d, cur, product_id, provider_id)
        row["cost"], row["revenue_share"] = _exact(cost), _exact(share)
    for d, cur, product_id, lines, seconds in session.execute(_raw_completion(session, start, end, True)).all():
        row = service(d, cur, product_id, None)
        row["completed_lines"], row["completion_seconds"] = int(lines), _exact(seconds, MILLISECOND)

    providers: dict[tuple[date, int], list[int]] = {}
    for d, provider_id, *counts in _rows(session, _raw_activity(session, start, end, True)):
        slot = providers.setdefault((as_day(d), int(provider_id)), [0, 0, 0, 0])
        for i, n in enumerate(counts):
            slot[i] += int(n or 0)

    payments = [
        {"day": as_day(d), "source": s, "kind": k or "", "status": st, "count": int(n), "amount_minor": int(a or 0)}
        for d, s, k, st, n, a in _rows(session, _raw_payments(session, start, end, True))
    ]

    funnel: dict[date, list[int]] = {}
    for d, carts, checkouts in _rows(session, _raw_funnel(session, start, end, True)):
        slot = funnel.setdefault(as_day(d), [0, 0])
        slot[0] += int(carts)
        slot[1] += int(checkouts)

    stamp, generation = utcnow(), secrets.token_hex(16)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    batches: list[tuple[Any, list[dict[str, Any]]]] = [
        (
            DailyRollup,
            [
                {
                    "day": d,
                    "carts": funnel.get(d, [0, 0])[0],
                    "checkouts": funnel.get(d, [0, 0])[1],
                    "through": min(end, start_of(d + timedelta(days=1))),
                    "rolled_at": stamp,
                    "generation": generation,
                }
                for d in days
            ],
        ),
        (DailySales, sales),
        (DailyServiceStats, list(services.values())),
        (
            DailyProviderStats,
            [
                {"day": d, "provider_id": p, "succeeded": s, "failed": f, "other": o, "placed": n}
                for (d, p), (s, f, o, n) in sorted(providers.items())
            ],
        ),
        (DailyPaymentStats, payments),
    ]
    rows = 0
    for model, values in batches:
        for chunk in range(0, len(values), 1000):
            session.execute(insert(model), values[chunk : chunk + 1000])
        rows += len(values)
    # every rolled day carries the run's generation: readers keep rolled rows per generation
    session.execute(sa.update(DailyRollup).values(generation=generation))
    session.flush()
    return {"days": len(days), "rows": rows, "replaced": replaced}


def _exact(value: Any, places: str = "1e-10") -> Decimal:
    """A summed amount as stored (10 decimals, the column's scale; seconds to the millisecond,
    as precise as SQLite's julianday)."""
    return Decimal(str(value or 0)).quantize(Decimal(places), rounding=ROUND_HALF_UP)


# --- reading: roll-ups for the rolled days, the raw tables for the rest -------------------
#
# A figure is a `Read`: its windows, how to select its rolled days (`rolled_part(i, a, b)`) and
# its raw ranges (`live_part(i, s, e)`), `i` the window's index. `fetch` runs a page's reads (and
# any other selects the page needs) in one round trip (`db.fetch_many`). Each part's statement
# depends only on the shape of the windows' split, so it is built once with bound parameters
# and kept: a page load pays for executing statements, not for building them.
#
# The rolled part of a read changes only when the roll-up job writes, and every run stamps the
# roll-ups with a new random `generation` (read with the rolled run, `rolled_days`): the rolled
# rows are kept per (database, generation, figure, days, parameters) in a small cache in this
# process, so a page reads the roll-ups once per job run and, after that, only the raw minutes
# since the run. Another process reads its own once; a run makes every kept entry unreachable.

Build = Callable[..., list[Any]]
_STATEMENTS: dict[tuple[Any, ...], Any] = {}
_statements_lock = threading.Lock()
ROLLED_KEPT = 512  # rolled parts kept (a page reads about ten; the entries of older generations age out)
_kept: OrderedDict[tuple[Any, ...], list[Any]] = OrderedDict()
_kept_lock = threading.Lock()


def _day_param(name: str) -> Any:
    return sa.bindparam(name, type_=sa.Date())


def _time_param(name: str) -> Any:
    return sa.bindparam(name, type_=UTCDateTime())


CURRENCY = sa.bindparam("currency", type_=sa.String())


@dataclass(frozen=True)
class Read:
    """One figure over one or more windows [start, end): `params` are the values of the named
    parameters its parts use besides the windows' (the currency)."""

    name: str
    windows: tuple[tuple[datetime, datetime], ...]
    rolled_part: Build
    live_part: Build
    params: tuple[tuple[str, Any], ...] = ()
    # per day figures: a raw range within one UTC day read without computing each row's day
    # (`(i, start, end, day)`: that day a bound parameter, no GROUP BY): half the work
    one_day_part: Build | None = None


def _one_day(start: datetime, end: datetime) -> bool:
    return start.date() == (end - timedelta(microseconds=1)).date()


def _part(dialect: str, read: Read, splits: list[Split], rolled: bool, live: bool) -> Any:
    """The read's statement over its rolled days, its raw ranges or both; each row ends with
    0 (a rolled row) or 1 (a raw one)."""
    shape = tuple(
        (
            (found.days is not None) if rolled else False,
            tuple(read.one_day_part is not None and _one_day(*found_live) for found_live in found.live) if live else (),
        )
        for found in splits
    )
    key = (dialect, read.name, shape)
    statement = _STATEMENTS.get(key)
    if statement is None:
        selects: list[Any] = []
        for i, found in enumerate(splits):
            if rolled and found.days is not None:
                selects += [
                    part.add_columns(literal_column("0").label("raw"))
                    for part in read.rolled_part(i, _day_param(f"{read.name}_a{i}"), _day_param(f"{read.name}_b{i}"))
                ]
            for j, one_day in enumerate(shape[i][1]):
                bounds = (i, _time_param(f"{read.name}_s{i}_{j}"), _time_param(f"{read.name}_e{i}_{j}"))
                parts = (
                    read.one_day_part(*bounds, _day_param(f"{read.name}_d{i}_{j}"))  # type: ignore[misc]
                    if one_day
                    else read.live_part(*bounds)
                )
                selects += [part.add_columns(literal_column("1").label("raw")) for part in parts]
        statement = selects[0] if len(selects) == 1 else union_all(*selects)
        with _statements_lock:
            _STATEMENTS[key] = statement
    return statement


def _part_values(read: Read, splits: list[Split], rolled: bool, live: bool) -> dict[str, Any]:
    values: dict[str, Any] = dict(read.params)
    for i, found in enumerate(splits):
        if rolled and found.days is not None:
            values[f"{read.name}_a{i}"], values[f"{read.name}_b{i}"] = found.days
        for j, (start, end) in enumerate(found.live if live else ()):
            values[f"{read.name}_s{i}_{j}"], values[f"{read.name}_e{i}_{j}"] = start, end
            if read.one_day_part is not None and _one_day(start, end):
                values[f"{read.name}_d{i}_{j}"] = start.date()
    return values


def _merge(params: dict[str, Any], values: dict[str, Any]) -> None:
    for name, value in values.items():
        if name in params and params[name] != value:
            raise ValueError(f"two reads of one fetch give {name!r} different values")
        params[name] = value


def forget_rolled() -> None:
    """Drop the kept rolled parts (tests that rebuild a database under one URL do not need to:
    each roll-up run has a new generation)."""
    with _kept_lock:
        _kept.clear()


def fetch(
    session: Session,
    reads: list[Read],
    rolled: Rolled | None = None,
    extra: dict[str, Any] | None = None,
    extra_params: dict[str, Any] | None = None,
) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    """Every read's rows (its rolled days' and its raw ranges'), by name, and the rows of the
    `extra` selects (run in the same round trip, with `extra_params`), by name."""
    rolled = rolled if rolled is not None else rolled_days(session)
    bind = session.get_bind()
    dialect, where = bind.dialect.name, str(bind.url)
    statements: dict[str, Any] = {}
    params: dict[str, Any] = dict(extra_params or {})
    kept: dict[str, list[Any]] = {}
    to_keep: dict[str, tuple[Any, ...]] = {}
    for read in reads:
        splits = [split(start, end, rolled) for start, end in read.windows]
        has_rolled, has_live = any(f.days is not None for f in splits), any(f.live for f in splits)
        if has_rolled:
            key = (where, rolled.generation, read.name, tuple(found.days for found in splits), read.params)
            with _kept_lock:
                rows = _kept.get(key) if rolled.generation else None
                if rows is not None:
                    _kept.move_to_end(key)
            if rows is not None:
                kept[read.name] = rows
                has_rolled = False
            elif rolled.generation:
                to_keep[read.name] = key
        if has_rolled or has_live:  # one statement: what is not kept, rolled and raw rows tagged
            statements[read.name] = _part(dialect, read, splits, has_rolled, has_live)
            _merge(params, _part_values(read, splits, has_rolled, has_live))
    names = set(statements)
    if names & set(extra or {}):
        raise ValueError(f"a read and an extra select share a name: {sorted(names & set(extra or {}))}")
    statements.update(extra or {})
    got = smplat_db.fetch_many(session, statements, params)
    out: dict[str, list[Any]] = {}
    for read in reads:
        rows = got.get(read.name, []) if read.name in names else []
        rolled_rows = [tuple(row[:-1]) for row in rows if int(row[-1]) == 0]
        if read.name in to_keep:
            with _kept_lock:
                _kept[to_keep[read.name]] = rolled_rows
                while len(_kept) > ROLLED_KEPT:
                    _kept.popitem(last=False)
        raw_rows = [tuple(row[:-1]) for row in rows if int(row[-1]) == 1]
        out[read.name] = [*kept.get(read.name, rolled_rows), *raw_rows]
    return out, {name: got[name] for name in extra or {}}


def _one(session: Session, read: Read, rolled: Rolled | None) -> list[Any]:
    return fetch(session, [read], rolled)[0][read.name]


def _tag(i: int) -> Any:
    return literal_column(str(int(i))).label("window")


def sales_read(session: Session, windows: list[tuple[datetime, datetime]], currency: str) -> Read:
    """Per window and UTC day with paid orders: (window, day, paid orders, revenue charged less
    refunded)."""
    d = DailySales

    def rolled_part(i: int, a: Any, b: Any) -> list[Any]:
        return [
            select(_tag(i), d.day, d.paid_orders, d.charged_minor - d.refunded_minor).where(
                d.currency == CURRENCY, d.day >= a, d.day <= b, d.paid_orders > 0
            )
        ]

    def live_part(i: int, s: Any, e: Any) -> list[Any]:
        day = day_of(session, Order.created_at)
        return [
            select(_tag(i), day, func.count(), func.sum(Order.charged_minor - Order.refunded_minor))
            .where(*paid_in(s, e, CURRENCY))
            .group_by(day)
        ]

    def one_day_part(i: int, s: Any, e: Any, day: Any) -> list[Any]:  # one row, (day, 0, None) if none
        return [
            select(_tag(i), day, func.count(), func.sum(Order.charged_minor - Order.refunded_minor)).where(
                *paid_in(s, e, CURRENCY)
            )
        ]

    return Read(f"sales{len(windows)}", tuple(windows), rolled_part, live_part, (("currency", currency),), one_day_part)


def sales_from(rows: list[Any], windows: int) -> list[dict[date, tuple[int, int]]]:
    out: list[dict[date, tuple[int, int]]] = [{} for _ in range(windows)]
    for i, day, n, revenue in rows:
        if not int(n):  # a raw range within one day without paid orders (`one_day_part`)
            continue
        found, key = out[int(i)], as_day(day)
        before = found.get(key, (0, 0))
        found[key] = (before[0] + int(n), before[1] + int(revenue or 0))
    return out


def sales_windows(
    session: Session, windows: list[tuple[datetime, datetime]], currency: str, rolled: Rolled | None = None
) -> list[dict[date, tuple[int, int]]]:
    """For each window [start, end): per UTC day with paid orders, (paid orders, revenue charged
    less refunded). One statement for all the windows (and the rolled run's lookup unless given)."""
    return sales_from(_one(session, sales_read(session, windows, currency), rolled), len(windows))


def sales_by_day(
    session: Session, start: datetime, end: datetime, currency: str, rolled: Rolled | None = None
) -> dict[date, tuple[int, int]]:
    """Per UTC day with paid orders in [start, end): (paid orders, revenue charged less refunded)."""
    return sales_windows(session, [(start, end)], currency, rolled)[0]


def day_totals(days: dict[date, tuple[int, int]]) -> tuple[int, int]:
    """(paid orders, revenue) of a window's days."""
    return sum(n for n, _ in days.values()), sum(r for _, r in days.values())


def sales_totals(
    session: Session, start: datetime, end: datetime, currency: str, rolled: Rolled | None = None
) -> tuple[int, int]:
    """(paid orders, revenue charged less refunded) of the orders created in [start, end)."""
    return day_totals(sales_by_day(session, start, end, currency, rolled))


def all_time(session: Session, currency: str, rolled: Rolled | None = None) -> tuple[int, int]:
    """(every order ever, revenue of them in `currency`): roll-up sums plus the days after."""
    d = DailySales

    def rolled_part(_i: int, a: Any, b: Any) -> list[Any]:
        revenue = func.sum(d.charged_minor - d.refunded_minor).filter(d.currency == CURRENCY)
        return [select(func.coalesce(func.sum(d.orders), 0), func.coalesce(revenue, 0)).where(d.day >= a, d.day <= b)]

    def live_part(_i: int, s: Any, e: Any) -> list[Any]:
        revenue = func.sum(Order.charged_minor - Order.refunded_minor).filter(
            Order.currency == CURRENCY, Order.charged_minor > 0
        )
        return [select(func.count(), func.coalesce(revenue, 0)).where(*_in(Order.created_at, s, e))]

    rows = _one(
        session, Read("all_time", ((EPOCH, FOREVER),), rolled_part, live_part, (("currency", currency),)), rolled
    )
    return sum(int(n) for n, _ in rows), sum(int(r) for _, r in rows)


def funnel_read(session: Session, start: datetime, end: datetime) -> Read:
    """Carts and checkout sessions created in [start, end)."""
    r = DailyRollup

    def rolled_part(_i: int, a: Any, b: Any) -> list[Any]:
        return [
            select(func.coalesce(func.sum(r.carts), 0), func.coalesce(func.sum(r.checkouts), 0)).where(
                r.day >= a, r.day <= b
            )
        ]

    return Read("funnel", ((start, end),), rolled_part, lambda _i, s, e: _raw_funnel(session, s, e, False))


def funnel_from(rows: list[Any]) -> tuple[int, int]:
    return sum(int(c) for c, _ in rows), sum(int(k) for _, k in rows)


def carts_and_checkouts(
    session: Session, start: datetime, end: datetime, rolled: Rolled | None = None
) -> tuple[int, int]:
    """Carts and checkout sessions created in [start, end)."""
    return funnel_from(_one(session, funnel_read(session, start, end), rolled))


def activity_read(session: Session, start: datetime, end: datetime) -> Read:
    """Provider slug, succeeded, failed and other calls, provider orders placed."""
    p = DailyProviderStats

    def rolled_part(_i: int, a: Any, b: Any) -> list[Any]:
        return [
            select(Provider.slug, func.sum(p.succeeded), func.sum(p.failed), func.sum(p.other), func.sum(p.placed))
            .join(Provider, Provider.id == p.provider_id)
            .where(p.day >= a, p.day <= b)
            .group_by(Provider.slug)
        ]

    return Read("activity", ((start, end),), rolled_part, lambda _i, s, e: _raw_activity(session, s, e, False))


def activity_from(rows: list[Any]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for slug, *counts in rows:
        slot = out.setdefault(slug, [0, 0, 0, 0])
        for i, n in enumerate(counts):
            slot[i] += int(n or 0)
    return out


def provider_activity(
    session: Session, start: datetime, end: datetime, rolled: Rolled | None = None
) -> dict[str, list[int]]:
    """Provider slug -> [succeeded, failed, other calls, provider orders placed]."""
    return activity_from(_one(session, activity_read(session, start, end), rolled))


def revenue_read(session: Session, start: datetime, end: datetime, currency: str) -> Read:
    """Product id, title and revenue of its paid lines, for orders created in [start, end)."""
    s_ = DailyServiceStats

    def rolled_part(_i: int, a: Any, b: Any) -> list[Any]:
        return [
            select(s_.product_id, func.max(s_.product_title), func.sum(s_.revenue_minor))
            .where(s_.currency == CURRENCY, s_.provider_id.is_(None), s_.day >= a, s_.day <= b, s_.product_title != "")
            .group_by(s_.product_id)
        ]

    return Read(
        "revenue",
        ((start, end),),
        rolled_part,
        lambda _i, s, e: [_raw_revenue(session, s, e, CURRENCY, False)],
        (("currency", currency),),
    )


def revenue_from(rows: list[Any]) -> dict[Any, tuple[str, int]]:
    out: dict[Any, tuple[str, int]] = {}
    for product_id, title, revenue in rows:
        before_title, before = out.get(product_id, ("", 0))
        out[product_id] = (max(before_title, title or ""), before + int(revenue or 0))
    return out


def service_revenue(
    session: Session, start: datetime, end: datetime, currency: str, rolled: Rolled | None = None
) -> dict[Any, tuple[str, int]]:
    """Product id -> (title, revenue of its paid lines) for orders created in [start, end)."""
    return revenue_from(_one(session, revenue_read(session, start, end, currency), rolled))


def costs_read(session: Session, start: datetime, end: datetime, currency: str) -> Read:
    """Product id, provider slug, cost in major units, revenue share in minor units."""
    s_ = DailyServiceStats

    def rolled_part(_i: int, a: Any, b: Any) -> list[Any]:
        return [
            select(s_.product_id, Provider.slug, func.sum(s_.cost), func.sum(s_.revenue_share))
            .join(Provider, Provider.id == s_.provider_id)
            .where(s_.currency == CURRENCY, s_.day >= a, s_.day <= b)
            .group_by(s_.product_id, Provider.slug)
        ]

    return Read(
        "costs",
        ((start, end),),
        rolled_part,
        lambda _i, s, e: [_raw_costs(session, s, e, CURRENCY, False)],
        (("currency", currency),),
    )


def costs_from(rows: list[Any]) -> dict[tuple[Any, str], tuple[Decimal, Decimal]]:
    out: dict[tuple[Any, str], tuple[Decimal, Decimal]] = {}
    for product_id, slug, cost, share in rows:
        before_cost, before_share = out.get((product_id, slug), (Decimal(0), Decimal(0)))
        out[(product_id, slug)] = (before_cost + _exact(cost), before_share + _exact(share))
    return out


def service_costs(
    session: Session, start: datetime, end: datetime, currency: str, rolled: Rolled | None = None
) -> dict[tuple[Any, str], tuple[Decimal, Decimal]]:
    """(product id, provider slug) -> (cost in major units, revenue share in minor units)."""
    return costs_from(_one(session, costs_read(session, start, end, currency), rolled))


def completion_read(session: Session, start: datetime, end: datetime) -> Read:
    """Product id, completed lines and their seconds in total, of lines created in [start, end)."""
    s_ = DailyServiceStats

    def rolled_part(_i: int, a: Any, b: Any) -> list[Any]:
        return [
            select(s_.product_id, func.sum(s_.completed_lines), func.sum(s_.completion_seconds))
            .where(s_.provider_id.is_(None), s_.completed_lines > 0, s_.day >= a, s_.day <= b)
            .group_by(s_.product_id)
        ]

    return Read("completion", ((start, end),), rolled_part, lambda _i, s, e: [_raw_completion(session, s, e, False)])


def completion_from(rows: list[Any]) -> dict[int, tuple[int, Decimal]]:
    out: dict[int, tuple[int, Decimal]] = {}
    for product_id, lines, seconds in rows:
        before_lines, before_seconds = out.get(int(product_id), (0, Decimal(0)))
        out[int(product_id)] = (before_lines + int(lines), before_seconds + _exact(seconds, MILLISECOND))
    return out


def completion(
    session: Session, start: datetime, end: datetime, rolled: Rolled | None = None
) -> dict[int, tuple[int, Decimal]]:
    """Product id -> (completed lines, their seconds in total) of lines created in [start, end)."""
    return completion_from(_one(session, completion_read(session, start, end), rolled))


def payments_read(session: Session, start: datetime, end: datetime) -> Read:
    """Source, kind or event type, status, count and amount."""
    p = DailyPaymentStats

    def rolled_part(_i: int, a: Any, b: Any) -> list[Any]:
        return [
            select(p.source, p.kind, p.status, func.sum(p.count), func.sum(p.amount_minor))
            .where(p.day >= a, p.day <= b)
            .group_by(p.source, p.kind, p.status)
        ]

    return Read("payments", ((start, end),), rolled_part, lambda _i, s, e: _raw_payments(session, s, e, False))


def payments_from(rows: list[Any]) -> dict[tuple[str, str, str], tuple[int, int]]:
    out: dict[tuple[str, str, str], tuple[int, int]] = {}
    for source, kind, status, n, amount in rows:
        before = out.get((source, kind or "", status), (0, 0))
        out[(source, kind or "", status)] = (before[0] + int(n), before[1] + int(amount or 0))
    return out


def payment_outcomes(
    session: Session, start: datetime, end: datetime, rolled: Rolled | None = None
) -> dict[tuple[str, str, str], tuple[int, int]]:
    """(source, kind or event type, status) -> (count, amount)."""
    return payments_from(_one(session, payments_read(session, start, end), rolled))
