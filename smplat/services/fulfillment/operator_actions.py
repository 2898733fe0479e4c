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
from smplat.services import audit
from smplat.services import order_status as states
from smplat.services.errors import ErrorCode, ServiceError
from smplat.services.fulfillment.common import SUBMITTING_KINDS
from smplat.services.order_status import Actor
from smplat.services.permissions import Permission, require_permission
from smplat.settings import get_settings

# --- dead letters ---------------------------------------------------------------------------


REASON_MAX = 1000
OPERATOR_REASON_MISSING = "Say why (it goes on the order's timeline)."


class TaskActionError(ServiceError):
    """A retry or cancel that cannot be done: no such task (NOT_FOUND), a task in a state
    that does not allow it (CONFLICT), or no reason given (REQUIRED, field "reason")."""

    default_code = ErrorCode.CONFLICT


class RefillRefused(ServiceError):
    """A refill or replay that cannot be done; the code says what kind of no, the message why
    (shown to the operator or the customer): NOT_FOUND (no such line, or not theirs: never
    say which), NOT_ALLOWED (no refill guarantee, window passed), CONFLICT (not delivered
    yet, a refill under way, a canceled line), REQUIRED / INVALID (field "reason",
    "quantity" or "run_at")."""

    default_code = ErrorCode.NOT_ALLOWED


def _reason(reason: str | None, error: type[ServiceError], missing: str) -> str:
    """The operator's or customer's reason, stripped; it goes on the order's timeline, so
    every action requires one (a page guard is not enough: the rule lives here)."""
    reason = (reason or "").strip()
    if not reason:
        raise error(missing, code=ErrorCode.REQUIRED, field="reason")
    if len(reason) > REASON_MAX:
        raise error(f"the reason is too long (at most {REASON_MAX} characters)", code=ErrorCode.INVALID, field="reason")
    return reason


def _audit(session: Session, actor: Actor | audit.Actor, action: str, target_type: str, target_id: Any, **kw) -> None:
    """Staff actions (an `audit.Actor`) go in the audit log too; the scheduled-replay job's do not."""
    if isinstance(actor, audit.Actor):
        audit.record(session, actor, action, target_type, target_id, **kw)


def retry_task(
    session: Session, task_id: int, actor: Actor, reason: str, *, now: datetime | None = None
) -> FulfillmentTask:
    reason = _reason(reason, TaskActionError, OPERATOR_REASON_MISSING)
    task = session.get(FulfillmentTask, task_id, with_for_update=session.get_bind().dialect.name == "postgresql")
    if task is None:
        raise TaskActionError("no such task", code=ErrorCode.NOT_FOUND)
    if task.status not in (TaskStatus.DEAD_LETTER.value, TaskStatus.FAILED.value):
        raise TaskActionError("only a dead-lettered or failed task can be retried")
    if (task.payload or {}).get("held"):  # a retry would resubmit blindly: the operator decides instead
        raise TaskActionError("did it reach the panel? Confirm its order id, or submit it now")
    now = now or utcnow()
    before = audit.snapshot(task, ("status", "attempts"))
    task.status, task.attempts, task.next_attempt_at, task.updated_at = TaskStatus.PENDING.value, 0, now, now
    task.max_attempts = get_settings().fulfillment_max_attempts  # a retried task gets the current limit
    session.add(task)
    item = session.get(OrderItem, task.order_item_id)
    states.add_event(
        session,
        item.order_id,
        OrderEventKind.MANUAL_OVERRIDE,
        actor,
        f"Task {task.id} ({task.kind}) retried by {actor.label}: {reason}",
        item.id,
        {"task_id": task.id, "action": "retry"},
        at=now,
    )
    _audit(
        session,
        actor,
        "dead_letter.retry",
        "fulfillment_task",
        task.id,
        before=before,
        after=audit.snapshot(task, ("status", "attempts")),
        data={"reason": reason, "order_item_id": item.id},
    )
    if item.status == OrderStatus.ON_HOLD:
        states.set_item_status(session, item, OrderStatus.PENDING, actor, "Retried by an operator.", at=now)
    session.flush()
    return task


