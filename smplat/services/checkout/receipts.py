"""The receipt: the order as frozen at checkout, and the email sent once after commit.

`send_after_commit` is the only way a receipt is sent: whoever creates the order (webhook,
success page, the expiry job) calls it inside the unit of work; it queues a
`payment_receipt` notification (services/notifications.py) that goes out when that unit of
work commits (never for one that rolls back), once per order.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from smplat.models.orders import Order, OrderItem
from smplat.services import delivery_promise, pricing
from smplat.services.money import format_money

logger = logging.getLogger(__name__)


def delivery_text(snapshot: dict[str, Any]) -> str:
    """An order line's delivery promise as frozen at checkout (older orders: the same rule's
    words for the hours they were promised)."""
    if snapshot.get("delivery_promise"):
        return str(snapshot["delivery_promise"])
    hours = snapshot.get("delivery_estimate_hours")
    return delivery_promise.promise(int(hours), units=0, unit_label="").time_text if hours else ""


def order_view(session: Session, order_id: int) -> dict[str, Any] | None:
    order = session.get(Order, order_id)
    if order is None:
        return None
    items = session.execute(select(OrderItem).where(OrderItem.order_id == order.id).order_by(OrderItem.id)).scalars()
    from smplat.services.order_tracking import tracking_token

    # where the customer follows the order: their account's order page, or (a guest) the signed tracking link
    follow_path = f"/account/orders/{order.number}" if order.user_id else f"/track/{tracking_token(order)}"
    return {
        "number": order.number,
        "email": order.customer_email,
        "follow_path": follow_path,
        "total": format_money(order.total_minor, order.currency),
        "total_minor": order.total_minor,
        "currency": order.currency,
        "items": [
            {
                "title": item.product_title,
                "quantity": item.quantity,
                "summary": item.snapshot.get("summary", ""),
                "total": format_money(item.total_minor, item.currency),
                "billing": ""
                if item.snapshot["price"]["billing"] == "one_time"
                else f"every {item.snapshot['price']['interval']}",
                "fields": pricing.describe_fields(
                    item.snapshot.get("fields") or {}, item.snapshot.get("field_labels") or {}
                ),
                "bundle": (
                    f"{pricing.bundle_label(bundle['title'], bundle['discount_bps'])}: "
                    f"{format_money(-bundle['discount_minor'], item.currency)}"
                    if (bundle := item.snapshot.get("bundle"))
                    else ""
                ),
                "blueprint": [
                    {"label": b["label"], "tagline": b["tagline"]} for b in item.snapshot.get("blueprint", [])
                ],
                "delivery": delivery_text(item.snapshot),
                "breakdown": [
                    {"label": b["label"], "amount": format_money(b["amount_minor"], item.currency)}
                    for b in item.snapshot.get("price_breakdown", [])
                ],
            }
            for item in items
        ],
    }


def queue_receipt(session: Session, order_id: int) -> None:
    """The receipt: what was bought, with its blueprint copy, as frozen in the order. Queued in
    the caller's transaction (once per order: the event key), sent after commit."""
    from smplat.services.notifications import NotificationKind, notify_order

    notify_order(session, NotificationKind.PAYMENT_RECEIPT, order_id, f"payment_receipt:order:{order_id}")


def send_after_commit(session: Session, order_id: int) -> None:
    """Queue the receipt of a just-created order: it goes out when `session` commits (never for
    a unit of work that rolls back), and the jobs process retries it while SMTP is down."""
    queue_receipt(session, order_id)
