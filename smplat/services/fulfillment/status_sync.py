"""Status sync: poll open provider orders and refills, move items and orders along, and
apply the Partial policy (re-route the rest, or refund it pro rata)."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from smplat.integrations.panel import MAX_STATUS_BATCH, PanelRefused, PanelUnavailable
from smplat.models.base import utcnow
from smplat.models.fulfillment import FulfillmentTask, TaskKind, TaskStatus
from smplat.models.orders import (
    Order,
    OrderEventKind,
    OrderItem,
    OrderStatus,
)
from smplat.models.providers import (
    Provider,
    ProviderOrder,
    ProviderOrderStatus,
    ProviderService,
    Refill,
    RefillStatus,
)
from smplat.services import order_status as states
from smplat.services.fulfillment.common import OPEN_PROVIDER_STATUSES, SYNC_ACTOR
from smplat.services.money import pro_rata
from smplat.services.providers import client_for
from smplat.settings import Settings, get_settings

logger = logging.getLogger(__name__)


def _delivered(po: ProviderOrder) -> int:
    if po.status in (ProviderOrderStatus.COMPLETED.value,):
        return po.quantity
    if po.status in (
        ProviderOrderStatus.PARTIAL.value,
        ProviderOrderStatus.CANCELED.value,
        ProviderOrderStatus.REFUNDED.value,
    ):
        return max(0, po.quantity - (po.remains if po.remains is not None else po.quantity))
    return 0


def sync_statuses(
    session_factory: Any, now: datetime | None = None, *, settings: Settings | None = None
) -> dict[str, int]:
    """Poll open provider orders (multi-status, <= 100 ids per call), map them to the item and
    order state machine, apply the Partial policy; then poll open refills."""
    settings = settings or get_settings()
    now = now or utcnow()
    with session_factory() as session:
        rows = list(
            session.execute(
                select(ProviderOrder.id, ProviderOrder.provider_id, ProviderOrder.external_order_id)
                .where(ProviderOrder.status.in_(OPEN_PROVIDER_STATUSES), ProviderOrder.external_order_id.is_not(None))
                .order_by(ProviderOrder.last_synced_at.is_not(None), ProviderOrder.last_synced_at, ProviderOrder.id)
                .limit(settings.status_sync_max_orders)
            ).all()
        )
        providers = {p.id: p for p in session.execute(select(Provider)).scalars()}
        refills = list(
            session.execute(
                select(Refill.id, ProviderOrder.provider_id, Refill.external_refill_id)
                .join(ProviderOrder, ProviderOrder.id == Refill.provider_order_id)
                .where(
                    Refill.status.in_((RefillStatus.PENDING.value, RefillStatus.IN_PROGRESS.value)),
                    Refill.external_refill_id.is_not(None),
                )
            ).all()
        )
    by_provider: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for po_id, provider_id, ext in rows:
        by_provider[provider_id].append((po_id, ext))

    async def fetch() -> tuple[dict[int, Any], dict[int, Any], int]:
        answers: dict[int, Any] = {}
        refill_answers: dict[int, Any] = {}
        failures = 0
        clients = {pid: client_for(providers[pid]) for pid in set(by_provider) | {r[1] for r in refills}}
        try:

            async def chunk(pid: int, part: list[tuple[int, str]]) -> None:
                nonlocal failures
                try:
                    result = await clients[pid].statuses([ext for _, ext in part])
                except (PanelUnavailable, PanelRefused) as exc:
                    failures += 1
                    logger.warning("status sync: provider %s: %s", pid, exc)
                    return
                for po_id, ext in part:
                    answers[po_id] = result.get(ext)

            async def refill_one(refill_id: int, pid: int, ext: str) -> None:
                try:
                    refill_answers[refill_id] = await clients[pid].refill_status(ext)
                except (PanelUnavailable, PanelRefused) as exc:
                    refill_answers[refill_id] = exc

            jobs = [
                chunk(pid, ids[i : i + MAX_STATUS_BATCH])
                for pid, ids in by_provider.items()
                for i in range(0, len(ids), MAX_STATUS_BATCH)
            ]
            jobs += [refill_one(r[0], r[1], r[2]) for r in refills]
            await asyncio.gather(*jobs)
        finally:
            for c in clients.values():
                await c.aclose()
        return answers, refill_answers, failures

    answers, refill_answers, failures = asyncio.run(fetch()) if (rows or refills) else ({}, {}, 0)
    counts: dict[str, int] = defaultdict(int)
    counts["polled"] = len(answers)
    counts["batch_failures"] = failures
    with session_factory() as session:
        pos = (
            {
                po.id: po
                for po in session.execute(select(ProviderOrder).where(ProviderOrder.id.in_(list(answers)))).scalars()
            }
            if answers
            else {}
        )
        for po_id in sorted(answers):
            apply_status(session, pos[po_id], answers[po_id], now, settings, counts)
        for refill_id, answer in sorted(refill_answers.items()):
            _apply_refill_status(session, refill_id, answer, now, counts)
    return dict(counts)


SUBSCRIPTION_TYPE = "subscriptions"  # the panel order type that runs until its posts or expiry


def _runs_over_time(session: Session, po: ProviderOrder) -> bool:
    """A running drip-feed or subscription is `active` (delivering over time, to its last run
    or its expiry), not `processing`: the customer and the operator see it so."""
    if po.runs:  # sent as a drip-feed (a service without one got the line in one run)
        return True
    service = session.get(ProviderService, po.provider_service_id)
    return service is not None and (service.type or "").strip().lower() == SUBSCRIPTION_TYPE


def apply_status(
    session: Session, po: ProviderOrder, answer: Any, now: datetime, settings: Settings, counts: dict[str, int]
) -> None:
    """Apply one provider answer, then tell the customer what changed for their order
    (started, partly delivered, completed: each once per order, queued in this transaction)."""
    changes = not (isinstance(answer, PanelRefused) or answer is None) and answer.status.value != po.status
    if not changes:
        _apply_status(session, po, answer, now, settings, counts)
        return
    item = session.get(OrderItem, po.order_item_id)
    order = session.get(Order, item.order_id)
    before = order.status
    _apply_status(session, po, answer, now, settings, counts)
    _notify_progress(session, order, before, po.status)


def _notify_progress(session: Session, order: Order, before: str, provider_status: str) -> None:
    from smplat.services import notifications
    from smplat.services.money import format_money

    kind, after = notifications.NotificationKind, order.status
    if provider_status in (ProviderOrderStatus.IN_PROGRESS.value, ProviderOrderStatus.PROCESSING.value):
        notifications.notify_order(session, kind.ORDER_STARTED, order.id, f"order_started:order:{order.id}")
    if after == before:
        return
    if after == OrderStatus.PARTIALLY_DELIVERED.value:
        refunded = format_money(order.refunded_minor, order.currency) if order.refunded_minor else ""
        key = f"order_partially_delivered:order:{order.id}"
        notifications.notify_order(session, kind.ORDER_PARTIALLY_DELIVERED, order.id, key, {"refunded": refunded})
    elif after == OrderStatus.COMPLETED.value:
        notifications.notify_order(session, kind.ORDER_COMPLETED, order.id, f"order_completed:order:{order.id}")


def _apply_status(
    session: Session, po: ProviderOrder, answer: Any, now: datetime, settings: Settings, counts: dict[str, int]
) -> None:
    po.last_synced_at = now
    if isinstance(answer, PanelRefused) or answer is None:
        po.error = (answer.message if answer else "missing from the answer")[:2000]
        session.add(po)
        counts["errors"] += 1
        return
    previous = po.status
    po.status, po.raw_status = answer.status.value, answer.raw_status
    po.charge, po.charge_currency = answer.charge, answer.currency
    po.start_count = answer.start_count if answer.start_count is not None else po.start_count
    po.remains = answer.remains if answer.remains is not None else po.remains
    po.last_response = {k: str(v) for k, v in answer.raw.items()}
    po.updated_at = now
    if answer.status == ProviderOrderStatus.UNKNOWN:
        # a word outside the dialect: kept open (polled again) and flagged, never guessed
        if po.flagged_at is None:
            po.flagged_at = now
            counts["flagged"] += 1
            logger.warning("provider order %s: unknown status word %r", po.id, answer.raw_status)
        po.flag_reason = f"Unknown status word {answer.raw_status!r}: map it in the provider's dialect"
    elif po.flagged_at is not None:
        po.flagged_at, po.flag_reason = None, ""
    session.add(po)
    if po.status == previous:
        counts["unchanged"] += 1
        return
    counts[po.status] += 1
    item = session.get(OrderItem, po.order_item_id)
    if item.start_count is None and po.start_count is not None:
        item.start_count = po.start_count
    st = po.status
    if st in (ProviderOrderStatus.IN_PROGRESS.value, ProviderOrderStatus.PROCESSING.value):
        target = OrderStatus.ACTIVE if _runs_over_time(session, po) else OrderStatus.PROCESSING
        if states.can_move(item.status, target):
            states.set_item_status(session, item, target, SYNC_ACTOR, f"Provider reports {answer.raw_status}.", at=now)
        return
    if st not in (
        ProviderOrderStatus.COMPLETED.value,
        ProviderOrderStatus.PARTIAL.value,
        ProviderOrderStatus.CANCELED.value,
        ProviderOrderStatus.REFUNDED.value,
    ):
        return
    po.completed_at = now
    delivered_here = _delivered(po)
    item.delivered_quantity += delivered_here
    item.remains = max(0, item.service_quantity - item.delivered_quantity)
    session.add(item)
    states.add_event(
        session,
        item.order_id,
        OrderEventKind.PROVIDER_ORDER,
        SYNC_ACTOR,
        f"Provider order #{po.external_order_id}: {answer.raw_status} — delivered {delivered_here} of {po.quantity}"
        + (f", start count {po.start_count}" if po.start_count is not None else "")
        + (f", charge {po.charge} {po.charge_currency or ''}".rstrip() if po.charge is not None else ""),
        item.id,
        {
            "provider_order_id": po.id,
            "status": st,
            "remains": po.remains,
            "start_count": po.start_count,
            "charge": str(po.charge) if po.charge is not None else None,
        },
        at=now,
    )
    if st == ProviderOrderStatus.COMPLETED.value:
        if item.delivered_quantity >= item.service_quantity and states.can_move(item.status, OrderStatus.COMPLETED):
            states.set_item_status(session, item, OrderStatus.COMPLETED, SYNC_ACTOR, "Delivered in full.", at=now)
        return
    remains = po.quantity - delivered_here
    if remains <= 0:
        if states.can_move(item.status, OrderStatus.COMPLETED):
            states.set_item_status(session, item, OrderStatus.COMPLETED, SYNC_ACTOR, "Delivered in full.", at=now)
        return
    from smplat.services.fulfillment.cancel import cancel_requested

    # an order canceled at our request (customer or operator): the rest is refunded, never re-routed
    policy = "refund" if cancel_requested(session, po.id) else None
    apply_partial_policy(session, item, po, remains, now, settings, counts, policy=policy)


def apply_partial_policy(
    session: Session,
    item: OrderItem,
    po: ProviderOrder,
    remains: int,
    now: datetime,
    settings: Settings,
    counts: dict[str, int],
    *,
    policy: str | None = None,
) -> None:
    """Re-route the undelivered rest (a new task, created once per provider order), or refund
    it: `money.pro_rata(line price, remains, line units)`, the one pro-rata rule (rounded once, down).
    `policy` overrides the setting (a canceled order is always refunded)."""
    if (policy or settings.fulfillment_partial_policy) == "reroute":
        from smplat.services.delivery import submit_key

        task = FulfillmentTask(
            order_item_id=item.id,
            kind=TaskKind.SUBMIT.value,
            status=TaskStatus.PENDING.value,
            idempotency_key=f"{submit_key(item.id)}:rest:{po.id}",
            payload={
                "quantity": remains,
                "exclude_service_ids": [po.provider_service_id],
                "reason": f"remainder of provider order {po.id}",
            },
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
        try:
            with session.begin_nested():
                session.add(task)
                session.flush()
        except Exception:
            counts["reroute_exists"] += 1
            return
        states.add_event(
            session,
            item.order_id,
            OrderEventKind.PROVIDER_ORDER,
            SYNC_ACTOR,
            f"{remains} undelivered units re-routed (policy: reroute)",
            item.id,
            {"remains": remains, "task_id": task.id, "policy": "reroute"},
            at=now,
        )
        if states.can_move(item.status, OrderStatus.PROCESSING):
            states.set_item_status(session, item, OrderStatus.PROCESSING, SYNC_ACTOR, "Remainder re-routed.", at=now)
        counts["rerouted"] += 1
        return
    order = session.get(Order, item.order_id)
    refund = pro_rata(item.total_minor, remains, item.service_quantity)
    from smplat.services.checkout.refunds import refund_undelivered  # money moves at Stripe, once per provider order

    refund_undelivered(
        session, order, refund, f"{remains} undelivered of {po.quantity}", f"provider-order:{po.id}:refund", SYNC_ACTOR
    )
    states.add_event(
        session,
        item.order_id,
        OrderEventKind.PAYMENT,
        SYNC_ACTOR,
        f"Refund of {refund} minor units for {remains} undelivered of {po.quantity} (policy: refund)",
        item.id,
        {"refund_minor": refund, "remains": remains, "quantity": po.quantity, "policy": "refund"},
        at=now,
    )
    target = OrderStatus.CANCELED if item.delivered_quantity == 0 else OrderStatus.PARTIALLY_DELIVERED
    if states.can_move(item.status, target):
        states.set_item_status(session, item, target, SYNC_ACTOR, f"{remains} units undelivered, refunded.", at=now)
    counts["refunded"] += 1


def _apply_refill_status(session: Session, refill_id: int, answer: Any, now: datetime, counts: dict[str, int]) -> None:
    refill = session.get(Refill, refill_id)
    refill.last_checked_at = now
    if isinstance(answer, Exception):
        refill.error = str(answer)[:2000]
        session.add(refill)
        return
    status, raw = answer
    if status.value == refill.status:
        session.add(refill)
        return
    refill.status, refill.updated_at = status.value, now
    session.add(refill)
    if status in (RefillStatus.COMPLETED, RefillStatus.REJECTED):
        po = session.get(ProviderOrder, refill.provider_order_id)
        item = session.get(OrderItem, po.order_item_id)
        states.add_event(
            session,
            item.order_id,
            OrderEventKind.REFILL,
            SYNC_ACTOR,
            f"Refill #{refill.external_refill_id}: {raw}",
            item.id,
            {"refill_id": refill.id, "status": status.value},
            at=now,
        )
        counts[f"refill_{status.value}"] += 1
        if status == RefillStatus.COMPLETED:
            from smplat.services import notifications

            notifications.notify_order(
                session,
                notifications.NotificationKind.REFILL_DONE,
                item.order_id,
                f"refill_done:refill:{refill.id}",
                {"item_title": item.product_title, "package": str((item.snapshot or {}).get("summary", ""))},
            )
