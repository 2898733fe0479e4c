"""Order reads for the admin (the client dashboard's are in `client_orders`)."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from smplat.models.orders import Order, OrderItem
from smplat.services.money import format_money
from smplat.services.rollups import utc


@functools.lru_cache(maxsize=64)
def recent_statement(limit: int = 50, offset: int = 0) -> Any:
    """The newest orders with their line counts, as columns (`recent_rows` reads them; a page
    may run it with its other reads in one round trip, `db.fetch_many`)."""
    items = select(func.count(OrderItem.id)).where(OrderItem.order_id == Order.id).scalar_subquery()
    return (
        select(
            Order.id,
            Order.number,
            Order.customer_email,
            Order.status,
            Order.payment_status,
            Order.total_minor,
            Order.currency,
            func.coalesce(Order.placed_at, Order.created_at),
            items,
        )
        .order_by(Order.created_at.desc())
        .limit(limit)
        .offset(offset)
    )


def recent_rows(rows: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            "id": int(order_id),
            "number": number,
            "customer_email": email,
            "status": status,
            "payment_status": payment_status,
            "total": format_money(int(total), currency),
            "items": int(items or 0),
            "placed_at": utc(placed).strftime("%Y-%m-%d %H:%M UTC"),
        }
        for order_id, number, email, status, payment_status, total, currency, placed, items in rows
    ]


def list_recent_orders(session: Session, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
    """The newest orders for the admin (one statement)."""
    return recent_rows(session.execute(recent_statement(limit, offset)).all())


def count_orders(session: Session, user_id: int | None = None) -> int:
    query = select(func.count()).select_from(Order)
    if user_id is not None:
        query = query.where(Order.user_id == user_id)
    return int(session.execute(query).scalar_one())
