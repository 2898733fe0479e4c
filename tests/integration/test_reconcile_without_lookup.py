"""Exactly-once against panels that cannot look orders up (docs/providers.md, "Reconcile
without lookup"): the sandbox in its "no lookup" mode, over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import select

from smplat.db import session_scope
from smplat.models.accounts import Role
from smplat.models.base import utcnow
from smplat.models.fulfillment import AttemptOutcome, FulfillmentAttempt, FulfillmentTask
from smplat.models.orders import OrderEvent, OrderItem
from smplat.models.providers import Provider, ProviderOrder
from smplat.services import audit
from smplat.services.errors import ErrorCode
from smplat.services.fulfillment import engine, operator_actions, read_models, status_sync
from smplat.services.permissions import PermissionDenied
from smplat.settings import get_settings
from smplat.ui.pages.admin.dead_letters import DeadLettersState
from tests.fake_clock import FakeClock
from tests.fulfillment_factory import paid_order, product, seed_with_panel

pytestmark = pytest.mark.integration

OPERATOR = audit.Actor(None, "operator@smplat.local", "operator")
CUSTOMER = audit.Actor(None, "customer@example.com", "customer")


def _no_lookup_shop(session, panel, *, refuses_active_link: bool, link: str) -> Provider:
    """The demo shop on a panel in "no lookup" mode, its provider's dialect saying so, and one paid line."""
    provider = seed_with_panel(session, panel.base_url)
    provider.dialect = {"lookup_by_ref": False, "refuses_active_link": refuses_active_link}
    provider.timeout_seconds = 1
    session.add(provider)
    session.commit()
    panel.state.set_knobs(lookup_by_ref=False, refuse_active_link=refuses_active_link, hang_seconds=3.0)
    paid_order(session, [(product(session, "instagram-likes"), link, 1000, 990)])
    return provider


def _intent_left_by_a_crash(session) -> None:
    """A task `submitting` with its intent written and its lease run out: the worker died
    before (or while) calling `add`."""
    now = utcnow()
    ids = engine.claim_tasks(session, "dead-worker", 10, now, 60)
    engine.prepare(session, "dead-worker", ids, now, get_settings())
    session.execute(FulfillmentTask.__table__.update().values(lease_expires_at=now - timedelta(seconds=1)))
    session.commit()


def _task(session) -> FulfillmentTask:
    session.expire_all()
    return session.execute(select(FulfillmentTask)).scalars().one()


def test_sandbox_no_lookup_mode_ignores_ref(panel):
    # given the sandbox in "no lookup" mode
    panel.state.set_knobs(lookup_by_ref=False)
    form = {"key": "sandbox-demo-key", "service": "103", "link": "https://instagram.com/p/ref", "quantity": "100"}
    with httpx.Client() as http:
        first = http.post(panel.base_url, data={**form, "action": "add", "ref": "k1"}).json()
        second = http.post(panel.base_url, data={**form, "action": "add", "ref": "k1"}).json()
        found = http.post(panel.base_url, data={"key": "sandbox-demo-key", "action": "status", "ref": "k1"}).json()
    # then the same ref is two orders (nothing dedupes it) and cannot be looked up
    assert first["order"] != second["order"]
    assert found == {"error": "Incorrect order ID"}
    assert panel.state.by_ref == {}


