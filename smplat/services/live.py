"""What each live operator page polls: ONE cheap statement per page that changes whenever what
the page shows may have changed (`smplat.ui.state.live.LiveState` compares it each tick and
reloads only when it moved).

Each version is a row of scalar subqueries, kept to index lookups: maxima of primary keys of
append-mostly tables (every status change, payment, note and message of an order appends an
order event; every provider call a fulfilment attempt; every job run a row), counts over
indexed columns, and newest changes of small tables or of the few rows of one order or one
customer. The home, the order queue and Analytics use `admin_orders.live_version` and
`analytics.live_version`; the customer's own pages `client_orders.live_version`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from smplat.models.accounts import CustomerNote, User, UserSession
from smplat.models.analytics import SearchRecord
from smplat.models.checkout import CheckoutSession
from smplat.models.fulfillment import FulfillmentAttempt, FulfillmentTask, TaskStatus
from smplat.models.invoices import Invoice
from smplat.models.jobs import JobOutcome, JobRun
from smplat.models.merchandising import (
    CommerceCounter,
    PresetDailyMetric,
    PresetEvent,
    PriceExperiment,
    PriceExperimentVariant,
)
from smplat.models.orders import Order, OrderEvent, OrderItem
from smplat.models.payments import Payment
from smplat.models.profiles import LinkedProfile
from smplat.models.providers import ProviderOrder
from smplat.services.rollups import utc


def version_text(row: Any) -> str:
    """A version row as text, the same however it was read (through SQLAlchemy's types, or with
    a page's other reads by `db.fetch_many`, as the driver gives it: aware times on PostgreSQL,
    stored text on SQLite): times in UTC ISO form."""
    out = []
    for value in row:
        if value is None:
            out.append("")
        elif isinstance(value, datetime):
            out.append(utc(value).isoformat())
        elif isinstance(value, str):
            try:
                out.append(utc(value).isoformat())
            except ValueError:
                out.append(value)
        else:
            out.append(str(value))
    return "|".join(out)


def _one(session: Session, *columns: Any) -> str:
    """The version: one statement of scalar subqueries, joined as text."""
    return version_text(session.execute(select(*(c.scalar_subquery() for c in columns))).one())


def _newest(column: Any) -> Any:
    return select(func.max(column))


def newest_of(*columns: Any) -> Any:
    """A version statement: the newest value of each column (an index lookup each), one row;
    built once per page (module level) and read alone or among a page's reads."""
    return select(*(_newest(column).scalar_subquery() for column in columns))


def order(session: Session, number: str) -> str:
    """One order's page: the order row (status, payment status, refunds), its lines (delivered,
    remains), its timeline (events: status, payment, note, message, refill; fulfilment attempts),
    its provider orders (progress, new ones) and its payments."""
    order_id = select(Order.id).where(Order.number == number).scalar_subquery()
    items = select(OrderItem.id).where(OrderItem.order_id == order_id)
    return _one(
        session,
        select(Order.updated_at).where(Order.id == order_id),
        _newest(OrderItem.updated_at).where(OrderItem.order_id == order_id),
        _newest(OrderEvent.id).where(OrderEvent.order_id == order_id),
        _newest(FulfillmentAttempt.id).where(
            FulfillmentAttempt.task_id.in_(select(FulfillmentTask.id).where(FulfillmentTask.order_item_id.in_(items)))
        ),
        _newest(ProviderOrder.updated_at).where(ProviderOrder.order_item_id.in_(items)),
        _newest(Payment.updated_at).where(Payment.order_id == order_id),
    )


def jobs(session: Session) -> str:
    """Admin → Jobs: a run started (the newest id) or one finished (fewer running)."""
    return _one(
        session,
        _newest(JobRun.id),
        select(func.count(JobRun.id)).where(JobRun.outcome == JobOutcome.RUNNING.value),
    )


def sales(session: Session) -> str:
    """Admin → Sales: the checkout and webhook counters (a new paid order moves
    checkout_completed), new checkout sessions, experiments and their exposures/conversions,
    preset events."""
    return _one(
        session,
        _newest(CommerceCounter.updated_at),
        _newest(CheckoutSession.id),
        _newest(PriceExperiment.updated_at),
        select(func.sum(PriceExperimentVariant.exposures + PriceExperimentVariant.conversions)),
        _newest(PresetEvent.id),
    )


def _dead_letters() -> Any:
    return FulfillmentTask.status == TaskStatus.DEAD_LETTER.value


def fulfilment(session: Session) -> str:
    """Admin → Fulfilment: every processed task appends an attempt; dead letters now (retried or
    cancelled ones leave); provider orders flagged or settled."""
    return _one(
        session,
        _newest(FulfillmentAttempt.id),
        select(func.count(FulfillmentTask.id)).where(_dead_letters()),
        select(func.count(ProviderOrder.id)).where(ProviderOrder.flagged_at.is_not(None)),
        _newest(ProviderOrder.flagged_at),
    )


def dead_letters(session: Session) -> str:
    """Admin → Dead letters: how many, and the newest change among them (a new one, a held one
    decided; one retried or cancelled leaves and the count drops)."""
    return _one(
        session,
        select(func.count(FulfillmentTask.id)).where(_dead_letters()),
        _newest(FulfillmentTask.updated_at).where(_dead_letters()),
    )


def search_insights(session: Session) -> str:
    """Admin → Search insights: a new recorded search."""
    return _one(session, _newest(SearchRecord.id))


def merchandising(session: Session) -> str:
    """Admin → Merchandising: preset events (and their daily roll-ups), new order lines and
    payments (adoption counts paid lines)."""
    return _one(
        session,
        _newest(PresetEvent.id),
        _newest(PresetDailyMetric.id),  # a re-rolled day replaces its rows: new ids
        _newest(OrderItem.id),
        _newest(Payment.id),
    )


def invoices(session: Session) -> str:
    """Admin → Invoices: documents are issued once and never change; a new one."""
    return _one(session, _newest(Invoice.id))


def customers(session: Session) -> str:
    """Admin → Customers: a new account, a new order, a change on any order (its spend)."""
    return _one(session, _newest(User.id), _newest(Order.id), _newest(OrderEvent.id))


def customer(session: Session, user_id: int) -> str:
    """One customer's page: the account row (role, activity, last login), their orders, notes,
    sessions and linked profiles (index lookups by the user's id)."""
    return _one(
        session,
        select(User.updated_at).where(User.id == user_id),
        _newest(Order.updated_at).where(Order.user_id == user_id),
        _newest(CustomerNote.id).where(CustomerNote.user_id == user_id),
        _newest(UserSession.id).where(UserSession.user_id == user_id),
        select(func.count(UserSession.revoked_at)).where(UserSession.user_id == user_id),
        _newest(LinkedProfile.id).where(LinkedProfile.user_id == user_id),
        _newest(LinkedProfile.last_refreshed_at).where(LinkedProfile.user_id == user_id),
    )
