"""The pages' handlers as the websocket runs them: My account → Subscriptions (cancel at period
end, resume, someone else's id) and → Privacy (a wrong password deletes nothing; the right one
deletes the account and signs the tab out)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from smplat.api.app import build_api
from smplat.db import session_scope
from smplat.models.accounts import Role, User
from smplat.models.payments import Subscription
from smplat.services import carts
from smplat.services.checkout import placement
from smplat.ui.pages.account.privacy import PrivacyState
from smplat.ui.pages.account.subscriptions import SubscriptionsState

pytestmark = pytest.mark.integration

AUTOPILOT = {
    "options": {"package": "1000", "speed": "standard"},
    "add_ons": [],
    "plan": "monthly",
    "fields": {"username": "@brand"},
}
PASSWORD = "violet-harbour-42"  # session_cookie_for's


def _subscribe(shop, email: str) -> int:
    with session_scope() as db:
        user_id = db.execute(select(User.id).where(User.email == email)).scalar_one()
        cart = carts.get_or_create_cart(db, user_id=user_id, guest_token=None)
        carts.add_item(db, cart, "instagram-growth-autopilot", AUTOPILOT, 1, visitor=f"user:{user_id}")
        cs = placement.start_checkout(
            db, cart, customer_email=email, user_id=user_id, visitor=f"user:{user_id}", base_url="http://shop.test"
        )
    shop.pay(cs)
    with TestClient(build_api()) as client:
        for event in list(shop.sandbox.events):
            assert shop.post(client, event).status_code == 200
    with session_scope() as db:
        return db.execute(select(Subscription.id).where(Subscription.user_id == user_id)).scalar_one()


async def test_subscriptions_page_cancels_at_period_end_and_resumes(stripe_shop, root_state, session_cookie_for):
    cookie = session_cookie_for(Role.CUSTOMER, "ada@example.com")
    sub_id = _subscribe(stripe_shop, "ada@example.com")
    state = await root_state(SubscriptionsState, "/account/subscriptions", cookie=cookie)
    state.load_subscriptions()
    (row,) = state.rows
    assert (row["status_label"], row["amount"], row["can_cancel"]) == ("Active", "€29.00 / month", "1")
    SubscriptionsState.cancel_renewal.fn(state, row["id"])
    assert state.error == "" and state.notice.startswith("Renewals stopped. Your subscription stays active until ")
    assert (state.rows[0]["status_label"], state.rows[0]["can_resume"]) == ("Ends at period end", "1")
    SubscriptionsState.resume_renewal.fn(state, row["id"])
    assert state.notice == "Welcome back: your subscription renews as before."
    assert state.rows[0]["can_cancel"] == "1"
    with session_scope() as db:
        assert db.get(Subscription, sub_id).cancel_at_period_end is False


async def test_someone_elses_subscription_is_not_found(stripe_shop, root_state, session_cookie_for):
    session_cookie_for(Role.CUSTOMER, "ada@example.com")
    sub_id = _subscribe(stripe_shop, "ada@example.com")
    state = await root_state(
        SubscriptionsState, "/account/subscriptions", cookie=session_cookie_for(Role.CUSTOMER, "bob@example.com")
    )
    state.load_subscriptions()
    assert state.rows == []
    SubscriptionsState.cancel_renewal.fn(state, str(sub_id))
    assert state.error == "That subscription does not exist."
    SubscriptionsState.cancel_renewal.fn(state, "not-a-number")
    assert state.error == "That subscription does not exist."
    with session_scope() as db:
        assert db.get(Subscription, sub_id).cancel_at_period_end is False


async def test_privacy_page_deletes_only_with_the_password_and_signs_the_tab_out(
    stripe_shop, root_state, session_cookie_for
):
    cookie = session_cookie_for(Role.CUSTOMER, "ada@example.com")
    state = await root_state(PrivacyState, "/account/privacy", cookie=cookie)
    state.load_privacy()
    assert (state.needs_code, state.retention_days) == (False, 3650)
    await PrivacyState.delete_account.fn(state, {"password": "wrong password"})
    assert state.password_error == "That password is not right."
    with session_scope() as db:
        assert db.execute(select(User.deleted_at).where(User.email == "ada@example.com")).scalar_one() is None
    await PrivacyState.delete_account.fn(state, {"password": PASSWORD})
    assert state.user_id == 0
    with session_scope() as db:
        assert db.execute(select(User).where(User.email == "ada@example.com")).first() is None
        assert db.execute(select(User).where(User.deleted_at.is_not(None))).scalars().one().is_active is False
