"""Checkout through the real stripe SDK against the Stripe sandbox, and the webhook endpoint
with real signatures: valid, invalid, stale, duplicate, out of order, and every handled type."""

from __future__ import annotations

import json
import time

import httpx
import pytest
import stripe
from sqlalchemy import func, select
from starlette.testclient import TestClient

from smplat.api.app import build_api
from smplat.db import session_scope
from smplat.models.checkout import CheckoutSession
from smplat.models.fulfillment import FulfillmentTask
from smplat.models.merchandising import PriceExperimentVariant
from smplat.models.orders import Order, OrderItem
from smplat.models.payments import Payment, Subscription, WebhookEvent
from smplat.sandbox.smtp_sink import list_messages
from smplat.sandbox.stripe_sandbox import sign_payload
from smplat.services import carts, counters, experiments
from smplat.services.checkout import placement, subscriptions
from smplat.services.checkout import sessions as checkout_sessions
from smplat.services.pricing import ConfigurationInvalid
from smplat.settings import (
    SANDBOX_STRIPE_SECRET_KEY,
)
from tests.checkout_factory import POPULAR
from tests.checkout_factory import start_guest_checkout as _start

pytestmark = pytest.mark.integration


@pytest.fixture
def shop(stripe_shop):
    """Seeded database, SMTP sink and the Stripe sandbox (tests/integration/conftest.py)."""
    return stripe_shop


def _count(model) -> int:
    with session_scope() as db:
        return db.execute(select(func.count()).select_from(model)).scalar_one()


# --- signature -------------------------------------------------------------------------------


def test_sandbox_signs_exactly_like_stripe() -> None:
    # given a payload / when signed by the sandbox / then Stripe's own verifier accepts it
    payload = '{"id": "evt_1", "type": "ping"}'
    header = sign_payload(payload, "whsec_x", 1_700_000_000)
    expected = stripe.WebhookSignature._compute_signature(f"1700000000.{payload}", "whsec_x")
    assert header == f"t=1700000000,v1={expected}"


def test_checkout_creates_a_stripe_session_with_the_server_price(shop) -> None:
    sandbox, _ = shop
    # when a guest starts checkout with the popular preset
    cs = _start()
    # then our row and the Stripe session carry the server's price, 1,000 followers = €12.00
    assert (cs.amount_total_minor, cs.currency, cs.mode, cs.status) == (1200, "EUR", "payment", "open")
    remote = sandbox.sessions[cs.stripe_session_id]
    assert remote["session"]["amount_total"] == 1200
    assert remote["session"]["customer_email"] == "guest@example.test"
    assert remote["lines"][0]["name"] == "Instagram Followers"
    assert cs.payment_url == f"{sandbox.base_url}/pay/{cs.stripe_session_id}"
    with session_scope() as db:
        assert counters.read_counters(db)["checkout_started"] == 1


def test_valid_completed_webhook_creates_one_order_task_and_receipt(shop) -> None:
    sink = shop.sink
    cs = _start()
    assert shop.pay(cs).status_code == 303
    (completed,) = shop.events("checkout.session.completed")
    with TestClient(build_api()) as client:
        # when the signed event arrives
        answer = shop.post(client, completed)
    # then one order with the frozen snapshot, one fulfilment task, one receipt
    assert answer.status_code == 200 and answer.json() == {"received": True, "status": "processed"}
    with session_scope() as db:
        order = db.execute(select(Order)).scalars().one()
        item = db.execute(select(OrderItem)).scalars().one()
        assert (order.total_minor, order.charged_minor, order.payment_status, order.customer_email) == (
            1200,
            1200,
            "paid",
            "guest@example.test",
        )
        assert item.snapshot["price_breakdown"] == [
            {"kind": "plan", "label": "One-time purchase", "amount_minor": 690},
            {"kind": "option", "label": "Package size: 1,000 followers", "amount_minor": 510},
        ]
        assert item.snapshot["blueprint"][0]["tagline"] == "1,000 followers for €12"
        assert item.snapshot["delivery"]["link"] == "https://www.instagram.com/brand/"
        assert item.snapshot["delivery"]["quantity"] == 1000
        assert item.service_quantity == 1000
        assert db.execute(select(FulfillmentTask.idempotency_key)).scalars().all() == [f"submit:item:{item.id}"]
        assert db.get(CheckoutSession, cs.id).status == "completed"
    mails = [m for m in list_messages(sink.mailbox_dir) if "receipt" in m.subject]
    assert len(mails) == 1 and mails[0].to == ["guest@example.test"]
    assert "1,000 followers for €12" in mails[0].text and "€12.00" in mails[0].text


