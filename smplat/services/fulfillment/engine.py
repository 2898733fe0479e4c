"""The fulfilment engine: claim tasks, route, submit once, record the outcome, reconcile, retry, dead-letter.

Life of a submit task (see docs/architecture.md, "Fulfilment engine"):

1. **Claim** a batch: `FOR UPDATE SKIP LOCKED` on PostgreSQL, one conditional UPDATE on
   SQLite; the claim stamps a unique token and a lease. Every later write checks the token,
   so a worker that lost its lease cannot overwrite another's work.
2. **Intent**: in one transaction the route is chosen and a `ProviderOrder` row with a
   unique `submission_key` is inserted while the task moves to `submitting`. Only then is
   `add` called (with the key as `ref`, for panels that can look orders up by it).
3. **Outcome**: an order id completes the task; a refusal (`{error}`) retries with
   exponential backoff and full jitter (or waits out "active order with this link", or
   routes elsewhere); no usable answer leaves the task `submitting` with a short lease.
4. **Reconcile**: a `submitting` task whose lease ran out (a crash, or no answer) is never
   resubmitted blindly: the panel is asked for the order by its submission key. Found: the
   id is adopted. Not found: the intent is closed as never-arrived and the task submits
   again (to the next route). A panel that cannot be asked (docs/providers.md, "Reconcile
   without lookup"): if it refuses a second order on an active link, the same order is sent
   again as a probe (an order id: the first never arrived; the refusal: it did); otherwise,
   or then, the task is held in the dead letters with the evidence for an operator's decision.
5. **Failover**: 429 and "not enough funds" are definite refusals: the provider is excluded
   for the task and the next eligible route (inside the margin guardrail) is tried at once.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, bindparam, case, insert, or_, select, update
from sqlmodel import Session

from smplat.integrations.dialects import PanelDialect
from smplat.integrations.panel import PanelClient, PanelRefused, PanelUnavailable
from smplat.models.fulfillment import (
    CLAIMABLE_STATUSES,
    AttemptOutcome,
    FulfillmentAttempt,
    FulfillmentTask,
    TaskKind,
    TaskStatus,
)
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
from smplat.services.delivery import DeliverySpec, InvalidDeliverySpec
from smplat.services.fulfillment.common import JOB_ACTOR, Clock, clock_from
from smplat.services.money import pro_rata
from smplat.services.providers import client_for, mark_service_vanished
from smplat.services.routing import NoRoute, RoutingContext, candidates, choose
from smplat.settings import Settings, get_settings


def worker_id() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{threading.get_ident() % 100000}"


def backoff_seconds(attempts: int, settings: Settings, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter: uniform(0, min(max, base * 2^(attempts-1)))."""
    ceiling = min(
        settings.fulfillment_backoff_max_seconds, settings.fulfillment_backoff_base_seconds * 2 ** max(0, attempts - 1)
    )
    return (rng or random).uniform(0, ceiling) if ceiling > 0 else 0.0


# --- claiming ---------------------------------------------------------------------------


def _ready(now: datetime):
    t = FulfillmentTask
    return or_(
        and_(t.status.in_(CLAIMABLE_STATUSES), t.next_attempt_at <= now),
        and_(t.status.in_((TaskStatus.CLAIMED.value, TaskStatus.SUBMITTING.value)), t.lease_expires_at < now),
    )


def claim_tasks(session: Session, token: str, limit: int, now: datetime, lease_seconds: int) -> list[int]:
    """Claim up to `limit` ready tasks for `token` and commit; returns their ids.

    A `submitting` task keeps its status (it must be reconciled); the rest become `claimed`.
    """
    t = FulfillmentTask
    values = {
        "claimed_by": token,
        "claimed_at": now,
        "lease_expires_at": now + timedelta(seconds=lease_seconds),
        "status": case(
            (t.status == TaskStatus.SUBMITTING.value, TaskStatus.SUBMITTING.value), else_=TaskStatus.CLAIMED.value
        ),
    }
    if session.get_bind().dialect.name == "postgresql":
        ids = list(
            session.execute(
                select(t.id).where(_ready(now)).order_by(t.id).limit(limit).with_for_update(skip_locked=True)
            ).scalars()
        )
        if ids:
            session.execute(
                update(t).where(t.id.in_(ids)).values(**values).execution_options(synchronize_session=False)
            )
    else:
        # one statement: SQLite runs it under its single write lock, so nobody else can take these rows
        inner = select(t.id).where(_ready(now)).order_by(t.id).limit(limit).scalar_subquery()
        session.execute(
            update(t).where(t.id.in_(inner), _ready(now)).values(**values).execution_options(synchronize_session=False)
        )
        ids = list(
            session.execute(select(t.id).where(t.claimed_by == token, t.claimed_at == now).order_by(t.id)).scalars()
        )
    session.commit()
    return ids


# --- one unit of work -------------------------------------------------------------------


@dataclass
class Work:
    """A claimed task prepared for its provider call (plain values: crosses threads)."""

    task_id: int
    kind: str
    mode: str  # "submit", "reconcile", "refill", "cancel", "fail"
    provider_id: int | None = None
    provider_order_id: int | None = None
    submission_key: str = ""
    service_ext: str = ""
    link: str = ""
    quantity: int = 0
    runs: int | None = None
    interval: int | None = None
    comments: list[str] = field(default_factory=list)
    service_type: str = "Default"  # the provider service's order type (which parameters go)
    extra: dict[str, str] = field(default_factory=dict)  # the type's own parameters
    external_order_id: str = ""
    refill_id: int | None = None
    lookup_by_ref: bool = False
    probe_by_add: bool = False  # no lookup, but the panel refuses a second order on an active link
    error: str = ""
    # filled by the call
    result: str = ""  # ok | refused | unavailable
    answer: str = ""
    refusal: PanelRefused | None = None
    latency_ms: int | None = None
    balance_now: str | None = None  # reconcile without lookup: the panel's balance (evidence)


