"""Admin dashboard figures: a handful of aggregate queries, no per-row work (all-time order
counts and revenue are roll-up sums plus the days not rolled up yet, services/rollups.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlmodel import Session

from smplat.models.accounts import Role, User
from smplat.models.base import utcnow
from smplat.models.catalog import Product, ProductStatus
from smplat.models.jobs import FAILING_OUTCOMES, JobRun
from smplat.models.orders import Order, OrderStatus
from smplat.services import rollups
from smplat.services.money import format_money

OPEN_STATUSES = (OrderStatus.PENDING.value, OrderStatus.PROCESSING.value, OrderStatus.ACTIVE.value)


@dataclass(frozen=True)
class Overview:
    active_products: int
    customers: int
    orders_total: int
    orders_open: int
    revenue: str
    job_runs_24h: int
    job_failures_24h: int


def overview(session: Session, currency: str = "EUR") -> Overview:
    since = utcnow() - timedelta(hours=24)
    active_products = session.execute(
        select(func.count()).select_from(Product).where(Product.status == ProductStatus.ACTIVE.value)
    ).scalar_one()
    customers = session.execute(
        select(func.count()).select_from(User).where(User.role == Role.CUSTOMER.value)
    ).scalar_one()
    orders_total, charged = rollups.all_time(session, currency)
    orders_open = session.execute(
        select(func.count()).select_from(Order).where(Order.status.in_(OPEN_STATUSES))
    ).scalar_one()
    runs, failures = session.execute(
        select(func.count(), func.count().filter(JobRun.outcome.in_(FAILING_OUTCOMES)))
        .select_from(JobRun)
        .where(JobRun.started_at >= since)
    ).one()
    return Overview(
        active_products=int(active_products),
        customers=int(customers),
        orders_total=int(orders_total),
        orders_open=int(orders_open),
        revenue=format_money(int(charged), currency),
        job_runs_24h=int(runs),
        job_failures_24h=int(failures),
    )
