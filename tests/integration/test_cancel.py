"""Cancel at the provider: the rule (service flag, final states, not theirs), one cancel per
line however often it is asked, the engine over real HTTP against the panel sandbox (cancel ->
status sync -> the undelivered part refunded exactly once), a panel refusal in the customer's
words, the operator's audited action, and the client and admin order pages' handlers."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from smplat.db import session_scope
from smplat.models.accounts import Role, User
from smplat.models.audit import AuditLog
from smplat.models.fulfillment import FulfillmentTask, TaskKind, TaskStatus
from smplat.models.orders import Order, OrderEvent, OrderItem
from smplat.models.payments import Payment, PaymentKind
from smplat.models.providers import ProviderOrder, ProviderService
from smplat.services import audit, client_orders
from smplat.services.errors import ErrorCode
from smplat.services.fulfillment import engine, status_sync
from smplat.services.fulfillment.cancel import CancelRefused, request_cancel
from smplat.services.money import pro_rata
from smplat.services.order_status import Actor
from smplat.services.permissions import PermissionDenied
from smplat.ui.pages.account.order import ClientOrderState
from smplat.ui.pages.admin.order import OrderDetailState
from tests.fulfillment_factory import paid_order, product, seed_with_panel

pytestmark = pytest.mark.integration

ORDER_PATH = "/account/orders/[number]"
PRICE, UNITS = 690, 500


def _client(session) -> User:
    return session.execute(select(User).where(User.email == "client@smplat.local")).scalars().one()


@pytest.fixture
def running(session, panel):
    """The demo client's order of 500 followers, sent to the sandbox panel and still running."""
    seed_with_panel(session, panel.base_url)
    panel.state.set_knobs(polls_to_complete=50)
    client = _client(session)
    order = paid_order(
        session,
        [(product(session, "instagram-followers"), "https://instagram.com/cancel-me", UNITS, PRICE)],
        user_id=client.id,
    )
    assert engine.run_fulfillment(session_scope)["submitted"] == 1
    item_id = session.execute(select(OrderItem.id).where(OrderItem.order_id == order.id)).scalar_one()
    po = session.execute(select(ProviderOrder)).scalars().one()
    return {
        "order_id": order.id,
        "number": order.number,
        "item_id": item_id,
        "user_id": client.id,
        "po_id": po.id,
        "external": po.external_order_id,
    }


def _customer(running) -> Actor:
    return Actor.customer(running["user_id"], "client@smplat.local")


def _written(session) -> tuple[int, ...]:
    session.expire_all()
    return tuple(
        session.execute(select(func.count()).select_from(model)).scalar_one()
        for model in (FulfillmentTask, OrderEvent, AuditLog)
    )


def _refunds(session, order_id: int) -> list[Payment]:
    session.expire_all()
    return list(
        session.execute(
            select(Payment).where(Payment.order_id == order_id, Payment.kind == PaymentKind.REFUND.value)
        ).scalars()
    )


def _cancel_tasks(session) -> list[FulfillmentTask]:
    session.expire_all()
    return list(session.execute(select(FulfillmentTask).where(FulfillmentTask.kind == TaskKind.CANCEL.value)).scalars())


# --- the engine over HTTP: cancel -> status sync -> refund once --------------------------------