def _spec_and_quantity(task: FulfillmentTask, item: OrderItem) -> tuple[DeliverySpec, int, int]:
    """The delivery spec, the units this task sends, and what those units are worth (the
    price the margin guardrail compares the provider cost with)."""
    spec = DeliverySpec.from_snapshot(item.snapshot)
    quantity = int(task.payload.get("quantity") or spec.quantity)
    price = pro_rata(item.total_minor, quantity, item.service_quantity)
    return spec, quantity, price


def prepare(session: Session, token: str, ids: list[int], now: datetime, settings: Settings) -> list[Work]:
    """Turn claimed tasks into work: route + write the intent for submits, find what to
    reconcile, and commit, all in one transaction."""
    if not ids:
        return []
    t = FulfillmentTask
    tasks = list(session.execute(select(t).where(t.id.in_(ids), t.claimed_by == token).order_by(t.id)).scalars())
    items = {
        i.id: i
        for i in session.execute(select(OrderItem).where(OrderItem.id.in_({x.order_item_id for x in tasks}))).scalars()
    }
    ctx = RoutingContext.load(session, [i.product_id for i in items.values()])
    open_orders = {
        po.fulfillment_task_id: po
        for po in session.execute(
            select(ProviderOrder).where(
                ProviderOrder.fulfillment_task_id.in_([x.id for x in tasks]),
                ProviderOrder.external_order_id.is_(None),
                ProviderOrder.status == ProviderOrderStatus.PENDING.value,
            )
        ).scalars()
    }
    providers = {p.id: p for p in session.execute(select(Provider)).scalars()}
    lease = now + timedelta(seconds=settings.fulfillment_lease_seconds)
    nonce = uuid.uuid4().hex[:8]  # one per batch: the task id and attempt already tell its keys apart
    intents: list[dict[str, Any]] = []
    work: list[Work] = []
    for task in tasks:
        item = items[task.order_item_id]
        if task.kind == TaskKind.REFILL.value:
            po = session.get(ProviderOrder, task.payload["provider_order_id"])
            service = session.get(ProviderService, po.provider_service_id)
            work.append(
                Work(
                    task.id,
                    task.kind,
                    "refill",
                    provider_id=po.provider_id,
                    provider_order_id=po.id,
                    external_order_id=po.external_order_id or "",
                    refill_id=task.payload.get("refill_id"),
                    service_ext=service.external_service_id,
                )
            )
            continue
        if task.kind == TaskKind.CANCEL.value:
            po = session.get(ProviderOrder, task.payload["provider_order_id"])
            work.append(
                Work(
                    task.id,
                    task.kind,
                    "cancel",
                    provider_id=po.provider_id,
                    provider_order_id=po.id,
                    external_order_id=po.external_order_id or "",
                )
            )
            continue
        if task.status == TaskStatus.SUBMITTING.value:
            po = open_orders.get(task.id)
            if po is None:  # the outcome was recorded after all; nothing to reconcile
                task.status, task.claimed_by, task.lease_expires_at = TaskStatus.COMPLETED.value, "", None
                session.add(task)
                continue
            provider = providers[po.provider_id]
            dialect = PanelDialect.from_stored(provider.dialect)
            w = Work(
                task.id,
                task.kind,
                "reconcile",
                provider_id=po.provider_id,
                provider_order_id=po.id,
                submission_key=po.submission_key,
                link=po.link,
                quantity=po.quantity,
                lookup_by_ref=dialect.lookup_by_ref,
            )
            if not w.lookup_by_ref:  # what a probe re-sends (see docs/providers.md)
                service = session.get(ProviderService, po.provider_service_id)
                w.service_ext, w.runs, w.interval = service.external_service_id, po.runs, po.interval
                w.comments = list(DeliverySpec.from_snapshot(item.snapshot).comments)
                w.probe_by_add = dialect.refuses_active_link
            work.append(w)
            task.lease_expires_at = lease
            session.add(task)
            continue
        try:
            spec, quantity, price = _spec_and_quantity(task, item)
            choice = choose(
                ctx,
                item.product_id,
                spec,
                quantity,
                price,
                exclude_service_ids=task.payload.get("exclude_service_ids", []),
                exclude_provider_ids=task.payload.get("exclude_provider_ids", []),
            )
        except (NoRoute, InvalidDeliverySpec) as exc:
            work.append(Work(task.id, task.kind, "fail", error=f"no route: {exc}"[:1000]))
            continue
        # a service without drip-feed gets the line in one run (panels refuse runs/interval there)
        runs, interval = (
            (spec.dripfeed_runs, spec.dripfeed_interval_minutes) if choice.service.dripfeed else (None, None)
        )
        attempt_no = task.attempts + 1
        key = f"task:{task.id}:{attempt_no}:{nonce}"
        intents.append(
            {
                "fulfillment_task_id": task.id,
                "order_item_id": item.id,
                "provider_id": choice.provider.id,
                "provider_service_id": choice.service.id,
                "submission_key": key,
                "external_order_id": None,
                "link": spec.link,
                "quantity": choice.quantity,
                "runs": runs,
                "interval": interval,
                "status": ProviderOrderStatus.PENDING.value,
                "raw_status": "",
                "error": "",
                "last_response": {},
                "created_at": now,
                "updated_at": now,
            }
        )
        work.append(
            Work(
                task.id,
                task.kind,
                "submit",
                provider_id=choice.provider.id,
                submission_key=key,
                service_ext=choice.service.external_service_id,
                link=spec.link,
                quantity=choice.quantity,
                runs=runs,
                interval=interval,
                comments=list(spec.comments),
                service_type=choice.service.type or "Default",
                extra=dict(spec.order_params),
                lookup_by_ref=PanelDialect.from_stored(choice.provider.dialect).lookup_by_ref,
            )
        )
    session.flush()
    if intents:
        # the intents of the whole batch: one multi-row INSERT, and the tasks move to
        # `submitting` in one UPDATE (guarded by the claim token), committed before any call
        pot, tt = ProviderOrder.__table__, FulfillmentTask.__table__
        rows = session.execute(
            insert(pot).returning(pot.c.id, pot.c.submission_key, sort_by_parameter_order=True), intents
        ).all()
        ids_by_key = {key: po_id for po_id, key in rows}
        for w in work:
            if w.mode == "submit":
                w.provider_order_id = ids_by_key[w.submission_key]
        session.execute(
            update(tt)
            .where(tt.c.id.in_([i["fulfillment_task_id"] for i in intents]), tt.c.claimed_by == token)
            .values(status=TaskStatus.SUBMITTING.value, lease_expires_at=lease, updated_at=now)
        )
    session.commit()
    return work


