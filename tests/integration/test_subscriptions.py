"""The customer's subscriptions through the real stripe SDK and the Stripe sandbox over HTTP:
cancel at period end, resume, a renewal (its own order and fulfilment, once per invoice however
often the webhook comes) and a failed renewal (past_due and an email), with signed webhooks."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from smplat.api.app import build_api
from smplat.db import session_scope
from smplat.models.base import utcnow
from smplat.models.fulfillment import FulfillmentTask
from smplat.models.invoices import Invoice
from smplat.models.orders import Order, OrderItem
from smplat.models.payments import Payment, Subscription
from smplat.sandbox.smtp_sink import list_messages
from smplat.services import accounts, carts, notifications
from smplat.services.checkout import placement, subscriptions
from smplat.services.checkout.errors import CheckoutError

pytestmark = pytest.mark.integration

AUTOPILOT = {
    "options": {"package": "1000", "speed": "standard"},
    "add_ons": [],
    "plan": "monthly",
    "fields": {"username": "@brand"},
}
PASSWORD = "correct horse battery staple"


def _count(model, *where) -> int:
    with session_scope() as db:
        return db.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def _subscribed_customer(shop, client, email: str = "sub@example.test") -> tuple[int, int, str]:
    """A signed-up customer pays a Growth Autopilot checkout; every event is delivered.
    Returns (user id, subscription row id, Stripe subscription id)."""
    sandbox, _ = shop
    with session_scope() as db:
        user = accounts.sign_up(db, email=email, password=PASSWORD, full_name="Sub Scriber")
        user_id = user.id
        cart = carts.get_or_create_cart(db, user_id=user_id, guest_token=None)
        carts.add_item(db, cart, "instagram-growth-autopilot", AUTOPILOT, 1, visitor=f"user:{user_id}")
        cs = placement.start_checkout(
            db, cart, customer_email=email, user_id=user_id, visitor=f"user:{user_id}", base_url="http://shop.test"
        )
    shop.pay(cs)
    for event in list(sandbox.events):
        assert shop.post(client, event).status_code == 200
    stripe_sub = sandbox.sessions[cs.stripe_session_id]["session"]["subscription"]
    with session_scope() as db:
        row = db.execute(select(Subscription).where(Subscription.stripe_subscription_id == stripe_sub)).scalars().one()
        assert (row.user_id, row.status) == (user_id, "active")
        return user_id, row.id, stripe_sub


def _deliver_new(shop, client, seen: int) -> int:
    for event in list(shop.sandbox.events)[seen:]:
        assert shop.post(client, event).status_code == 200
    return len(shop.sandbox.events)


def test_cancel_at_period_end_then_resume_through_stripe(stripe_shop) -> None:
    shop = stripe_shop
    with TestClient(build_api()) as client:
        user_id, sub_row, stripe_sub = _subscribed_customer(shop, client)
        seen = len(shop.sandbox.events)
        with session_scope() as db:
            (listed,) = subscriptions.list_for_user(db, user_id)
            assert (listed["status_label"], listed["amount"], listed["can_cancel"]) == ("Active", "€29.00 / month", "1")
            subscriptions.set_cancel_at_period_end(db, user_id, sub_row, True)
        # Stripe itself was changed (over HTTP) and said so with a signed event
        assert shop.sandbox.subscriptions[stripe_sub]["cancel_at_period_end"] is True
        seen = _deliver_new(shop, client, seen)
        with session_scope() as db:
            row = db.get(Subscription, sub_row)
            assert (row.status, row.cancel_at_period_end) == ("active", True)
            (listed,) = subscriptions.list_for_user(db, user_id)
            assert listed["status_label"] == "Ends at period end"
            assert listed["next_renewal"] == row.current_period_end.strftime("%d %b %Y")
            assert (listed["can_cancel"], listed["can_resume"]) == ("", "1")
            subscriptions.set_cancel_at_period_end(db, user_id, sub_row, False)
        assert shop.sandbox.subscriptions[stripe_sub]["cancel_at_period_end"] is False
        updates = shop.events("customer.subscription.updated")
        assert [e["data"]["object"]["cancel_at_period_end"] for e in updates] == [True, False]
        _deliver_new(shop, client, seen)
        with session_scope() as db:
            assert db.get(Subscription, sub_row).cancel_at_period_end is False
            assert subscriptions.list_for_user(db, user_id)[0]["can_cancel"] == "1"


def test_another_customer_cannot_cancel_someone_elses_subscription(stripe_shop) -> None:
    shop = stripe_shop
    with TestClient(build_api()) as client:
        _, sub_row, stripe_sub = _subscribed_customer(shop, client)
    with session_scope() as db:
        other = accounts.sign_up(db, email="other@example.test", password=PASSWORD)
        with pytest.raises(CheckoutError) as refused:
            subscriptions.set_cancel_at_period_end(db, other.id, sub_row, True)
        assert refused.value.code == "not_found"
        assert subscriptions.list_for_user(db, other.id) == []
    assert shop.sandbox.subscriptions[stripe_sub]["cancel_at_period_end"] is False


def test_renewal_creates_one_order_and_fulfilment_for_a_duplicated_webhook(stripe_shop) -> None:
    shop = stripe_shop
    with TestClient(build_api()) as client:
        user_id, sub_row, stripe_sub = _subscribed_customer(shop, client)
        assert (_count(Order), _count(FulfillmentTask)) == (1, 1)
        answer = httpx.post(f"{shop.sandbox.base_url}/sandbox/subscriptions/{stripe_sub}/renew")
        assert answer.status_code == 200
        renewal = answer.json()
        assert renewal["data"]["object"]["billing_reason"] == "subscription_cycle"
        # the same event twice, and a second event for the same invoice
        for event in (renewal, renewal, {**renewal, "id": "evt_same_invoice_again"}):
            assert shop.post(client, event).status_code == 200
    assert (_count(Order), _count(FulfillmentTask)) == (2, 2)
    with session_scope() as db:
        first, second = db.execute(select(Order).order_by(Order.id)).scalars().all()
        assert (second.user_id, second.payment_status, second.charged_minor) == (user_id, first.payment_status, 2900)
        (item,) = db.execute(select(OrderItem).where(OrderItem.order_id == second.id)).scalars().all()
        assert item.snapshot["renewal"] == {
            "stripe_invoice": renewal["data"]["object"]["id"],
            "of_order": first.number,
        }
        task = db.execute(select(FulfillmentTask).where(FulfillmentTask.order_item_id == item.id)).scalars().one()
        assert task.kind == "submit"
        payment = (
            db.execute(select(Payment).where(Payment.stripe_invoice_id == renewal["data"]["object"]["id"]))
            .scalars()
            .one()
        )
        assert payment.order_id == second.id
        assert db.get(Subscription, sub_row).current_period_end.timestamp() == renewal["data"]["object"]["period_end"]
    # and one invoice for it
    with session_scope() as db:
        renewal_invoices = db.execute(select(Invoice).where(Invoice.order_id == second.id)).scalars().all()
    assert [i.kind for i in renewal_invoices] == ["invoice"]
    # the renewal's receipt went to the customer
    subjects = [m.subject for m in list_messages(shop.sink.mailbox_dir)]
    assert any(second.number in s for s in subjects)


def test_failed_renewal_marks_past_due_and_emails_the_customer_once(stripe_shop) -> None:
    shop = stripe_shop
    with TestClient(build_api()) as client:
        user_id, sub_row, stripe_sub = _subscribed_customer(shop, client, email="late@example.test")
        seen = len(shop.sandbox.events)
        assert httpx.post(f"{shop.sandbox.base_url}/sandbox/subscriptions/{stripe_sub}/fail_renewal").status_code == 200
        (failed,) = shop.events("invoice.payment_failed")
        _deliver_new(shop, client, seen)
        assert shop.post(client, {**failed, "id": "evt_failed_again"}).status_code == 200
    with session_scope() as db:
        row = db.get(Subscription, sub_row)
        assert row.status == "past_due"
        assert subscriptions.list_for_user(db, user_id)[0]["status_label"] == "Payment failed"
    assert (_count(Order), _count(FulfillmentTask)) == (1, 1)  # nothing delivered for an unpaid period
    # the jobs process's sender delivers the queued notice; the copy of the event queued nothing more
    notifications.send_due(session_scope, utcnow())
    notifications.send_due(session_scope, utcnow())
    messages = list_messages(shop.sink.mailbox_dir)
    notices = [m for m in messages if m.subject.startswith("We could not renew your")]
    assert len(notices) == 1  # (the welcome queued at sign-up went out with it)
    (notice,) = notices
    assert "late@example.test" in notice.to
    assert "€29.00" in notice.text and "/account/subscriptions" in notice.text


def test_a_subscription_set_to_end_ends_at_the_period_end_and_cannot_be_resumed(stripe_shop) -> None:
    shop = stripe_shop
    with TestClient(build_api()) as client:
        user_id, sub_row, stripe_sub = _subscribed_customer(shop, client)
        with session_scope() as db:
            subscriptions.set_cancel_at_period_end(db, user_id, sub_row, True)
        seen = len(shop.sandbox.events) - 1
        httpx.post(f"{shop.sandbox.base_url}/sandbox/subscriptions/{stripe_sub}/renew")  # the period runs out
        _deliver_new(shop, client, seen)
    assert _count(Order) == 1  # no renewal order for a subscription that ended
    with session_scope() as db:
        assert db.get(Subscription, sub_row).status == "canceled"
        with pytest.raises(CheckoutError) as refused:
            subscriptions.set_cancel_at_period_end(db, user_id, sub_row, False)
        assert "ended" in refused.value.message
