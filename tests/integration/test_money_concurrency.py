"""Money under concurrency and partial delivery, end to end on both databases.

Copies of one Stripe event sent at the same moment (8 threads behind a barrier, each its own
HTTP request and database session) over real HTTP to the webhook route served by uvicorn,
with real signatures; the success page racing the webhook; and the `refund` policy of a
partial delivery moving money at the Stripe sandbox through the SDK, once per provider order.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Self

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select

from smplat.api.app import build_api
from smplat.db import session_scope
from smplat.models.base import utcnow
from smplat.models.checkout import CheckoutSession
from smplat.models.fulfillment import FulfillmentTask
from smplat.models.orders import Order, OrderEvent
from smplat.models.payments import Payment, PaymentKind, Subscription, WebhookEvent
from smplat.models.providers import ProviderOrder
from smplat.sandbox.panel import PanelSandbox
from smplat.sandbox.smtp_sink import SmtpSink, list_messages
from smplat.sandbox.stripe_sandbox import StripeSandbox, sign_payload
from smplat.services import carts, fulfillment
from smplat.services.checkout import CheckoutError, PaymentProviderUnavailable, payment_events, placement, refunds
from smplat.services.checkout import sessions as checkout_sessions
from smplat.services.errors import ErrorCode
from smplat.services.order_status import Actor
from smplat.settings import SANDBOX_STRIPE_SECRET_KEY, SANDBOX_STRIPE_WEBHOOK_SECRET, reset_settings_cache
from tests.fulfillment_factory import seed_with_panel

pytestmark = pytest.mark.integration

THREADS = 8
FOLLOWERS = {
    "options": {"package": "1000", "speed": "standard"},
    "add_ons": [],
    "plan": "one-time",
    "fields": {"username": "@brand"},
    "preset": "popular",
}
FOLLOWERS_LINK = "https://www.instagram.com/brand/"
AUTOPILOT = {
    "options": {"package": "1000", "speed": "standard"},
    "add_ons": [],
    "plan": "monthly",
    "fields": {"username": "@brand"},
}


class ApiServer:
    """The shop's Starlette API (the webhook route) on a loopback port, served by uvicorn."""

    def __init__(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self._server = uvicorn.Server(
            uvicorn.Config(build_api(), log_level="warning", access_log=False, lifespan="off")
        )
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self._server.started, "the API server did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


@pytest.fixture
def money_shop(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple]:
    """Seeded shop whose provider is the panel sandbox, an SMTP sink, the Stripe sandbox (its
    events kept for the test to deliver) and the API served over HTTP."""
    with PanelSandbox(port=0) as panel:
        monkeypatch.setenv("SMPLAT_FULFILLMENT_BACKOFF_BASE_SECONDS", "0")
        monkeypatch.setenv("SMPLAT_FULFILLMENT_RECONCILE_DELAY_SECONDS", "1")
        monkeypatch.setenv("SMPLAT_FULFILLMENT_TICK_MAX_SECONDS", "60")
        monkeypatch.setenv("SMPLAT_FULFILLMENT_PARTIAL_POLICY", "refund")
        reset_settings_cache()
        with session_scope() as db:
            seed_with_panel(db, panel.base_url)
        with SmtpSink("127.0.0.1", 0, tmp_path / "mailbox") as sink:
            stripe = StripeSandbox(
                "127.0.0.1",
                0,
                secret_key=SANDBOX_STRIPE_SECRET_KEY,
                webhook_url="http://127.0.0.1:9/unused",
                webhook_secret=SANDBOX_STRIPE_WEBHOOK_SECRET,
            )
            original_emit = StripeSandbox.emit
            stripe.emit = lambda kind, obj, *, deliver=True: original_emit(stripe, kind, obj, deliver=False)
            stripe.start()
            monkeypatch.setenv("SMPLAT_STRIPE_API_BASE", stripe.base_url)
            monkeypatch.setenv("SMPLAT_SMTP_PORT", str(sink.port))
            reset_settings_cache()
            try:
                with ApiServer() as api:
                    yield stripe, sink, panel, api
            finally:
                stripe.stop()
                reset_settings_cache()


def _count(model, *where) -> int:
    with session_scope() as db:
        return db.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def _receipts(sink: SmtpSink) -> list:
    return [m for m in list_messages(sink.mailbox_dir) if "receipt" in m.subject]


def _paid_checkout(
    stripe: StripeSandbox, slug: str = "instagram-followers", configuration: dict | None = None
) -> CheckoutSession:
    with session_scope() as db:
        cart = carts.get_or_create_cart(db, user_id=None, guest_token=carts.sign_guest_token("money-guest"))
        carts.add_item(db, cart, slug, configuration or FOLLOWERS, 1, visitor=carts.visitor_key("money-guest"))
        cs = placement.start_checkout(
            db,
            cart,
            customer_email="buyer@example.test",
            user_id=None,
            visitor=carts.visitor_key("money-guest"),
            base_url="http://shop.test",
        )
    answer = httpx.post(f"{stripe.base_url}/pay/{cs.stripe_session_id}/pay", follow_redirects=False)
    assert answer.status_code == 303
    return cs


def _events(stripe: StripeSandbox, kind: str) -> list[dict]:
    return [e for e in stripe.events if e["type"] == kind]


def _post(api: ApiServer, event: dict) -> httpx.Response:
    payload = json.dumps(event)
    headers = {
        "Stripe-Signature": sign_payload(payload, SANDBOX_STRIPE_WEBHOOK_SECRET),
        "Content-Type": "application/json",
    }
    return httpx.post(f"{api.url}/api/stripe/webhook", content=payload, headers=headers, timeout=60)


def _all_at_once(calls: list[Callable[[], object]]) -> list[object]:
    """Run every call in its own thread, released together by a barrier; results in call order."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(i: int, call: Callable[[], object]) -> None:
        barrier.wait()
        try:
            results[i] = call()
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def _answers(responses: list) -> Counter:
    """Each answer as (status code, what it said)."""
    said = Counter()
    for r in responses:
        assert isinstance(r, httpx.Response), r
        body = r.json()
        said[
            (
                r.status_code,
                body.get("status")
                or (
                    "duplicate"
                    if body.get("duplicate")
                    else "in_progress"
                    if body.get("in_progress")
                    else body.get("error")
                ),
            )
        ] += 1
    return said


# --- the same event, eight times at once ------------------------------------------------------


def test_eight_copies_of_a_completed_event_at_once_make_one_order_and_one_receipt(money_shop) -> None:
    stripe, sink, _, api = money_shop
    cs = _paid_checkout(stripe)
    (completed,) = _events(stripe, "checkout.session.completed")
    # when the same signed event arrives eight times at the same moment
    responses = _all_at_once([lambda: _post(api, completed)] * THREADS)
    # then exactly one request processed it; every other copy was a duplicate or told to retry
    said = _answers(responses)
    assert said[(200, "processed")] == 1
    assert said[(200, "duplicate")] + said[(409, "in_progress")] == THREADS - 1
    assert (_count(Order), _count(FulfillmentTask), _count(Payment), _count(WebhookEvent)) == (1, 1, 1, 1)
    with session_scope() as db:
        row = db.execute(select(WebhookEvent)).scalars().one()
        assert (row.external_id, row.status, row.attempts) == (completed["id"], "processed", 1)
        order = db.execute(select(Order)).scalars().one()
        assert (order.checkout_session_id, order.status, order.payment_status) == (cs.id, "processing", "paid")
        placed = (
            db.execute(select(OrderEvent.kind).where(OrderEvent.order_id == order.id, OrderEvent.kind == "placed"))
            .scalars()
            .all()
        )
        assert placed == ["placed"]
    assert [m.to for m in _receipts(sink)] == [["buyer@example.test"]]


def test_a_copy_arriving_while_the_first_is_in_progress_is_not_processed_again(money_shop) -> None:
    stripe, sink, _, api = money_shop
    _paid_checkout(stripe)
    (completed,) = _events(stripe, "checkout.session.completed")
    # given the event stored and claimed by a worker that is still handling it
    with session_scope() as db:
        first = payment_events.claim_event(db, completed)
    assert first.status == "claimed"
    # when a second copy arrives
    second = _post(api, completed)
    # then it is told to come back later and nothing was created
    assert (second.status_code, second.json()) == (409, {"received": True, "in_progress": True})
    assert (_count(Order), _count(WebhookEvent)) == (0, 1)
    # and once the first worker is done, a later copy is a plain duplicate
    with session_scope() as db:
        assert payment_events.handle_event(db, first.row_id).status == "processed"
    third = _post(api, completed)
    assert (third.status_code, third.json()) == (200, {"received": True, "duplicate": True})
    assert _count(Order) == 1
    assert len(_receipts(sink)) == 1


def test_the_success_page_racing_the_webhook_makes_one_order(money_shop) -> None:
    stripe, sink, _, api = money_shop
    cs = _paid_checkout(stripe)
    (completed,) = _events(stripe, "checkout.session.completed")

    def success_page() -> placement.Fulfilment:
        with session_scope() as db:
            return placement.confirm_from_success_page(db, cs.stripe_session_id)

    # when four success-page loads and four webhook copies all run at once
    results = _all_at_once([success_page, lambda: _post(api, completed)] * (THREADS // 2))
    # then one order exists, every success page sees it, and one receipt went out
    assert _count(Order) == 1
    with session_scope() as db:
        order_id = db.execute(select(Order.id)).scalar_one()
    pages = [r for r in results if isinstance(r, placement.Fulfilment)]
    assert len(pages) == THREADS // 2
    assert {p.order_id for p in pages} == {order_id}
    webhooks = [r for r in results if not isinstance(r, placement.Fulfilment)]
    assert all(isinstance(r, httpx.Response) and r.status_code in (200, 409) for r in webhooks), webhooks
    assert sum(p.created for p in pages) in (0, 1)  # the page, or else the webhook, created it
    assert (_count(FulfillmentTask), _count(Payment)) == (1, 1)
    assert len(_receipts(sink)) == 1


def test_renewal_invoice_sent_at_once_under_many_event_ids_is_one_payment(money_shop) -> None:
    stripe, _, _, api = money_shop
    _paid_checkout(stripe, "instagram-growth-autopilot", AUTOPILOT)
    (completed,) = _events(stripe, "checkout.session.completed")
    assert _post(api, completed).json()["status"] == "processed"
    with session_scope() as db:
        sub_id = db.execute(select(Subscription.stripe_subscription_id)).scalar_one()
    assert httpx.post(f"{stripe.base_url}/sandbox/subscriptions/{sub_id}/renew").status_code == 200
    (renewal,) = [
        e for e in _events(stripe, "invoice.paid") if e["data"]["object"]["billing_reason"] == "subscription_cycle"
    ]
    # when the same invoice arrives at once: four copies of its event and four other event ids
    copies = [renewal] * 4 + [{**renewal, "id": f"{renewal['id']}_resent_{n}"} for n in range(4)]
    responses = _all_at_once([lambda e=e: _post(api, e) for e in copies])
    # then the invoice is one payment row; each of the five event ids was processed once
    said = _answers(responses)
    assert said[(200, "processed")] == 5
    assert said[(200, "duplicate")] + said[(409, "in_progress")] == 3
    invoice_id = renewal["data"]["object"]["id"]
    assert _count(Payment, Payment.stripe_invoice_id == invoice_id) == 1
    assert _count(Payment, Payment.kind == PaymentKind.SUBSCRIPTION_INVOICE.value) == 1
    assert _count(WebhookEvent, WebhookEvent.event_type == "invoice.paid", WebhookEvent.status == "processed") == 5


def test_invoice_paid_handler_returns_the_existing_payment_for_a_known_invoice(money_shop) -> None:
    stripe, _, _, api = money_shop
    _paid_checkout(stripe, "instagram-growth-autopilot", AUTOPILOT)
    assert _post(api, _events(stripe, "checkout.session.completed")[0]).status_code == 200
    with session_scope() as db:
        sub_id = db.execute(select(Subscription.stripe_subscription_id)).scalar_one()
    httpx.post(f"{stripe.base_url}/sandbox/subscriptions/{sub_id}/renew")
    invoice = next(
        e for e in _events(stripe, "invoice.paid") if e["data"]["object"]["billing_reason"] == "subscription_cycle"
    )["data"]["object"]
    with session_scope() as db:
        first = payment_events.invoice_paid(db, invoice, None)
        first_id = first.id
    # when the handler sees the same invoice again
    with session_scope() as db:
        again = payment_events.invoice_paid(db, invoice, None)
        # then it answers the row that exists and adds none
        assert again.id == first_id
    assert _count(Payment, Payment.stripe_invoice_id == invoice["id"]) == 1


# --- partial delivery refunded at Stripe --------------------------------------------------------


def _deliver_partially(stripe: StripeSandbox, panel: PanelSandbox, api: ApiServer) -> tuple[int, str]:
    """A paid order for 1,000 followers (€12.00) of which the panel delivers 750."""
    cs = _paid_checkout(stripe)
    assert _post(api, _events(stripe, "checkout.session.completed")[0]).json()["status"] == "processed"
    panel.state.set_knobs(partial_links=[FOLLOWERS_LINK], partial_ratio=0.25)
    fulfillment.run_fulfillment(session_scope)
    fulfillment.sync_statuses(session_scope)
    with session_scope() as db:
        order = db.execute(select(Order).where(Order.checkout_session_id == cs.id)).scalars().one()
        return order.id, stripe.sessions[cs.stripe_session_id]["session"]["payment_intent"]


def test_partial_delivery_refunds_the_rest_at_stripe_once(money_shop) -> None:
    stripe, _, panel, api = money_shop
    # when the provider delivers 750 of 1,000 under the refund policy
    order_id, payment_intent = _deliver_partially(stripe, panel, api)
    # then Stripe was asked once for €3.00 (1200 x 250 / 1000) with the provider order's key
    with session_scope() as db:
        po = db.execute(select(ProviderOrder)).scalars().one()
        key = f"provider-order:{po.id}:refund"
        order = db.get(Order, order_id)
        assert (order.refunded_minor, order.payment_status, order.status) == (
            300,
            "partially_refunded",
            "partially_delivered",
        )
        refund = db.execute(select(Payment).where(Payment.kind == "refund")).scalars().one()
        assert (refund.amount_minor, refund.status, refund.idempotency_key) == (300, "succeeded", key)
    assert [(r["key"], r["replayed"], r["params"]) for r in stripe.refund_requests] == [
        (key, False, {"payment_intent": payment_intent, "amount": "300"})
    ]
    charge = stripe.charges[payment_intent]
    assert (charge["amount_refunded"], [r["id"] for r in charge["refunds"]["data"]]) == (300, [refund.stripe_refund_id])
    # when Stripe's charge.refunded arrives and the statuses are synced again
    (refunded_event,) = _events(stripe, "charge.refunded")
    assert _post(api, refunded_event).json()["status"] == "processed"
    fulfillment.sync_statuses(session_scope)
    # then nothing moves twice: one refund row, one Stripe refund, the same totals
    assert _count(Payment, Payment.kind == "refund") == 1
    assert len(stripe.refund_requests) == 1
    with session_scope() as db:
        order = db.get(Order, order_id)
        assert (order.refunded_minor, order.payment_status) == (300, "partially_refunded")


def test_refund_undelivered_asks_stripe_once_per_key_even_after_a_rollback(money_shop) -> None:
    stripe, _, _, api = money_shop
    _paid_checkout(stripe)
    assert _post(api, _events(stripe, "checkout.session.completed")[0]).json()["status"] == "processed"
    # given a refund whose unit of work rolled back after Stripe made it
    with pytest.raises(RuntimeError), session_scope() as db:
        order = db.execute(select(Order)).scalars().one()
        refunds.refund_undelivered(db, order, 500, "test", "provider-order:99:refund")
        raise RuntimeError("the surrounding work failed")
    assert _count(Payment, Payment.kind == "refund") == 0
    # when it is made again with the same key, twice
    for _ in range(2):
        with session_scope() as db:
            order = db.execute(select(Order)).scalars().one()
            refunds.refund_undelivered(db, order, 500, "test", "provider-order:99:refund")
    # then Stripe replayed the first refund (no second one) and we recorded it once
    assert [(r["key"], r["replayed"]) for r in stripe.refund_requests] == [
        ("provider-order:99:refund", False),
        ("provider-order:99:refund", True),
    ]
    (charge,) = stripe.charges.values()
    assert (charge["amount_refunded"], len(charge["refunds"]["data"])) == (500, 1)
    with session_scope() as db:
        order = db.execute(select(Order)).scalars().one()
        assert (order.refunded_minor, order.payment_status) == (500, "partially_refunded")
        rows = db.execute(select(Payment.stripe_refund_id, Payment.status).where(Payment.kind == "refund")).all()
        assert rows == [(charge["refunds"]["data"][0]["id"], "succeeded")]


def test_refund_stripe_refuses_is_recorded_as_failed_and_moves_nothing(money_shop) -> None:
    stripe, _, _, api = money_shop
    _paid_checkout(stripe)
    assert _post(api, _events(stripe, "checkout.session.completed")[0]).json()["status"] == "processed"
    # when fulfilment asks for more than was charged (€12.00)
    with session_scope() as db:
        order = db.execute(select(Order)).scalars().one()
        row = refunds.refund_undelivered(db, order, 5000, "test", "provider-order:7:refund")
        assert (row.status, row.stripe_refund_id) == ("failed", None)
    # then no money moved and the order's figures are unchanged
    (charge,) = stripe.charges.values()
    assert charge["amount_refunded"] == 0
    with session_scope() as db:
        order = db.execute(select(Order)).scalars().one()
        assert (order.refunded_minor, order.payment_status) == (0, "paid")
        messages = db.execute(select(OrderEvent.message).where(OrderEvent.kind == "payment")).scalars().all()
        assert len(messages) == 1 and messages[0].startswith("Refund of €50.00 (test) failed at Stripe")


def test_a_claim_left_by_a_dead_worker_is_taken_again_after_the_timeout(money_shop) -> None:
    stripe, sink, _, api = money_shop
    _paid_checkout(stripe)
    (completed,) = _events(stripe, "checkout.session.completed")
    # given the event claimed by a worker that died six minutes ago
    with session_scope() as db:
        claim = payment_events.claim_event(db, completed, now=utcnow() - timedelta(minutes=6))
    # when Stripe delivers it again
    answer = _post(api, completed)
    # then this delivery takes it over and processes it, once
    assert (answer.status_code, answer.json()) == (200, {"received": True, "status": "processed"})
    with session_scope() as db:
        row = db.get(WebhookEvent, claim.row_id)
        assert (row.status, row.attempts) == ("processed", 2)
    assert (_count(Order), len(_receipts(sink))) == (1, 1)


def test_operator_refund_of_the_rest_moves_money_and_marks_the_order_refunded(money_shop) -> None:
    stripe, _, _, api = money_shop
    _paid_checkout(stripe)
    assert _post(api, _events(stripe, "checkout.session.completed")[0]).json()["status"] == "processed"
    operator = Actor.operator(1, "ops@example.test")
    with session_scope() as db:
        order_id = db.execute(select(Order.id)).scalar_one()
        # when an operator refunds €2.00, then asks for more than is left
        refunds.refund_order(db, order_id, 200, actor=operator)
    with pytest.raises(CheckoutError) as refused, session_scope() as db:
        refunds.refund_order(db, order_id, 1001, actor=operator)
    assert (refused.value.code, refused.value.field) == (ErrorCode.INVALID, "amount")
    # then only the €2.00 moved
    (charge,) = stripe.charges.values()
    assert charge["amount_refunded"] == 200
    # when the rest is refunded
    with session_scope() as db:
        refunds.refund_order(db, order_id, actor=operator)
    (charge,) = stripe.charges.values()
    assert charge["amount_refunded"] == 1200
    with session_scope() as db:
        order = db.get(Order, order_id)
        assert (order.refunded_minor, order.payment_status) == (1200, "refunded")
        rows = db.execute(select(Payment.amount_minor).where(Payment.kind == "refund").order_by(Payment.id)).scalars()
        assert list(rows) == [200, 1000]


def test_expiry_job_fulfils_a_paid_session_whose_webhook_never_came_with_one_receipt_after_commit(money_shop) -> None:
    from jobs.definitions import expire_checkouts

    stripe, sink, _, _ = money_shop
    cs = _paid_checkout(stripe)  # its webhook is never delivered
    later = utcnow() + timedelta(hours=2)
    # given a run of the job whose unit of work rolls back: no order and no receipt
    with pytest.raises(RuntimeError), session_scope() as db:
        assert checkout_sessions.expire_stale_sessions(db, later)["fulfilled"] == 1
        raise RuntimeError("the job's unit of work failed")
    assert (_count(Order), len(_receipts(sink))) == (0, 0)
    # when the job runs for real
    counts = expire_checkouts(session_scope, later)
    # then the session became one order, with one receipt sent after the commit
    assert counts == {"abandoned": 0, "fulfilled": 1, "errors": 0}
    with session_scope() as db:
        assert db.execute(select(Order.checkout_session_id)).scalars().all() == [cs.id]
    assert [m.to for m in _receipts(sink)] == [["buyer@example.test"]]


def test_stripe_unreachable_is_a_named_error_and_nothing_is_stored(money_shop, monkeypatch: pytest.MonkeyPatch) -> None:
    stripe, sink, _, _ = money_shop
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nobody listens there
    monkeypatch.setenv("SMPLAT_STRIPE_API_BASE", f"http://127.0.0.1:{port}")
    reset_settings_cache()
    # when a guest starts checkout, and a success page asks about a session
    with pytest.raises(PaymentProviderUnavailable) as start, session_scope() as db:
        cart = carts.get_or_create_cart(db, user_id=None, guest_token=carts.sign_guest_token("money-guest"))
        carts.add_item(db, cart, "instagram-followers", FOLLOWERS, 1, visitor=carts.visitor_key("money-guest"))
        placement.start_checkout(
            db,
            cart,
            customer_email="buyer@example.test",
            user_id=None,
            visitor=carts.visitor_key("money-guest"),
            base_url="http://shop.test",
        )
    with pytest.raises(PaymentProviderUnavailable) as confirm, session_scope() as db:
        placement.confirm_from_success_page(db, "cs_test_anything")
    # then both are the named error with the UNAVAILABLE code, and nothing was stored or sent
    assert (start.value.code, confirm.value.code) == (ErrorCode.UNAVAILABLE, ErrorCode.UNAVAILABLE)
    assert (_count(CheckoutSession), _count(Order)) == (0, 0)
    assert (stripe.sessions, list_messages(sink.mailbox_dir)) == ({}, [])


def test_unknown_session_on_the_success_page_is_unknown_not_an_error(money_shop) -> None:
    # when the success page is opened with a session id Stripe does not know
    with session_scope() as db:
        result = placement.confirm_from_success_page(db, "cs_test_does_not_exist")
    # then it says so and creates nothing
    assert (result.order_id, result.created, result.status) == (None, False, "unknown")
    assert _count(Order) == 0