async def call_provider(work: Work, client: PanelClient) -> None:
    started = time.monotonic()
    try:
        if work.mode == "submit":
            work.answer = await client.add(
                work.service_ext,
                work.link,
                work.quantity,
                runs=work.runs,
                interval=work.interval,
                comments=work.comments or None,
                ref=work.submission_key if work.lookup_by_ref else None,
                service_type=work.service_type,
                extra=work.extra or None,
            )
        elif work.mode == "reconcile" and not work.lookup_by_ref:
            await _probe(work, client)
        elif work.mode == "reconcile":
            work.answer = await client.find_by_ref(work.submission_key) or ""
        elif work.mode == "refill":
            work.answer = await client.refill(work.external_order_id)
        work.result = work.result or "ok"
    except PanelRefused as refused:
        work.result, work.refusal, work.error = "refused", refused, refused.message
    except PanelUnavailable as exc:
        work.result, work.error = "unavailable", str(exc)
    work.latency_ms = int((time.monotonic() - started) * 1000)


async def call_cancels(works: list[Work], client: PanelClient) -> None:
    """The cancels of one batch for one provider in one multi call (`action=cancel&orders=<ids>`,
    chunked by the dialect): each order's own answer is its work's outcome. A refusal of the
    whole call that is a rate limit, or no usable answer, leaves every one to retry."""
    started = time.monotonic()
    try:
        answers = await client.cancel([w.external_order_id for w in works])
        for w in works:
            answer = answers.get(w.external_order_id)
            if isinstance(answer, PanelRefused):
                w.result, w.refusal, w.error = "refused", answer, answer.message
            else:
                w.result, w.answer = "ok", str(answer)
    except PanelRefused as refused:
        for w in works:
            if refused.is_rate_limited:
                w.result, w.error = "unavailable", refused.message
            else:
                w.result, w.refusal, w.error = "refused", refused, refused.message
    except PanelUnavailable as exc:
        for w in works:
            w.result, w.error = "unavailable", str(exc)
    latency = int((time.monotonic() - started) * 1000)
    for w in works:
        w.latency_ms = latency


async def _probe(work: Work, client: PanelClient) -> None:
    """Reconcile without lookup (docs/providers.md): read the balance (evidence for the
    operator), then, only on a panel that refuses a second order on a link with an active
    one, send the same order again: an order id means the first add never arrived (the panel
    would have refused it otherwise); "active order with this link" means it most likely did.
    On any other panel nothing is sent: the task is held for an operator (`result` "held")."""
    try:
        work.balance_now = str((await client.balance()).balance)
    except (PanelRefused, PanelUnavailable):
        work.balance_now = None
    if not work.probe_by_add:
        work.result = "held"
        return
    work.answer = await client.add(
        work.service_ext,
        work.link,
        work.quantity,
        runs=work.runs,
        interval=work.interval,
        comments=work.comments or None,
    )


# --- recording outcomes ---------------------------------------------------------------


def _owned(session: Session, task_id: int, token: str) -> FulfillmentTask | None:
    task = session.get(FulfillmentTask, task_id, with_for_update=session.get_bind().dialect.name == "postgresql")
    return task if task is not None and task.claimed_by == token else None


def _release(
    task: FulfillmentTask, status: str, now: datetime, *, next_at: datetime | None = None, error: str = ""
) -> None:
    task.status, task.claimed_by, task.lease_expires_at = status, "", None
    if next_at is not None:
        task.next_attempt_at = next_at
    if error:
        task.last_error = error[:4000]
    task.updated_at = now


def _fail(
    session: Session,
    task: FulfillmentTask,
    item: OrderItem,
    error: str,
    now: datetime,
    settings: Settings,
    counts: dict[str, int],
) -> str:
    task.attempts += 1
    if task.attempts >= task.max_attempts:
        _release(task, TaskStatus.DEAD_LETTER.value, now, error=error)
        counts["dead_lettered"] += 1
        if states.can_move(item.status, OrderStatus.ON_HOLD):
            states.set_item_status(
                session,
                item,
                OrderStatus.ON_HOLD,
                JOB_ACTOR,
                f"Delivery stopped after {task.attempts} attempts: {error}"[:1000],
                at=now,
            )
        return AttemptOutcome.DEAD_LETTERED.value
    delay = backoff_seconds(task.attempts, settings)
    _release(task, TaskStatus.RETRY_WAIT.value, now, next_at=now + timedelta(seconds=delay), error=error)
    counts["retried"] += 1
    return AttemptOutcome.RETRIED.value


