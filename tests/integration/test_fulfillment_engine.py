"""The fulfilment engine on real databases against the panel sandbox over HTTP."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from smplat.db import session_scope
from smplat.models.base import utcnow
from smplat.models.fulfillment import (
    AttemptOutcome,
    FulfillmentAttempt,
    FulfillmentTask,
    TaskStatus,
)
from smplat.models.orders import Order, OrderEvent, OrderItem, PaymentStatus
from smplat.models.payments import Payment, PaymentKind
from smplat.models.providers import ProviderOrder, ProviderService, Refill
from smplat.services.errors import ErrorCode, ServiceError
from smplat.services.fulfillment import (
    engine,
    operator_actions,
    read_models,
    status_sync,
)
from smplat.services.order_status import Actor
from smplat.settings import get_settings, reset_settings_cache
from tests.fake_clock import FakeClock
from tests.fulfillment_factory import paid_order, product, seed_with_panel

pytestmark = pytest.mark.integration


def _events(session, order_id):
    return [
        (e.kind, e.actor_label, e.message)
        for e in session.execute(
            select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)
        ).scalars()
    ]


def test_paid_order_goes_through_the_sandbox_panel_to_completed(session, panel):
    # given a paid two-line order
    seed_with_panel(session, panel.base_url)
    likes, followers = product(session, "instagram-likes"), product(session, "instagram-followers")
    order = paid_order(
        session,
        [(likes, "https://instagram.com/p/e2e1", 1000, 990), (followers, "https://instagram.com/e2e", 500, 690)],
    )
    # when the fulfilment job and then the status sync run
    submitted = engine.run_fulfillment(session_scope)
    synced = status_sync.sync_statuses(session_scope)
    # then
    assert submitted == {"processed": 2, "submitted": 2}
    assert synced["polled"] == 2 and synced["completed"] == 2
    session.expire_all()
    assert session.get(Order, order.id).status == "completed"
    items = list(
        session.execute(select(OrderItem).where(OrderItem.order_id == order.id).order_by(OrderItem.id)).scalars()
    )
    assert [(i.status, i.delivered_quantity, i.remains) for i in items] == [
        ("completed", 1000, 0),
        ("completed", 500, 0),
    ]
    assert all(i.start_count is not None for i in items)
    pos = list(session.execute(select(ProviderOrder).order_by(ProviderOrder.id)).scalars())
    # the two adds run concurrently: which reaches the panel first (and gets 1000) is a race
    assert [(p.status, str(p.charge)) for p in pos] == [("completed", "0.350000"), ("completed", "0.475000")]
    assert sorted(p.external_order_id for p in pos) == ["1000", "1001"]
    # the two lines are sent and recorded concurrently: their events may interleave either way
    events = _events(session, order.id)
    by_item = {p.order_item_id: p.external_order_id for p in pos}
    submitted_msgs = sorted(m for kind, actor, m in events if m.startswith("Submitted to"))
    assert submitted_msgs == sorted(
        [
            f"Submitted to Sandbox Panel as order #{by_item[items[0].id]} (1000 units)",
            f"Submitted to Sandbox Panel as order #{by_item[items[1].id]} (500 units)",
        ]
    )
    # (checkout places a paid order straight in `processing`: the only order-level change is the last)
    assert sorted(kind for kind, _, _ in events) == ["placed"] + ["provider_order"] * 4 + ["status_changed"] * 5
    assert events[0] == ("placed", "webhook", "Paid €16.80 with Stripe Checkout")
    assert [m for _, _, m in events if m.startswith("Order ")] == ["Order processing → completed"]
    assert events[-1] == ("status_changed", "job:status_sync", "Order processing → completed")
    assert sorted(panel.state.orders_by_link().values()) == [[1000], [1001]]


def test_second_run_submits_nothing_again(session, panel):
    seed_with_panel(session, panel.base_url)
    paid_order(session, [(product(session, "instagram-likes"), "https://instagram.com/p/once", 1000, 990)])
    engine.run_fulfillment(session_scope)
    # when
    again = engine.run_fulfillment(session_scope)
    # then
    assert again == {}
    assert len(panel.state.orders) == 1
    assert panel.state.calls.count("add") == 1


def test_refusal_retries_with_backoff_then_dead_letters_and_holds_the_line(session, panel):
    # given a panel that refuses every add, and tasks allowed two attempts (backoff 0 in tests)
    seed_with_panel(session, panel.base_url)
    order = paid_order(session, [(product(session, "instagram-likes"), "https://instagram.com/p/no", 1000, 990)])
    session.execute(FulfillmentTask.__table__.update().values(max_attempts=2))
    session.commit()
    panel.state.script("add", "error:Link is private", "error:Link is private")
    # when a run goes by (the retry is due at once)
    counts = engine.run_fulfillment(session_scope)
    # then
    assert counts == {"processed": 2, "retried": 1, "dead_lettered": 1}
    session.expire_all()
    task = session.execute(select(FulfillmentTask)).scalars().one()
    assert (task.status, task.attempts, task.last_error) == ("dead_letter", 2, "refused by the panel: Link is private")
    assert session.get(Order, order.id).status == "on_hold"
    assert panel.state.orders == {}
    dead = read_models.dead_letters(session)
    assert [(d["task_id"], d["attempts"]) for d in dead] == [(task.id, 2)]
    # and an operator retries it: it goes through
    operator = Actor.operator(None, "operator@smplat.local")
    operator_actions.retry_task(session, task.id, operator, "customer made the account public")
    session.commit()
    assert engine.run_fulfillment(session_scope) == {"processed": 1, "submitted": 1}
    session.expire_all()
    assert session.get(Order, order.id).status == "processing"
    assert (
        "manual_override",
        "operator@smplat.local",
        f"Task {task.id} (submit) retried by operator@smplat.local: customer made the account public",
    ) in _events(session, order.id)


def test_operator_cancels_a_dead_letter(session, panel):
    seed_with_panel(session, panel.base_url)
    order = paid_order(session, [(product(session, "instagram-likes"), "https://instagram.com/p/c", 1000, 990)])
    task = session.execute(select(FulfillmentTask)).scalars().one()
    task.status = TaskStatus.DEAD_LETTER.value
    session.add(task)
    session.commit()
    # when
    operator_actions.cancel_task(session, task.id, Actor.operator(None, "op@x.test"), "customer asked")
    session.commit()
    # then
    session.expire_all()
    assert session.get(FulfillmentTask, task.id).status == "canceled"
    assert session.get(Order, order.id).status == "canceled"
    with pytest.raises(operator_actions.TaskActionError):
        operator_actions.cancel_task(session, task.id, Actor.operator(None, "op@x.test"), "again")


def test_unanswered_add_is_reconciled_not_resubmitted(session, panel):
    # given an add the panel performs but never answers
    seed_with_panel(session, panel.base_url)
    order = paid_order(session, [(product(session, "instagram-likes"), "https://instagram.com/p/amb", 1000, 990)])
    panel.state.set_knobs(hang_seconds=3.0)
    panel.state.script("add", "hang_after_create")
    provider_timeout = 1
    session.execute(ProviderOrder.__table__.update().values())  # no-op, keeps the session warm
    from smplat.models.providers import Provider

    session.execute(Provider.__table__.update().values(timeout_seconds=provider_timeout))
    session.commit()
    clock = FakeClock()
    # when the first run times out, a run within the reconcile delay finds nothing to do,
    # and a run once the delay has passed reconciles
    first = engine.run_fulfillment(session_scope, clock=clock)
    clock.advance(seconds=get_settings().fulfillment_reconcile_delay_seconds - 1)
    too_early = engine.run_fulfillment(session_scope, clock=clock)
    clock.advance(seconds=2)
    second = engine.run_fulfillment(session_scope, clock=clock)
    # then the order exists once and was adopted
    assert first == {"processed": 1, "ambiguous": 1}
    assert too_early == {}
    assert second == {"processed": 1, "reconciled": 1}
    assert panel.state.calls.count("add") == 1
    session.expire_all()
    po = session.execute(select(ProviderOrder)).scalars().one()
    assert (po.external_order_id, po.status) == ("1000", "pending")
    assert session.execute(select(FulfillmentTask.status)).scalar_one() == "completed"
    first_provider_event = next(m for kind, _, m in _events(session, order.id) if kind == "provider_order")
    assert (
        first_provider_event == "Reconciled: found on the panel, adopted to Sandbox Panel as order #1000 (1000 units)"
    )


def test_a_run_reads_the_time_from_its_clock_not_the_wall(session, panel):
    # given a paid line placed and queued on a clock three days ahead of the wall
    seed_with_panel(session, panel.base_url)
    clock = FakeClock(utcnow() + timedelta(days=3))
    order = paid_order(
        session, [(product(session, "instagram-likes"), "https://instagram.com/p/clock", 1000, 990)], now=clock.now
    )
    # when the job is given the wall clock's now, nothing is due yet
    early = engine.run_fulfillment(session_scope, utcnow())
    assert early == {}
    assert panel.state.calls.count("add") == 0
    # and a run on the clock stamps what it writes with that clock
    assert engine.run_fulfillment(session_scope, clock=clock) == {"processed": 1, "submitted": 1}
    # then
    session.expire_all()
    po = session.execute(select(ProviderOrder)).scalars().one()
    assert (po.created_at, po.submitted_at) == (clock.now, clock.now)
    attempt = session.execute(select(FulfillmentAttempt)).scalars().one()
    assert attempt.created_at == clock.now
    stamped = [
        e.created_at
        for e in session.execute(
            select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id)
        ).scalars()
    ]
    assert stamped == [clock.now] * 3  # submitted, line pending → processing, order pending → processing


def test_add_that_never_reached_the_panel_is_submitted_again(session, panel):
    # given an intent left by a crash before the call (task submitting, lease expired)
    seed_with_panel(session, panel.base_url)
    paid_order(session, [(product(session, "instagram-likes"), "https://instagram.com/p/crash", 1000, 990)])
    now = utcnow()
    settings = get_settings()
    ids = engine.claim_tasks(session, "dead-worker", 10, now, 60)
    engine.prepare(session, "dead-worker", ids, now, settings)
    session.execute(FulfillmentTask.__table__.update().values(lease_expires_at=now - timedelta(seconds=1)))
    session.commit()
    # when
    first = engine.run_fulfillment(session_scope)
    # then the lookup found nothing, the intent is closed, and the task went again
    assert first["processed"] == 2 and first["submitted"] == 1 and first["retried"] == 1
    rows = list(
        session.execute(select(ProviderOrder.status, ProviderOrder.external_order_id).order_by(ProviderOrder.id))
    )
    assert [tuple(r) for r in rows] == [("failed", None), ("pending", "1000")]
    assert panel.state.calls.count("add") == 1


def test_active_link_refusal_waits_and_is_not_a_failure(session, panel):
    seed_with_panel(session, panel.base_url)
    paid_order(session, [(product(session, "instagram-likes"), "https://instagram.com/p/busy", 1000, 990)])
    panel.state.script(
        "add",
        "error:You have active order with this link. Please wait until order being completed.",
        "error:You have active order with this link. Please wait until order being completed.",
    )
    clock = FakeClock()
    wait = get_settings().fulfillment_link_wait_seconds
    # when
    counts = engine.run_fulfillment(session_scope, clock=clock)
    # then: no other provider, so it waits (attempts untouched) the link wait from the clock's now
    assert counts == {"processed": 2, "waited": 2}
    task = session.execute(select(FulfillmentTask)).scalars().one()
    session.refresh(task)
    assert (task.status, task.attempts, task.next_attempt_at) == ("retry_wait", 0, clock.now + timedelta(seconds=wait))
    stats = read_models.metrics(session)
    assert [(m["task_kind"], m["processed"], m["waited"], m["failed"]) for m in stats] == [("submit", 2, 2, 0)]
    # and it is not tried again before the wait is over, then is sent once it is
    clock.advance(seconds=wait - 1)
    assert engine.run_fulfillment(session_scope, clock=clock) == {}
    clock.advance(seconds=1)
    assert engine.run_fulfillment(session_scope, clock=clock) == {"processed": 1, "submitted": 1}
    assert panel.state.calls.count("add") == 3


@pytest.mark.parametrize("policy", ["reroute", "refund"])
def test_partial_result_applies_the_policy(session, panel, monkeypatch, policy):
    monkeypatch.setenv("SMPLAT_FULFILLMENT_PARTIAL_POLICY", policy)
    reset_settings_cache()
    seed_with_panel(session, panel.base_url)
    link = "https://instagram.com/p/part"
    panel.state.set_knobs(partial_links=[link], partial_ratio=0.25)
    order = paid_order(session, [(product(session, "instagram-likes"), link, 1000, 990)])
    engine.run_fulfillment(session_scope)
    # when
    counts = status_sync.sync_statuses(session_scope)
    # then
    session.expire_all()
    item = session.execute(select(OrderItem)).scalars().one()
    assert counts["partial"] == 1
    assert (item.delivered_quantity, item.remains) == (750, 250)
    if policy == "reroute":
        rest = (
            session.execute(select(FulfillmentTask).where(FulfillmentTask.idempotency_key.like("%:rest:%")))
            .scalars()
            .one()
        )
        assert rest.payload["quantity"] == 250
        assert item.status == "processing"
        panel.state.set_knobs(partial_links=[])
        engine.run_fulfillment(session_scope)
        status_sync.sync_statuses(session_scope)
        session.expire_all()
        item = session.execute(select(OrderItem)).scalars().one()
        assert (item.status, item.delivered_quantity) == ("completed", 1000)
        assert session.get(Order, order.id).status == "completed"
    else:
        refreshed = session.get(Order, order.id)
        # this order has no card payment (built by the factory, not by checkout): the €2.47 is
        # recorded as due by hand and no money is claimed to have moved (the Stripe path is
        # tested in test_money_concurrency.py)
        assert (refreshed.refunded_minor, refreshed.payment_status) == (0, PaymentStatus.PAID.value)
        due = (
            session.execute(
                select(Payment).where(Payment.order_id == order.id, Payment.kind == PaymentKind.REFUND.value)
            )
            .scalars()
            .one()
        )
        assert (due.kind, due.provider, due.amount_minor, due.status) == ("refund", "manual", 247, "pending")
        assert (item.status, refreshed.status) == ("partially_delivered", "partially_delivered")
        assert any(
            e[2] == "Refund of 247 minor units for 250 undelivered of 1000 (policy: refund)"
            for e in _events(session, order.id)
        )


def test_vanished_service_is_marked_and_routing_moves_on(session, panel):
    seed_with_panel(session, panel.base_url)
    order = paid_order(session, [(product(session, "instagram-likes"), "https://instagram.com/p/v", 1000, 990)])
    panel.state.set_knobs(removed_services=["103"])
    # when
    counts = engine.run_fulfillment(session_scope)
    # then: the service is vanished, no other route: retried until dead-lettered, the product flagged
    assert counts == {"processed": 5, "retried": 4, "dead_lettered": 1}
    assert panel.state.calls.count("add") == 1
    session.expire_all()
    service = (
        session.execute(select(ProviderService).where(ProviderService.external_service_id == "103")).scalars().one()
    )
    assert service.status == "vanished"
    from smplat.services.providers import products_needing_attention

    flagged = products_needing_attention(session)
    assert [(f["product"], f["service"]) for f in flagged] == [("Instagram Likes", "103")]
    assert session.get(Order, order.id).status == "on_hold"
    assert panel.state.orders == {}


def test_customer_refill_within_window_is_sent_and_polled(session, panel):
    seed_with_panel(session, panel.base_url)
    from smplat.models.accounts import User

    client = session.execute(select(User).where(User.email == "client@smplat.local")).scalars().one()
    order = paid_order(
        session, [(product(session, "instagram-followers"), "https://instagram.com/r", 500, 690)], user_id=client.id
    )
    engine.run_fulfillment(session_scope)
    status_sync.sync_statuses(session_scope)
    item = session.execute(select(OrderItem)).scalars().one()
    session.expire_all()
    customer = Actor.customer(client.id, "client@smplat.local")
    # when: outside the window it is refused, someone else's line is refused, inside it is queued
    with pytest.raises(operator_actions.RefillRefused, match="refill window of 30 days has passed") as late:
        operator_actions.request_refill(
            session, item.id, customer, "dropped", now=utcnow() + timedelta(days=31), customer_user_id=client.id
        )
    with pytest.raises(operator_actions.RefillRefused, match="no such order line") as not_theirs:
        operator_actions.request_refill(session, item.id, customer, "dropped", customer_user_id=client.id + 1000)
    assert (late.value.code, not_theirs.value.code) == (ErrorCode.NOT_ALLOWED, ErrorCode.NOT_FOUND)
    assert session.execute(select(func.count()).select_from(Refill)).scalar_one() == 0
    refill = operator_actions.request_refill(session, item.id, customer, "dropped by 40", customer_user_id=client.id)
    session.commit()
    sent = engine.run_fulfillment(session_scope)
    polled = status_sync.sync_statuses(session_scope)
    # then
    assert sent == {"processed": 1, "refills_sent": 1}
    assert polled["refill_completed"] == 1
    session.expire_all()
    assert session.get(Refill, refill.id).status == "completed"
    assert panel.state.calls.count("refill") == 1
    assert [e for e in _events(session, order.id) if e[0] == "refill"] == [
        ("refill", "client@smplat.local", "Refill requested by client@smplat.local: dropped by 40"),
        ("refill", "job:fulfillment", "Refill sent to the provider as #500 for order #1000"),
        ("refill", "job:status_sync", "Refill #500: Completed"),
    ]


def test_metrics_count_outcomes_per_provider_and_kind(session, panel):
    seed_with_panel(session, panel.base_url)
    likes = product(session, "instagram-likes")
    paid_order(session, [(likes, f"https://instagram.com/p/m{i}", 1000, 990) for i in range(3)])
    panel.state.script("add", "error:Temporary")
    engine.run_fulfillment(session_scope)
    stats = read_models.metrics(session)
    assert [(m["task_kind"], m["processed"], m["succeeded"], m["retried"], m["failed"]) for m in stats] == [
        ("submit", 4, 3, 1, 1)
    ]
    assert session.execute(select(func.count()).select_from(ProviderOrder)).scalar_one() == 4
    assert AttemptOutcome.SUCCEEDED.value == "succeeded"


def test_refund_of_a_remainder_is_priced_once_from_the_line(session, panel, monkeypatch):
    # given a line of 1000 units for 517 whose first order ends Partial (250 short, re-routed)
    # and whose remainder order of 250 ends Partial too (62 short)
    monkeypatch.setenv("SMPLAT_FULFILLMENT_PARTIAL_POLICY", "reroute")
    reset_settings_cache()
    seed_with_panel(session, panel.base_url)
    link = "https://instagram.com/p/rest"
    panel.state.set_knobs(partial_links=[link], partial_ratio=0.25)
    order = paid_order(session, [(product(session, "instagram-likes"), link, 1000, 517)])
    engine.run_fulfillment(session_scope)
    assert status_sync.sync_statuses(session_scope)["rerouted"] == 1
    monkeypatch.setenv("SMPLAT_FULFILLMENT_PARTIAL_POLICY", "refund")
    reset_settings_cache()
    assert engine.run_fulfillment(session_scope) == {"processed": 1, "submitted": 1}
    # when the remainder's Partial is synced
    counts = status_sync.sync_statuses(session_scope)
    # then the 62 undelivered units are refunded at 517 x 62 / 1000 = 32.054 -> 32, rounded once
    # (pricing the remainder first, 517 x 250 / 1000 = 129, then 129 x 62 / 250 = 31.99, lost a unit)
    assert counts["refunded"] == 1
    session.expire_all()
    item = session.execute(select(OrderItem)).scalars().one()
    assert (item.delivered_quantity, item.status) == (938, "partially_delivered")
    assert [p.quantity for p in session.execute(select(ProviderOrder).order_by(ProviderOrder.id)).scalars()] == [
        1000,
        250,
    ]
    refund = (
        session.execute(select(Payment).where(Payment.order_id == order.id, Payment.kind == PaymentKind.REFUND.value))
        .scalars()
        .one()
    )
    assert (refund.amount_minor, refund.idempotency_key) == (32, f"provider-order:{refund_po_id(session)}:refund")
    assert "Refund of 32 minor units for 62 undelivered of 250 (policy: refund)" in [
        m for kind, _, m in _events(session, order.id) if kind == "payment"
    ]


def refund_po_id(session) -> int:
    """The remainder's provider order (the second one), whose Partial is refunded."""
    return session.execute(select(ProviderOrder.id).order_by(ProviderOrder.id.desc())).scalars().first()


