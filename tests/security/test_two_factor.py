"""Two-factor sign-in, through the paths an attacker uses: the sign-in page's handlers (as
the websocket runs them, one root state per tab), the cookie route and an API route over
the ASGI app, the admin's handlers. Every refusal asserts that nothing was created: no
ticket, no session, no claimed code. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from smplat.api.app import build_api
from smplat.db import session_scope
from smplat.models.accounts import (
    AttemptKind,
    AuthToken,
    BackupCode,
    LoginAttempt,
    Role,
    TokenPurpose,
    User,
    UserSession,
)
from smplat.models.base import utcnow
from smplat.services import two_factor
from smplat.settings import get_settings
from smplat.ui import routes
from smplat.ui.pages.account.security import TwoFactorState
from smplat.ui.pages.admin._state import AdminState
from smplat.ui.pages.storefront._auth_form import AuthFormState
from smplat.ui.state.auth import AuthState
from tests.security.helpers import PASSWORD, THROTTLED, configure, count, make_user, session_cookie, tab

pytestmark = pytest.mark.integration

EMAIL = "ada@example.com"
WRONG_CODE = "That code is not right (or was already used). Check your app and try again."


def tickets() -> int:
    return count(AuthToken, AuthToken.purpose == TokenPurpose.SIGNIN_TICKET.value)


def ticket_of(result) -> str | None:
    found = re.search(r"ticket=([A-Za-z0-9_\-]+)", str(result))
    return found.group(1) if found else None


def user_row(email: str) -> User:
    with session_scope() as db:
        user = db.execute(select(User).where(User.email == email)).scalars().one()
        db.expunge(user)
        return user


def now_code(secret: str) -> str:
    return pyotp.TOTP(secret).now()


async def password_step(email: str = EMAIL, ip: str = "203.0.113.7"):
    """A fresh tab submits the right password; returns (the tab's form state, handler result)."""
    form = await tab(ip=ip).get_state(AuthFormState)
    result = await form.sign_in({"email": email, "password": PASSWORD})
    return form, result


async def test_a_password_alone_gets_no_session_and_the_code_completes_the_sign_in(db_url):
    # given a customer with two-factor on
    secret = pyotp.random_base32()
    make_user(EMAIL, two_factor_secret=secret)

    # when the right password is submitted
    form, result = await password_step()

    # then the form asks for the code, and no ticket or session exists yet
    assert result is None and form.second_step is True and form.form_error == ""
    assert tickets() == 0 and count(UserSession) == 0

    # when a wrong code is submitted, the code is refused and still nothing exists
    assert await form.verify_code({"code": "000000"}) is None
    assert form.code_error == WRONG_CODE and form.second_step is True
    assert tickets() == 0 and count(UserSession) == 0
    assert count(LoginAttempt, LoginAttempt.kind == AttemptKind.TOTP.value, LoginAttempt.succeeded.is_(False)) == 1

    # when the current code is submitted
    ticket = ticket_of(await form.verify_code({"code": now_code(secret)}))

    # then the tab gets a one-time ticket, and the cookie route turns it into a session
    assert ticket is not None and tickets() == 1
    answer = TestClient(build_api()).get(f"{routes.API_SESSION}?ticket={ticket}", follow_redirects=False)
    assert answer.status_code == 303 and get_settings().session_cookie_name in answer.cookies
    assert count(UserSession) == 1


async def test_the_pending_step_belongs_to_its_tab_and_expires(db_url, monkeypatch):
    secret = pyotp.random_base32()
    make_user(EMAIL, two_factor_secret=secret)
    await password_step()

    # when another tab (the attacker's) sends a valid code without the password step
    other = await tab(ip="198.51.100.99").get_state(AuthFormState)
    result = await other.verify_code({"code": now_code(secret)})

    # then it is refused, and the code was not even checked (its step is not spent)
    assert result is None and other.form_error == "That sign-in took too long. Enter your password again."
    assert tickets() == 0 and user_row(EMAIL).two_factor_last_step is None

    # when the tab that passed the password answers after the pending minutes are over
    form, _ = await password_step()
    later = utcnow() + timedelta(minutes=get_settings().two_factor_pending_minutes, seconds=1)
    monkeypatch.setattr(two_factor, "utcnow", lambda: later)
    result = await form.verify_code({"code": now_code(secret)})

    # then it starts over at the password, with nothing created
    assert result is None and form.second_step is False
    assert form.form_error == "That sign-in took too long. Enter your password again."
    assert tickets() == 0 and count(UserSession) == 0 and user_row(EMAIL).two_factor_last_step is None


async def test_wrong_codes_are_throttled_per_account_then_even_the_right_code_is_refused(db_url, monkeypatch):
    # given at most 3 wrong codes per account per window
    configure(monkeypatch, totp_max_failures=3)
    secret = pyotp.random_base32()
    make_user(EMAIL, two_factor_secret=secret)
    form, _ = await password_step()

    # when an attacker who has the password guesses codes
    shown = []
    for guess in ("111111", "222222", "333333", now_code(secret)):
        result = await form.verify_code({"code": guess})
        shown.append((form.code_error, result))

    # then three are wrong, and the fourth (the right one) is refused with the wait
    assert [message for message, _ in shown[:3]] == [WRONG_CODE] * 3
    assert shown[3] == ("Too many attempts. Try again in 15 minutes.", None)
    assert tickets() == 0 and user_row(EMAIL).two_factor_last_step is None
    # only the wrong codes were counted (their rows survived the rollback of their requests)
    assert count(LoginAttempt, LoginAttempt.kind == AttemptKind.TOTP.value) == 3

    # and a new tab's password step does not reset the count
    form, _ = await password_step()
    await form.verify_code({"code": now_code(secret)})
    assert THROTTLED.match(form.code_error) and tickets() == 0


async def test_one_ip_guessing_codes_for_many_accounts_is_throttled(db_url, monkeypatch):
    # given at most 1 wrong code per account, so 4 per IP
    configure(monkeypatch, totp_max_failures=1)
    secrets = {f"user{i}@example.com": pyotp.random_base32() for i in range(5)}
    for email, secret in secrets.items():
        make_user(email, two_factor_secret=secret)

    # when one IP sends one wrong code for each of four accounts
    for email in list(secrets)[:4]:
        form, _ = await password_step(email, ip="198.51.100.66")
        await form.verify_code({"code": "999999"})
        assert form.code_error == WRONG_CODE

    # then the fifth account's right code is refused from that IP
    form, _ = await password_step("user4@example.com", ip="198.51.100.66")
    assert await form.verify_code({"code": now_code(secrets["user4@example.com"])}) is None
    assert THROTTLED.match(form.code_error) and tickets() == 0

    # and works from another IP
    form, _ = await password_step("user4@example.com", ip="192.0.2.10")
    assert ticket_of(await form.verify_code({"code": now_code(secrets["user4@example.com"])})) is not None


async def test_a_backup_code_signs_in_once(db_url):
    user_id = make_user(EMAIL, two_factor_secret=pyotp.random_base32())
    with session_scope() as db:  # fresh codes the test knows (the secret's own were not kept)
        secret = pyotp.random_base32()
        codes = two_factor.enable_with_secret(db, user_id, secret)

    # when a lost-phone user signs in with a backup code
    form, _ = await password_step()
    assert ticket_of(await form.verify_code({"code": codes[0]})) is not None

    # then the same code from another tab (or an attacker who saw it) is refused
    form, _ = await password_step(ip="198.51.100.5")
    assert await form.verify_code({"code": codes[0]}) is None
    assert form.code_error == WRONG_CODE and tickets() == 1
    assert count(BackupCode, BackupCode.used_at.is_not(None)) == 1


async def test_an_admin_without_two_factor_reaches_only_the_enrolment_until_enrolled(db_url):
    # given an admin who never set up two-factor, and a customer to list
    make_user("root@example.com", Role.ADMIN, two_factor_secret="none")
    make_user("shopper@example.com")

    # when the admin signs in with the password
    _, result = await password_step("root@example.com")
    ticket = ticket_of(result)
    client = TestClient(build_api())
    answer = client.get(f"{routes.API_SESSION}?ticket={ticket}", follow_redirects=False)

    # then the session lands on the enrolment page
    assert answer.status_code == 303 and answer.headers["location"] == routes.ACCOUNT_SECURITY
    cookie = answer.cookies[get_settings().session_cookie_name]

    # and every admin page guard sends the admin there
    guard_state = await tab(cookie, path=routes.ADMIN_CUSTOMERS).get_state(AuthState)
    assert routes.ACCOUNT_SECURITY in str(guard_state.require_staff())
    assert routes.ACCOUNT_SECURITY in str(guard_state.require_admin())

    # and an admin handler, sent directly, refuses and loads nothing
    admin = await tab(cookie, path=routes.ADMIN_CUSTOMERS).get_state(AdminState)
    assert routes.ACCOUNT_SECURITY in str(admin.load_customers())
    assert admin.users == [] and admin.loaded is False

    # and a protected API route answers 403 without touching anything
    client.cookies.set(get_settings().session_cookie_name, cookie)
    refused = client.post("/api/order-items/1/refill", json={"reason": "x"})
    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")

    # when the admin enrols on the security page
    security = await tab(cookie, path=routes.ACCOUNT_SECURITY).get_state(TwoFactorState)
    security.load_security()
    assert security.required is True and security.enabled is False
    security.start_setup()
    assert security.setup_qr.startswith("data:image/svg+xml") and len(security.setup_secret) == 32
    security.confirm_setup({"code": now_code(security.setup_secret)})

    # then two-factor is on, ten backup codes are shown once, and the admin answers
    assert security.enabled is True and len(security.new_codes) == 10
    assert security.form_error == "" and security.code_error == ""
    admin = await tab(cookie, path=routes.ADMIN_CUSTOMERS).get_state(AdminState)
    assert admin.load_customers() is None and admin.loaded is True
    assert {u["email"] for u in admin.users} == {"root@example.com", "shopper@example.com"}
    # and the page shows the codes only once: a reload forgets them
    security.load_security()
    assert security.new_codes == [] and security.backup_codes_left == 10


@pytest.mark.parametrize(
    "setting, redirected", [pytest.param("true", True, id="required"), pytest.param("false", False, id="optional")]
)
async def test_operators_must_enrol_only_when_the_setting_says_so(db_url, monkeypatch, setting, redirected):
    configure(monkeypatch, require_two_factor_for_operators=setting)
    operator_id = make_user("otto@example.com", Role.OPERATOR, two_factor_secret="none")
    cookie = session_cookie(operator_id)
    state = await tab(cookie, path=routes.ADMIN).get_state(AuthState)
    assert (routes.ACCOUNT_SECURITY in str(state.require_staff())) is redirected


async def test_turning_two_factor_off_needs_proof_and_is_refused_for_admins(db_url):
    # given a customer and an admin with two-factor on
    secret = pyotp.random_base32()
    customer = session_cookie(make_user(EMAIL, two_factor_secret=secret))
    admin_secret = pyotp.random_base32()
    admin = session_cookie(make_user("root@example.com", Role.ADMIN, two_factor_secret=admin_secret))

    # when the customer's session (stolen, say) tries without the password or a code
    page = await tab(customer, path=routes.ACCOUNT_SECURITY).get_state(TwoFactorState)
    page.turn_off({"proof": "guess-the-password"})

    # then it stays on, with every backup code
    assert page.form_error == WRONG_CODE
    assert user_row(EMAIL).two_factor_enabled_at is not None
    assert count(BackupCode, BackupCode.used_at.is_(None)) == 20

    # when the admin tries with a valid code
    page = await tab(admin, path=routes.ACCOUNT_SECURITY).get_state(TwoFactorState)
    page.turn_off({"proof": now_code(admin_secret)})

    # then it is refused: the role requires it
    assert page.form_error == "Two-factor sign-in is required for your role; it cannot be turned off."
    assert user_row("root@example.com").two_factor_enabled_at is not None

    # and the customer with the password can
    page = await tab(customer, path=routes.ACCOUNT_SECURITY).get_state(TwoFactorState)
    page.turn_off({"proof": PASSWORD})
    assert page.enabled is False and user_row(EMAIL).two_factor_enabled_at is None