def _submitted(
    session: Session,
    task: FulfillmentTask,
    item: OrderItem,
    po: ProviderOrder,
    external_id: str,
    now: datetime,
    how: str,
) -> None:
    po.external_order_id, po.submitted_at, po.updated_at = external_id, now, now
    session.add(po)
    _release(task, TaskStatus.COMPLETED.value, now)
    provider_name = session.get(Provider, po.provider_id).name
    states.add_event(
        session,
        item.order_id,
        OrderEventKind.PROVIDER_ORDER,
        JOB_ACTOR,
        f"{how} to {provider_name} as order #{external_id} ({po.quantity} units)",
        item.id,
        {"provider_order_id": po.id, "external_order_id": external_id, "task_id": task.id},
        at=now,
    )
    if item.status in (
        OrderStatus.PENDING,
        OrderStatus.ON_HOLD,
        OrderStatus.PARTIALLY_DELIVERED,
        OrderStatus.COMPLETED,
    ):
        states.set_item_status(session, item, OrderStatus.PROCESSING, JOB_ACTOR, "Sent to the provider.", at=now)


def record(
    session: Session, token: str, work: list[Work], now: datetime, settings: Settings, *, bulk: bool = True
) -> dict[str, int]:
    """Write every outcome of a finished group of calls in one transaction.

    Accepted submits (the common case) are written in bulk by `_record_submitted_bulk`, a
    fixed number of statements per batch; every other outcome goes through the per-task
    path below (`bulk=False` sends accepted submits there too: the reference the tests
    compare the bulk path with). Every attempt row is inserted in one statement."""
    session.expire_all()  # Core writes below: never trust rows loaded before this transaction
    counts: dict[str, int] = defaultdict(int)
    attempts: list[dict[str, Any]] = []
    fast = [w for w in work if w.mode == "submit" and w.result == "ok"] if bulk else []
    if fast:
        attempts += _record_submitted_bulk(session, token, fast, now, counts)
    items_cache: dict[int, OrderItem] = {}
    for w in work:
        if bulk and w.mode == "submit" and w.result == "ok":
            continue  # recorded above
        task = _owned(session, w.task_id, token)
        if task is None:
            counts["lease_lost"] += 1
            continue
        item = items_cache.get(task.order_item_id) or session.get(OrderItem, task.order_item_id)
        items_cache[item.id] = item
        po = session.get(ProviderOrder, w.provider_order_id) if w.provider_order_id else None
        outcome = AttemptOutcome.SUCCEEDED.value
        counts["processed"] += 1
        if w.mode == "fail":
            if item.status == OrderStatus.PENDING:
                states.set_item_status(session, item, OrderStatus.ON_HOLD, JOB_ACTOR, w.error[:500], at=now)
            outcome = _fail(session, task, item, w.error, now, settings, counts)
        elif w.mode == "refill":
            outcome = _record_refill(session, task, item, po, w, now, settings, counts)
        elif w.mode == "cancel":
            outcome = _record_cancel(session, task, item, po, w, now, settings, counts)
        elif w.mode == "submit":
            if w.result == "ok":
                _submitted(session, task, item, po, w.answer, now, "Submitted")
                counts["submitted"] += 1
            elif w.result == "refused":
                po.status, po.error, po.updated_at = ProviderOrderStatus.FAILED.value, w.error, now
                session.add(po)
                outcome = _refused(session, task, item, po, w.refusal, now, settings, counts)
            else:  # no usable answer: the panel may have the order; reconcile after a short lease
                po.error = w.error
                session.add(po)
                task.lease_expires_at = now + timedelta(seconds=settings.fulfillment_reconcile_delay_seconds)
                task.claimed_by, task.last_error = "", w.error
                outcome = AttemptOutcome.AMBIGUOUS.value
                counts["ambiguous"] += 1
        elif w.mode == "reconcile" and not w.lookup_by_ref:
            outcome = _reconciled_without_lookup(session, task, item, po, w, now, settings, counts)
        elif w.mode == "reconcile":
            if w.result == "ok" and w.answer:
                _submitted(session, task, item, po, w.answer, now, "Reconciled: found on the panel, adopted")
                outcome = AttemptOutcome.RECONCILED.value
                counts["reconciled"] += 1
            elif w.result == "ok":  # the add never reached the panel: close the intent, submit again
                po.status, po.error, po.updated_at = ProviderOrderStatus.FAILED.value, "never reached the panel", now
                session.add(po)
                # the panel had trouble (5xx, timeout): the next route may take it at once
                _exclude_provider(task, po.provider_id)
                outcome = _fail(session, task, item, "add never reached the panel", now, settings, counts)
                if task.status == TaskStatus.RETRY_WAIT.value:
                    task.next_attempt_at = now  # nothing was wrong with the order: go again at once
            else:
                task.attempts += 1
                if task.attempts >= task.max_attempts:
                    _release(task, TaskStatus.DEAD_LETTER.value, now, error=f"cannot reconcile: {w.error}")
                    outcome = AttemptOutcome.DEAD_LETTERED.value
                    counts["dead_lettered"] += 1
                else:
                    task.claimed_by, task.last_error = "", w.error
                    task.lease_expires_at = now + timedelta(seconds=backoff_seconds(task.attempts, settings))
                    outcome = AttemptOutcome.RETRIED.value
                    counts["retried"] += 1
        session.add(task)
        attempts.append(_attempt_row(task.id, w, task.kind, outcome, now))
    session.flush()
    if attempts:
        session.execute(insert(FulfillmentAttempt.__table__), attempts)
    session.commit()
    return counts