@pytest.mark.parametrize("action", ["retry", "cancel"])
@pytest.mark.parametrize("reason", ["", "   "], ids=["empty", "blank"])
def test_operator_action_on_a_dead_letter_requires_a_reason(session, panel, action, reason):
    # given a dead-lettered task
    seed_with_panel(session, panel.base_url)
    order = paid_order(session, [(product(session, "instagram-likes"), "https://instagram.com/p/why", 1000, 990)])
    task = session.execute(select(FulfillmentTask)).scalars().one()
    task.status = TaskStatus.DEAD_LETTER.value
    session.add(task)
    session.commit()
    events_before = _events(session, order.id)
    do = operator_actions.retry_task if action == "retry" else operator_actions.cancel_task
    # when the operator gives no reason
    with pytest.raises(ServiceError) as refused:
        do(session, task.id, Actor.operator(None, "op@x.test"), reason)
    session.rollback()
    # then the service refuses with a named code and field, and nothing changed
    assert isinstance(refused.value, operator_actions.TaskActionError)
    assert (refused.value.code, refused.value.field, refused.value.message) == (
        ErrorCode.REQUIRED,
        "reason",
        "Say why (it goes on the order's timeline).",
    )
    session.expire_all()
    assert session.get(FulfillmentTask, task.id).status == "dead_letter"
    assert _events(session, order.id) == events_before


