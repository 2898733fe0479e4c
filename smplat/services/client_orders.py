"""The client dashboard's reads: a customer's orders (filtered, searched, paged), one order
in the customer's words (progress, estimated completion, refill rules, history), the cheap
"version" a live page polls, the overview figures, and "order again".

Every read takes the owner (`user_id`) and answers None / nothing for another customer's
order: a foreign number or item id looks exactly like one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func, select
from sqlmodel import Session

from smplat.models.base import utcnow
from smplat.models.catalog import ProductCustomField
from smplat.models.orders import Order, OrderEvent, OrderEventKind, OrderItem, OrderStatus
from smplat.models.providers import ProviderOrder, ProviderOrderStatus, ProviderService, Refill
from smplat.services.checkout import receipts
from smplat.services.fulfillment.cancel import cancel_refusal, cancel_state
from smplat.services.fulfillment.common import OPEN_PROVIDER_STATUSES
from smplat.services.fulfillment.operator_actions import REFILL_UNDER_WAY, refill_refusal
from smplat.services.money import format_money

PAGE_SIZE = 20
# how many recent completed provider orders of a service measure its average completion time
MEASURED_SAMPLE = 50

S = OrderStatus
OPEN_STATUSES = (S.PENDING.value, S.PROCESSING.value, S.ACTIVE.value, S.ON_HOLD.value)
STATUS_FILTERS: dict[str, tuple[str, ...]] = {
    "open": OPEN_STATUSES,
    "completed": (S.COMPLETED.value,),
    "partial": (S.PARTIALLY_DELIVERED.value,),
    "canceled": (S.CANCELED.value,),
}
# the status words a customer reads (never the stored value)
STATUS_LABELS: dict[str, str] = {
    S.PENDING.value: "Waiting to start",
    S.PROCESSING.value: "In progress",
    S.ACTIVE.value: "Delivering step by step",
    S.COMPLETED.value: "Delivered",
    S.ON_HOLD.value: "On hold (we are on it)",
    S.PARTIALLY_DELIVERED.value: "Partly delivered",
    S.CANCELED.value: "Canceled",
}
REFILL_LABELS = {
    "requested": "requested",
    "pending": "accepted by the supplier",
    "in_progress": "in progress",
    "completed": "completed",
    "rejected": "refused by the supplier",
    "failed": "could not be sent",
}


def status_label(status: str, service_type: str = "") -> str:
    """The customer's words for a line's status; a running panel subscription (order type
    Subscriptions) is "Active", ending at its expiry or last post."""
    if status == S.ACTIVE.value and service_type.strip().lower() == "subscriptions":
        return "Active subscription"
    return STATUS_LABELS.get(status, status.replace("_", " ").capitalize())


# --- progress and estimated completion (pure arithmetic) ------------------------------------


@dataclass(frozen=True)
class LineProgress:
    ordered: int
    delivered: int
    remains: int
    percent: int  # 0-100, never more (over-delivery shows as `extra`)
    extra: int  # delivered beyond what was ordered


def in_flight_delivered(quantity: int, remains: int | None) -> int:
    """Units an unfinished provider order has delivered so far, from the panel's `remains`
    (unknown remains: nothing counted yet; negative remains: over-delivery, counted)."""
    if remains is None:
        return 0
    return max(0, quantity - remains)


def line_progress(ordered: int, delivered: int, in_flight: int = 0) -> LineProgress:
    """Progress of a line of `ordered` units: `delivered` by finished provider orders plus
    `in_flight` by the ones still running."""
    total = max(0, delivered) + max(0, in_flight)
    if ordered <= 0:
        return LineProgress(0, total, 0, 100 if total else 0, total)
    return LineProgress(
        ordered=ordered,
        delivered=total,
        remains=max(0, ordered - total),
        percent=min(100, total * 100 // ordered),
        extra=max(0, total - ordered),
    )


def estimate_completion(
    started_at: datetime | None,
    *,
    measured_seconds: float | None,
    promised_hours: int | None,
    dripfeed_runs: int | None = None,
    dripfeed_interval_minutes: int | None = None,
) -> datetime | None:
    """When a started line should be done: start + the service's measured average completion
    time, falling back to the product's promise; a drip-feed takes at least its runs' span.
    None when the line has not started or nothing is known."""
    if started_at is None:
        return None
    if measured_seconds is not None:
        span = timedelta(seconds=max(0.0, measured_seconds))
    elif promised_hours is not None:
        span = timedelta(hours=promised_hours)
    else:
        span = None
    if dripfeed_runs and dripfeed_interval_minutes:
        drip = timedelta(minutes=(dripfeed_runs - 1) * dripfeed_interval_minutes)
        span = drip if span is None else max(span, drip)
    return None if span is None else started_at + span


def dripfeed_runs_text(
    started_at: datetime | None, runs: int | None, interval_minutes: int | None, now: datetime, *, finished: bool
) -> str:
    """A drip-feed's progress in runs, e.g. "2 of 5 runs (one every 24 h)": the first run goes
    at the start, one more every interval (panels do not report runs done, so it is counted
    from the clock); all of them once the line is finished. "" when it is not a drip-feed."""
    if not runs or not interval_minutes:
        return ""
    if finished:
        done = runs
    elif started_at is None:
        done = 0
    else:
        elapsed = max(0.0, (now - started_at).total_seconds())
        done = min(runs, 1 + int(elapsed // (interval_minutes * 60)))
    every = f"{interval_minutes // 60} h" if interval_minutes % 60 == 0 else f"{interval_minutes} min"
    return f"{done} of {runs} runs (one every {every})"


# --- the orders list -------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderFilters:
    status: str = ""  # a STATUS_FILTERS key, or "" for every order
    since: date | None = None
    until: date | None = None  # inclusive
    search: str = ""  # an order number (or part) or part of a link
    page: int = 1


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _filtered(user_id: int, f: OrderFilters) -> Any:
    query = select(Order.id).where(Order.user_id == user_id)
    if f.status in STATUS_FILTERS:
        query = query.where(Order.status.in_(STATUS_FILTERS[f.status]))
    if f.since is not None:
        query = query.where(Order.created_at >= _day_start(f.since))
    if f.until is not None:
        query = query.where(Order.created_at < _day_start(f.until + timedelta(days=1)))
    term = f.search.strip()[:200]
    if term:
        like = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        # the link a customer typed lives in the line's frozen fields (searched within their own orders only)
        in_links = (
            select(OrderItem.id)
            .where(
                OrderItem.order_id == Order.id, sa.cast(OrderItem.snapshot["fields"], sa.Text).ilike(like, escape="\\")
            )
            .exists()
        )
        query = query.where(sa.or_(Order.number.ilike(like, escape="\\"), in_links))
    return query


def list_orders(session: Session, user_id: int, filters: OrderFilters) -> tuple[list[dict[str, Any]], int]:
    """One page of the customer's orders, newest first, and the number of matching orders.
    Four statements whatever the page holds: the count, the page, the lines' units, the
    running provider orders' progress."""
    matching = _filtered(user_id, filters).subquery()
    total = int(session.execute(select(func.count()).select_from(matching)).scalar_one())
    page = max(1, filters.page)
    orders = list(
        session.execute(
            select(Order)
            .where(Order.id.in_(_filtered(user_id, filters)))
            .order_by(Order.created_at.desc(), Order.id.desc())
            .limit(PAGE_SIZE)
            .offset((page - 1) * PAGE_SIZE)
        ).scalars()
    )
    return order_rows(session, orders), total