def _attempt_row(task_id: int, w: Work, kind: str, outcome: str, now: datetime) -> dict[str, Any]:
    return {
        "task_id": task_id,
        "provider_id": w.provider_id,
        "task_kind": kind,
        "outcome": outcome,
        "latency_ms": w.latency_ms,
        "error": (w.error or "")[:1000],
        "created_at": now,
    }


SUBMITTED_FROM = (OrderStatus.PENDING, OrderStatus.ON_HOLD, OrderStatus.PARTIALLY_DELIVERED, OrderStatus.COMPLETED)


def _record_submitted_bulk(
    session: Session, token: str, works: list[Work], now: datetime, counts: dict[str, int]
) -> list[dict[str, Any]]:
    """Record accepted submits in bulk: the rows `_submitted` writes task by task, in a
    fixed number of statements whatever the batch size (no per-task query).

    Reads (two statements): the tasks still carrying `token` (locked FOR UPDATE on
    PostgreSQL) joined to their line, provider order, provider and order; the statuses of
    every line of those orders. Writes: one
    executemany for the provider orders, one UPDATE for the tasks (guarded by the token), one
    per new item / order status, one multi-row INSERT of events. Order statuses are derived
    line by line in memory in the same order as the per-task path, so the same events come
    out. Returns the attempt rows (inserted by the caller)."""
    t, po_t, it, o = FulfillmentTask, ProviderOrder, OrderItem, Order
    pg = session.get_bind().dialect.name == "postgresql"
    ids = [w.task_id for w in works]
    # one read for the tasks still carrying the token (locked on PostgreSQL), their line,
    # provider order and provider name, and the line's order status
    owned_q = (
        select(
            t.id,
            t.kind,
            t.order_item_id,
            it.order_id,
            it.product_title,
            po_t.id.label("po_id"),
            po_t.quantity,
            po_t.provider_id,
            Provider.name.label("provider_name"),
            o.status.label("order_status"),
        )
        .join(it, it.id == t.order_item_id)
        .join(o, o.id == it.order_id)
        .join(po_t, and_(po_t.fulfillment_task_id == t.id, po_t.id.in_([w.provider_order_id for w in works])))
        .join(Provider, Provider.id == po_t.provider_id)
        .where(t.id.in_(ids), t.claimed_by == token)
    )
    if pg:
        owned_q = owned_q.with_for_update(of=t)
    owned = {row.id: row for row in session.execute(owned_q)}
    mine = [w for w in works if w.task_id in owned]
    if len(mine) < len(works):
        counts["lease_lost"] += len(works) - len(mine)
    if not mine:
        return []
    order_status = {row.order_id: row.order_status for row in owned.values()}
    # and one for the statuses of every line of those orders (to derive the order status)
    status_of: dict[int, str] = {}
    items_of: dict[int, list[int]] = defaultdict(list)
    for item_id, order_id, status in session.execute(
        select(it.id, it.order_id, it.status).where(it.order_id.in_(order_status)).order_by(it.id)
    ).all():
        status_of[item_id] = status
        items_of[order_id].append(item_id)

    # every status change and event goes through the state machine, in its batch form
    batch = states.TransitionBatch(now, status_of, order_status, items_of)
    po_rows: list[dict[str, Any]] = []
    attempts: list[dict[str, Any]] = []
    for w in mine:
        task = line = po = owned[w.task_id]
        po_rows.append({"b_id": po.po_id, "b_ext": w.answer})
        batch.event(
            line.order_id,
            line.order_item_id,
            OrderEventKind.PROVIDER_ORDER,
            JOB_ACTOR,
            f"Submitted to {po.provider_name} as order #{w.answer} ({po.quantity} units)",
            {"provider_order_id": po.po_id, "external_order_id": w.answer, "task_id": task.id},
        )
        if status_of[line.order_item_id] in SUBMITTED_FROM:
            batch.move_item(
                line.order_id,
                line.order_item_id,
                line.product_title,
                OrderStatus.PROCESSING.value,
                JOB_ACTOR,
                "Sent to the provider.",
            )
        attempts.append(_attempt_row(task.id, w, task.kind, AttemptOutcome.SUCCEEDED.value, now))
        counts["processed"] += 1
        counts["submitted"] += 1

    pot = ProviderOrder.__table__
    session.execute(
        update(pot)
        .where(pot.c.id == bindparam("b_id"))
        .values(external_order_id=bindparam("b_ext"), submitted_at=now, updated_at=now),
        po_rows,
    )
    tt = FulfillmentTask.__table__
    session.execute(
        update(tt)
        .where(tt.c.id.in_([w.task_id for w in mine]), tt.c.claimed_by == token)
        .values(status=TaskStatus.COMPLETED.value, claimed_by="", lease_expires_at=None, updated_at=now)
    )
    batch.flush(session)
    return attempts


