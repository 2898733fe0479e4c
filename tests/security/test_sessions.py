"""Findings: the previous user's page states reached the next user of the same tab; older
reset links stayed valid after a newer one was used; a password change or reset left the
other sessions alive. Replayed through the page handlers with a tab's root state (as the
websocket runs them), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from smplat.db import session_scope
from smplat.models.accounts import AuthToken, Role, TokenPurpose, User, UserSession
from smplat.models.base import utcnow
from smplat.services import accounts
from smplat.services.accounts import AccountError
from smplat.ui.pages.account._state import AccountState
from smplat.ui.pages.admin._state import AdminState
from smplat.ui.pages.storefront._auth_form import AuthFormState
from smplat.ui.state.auth import AuthState
from tests.security.helpers import PASSWORD, count, make_user, session_cookie, set_request, tab

pytestmark = pytest.mark.integration

ADMIN = "boss@example.com"
CUSTOMER = "shopper@example.com"


def visible(root) -> str:
    """Everything the tab's state tree would send to the browser on its next full sync."""
    return json.dumps(root.dict(), default=str)


async def admin_tab_with_loaded_pages():
    """An admin's tab that opened the customers list (every user's email and role)."""
    admin_id = make_user(ADMIN, Role.ADMIN)
    make_user(CUSTOMER)
    cookie = session_cookie(admin_id)
    root = tab(cookie, path="/admin/customers")
    admin = await root.get_state(AdminState)
    assert admin.load_customers() is None
    assert sorted(u["email"] for u in admin.users) == [ADMIN, CUSTOMER] and admin.loaded is True
    assert ADMIN in visible(root)
    return root, admin, cookie


async def test_sign_out_resets_every_state_of_the_tab(db_url):
    # given an admin's tab holding the customers list
    root, admin, cookie = await admin_tab_with_loaded_pages()

    # when the admin signs out in that tab
    auth = await root.get_state(AuthState)
    await auth.sign_out()

    # then the admin page's vars are back to their defaults, and no state holds the admin's data
    assert admin.users == [] and admin.loaded is False and admin.kpis == {} and admin.orders == []
    assert auth.user_id == 0 and auth.user_email == "" and auth.signed_in is False
    assert ADMIN not in visible(root) and CUSTOMER not in visible(root)
    # the session is ended by the server itself (not only by the script's request)
    with session_scope() as db:
        assert accounts.resolve_session(db, cookie) is None

    # when a customer then signs in in the same tab
    set_request(root, None, path="/signin", ip="192.0.2.5")
    form = await root.get_state(AuthFormState)
    result = await form.sign_in({"email": CUSTOMER, "password": PASSWORD})

    # then the customer's tab holds nothing of the admin
    assert "/api/auth/session?ticket=" in str(result)
    assert ADMIN not in visible(root) and admin.users == []


async def test_signing_in_as_someone_else_resets_the_tab(db_url):
    # given an admin's tab holding the customers list (the admin never signed out)
    root, admin, _cookie = await admin_tab_with_loaded_pages()

    # when a customer signs in through the sign-in form of that tab
    set_request(root, None, path="/signin", ip="192.0.2.5")
    form = await root.get_state(AuthFormState)
    result = await form.sign_in({"email": CUSTOMER, "password": PASSWORD})

    # then every state of the tab is back to its defaults before the customer's session starts
    assert "/api/auth/session?ticket=" in str(result)
    assert admin.users == [] and admin.loaded is False
    assert ADMIN not in visible(root)