def test_a_customer_cancel_reaches_the_panel_and_the_rest_is_refunded_exactly_once(session, panel, running):
    # given a running line (the default Partial policy re-routes: a cancel must not)
    task = request_cancel(session, running["item_id"], _customer(running), "", customer_user_id=running["user_id"])
    session.commit()
    assert (task.kind, task.status, task.payload["by"]) == ("cancel", "pending", "customer")
    # when the fulfilment job sends it, and the status sync runs twice
    assert engine.run_fulfillment(session_scope) == {"processed": 1, "cancels_sent": 1}
    assert panel.state.orders[int(running["external"])].final == "Canceled"
    first = status_sync.sync_statuses(session_scope)
    second = status_sync.sync_statuses(session_scope)
    # then the line is canceled and its whole price refunded, once
    assert (first["canceled"], first["refunded"], second.get("refunded", 0)) == (1, 1, 0)
    assert engine.run_fulfillment(session_scope) == {}  # nothing re-routed, nothing re-sent
    session.expire_all()
    item = session.get(OrderItem, running["item_id"])
    assert (item.status, item.delivered_quantity) == ("canceled", 0)
    assert session.get(Order, running["order_id"]).status == "canceled"
    refunds = _refunds(session, running["order_id"])
    assert [(r.amount_minor, r.idempotency_key) for r in refunds] == [
        (PRICE, f"provider-order:{running['po_id']}:refund")
    ]
    assert session.execute(select(func.count()).select_from(FulfillmentTask)).scalar_one() == 2  # submit + cancel
    # and the customer's timeline says it in their words
    detail = client_orders.order_detail(session, session.get(Order, running["order_id"]))
    texts = [t["text"] for t in detail["timeline"]]
    assert any(t.endswith(": cancel requested") for t in texts)
    assert any("undelivered units refunded" in t for t in texts)
    # no card payment in this test: the order-level entry says the refund is due by hand
    assert "Refund due: we will send it to you by hand" in texts
    assert not any(t.startswith(":") for t in texts)
    # a finished line offers no cancel and gives no reason for it
    assert (detail["lines"][0]["can_cancel"], detail["lines"][0]["cancel_note"]) == (False, "")


def test_a_cancel_after_part_was_delivered_ends_partial_and_refunds_only_the_rest(session, panel, running):
    panel.state.set_knobs(cancel_delivered_ratio=0.4)
    request_cancel(
        session, running["item_id"], _customer(running), "changed my mind", customer_user_id=running["user_id"]
    )
    session.commit()
    engine.run_fulfillment(session_scope)
    synced = status_sync.sync_statuses(session_scope)
    status_sync.sync_statuses(session_scope)
    assert (synced["partial"], synced["refunded"]) == (1, 1)
    session.expire_all()
    item = session.get(OrderItem, running["item_id"])
    assert (item.status, item.delivered_quantity, item.remains) == ("partially_delivered", 200, 300)
    assert [r.amount_minor for r in _refunds(session, running["order_id"])] == [pro_rata(PRICE, 300, UNITS)]


def test_a_panel_refusal_is_shown_in_the_customers_words(session, panel, running):
    request_cancel(session, running["item_id"], _customer(running), "", customer_user_id=running["user_id"])
    session.commit()
    # the panel finished the order in the meantime (we have not polled it yet)
    panel.state.orders[int(running["external"])].final_reached = True
    assert engine.run_fulfillment(session_scope) == {"processed": 1, "cancels_refused": 1}
    (task,) = _cancel_tasks(session)
    assert (task.status, task.last_error) == ("failed", "Order is already finished")
    line = client_orders.order_detail(session, session.get(Order, running["order_id"]))["lines"][0]
    assert line["cancel_note"] == "The supplier had already finished this delivery, so it could not be canceled."
    # nothing refunded: the sync then sees it Completed
    status_sync.sync_statuses(session_scope)
    assert _refunds(session, running["order_id"]) == []
    assert session.get(OrderItem, running["item_id"]).status == "completed"


def test_an_unanswered_cancel_is_retried_and_never_holds_the_line(session, panel, running):
    request_cancel(session, running["item_id"], _customer(running), "", customer_user_id=running["user_id"])
    session.commit()
    panel.state.script("cancel", "http500")
    # the 500 is retried with backoff (the drain goes on until nothing is due), then accepted
    assert engine.run_fulfillment(session_scope) == {"processed": 2, "retried": 1, "cancels_sent": 1}
    (task,) = _cancel_tasks(session)
    assert (task.status, task.attempts) == (TaskStatus.COMPLETED.value, 1)
    assert session.get(OrderItem, running["item_id"]).status == "processing"