def _refused(
    session: Session,
    task: FulfillmentTask,
    item: OrderItem,
    po: ProviderOrder,
    refusal: PanelRefused,
    now: datetime,
    settings: Settings,
    counts: dict[str, int],
) -> str:
    payload = dict(task.payload or {})
    if refusal.is_active_link:
        # Not a failure: another provider may take it at once; otherwise wait the order out.
        tried = set(payload.get("exclude_provider_ids", []))
        if po.provider_id not in tried and not payload.get("link_wait"):
            payload["exclude_provider_ids"] = sorted(tried | {po.provider_id})
            payload["link_wait"] = True
            task.payload = payload
            _release(task, TaskStatus.PENDING.value, now, next_at=now, error=refusal.message)
        else:
            payload.pop("link_wait", None)
            payload["exclude_provider_ids"] = []
            task.payload = payload
            _release(
                task,
                TaskStatus.RETRY_WAIT.value,
                now,
                next_at=now + timedelta(seconds=settings.fulfillment_link_wait_seconds),
                error=refusal.message,
            )
        counts["waited"] += 1
        return AttemptOutcome.WAITED.value
    if refusal.is_no_funds or refusal.is_rate_limited:
        # this provider cannot take it now (nothing was created): fail over to the next route
        # that passes the guardrail at once; with no other route, back off on this one
        _exclude_provider(task, po.provider_id)
        if refusal.is_no_funds:
            provider = session.get(Provider, po.provider_id)
            provider.balance = Decimal(0)  # known balance: routing skips it until the health job reads it again
            session.add(provider)
        outcome = _fail(session, task, item, f"refused by the panel: {refusal.message}", now, settings, counts)
        if task.status == TaskStatus.RETRY_WAIT.value and _another_route(session, task, item):
            task.next_attempt_at = now
        return outcome
    if refusal.is_unknown_service:
        mark_service_vanished(session, po.provider_service_id, now)
        payload["exclude_service_ids"] = sorted(set(payload.get("exclude_service_ids", [])) | {po.provider_service_id})
        task.payload = payload
    return _fail(session, task, item, f"refused by the panel: {refusal.message}", now, settings, counts)


def _exclude_provider(task: FulfillmentTask, provider_id: int) -> None:
    payload = dict(task.payload or {})
    payload["exclude_provider_ids"] = sorted(set(payload.get("exclude_provider_ids", [])) | {provider_id})
    task.payload = payload


def _another_route(session: Session, task: FulfillmentTask, item: OrderItem) -> bool:
    """Whether a route other than the excluded ones is eligible now (inside the guardrail)."""
    try:
        spec, quantity, price = _spec_and_quantity(task, item)
    except InvalidDeliverySpec:
        return False
    ctx = RoutingContext.load(session, [item.product_id])
    payload = task.payload or {}
    return any(
        c.eligible
        for c in candidates(
            ctx,
            item.product_id,
            spec,
            quantity,
            price,
            exclude_service_ids=payload.get("exclude_service_ids", []),
            exclude_provider_ids=payload.get("exclude_provider_ids", []),
        )
    )


def _reconciled_without_lookup(
    session: Session,
    task: FulfillmentTask,
    item: OrderItem,
    po: ProviderOrder,
    w: Work,
    now: datetime,
    settings: Settings,
    counts: dict[str, int],
) -> str:
    """The outcome of `_probe` (docs/providers.md, "Reconcile without lookup"): never a
    blind resubmit. An order id from the re-sent add is adopted; anything else holds the
    task for an operator with the evidence, except an unanswered probe, which is probed
    again later (it may itself have created the order: the next probe is then refused)."""
    if w.result == "ok" and w.answer:
        _submitted(
            session, task, item, po, w.answer, now, "Reconciled: sent again (the first add had not arrived), submitted"
        )
        counts["reconciled"] += 1
        return AttemptOutcome.RECONCILED.value
    if w.result == "unavailable":
        task.attempts += 1
        if task.attempts < task.max_attempts:
            task.claimed_by, task.last_error = "", w.error
            delay = max(settings.fulfillment_reconcile_delay_seconds, backoff_seconds(task.attempts, settings))
            task.lease_expires_at = now + timedelta(seconds=delay)
            counts["retried"] += 1
            return AttemptOutcome.RETRIED.value
        finding = f"the panel gave no usable answer to the probe ({w.error})"
    elif w.result == "refused" and w.refusal is not None and w.refusal.is_active_link:
        finding = (
            "the panel refused the same order sent again because it has an active order on this link: "
            "the first add most likely arrived"
        )
    elif w.result == "refused":
        finding = f"the panel refused the same order sent again: {w.error}"
    else:
        finding = "this panel can neither look orders up nor refuses a second order on an active link"
    return _hold(session, task, item, po, w, finding, now, counts)


HELD_PREFIX = "held for an operator: "


def _hold(
    session: Session,
    task: FulfillmentTask,
    item: OrderItem,
    po: ProviderOrder,
    w: Work,
    finding: str,
    now: datetime,
    counts: dict[str, int],
) -> str:
    """Stop: the outcome of an add is unknown. The task waits in the dead letters with the
    evidence in `payload["held"]` until an operator decides (operator_actions.confirm_reached
    / submit_not_reached)."""
    service = session.get(ProviderService, po.provider_service_id)
    provider = session.get(Provider, po.provider_id)
    charge = Decimal(service.rate_per_1000) * po.quantity * (po.runs or 1) / 1000
    known = provider.balance
    moved = ""
    if known is not None and w.balance_now is not None:
        moved = (
            f"; balance {w.balance_now} now, {known} at the last check"
            f" (moved {known - Decimal(w.balance_now):.4f}; this order costs about {charge:.4f})"
        )
    evidence = {
        "provider_order_id": po.id,
        "provider_id": provider.id,
        "provider": provider.name,
        "service": service.external_service_id,
        "link": po.link,
        "quantity": po.quantity,
        "intent_at": po.created_at.isoformat() if po.created_at else None,
        "expected_charge": f"{charge:.4f}",
        "balance_known": None if known is None else str(known),
        "balance_known_at": provider.last_health_check_at.isoformat() if provider.last_health_check_at else None,
        "balance_now": w.balance_now,
        "finding": finding,
    }
    task.payload = {**(task.payload or {}), "held": evidence}
    message = f"{HELD_PREFIX}{finding}{moved}. Check {provider.name} for an order on {po.link}"
    _release(task, TaskStatus.DEAD_LETTER.value, now, error=message)
    counts["held"] += 1
    states.add_event(
        session,
        item.order_id,
        OrderEventKind.PROVIDER_ORDER,
        JOB_ACTOR,
        f"Held: did the order reach {provider.name}? {finding}"[:1000],
        item.id,
        {"provider_order_id": po.id, "task_id": task.id, "held": True},
        at=now,
    )
    if states.can_move(item.status, OrderStatus.ON_HOLD):
        states.set_item_status(
            session, item, OrderStatus.ON_HOLD, JOB_ACTOR, "Waiting for an operator: did it reach the panel?", at=now
        )
    return AttemptOutcome.HELD.value


