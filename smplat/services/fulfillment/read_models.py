"""Read models of fulfilment for the operator pages: the dead letters and the metrics per
provider and task kind (one query each)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from smplat.models.fulfillment import (
    AttemptOutcome,
    FulfillmentAttempt,
    FulfillmentTask,
    TaskStatus,
)
from smplat.models.orders import Order, OrderItem


def dead_letters(session: Session, limit: int = 200) -> list[dict[str, Any]]:
    rows = session.execute(
        select(FulfillmentTask, OrderItem.product_title, Order.number)
        .join(OrderItem, OrderItem.id == FulfillmentTask.order_item_id)
        .join(Order, Order.id == OrderItem.order_id)
        .where(FulfillmentTask.status == TaskStatus.DEAD_LETTER.value)
        .order_by(FulfillmentTask.updated_at.desc(), FulfillmentTask.id.desc())
        .limit(limit)
    ).all()
    return [
        {
            "task_id": t.id,
            "kind": t.kind,
            "order": number,
            "product": title,
            "attempts": t.attempts,
            "error": t.last_error[:300],
            "updated": t.updated_at.strftime("%Y-%m-%d %H:%M UTC"),
            # held: the outcome of an add is unknown (docs/providers.md); the operator decides
            "held": bool((t.payload or {}).get("held")),
        }
        for t, title, number in rows
    ]


FAILED_OUTCOMES = (AttemptOutcome.RETRIED.value, AttemptOutcome.DEAD_LETTERED.value)


def metrics(session: Session, since: datetime | None = None) -> list[dict[str, Any]]:
    """Per provider and task kind: processed, succeeded, failed, retried, dead-lettered,
    ambiguous, waited, and mean / max provider latency (one aggregate query)."""
    a = FulfillmentAttempt
    query = select(
        a.provider_id, a.task_kind, a.outcome, func.count(), func.avg(a.latency_ms), func.max(a.latency_ms)
    ).group_by(a.provider_id, a.task_kind, a.outcome)
    if since is not None:
        query = query.where(a.created_at >= since)
    table: dict[tuple[int | None, str], dict[str, Any]] = {}
    weights: dict[tuple[int | None, str], tuple[float, int]] = {}
    for provider_id, kind, outcome, count, avg, mx in session.execute(query).all():
        row = table.setdefault(
            (provider_id, kind),
            {
                "provider_id": provider_id,
                "task_kind": kind,
                "processed": 0,
                "succeeded": 0,
                "failed": 0,
                "retried": 0,
                "dead_lettered": 0,
                "ambiguous": 0,
                "waited": 0,
                "reconciled": 0,
                "held": 0,
                "latency_avg_ms": 0,
                "latency_max_ms": 0,
            },
        )
        row["processed"] += count
        key = {
            "succeeded": "succeeded",
            "reconciled": "reconciled",
            "retried": "retried",
            "dead_lettered": "dead_lettered",
            "ambiguous": "ambiguous",
            "waited": "waited",
            "held": "held",
        }[outcome]
        row[key] += count
        if outcome in FAILED_OUTCOMES:
            row["failed"] += count
        if avg is not None:
            total, n = weights.get((provider_id, kind), (0.0, 0))
            weights[(provider_id, kind)] = (total + float(avg) * count, n + count)
            row["latency_max_ms"] = max(row["latency_max_ms"], int(mx or 0))
    for key, (total, n) in weights.items():
        table[key]["latency_avg_ms"] = round(total / n) if n else 0
    return sorted(table.values(), key=lambda r: (r["provider_id"] or 0, r["task_kind"]))


def flagged_provider_orders(
    session: Session, limit: int = 100, *, provider_id: int | None = None
) -> list[dict[str, Any]]:
    """Provider orders whose panel answered a status word outside the provider's dialect:
    the operator maps the word (provider page → dialect) or settles the order by hand."""
    from smplat.models.providers import Provider, ProviderOrder

    query = (
        select(ProviderOrder, Provider.name, Provider.id, Order.number)
        .join(Provider, Provider.id == ProviderOrder.provider_id)
        .join(OrderItem, OrderItem.id == ProviderOrder.order_item_id)
        .join(Order, Order.id == OrderItem.order_id)
        .where(ProviderOrder.flagged_at.is_not(None))
        .order_by(ProviderOrder.flagged_at.desc(), ProviderOrder.id.desc())
        .limit(limit)
    )
    if provider_id is not None:
        query = query.where(ProviderOrder.provider_id == provider_id)
    rows = session.execute(query).all()
    return [
        {
            "provider_order_id": po.id,
            "provider": name,
            "provider_id": provider_id,
            "order": number,
            "external_order_id": po.external_order_id or "",
            "raw_status": po.raw_status,
            "reason": po.flag_reason[:300],
            "raw_answer": json.dumps(po.last_response, sort_keys=True)[:400],
            "flagged": po.flagged_at.strftime("%Y-%m-%d %H:%M UTC"),
        }
        for po, name, provider_id, number in rows
    ]