async def test_signing_in_keeps_the_browsers_guest_cart_and_consent_but_signing_out_drops_them(db_url):
    from smplat.ui.components.consent import ConsentState
    from smplat.ui.state.cart import ShopperState

    # given a guest's tab with a cart cookie and a cookie-banner choice, and an admin page loaded
    root, admin, _cookie = await admin_tab_with_loaded_pages()
    shopper, consent = await root.get_state(ShopperState), await root.get_state(ConsentState)
    shopper.cart_token, shopper.consent_choice, consent.choice = "guest-cart-1", "all", "all"

    # when a customer signs in in that tab
    set_request(root, None, path="/signin", ip="192.0.2.6")
    form = await root.get_state(AuthFormState)
    await form.sign_in({"email": CUSTOMER, "password": PASSWORD})

    # then the previous pages are gone, but the cart the sign-in route merges and the choice stay
    assert admin.users == [] and admin.loaded is False
    assert (shopper.cart_token, shopper.consent_choice, consent.choice) == ("guest-cart-1", "all", "all")

    # and when they sign out, the next person at this browser starts with a new cart
    set_request(root, session_cookie(make_user("after@example.com")), path="/")
    await (await root.get_state(AuthState)).sign_out()
    assert (shopper.cart_token, shopper.consent_choice, consent.choice) == ("", "", "")


async def test_a_wrong_password_in_the_admins_tab_resets_nothing(db_url):
    # given an admin's tab holding the customers list
    root, admin, _cookie = await admin_tab_with_loaded_pages()

    # when someone fails to sign in as the customer in it
    form = await root.get_state(AuthFormState)
    assert await form.sign_in({"email": CUSTOMER, "password": "not-the-password-1"}) is None

    # then nothing changed for the admin's tab (only the failed attempt is shown)
    assert form.password_error == "That email and password don't match an account."
    assert len(admin.users) == 2 and admin.loaded is True


@pytest.mark.parametrize("opened", ["home page (load_user)", "account page (require_signed_in, load_orders)"])
async def test_a_different_user_in_the_cookie_resets_the_tab_on_the_next_page(db_url, opened):
    # given an admin's tab; the browser's cookie now belongs to a customer (signed in in another tab)
    root, admin, _cookie = await admin_tab_with_loaded_pages()
    with session_scope() as db:
        customer_id = db.execute(select(User.id).where(User.email == CUSTOMER)).scalar_one()
    set_request(root, session_cookie(customer_id), path="/account")

    # when the tab opens its next page
    if opened.startswith("home"):
        (await root.get_state(AuthState)).load_user()
    else:  # the account page's on_load: the guard, then the loader
        assert (await root.get_state(AuthState)).require_signed_in() is None
        account = await root.get_state(AccountState)
        assert account.load_orders() is None and account.loaded is True

    # then the admin's data is gone and the customer is the one signed in
    auth = await root.get_state(AuthState)
    assert admin.users == [] and admin.loaded is False
    assert auth.user_email == CUSTOMER and ADMIN not in visible(root)


async def test_an_expired_session_resets_the_tab_on_the_next_page(db_url):
    # given an admin's tab whose session was revoked (signed out elsewhere, or went idle)
    root, admin, cookie = await admin_tab_with_loaded_pages()
    with session_scope() as db:
        accounts.revoke_session(db, cookie)

    # when the tab opens its next page / then it is signed out and holds nothing of the admin
    auth = await root.get_state(AuthState)
    auth.load_user()
    assert auth.signed_in is False and admin.users == [] and ADMIN not in visible(root)


async def test_an_older_reset_link_is_refused_once_a_newer_one_was_used(db_url, monkeypatch):
    # given a customer who asked for two reset links
    sent: list[tuple] = []
    monkeypatch.setattr("smplat.services.email.send_password_reset", lambda *args, **_: sent.append(args))
    make_user(CUSTOMER)
    for _ in range(2):
        form = await tab(path="/forgot-password").get_state(AuthFormState)
        form.request_reset({"email": CUSTOMER})
    older, newer = (args[1].split("token=")[1] for args in sent)

    # when the newer link sets a new password on the reset page
    form = await tab(path="/reset-password", query={"token": newer}).get_state(AuthFormState)
    form.reset_password({"password": "fresh-harbour-77", "password_confirm": "fresh-harbour-77"})
    assert form.form_notice.startswith("Your password is changed")
    with session_scope() as db:
        hash_after_reset = db.execute(select(User.password_hash).where(User.email == CUSTOMER)).scalar_one()

    # then the older link is refused and changes nothing
    form = await tab(path="/reset-password", query={"token": older}).get_state(AuthFormState)
    form.reset_password({"password": "attacker-harbour-1", "password_confirm": "attacker-harbour-1"})
    assert form.password_error == "This reset link has expired or was already used. Request a new one."
    with session_scope() as db:
        assert accounts.reset_password_token_is_valid(db, older) is False
        assert db.execute(select(User.password_hash).where(User.email == CUSTOMER)).scalar_one() == hash_after_reset
        assert accounts.authenticate(db, email=CUSTOMER, password="fresh-harbour-77").email == CUSTOMER


