"""The hand-off from a paid order line to fulfilment.

Checkout writes a `DeliverySpec` into each `OrderItem.snapshot["delivery"]` and calls
`enqueue_delivery` in the same transaction as the order; the fulfilment engine claims the
resulting tasks and reads the spec back. Neither side knows the other's internals.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from smplat.db import RowBatch, insert_rows
from smplat.models.base import utcnow
from smplat.models.fulfillment import FulfillmentTask, TaskKind, TaskStatus
from smplat.models.orders import Order, OrderItem

SNAPSHOT_KEY = "delivery"


class InvalidDeliverySpec(ValueError):
    """A snapshot's delivery part is missing or malformed (a bug upstream, not user input)."""


@dataclass(frozen=True)
class DeliverySpec:
    """What a provider must deliver for one order line."""

    link: str  # the profile, post or video URL the provider works on
    quantity: int  # units to deliver (followers, views…); equals OrderItem.service_quantity
    channel: str  # platform: instagram, tiktok, youtube
    country: str | None = None  # targeting, when the customer chose one
    dripfeed_runs: int | None = None  # drip-feed: deliver quantity / runs every interval
    dripfeed_interval_minutes: int | None = None
    comments: list[str] = field(default_factory=list)  # custom comments, one per entry
    option_keys: dict[str, list[str]] = field(default_factory=dict)  # option group key -> chosen option keys
    add_on_keys: list[str] = field(default_factory=list)
    plan_key: str = ""
    # the order type's own parameters (Mentions usernames/hashtags/media, Poll answer_number,
    # Subscriptions username/min/max/posts/delay/expiry), sent when the route's type uses them
    order_params: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.link or not isinstance(self.link, str):
            raise InvalidDeliverySpec("delivery link is required")
        if not isinstance(self.quantity, int) or self.quantity <= 0:
            raise InvalidDeliverySpec("delivery quantity must be a positive integer")
        if not self.channel:
            raise InvalidDeliverySpec("delivery channel is required")
        if (self.dripfeed_runs is None) != (self.dripfeed_interval_minutes is None):
            raise InvalidDeliverySpec("drip-feed needs both runs and interval")
        if self.dripfeed_runs is not None and (self.dripfeed_runs < 2 or self.dripfeed_interval_minutes < 1):
            raise InvalidDeliverySpec("drip-feed needs at least 2 runs and an interval of at least 1 minute")

    @property
    def is_dripfeed(self) -> bool:
        return self.dripfeed_runs is not None

    def to_snapshot(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_snapshot(cls, snapshot: dict[str, Any]) -> DeliverySpec:
        data = snapshot.get(SNAPSHOT_KEY) if isinstance(snapshot, dict) else None
        if not isinstance(data, dict):
            raise InvalidDeliverySpec("order item snapshot has no delivery part")
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        try:
            return cls(**known)
        except TypeError as exc:
            raise InvalidDeliverySpec(str(exc)) from None


# Which of a line's fields says where to deliver: an account handle (`username`) or a post,
# video or story link (a key ending in `_link`). Placement reads the link from them; a product
# without such a required field cannot be published (customers would never be asked).
HANDLE_FIELD = "username"
LINK_FIELD_SUFFIX = "_link"


def names_delivery_target(field_key: str) -> bool:
    return field_key == HANDLE_FIELD or field_key.endswith(LINK_FIELD_SUFFIX)


def submit_key(order_item_id: int) -> str:
    return f"submit:item:{order_item_id}"


def enqueue_delivery(
    session: Session,
    order: Order,
    *,
    now: datetime | None = None,
    new_items: list[tuple[int, dict[str, Any]]] | None = None,
    batch: RowBatch | None = None,
) -> list[FulfillmentTask]:
    """One submit task per order line, created once: calling it again (a retried webhook,
    the success page racing the webhook) returns the tasks that exist. The tasks are due
    at `now` (the caller's clock; default: the wall clock).

    `new_items`: the order's lines as (id, snapshot) when the caller inserted them in this
    transaction (placement): no task can exist for a line nobody else can see yet, so none is
    looked up, all are written in one INSERT (or added to `batch`) and none is returned."""
    now = now or utcnow()
    if new_items is not None:
        rows = []
        for item_id, snapshot in new_items:
            DeliverySpec.from_snapshot(snapshot)  # refuse to queue work nobody can deliver
            rows.append(
                {
                    "order_item_id": item_id,
                    "kind": TaskKind.SUBMIT.value,
                    "status": TaskStatus.PENDING.value,
                    "idempotency_key": submit_key(item_id),
                    "next_attempt_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        insert_rows(session, FulfillmentTask.__table__, rows, batch)
        return []
    items = session.execute(select(OrderItem).where(OrderItem.order_id == order.id).order_by(OrderItem.id)).scalars()
    tasks: list[FulfillmentTask] = []
    for item in items:
        DeliverySpec.from_snapshot(item.snapshot)  # refuse to queue work nobody can deliver
        key = submit_key(item.id)
        existing = (
            session.execute(select(FulfillmentTask).where(FulfillmentTask.idempotency_key == key)).scalars().first()
        )
        if existing is None:
            task = FulfillmentTask(
                order_item_id=item.id,
                kind=TaskKind.SUBMIT.value,
                status=TaskStatus.PENDING.value,
                idempotency_key=key,
                next_attempt_at=now,
                created_at=now,
                updated_at=now,
            )
            try:
                with session.begin_nested():
                    session.add(task)
                    session.flush()
            except IntegrityError:
                # Another transaction queued it between our read and our insert.
                task = (
                    session.execute(select(FulfillmentTask).where(FulfillmentTask.idempotency_key == key))
                    .scalars()
                    .one()
                )
            existing = task
        tasks.append(existing)
    return tasks