def test_duplicate_event_answers_200_and_changes_nothing(shop) -> None:
    sink = shop.sink
    cs = _start()
    shop.pay(cs)
    (completed,) = shop.events("checkout.session.completed")
    with TestClient(build_api()) as client:
        shop.post(client, completed)
        # when Stripe delivers the same event again
        again = shop.post(client, completed)
    # then 200, still one order, one task, one receipt; the duplicate is counted
    assert again.status_code == 200 and again.json() == {"received": True, "duplicate": True}
    assert (_count(Order), _count(FulfillmentTask), _count(WebhookEvent)) == (1, 1, 1)
    assert len([m for m in list_messages(sink.mailbox_dir) if "receipt" in m.subject]) == 1
    with session_scope() as db:
        c = counters.read_counters(db)
    assert (c["webhooks_received"], c["webhooks_duplicate"], c["checkout_completed"]) == (2, 1, 1)


def test_invalid_signature_is_rejected_and_nothing_is_stored(shop) -> None:
    cs = _start()
    shop.pay(cs)
    (completed,) = shop.events("checkout.session.completed")
    with TestClient(build_api()) as client:
        answer = shop.post(client, completed, secret="whsec_forged")
        tampered_payload, headers = shop.signed(completed)
        tampered = client.post("/api/stripe/webhook", content=tampered_payload.replace("1200", "1"), headers=headers)
        unsigned = client.post("/api/stripe/webhook", content=json.dumps(completed))
    assert [answer.status_code, tampered.status_code, unsigned.status_code] == [400, 400, 400]
    assert answer.json() == {"error": "invalid signature"}
    assert (_count(Order), _count(WebhookEvent), _count(FulfillmentTask)) == (0, 0, 0)
    with session_scope() as db:
        assert counters.read_counters(db)["webhooks_rejected"] == 3


def test_stale_timestamp_is_rejected(shop) -> None:
    cs = _start()
    shop.pay(cs)
    (completed,) = shop.events("checkout.session.completed")
    with TestClient(build_api()) as client:
        # signed correctly, but ten minutes ago (the SDK's tolerance is five)
        answer = shop.post(client, completed, timestamp=int(time.time()) - 600)
    assert answer.status_code == 400
    assert (_count(Order), _count(WebhookEvent)) == (0, 0)


def test_out_of_order_expired_after_completed_keeps_the_order(shop) -> None:
    cs = _start()
    shop.pay(cs)
    (completed,) = shop.events("checkout.session.completed")
    late_expiry = {
        **completed,
        "id": "evt_late_expiry",
        "type": "checkout.session.expired",
        "data": {"object": {**completed["data"]["object"], "status": "expired"}},
    }
    with TestClient(build_api()) as client:
        shop.post(client, completed)
        answer = shop.post(client, late_expiry)
    assert answer.status_code == 200
    with session_scope() as db:
        assert db.get(CheckoutSession, cs.id).status == "completed"
        assert counters.read_counters(db)["checkout_abandoned"] == 0
    assert _count(Order) == 1