def cancel_task(
    session: Session, task_id: int, actor: Actor, reason: str, *, now: datetime | None = None
) -> FulfillmentTask:
    reason = _reason(reason, TaskActionError, OPERATOR_REASON_MISSING)
    task = session.get(FulfillmentTask, task_id, with_for_update=session.get_bind().dialect.name == "postgresql")
    if task is None:
        raise TaskActionError("no such task", code=ErrorCode.NOT_FOUND)
    if task.status not in (TaskStatus.DEAD_LETTER.value, TaskStatus.FAILED.value, TaskStatus.RETRY_WAIT.value):
        raise TaskActionError("only a dead-lettered, failed or waiting task can be canceled")
    now = now or utcnow()
    before = audit.snapshot(task, ("status",))
    task.status, task.updated_at = TaskStatus.CANCELED.value, now
    session.add(task)
    item = session.get(OrderItem, task.order_item_id)
    states.add_event(
        session,
        item.order_id,
        OrderEventKind.MANUAL_OVERRIDE,
        actor,
        f"Task {task.id} ({task.kind}) canceled by {actor.label}: {reason}",
        item.id,
        {"task_id": task.id, "action": "cancel"},
        at=now,
    )
    _audit(
        session,
        actor,
        "dead_letter.cancel",
        "fulfillment_task",
        task.id,
        before=before,
        after=audit.snapshot(task, ("status",)),
        data={"reason": reason, "order_item_id": item.id},
    )
    if (
        task.kind in SUBMITTING_KINDS
        and item.delivered_quantity == 0
        and states.can_move(item.status, OrderStatus.CANCELED)
    ):
        states.set_item_status(session, item, OrderStatus.CANCELED, actor, f"Canceled by an operator: {reason}", at=now)
    session.flush()
    return task


# --- held tasks: did the add reach the panel? (docs/providers.md, "Reconcile without lookup") ---


EXTERNAL_ID_MAX = 64


def _held(
    session: Session, task_id: int, actor: Actor | audit.Actor, action: str
) -> tuple[FulfillmentTask, ProviderOrder, OrderItem]:
    if isinstance(actor, audit.Actor):  # the refusal is logged (its own transaction)
        audit.require(actor, Permission.ACT_ON_ORDERS, action, "fulfillment_task", task_id)
    else:
        require_permission(None, Permission.ACT_ON_ORDERS)
    task = session.get(FulfillmentTask, task_id, with_for_update=session.get_bind().dialect.name == "postgresql")
    if task is None:
        raise TaskActionError("no such task", code=ErrorCode.NOT_FOUND)
    held = (task.payload or {}).get("held")
    if task.status != TaskStatus.DEAD_LETTER.value or not held:
        raise TaskActionError("only a task held for a decision (did it reach the panel?) can be decided")
    po = session.get(ProviderOrder, held["provider_order_id"])
    if po is None or po.external_order_id is not None or po.status != ProviderOrderStatus.PENDING.value:
        raise TaskActionError("this submission was decided already")
    return task, po, session.get(OrderItem, task.order_item_id)


