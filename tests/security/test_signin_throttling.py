"""Finding: sign-in throttling never triggered. The failed attempt was written in the
transaction the wrong-password error rolled back: 33 wrong passwords, no refusal, no row.

Replayed through the sign-in page's handler (its own `session_scope`, as the websocket
runs it), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from smplat.models.accounts import AttemptKind, AuthToken, LoginAttempt, TokenPurpose, UserSession
from smplat.ui.pages.storefront._auth_form import AuthFormState
from tests.security.helpers import PASSWORD, THROTTLED, configure, count, make_user, tab

pytestmark = pytest.mark.integration

WRONG = "not-the-password-1"
INVALID = "That email and password don't match an account."


async def submit_sign_in(email: str, password: str, ip: str = "203.0.113.7") -> tuple[str, object]:
    """One sign-in form submission from a fresh tab; returns (message shown, handler result)."""
    form = await tab(ip=ip).get_state(AuthFormState)
    result = await form.sign_in({"email": email, "password": password})
    return form.form_error or form.password_error or form.email_error, result


def tickets() -> int:
    return count(AuthToken, AuthToken.purpose == TokenPurpose.SIGNIN_TICKET.value)


async def test_33_wrong_passwords_are_refused_from_the_configured_threshold(db_url, monkeypatch):
    # given a customer, and the threshold set to 7 failures per email
    configure(monkeypatch, login_max_failures=7)
    make_user("victim@example.com")

    # when an attacker submits 33 wrong passwords through the sign-in page
    shown = [(await submit_sign_in("victim@example.com", WRONG))[0] for _ in range(33)]

    # then the first 7 are "wrong password" and every later one is a refusal with the wait
    assert shown[:7] == [INVALID] * 7
    assert all(THROTTLED.match(message) for message in shown[7:]), shown[7:]
    assert shown[7] == "Too many attempts. Try again in 15 minutes."
    # the 7 failures survived the rollback of their requests; refused tries write nothing
    assert count(LoginAttempt) == 7
    assert (
        count(
            LoginAttempt,
            LoginAttempt.succeeded.is_(False),
            LoginAttempt.kind == AttemptKind.PASSWORD.value,
            LoginAttempt.email == "victim@example.com",
            LoginAttempt.ip_address == "203.0.113.7",
        )
        == 7
    )

    # when the right password is tried while throttled
    message, result = await submit_sign_in("victim@example.com", PASSWORD)

    # then it is refused too, and nothing of a sign-in happened: no ticket, no session, no row
    assert THROTTLED.match(message) and result is None
    assert tickets() == 0 and count(UserSession) == 0 and count(LoginAttempt) == 7


async def test_one_ip_trying_many_emails_is_refused_for_every_email(db_url, monkeypatch):
    # given a customer, and at most 6 failures per IP (any emails)
    configure(monkeypatch, login_max_failures_per_ip=6)
    make_user("real@example.com")

    # when one IP tries one wrong password on each of 6 different emails
    shown = [(await submit_sign_in(f"guess{i}@example.com", WRONG, ip="198.51.100.66"))[0] for i in range(6)]

    # then each was a plain miss, and now even the right password of another account is refused from there
    assert shown == [INVALID] * 6
    message, result = await submit_sign_in("real@example.com", PASSWORD, ip="198.51.100.66")
    assert THROTTLED.match(message) and result is None
    assert tickets() == 0
    assert count(LoginAttempt, LoginAttempt.ip_address == "198.51.100.66") == 6

    # while the customer from their own IP signs in (a ticket is issued for the cookie route)
    message, result = await submit_sign_in("real@example.com", PASSWORD, ip="192.0.2.10")
    assert message == "" and "/api/auth/session?ticket=" in str(result)
    assert tickets() == 1


async def test_the_window_passing_lets_the_right_password_in_again(db_url, monkeypatch):
    # given an email throttled by 5 failures that happened 16 minutes ago (window 15)
    from datetime import timedelta

    from smplat.db import session_scope
    from smplat.models.base import utcnow

    make_user("patient@example.com")
    with session_scope() as db:
        for _ in range(5):
            db.add(
                LoginAttempt(
                    email="patient@example.com",
                    ip_address="203.0.113.7",
                    succeeded=False,
                    created_at=utcnow() - timedelta(minutes=16),
                )
            )

    # when the right password is submitted / then it is accepted
    message, result = await submit_sign_in("patient@example.com", PASSWORD)
    assert message == "" and "/api/auth/session?ticket=" in str(result)
    assert count(LoginAttempt, LoginAttempt.succeeded.is_(True)) == 1


async def test_totp_codes_are_throttled_by_the_same_mechanism(db_url, monkeypatch):
    # given the helper a second-factor check will call, with 3 wrong codes allowed
    from smplat.db import session_scope
    from smplat.services import accounts
    from smplat.services.errors import ErrorCode, ServiceError

    configure(monkeypatch, totp_max_failures=3)
    make_user("twofactor@example.com")

    # when 3 wrong codes are recorded (each in its own transaction, the request rolls back)
    for _ in range(3):
        with pytest.raises(RuntimeError), session_scope() as db:
            accounts.ensure_not_throttled(
                db, email="twofactor@example.com", ip_address="203.0.113.7", kind=AttemptKind.TOTP
            )
            accounts.record_attempt(
                db, email="twofactor@example.com", ip_address="203.0.113.7", succeeded=False, kind=AttemptKind.TOTP
            )
            raise RuntimeError("wrong code")

    # then the fourth is refused with THROTTLED, and password sign-in is not affected
    with pytest.raises(ServiceError) as err, session_scope() as db:
        accounts.ensure_not_throttled(
            db, email="twofactor@example.com", ip_address="203.0.113.7", kind=AttemptKind.TOTP
        )
    assert err.value.code == ErrorCode.THROTTLED and THROTTLED.match(err.value.message)
    assert count(LoginAttempt, LoginAttempt.kind == AttemptKind.TOTP.value) == 3
    message, result = await submit_sign_in("twofactor@example.com", PASSWORD)
    assert message == "" and "/api/auth/session?ticket=" in str(result)
