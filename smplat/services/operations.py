"""Display rows for the operator pages (providers, dead letters, order detail, fulfilment
metrics): small dicts of strings, a fixed number of queries per page, no Reflex here."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from smplat.integrations.dialects import PanelDialect
from smplat.models.fulfillment import FulfillmentAttempt, FulfillmentTask, TaskStatus
from smplat.models.orders import Order, OrderEvent, OrderItem
from smplat.models.providers import Provider, ProviderOrder, ProviderOrderStatus, ProviderService
from smplat.services import invoices, pricing
from smplat.services.checkout import receipts
from smplat.services.fulfillment.read_models import metrics
from smplat.services.money import format_money

_TIME = "%Y-%m-%d %H:%M UTC"
DELIVERED_STATUSES = (ProviderOrderStatus.COMPLETED.value, ProviderOrderStatus.PARTIAL.value)


def _when(value: Any) -> str:
    return value.strftime(_TIME) if value is not None else "—"


def provider_form_values(session: Session, provider_id: int) -> dict[str, Any] | None:
    """The edit form's values. The API key is never returned, only whether one is set."""
    p = session.get(Provider, provider_id)
    if p is None:
        return None
    return {
        "id": p.id,
        "name": p.name,
        "slug": p.slug,
        "base_url": p.base_url,
        "rate_limit_per_second": str(p.rate_limit_per_second),
        "timeout_seconds": str(p.timeout_seconds),
        "low_balance_threshold": "" if p.low_balance_threshold is None else str(p.low_balance_threshold),
        "is_active": p.is_active,
        "key_set": bool(p.api_key_encrypted),
        "health": p.health_status,
        "balance": "" if p.balance is None else f"{p.balance} {p.balance_currency or ''}".strip(),
        "low_balance": p.balance is not None
        and p.low_balance_threshold is not None
        and p.balance < p.low_balance_threshold,
        "checked": _when(p.last_health_check_at),
        # the dialect as the admin edits it (every field, the preset filled in)
        "dialect": json.dumps(PanelDialect.from_stored(p.dialect).stored(), indent=2, sort_keys=True),
    }


def provider_services(session: Session, provider_id: int) -> list[dict[str, Any]]:
    """A provider's services, one query."""
    return [
        {
            "id": s.id,
            "service": s.external_service_id,
            "name": s.name,
            "category": s.category,
            "rate": f"{s.rate_per_1000.normalize():f} {s.currency}".strip(),
            "min": f"{s.min_quantity:,}",
            "max": f"{s.max_quantity:,}",
            "refill": "yes" if s.refill else "no",
            "cancel": "yes" if s.cancel else "no",
            "dripfeed": "yes" if s.dripfeed else "no",
            "status": s.status,
        }
        for s in session.execute(
            select(ProviderService)
            .where(ProviderService.provider_id == provider_id)
            .order_by(ProviderService.status, ProviderService.external_service_id)
        ).scalars()
    ]


def _item_row(item: OrderItem) -> dict[str, str | int]:
    """An order line as bought (its snapshot): the summary, the delivery link and the customer's
    fields; the link only when neither the summary nor a field already shows it."""
    snapshot = item.snapshot or {}
    summary = str(snapshot.get("summary", ""))
    fields = pricing.describe_fields(snapshot.get("fields") or {}, snapshot.get("field_labels") or {})
    link = str((snapshot.get("delivery") or {}).get("link", ""))
    return {
        "id": item.id,
        "product": item.product_title,
        "status": item.status,
        "ordered": f"{item.service_quantity:,}",
        "delivered": f"{item.delivered_quantity:,}",
        "remains": "—" if item.remains is None else f"{item.remains:,}",
        "summary": summary,
        "link": "" if link in summary or link in fields else link,
        "promise": receipts.delivery_text(snapshot),
        "fields": fields,
    }