def confirm_reached(
    session: Session,
    task_id: int,
    external_order_id: str,
    actor: audit.Actor,
    reason: str,
    *,
    now: datetime | None = None,
) -> ProviderOrder:
    """The operator found the order on the panel: its id is adopted (status sync follows it
    from here) and the task completes. Nothing is sent to the panel."""
    reason = _reason(reason, TaskActionError, OPERATOR_REASON_MISSING)
    task, po, item = _held(session, task_id, actor, "dead_letter.confirm_reached")
    external_order_id = (external_order_id or "").strip()
    if not external_order_id or len(external_order_id) > EXTERNAL_ID_MAX or not external_order_id.isascii():
        raise TaskActionError(
            "enter the panel's order id",
            code=ErrorCode.INVALID if external_order_id else ErrorCode.REQUIRED,
            field="external_order_id",
        )
    taken = session.execute(
        select(ProviderOrder.id).where(
            ProviderOrder.provider_id == po.provider_id, ProviderOrder.external_order_id == external_order_id
        )
    ).first()
    if taken:
        raise TaskActionError(
            f"order #{external_order_id} of this provider belongs to another line already",
            code=ErrorCode.CONFLICT,
            field="external_order_id",
        )
    now = now or utcnow()
    po.external_order_id, po.submitted_at, po.updated_at, po.error = external_order_id, now, now, ""
    session.add(po)
    payload = {k: v for k, v in (task.payload or {}).items() if k != "held"}
    task.payload, task.status, task.updated_at = payload, TaskStatus.COMPLETED.value, now
    session.add(task)
    states.add_event(
        session,
        item.order_id,
        OrderEventKind.MANUAL_OVERRIDE,
        actor,
        f"Task {task.id}: {actor.label} confirmed the order reached the panel as #{external_order_id}: {reason}",
        item.id,
        {
            "task_id": task.id,
            "action": "confirm_reached",
            "external_order_id": external_order_id,
            "provider_order_id": po.id,
        },
        at=now,
    )
    _audit(
        session,
        actor,
        "dead_letter.confirm_reached",
        "fulfillment_task",
        task.id,
        before={"external_order_id": None, "status": TaskStatus.DEAD_LETTER.value},
        after={"external_order_id": external_order_id, "status": task.status},
        data={"reason": reason, "order_item_id": item.id, "provider_order_id": po.id},
    )
    if states.can_move(item.status, OrderStatus.PROCESSING):
        states.set_item_status(session, item, OrderStatus.PROCESSING, actor, "Sent to the provider.", at=now)
    session.flush()
    return po


def submit_not_reached(
    session: Session, task_id: int, actor: audit.Actor, reason: str, *, now: datetime | None = None
) -> FulfillmentTask:
    """The operator checked the panel and the order is not there: the intent is closed as
    never arrived and the task is queued to submit now (routed like a new attempt)."""
    reason = _reason(reason, TaskActionError, OPERATOR_REASON_MISSING)
    task, po, item = _held(session, task_id, actor, "dead_letter.submit_not_reached")
    now = now or utcnow()
    po.status, po.error, po.updated_at = ProviderOrderStatus.FAILED.value, "never reached the panel (operator)", now
    session.add(po)
    payload = {k: v for k, v in (task.payload or {}).items() if k != "held"}
    task.payload, task.status, task.attempts = payload, TaskStatus.PENDING.value, 0
    task.next_attempt_at, task.updated_at = now, now
    task.max_attempts = get_settings().fulfillment_max_attempts
    session.add(task)
    states.add_event(
        session,
        item.order_id,
        OrderEventKind.MANUAL_OVERRIDE,
        actor,
        f"Task {task.id}: {actor.label} found no order on the panel, submitting now: {reason}",
        item.id,
        {"task_id": task.id, "action": "submit_not_reached", "provider_order_id": po.id},
        at=now,
    )
    _audit(
        session,
        actor,
        "dead_letter.submit_not_reached",
        "fulfillment_task",
        task.id,
        before={"status": TaskStatus.DEAD_LETTER.value},
        after={"status": task.status},
        data={"reason": reason, "order_item_id": item.id, "provider_order_id": po.id},
    )
    if item.status == OrderStatus.ON_HOLD:
        states.set_item_status(session, item, OrderStatus.PENDING, actor, "Submitted again by an operator.", at=now)
    session.flush()
    return task


# --- refills and replays ----------------------------------------------------------------------


REFILLABLE = (ProviderOrderStatus.COMPLETED.value, ProviderOrderStatus.PARTIAL.value)


def _latest_delivered(session: Session, item_id: int) -> ProviderOrder | None:
    return (
        session.execute(
            select(ProviderOrder)
            .where(ProviderOrder.order_item_id == item_id, ProviderOrder.external_order_id.is_not(None))
            .order_by(ProviderOrder.id.desc())
            .limit(1)
        )
        .scalars()
        .first()
    )