def _record_refill(
    session: Session,
    task: FulfillmentTask,
    item: OrderItem,
    po: ProviderOrder,
    w: Work,
    now: datetime,
    settings: Settings,
    counts: dict[str, int],
) -> str:
    refill = session.get(Refill, w.refill_id)
    if w.result == "ok":
        refill.external_refill_id, refill.status = w.answer, RefillStatus.PENDING.value
        refill.last_checked_at = refill.updated_at = now
        session.add(refill)
        _release(task, TaskStatus.COMPLETED.value, now)
        states.add_event(
            session,
            item.order_id,
            OrderEventKind.REFILL,
            JOB_ACTOR,
            f"Refill sent to the provider as #{w.answer} for order #{po.external_order_id}",
            item.id,
            {"refill_id": refill.id, "external_refill_id": w.answer},
            at=now,
        )
        counts["refills_sent"] += 1
        return AttemptOutcome.SUCCEEDED.value
    if w.result == "refused":  # a definite no: the refill is rejected, no retry
        refill.status, refill.error, refill.updated_at = RefillStatus.REJECTED.value, w.error[:2000], now
        session.add(refill)
        _release(task, TaskStatus.FAILED.value, now, error=w.error)
        states.add_event(
            session,
            item.order_id,
            OrderEventKind.REFILL,
            JOB_ACTOR,
            f"Refill refused by the provider: {w.error}",
            item.id,
            {"refill_id": refill.id},
            at=now,
        )
        counts["refills_refused"] += 1
        return AttemptOutcome.DEAD_LETTERED.value
    outcome = _fail(session, task, item, w.error, now, settings, counts)
    if task.status == TaskStatus.DEAD_LETTER.value:
        refill.status, refill.error = RefillStatus.FAILED.value, w.error[:2000]
        session.add(refill)
    return outcome


def _record_cancel(
    session: Session,
    task: FulfillmentTask,
    item: OrderItem,
    po: ProviderOrder,
    w: Work,
    now: datetime,
    settings: Settings,
    counts: dict[str, int],
) -> str:
    """The panel's answer to a cancel, on the timeline. Accepted: status sync sees the order
    end (Canceled or Partial) and refunds what was not delivered. Refused: a definite no (the
    customer reads why on their order page). No answer: retried with backoff, then dead-lettered
    (the line itself is not put on hold: its delivery goes on)."""
    from smplat.services.fulfillment.cancel import customer_words

    base = {"provider_order_id": po.id, "task_id": task.id}
    if w.result == "ok":
        _release(task, TaskStatus.COMPLETED.value, now)
        states.add_event(
            session,
            item.order_id,
            OrderEventKind.PROVIDER_ORDER,
            JOB_ACTOR,
            f"Cancel of order #{po.external_order_id} accepted by the provider",
            item.id,
            {**base, "cancel": "sent"},
            at=now,
        )
        counts["cancels_sent"] += 1
        return AttemptOutcome.SUCCEEDED.value
    if w.result == "refused":
        _release(task, TaskStatus.FAILED.value, now, error=w.error)
        states.add_event(
            session,
            item.order_id,
            OrderEventKind.PROVIDER_ORDER,
            JOB_ACTOR,
            f"Cancel of order #{po.external_order_id} refused by the provider: {w.error}"[:1000],
            item.id,
            {**base, "cancel": "refused", "customer_message": customer_words(w.error)},
            at=now,
        )
        counts["cancels_refused"] += 1
        return AttemptOutcome.SUCCEEDED.value  # the call worked; the answer was no
    task.attempts += 1
    if task.attempts >= task.max_attempts:
        _release(task, TaskStatus.DEAD_LETTER.value, now, error=w.error)
        states.add_event(
            session,
            item.order_id,
            OrderEventKind.PROVIDER_ORDER,
            JOB_ACTOR,
            f"Cancel of order #{po.external_order_id} not delivered to the provider: {w.error}"[:1000],
            item.id,
            {**base, "cancel": "failed", "customer_message": "We could not reach the supplier to cancel it."},
            at=now,
        )
        counts["dead_lettered"] += 1
        return AttemptOutcome.DEAD_LETTERED.value
    delay = backoff_seconds(task.attempts, settings)
    _release(task, TaskStatus.RETRY_WAIT.value, now, next_at=now + timedelta(seconds=delay), error=w.error)
    counts["retried"] += 1
    return AttemptOutcome.RETRIED.value


# --- the drain loop (the fulfilment job) -------------------------------------------------


RECORD_WINDOW_SECONDS = 0.15  # how long the writer gathers finished calls into one transaction