def order_detail(session: Session, number: str) -> dict[str, Any] | None:
    """An order with its items, provider orders (superseded ones marked) and its timeline: order
    events and every fulfilment attempt (provider request and answer), newest first, and its
    invoice and credit notes (six queries)."""
    order = session.execute(select(Order).where(Order.number == number)).scalars().first()
    if order is None:
        return None
    items = list(
        session.execute(select(OrderItem).where(OrderItem.order_id == order.id).order_by(OrderItem.id)).scalars()
    )
    titles = {i.id: i.product_title for i in items}
    pos = session.execute(
        select(ProviderOrder, Provider.name)
        .join(Provider, Provider.id == ProviderOrder.provider_id)
        .where(ProviderOrder.order_item_id.in_(list(titles) or [0]))
        .order_by(ProviderOrder.id)
    ).all()
    events = list(
        session.execute(
            select(OrderEvent)
            .where(OrderEvent.order_id == order.id)
            .order_by(OrderEvent.created_at.desc(), OrderEvent.id.desc())
        ).scalars()
    )
    attempts = session.execute(
        select(FulfillmentAttempt, FulfillmentTask.order_item_id, Provider.name)
        .join(FulfillmentTask, FulfillmentTask.id == FulfillmentAttempt.task_id)
        .outerjoin(Provider, Provider.id == FulfillmentAttempt.provider_id)
        .where(FulfillmentTask.order_item_id.in_(list(titles) or [0]))
    ).all()
    timeline = [
        {
            "id": f"e{e.id}",
            "kind": e.kind,
            "actor": e.actor_label or e.actor_type,
            "message": e.message,
            "time": e.created_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
            "_at": (e.created_at, 1, e.id),
        }
        for e in events
    ] + [
        {
            "id": f"a{a.id}",
            "kind": "provider " + a.task_kind,
            "actor": name or "no provider",
            "message": f"{titles.get(item_id, '')}: {a.task_kind} → {a.outcome}"
            + (f" in {a.latency_ms} ms" if a.latency_ms is not None else "")
            + (f": {a.error}" if a.error else ""),
            "time": a.created_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
            "_at": (a.created_at, 0, a.id),
        }
        for a, item_id, name in attempts
    ]
    timeline.sort(key=lambda row: row.pop("_at"), reverse=True)
    newest_po = {po.order_item_id: po.id for po, _ in pos}  # ordered by id: the last one wins
    return {
        "id": order.id,
        "number": order.number,
        "status": order.status,
        "payment_status": order.payment_status,
        "customer": order.customer_email,
        "placed": _when(order.placed_at),
        "items": [_item_row(i) for i in items],
        "provider_orders": [
            {
                "id": po.id,
                "item_id": po.order_item_id,
                "product": titles.get(po.order_item_id, ""),
                "provider": name,
                "external_id": po.external_order_id or "not yet",
                "status": po.status,
                "quantity": f"{po.quantity:,}",
                "charge": "—" if po.charge is None else f"{po.charge.normalize():f} {po.charge_currency or ''}".strip(),
                "start_count": "—" if po.start_count is None else f"{po.start_count:,}",
                "remains": "—" if po.remains is None else f"{po.remains:,}",
                # superseded: a later provider order for the same line replaced this one (a retried
                # dead letter, a replay) and it delivered nothing: history, no actions offered
                "current": newest_po[po.order_item_id] == po.id or po.status in DELIVERED_STATUSES,
            }
            for po, name in pos
        ],
        "events": timeline,
        "invoices": invoices.for_order(session, order.id),
        "total": format_money(order.total_minor, order.currency),
        "charged": format_money(order.charged_minor, order.currency),
        "refunded": format_money(order.refunded_minor, order.currency),
        "refundable_minor": max(0, order.charged_minor - order.refunded_minor),
        "currency": order.currency,
    }


def dead_letter_count(session: Session) -> int:
    from sqlalchemy import func

    return session.execute(
        select(func.count()).where(FulfillmentTask.status == TaskStatus.DEAD_LETTER.value)
    ).scalar_one()


def metric_rows(session: Session) -> list[dict[str, Any]]:
    """metrics() with provider names (two queries)."""
    names = dict(session.execute(select(Provider.id, Provider.name)).all())
    return [
        {**m, "provider": names.get(m["provider_id"], "no provider") if m["provider_id"] else "no provider"}
        for m in metrics(session)
    ]