def _queue(
    session: Session, item: OrderItem, kind: str, key: str, payload: dict[str, Any], now: datetime
) -> FulfillmentTask:
    task = FulfillmentTask(
        order_item_id=item.id,
        kind=kind,
        status=TaskStatus.PENDING.value,
        idempotency_key=key,
        payload=payload,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(task)
    session.flush()
    return task


REFILL_UNDER_WAY = (RefillStatus.REQUESTED.value, RefillStatus.PENDING.value, RefillStatus.IN_PROGRESS.value)


def refill_refusal(
    po: ProviderOrder | None, service: ProviderService | None, busy: bool, now: datetime, *, by_customer: bool
) -> RefillRefused | None:
    """The refill rule, for a line whose latest delivered provider order is `po` (on
    `service`; `busy`: a refill of it is under way): None when a refill may be asked for,
    else the refusal saying why. `request_refill` raises it; the client's order page shows
    its message beside the line instead of the button."""
    if po is None or service is None or po.status not in REFILLABLE:
        return RefillRefused("this line has not been delivered yet", code=ErrorCode.CONFLICT)
    if not service.refill:
        return RefillRefused("this service has no refill guarantee", code=ErrorCode.NOT_ALLOWED)
    if by_customer:
        window = service.refill_window_days or 0
        delivered_at = po.completed_at or po.submitted_at
        if delivered_at is None or now > delivered_at + timedelta(days=window):
            return RefillRefused(f"the refill window of {window} days has passed", code=ErrorCode.NOT_ALLOWED)
    if busy:
        return RefillRefused("a refill of this line is already under way", code=ErrorCode.CONFLICT)
    return None


def request_refill(
    session: Session,
    item_id: int,
    actor: Actor,
    reason: str,
    *,
    now: datetime | None = None,
    customer_user_id: int | None = None,
) -> Refill:
    """Ask the provider to top up a delivered line. A customer (customer_user_id given) may
    only ask for their own order and within the service's refill window; an operator may
    always ask while the service offers refills."""
    now = now or utcnow()
    reason = _reason(reason, RefillRefused, "say why the refill is needed")
    item = session.get(OrderItem, item_id)
    if item is None:
        raise RefillRefused("no such order line", code=ErrorCode.NOT_FOUND)
    order = session.get(Order, item.order_id)
    if customer_user_id is not None and order.user_id != customer_user_id:
        raise RefillRefused("no such order line", code=ErrorCode.NOT_FOUND)
    po = _latest_delivered(session, item.id)
    service = session.get(ProviderService, po.provider_service_id) if po is not None else None
    busy = po is not None and (
        session.execute(
            select(Refill.id).where(Refill.provider_order_id == po.id, Refill.status.in_(REFILL_UNDER_WAY))
        ).first()
        is not None
    )
    refusal = refill_refusal(po, service, busy, now, by_customer=customer_user_id is not None)
    if refusal is not None:
        raise refusal
    refill = Refill(
        provider_order_id=po.id,
        status=RefillStatus.REQUESTED.value,
        requested_by_user_id=actor.user_id,
        reason=reason,
        created_at=now,
        updated_at=now,
    )
    session.add(refill)
    session.flush()
    _queue(
        session,
        item,
        TaskKind.REFILL.value,
        f"refill:{refill.id}",
        {"provider_order_id": po.id, "refill_id": refill.id},
        now,
    )
    states.add_event(
        session,
        order.id,
        OrderEventKind.REFILL,
        actor,
        f"Refill requested by {actor.label}: {reason}",
        item.id,
        {"refill_id": refill.id, "reason": reason},
        at=now,
    )
    _audit(
        session,
        actor,
        "order.refill",
        "order_item",
        item.id,
        data={"order": order.number, "refill_id": refill.id, "reason": reason},
    )
    return refill


def replay(
    session: Session,
    item_id: int,
    actor: Actor,
    reason: str,
    *,
    quantity: int | None = None,
    replay_key: str | None = None,
    now: datetime | None = None,
) -> FulfillmentTask:
    """Submit the line again (all of it, or `quantity` units), routed like a new order."""
    now = now or utcnow()
    reason = _reason(reason, RefillRefused, "say why the line is replayed")
    item = session.get(OrderItem, item_id)
    if item is None:
        raise RefillRefused("no such order line", code=ErrorCode.NOT_FOUND)
    if item.status == OrderStatus.CANCELED:
        raise RefillRefused("a canceled line cannot be replayed", code=ErrorCode.CONFLICT)
    units = quantity or item.service_quantity
    if units <= 0 or units > item.service_quantity:
        raise RefillRefused(f"quantity must be 1–{item.service_quantity}", code=ErrorCode.INVALID, field="quantity")
    key = replay_key or f"replay:item:{item.id}:{now.strftime('%Y%m%d%H%M%S%f')}"
    task = _queue(session, item, TaskKind.REPLAY.value, key, {"quantity": units, "reason": reason}, now)
    states.add_event(
        session,
        item.order_id,
        OrderEventKind.REPLAY,
        actor,
        f"Replay of {units} units by {actor.label}: {reason}",
        item.id,
        {"task_id": task.id, "quantity": units, "reason": reason},
        at=now,
    )
    _audit(
        session,
        actor,
        "order.replay",
        "order_item",
        item.id,
        data={"task_id": task.id, "quantity": units, "reason": reason},
    )
    return task


def schedule_replay(
    session: Session, item_id: int, run_at: datetime, actor: Actor, reason: str, *, now: datetime | None = None
) -> ScheduledReplay:
    if run_at.tzinfo is None:
        raise RefillRefused("the replay time needs a time zone", code=ErrorCode.INVALID, field="run_at")
    now = now or utcnow()
    if run_at <= now:
        raise RefillRefused("the replay time must be in the future", code=ErrorCode.INVALID, field="run_at")
    reason = _reason(reason, RefillRefused, "say why the line is replayed")
    po = _latest_delivered(session, item_id)
    if po is None:
        raise RefillRefused("this line has no provider order to replay", code=ErrorCode.CONFLICT)
    scheduled = ScheduledReplay(
        provider_order_id=po.id,
        run_at=run_at,
        created_by_user_id=actor.user_id,
        reason=reason,
        created_at=now,
        updated_at=now,
    )
    session.add(scheduled)
    session.flush()
    item = session.get(OrderItem, item_id)
    states.add_event(
        session,
        item.order_id,
        OrderEventKind.REPLAY,
        actor,
        f"Replay scheduled for {run_at:%Y-%m-%d %H:%M} UTC by {actor.label}: {reason}",
        item.id,
        {"scheduled_replay_id": scheduled.id, "reason": reason},
        at=now,
    )
    _audit(
        session,
        actor,
        "order.schedule_replay",
        "order_item",
        item.id,
        data={"scheduled_replay_id": scheduled.id, "run_at": run_at, "reason": reason},
    )
    return scheduled


def run_due_replays(session_factory: Any, now: datetime) -> dict[str, int]:
    """The scheduled-replays job: queue every replay that is due, once (the replay's id is in the task key)."""
    counts = {"queued": 0, "failed": 0}
    with session_factory() as session:
        due = list(
            session.execute(
                select(ScheduledReplay)
                .where(ScheduledReplay.status == ReplayStatus.SCHEDULED.value, ScheduledReplay.run_at <= now)
                .order_by(ScheduledReplay.id)
                .with_for_update(skip_locked=True)
            ).scalars()
        )
        for scheduled in due:
            po = session.get(ProviderOrder, scheduled.provider_order_id)
            actor = Actor.job("replays")
            try:
                task = replay(
                    session,
                    po.order_item_id,
                    actor,
                    f"scheduled: {scheduled.reason}",
                    quantity=po.quantity,
                    replay_key=f"replay:scheduled:{scheduled.id}",
                    now=now,
                )
                scheduled.status, scheduled.result = ReplayStatus.COMPLETED.value, {"task_id": task.id}
                counts["queued"] += 1
            except RefillRefused as exc:
                scheduled.status, scheduled.result = ReplayStatus.FAILED.value, {"error": str(exc)}
                counts["failed"] += 1
            scheduled.executed_at = now
            session.add(scheduled)
    return counts
