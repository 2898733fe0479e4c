"""Merchandising analytics: preset apply/clear roll-ups, windows, risky presets, blueprint adoption.

Raw `preset_events` (recorded only with analytics consent) are rolled up by the nightly
`merch_rollup` job into `preset_daily_metrics`, one row per UTC day, product, preset and source.
`rollup` rolls every day not yet rolled up plus yesterday again (a re-run replaces those days'
rows, so it is idempotent) and then prunes raw events older than
`merch_preset_event_retention_days`. Readers take the roll-ups and read what is not rolled up
yet (today, and any day the job missed) live from the raw table, in a fixed number of
statements.

Windows are the last N UTC days including today (7, 30, 90). A preset is risky when, over the
last 7 days, it was applied at least `merch_risky_min_applies` times and cleared at least
`merch_risky_clear_percent` % as often as it was applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlmodel import Session

from smplat.models.catalog import Product
from smplat.models.merchandising import PresetAction, PresetDailyMetric, PresetEvent
from smplat.models.orders import Order, OrderItem
from smplat.models.providers import Provider, ProviderOrder
from smplat.services.alerts import PAID_STATUSES
from smplat.services.rollups import as_day as _as_day
from smplat.services.rollups import day_of as _day_of
from smplat.services.rollups import utc as _utc
from smplat.settings import Settings, get_settings

WINDOWS = (7, 30, 90)
RISK_WINDOW = 7
ROLLING_DAYS = 7
CHART_DAYS = 30
ADOPTION_DAYS = (7, 30, 90)


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _today(now: datetime) -> date:
    return _utc(now).astimezone(UTC).date()


# --- the roll-up (the nightly job) ----------------------------------------------------------


def rollup(session: Session, now: datetime, settings: Settings | None = None) -> dict[str, int]:
    """Roll every finished day not yet rolled up, plus yesterday again, into
    `preset_daily_metrics` (a day's rows are replaced, so re-running is harmless); then prune
    raw events past the retention (their days are rolled up by then)."""
    settings = settings or get_settings()
    today = _today(now)
    yesterday = today - timedelta(days=1)
    last = session.execute(select(func.max(PresetDailyMetric.day))).scalar_one()
    if last is not None:
        start = min(_as_day(last) + timedelta(days=1), yesterday)
    else:
        first = session.execute(
            select(func.min(PresetEvent.created_at)).where(PresetEvent.created_at < _start_of(today))
        ).scalar_one()
        start = min(_utc(first).date(), yesterday) if first is not None else yesterday
    replaced = session.execute(
        delete(PresetDailyMetric).where(PresetDailyMetric.day >= start, PresetDailyMetric.day <= yesterday)
    ).rowcount
    day = _day_of(session, PresetEvent.created_at)
    e = PresetEvent
    rows = session.execute(
        select(day, e.product_id, e.preset_key, e.source, e.action, func.count())
        .where(e.created_at >= _start_of(start), e.created_at < _start_of(today))
        .group_by(day, e.product_id, e.preset_key, e.source, e.action)
    ).all()
    merged: dict[tuple[date, int, str, str], list[int]] = {}
    for d, product_id, key, source, action, count in rows:
        counts = merged.setdefault((_as_day(d), int(product_id), key, source), [0, 0])
        counts[0 if action == PresetAction.APPLY.value else 1] += int(count)
    for (d, product_id, key, source), (applies, clears) in sorted(merged.items()):
        session.add(
            PresetDailyMetric(
                day=d, product_id=product_id, preset_key=key, source=source, applies=applies, clears=clears
            )
        )
    session.flush()
    cutoff = _start_of(today - timedelta(days=settings.merch_preset_event_retention_days))
    pruned = session.execute(delete(PresetEvent).where(PresetEvent.created_at < cutoff)).rowcount
    return {
        "days": (yesterday - start).days + 1,
        "rows": len(merged),
        "replaced": int(replaced or 0),
        "pruned": int(pruned or 0),
    }


# --- reading: windows, rolling averages, risky presets --------------------------------------


@dataclass(frozen=True)
class Window:
    days: int
    applies: int
    clears: int

    @property
    def net(self) -> int:
        return self.applies - self.clears

    @property
    def clear_rate(self) -> float | None:
        """Clears per apply, in percent (None without applies)."""
        return None if not self.applies else round(100 * self.clears / self.applies, 1)


def is_risky(applies: int, clears: int, settings: Settings) -> bool:
    """The one risky-preset rule (page flag and alert): integer arithmetic, no rounding."""
    return applies >= settings.merch_risky_min_applies and clears * 100 >= settings.merch_risky_clear_percent * applies


@dataclass
class PresetStats:
    product_id: int
    product: str
    preset_key: str
    windows: dict[int, Window] = field(default_factory=dict)
    by_source: dict[str, int] = field(default_factory=dict)  # applies over the longest window
    risky: bool = False


@dataclass
class PresetReport:
    presets: list[PresetStats]
    series: list[dict[str, Any]]  # per day: applies, clears and their 7-day rolling averages

    @property
    def risky(self) -> list[PresetStats]:
        return [p for p in self.presets if p.risky]


def _daily_counts(
    session: Session, today: date, first_day: date
) -> tuple[dict[tuple[date, int, str, str], list[int]], dict[int, str]]:
    """(day, product, preset, source) -> [applies, clears] from `first_day` to today, and the
    product titles: roll-ups, then the days not rolled up yet read live (three statements)."""
    m = PresetDailyMetric
    last = session.execute(select(func.max(m.day))).scalar_one()
    live_from = max(_as_day(last) + timedelta(days=1), first_day) if last is not None else first_day
    counts: dict[tuple[date, int, str, str], list[int]] = {}
    titles: dict[int, str] = {}
    for d, product_id, title, key, source, applies, clears in session.execute(
        select(m.day, m.product_id, Product.title, m.preset_key, m.source, m.applies, m.clears)
        .join(Product, Product.id == m.product_id)
        .where(m.day >= first_day, m.day < live_from)
    ).all():
        counts[(_as_day(d), int(product_id), key, source)] = [int(applies), int(clears)]
        titles[int(product_id)] = title
    e = PresetEvent
    day = _day_of(session, e.created_at)
    for d, product_id, title, key, source, action, n in session.execute(
        select(day, e.product_id, Product.title, e.preset_key, e.source, e.action, func.count())
        .join(Product, Product.id == e.product_id)
        .where(e.created_at >= _start_of(live_from), e.created_at < _start_of(today + timedelta(days=1)))
        .group_by(day, e.product_id, Product.title, e.preset_key, e.source, e.action)
    ).all():
        slot = counts.setdefault((_as_day(d), int(product_id), key, source), [0, 0])
        slot[0 if action == PresetAction.APPLY.value else 1] += int(n)
        titles[int(product_id)] = title
    return counts, titles


def preset_report(session: Session, now: datetime, settings: Settings | None = None) -> PresetReport:
    """Per preset: applies, clears, clear rate and net over 7/30/90 days with the risky flag;
    per day of the last 30: totals and 7-day rolling averages. Three statements."""
    settings = settings or get_settings()
    today = _today(now)
    longest = max(WINDOWS)
    first_day = today - timedelta(days=max(longest, CHART_DAYS + ROLLING_DAYS - 1) - 1)
    counts, titles = _daily_counts(session, today, first_day)
    presets: dict[tuple[int, str], PresetStats] = {}
    per_day: dict[date, list[int]] = {}
    sums: dict[tuple[int, str, int], list[int]] = {}
    for (d, product_id, key, source), (applies, clears) in counts.items():
        stats = presets.setdefault(
            (product_id, key), PresetStats(product_id, titles.get(product_id, str(product_id)), key)
        )
        age = (today - d).days
        for days in WINDOWS:
            if age < days:
                total = sums.setdefault((product_id, key, days), [0, 0])
                total[0] += applies
                total[1] += clears
        if age < longest:
            stats.by_source[source] = stats.by_source.get(source, 0) + applies
        day_total = per_day.setdefault(d, [0, 0])
        day_total[0] += applies
        day_total[1] += clears
    for (product_id, key), stats in presets.items():
        for days in WINDOWS:
            applies, clears = sums.get((product_id, key, days), [0, 0])
            stats.windows[days] = Window(days, applies, clears)
        week = stats.windows[RISK_WINDOW]
        stats.risky = is_risky(week.applies, week.clears, settings)
    series = []
    for offset in range(CHART_DAYS - 1, -1, -1):
        d = today - timedelta(days=offset)
        span = [per_day.get(d - timedelta(days=k), [0, 0]) for k in range(ROLLING_DAYS)]
        applies, clears = per_day.get(d, [0, 0])
        series.append(
            {
                "day": d.isoformat(),
                "applies": applies,
                "clears": clears,
                "applies_avg": round(sum(a for a, _ in span) / ROLLING_DAYS, 2),
                "clears_avg": round(sum(c for _, c in span) / ROLLING_DAYS, 2),
            }
        )
    ordered = sorted(presets.values(), key=lambda p: (not p.risky, -p.windows[30].applies, p.product, p.preset_key))
    return PresetReport(ordered, series)


def risky_presets(session: Session, now: datetime, settings: Settings | None = None) -> list[PresetStats]:
    return preset_report(session, now, settings).risky


# --- blueprint adoption ----------------------------------------------------------------------


@dataclass(frozen=True)
class Adoption:
    kind: str  # preset, add_on, provider
    name: str
    product: str  # "" for providers
    lines: int
    total_lines: int
    days: int

    @property
    def share(self) -> float | None:
        """Percent of the paid lines in the window (None without lines)."""
        return None if not self.total_lines else round(100 * self.lines / self.total_lines, 1)

    @property
    def per_day(self) -> float:
        return round(self.lines / self.days, 2)

    @property
    def per_30_days(self) -> float:
        """The run rate projected to 30 days."""
        return round(self.lines * 30 / self.days, 1)


def adoption(session: Session, now: datetime, days: int = 30) -> tuple[int, list[Adoption]]:
    """(paid lines placed in the last `days` days, adoption rows): how many of those lines used
    each preset and each add-on (from the purchase snapshot) and went to each provider (the
    line's current provider order, the latest one). Two statements."""
    since = _utc(now) - timedelta(days=days)
    paid = (Order.payment_status.in_(PAID_STATUSES), OrderItem.created_at >= since)
    lines = session.execute(
        select(OrderItem.id, OrderItem.product_title, OrderItem.snapshot)
        .join(Order, Order.id == OrderItem.order_id)
        .where(*paid)
    ).all()
    providers: dict[int, str] = {}
    for item_id, name in session.execute(
        select(ProviderOrder.order_item_id, Provider.name)
        .join(Provider, Provider.id == ProviderOrder.provider_id)
        .join(OrderItem, OrderItem.id == ProviderOrder.order_item_id)
        .join(Order, Order.id == OrderItem.order_id)
        .where(*paid)
        .order_by(ProviderOrder.id)
    ).all():
        providers[int(item_id)] = name  # the latest provider order wins (superseded ones are older)
    counted: dict[tuple[str, str, str], int] = {}
    for item_id, title, snapshot in lines:
        snapshot = snapshot or {}
        title = ((snapshot.get("product") or {}).get("title")) or title
        preset = snapshot.get("preset")
        if preset:
            counted[("preset", str(preset), title)] = counted.get(("preset", str(preset), title), 0) + 1
        for add_on in dict.fromkeys(snapshot.get("add_ons") or []):
            counted[("add_on", str(add_on), title)] = counted.get(("add_on", str(add_on), title), 0) + 1
        if int(item_id) in providers:
            key = ("provider", providers[int(item_id)], "")
            counted[key] = counted.get(key, 0) + 1
    order = {"preset": 0, "add_on": 1, "provider": 2}
    rows = [
        Adoption(kind, name, product, n, len(lines), days)
        for (kind, name, product), n in sorted(counted.items(), key=lambda kv: (order[kv[0][0]], -kv[1], kv[0]))
    ]
    return len(lines), rows
