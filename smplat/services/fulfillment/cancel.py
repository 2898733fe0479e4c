"""Cancel at the provider: a customer for their own line, an operator for any line.

The rule (`cancel_refusal`) is one function: the line's latest provider order must have
reached the panel, must still be open (not Completed, Partial, Canceled, Refunded), its
service must say `cancel: true`, and no cancel of it may be under way. A request queues one
`cancel` task (create-once key `cancel:po:<id>:<n>`: a double click or two concurrent
requests make one task); the fulfilment engine sends a batch's cancels to each provider in
one `action=cancel&orders=<ids>` call. The panel's
answer is written on the timeline: accepted (status sync then sees Canceled or Partial and the
undelivered part is refunded once, whatever the Partial policy), or refused (the reason in
the customer's words on their order page). See docs/architecture.md, "Cancel at the provider".
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from smplat.models.base import utcnow
from smplat.models.fulfillment import FulfillmentTask, TaskKind, TaskStatus
from smplat.models.orders import Order, OrderEventKind, OrderItem
from smplat.models.providers import ProviderOrder, ProviderService
from smplat.services import audit
from smplat.services import order_status as states
from smplat.services.errors import ErrorCode, ServiceError
from smplat.services.fulfillment.common import OPEN_PROVIDER_STATUSES
from smplat.services.order_status import Actor
from smplat.services.permissions import Permission

REASON_MAX = 1000
CUSTOMER_DEFAULT_REASON = "Canceled by the customer."
# a cancel task in one of these states is still going to (or did) reach the panel
CANCEL_UNDER_WAY = (
    TaskStatus.PENDING.value,
    TaskStatus.CLAIMED.value,
    TaskStatus.SUBMITTING.value,
    TaskStatus.SUBMITTED.value,
    TaskStatus.RETRY_WAIT.value,
    TaskStatus.COMPLETED.value,
)


class CancelRefused(ServiceError):
    """A cancel that cannot be asked for; the message says why, in words a customer reads:
    NOT_FOUND (no such line, or not theirs: never say which), CONFLICT (not at the supplier
    yet, finished, a cancel under way), NOT_ALLOWED (the service cannot be canceled),
    REQUIRED / INVALID (field "reason")."""

    default_code = ErrorCode.NOT_ALLOWED


def key_prefix(provider_order_id: int) -> str:
    return f"cancel:po:{provider_order_id}:"


def cancel_refusal(po: ProviderOrder | None, service: ProviderService | None, under_way: bool) -> CancelRefused | None:
    """None when a cancel of the line whose latest provider order is `po` may be asked for,
    else the refusal saying why (raised by `request_cancel`, shown beside the line)."""
    if po is None or po.external_order_id is None or service is None:
        return CancelRefused("this line has not reached the supplier yet", code=ErrorCode.CONFLICT)
    if po.status not in OPEN_PROVIDER_STATUSES:
        return CancelRefused("this delivery has already finished", code=ErrorCode.CONFLICT)
    if not service.cancel:
        return CancelRefused("this service cannot be canceled once started", code=ErrorCode.NOT_ALLOWED)
    if under_way:
        return CancelRefused("a cancel of this line is already under way", code=ErrorCode.CONFLICT)
    return None


def customer_words(panel_message: str) -> str:
    """A panel's refusal of a cancel, said the way the customer's order page says it."""
    text = (panel_message or "").lower()
    if "finished" in text or "completed" in text or "already" in text:
        return "The supplier had already finished this delivery, so it could not be canceled."
    if "not available" in text or "cannot be cancel" in text or "not allowed" in text:
        return "The supplier does not allow canceling this delivery."
    if "incorrect order" in text or "not found" in text:
        return "The supplier could not find this delivery to cancel it."
    return "The supplier could not cancel this delivery."


def _latest_sent(session: Session, item_id: int) -> ProviderOrder | None:
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


def _cancel_tasks(session: Session, po_id: int) -> list[str]:
    """The statuses of every cancel task of a provider order (oldest first)."""
    return list(
        session.execute(
            select(FulfillmentTask.status)
            .where(FulfillmentTask.idempotency_key.like(key_prefix(po_id) + "%"))
            .order_by(FulfillmentTask.id)
        ).scalars()
    )


def cancel_requested(session: Session, po_id: int) -> bool:
    """Whether a cancel of this provider order was asked for (status sync then refunds the
    undelivered part instead of re-routing it). Any cancel task counts, whatever its state:
    one whose answer was lost and that a re-send saw refused ("already finished") may still
    have been the cancel the panel carried out."""
    return (
        session.execute(
            select(func.count(FulfillmentTask.id)).where(FulfillmentTask.idempotency_key.like(key_prefix(po_id) + "%"))
        ).scalar_one()
        > 0
    )


def request_cancel(
    session: Session,
    item_id: int,
    actor: Actor | audit.Actor,
    reason: str | None = None,
    *,
    now: datetime | None = None,
    customer_user_id: int | None = None,
) -> FulfillmentTask:
    """Ask the provider to cancel the line's open provider order: one `cancel` task.

    A customer (`customer_user_id` given) only for their own line; the reason is optional.
    Staff (an `audit.Actor`) need ACT_ON_ORDERS (a refusal is logged) and a reason; the
    action is audited."""
    staff = isinstance(actor, audit.Actor)
    if staff:
        audit.require(actor, Permission.ACT_ON_ORDERS, "order.cancel", "order_item", item_id)
    reason = (reason or "").strip()
    if not reason:
        if customer_user_id is None:
            raise CancelRefused("Say why (it goes on the order's timeline).", code=ErrorCode.REQUIRED, field="reason")
        reason = CUSTOMER_DEFAULT_REASON
    if len(reason) > REASON_MAX:
        raise CancelRefused(
            f"the reason is too long (at most {REASON_MAX} characters)", code=ErrorCode.INVALID, field="reason"
        )
    now = now or utcnow()
    # the line's row is locked on PostgreSQL: concurrent requests for it queue here
    item = session.get(OrderItem, item_id, with_for_update=session.get_bind().dialect.name == "postgresql")
    if item is None:
        raise CancelRefused("no such order line", code=ErrorCode.NOT_FOUND)
    order = session.get(Order, item.order_id)
    if customer_user_id is not None and order.user_id != customer_user_id:
        raise CancelRefused("no such order line", code=ErrorCode.NOT_FOUND)
    po = _latest_sent(session, item.id)
    service = session.get(ProviderService, po.provider_service_id) if po is not None else None
    earlier = _cancel_tasks(session, po.id) if po is not None else []
    refusal = cancel_refusal(po, service, any(s in CANCEL_UNDER_WAY for s in earlier))
    if refusal is not None:
        raise refusal
    task = FulfillmentTask(
        order_item_id=item.id,
        kind=TaskKind.CANCEL.value,
        status=TaskStatus.PENDING.value,
        idempotency_key=f"{key_prefix(po.id)}{len(earlier) + 1}",
        payload={"provider_order_id": po.id, "reason": reason, "by": "operator" if staff else "customer"},
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(task)
            session.flush()
    except IntegrityError:  # a concurrent request queued it first
        raise CancelRefused("a cancel of this line is already under way", code=ErrorCode.CONFLICT) from None
    states.add_event(
        session,
        order.id,
        OrderEventKind.PROVIDER_ORDER,
        actor,
        f"Cancel of provider order #{po.external_order_id} requested by {actor.label}: {reason}",
        item.id,
        {"cancel": "requested", "provider_order_id": po.id, "task_id": task.id, "reason": reason},
        at=now,
    )
    if staff:
        audit.record(
            session,
            actor,
            "order.cancel",
            "order_item",
            item.id,
            data={"order": order.number, "provider_order_id": po.id, "task_id": task.id, "reason": reason},
            at=now,
        )
    session.flush()
    return task


def cancel_state(events: list[Any], po_id: int | None) -> tuple[bool, str]:
    """From a line's timeline events (already loaded by the order page): whether a cancel of
    provider order `po_id` is under way, and the latest refusal in the customer's words."""
    under_way, refused = False, ""
    for e in events:
        data = e.data or {}
        if po_id is None or data.get("provider_order_id") != po_id or "cancel" not in data:
            continue
        step = data["cancel"]
        under_way = step in ("requested", "sent")
        refused = str(data.get("customer_message", "")) if step in ("refused", "failed") else ""
    return under_way, refused