def test_out_of_order_refund_before_completion_is_retried_then_applied(shop) -> None:
    sandbox, _ = shop
    cs = _start()
    shop.pay(cs)
    (completed,) = shop.events("checkout.session.completed")
    pi = completed["data"]["object"]["payment_intent"]
    httpx.post(
        f"{sandbox.base_url}/v1/refunds",
        data={"payment_intent": pi, "amount": "500"},
        headers={"Authorization": f"Bearer {SANDBOX_STRIPE_SECRET_KEY}"},
    )
    (refunded,) = shop.events("charge.refunded")
    with TestClient(build_api()) as client:
        # when the refund arrives before the order exists: 500, kept as failed, nothing half-done
        first = shop.post(client, refunded)
        assert first.status_code == 500 and _count(Payment) == 0
        shop.post(client, completed)
        # then Stripe's retry of the same event id applies it
        retry = shop.post(client, refunded)
    assert retry.status_code == 200
    with session_scope() as db:
        order = db.execute(select(Order)).scalars().one()
        assert (order.refunded_minor, order.payment_status) == (500, "partially_refunded")
        kinds = sorted(db.execute(select(Payment.kind, Payment.amount_minor)).all())
        assert kinds == [("charge", 1200), ("refund", 500)]
        assert counters.read_counters(db)["webhooks_failed"] == 1


def test_success_page_and_webhook_create_the_order_once_whichever_is_first(shop) -> None:
    cs = _start()
    shop.pay(cs)
    (completed,) = shop.events("checkout.session.completed")
    # when the success page confirms first (it asks Stripe through the SDK)
    with session_scope() as db:
        first = placement.confirm_from_success_page(db, cs.stripe_session_id)
    with TestClient(build_api()) as client:
        shop.post(client, completed)
    with session_scope() as db:
        second = placement.confirm_from_success_page(db, cs.stripe_session_id)
    # then one order, and both see it
    assert first.created is True and second.created is False and first.order_id == second.order_id
    assert (_count(Order), _count(FulfillmentTask)) == (1, 1)


def test_declined_payment_marks_the_session_failed_and_creates_no_order(shop) -> None:
    sandbox, sink = shop
    cs = _start()
    declined = httpx.post(f"{sandbox.base_url}/pay/{cs.stripe_session_id}/decline")
    assert declined.status_code == 402 and "Your card was declined" in declined.text
    (failed,) = shop.events("checkout.session.async_payment_failed")
    with TestClient(build_api()) as client:
        assert shop.post(client, failed).status_code == 200
    with session_scope() as db:
        assert db.get(CheckoutSession, cs.id).status == "failed"
        assert counters.read_counters(db)["checkout_failed"] == 1
        assert placement.confirm_from_success_page(db, cs.stripe_session_id).status == "unpaid"
    assert (_count(Order), _count(FulfillmentTask)) == (0, 0)
    assert list_messages(sink.mailbox_dir) == []


def test_subscription_checkout_invoices_updates_and_cancellation(shop) -> None:
    sandbox, _ = shop
    autopilot = {
        "options": {"package": "1000", "speed": "standard"},
        "add_ons": [],
        "plan": "monthly",
        "fields": {"username": "@brand"},
    }
    cs = _start(configuration=autopilot, slug="instagram-growth-autopilot")
    assert (cs.mode, cs.amount_total_minor) == ("subscription", 2900)
    shop.pay(cs)
    sub_id = sandbox.sessions[cs.stripe_session_id]["session"]["subscription"]
    httpx.post(f"{sandbox.base_url}/sandbox/subscriptions/{sub_id}/renew")
    httpx.post(f"{sandbox.base_url}/sandbox/subscriptions/{sub_id}/update", data={"cancel_at_period_end": "true"})
    with TestClient(build_api()) as client:
        for e in list(sandbox.events):
            assert shop.post(client, e).status_code == 200
        with session_scope() as db:
            subscriptions.cancel_subscription(db, db.execute(select(Subscription.id)).scalar_one())
        (deleted,) = shop.events("customer.subscription.deleted")
        assert shop.post(client, deleted).status_code == 200
        # a late "updated" does not revive it
        (updated,) = shop.events("customer.subscription.updated")
        assert shop.post(client, {**updated, "id": "evt_late_update"}).status_code == 200
    with session_scope() as db:
        sub = db.execute(select(Subscription)).scalars().one()
        order, renewal = db.execute(select(Order).order_by(Order.id)).scalars().all()  # the renewal is its own order
        assert (sub.status, sub.order_id, sub.cancel_at_period_end) == ("canceled", order.id, True)
        assert renewal.total_minor == order.total_minor
        invoices = db.execute(select(Payment.kind, Payment.amount_minor).order_by(Payment.id)).all()
        assert invoices == [("charge", 2900), ("subscription_invoice", 2900)]