def order_rows(session: Session, orders: list[Order]) -> list[dict[str, Any]]:
    ids = [o.id for o in orders]
    units: dict[int, tuple[int, int, int]] = {}
    running: dict[int, int] = {}
    if ids:
        units = {
            order_id: (int(n), int(ordered or 0), int(delivered or 0))
            for order_id, n, ordered, delivered in session.execute(
                select(
                    OrderItem.order_id,
                    func.count(),
                    func.sum(OrderItem.service_quantity),
                    func.sum(OrderItem.delivered_quantity),
                )
                .where(OrderItem.order_id.in_(ids))
                .group_by(OrderItem.order_id)
            )
        }
        running = {
            order_id: int(done or 0)
            for order_id, done in session.execute(
                select(
                    OrderItem.order_id,
                    func.sum(
                        sa.case(
                            (ProviderOrder.remains.is_(None), 0),
                            (ProviderOrder.remains > ProviderOrder.quantity, 0),
                            else_=ProviderOrder.quantity - ProviderOrder.remains,
                        )
                    ),
                )
                .join(OrderItem, OrderItem.id == ProviderOrder.order_item_id)
                .where(OrderItem.order_id.in_(ids), ProviderOrder.status.in_(OPEN_PROVIDER_STATUSES))
                .group_by(OrderItem.order_id)
            )
        }
    rows = []
    for o in orders:
        n, ordered, delivered = units.get(o.id, (0, 0, 0))
        progress = line_progress(ordered, delivered, running.get(o.id, 0))
        percent = 100 if o.status == S.COMPLETED.value else progress.percent
        rows.append(
            {
                "id": o.id,
                "number": o.number,
                "status": o.status,
                "status_label": status_label(o.status),
                "total": format_money(o.total_minor, o.currency),
                "items": n,
                "items_label": f"{n} item" if n == 1 else f"{n} items",
                "placed_at": (o.placed_at or o.created_at).strftime("%Y-%m-%d %H:%M UTC"),
                "percent": percent,
            }
        )
    return rows


