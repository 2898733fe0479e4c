"""Order reads for the admin (the client dashboard's are in `client_orders`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from smplat.models.orders import Order, OrderItem
from smplat.services.money import format_money


def _order_rows(session: Session, orders: list[Order]) -> list[dict[str, Any]]:
    ids = [order.id for order in orders]
    item_counts: dict[int, int] = {}
    if ids:
        item_counts = dict(
            session.execute(
                select(OrderItem.order_id, func.count()).where(OrderItem.order_id.in_(ids)).group_by(OrderItem.order_id)
            ).all()
        )
    return [
        {
            "id": order.id,
            "number": order.number,
            "customer_email": order.customer_email,
            "status": order.status,
            "payment_status": order.payment_status,
            "total": format_money(order.total_minor, order.currency),
            "items": item_counts.get(order.id, 0),
            "placed_at": (order.placed_at or order.created_at).strftime("%Y-%m-%d %H:%M UTC"),
        }
        for order in orders
    ]


def list_recent_orders(session: Session, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
    orders = (
        session.execute(select(Order).order_by(Order.created_at.desc()).limit(limit).offset(offset)).scalars().all()
    )
    return _order_rows(session, list(orders))


def count_orders(session: Session, user_id: int | None = None) -> int:
    query = select(func.count()).select_from(Order)
    if user_id is not None:
        query = query.where(Order.user_id == user_id)
    return int(session.execute(query).scalar_one())