def test_operator_action_on_a_missing_task_is_not_found(session, panel):
    with pytest.raises(operator_actions.TaskActionError) as refused:
        operator_actions.retry_task(session, 424242, Actor.operator(None, "op@x.test"), "panel fixed")
    assert refused.value.code == ErrorCode.NOT_FOUND
    assert session.execute(select(func.count()).select_from(OrderEvent)).scalar_one() == 0


@pytest.mark.parametrize("call", ["refill", "replay", "schedule"])
def test_refill_and_replay_require_a_reason(session, panel, call):
    # given a delivered line
    seed_with_panel(session, panel.base_url)
    paid_order(session, [(product(session, "instagram-followers"), "https://instagram.com/why", 500, 690)])
    engine.run_fulfillment(session_scope)
    status_sync.sync_statuses(session_scope)
    item = session.execute(select(OrderItem)).scalars().one()
    operator = Actor.operator(None, "op@x.test")
    tasks_before = session.execute(select(func.count()).select_from(FulfillmentTask)).scalar_one()
    # when
    with pytest.raises(operator_actions.RefillRefused) as refused:
        if call == "refill":
            operator_actions.request_refill(session, item.id, operator, " ")
        elif call == "replay":
            operator_actions.replay(session, item.id, operator, "")
        else:
            operator_actions.schedule_replay(session, item.id, utcnow() + timedelta(hours=1), operator, "")
    session.rollback()
    # then
    assert (refused.value.code, refused.value.field) == (ErrorCode.REQUIRED, "reason")
    assert session.execute(select(func.count()).select_from(FulfillmentTask)).scalar_one() == tasks_before
    assert session.execute(select(func.count()).select_from(Refill)).scalar_one() == 0