async def test_a_reset_ends_every_session(db_url, monkeypatch):
    # given a customer signed in on two devices, and a reset link
    monkeypatch.setattr("smplat.services.email.send_password_reset", lambda *args, **_: None)
    user_id = make_user(CUSTOMER)
    phone, laptop = session_cookie(user_id), session_cookie(user_id)
    with session_scope() as db:
        link = accounts.request_password_reset(db, CUSTOMER)

    # when the link sets a new password on the reset page
    form = await tab(path="/reset-password", query={"token": link}).get_state(AuthFormState)
    form.reset_password({"password": "fresh-harbour-77", "password_confirm": "fresh-harbour-77"})

    # then neither device is signed in any more
    with session_scope() as db:
        assert accounts.resolve_session(db, phone) is None and accounts.resolve_session(db, laptop) is None
    assert count(UserSession, UserSession.revoked_at.is_(None)) == 0


def test_a_password_change_ends_the_other_sessions_and_every_reset_link(db_url, monkeypatch):
    # given a customer signed in on two devices, with an unused reset link in their mailbox
    monkeypatch.setattr("smplat.services.email.send_password_reset", lambda *args, **_: None)
    user_id = make_user(CUSTOMER)
    here, stolen = session_cookie(user_id), session_cookie(user_id)
    with session_scope() as db:
        link = accounts.request_password_reset(db, CUSTOMER)

    # when they change their password on this device
    with session_scope() as db:
        accounts.change_password(
            db, user_id=user_id, current_password=PASSWORD, new_password="fresh-harbour-77", keep_session_token=here
        )

    # then this device stays signed in, the other is signed out, and the link no longer works
    with session_scope() as db:
        assert accounts.resolve_session(db, here).id == user_id
        assert accounts.resolve_session(db, stolen) is None
        assert accounts.reset_password_token_is_valid(db, link) is False
    assert count(AuthToken, AuthToken.purpose == TokenPurpose.PASSWORD_RESET.value, AuthToken.used_at.is_(None)) == 0


def test_a_wrong_current_password_changes_nothing(db_url):
    user_id = make_user(CUSTOMER)
    here, other = session_cookie(user_id), session_cookie(user_id)
    with pytest.raises(AccountError) as err, session_scope() as db:
        accounts.change_password(
            db,
            user_id=user_id,
            current_password="not-the-password-1",
            new_password="fresh-harbour-77",
            keep_session_token=here,
        )
    assert err.value.field == "current_password"
    with session_scope() as db:
        assert accounts.resolve_session(db, other).id == user_id
        assert accounts.authenticate(db, email=CUSTOMER, password=PASSWORD).id == user_id
    assert count(UserSession, UserSession.revoked_at.is_(None)) == 2


async def test_an_idle_session_is_refused_by_every_guarded_handler(db_url, monkeypatch):
    # given a customer session last used 13 hours ago (idle timeout 12 hours), and a fresh one
    user_id = make_user(CUSTOMER)
    idle, fresh = session_cookie(user_id), session_cookie(user_id)
    long_ago = utcnow() - timedelta(hours=13)
    with session_scope() as db:
        db.execute(
            update(UserSession)
            .where(UserSession.token_hash == accounts.hash_token(idle))
            .values(last_seen_at=long_ago, created_at=long_ago)
        )

    # when each opens the orders page / then the idle one is sent to sign in, the fresh one is served
    state = await tab(idle, path="/account").get_state(AccountState)
    assert "/signin?next=/account" in str(state.load_orders()) and state.loaded is False
    state = await tab(fresh, path="/account").get_state(AccountState)
    assert state.load_orders() is None and state.loaded is True


# --- Account → Settings: the signed-in devices ------------------------------------------------

PHONE_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 Version/17.1 Safari/604.1"
LAPTOP_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0"