def run_fulfillment(
    session_factory: Any,
    now: datetime | None = None,
    *,
    settings: Settings | None = None,
    max_seconds: float | None = None,
    clock: Clock | None = None,
) -> dict[str, int]:
    """Drain the queue: claim batches, call providers with bounded concurrency, record outcomes.

    Every time of day (what is due, leases, backoff, row times) is read from `clock`, else
    from time moving on from `now` (see `common.clock_from`). Claims stop after
    `fulfillment_tick_max_seconds` (or `max_seconds`) of real run time; calls in flight finish."""
    settings = settings or get_settings()
    return asyncio.run(
        _drain(session_factory, settings, max_seconds or settings.fulfillment_tick_max_seconds, clock_from(now, clock))
    )


async def _drain(session_factory: Any, settings: Settings, max_seconds: float, clock: Clock) -> dict[str, int]:
    token_base = worker_id()
    deadline = time.monotonic() + max_seconds
    totals: dict[str, int] = defaultdict(int)
    sem = asyncio.Semaphore(settings.fulfillment_concurrency)
    clients: dict[int, PanelClient] = {}
    done: asyncio.Queue[tuple[str, Work]] = asyncio.Queue()
    inflight = 0  # claimed, outcome not yet recorded
    calling = 0  # claimed, provider call not yet finished
    loop = asyncio.get_running_loop()
    record_limit = max(settings.fulfillment_batch_size, settings.fulfillment_concurrency)
    # claim the next batch while the current one is still in flight: the tasks waiting for
    # or in a provider call are kept at about one batch plus the calls in flight
    refill_below = max(settings.fulfillment_concurrency * 2, settings.fulfillment_batch_size)
    room = asyncio.Event()
    room.set()

    with session_factory() as session:
        providers = {p.id: p for p in session.execute(select(Provider)).scalars()}

    def client(provider_id: int) -> PanelClient:
        if provider_id not in clients:
            clients[provider_id] = client_for(providers[provider_id], max_connections=settings.fulfillment_concurrency)
        return clients[provider_id]

    def claim_and_prepare(token: str) -> list[Work]:
        now = clock()
        with session_factory() as session:
            ids = claim_tasks(session, token, settings.fulfillment_batch_size, now, settings.fulfillment_lease_seconds)
            return prepare(session, token, ids, now, settings)

    def write(batch: list[tuple[str, Work]]) -> dict[str, int]:
        by_token: dict[str, list[Work]] = defaultdict(list)
        for token, w in batch:
            by_token[token].append(w)
        merged: dict[str, int] = defaultdict(int)
        with session_factory() as session:
            for token, works in by_token.items():
                for key, value in record(session, token, works, clock(), settings).items():
                    merged[key] += value
        return merged

    async def one(token: str, w: Work) -> None:
        nonlocal calling
        try:
            if w.mode != "fail":
                async with sem:
                    await call_provider(w, client(w.provider_id))
        finally:
            calling -= 1
            if calling < refill_below:
                room.set()
            await done.put((token, w))

    async def cancels(token: str, provider_id: int, works: list[Work]) -> None:
        """A batch's cancels for one provider: one multi call."""
        nonlocal calling
        try:
            async with sem:
                await call_cancels(works, client(provider_id))
        finally:
            calling -= len(works)
            if calling < refill_below:
                room.set()
            for w in works:
                await done.put((token, w))

    async def writer() -> None:
        nonlocal inflight
        while True:
            first = await done.get()
            if first[1] is None:  # type: ignore[comparison-overlap]
                return
            # Gather outcomes for up to RECORD_WINDOW_SECONDS (or a full batch) so one
            # transaction of a fixed number of statements records many tasks.
            batch = [first]
            window_ends = loop.time() + RECORD_WINDOW_SECONDS
            while len(batch) < record_limit:
                if done.empty():
                    left = window_ends - loop.time()
                    if left <= 0 or not calls:
                        break
                    try:
                        nxt = await asyncio.wait_for(done.get(), left)
                    except TimeoutError:
                        break
                else:
                    nxt = done.get_nowait()
                if nxt[1] is None:  # type: ignore[comparison-overlap]
                    await done.put(nxt)
                    break
                batch.append(nxt)
            counts = write(batch)
            for key, value in counts.items():
                totals[key] += value
            inflight -= len(batch)

    writer_task = asyncio.create_task(writer())
    calls: set[asyncio.Task[None]] = set()
    try:
        n = 0
        while time.monotonic() < deadline:
            await room.wait()
            n += 1
            token = f"{token_base}:{n}:{uuid.uuid4().hex[:6]}"
            work = claim_and_prepare(token)
            if not work:
                if inflight == 0:
                    break
                room.clear()
                await asyncio.sleep(0.02)
                room.set()
                continue
            to_cancel: dict[int, list[Work]] = defaultdict(list)
            for w in work:
                if w.provider_id is not None and w.provider_id not in providers:
                    with session_factory() as session:
                        providers.update({p.id: p for p in session.execute(select(Provider)).scalars()})
                inflight += 1
                calling += 1
                if w.mode == "cancel":  # gathered: one multi call per provider
                    to_cancel[w.provider_id].append(w)
                    continue
                task = asyncio.create_task(one(token, w))
                calls.add(task)
                task.add_done_callback(calls.discard)
            for provider_id, works in to_cancel.items():
                task = asyncio.create_task(cancels(token, provider_id, works))
                calls.add(task)
                task.add_done_callback(calls.discard)
            if calling >= refill_below:
                room.clear()
        if calls:
            await asyncio.gather(*list(calls))
    finally:
        await done.put(("", None))  # type: ignore[arg-type]
        await writer_task
        for c in clients.values():
            await c.aclose()
    return dict(totals)