# --- live: the version a page polls ----------------------------------------------------------


def live_version(session: Session, order_ids: list[int], user_id: int | None = None) -> str:
    """What an open order page (one id) or orders list (the ids it shows, and the owner, so a
    new order appears) polls each tick: one statement over indexed columns. It changes when
    the timeline grows (every status change, delivery, refill and payment writes an event) or
    a running provider order reports progress (its remains)."""
    ids = list(order_ids) or [0]
    events = select(func.coalesce(func.max(OrderEvent.id), 0)).where(OrderEvent.order_id.in_(ids)).scalar_subquery()
    remains = (
        select(func.coalesce(func.sum(ProviderOrder.remains), -1))
        .where(ProviderOrder.order_item_id.in_(select(OrderItem.id).where(OrderItem.order_id.in_(ids))))
        .scalar_subquery()
    )
    columns = [events, remains]
    if user_id is not None:
        columns.append(select(func.max(Order.created_at)).where(Order.user_id == user_id).scalar_subquery())
    row = session.execute(select(*columns)).one()
    return "|".join(str(v) for v in row)


def order_ids_by_number(session: Session, user_id: int, numbers: list[str]) -> list[int]:
    if not numbers:
        return []
    return list(session.execute(select(Order.id).where(Order.user_id == user_id, Order.number.in_(numbers))).scalars())


# --- the overview ----------------------------------------------------------------------------


def overview(session: Session, user_id: int, now: datetime | None = None) -> dict[str, Any]:
    """Active orders, orders delivered this month, spend (net of refunds, per currency: the
    shop sells in one), and whether the customer has ordered at all. One statement."""
    now = now or utcnow()
    month_start = datetime(now.year, now.month, 1, tzinfo=UTC)
    active, delivered, spent, count, currency = session.execute(
        select(
            func.count().filter(Order.status.in_(OPEN_STATUSES)),
            func.count().filter(Order.status == S.COMPLETED.value, Order.updated_at >= month_start),
            func.coalesce(func.sum(Order.charged_minor - Order.refunded_minor), 0),
            func.count(),
            func.max(Order.currency),
        ).where(Order.user_id == user_id)
    ).one()
    return {
        "active": int(active),
        "delivered_month": int(delivered),
        "spend": format_money(int(spent), currency or "EUR"),
        "orders": int(count),
    }


def latest_activity(session: Session, user_id: int, limit: int = 5) -> list[dict[str, str]]:
    """The newest timeline entries of the customer's orders, in their words."""
    rows = session.execute(
        select(OrderEvent, Order.number, OrderItem.product_title)
        .join(Order, Order.id == OrderEvent.order_id)
        .outerjoin(OrderItem, OrderItem.id == OrderEvent.order_item_id)
        .where(Order.user_id == user_id, OrderEvent.kind.in_(CUSTOMER_EVENT_KINDS))
        .order_by(OrderEvent.id.desc())
        .limit(limit * 3)
    ).all()
    out = []
    for event, number, title in rows:
        text = event_text(event, title or "")
        if text:
            out.append({"number": number, "at": event.created_at.strftime("%Y-%m-%d %H:%M UTC"), "text": text})
        if len(out) == limit:
            break
    return out


# --- one order in the customer's words -------------------------------------------------------