def test_unanswered_add_is_probed_and_held_when_the_panel_has_the_link(session, panel):
    # given a panel without lookup that refuses a second order on an active link, whose
    # first add creates the order but never answers, and whose first probe gets a 502
    _no_lookup_shop(session, panel, refuses_active_link=True, link="https://instagram.com/p/held")
    panel.state.script("add", "hang_after_create", "http500")
    clock = FakeClock()
    delay = get_settings().fulfillment_reconcile_delay_seconds
    # when the add times out, the first probe goes unanswered, and the second is refused
    first = engine.run_fulfillment(session_scope, clock=clock)
    clock.advance(seconds=delay + 1)
    second = engine.run_fulfillment(session_scope, clock=clock)
    clock.advance(seconds=delay + 1)
    third = engine.run_fulfillment(session_scope, clock=clock)
    # then nothing was resubmitted blindly: one order on the panel, the task held with the evidence
    assert first == {"processed": 1, "ambiguous": 1}
    assert second == {"processed": 1, "retried": 1}
    assert third == {"processed": 1, "held": 1}
    assert panel.state.calls.count("add") == 3 and panel.state.calls.count("balance") == 2
    assert panel.state.orders_by_link() == {"https://instagram.com/p/held": [1000]}
    task = _task(session)
    assert task.status == "dead_letter"
    held = task.payload["held"]
    assert "active order on this link" in held["finding"]
    assert (held["link"], held["quantity"], held["service"]) == ("https://instagram.com/p/held", 1000, "103")
    assert Decimal(held["expected_charge"]) == Decimal("0.3500")
    assert Decimal(held["balance_now"]) == Decimal("1000000.00") - Decimal("0.3500")
    assert task.last_error.startswith(engine.HELD_PREFIX)
    assert [(d["task_id"], d["held"]) for d in read_models.dead_letters(session)] == [(task.id, True)]
    item = session.execute(select(OrderItem)).scalars().one()
    assert item.status == "on_hold"
    outcomes = sorted(session.execute(select(FulfillmentAttempt.outcome)).scalars())
    assert outcomes == sorted([AttemptOutcome.AMBIGUOUS, AttemptOutcome.RETRIED, AttemptOutcome.HELD])
    [stats] = read_models.metrics(session)
    assert (stats["processed"], stats["ambiguous"], stats["retried"], stats["held"]) == (3, 1, 1, 1)
    # and a plain retry (a blind resubmit) is refused, as is a customer, an empty id, a taken id
    with pytest.raises(operator_actions.TaskActionError):
        operator_actions.retry_task(session, task.id, OPERATOR, "try again")
    with pytest.raises(PermissionDenied):
        operator_actions.confirm_reached(session, task.id, "1000", CUSTOMER, "found it")
    with pytest.raises(operator_actions.TaskActionError) as empty:
        operator_actions.confirm_reached(session, task.id, " ", OPERATOR, "found it")
    assert (empty.value.code, empty.value.field) == (ErrorCode.REQUIRED, "external_order_id")
    session.rollback()
    assert _task(session).status == "dead_letter"
    # when the operator finds the order on the panel and confirms its id
    operator_actions.confirm_reached(session, task.id, "1000", OPERATOR, "order 1000 on the panel")
    session.commit()
    # then it is adopted, followed by the status sync, and the decision cannot be made twice
    task = _task(session)
    assert (task.status, "held" in task.payload) == ("completed", False)
    po = session.execute(select(ProviderOrder)).scalars().one()
    assert po.external_order_id == "1000"
    assert session.get(OrderItem, item.id).status == "processing"
    assert status_sync.sync_statuses(session_scope)["completed"] == 1
    with pytest.raises(operator_actions.TaskActionError):
        operator_actions.submit_not_reached(session, task.id, OPERATOR, "again")
    messages = [m for (m,) in session.execute(select(OrderEvent.message).order_by(OrderEvent.id))]
    assert any(m.startswith("Held: did the order reach Sandbox Panel?") for m in messages)
    assert any("confirmed the order reached the panel as #1000: order 1000 on the panel" in m for m in messages)
    assert panel.state.calls.count("add") == 3 and len(panel.state.orders) == 1