def test_the_cancels_of_a_batch_go_in_one_multi_call(session, panel, running):
    # given a second running line of the same customer
    other = paid_order(
        session,
        [(product(session, "instagram-likes"), "https://instagram.com/p/cancel-too", 1000, 990)],
        user_id=running["user_id"],
    )
    engine.run_fulfillment(session_scope)
    other_item = session.execute(select(OrderItem.id).where(OrderItem.order_id == other.id)).scalar_one()
    for item_id in (running["item_id"], other_item):
        request_cancel(session, item_id, _customer(running), "", customer_user_id=running["user_id"])
    session.commit()
    panel.state.calls.clear()
    # when the fulfilment job runs once (a 429 first: turned away, so both are retried)
    panel.state.script("cancel", "http429")
    assert engine.run_fulfillment(session_scope) == {"processed": 4, "retried": 2, "cancels_sent": 2}
    # then both went in one call per attempt
    assert panel.state.calls == ["cancel", "cancel"]
    assert sorted(o.final for o in panel.state.orders.values()) == ["Canceled", "Canceled"]


# --- the rule -----------------------------------------------------------------------------------


def test_cancel_rules_refuse_with_the_reason_and_write_nothing(session, panel, running):
    customer, uid = _customer(running), running["user_id"]
    before = _written(session)
    # another customer's line: not found (never "not yours")
    with pytest.raises(CancelRefused) as foreign:
        request_cancel(session, running["item_id"], Actor.customer(999, "x@y.test"), "", customer_user_id=999)
    with pytest.raises(CancelRefused) as missing:
        request_cancel(session, 987654, customer, "", customer_user_id=uid)
    assert (foreign.value.code, foreign.value.message) == (missing.value.code, missing.value.message)
    assert foreign.value.code == ErrorCode.NOT_FOUND
    # a service that cannot be canceled
    po = session.get(ProviderOrder, running["po_id"])
    service = session.get(ProviderService, po.provider_service_id)
    service.cancel = False
    session.commit()
    with pytest.raises(CancelRefused) as flag:
        request_cancel(session, running["item_id"], customer, "", customer_user_id=uid)
    assert (flag.value.code, flag.value.message) == (
        ErrorCode.NOT_ALLOWED,
        "this service cannot be canceled once started",
    )
    session.rollback()
    line = client_orders.order_detail(session, session.get(Order, running["order_id"]))["lines"][0]
    assert (line["can_cancel"], line["cancel_note"]) == (False, "This service cannot be canceled once started.")
    assert _written(session) == before
    # a finished provider order
    service = session.get(ProviderService, po.provider_service_id)
    service.cancel = True
    session.commit()
    panel.state.orders[int(running["external"])].final_reached = True
    status_sync.sync_statuses(session_scope)
    before = _written(session)
    with pytest.raises(CancelRefused) as final:
        request_cancel(session, running["item_id"], customer, "", customer_user_id=uid)
    assert (final.value.code, final.value.message) == (ErrorCode.CONFLICT, "this delivery has already finished")
    session.rollback()
    assert _written(session) == before


def test_a_line_not_yet_at_the_supplier_cannot_be_canceled_here(session, panel):
    seed_with_panel(session, panel.base_url)
    client = _client(session)
    order = paid_order(
        session, [(product(session, "instagram-followers"), "https://instagram.com/q", UNITS, PRICE)], user_id=client.id
    )
    item_id = session.execute(select(OrderItem.id).where(OrderItem.order_id == order.id)).scalar_one()
    with pytest.raises(CancelRefused) as refused:
        request_cancel(session, item_id, Actor.customer(client.id, client.email), "", customer_user_id=client.id)
    assert (refused.value.code, refused.value.message) == (
        ErrorCode.CONFLICT,
        "this line has not reached the supplier yet",
    )


def test_a_double_click_makes_one_cancel(session, panel, running):
    request_cancel(session, running["item_id"], _customer(running), "", customer_user_id=running["user_id"])
    session.commit()
    before = _written(session)
    with pytest.raises(CancelRefused) as again:
        request_cancel(session, running["item_id"], _customer(running), "", customer_user_id=running["user_id"])
    assert (again.value.code, again.value.message) == (ErrorCode.CONFLICT, "a cancel of this line is already under way")
    session.rollback()
    assert _written(session) == before
    assert len(_cancel_tasks(session)) == 1