def device_session(user_id: int, user_agent: str, ip: str) -> str:
    """A session as the cookie route creates it for a browser with this user agent and IP."""
    with session_scope() as db:
        user = db.get(User, user_id)
        ticket = accounts.issue_signin_ticket(db, user)
        return accounts.redeem_signin_ticket(db, ticket, ip_address=ip, user_agent=user_agent).token


def live_sessions(user_id: int) -> int:
    return count(UserSession, UserSession.user_id == user_id, UserSession.revoked_at.is_(None))


async def settings_tab(cookie: str):
    from smplat.ui.pages.account.settings import SettingsState

    state = await tab(cookie, path="/account/settings").get_state(SettingsState)
    assert state.load_settings() is None
    return state


async def test_the_settings_page_lists_only_the_users_live_sessions_this_device_first(db_url):
    # given a customer on a laptop and a phone, one ended session, and another customer's session
    user_id = make_user(CUSTOMER)
    laptop = device_session(user_id, LAPTOP_UA, "198.51.100.4")
    device_session(user_id, PHONE_UA, "203.0.113.9")
    with session_scope() as db:
        accounts.revoke_session(db, device_session(user_id, PHONE_UA, "203.0.113.10"))
    device_session(make_user("stranger@example.com"), LAPTOP_UA, "192.0.2.99")

    # when the laptop opens Account → Settings
    state = await settings_tab(laptop)

    # then it lists the laptop (this device) and the phone, nothing ended and nobody else's
    assert [(s["device"], s["ip"], s["current"]) for s in state.sessions] == [
        ("Firefox on Windows", "198.51.100.4", True),
        ("Safari on iPhone", "203.0.113.9", False),
    ]
    assert all(s["signed_in_at"].endswith("UTC") and s["last_seen"].endswith("UTC") for s in state.sessions)
    assert "192.0.2.99" not in visible(state._get_root_state())


async def test_signing_out_one_other_device_ends_that_session_only(db_url):
    # given a customer signed in on a laptop, a phone and a tablet
    user_id = make_user(CUSTOMER)
    laptop = device_session(user_id, LAPTOP_UA, "198.51.100.4")
    phone = device_session(user_id, PHONE_UA, "203.0.113.9")
    tablet = device_session(user_id, "Mozilla/5.0 (iPad; CPU OS 17_1 like Mac OS X) Safari/604.1", "203.0.113.11")
    state = await settings_tab(laptop)
    phone_id = next(s["id"] for s in state.sessions if s["ip"] == "203.0.113.9")

    # when the laptop signs the phone out
    state.sign_out_session(phone_id)

    # then the phone is signed out, the laptop and the tablet are not, and the list says so
    with session_scope() as db:
        assert accounts.resolve_session(db, phone) is None
        assert accounts.resolve_session(db, laptop).id == user_id
        assert accounts.resolve_session(db, tablet).id == user_id
    assert state.sessions_notice == "That device is signed out."
    assert [s["ip"] for s in state.sessions] == ["198.51.100.4", "203.0.113.11"]


@pytest.mark.parametrize("target", ["someone else's session", "this device's own", "a missing id", "a string id"])
async def test_a_session_that_is_not_one_of_the_users_other_devices_cannot_be_ended(db_url, target):
    # given a customer with two devices, and a stranger signed in
    user_id = make_user(CUSTOMER)
    laptop = device_session(user_id, LAPTOP_UA, "198.51.100.4")
    device_session(user_id, PHONE_UA, "203.0.113.9")
    stranger = device_session(make_user("stranger@example.com"), LAPTOP_UA, "192.0.2.99")
    with session_scope() as db:
        ids = {
            "someone else's session": db.execute(
                select(UserSession.id).where(UserSession.token_hash == accounts.hash_token(stranger))
            ).scalar_one(),
            "this device's own": db.execute(
                select(UserSession.id).where(UserSession.token_hash == accounts.hash_token(laptop))
            ).scalar_one(),
            "a missing id": 999_999,
            "a string id": "1 OR 1=1",
        }
    state = await settings_tab(laptop)

    # when a crafted event asks to end it
    state.sign_out_session(ids[target])

    # then it is refused and every session is as it was
    assert state.sessions_error == "That session is not one of your other signed-in devices."
    assert count(UserSession, UserSession.revoked_at.is_not(None)) == 0
    with session_scope() as db:
        assert accounts.resolve_session(db, stranger) is not None


