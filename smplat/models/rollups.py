"""Daily roll-ups of the sales dashboard (services/rollups.py): the `dashboard_rollup` job sums
each closed UTC day of orders, lines, provider orders, attempts, payments, webhooks, carts and
checkouts once, so the admin home and Analytics read a few rows per day instead of the raw
tables. Re-rolling a day replaces its rows; a day is rolled up when it has a `daily_rollups` row
(kept even for a day with nothing in it)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from smplat.models.base import UTCDateTime, currency_field, updated_at_field

# provider costs (major units), revenue shares and completion seconds are summed exactly
SUM_TYPE = sa.Numeric(28, 10)


class DailyRollup(SQLModel, table=True):
    """One UTC day the roll-up job has summed (the marker; today up to `through`), with the
    day's carts and checkout sessions (the funnel's middle, not per currency)."""

    __tablename__ = "daily_rollups"

    id: int | None = Field(default=None, primary_key=True)
    day: date = Field(sa_type=sa.Date, nullable=False, unique=True)
    carts: int = Field(default=0, nullable=False)
    checkouts: int = Field(default=0, nullable=False)
    # what the day's rows cover ends here: the next midnight, or for today the job's run
    through: datetime = Field(sa_type=UTCDateTime, nullable=False)
    rolled_at: datetime = updated_at_field()
    # the last run's random stamp, on every row (what readers keep rolled figures by)
    generation: str = Field(default="", max_length=32, nullable=False)


class DailySales(SQLModel, table=True):
    """Orders created on one UTC day in one currency: all of them, the paid ones (charged),
    what they were charged and what has been refunded of them so far."""

    __tablename__ = "daily_sales"
    __table_args__ = (sa.UniqueConstraint("day", "currency", name="uq_daily_sales_day_currency"),)

    id: int | None = Field(default=None, primary_key=True)
    day: date = Field(sa_type=sa.Date, nullable=False)
    currency: str = currency_field()
    orders: int = Field(default=0, nullable=False)
    paid_orders: int = Field(default=0, nullable=False)
    charged_minor: int = Field(default=0, sa_type=sa.BigInteger, nullable=False)
    refunded_minor: int = Field(default=0, sa_type=sa.BigInteger, nullable=False)


class DailyServiceStats(SQLModel, table=True):
    """Lines of the paid orders created on one UTC day, per currency and service (product):
    with `provider_id` empty, the lines' revenue and their completion times (completed lines
    and the sum of their seconds); with a provider, the provider charges of those lines and the
    share of the lines' revenue the provider was asked to deliver (the margin parts)."""

    __tablename__ = "daily_service_stats"

    id: int | None = Field(default=None, primary_key=True)
    day: date = Field(sa_type=sa.Date, nullable=False, index=True)
    currency: str = currency_field()
    product_id: int | None = Field(default=None, nullable=True)  # no key: a deleted product keeps its history
    provider_id: int | None = Field(default=None, foreign_key="providers.id", nullable=True, ondelete="CASCADE")
    product_title: str = Field(default="", max_length=200, nullable=False)
    revenue_minor: int = Field(default=0, sa_type=sa.BigInteger, nullable=False)
    cost: Decimal = Field(default=Decimal(0), sa_type=SUM_TYPE, nullable=False)
    revenue_share: Decimal = Field(default=Decimal(0), sa_type=SUM_TYPE, nullable=False)
    completed_lines: int = Field(default=0, nullable=False)
    completion_seconds: Decimal = Field(default=Decimal(0), sa_type=SUM_TYPE, nullable=False)


class DailyProviderStats(SQLModel, table=True):
    """A provider's calls on one UTC day by outcome, and the provider orders placed with it."""

    __tablename__ = "daily_provider_stats"
    __table_args__ = (sa.UniqueConstraint("day", "provider_id", name="uq_daily_provider_stats_day_provider"),)

    id: int | None = Field(default=None, primary_key=True)
    day: date = Field(sa_type=sa.Date, nullable=False)
    provider_id: int = Field(foreign_key="providers.id", nullable=False, ondelete="CASCADE")
    succeeded: int = Field(default=0, nullable=False)
    failed: int = Field(default=0, nullable=False)
    other: int = Field(default=0, nullable=False)
    placed: int = Field(default=0, nullable=False)


class DailyPaymentStats(SQLModel, table=True):
    """Payments (by kind and status, with their amount) and webhooks (by type and status) of one
    UTC day: `source` is "payment" or "webhook"."""

    __tablename__ = "daily_payment_stats"
    __table_args__ = (sa.UniqueConstraint("day", "source", "kind", "status", name="uq_daily_payment_stats_key"),)

    id: int | None = Field(default=None, primary_key=True)
    day: date = Field(sa_type=sa.Date, nullable=False)
    source: str = Field(max_length=10, nullable=False)
    kind: str = Field(max_length=100, nullable=False)
    status: str = Field(max_length=24, nullable=False)
    count: int = Field(default=0, nullable=False)
    amount_minor: int = Field(default=0, sa_type=sa.BigInteger, nullable=False)