CUSTOMER_EVENT_KINDS = (
    OrderEventKind.PLACED.value,
    OrderEventKind.STATUS_CHANGED.value,
    OrderEventKind.PAYMENT.value,
    OrderEventKind.PROVIDER_ORDER.value,
    OrderEventKind.REFILL.value,
    OrderEventKind.REPLAY.value,
    OrderEventKind.CUSTOMER_MESSAGE.value,
)


def event_text(event: OrderEvent, line_title: str) -> str:
    """A timeline entry as the customer reads it; "" for entries that are ours alone (notes,
    operator overrides, supplier details)."""
    data = event.data or {}
    kind = event.kind
    if kind == OrderEventKind.PLACED.value:
        return "Order placed and paid"
    if kind == OrderEventKind.STATUS_CHANGED.value:
        if data.get("scope") == "order":
            return f"Order: {status_label(str(data.get('to', '')))}"
        return f"{line_title}: {status_label(str(data.get('to', '')))}" if line_title else ""
    if kind == OrderEventKind.PAYMENT.value:
        if "refund_minor" in data:
            if data.get("state") == "manual":  # the order-level entry of a refund made by hand
                return "Refund due: we will send it to you by hand"
            if data.get("state") == "failed":
                return "Refund not made yet: we are on it"
            return f"{line_title}: undelivered units refunded" if line_title else "Undelivered units refunded"
        return "Payment updated"
    if kind == OrderEventKind.PROVIDER_ORDER.value:
        if "cancel" in data:
            return {
                "requested": f"{line_title}: cancel requested",
                "sent": f"{line_title}: the supplier is canceling the rest",
                "refused": f"{line_title}: cancel refused — {data.get('customer_message', '')}",
                "failed": f"{line_title}: cancel not possible — {data.get('customer_message', '')}",
            }.get(str(data["cancel"]), "")
        if data.get("policy") == "reroute":
            return f"{line_title}: the rest is being delivered by another route"
        status = data.get("status")
        if status == ProviderOrderStatus.COMPLETED.value:
            return f"{line_title}: delivery finished"
        if status in (ProviderOrderStatus.PARTIAL.value, ProviderOrderStatus.CANCELED.value):
            return f"{line_title}: delivery stopped before the end"
        return ""
    if kind == OrderEventKind.REFILL.value:
        if "reason" in data:
            return f"{line_title}: refill requested"
        return f"{line_title}: refill {REFILL_LABELS.get(str(data.get('status', '')), 'updated')}"
    if kind == OrderEventKind.REPLAY.value:
        return f"{line_title}: delivery sent again"
    if kind == OrderEventKind.CUSTOMER_MESSAGE.value:
        return f"Message from us: {event.message}"
    return ""


def _humanize(key: str) -> str:
    return key.replace("_", " ").replace("-", " ").strip().capitalize()


def _measured_seconds(session: Session, service_ids: set[int]) -> dict[int, float]:
    """Average completion time (submitted -> completed) of each service over its latest
    completed provider orders."""
    if not service_ids:
        return {}
    if session.get_bind().dialect.name == "postgresql":
        seconds = func.extract("epoch", ProviderOrder.completed_at - ProviderOrder.submitted_at)
    else:
        seconds = (func.julianday(ProviderOrder.completed_at) - func.julianday(ProviderOrder.submitted_at)) * 86400.0
    ranked = (
        select(
            ProviderOrder.provider_service_id.label("service_id"),
            seconds.label("seconds"),
            func.row_number()
            .over(partition_by=ProviderOrder.provider_service_id, order_by=ProviderOrder.id.desc())
            .label("n"),
        )
        .where(
            ProviderOrder.provider_service_id.in_(service_ids),
            ProviderOrder.status == ProviderOrderStatus.COMPLETED.value,
            ProviderOrder.completed_at.is_not(None),
            ProviderOrder.submitted_at.is_not(None),
        )
        .subquery()
    )
    return {
        int(sid): float(avg)
        for sid, avg in session.execute(
            select(ranked.c.service_id, func.avg(ranked.c.seconds))
            .where(ranked.c.n <= MEASURED_SAMPLE)
            .group_by(ranked.c.service_id)
        )
        if avg is not None
    }