async def test_sign_out_everywhere_else_keeps_only_this_device(db_url):
    # given a customer on three devices and a stranger
    user_id = make_user(CUSTOMER)
    laptop = device_session(user_id, LAPTOP_UA, "198.51.100.4")
    others = [device_session(user_id, PHONE_UA, f"203.0.113.{i}") for i in (1, 2)]
    stranger = device_session(make_user("stranger@example.com"), LAPTOP_UA, "192.0.2.99")
    state = await settings_tab(laptop)

    # when the laptop signs out everywhere else
    state.sign_out_everywhere_else()

    # then only the laptop is signed in (the stranger is untouched)
    assert state.sessions_notice == "Signed out on 2 other devices."
    assert [s["current"] for s in state.sessions] == [True]
    with session_scope() as db:
        assert all(accounts.resolve_session(db, token) is None for token in others)
        assert accounts.resolve_session(db, laptop).id == user_id
        assert accounts.resolve_session(db, stranger) is not None
    assert live_sessions(user_id) == 1


@pytest.mark.parametrize("handler", ["sign_out_everywhere_else", "sign_out_session", "change_password"])
async def test_the_settings_handlers_refuse_a_visitor_without_a_session(db_url, handler):
    from smplat.ui.pages.account.settings import SettingsState

    # given a customer on two devices, and a tab without a session cookie
    user_id = make_user(CUSTOMER)
    device_session(user_id, LAPTOP_UA, "198.51.100.4")
    device_session(user_id, PHONE_UA, "203.0.113.9")
    state = await tab(None, path="/account/settings").get_state(SettingsState)
    args = {
        "sign_out_everywhere_else": (),
        "sign_out_session": (1,),
        "change_password": (
            {
                "current_password": PASSWORD,
                "new_password": "fresh-harbour-77",
                "new_password_confirm": "fresh-harbour-77",
            },
        ),
    }[handler]

    # when a crafted event calls the handler / then it is sent to sign in and nothing changed
    assert "/signin?next=/account/settings" in str(getattr(state, handler)(*args))
    assert live_sessions(user_id) == 2
    with session_scope() as db:
        assert accounts.authenticate(db, email=CUSTOMER, password=PASSWORD).id == user_id


async def test_the_password_form_ends_the_other_sessions_and_every_reset_link(db_url, monkeypatch):
    # given a customer on two devices with an unused reset link
    monkeypatch.setattr("smplat.services.email.send_password_reset", lambda *args, **_: None)
    user_id = make_user(CUSTOMER)
    laptop, phone = device_session(user_id, LAPTOP_UA, "198.51.100.4"), device_session(user_id, PHONE_UA, "203.0.113.9")
    with session_scope() as db:
        link = accounts.request_password_reset(db, CUSTOMER)
    state = await settings_tab(laptop)

    # when the two new passwords differ, then nothing changes
    state.change_password(
        {"current_password": PASSWORD, "new_password": "fresh-harbour-77", "new_password_confirm": "fresh-harbour-78"}
    )
    assert state.new_password_error == "The two new passwords don't match." and live_sessions(user_id) == 2

    # when the laptop changes the password on the settings page
    state.change_password(
        {"current_password": PASSWORD, "new_password": "fresh-harbour-77", "new_password_confirm": "fresh-harbour-77"}
    )

    # then the laptop stays, the phone is out, the reset link is dead and the new password works
    assert state.password_notice == "Your password is changed. Every other device is signed out."
    with session_scope() as db:
        assert accounts.resolve_session(db, laptop).id == user_id and accounts.resolve_session(db, phone) is None
        assert accounts.reset_password_token_is_valid(db, link) is False
        assert accounts.authenticate(db, email=CUSTOMER, password="fresh-harbour-77").id == user_id
    assert [s["current"] for s in state.sessions] == [True]
