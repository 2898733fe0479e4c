"""Account → Reseller, called the way the websocket calls it: wallet and ledger, keys created
(shown once, stored hashed), limited to IPs and revoked, and the mass order form with good and
bad lines; a customer who is not a reseller gets nothing."""

from __future__ import annotations

import csv
import io

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


# --- price list, admin prices, navigation (both databases) ------------------------------------


@pytest.fixture
def reseller_on_both(db_url, session_cookie_for):
    with session_scope() as db:
        seed_demo(db)
    cookie = session_cookie_for(Role.CUSTOMER, EMAIL)
    with session_scope() as db:
        resellers.enable(db, audit.Actor.cli(), EMAIL)
    return cookie


def _api_services() -> list[dict]:
    with session_scope() as db:
        account = db.execute(select(ResellerAccount)).scalars().one()
        caller = resellers.caller_for_user(db, account.user_id)
        return resellers.services(db, caller)


async def test_admin_sets_prices_audited_and_the_reseller_sees_them_as_the_api_answers(
    reseller_on_both, root_state, session_cookie_for, handler_events
):
    admin = session_cookie_for(Role.ADMIN, "boss@example.com")
    page = await root_state(ResellerAdminState, "/admin/resellers", cookie=admin)
    handler_events(page.load_resellers())
    assert page.rows[0]["markup"] == "default (+20 %)" and page.rows[0]["rates"] == "—"
    before = _api_services()
    # bad input is refused with a reason and changes nothing
    for form, error in [
        ({"prices_markup": "lots"}, "Enter the markup as a percentage from 0 to 1000, like 35 or 12.5"),
        ({"prices_markup": "-5"}, "Enter the markup as a percentage from 0 to 1000, like 35 or 12.5"),
        ({"prices_rates": "3 = 43.21\nfour = 1"}, "Line 2: write service id = rate per 1000, like 3 = 43.21"),
        ({"prices_rates": "3 = 0"}, "Line 1: the rate must be above 0 with at most 2 decimals"),
        ({"prices_rates": "3 = 1.234"}, "Line 1: the rate must be above 0 with at most 2 decimals"),
        ({"prices_rates": "999 = 5"}, "There is no service 999"),
    ]:
        handler_events(page.set_prices({"prices_email": EMAIL, **form}))
        assert page.prices_error == error, form
    assert _api_services() == before
    with session_scope() as db:
        assert db.execute(select(AuditLog).where(AuditLog.action == "reseller.prices")).first() is None
    # when the admin sets +35 % over cost and an own rate for comments
    handler_events(page.set_prices({"prices_email": EMAIL, "prices_markup": "35", "prices_rates": "3 = 43.21\n"}))
    assert page.prices_error == ""
    assert (page.rows[0]["markup"], page.rows[0]["rates"].replace("\u00a0", " ")) == ("+35 %", "#3: €43.21")
    with session_scope() as db:
        logged = db.execute(select(AuditLog).where(AuditLog.action == "reseller.prices")).scalars().one()
        assert logged.actor_label == "boss@example.com"
        assert logged.data["after"] == {"markup_bps": 3500, "rates": {"3": 4321}}
    after = {s["service"]: s for s in _api_services()}
    assert after[3]["rate"] == "43.21" and after[1]["rate"] != {s["service"]: s for s in before}[1]["rate"]
    # then the reseller's price list is exactly the API's services answer, and downloads as CSV
    state = await root_state(ResellerState, PATH, cookie=reseller_on_both)
    handler_events(state.load_reseller())
    assert [(p["service"], p["name"], p["rate"], p["min"], p["max"]) for p in state.prices] == [
        (str(s["service"]), s["name"], s["rate"], str(s["min"]), str(s["max"])) for s in after.values()
    ]
    (download,) = handler_events(state.download_prices())
    assert "price-list.csv" in str(download)
    with session_scope() as db:
        text = resellers.price_list_csv(db, resellers.caller_for_user(db, state.user_id))
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert rows == [{k: str(s[k]) for k in ("service", "name", "rate", "min", "max")} for s in after.values()]
    assert {"service": "3", "name": "Instagram Comments", "rate": "43.21", "min": "10", "max": "100"} in rows
    # a plain customer cannot download one
    other = await root_state(ResellerState, PATH, cookie=session_cookie_for(Role.CUSTOMER, "ada@example.com"))
    assert any("not a reseller" in str(e) for e in handler_events(other.download_prices()))


async def test_the_reseller_nav_entry_shows_for_resellers_only(
    reseller_on_both, root_state, session_cookie_for, handler_events
):
    from smplat.ui import registry
    from smplat.ui.state.auth import AuthState

    links = [link for _group, group_links in registry.nav_groups("account") for link in group_links]
    assert [link.label for link in links if link.reseller_only] == ["Reseller"]
    reseller = await root_state(AuthState, PATH, cookie=reseller_on_both)
    assert reseller.require_signed_in() is None and reseller.is_reseller is True
    customer = await root_state(AuthState, "/account", cookie=session_cookie_for(Role.CUSTOMER, "ada@example.com"))
    assert customer.require_signed_in() is None and customer.is_reseller is False
    # a disabled reseller account no longer shows it
    with session_scope() as db:
        account = db.execute(select(ResellerAccount)).scalars().one()
        account.enabled = False
    assert reseller.require_signed_in() is None and reseller.is_reseller is False
    # the page itself still answers a customer, with what reselling offers
    state = await root_state(ResellerState, PATH, cookie=session_cookie_for(Role.CUSTOMER, "ada@example.com"))
    handler_events(state.load_reseller())
    assert state.loaded and not state.is_reseller and state.prices == []