def test_add_that_never_arrived_is_submitted_by_the_probe(session, panel):
    # given a crash before the add reached a panel that refuses a second order on an active link
    _no_lookup_shop(session, panel, refuses_active_link=True, link="https://instagram.com/p/probe")
    _intent_left_by_a_crash(session)
    # when
    counts = engine.run_fulfillment(session_scope)
    # then the probe's add was taken: the first never arrived, so this is the one order
    assert counts == {"processed": 1, "reconciled": 1}
    assert panel.state.calls.count("add") == 1 and panel.state.calls.count("status") == 0
    po = session.execute(select(ProviderOrder)).scalars().one()
    assert po.external_order_id == "1000"
    assert _task(session).status == "completed"
    event = session.execute(select(OrderEvent.message).where(OrderEvent.message.like("Reconciled%"))).scalar_one()
    assert event == (
        "Reconciled: sent again (the first add had not arrived), submitted to Sandbox Panel as order #1000 (1000 units)"
    )


def test_panel_without_active_link_refusal_is_never_probed_and_the_operator_submits(session, panel):
    # given a panel that can neither look orders up nor refuses a second order on a link, a
    # known balance from the last health check, and an intent left by a crash
    provider = _no_lookup_shop(session, panel, refuses_active_link=False, link="https://instagram.com/p/ask")
    provider.balance = Decimal("1000000.5000")
    session.add(provider)
    session.commit()
    _intent_left_by_a_crash(session)
    # when
    counts = engine.run_fulfillment(session_scope)
    # then nothing was sent: the task is held with the balance movement as evidence
    assert counts == {"processed": 1, "held": 1}
    assert panel.state.calls.count("add") == 0 and panel.state.orders == {}
    task = _task(session)
    assert "neither look orders up" in task.payload["held"]["finding"]
    assert "moved 0.5000; this order costs about 0.3500" in task.last_error
    # when the operator finds nothing on the panel and submits it now
    with pytest.raises(operator_actions.TaskActionError) as no_reason:
        operator_actions.submit_not_reached(session, task.id, OPERATOR, "")
    assert no_reason.value.field == "reason"
    operator_actions.submit_not_reached(session, task.id, OPERATOR, "not on the panel")
    session.commit()
    assert engine.run_fulfillment(session_scope) == {"processed": 1, "submitted": 1}
    # then exactly one order, the first intent closed as never arrived
    rows = [tuple(r) for r in session.execute(select(ProviderOrder.status, ProviderOrder.external_order_id))]
    assert sorted(rows, key=str) == sorted([("failed", None), ("pending", "1000")], key=str)
    assert panel.state.calls.count("add") == 1
    assert _task(session).status == "completed"


async def test_operator_decides_a_held_task_from_the_dead_letters_page(session, panel, root_state, session_cookie_for):
    # given a task held for a decision (the engine runs its own event loop: in a thread here)
    _no_lookup_shop(session, panel, refuses_active_link=False, link="https://instagram.com/p/page")
    _intent_left_by_a_crash(session)
    assert await asyncio.to_thread(engine.run_fulfillment, session_scope) == {"processed": 1, "held": 1}
    task_id = _task(session).id
    state = await root_state(DeadLettersState, "/admin", cookie=session_cookie_for(Role.OPERATOR, "op@held.test"))
    state.load()
    assert [(r["task_id"], r["held"]) for r in state.rows] == [(task_id, True)]
    # when the operator says it reached the panel without its id, then that it did not
    state.act({"task_id": str(task_id), "action": "reached", "external_order_id": "", "reason": "checked"})
    missing_id = state.error
    assert _task(session).status == "dead_letter"
    state.act({"task_id": str(task_id), "action": "not_reached", "reason": "nothing on the panel"})
    # then the first is refused with the service's words, the second queues the task
    assert missing_id == "enter the panel's order id"
    assert (state.error, state.rows) == ("", [])
    assert _task(session).status == "pending"
    assert await asyncio.to_thread(engine.run_fulfillment, session_scope) == {"processed": 1, "submitted": 1}
    assert panel.state.calls.count("add") == 1
    actors = session.execute(
        select(OrderEvent.actor_label).where(OrderEvent.message.like("%found no order on the panel%"))
    ).all()
    assert actors == [("op@held.test",)]
