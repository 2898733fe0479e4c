"""Operator actions on fulfilment: retry or cancel a dead-lettered task, request a refill
(an operator any time, a customer for their own line within the refill window), replay a
line now or at a scheduled time, and the job that queues scheduled replays when they are
due. Each action queues a task (sent by the fulfilment engine) or changes one, and writes
an order event saying who did it and why."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from smplat.models.base import utcnow
from smplat.models.fulfillment import FulfillmentTask, TaskKind, TaskStatus
from smplat.models.orders import Order, OrderEventKind, OrderItem, OrderStatus
from smplat.models.providers import (
    ProviderOrder,
    ProviderOrderStatus,
    ProviderService,
    Refill,
    RefillStatus,
    ReplayStatus,
    ScheduledReplay,
)
from smplat.services import order_status as states
from smplat.services.fulfillment.common import SUBMITTING_KINDS
from smplat.services.order_status import Actor
from smplat.settings import get_settings

# --- dead letters ---------------------------------------------------------------------------


class TaskActionError(ValueError):
    """The task is not in a state that allows this action."""


def retry_task(session: Session, task_id: int, actor: Actor, reason: str, *,
               now: datetime | None = None) -> FulfillmentTask:
    task = session.get(FulfillmentTask, task_id, with_for_update=session.get_bind().dialect.name == "postgresql")
    if task is None or task.status not in (TaskStatus.DEAD_LETTER.value, TaskStatus.FAILED.value):
        raise TaskActionError("only a dead-lettered or failed task can be retried")
    now = now or utcnow()
    task.status, task.attempts, task.next_attempt_at, task.updated_at = TaskStatus.PENDING.value, 0, now, now
    task.max_attempts = get_settings().fulfillment_max_attempts  # a retried task gets the current limit
    session.add(task)
    item = session.get(OrderItem, task.order_item_id)
    states.add_event(session, item.order_id, OrderEventKind.MANUAL_OVERRIDE, actor,
                     f"Task {task.id} ({task.kind}) retried by {actor.label}: {reason}", item.id, {"task_id": task.id, "action": "retry"}, at=now)
    if item.status == OrderStatus.ON_HOLD:
        states.set_item_status(session, item, OrderStatus.PENDING, actor, "Retried by an operator.", at=now)
    session.flush()
    return task


def cancel_task(session: Session, task_id: int, actor: Actor, reason: str, *,
                now: datetime | None = None) -> FulfillmentTask:
    task = session.get(FulfillmentTask, task_id, with_for_update=session.get_bind().dialect.name == "postgresql")
    if task is None or task.status not in (TaskStatus.DEAD_LETTER.value, TaskStatus.FAILED.value, TaskStatus.RETRY_WAIT.value):
        raise TaskActionError("only a dead-lettered, failed or waiting task can be canceled")
    now = now or utcnow()
    task.status, task.updated_at = TaskStatus.CANCELED.value, now
    session.add(task)
    item = session.get(OrderItem, task.order_item_id)
    states.add_event(session, item.order_id, OrderEventKind.MANUAL_OVERRIDE, actor,
                     f"Task {task.id} ({task.kind}) canceled by {actor.label}: {reason}", item.id, {"task_id": task.id, "action": "cancel"}, at=now)
    if task.kind in SUBMITTING_KINDS and item.delivered_quantity == 0 and states.can_move(item.status, OrderStatus.CANCELED):
        states.set_item_status(session, item, OrderStatus.CANCELED, actor, f"Canceled by an operator: {reason}", at=now)
    session.flush()
    return task


# --- refills and replays ----------------------------------------------------------------------


REFILLABLE = (ProviderOrderStatus.COMPLETED.value, ProviderOrderStatus.PARTIAL.value)


class RefillRefused(ValueError):
    """The refill or replay cannot be done; the message says why (shown to the user)."""


def _latest_delivered(session: Session, item_id: int) -> ProviderOrder | None:
    return session.execute(select(ProviderOrder).where(ProviderOrder.order_item_id == item_id,
                                                       ProviderOrder.external_order_id.is_not(None))
                           .order_by(ProviderOrder.id.desc()).limit(1)).scalars().first()


def _queue(session: Session, item: OrderItem, kind: str, key: str, payload: dict[str, Any],
           now: datetime) -> FulfillmentTask:
    task = FulfillmentTask(order_item_id=item.id, kind=kind, status=TaskStatus.PENDING.value, idempotency_key=key,
                           payload=payload, next_attempt_at=now, created_at=now, updated_at=now)
    session.add(task)
    session.flush()
    return task


def request_refill(session: Session, item_id: int, actor: Actor, reason: str, *, now: datetime | None = None,
                   customer_user_id: int | None = None) -> Refill:
    """Ask the provider to top up a delivered line. A customer (customer_user_id given) may
    only ask for their own order and within the service's refill window; an operator may
    always ask while the service offers refills."""
    now = now or utcnow()
    reason = (reason or "").strip()
    if not reason or len(reason) > 1000:
        raise RefillRefused("say why the refill is needed (at most 1000 characters)")
    item = session.get(OrderItem, item_id)
    if item is None:
        raise RefillRefused("no such order line")
    order = session.get(Order, item.order_id)
    if customer_user_id is not None and order.user_id != customer_user_id:
        raise RefillRefused("no such order line")
    po = _latest_delivered(session, item.id)
    if po is None or po.status not in REFILLABLE:
        raise RefillRefused("this line has not been delivered yet")
    service = session.get(ProviderService, po.provider_service_id)
    if not service.refill:
        raise RefillRefused("this service has no refill guarantee")
    if customer_user_id is not None:
        window = service.refill_window_days or 0
        delivered_at = po.completed_at or po.submitted_at
        if delivered_at is None or now > delivered_at + timedelta(days=window):
            raise RefillRefused(f"the refill window of {window} days has passed")
    busy = session.execute(select(Refill.id).where(Refill.provider_order_id == po.id, Refill.status.in_(
        (RefillStatus.REQUESTED.value, RefillStatus.PENDING.value, RefillStatus.IN_PROGRESS.value)))).first()
    if busy:
        raise RefillRefused("a refill of this line is already under way")
    refill = Refill(provider_order_id=po.id, status=RefillStatus.REQUESTED.value, requested_by_user_id=actor.user_id,
                    reason=reason, created_at=now, updated_at=now)
    session.add(refill)
    session.flush()
    _queue(session, item, TaskKind.REFILL.value, f"refill:{refill.id}", {"provider_order_id": po.id, "refill_id": refill.id},
           now)
    states.add_event(session, order.id, OrderEventKind.REFILL, actor,
                     f"Refill requested by {actor.label}: {reason}", item.id, {"refill_id": refill.id, "reason": reason}, at=now)
    return refill


def replay(session: Session, item_id: int, actor: Actor, reason: str, *, quantity: int | None = None,
           replay_key: str | None = None, now: datetime | None = None) -> FulfillmentTask:
    """Submit the line again (all of it, or `quantity` units), routed like a new order."""
    now = now or utcnow()
    reason = (reason or "").strip()
    if not reason:
        raise RefillRefused("say why the line is replayed")
    item = session.get(OrderItem, item_id)
    if item is None:
        raise RefillRefused("no such order line")
    if item.status == OrderStatus.CANCELED:
        raise RefillRefused("a canceled line cannot be replayed")
    units = quantity or item.service_quantity
    if units <= 0 or units > item.service_quantity:
        raise RefillRefused(f"quantity must be 1–{item.service_quantity}")
    key = replay_key or f"replay:item:{item.id}:{now.strftime('%Y%m%d%H%M%S%f')}"
    task = _queue(session, item, TaskKind.REPLAY.value, key, {"quantity": units, "reason": reason}, now)
    states.add_event(session, item.order_id, OrderEventKind.REPLAY, actor, f"Replay of {units} units by {actor.label}: {reason}",
                     item.id, {"task_id": task.id, "quantity": units, "reason": reason}, at=now)
    return task


def schedule_replay(session: Session, item_id: int, run_at: datetime, actor: Actor, reason: str,
                    *, now: datetime | None = None) -> ScheduledReplay:
    if run_at.tzinfo is None:
        raise RefillRefused("the replay time needs a time zone")
    now = now or utcnow()
    if run_at <= now:
        raise RefillRefused("the replay time must be in the future")
    reason = (reason or "").strip()
    if not reason:
        raise RefillRefused("say why the line is replayed")
    po = _latest_delivered(session, item_id)
    if po is None:
        raise RefillRefused("this line has no provider order to replay")
    scheduled = ScheduledReplay(provider_order_id=po.id, run_at=run_at, created_by_user_id=actor.user_id, reason=reason,
                                created_at=now, updated_at=now)
    session.add(scheduled)
    session.flush()
    item = session.get(OrderItem, item_id)
    states.add_event(session, item.order_id, OrderEventKind.REPLAY, actor,
                     f"Replay scheduled for {run_at:%Y-%m-%d %H:%M} UTC by {actor.label}: {reason}", item.id,
                     {"scheduled_replay_id": scheduled.id, "reason": reason}, at=now)
    return scheduled


def run_due_replays(session_factory: Any, now: datetime) -> dict[str, int]:
    """The scheduled-replays job: queue every replay that is due, once (the replay's id is in the task key)."""
    counts = {"queued": 0, "failed": 0}
    with session_factory() as session:
        due = list(session.execute(select(ScheduledReplay).where(ScheduledReplay.status == ReplayStatus.SCHEDULED.value,
                                                                 ScheduledReplay.run_at <= now).order_by(ScheduledReplay.id)
                                   .with_for_update(skip_locked=True)).scalars())
        for scheduled in due:
            po = session.get(ProviderOrder, scheduled.provider_order_id)
            actor = Actor.job("replays")
            try:
                task = replay(session, po.order_item_id, actor, f"scheduled: {scheduled.reason}", quantity=po.quantity,
                              replay_key=f"replay:scheduled:{scheduled.id}", now=now)
                scheduled.status, scheduled.result = ReplayStatus.COMPLETED.value, {"task_id": task.id}
                counts["queued"] += 1
            except RefillRefused as exc:
                scheduled.status, scheduled.result = ReplayStatus.FAILED.value, {"error": str(exc)}
                counts["failed"] += 1
            scheduled.executed_at = now
            session.add(scheduled)
    return counts
