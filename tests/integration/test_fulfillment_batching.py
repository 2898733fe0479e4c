"""Batched recording, the process-wide rate limit and the configured retry limit."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import select

from smplat.db import session_scope
from smplat.integrations.panel import shared_limiter
from smplat.models.base import utcnow
from smplat.models.fulfillment import FulfillmentAttempt, FulfillmentTask
from smplat.models.orders import Order, OrderEvent, OrderItem, OrderStatus
from smplat.models.providers import Provider, ProviderOrder
from smplat.services.fulfillment import engine
from smplat.services.providers import client_for
from smplat.settings import get_settings, reset_settings_cache
from tests.fulfillment_factory import paid_order, product, seed_with_panel

pytestmark = pytest.mark.integration


def _orders(session, n_orders, lines_per_order, tag):
    likes = product(session, "instagram-likes")
    return [
        paid_order(
            session, [(likes, f"https://instagram.com/p/{tag}{o}-{i}", 1000, 990) for i in range(lines_per_order)]
        )
        for o in range(n_orders)
    ]


def _claimed_work(session, order_ids):
    """Claim and prepare every queued task, then fake an accepted `add` for the given orders."""
    token, now = f"test:{time.time_ns()}", utcnow()
    ids = engine.claim_tasks(session, token, 1000, now, 120)
    work = engine.prepare(session, token, ids, now, get_settings())
    items = dict(session.execute(select(OrderItem.id, OrderItem.order_id)).all())
    tasks = dict(session.execute(select(FulfillmentTask.id, FulfillmentTask.order_item_id)).all())
    chosen = [w for w in work if items[tasks[w.task_id]] in order_ids]
    for n, w in enumerate(chosen):
        w.result, w.answer, w.latency_ms = "ok", f"{token[-9:]}-{n}", 50
    return token, now, chosen


def _snapshot(session, order_id):
    """Everything recording writes for one order, without ids and timestamps."""
    session.expire_all()
    item_ids = [
        i.id
        for i in session.execute(
            select(OrderItem).where(OrderItem.order_id == order_id).order_by(OrderItem.id)
        ).scalars()
    ]
    tasks = list(
        session.execute(
            select(FulfillmentTask).where(FulfillmentTask.order_item_id.in_(item_ids)).order_by(FulfillmentTask.id)
        ).scalars()
    )
    drop = {"provider_order_id", "task_id", "stripe_session"}  # the ids each order has of its own
    return {
        "order": session.get(Order, order_id).status,
        "items": [session.get(OrderItem, i).status for i in item_ids],
        "tasks": [(t.status, t.claimed_by, t.lease_expires_at, t.attempts, t.last_error) for t in tasks],
        "provider_orders": [
            (p.external_order_id[1:], p.submitted_at is not None, p.status, p.error)
            for p in session.execute(
                select(ProviderOrder).where(ProviderOrder.order_item_id.in_(item_ids)).order_by(ProviderOrder.id)
            ).scalars()
        ],
        "events": [
            (
                e.kind,
                e.actor_type,
                e.actor_label,
                e.message.replace(f"#{e.data.get('external_order_id')}", "#EXT"),
                e.order_item_id is None,
                {k: (v[1:] if k == "external_order_id" else v) for k, v in e.data.items() if k not in drop},
            )
            for e in session.execute(
                select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)
            ).scalars()
        ],
        "attempts": [
            (a.provider_id, a.task_kind, a.outcome, a.latency_ms, a.error)
            for a in session.execute(
                select(FulfillmentAttempt)
                .where(FulfillmentAttempt.task_id.in_([t.id for t in tasks]))
                .order_by(FulfillmentAttempt.id)
            ).scalars()
        ],
    }


def test_batched_recording_writes_the_same_rows_as_the_per_task_path(session, panel):
    # given two identical three-line orders, one line of each on hold, all claimed and "accepted" by the panel
    seed_with_panel(session, panel.base_url)
    a, b = _orders(session, 2, 3, "same")
    for order in (a, b):
        first = (
            session.execute(select(OrderItem).where(OrderItem.order_id == order.id).order_by(OrderItem.id))
            .scalars()
            .first()
        )
        first.status = OrderStatus.ON_HOLD.value
        session.add(first)
        session.get(Order, order.id).status = OrderStatus.ON_HOLD.value
    session.commit()
    token, now, work = _claimed_work(session, {a.id, b.id})
    items = dict(session.execute(select(OrderItem.id, OrderItem.order_id)).all())
    tasks = dict(session.execute(select(FulfillmentTask.id, FulfillmentTask.order_item_id)).all())
    work_a = [w for w in work if items[tasks[w.task_id]] == a.id]
    work_b = [w for w in work if items[tasks[w.task_id]] == b.id]
    for n, w in enumerate(work_a):
        w.answer = f"A{n}"
    for n, w in enumerate(work_b):
        w.answer = f"B{n}"
    # when a's outcomes are recorded in bulk and b's task by task
    with session_scope() as s:
        bulk = engine.record(s, token, work_a, now, get_settings())
    with session_scope() as s:
        per_task = engine.record(s, token, work_b, now, get_settings(), bulk=False)
    # then both write the same rows and counts
    assert bulk == per_task == {"processed": 3, "submitted": 3}
    snap_a, snap_b = _snapshot(session, a.id), _snapshot(session, b.id)
    assert snap_a == snap_b
    assert snap_a["order"] == "processing" and snap_a["items"] == ["processing"] * 3
    assert [e[0] for e in snap_a["events"]].count("provider_order") == 3


def test_recording_a_batch_takes_the_same_number_of_statements_whatever_its_size(session, panel, count_queries):
    # given 2 and then 12 claimed tasks with accepted adds
    seed_with_panel(session, panel.base_url)

    def record_batch(orders):
        token, now, work = _claimed_work(session, {o.id for o in orders})
        with count_queries(session) as q, session_scope() as s:
            counts = engine.record(s, token, work, now, get_settings())
        assert counts["submitted"] == len(work)
        return q.count

    small = record_batch(_orders(session, 2, 1, "small"))
    large = record_batch(_orders(session, 4, 3, "large"))
    # then no statement is issued per task (a per-task query creeping back would grow `large`)
    assert large == small
    assert large <= 16


def test_provider_rate_limit_lasts_for_the_life_of_the_process():
    # given a provider limited to 5 calls per second whose burst a first run used up
    provider = Provider(
        id=987654,
        name="Limited",
        slug="limited",
        base_url="http://127.0.0.1:9/api/v2",
        rate_limit_per_second=5,
        timeout_seconds=5,
    )

    async def calls(n: int) -> float:
        client = client_for(provider)
        try:
            started = time.monotonic()
            for _ in range(n):
                await client.limiter.acquire()
            return time.monotonic() - started
        finally:
            await client.aclose()

    assert asyncio.run(calls(5)) < 0.15
    # when a second run (a new event loop, a new client) calls again at once
    elapsed = asyncio.run(calls(2))
    # then it is not given a fresh bucket: it waits for tokens
    assert elapsed >= 0.3
    assert client_for(provider).limiter is shared_limiter(f"provider:{provider.id}:{provider.base_url}", 5)


def test_max_attempts_comes_from_the_settings(session, panel, monkeypatch):
    # given SMPLAT_FULFILLMENT_MAX_ATTEMPTS=2 and a panel that refuses every add
    monkeypatch.setenv("SMPLAT_FULFILLMENT_MAX_ATTEMPTS", "2")
    reset_settings_cache()
    seed_with_panel(session, panel.base_url)
    (_order,) = _orders(session, 1, 1, "limit")
    task = session.execute(select(FulfillmentTask)).scalars().one()
    assert task.max_attempts == 2
    panel.state.script("add", "error:Link is private", "error:Link is private", "error:Link is private")
    # when the job runs (retries are due at once)
    counts = engine.run_fulfillment(session_scope)
    # then the second failure dead-letters it
    assert counts == {"processed": 2, "retried": 1, "dead_lettered": 1}
    session.expire_all()
    assert (session.get(FulfillmentTask, task.id).status, session.get(FulfillmentTask, task.id).attempts) == (
        "dead_letter",
        2,
    )
