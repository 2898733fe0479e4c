"""Wallet top-ups through Stripe Checkout: the reseller picks an amount on Account → Reseller
(the page's handler, called the way the websocket calls it), pays on the Stripe sandbox's
hosted page (the stripe SDK over HTTP), and the signed webhook credits the wallet exactly
once, whatever Stripe sends again or out of order; the ledger shows it. On SQLite and
PostgreSQL (the `stripe_shop` fixture runs on both)."""

from __future__ import annotations

import copy
import re

import httpx
import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from smplat.api.app import build_api
from smplat.db import session_scope
from smplat.models.accounts import Role
from smplat.models.checkout import CheckoutSession
from smplat.models.orders import Order
from smplat.models.resellers import ResellerAccount, ResellerLedgerEntry
from smplat.services import audit, resellers
from smplat.settings import reset_settings_cache
from smplat.ui.pages.account.reseller import ResellerState

pytestmark = pytest.mark.integration

PATH = "/account/reseller"
EMAIL = "topup-bot@example.test"


@pytest.fixture
def reseller(stripe_shop, session_cookie_for):
    """A reseller with an empty wallet, signed in (the session cookie)."""
    cookie = session_cookie_for(Role.CUSTOMER, EMAIL)
    with session_scope() as db:
        resellers.enable(db, audit.Actor.cli(), EMAIL)
    return cookie


def _wallet() -> tuple[int, int, list[str]]:
    """(balance, sum of the ledger, kinds of the ledger rows)."""
    with session_scope() as db:
        account = db.execute(select(ResellerAccount)).scalars().one()
        rows = (
            db.execute(select(ResellerLedgerEntry).where(ResellerLedgerEntry.account_id == account.id)).scalars().all()
        )
        return account.balance_minor, sum(r.amount_minor for r in rows), [r.kind for r in rows]


async def _start(root_state, cookie: str, amount: str) -> tuple[ResellerState, str | None]:
    """The reseller submits the top-up form; the Stripe session id it was sent to, if any."""
    state = await root_state(ResellerState, PATH, cookie=cookie)
    state.load_reseller()
    result = state.start_topup({"topup_amount": amount, "id": "ignored"})
    found = re.search(r"/pay/(cs_test_[0-9a-f]+)", str(result or ""))
    return state, found.group(1) if found else None


async def test_a_paid_top_up_is_credited_once_by_the_webhook(stripe_shop, reseller, root_state):
    sandbox = stripe_shop.sandbox
    # given the reseller asks to top up 125.50
    state, sid = await _start(root_state, reseller, "125.50")
    assert sid is not None and state.topup_error == ""
    remote = sandbox.sessions[sid]["session"]
    assert (remote["amount_total"], remote["currency"], remote["mode"]) == (12550, "eur", "payment")
    assert remote["metadata"]["smplat_kind"] == "reseller_topup" and remote["customer_email"] == EMAIL
    assert _wallet() == (0, 0, [])  # nothing before Stripe says it is paid
    # when they pay on the sandbox's hosted page and come back
    paid = httpx.post(f"{sandbox.base_url}/pay/{sid}/pay", follow_redirects=False)
    assert paid.status_code == 303 and paid.headers["location"].endswith("/account/reseller?topup=paid")
    (completed,) = stripe_shop.events("checkout.session.completed")
    with TestClient(build_api()) as client:
        answer = stripe_shop.post(client, completed)
        # then the wallet is credited and the ledger says so
        assert answer.status_code == 200 and answer.json()["status"] == "processed"
        assert _wallet() == (12550, 12550, ["topup"])
        # the same event again, the same session under another event id and type (async
        # success after completed), and a late expiry: nothing more
        assert stripe_shop.post(client, completed).json() == {"received": True, "duplicate": True}
        again = copy.deepcopy(completed)
        again["id"], again["type"] = completed["id"] + "_async", "checkout.session.async_payment_succeeded"
        assert stripe_shop.post(client, again).status_code == 200
        expired = copy.deepcopy(completed)
        expired["id"], expired["type"] = completed["id"] + "_expired", "checkout.session.expired"
        assert stripe_shop.post(client, expired).status_code == 200
    assert _wallet() == (12550, 12550, ["topup"])
    with session_scope() as db:  # a top-up is never an order or a checkout of the shop
        assert db.execute(select(func.count()).select_from(Order)).scalar_one() == 0
        assert db.execute(select(func.count()).select_from(CheckoutSession)).scalar_one() == 0
        entry = db.execute(select(ResellerLedgerEntry)).scalars().one()
        assert entry.idempotency_key == f"topup:{sid}" and "Stripe" in entry.reason
    # and the page shows the balance, the ledger row and the notice after the return
    back = await root_state(ResellerState, PATH, cookie=reseller, query={"topup": "paid"})
    back.load_reseller()
    assert "125.50" in back.balance and [r["kind"] for r in back.ledger_rows] == ["topup"]
    assert back.topup_notice.startswith("Thank you")


