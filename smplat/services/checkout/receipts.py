"""The receipt: the order as frozen at checkout, and the email sent once after commit.

`send_after_commit` is the only way a receipt is sent: whoever creates the order (webhook,
success page, the expiry job) calls it inside the unit of work, and the email goes out
when that unit of work commits (never for one that rolls back).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from smplat.db import after_commit
from smplat.models.orders import Order, OrderItem
from smplat.services import delivery_promise, pricing
from smplat.services.money import format_money
from smplat.settings import get_settings

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


def send_receipt(session: Session, order_id: int) -> None:
    """The receipt email: what was bought, with its blueprint copy, as frozen in the order."""
    from smplat.services.email import send_email

    view = order_view(session, order_id)
    if view is None or not view["email"]:
        return
    settings = get_settings()
    lines = []
    for item in view["items"]:
        lines.append(f"- {item['title']} x {item['quantity']}: {item['total']} {item['billing']}".rstrip())
        if item["summary"]:
            lines.append(f"  {item['summary']}")
        for bp in item["blueprint"]:
            if bp["tagline"]:
                lines.append(f"  {bp['label']}: {bp['tagline']}")
        if item["delivery"]:
            lines.append(f"  {item['delivery']}")
        if item["bundle"]:
            lines.append(f"  {item['bundle']}")
        if item["fields"]:
            lines.append(f"  For: {item['fields']}")
    text = (
        f"Thank you for your order {view['number']}.\n\n"
        + "\n".join(lines)
        + f"\n\nTotal paid: {view['total']}\n\nWe have passed your order to delivery; follow it live at "
        f"{settings.public_base_url.rstrip('/')}{view['follow_path']}\n\nThe {settings.brand_name} team\n"
    )
    send_email(view["email"], f"Your {settings.brand_name} receipt for order {view['number']}", text)


def send_receipt_safely(order_id: int) -> None:
    """In its own unit of work: a mail server outage must not undo a paid order (it is logged)."""
    from smplat.db import session_scope

    try:
        with session_scope() as db:
            send_receipt(db, order_id)
    except Exception:
        logger.exception("receipt email for order %s failed", order_id)


def send_after_commit(session: Session, order_id: int) -> None:
    """Schedule the receipt of a just-created order for when `session` commits."""
    after_commit(session, lambda: send_receipt_safely(order_id))
