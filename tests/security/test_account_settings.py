"""Account → Settings through its real handlers: the name, and an email change that needs the
current password, goes to the NEW address as a one-time link, changes nothing until the link is
opened, then tells the old address. Refused attempts store nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from smplat.db import session_scope
from smplat.models.accounts import AttemptKind, AuthToken, LoginAttempt, TokenPurpose, User
from smplat.services import accounts
from smplat.ui.pages.account.settings import SettingsState
from smplat.ui.pages.storefront.confirm_email import ConfirmEmailState
from tests.security.helpers import PASSWORD, THROTTLED, configure, count, make_user, session_cookie, tab

pytestmark = pytest.mark.integration

OLD = "owner@example.com"
NEW = "owner.new@example.com"


@pytest.fixture
def mail(monkeypatch) -> dict[str, list[tuple]]:
    """What the account-settings service handed to the mail adapter (SMTP is the outside world)."""
    sent: dict[str, list[tuple]] = {"links": [], "notices": []}
    monkeypatch.setattr("smplat.services.email.send_email_change_link", lambda *a, **_: sent["links"].append(a))
    monkeypatch.setattr("smplat.services.email.send_email_changed_notice", lambda *a, **_: sent["notices"].append(a))
    return sent


async def settings_for(cookie: str) -> SettingsState:
    state = await tab(cookie, path="/account/settings", ip="198.51.100.20").get_state(SettingsState)
    assert state.load_settings() is None and state.loaded is True
    return state


def email_of(user_id: int) -> str:
    with session_scope() as db:
        return db.get(User, user_id).email


def email_change_links() -> int:
    return count(AuthToken, AuthToken.purpose == TokenPurpose.EMAIL_CHANGE.value)


async def test_the_name_is_changed_and_shown(db_url):
    user_id = make_user(OLD)
    state = await settings_for(session_cookie(user_id))

    state.save_name({"full_name": "  Ada   Lovelace ", "id": "x"})

    assert (state.name_notice, state.full_name, state.user_name) == (
        "Your name is saved.",
        "Ada Lovelace",
        "Ada Lovelace",
    )
    with session_scope() as db:
        assert db.get(User, user_id).full_name == "Ada Lovelace"

    # a name too long is refused and the saved one stays
    state.save_name({"full_name": "x" * 201})
    assert state.name_error == "Use at most 200 characters for your name."
    with session_scope() as db:
        assert db.get(User, user_id).full_name == "Ada Lovelace"


async def test_an_email_change_happens_only_when_the_link_to_the_new_address_is_opened(db_url, mail):
    # given a signed-in customer
    user_id = make_user(OLD)
    cookie = session_cookie(user_id)
    state = await settings_for(cookie)

    # when they ask to use a new address
    state.request_email_change({"new_email": NEW.upper(), "email_password": PASSWORD})

    # then one link went to the NEW address, and the account still signs in with the old one
    assert [(to, current) for to, current, _url, _ttl in mail["links"]] == [(NEW, OLD)]
    assert state.pending_email == NEW and state.email == OLD and email_of(user_id) == OLD
    assert state.email_notice.startswith(f"We sent a link to {NEW}.")
    url = mail["links"][0][2]
    assert url.startswith("http") and "/confirm-email?token=" in url

    # when the link is opened (in any browser, signed out) and confirmed
    page = await tab(None, path="/confirm-email", query={"token": url.split("token=")[1]}).get_state(ConfirmEmailState)
    page.open_confirm()
    assert email_of(user_id) == OLD  # opening the page changes nothing
    page.confirm()

    # then the account uses the new address, the old one was told, and the session is still valid
    assert page.confirmed_email == NEW and page.confirm_error == ""
    assert email_of(user_id) == NEW
    assert mail["notices"] == [(OLD, NEW)]
    with session_scope() as db:
        assert accounts.resolve_session(db, cookie).id == user_id
        assert accounts.authenticate(db, email=NEW, password=PASSWORD).id == user_id

    # and the link works once
    again = await tab(None, path="/confirm-email", query={"token": url.split("token=")[1]}).get_state(ConfirmEmailState)
    again.confirm()
    assert again.confirm_error == "This link has expired or was already used. Ask for a new one."
    assert mail["notices"] == [(OLD, NEW)]


async def test_a_newer_request_spends_the_older_link(db_url, mail):
    user_id = make_user(OLD)
    state = await settings_for(session_cookie(user_id))
    state.request_email_change({"new_email": "first@example.com", "email_password": PASSWORD})
    state.request_email_change({"new_email": NEW, "email_password": PASSWORD})
    older = mail["links"][0][2].split("token=")[1]

    page = await tab(None, path="/confirm-email", query={"token": older}).get_state(ConfirmEmailState)
    page.confirm()

    assert page.confirm_error == "This link has expired or was already used. Ask for a new one."
    assert email_of(user_id) == OLD and state.pending_email == NEW


REFUSED_CHANGES = [
    (
        "wrong password",
        {"new_email": NEW, "email_password": "not-the-password-1"},
        "email_password_error",
        "Your current password is not right.",
    ),
    ("no password", {"new_email": NEW}, "email_password_error", "Your current password is not right."),
    (
        "not an address",
        {"new_email": "nope", "email_password": PASSWORD},
        "new_email_error",
        "Enter a valid email address, like name@example.com.",
    ),
    (
        "the same address",
        {"new_email": OLD, "email_password": PASSWORD},
        "new_email_error",
        "That is already your email address.",
    ),
    (
        "another account's",
        {"new_email": "taken@example.com", "email_password": PASSWORD},
        "new_email_error",
        "Another account uses that email address.",
    ),
]


@pytest.mark.parametrize(("label", "form", "where", "message"), REFUSED_CHANGES, ids=[c[0] for c in REFUSED_CHANGES])
async def test_a_refused_email_change_sends_and_stores_nothing(db_url, mail, label, form, where, message):
    user_id = make_user(OLD)
    make_user("taken@example.com")
    state = await settings_for(session_cookie(user_id))

    state.request_email_change(form)

    assert getattr(state, where) == message
    assert mail["links"] == [] and email_change_links() == 0 and email_of(user_id) == OLD
    wrong_password = label in ("wrong password", "no password")
    assert count(LoginAttempt, LoginAttempt.kind == AttemptKind.PASSWORD.value) == (1 if wrong_password else 0)


async def test_email_change_links_are_rate_limited_per_account(db_url, mail, monkeypatch):
    configure(monkeypatch, rate_limit_email_change_user="2/hour")
    user_id = make_user(OLD)
    state = await settings_for(session_cookie(user_id))

    for i in range(4):
        state.request_email_change({"new_email": f"n{i}@example.com", "email_password": PASSWORD})

    assert [to for to, *_ in mail["links"]] == ["n0@example.com", "n1@example.com"]
    assert THROTTLED.match(state.email_form_error)
    assert email_change_links() == 2


async def test_the_confirmation_refuses_an_address_another_account_took_meanwhile(db_url, mail):
    user_id = make_user(OLD)
    state = await settings_for(session_cookie(user_id))
    state.request_email_change({"new_email": NEW, "email_password": PASSWORD})
    make_user(NEW)  # someone signed up with it before the link was opened

    page = await tab(None, path="/confirm-email", query={"token": mail["links"][0][2].split("token=")[1]}).get_state(
        ConfirmEmailState
    )
    page.confirm()

    assert page.confirm_error == "Another account took that email address meanwhile."
    assert email_of(user_id) == OLD and mail["notices"] == []
    with session_scope() as db:
        assert db.execute(select(User.id).where(User.email == NEW)).scalar_one() != user_id
