"""Account → Reseller, called the way the websocket calls it: wallet and ledger, keys created
(shown once, stored hashed), limited to IPs and revoked, and the mass order form with good and
bad lines; a customer who is not a reseller gets nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from smplat.db import session_scope
from smplat.models.accounts import Role
from smplat.models.audit import AuditLog
from smplat.models.orders import Order
from smplat.models.resellers import ResellerAccount, ResellerApiKey
from smplat.services import audit, resellers
from smplat.services.seed import seed_demo
from smplat.ui.pages.account.reseller import ResellerState
from smplat.ui.pages.admin.resellers import ResellerAdminState

pytestmark = pytest.mark.integration
PATH = "/account/reseller"
EMAIL = "shopbot@example.com"


def _orders() -> int:
    with session_scope() as db:
        return db.execute(select(func.count()).select_from(Order)).scalar_one()


@pytest.fixture
def reseller_cookie(sqlite_url, session_cookie_for):
    with session_scope() as db:
        seed_demo(db)
    cookie = session_cookie_for(Role.CUSTOMER, EMAIL)
    with session_scope() as db:
        resellers.adjust(db, audit.Actor.cli(), EMAIL, 5_000, "first top-up")
    return cookie


async def test_wallet_keys_and_revocation(reseller_cookie, root_state, handler_events, is_toast_error):
    state = await root_state(ResellerState, PATH, cookie=reseller_cookie)
    handler_events(state.load_reseller())
    assert state.is_reseller and state.balance.replace("\u00a0", " ") in ("€50.00", "50.00 EUR", "EUR 50.00", "€ 50.00")
    assert [r["reason"] for r in state.ledger_rows] == ["first top-up"]
    handler_events(state.create_key({"key_name": "bot", "key_ips": "203.0.113.7, 10.0.0.0/8", "id": "x"}))
    raw = state.new_key
    assert raw.startswith("smr_") and state.key_error == ""
    assert [(k["name"], k["allowed_ips"], k["state"]) for k in state.keys] == [
        ("bot", "203.0.113.7/32, 10.0.0.0/8", "active")
    ]
    with session_scope() as db:
        stored = db.execute(select(ResellerApiKey)).scalars().one()
        assert stored.key_hash == resellers.hash_key(raw) and raw not in str(stored.model_dump())
    handler_events(state.create_key({"key_name": "bad", "key_ips": "not-an-ip"}))
    assert "not an IP" in state.key_error and len(state.keys) == 1
    handler_events(state.revoke_key(state.keys[0]["id"]))
    assert state.keys[0]["state"] == "revoked"
    assert any(is_toast_error(e, "no such key") for e in handler_events(state.revoke_key("999")))


async def test_mass_order_places_good_lines_and_says_why_bad_ones_fail(reseller_cookie, root_state, handler_events):
    state = await root_state(ResellerState, PATH, cookie=reseller_cookie)
    handler_events(state.load_reseller())
    text = "\n".join(
        [
            "1 | https://www.instagram.com/brand/ | 1000",
            "1 | https://www.instagram.com/brand/ | 10",
            "999 | https://www.instagram.com/brand/ | 1000",
            "just some text",
            "",
            "7 | https://www.tiktok.com/@brand/video/1 | 1000",
            "1 | https://www.instagram.com/brand/ | 5000000",
        ]
    )
    handler_events(state.mass_order({"mass_orders": text}))
    results = [(r["line"], r["result"]) for r in state.mass_results]
    assert results[0][0] == "1" and results[0][1].startswith("order ")
    assert results[1] == ("2", "Quantity must be between 500 and 5000")
    assert results[2] == ("3", "Incorrect service ID")
    assert results[3] == ("4", "Write service | link | quantity")
    assert results[4][0] == "6" and results[4][1].startswith("order ")
    assert results[5][0] == "7" and results[5][1].startswith("Quantity must be")
    assert _orders() == 2
    assert len(state.ledger_rows) == 3  # top-up and two orders


async def test_a_customer_who_is_not_a_reseller_gets_nothing(
    sqlite_url, session_cookie_for, root_state, handler_events
):
    with session_scope() as db:
        seed_demo(db)
    state = await root_state(ResellerState, PATH, cookie=session_cookie_for(Role.CUSTOMER, "ada@example.com"))
    handler_events(state.load_reseller())
    assert not state.is_reseller
    handler_events(state.create_key({"key_name": "sneaky"}))
    handler_events(state.mass_order({"mass_orders": "1 | https://www.instagram.com/brand/ | 1000"}))
    assert state.new_key == "" and state.key_error and state.mass_error
    with session_scope() as db:
        assert db.execute(select(func.count()).select_from(ResellerApiKey)).scalar_one() == 0
        assert db.execute(select(func.count()).select_from(ResellerAccount)).scalar_one() == 0
    assert _orders() == 0


async def test_a_visitor_is_sent_to_sign_in(sqlite_url, root_state, handler_events):
    state = await root_state(ResellerState, PATH)
    events = handler_events(state.create_key({"key_name": "x"}))
    assert any("signin" in str(e) for e in events)
    assert state.new_key == ""


async def test_admin_sees_usage_and_adjusts_a_wallet_with_a_reason(
    reseller_cookie, root_state, session_cookie_for, handler_events
):
    admin = session_cookie_for(Role.ADMIN, "boss@example.com")
    state = await root_state(ResellerAdminState, "/admin/resellers", cookie=admin)
    handler_events(state.load_resellers())
    assert [(r["email"], r["orders"], r["keys"]) for r in state.rows] == [(EMAIL, "0", "0")]
    handler_events(state.adjust({"adjust_email": EMAIL, "adjust_amount": "-5.50", "adjust_reason": ""}))
    assert state.adjust_error == "say why the balance changes"
    handler_events(state.adjust({"adjust_email": EMAIL, "adjust_amount": "abc", "adjust_reason": "x"}))
    assert state.adjust_error.startswith("Enter an amount")
    handler_events(state.adjust({"adjust_email": EMAIL, "adjust_amount": "-5.50", "adjust_reason": "chargeback"}))
    assert state.adjust_error == ""
    with session_scope() as db:
        assert db.execute(select(ResellerAccount.balance_minor)).scalar_one() == 5_000 - 550
        logged = db.execute(select(AuditLog).where(AuditLog.action == "reseller.adjust")).scalars().all()
        assert [(row.actor_label, row.data["data"]["reason"]) for row in logged][-1] == (
            "boss@example.com",
            "chargeback",
        )