def test_concurrent_requests_make_one_cancel(session, panel, running):
    results: list[str] = []
    barrier = threading.Barrier(4)

    def ask() -> None:
        barrier.wait()
        try:
            with session_scope() as db:
                request_cancel(db, running["item_id"], _customer(running), "", customer_user_id=running["user_id"])
            results.append("queued")
        except CancelRefused as exc:
            results.append(exc.code.value)

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["conflict", "conflict", "conflict", "queued"]
    assert len(_cancel_tasks(session)) == 1


def test_a_refused_cancel_may_be_asked_again(session, panel, running):
    request_cancel(session, running["item_id"], _customer(running), "", customer_user_id=running["user_id"])
    session.commit()
    panel.state.script("cancel", "error:Temporarily unable to cancel")
    engine.run_fulfillment(session_scope)
    again = request_cancel(session, running["item_id"], _customer(running), "", customer_user_id=running["user_id"])
    session.commit()
    assert again.idempotency_key == f"cancel:po:{running['po_id']}:2"
    assert engine.run_fulfillment(session_scope) == {"processed": 1, "cancels_sent": 1}


# --- operators ----------------------------------------------------------------------------------


def test_an_operator_cancel_needs_a_reason_and_the_permission_and_is_audited(session, panel, running):
    operator = audit.Actor.staff(None, "op@cancel.test", Role.OPERATOR.value)
    with pytest.raises(CancelRefused) as no_reason:
        request_cancel(session, running["item_id"], operator, "  ")
    assert (no_reason.value.code, no_reason.value.field) == (ErrorCode.REQUIRED, "reason")
    customer_as_staff = audit.Actor.staff(None, "cust@cancel.test", Role.CUSTOMER.value)
    with pytest.raises(PermissionDenied):
        request_cancel(session, running["item_id"], customer_as_staff, "because")
    session.rollback()
    assert _cancel_tasks(session) == []
    refusal = session.execute(select(AuditLog).where(AuditLog.action == audit.DENIED)).scalars().one()
    assert (refusal.actor_label, refusal.data["data"]["attempted"]) == ("cust@cancel.test", "order.cancel")
    # and the operator's cancel is queued and audited with the reason
    task = request_cancel(session, running["item_id"], operator, "customer asked by email")
    session.commit()
    assert task.payload["by"] == "operator"
    entry = (
        session.execute(select(AuditLog).where(AuditLog.action == "order.cancel").order_by(AuditLog.id.desc()))
        .scalars()
        .first()
    )
    assert (entry.actor_label, entry.data["data"]["reason"]) == ("op@cancel.test", "customer asked by email")


# --- the pages' handlers -----------------------------------------------------------------------


async def test_the_client_page_cancels_after_confirmation_and_a_stranger_cannot(
    session, panel, running, root_state, session_cookie_for
):
    stranger = await root_state(
        ClientOrderState,
        ORDER_PATH,
        params={"number": running["number"]},
        cookie=session_cookie_for(Role.CUSTOMER, "stranger@example.test"),
    )
    stranger.load()
    before = _written(session)
    stranger.start_cancel(str(running["item_id"]))
    stranger.confirm_cancel_line({"item_id": str(running["item_id"])})
    assert (stranger.error, stranger.confirm_cancel) == ("That line is not part of this order.", 0)
    assert _written(session) == before
    owner = await root_state(
        ClientOrderState,
        ORDER_PATH,
        params={"number": running["number"]},
        cookie=session_cookie_for(Role.CUSTOMER, "client@smplat.local"),
    )
    owner.load()
    assert owner.order["lines"][0]["can_cancel"] is True
    # the first click only asks for confirmation; "Keep it" writes nothing
    owner.start_cancel(str(running["item_id"]))
    assert owner.confirm_cancel == running["item_id"]
    owner.keep_line()
    assert owner.confirm_cancel == 0 and _written(session) == before
    owner.start_cancel(str(running["item_id"]))
    result = owner.confirm_cancel_line({"item_id": str(running["item_id"]), "reason": "wrong profile"})
    assert "Cancel requested" in str(result) and owner.error == ""
    line = owner.order["lines"][0]
    assert (line["can_cancel"], line["cancel_note"]) == (False, "A cancel of this line is already under way.")
    # a second confirmation is refused with the reason and writes nothing
    after = _written(session)
    owner.confirm_cancel_line({"item_id": str(running["item_id"])})
    assert owner.error == "A cancel of this line is already under way."
    assert _written(session) == after