def find_order(session: Session, number: str, user_id: int) -> Order | None:
    """The customer's order with this number; None for an unknown number or another's order."""
    number = (number or "").strip().upper()[:20]
    if not number:
        return None
    return session.execute(select(Order).where(Order.number == number, Order.user_id == user_id)).scalars().first()


def order_detail(session: Session, order: Order, now: datetime | None = None) -> dict[str, Any]:
    """Everything the order page shows, in a fixed number of statements (items, provider
    orders, services, refills, field labels, measured times, timeline)."""
    now = now or utcnow()
    items = list(
        session.execute(select(OrderItem).where(OrderItem.order_id == order.id).order_by(OrderItem.id)).scalars()
    )
    item_ids = [i.id for i in items]
    pos: list[ProviderOrder] = (
        list(
            session.execute(
                select(ProviderOrder).where(ProviderOrder.order_item_id.in_(item_ids)).order_by(ProviderOrder.id)
            ).scalars()
        )
        if item_ids
        else []
    )
    service_ids = {po.provider_service_id for po in pos}
    services = (
        {s.id: s for s in session.execute(select(ProviderService).where(ProviderService.id.in_(service_ids))).scalars()}
        if service_ids
        else {}
    )
    refills: list[Refill] = (
        list(
            session.execute(
                select(Refill).where(Refill.provider_order_id.in_([po.id for po in pos])).order_by(Refill.id)
            ).scalars()
        )
        if pos
        else []
    )
    product_ids = {i.product_id for i in items if i.product_id is not None}
    labels: dict[tuple[int, str], str] = (
        {
            (pid, key): label
            for pid, key, label in session.execute(
                select(ProductCustomField.product_id, ProductCustomField.key, ProductCustomField.label).where(
                    ProductCustomField.product_id.in_(product_ids)
                )
            )
        }
        if product_ids
        else {}
    )
    measured = _measured_seconds(session, service_ids)
    events = list(
        session.execute(select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id)).scalars()
    )
    titles = {i.id: i.product_title for i in items}
    po_item = {po.id: po.order_item_id for po in pos}

    lines = []
    for item in items:
        mine = [po for po in pos if po.order_item_id == item.id]
        running = sum(
            in_flight_delivered(po.quantity, po.remains) for po in mine if po.status in OPEN_PROVIDER_STATUSES
        )
        progress = line_progress(item.service_quantity, item.delivered_quantity, running)
        submitted = [po.submitted_at for po in mine if po.submitted_at is not None]
        started_at = min(submitted) if submitted else None
        start_count = item.start_count
        if start_count is None:
            start_count = next((po.start_count for po in mine if po.start_count is not None), None)
        delivery = item.snapshot.get("delivery") or {}
        latest = next((po for po in reversed(mine) if po.external_order_id is not None), None)
        service = services.get(latest.provider_service_id) if latest is not None else None
        done = item.status in (S.COMPLETED.value, S.CANCELED.value, S.PARTIALLY_DELIVERED.value)
        eta = (
            None
            if done
            else estimate_completion(
                started_at,
                measured_seconds=measured.get(latest.provider_service_id) if latest is not None else None,
                promised_hours=item.snapshot.get("delivery_estimate_hours"),
                dripfeed_runs=delivery.get("dripfeed_runs"),
                dripfeed_interval_minutes=delivery.get("dripfeed_interval_minutes"),
            )
        )
        busy = latest is not None and any(
            r.provider_order_id == latest.id and r.status in REFILL_UNDER_WAY for r in refills
        )
        refusal = refill_refusal(latest, service, busy, now, by_customer=True)
        line_events = [e for e in events if e.order_item_id == item.id]
        cancel_busy, cancel_refused = cancel_state(line_events, latest.id if latest is not None else None)
        no_cancel = cancel_refusal(latest, service, cancel_busy)
        history = [
            {
                "at": r.created_at.strftime("%Y-%m-%d %H:%M UTC"),
                "text": f"Refill {REFILL_LABELS.get(r.status, r.status)}",
            }
            for r in refills
            if po_item.get(r.provider_order_id) == item.id
        ] + [
            {"at": e.created_at.strftime("%Y-%m-%d %H:%M UTC"), "text": "Delivery sent again"}
            for e in events
            if e.order_item_id == item.id and e.kind == OrderEventKind.REPLAY.value
        ]
        fields = item.snapshot.get("fields") or {}
        lines.append(
            {
                "id": item.id,
                "title": item.product_title,
                "summary": str(item.snapshot.get("summary", "")),
                "quantity": item.quantity,
                "unit": str((item.snapshot.get("product") or {}).get("unit_label", "units")),
                "status": item.status,
                "status_label": status_label(item.status, service.type if service is not None else ""),
                "fields": [
                    {"label": labels.get((item.product_id, k)) or _humanize(k), "value": str(v)}
                    for k, v in fields.items()
                ],
                "total": format_money(item.total_minor, item.currency),
                "breakdown": [
                    {
                        "label": str(b.get("label", "")),
                        "amount": format_money(int(b.get("amount_minor", 0)), item.currency),
                    }
                    for b in item.snapshot.get("price_breakdown") or []
                ],
                "ordered": progress.ordered,
                "delivered": progress.delivered,
                "remains": progress.remains,
                "delivered_text": f"{progress.delivered:,}",
                "remains_text": f"{progress.remains:,}",
                "percent": 100 if item.status == S.COMPLETED.value else progress.percent,
                "extra": progress.extra,
                "start_count": "" if start_count is None else f"{start_count:,}",
                "started_at": started_at.strftime("%Y-%m-%d %H:%M UTC") if started_at else "",
                "eta": eta.strftime("%Y-%m-%d %H:%M UTC") if eta else "",
                "promise": receipts.delivery_text(item.snapshot or {}),  # as promised at checkout
                "dripfeed": bool(delivery.get("dripfeed_runs")),
                "runs": dripfeed_runs_text(
                    started_at,
                    latest.runs if latest is not None else None,
                    latest.interval if latest is not None else None,
                    now,
                    finished=done,
                ),
                "can_refill": refusal is None,
                "refill_note": "" if refusal is None else _sentence(refusal.message),
                # cancel at the supplier: offered while it may be asked for, else (on a line
                # still running) why not; a refusal by the supplier, in the customer's words, first
                "can_cancel": no_cancel is None,
                "cancel_note": cancel_refused or ("" if no_cancel is None or done else _sentence(no_cancel.message)),
                "history": sorted(history, key=lambda h: h["at"]),
                "can_reorder": item.product_id is not None and bool((item.snapshot.get("product") or {}).get("slug")),
                "product_slug": str((item.snapshot.get("product") or {}).get("slug", "")),
            }
        )
    timeline = []
    for e in events:
        text = event_text(e, titles.get(e.order_item_id, "") if e.order_item_id else "")
        if text:
            timeline.append({"at": e.created_at.strftime("%Y-%m-%d %H:%M UTC"), "text": text})
    return {
        "id": order.id,
        "number": order.number,
        "status": order.status,
        "status_label": status_label(order.status),
        "placed_at": (order.placed_at or order.created_at).strftime("%Y-%m-%d %H:%M UTC"),
        "subtotal": format_money(order.subtotal_minor, order.currency),
        "discount": format_money(order.discount_minor, order.currency) if order.discount_minor else "",
        "total": format_money(order.total_minor, order.currency),
        "refunded": format_money(order.refunded_minor, order.currency) if order.refunded_minor else "",
        "lines": lines,
        "timeline": list(reversed(timeline)),
        # what the shop wrote to the customer about this order (admin "Message customer"), newest first
        "messages": [
            {"at": e.created_at.strftime("%Y-%m-%d %H:%M UTC"), "text": e.message}
            for e in reversed(events)
            if e.kind == OrderEventKind.CUSTOMER_MESSAGE.value
        ],
    }


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


# --- order again -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Reorder:
    product_id: int
    configuration: dict[str, Any]
    quantity: int


def reorder_source(session: Session, user_id: int, item_id: int) -> Reorder | None:
    """The configuration (options, add-ons, plan and the fields with their link) and quantity
    of the customer's own order line, to pre-fill the product page; None for another's."""
    row = (
        session.execute(
            select(OrderItem)
            .join(Order, Order.id == OrderItem.order_id)
            .where(OrderItem.id == item_id, Order.user_id == user_id)
        )
        .scalars()
        .first()
    )
    if row is None or row.product_id is None:
        return None
    configuration = dict(row.snapshot.get("configuration") or {})
    return Reorder(row.product_id, configuration, max(1, row.quantity))