async def test_unpaid_or_out_of_order_events_credit_nothing_until_paid(stripe_shop, reseller, root_state):
    sandbox = stripe_shop.sandbox
    _state, sid = await _start(root_state, reseller, "40")
    unpaid = {
        "id": "evt_unpaid_first",
        "type": "checkout.session.completed",
        "data": {"object": copy.deepcopy(sandbox.sessions[sid]["session"])},
    }
    assert unpaid["data"]["object"]["payment_status"] == "unpaid"  # a delayed payment method
    with TestClient(build_api()) as client:
        # a completed-but-unpaid session (the bank transfer is still on its way): nothing yet
        assert stripe_shop.post(client, unpaid).status_code == 200
        assert _wallet() == (0, 0, [])
        httpx.post(f"{sandbox.base_url}/pay/{sid}/pay", follow_redirects=False)
        (completed,) = stripe_shop.events("checkout.session.completed")
        succeeded = copy.deepcopy(completed)
        succeeded["id"], succeeded["type"] = "evt_async_first", "checkout.session.async_payment_succeeded"
        # the later event type arrives first, then the earlier one: one credit
        assert stripe_shop.post(client, succeeded).json()["status"] == "processed"
        assert stripe_shop.post(client, completed).json()["status"] == "processed"
        # a forged body (wrong signature) is refused and changes nothing
        forged = copy.deepcopy(completed)
        forged["id"] = "evt_forged"
        forged["data"]["object"]["id"] = "cs_test_forged"
        assert stripe_shop.post(client, forged, secret="whsec_wrong").status_code == 400
    assert _wallet() == (4000, 4000, ["topup"])


async def test_amounts_outside_the_limits_are_refused_and_start_nothing(stripe_shop, reseller, root_state, monkeypatch):
    sandbox = stripe_shop.sandbox
    monkeypatch.setenv("SMPLAT_RESELLER_TOPUP_MIN_MINOR", "2000")
    monkeypatch.setenv("SMPLAT_RESELLER_TOPUP_MAX_MINOR", "100000")
    reset_settings_cache()
    for amount, error in [
        ("19.99", "Top up between 20.00 and 1000.00 EUR."),
        ("1000.01", "Top up between 20.00 and 1000.00 EUR."),
        ("ten", "Enter an amount like 50 or 125.50."),
        ("12.345", "Enter an amount like 50 or 125.50."),
        ("", "Enter an amount like 50 or 125.50."),
    ]:
        state, sid = await _start(root_state, reseller, amount)
        assert (sid, state.topup_error) == (None, error), amount
    assert sandbox.sessions == {}
    state, sid = await _start(root_state, reseller, "1000")
    assert sid is not None and state.topup_error == ""
    assert "20.00" in state.topup_hint.replace("\u00a0", " ") and "1,000.00" in state.topup_hint


async def test_a_customer_who_is_not_a_reseller_cannot_top_up(stripe_shop, root_state, session_cookie_for):
    cookie = session_cookie_for(Role.CUSTOMER, "plain@example.test")
    state = await root_state(ResellerState, PATH, cookie=cookie)
    state.load_reseller()
    assert state.is_reseller is False
    state.start_topup({"topup_amount": "50"})
    assert state.topup_error == "Your account is not a reseller account."
    assert stripe_shop.sandbox.sessions == {}