def test_tampered_configuration_is_refused_and_nothing_stored(shop) -> None:
    for bad in (
        {**POPULAR, "options": {"package": "999", "speed": "standard"}},
        {**POPULAR, "unit_price_minor": 1},
        {**POPULAR, "fields": {"username": "not a handle!"}},
    ):
        with pytest.raises(ConfigurationInvalid), session_scope() as db:
            cart = carts.get_or_create_cart(db, user_id=None, guest_token=carts.sign_guest_token("t"))
            carts.add_item(db, cart, "instagram-followers", bad, 1, visitor=None)
    with pytest.raises(ConfigurationInvalid), session_scope() as db:
        cart = carts.get_or_create_cart(db, user_id=None, guest_token=carts.sign_guest_token("t"))
        carts.add_item(db, cart, "instagram-followers", POPULAR, 1000, visitor=None)
    assert _count(CheckoutSession) == 0
    with session_scope() as db:
        assert carts.find_cart(db, user_id=None, guest_token=carts.sign_guest_token("t")) is None


def test_experiment_variant_prices_the_checkout_and_counts_the_conversion(shop) -> None:
    with session_scope() as db:
        product_id = carts.catalog.get_product_detail(db, "instagram-followers").product.id
        experiments.create_experiment(
            db,
            product_id=product_id,
            key="ig-price",
            name="IG price",
            variants=[("lower", "Lower", 9000, 1), ("lower2", "Lower too", 9000, 1)],
        )
    cs = _start()
    assert cs.amount_total_minor == 1080
    shop.pay(cs)
    with TestClient(build_api()) as client:
        shop.post(client, shop.events("checkout.session.completed")[0])
    with session_scope() as db:
        rows = db.execute(select(PriceExperimentVariant.conversions, PriceExperimentVariant.revenue_minor)).all()
    assert sorted(rows) == [(0, 0), (1, 1080)]


def test_expiry_job_abandons_stale_sessions_at_stripe(shop) -> None:
    from datetime import timedelta

    from smplat.models.base import utcnow

    sandbox, _ = shop
    cs = _start()
    with session_scope() as db:
        counts = checkout_sessions.expire_stale_sessions(db, utcnow() + timedelta(hours=2))
    assert counts == {"abandoned": 1, "fulfilled": 0, "errors": 0}
    assert sandbox.sessions[cs.stripe_session_id]["session"]["status"] == "expired"
    with session_scope() as db:
        assert db.get(CheckoutSession, cs.id).status == "abandoned"
        assert counters.read_counters(db)["checkout_abandoned"] == 1
        # when an operator regenerates the link
        new = checkout_sessions.regenerate_link(db, cs.id, base_url="http://shop.test")
        assert (new.replaces_session_id, new.status, new.amount_total_minor) == (cs.id, "open", 1200)
        assert new.payment_url.endswith(new.stripe_session_id)


def test_cart_pricing_query_count_does_not_grow_with_lines(shop, count_queries) -> None:
    with session_scope() as db:
        cart = carts.get_or_create_cart(db, user_id=None, guest_token=carts.sign_guest_token("q"))
        for _ in range(2):
            carts.add_item(db, cart, "instagram-followers", POPULAR, 1, visitor=None)

    def price_once() -> int:
        with count_queries() as q, session_scope() as db:
            carts.price_cart(
                db, carts.find_cart(db, user_id=None, guest_token=carts.sign_guest_token("q")), visitor=None
            )
        return q.count

    two_lines = price_once()
    with session_scope() as db:
        cart = carts.find_cart(db, user_id=None, guest_token=carts.sign_guest_token("q"))
        for _ in range(3):
            carts.add_item(db, cart, "instagram-followers", POPULAR, 1, visitor=None)
    five_lines = price_once()
    # then three more lines of the same product cost no extra query (details are loaded once per product)
    assert five_lines == two_lines