async def test_the_admin_page_cancels_at_the_provider_with_a_reason(
    session, panel, running, root_state, session_cookie_for
):
    state = await root_state(
        OrderDetailState,
        "/admin/orders/[number]",
        params={"number": running["number"]},
        cookie=session_cookie_for(Role.OPERATOR, "op@orders.test"),
    )
    state.load()
    state.act({"item_id": str(running["item_id"]), "action": "cancel", "reason": ""})
    assert state.error == "Say why (it goes on the order's timeline)."
    assert _cancel_tasks(session) == []
    result = state.act({"item_id": str(running["item_id"]), "action": "cancel", "reason": "duplicate order"})
    assert "Cancel queued" in str(result) and state.error == ""
    (task,) = _cancel_tasks(session)
    assert task.payload == {"provider_order_id": running["po_id"], "reason": "duplicate order", "by": "operator"}
    assert any("Cancel of provider order" in e["message"] for e in state.order["events"])


# --- the sandbox's cancel, over HTTP -----------------------------------------------------------


async def test_the_sandbox_cancels_by_the_convention(panel):
    from smplat.integrations.panel import PanelClient, PanelRefused
    from smplat.models.providers import ProviderOrderStatus

    panel.state.set_knobs(polls_to_complete=5)
    async with PanelClient(panel.base_url, "sandbox-demo-key", timeout_seconds=3, rate_limit_per_second=1000) as c:
        running = await c.add("101", "https://x.test/run", 100)
        no_cancel = await c.add("106", "https://x.test/story", 100)  # a service with cancel: false
        answers = await c.cancel([running, no_cancel, "99999"])
        again = await c.cancel([running])
        after = await c.status(running)
        panel.state.set_knobs(cancel_delivered_ratio=0.25)
        partly = await c.add("101", "https://x.test/partly", 200)
        await c.cancel([partly])
        partial = await c.status(partly)
    assert answers[running] == "1"
    assert [str(answers[x]) for x in (no_cancel, "99999")] == [
        "Cancel is not available for this order",
        "Incorrect order ID",
    ]
    assert isinstance(again[running], PanelRefused) and again[running].message == "Order is already finished"
    assert (after.status, after.remains) == (ProviderOrderStatus.CANCELED, 100)
    assert (partial.status, partial.remains) == (ProviderOrderStatus.PARTIAL, 150)


# --- the API route ----------------------------------------------------------------------------


def _api_as(email: str):
    from starlette.testclient import TestClient

    from smplat.api.app import build_api
    from smplat.services import accounts
    from smplat.settings import get_settings

    with session_scope() as db:
        user = db.execute(select(User).where(User.email == email)).scalars().first() or accounts.sign_up(
            db, email=email, password="violet-harbour-42", role=Role.CUSTOMER
        )
        token = accounts.redeem_signin_ticket(db, accounts.issue_signin_ticket(db, user)).token
    client = TestClient(build_api())
    client.cookies.set(get_settings().session_cookie_name, token)
    return client


def test_the_cancel_api_for_the_owner_only(session, panel, running):
    from starlette.testclient import TestClient

    from smplat.api.app import build_api

    path = f"/api/order-items/{running['item_id']}/cancel"
    before = _written(session)
    anonymous = TestClient(build_api()).post(path, json={})
    stranger = _api_as("stranger@cancel.test").post(path, json={"reason": "mine"})
    assert (anonymous.status_code, stranger.status_code, stranger.json()["code"]) == (401, 404, "not_found")
    assert _written(session) == before
    owner = _api_as("client@smplat.local")
    accepted = owner.post(path, json={})
    twice = owner.post(path, json={"reason": "again"})
    assert (accepted.status_code, accepted.json()["status"]) == (202, "pending")
    assert (twice.status_code, twice.json()) == (
        409,
        {"error": "a cancel of this line is already under way", "code": "conflict"},
    )
    assert len(_cancel_tasks(session)) == 1
