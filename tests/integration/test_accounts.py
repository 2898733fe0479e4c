"""Accounts against a real database (SQLite and PostgreSQL): sign-up, sign-in throttling,
tickets, sessions, password reset and the purge job's rule."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from smplat.models.accounts import AuthToken, LoginAttempt, Role, User, UserSession
from smplat.models.base import utcnow
from smplat.services import accounts
from smplat.services.accounts import AccountError

pytestmark = pytest.mark.integration
PASSWORD = "violet-harbour-42"


def count(session, model) -> int:
    return session.execute(select(func.count()).select_from(model)).scalar_one()


@pytest.fixture
def user(session) -> User:
    created = accounts.sign_up(session, email="Alex@Example.com", password=PASSWORD, full_name="Alex Example")
    session.commit()
    return created


def test_sign_up_creates_a_customer_with_a_hashed_password(session, user):
    assert user.email == "alex@example.com"
    assert user.role == Role.CUSTOMER.value
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    assert count(session, User) == 1


@pytest.mark.parametrize(
    ("email", "password", "code"),
    [
        ("alex@example.com", PASSWORD, "email_taken"),
        ("ALEX@example.com ", PASSWORD, "email_taken"),
        ("new@example.com", "short", "password_too_short"),
        ("not-an-email", PASSWORD, "email_invalid"),
    ],
    ids=["taken", "taken-other-case", "weak-password", "malformed-email"],
)
def test_bad_sign_up_is_refused_and_creates_nothing(session, user, email, password, code):
    with pytest.raises(AccountError) as err:
        accounts.sign_up(session, email=email, password=password)
    session.rollback()
    assert err.value.code == code
    assert count(session, User) == 1


def test_sign_in_checks_the_password_and_records_attempts(session, user):
    with pytest.raises(AccountError) as err:
        accounts.authenticate(session, email="alex@example.com", password="wrong-password-1", ip_address="10.0.0.1")
    assert err.value.code == "credentials_invalid"
    signed = accounts.authenticate(session, email=" ALEX@example.com", password=PASSWORD, ip_address="10.0.0.1")
    session.commit()
    assert signed.id == user.id and signed.last_login_at is not None
    outcomes = session.execute(select(LoginAttempt.succeeded).order_by(LoginAttempt.id)).scalars().all()
    assert outcomes == [False, True]


def test_unknown_email_gets_the_same_message_as_a_wrong_password(session, user):
    with pytest.raises(AccountError) as err:
        accounts.authenticate(session, email="nobody@example.com", password=PASSWORD)
    assert err.value.message == "That email and password don't match an account."


def test_repeated_failures_are_throttled_even_with_the_right_password(session, user):
    now = utcnow()
    for _ in range(5):
        with pytest.raises(AccountError):
            accounts.authenticate(session, email="alex@example.com", password="wrong-password-1", now=now)
    with pytest.raises(AccountError) as err:
        accounts.authenticate(session, email="alex@example.com", password=PASSWORD, now=now + timedelta(minutes=1))
    assert err.value.code == "throttled"
    assert "Try again in 14 minutes" in err.value.message
    # The window passes: the right password works again.
    later = now + timedelta(minutes=16)
    assert accounts.authenticate(session, email="alex@example.com", password=PASSWORD, now=later).id == user.id


def test_one_ip_hammering_many_accounts_is_throttled(session, user):
    now = utcnow()
    for i in range(20):
        with pytest.raises(AccountError):
            accounts.authenticate(
                session, email=f"guess{i}@example.com", password="wrong-password-1", ip_address="203.0.113.9", now=now
            )
    with pytest.raises(AccountError) as err:
        accounts.authenticate(session, email="alex@example.com", password=PASSWORD, ip_address="203.0.113.9", now=now)
    assert err.value.code == "throttled"
    assert (
        accounts.authenticate(
            session, email="alex@example.com", password=PASSWORD, ip_address="198.51.100.1", now=now
        ).id
        == user.id
    )


def test_a_ticket_becomes_one_session_once(session, user):
    ticket = accounts.issue_signin_ticket(session, user, "/account/orders")
    created = accounts.redeem_signin_ticket(session, ticket, ip_address="127.0.0.1", user_agent="pytest")
    session.commit()
    assert created is not None and created.next_path == "/account/orders"
    assert accounts.redeem_signin_ticket(session, ticket) is None  # replay refused
    assert count(session, UserSession) == 1
    stored = session.execute(select(UserSession)).scalars().one()
    assert stored.token_hash == accounts.hash_token(created.token) and created.token not in stored.token_hash
    assert accounts.resolve_session(session, created.token).id == user.id


def test_an_expired_ticket_creates_no_session(session, user):
    ticket = accounts.issue_signin_ticket(session, user)
    assert accounts.redeem_signin_ticket(session, ticket, now=utcnow() + timedelta(minutes=5)) is None
    assert count(session, UserSession) == 0


@pytest.mark.parametrize("token", ["", "forged-token-value", "x" * 500], ids=["empty", "forged", "oversized"])
def test_forged_session_tokens_resolve_to_nobody(session, user, token):
    assert accounts.resolve_session(session, token) is None


def test_expired_and_revoked_sessions_resolve_to_nobody(session, user):
    created = accounts.redeem_signin_ticket(session, accounts.issue_signin_ticket(session, user))
    session.commit()
    assert accounts.resolve_session(session, created.token, now=created.expires_at + timedelta(seconds=1)) is None
    assert accounts.revoke_session(session, created.token) is True
    assert accounts.resolve_session(session, created.token) is None


def test_password_reset_by_emailed_link(session, user, monkeypatch):
    sent = []
    monkeypatch.setattr("smplat.services.email.send_password_reset", lambda *args, **_log: sent.append(args))
    live = accounts.redeem_signin_ticket(session, accounts.issue_signin_ticket(session, user))
    raw = accounts.request_password_reset(session, "alex@example.com")
    assert len(sent) == 1 and sent[0][0] == "alex@example.com" and sent[0][1].endswith(f"/reset-password?token={raw}")
    assert accounts.reset_password_token_is_valid(session, raw)

    with pytest.raises(AccountError) as err:
        accounts.reset_password(session, raw, "short")
    assert err.value.code == "password_too_short"

    accounts.reset_password(session, raw, "new-harbour-77")
    session.commit()
    assert accounts.resolve_session(session, live.token) is None  # every session signed out
    assert accounts.authenticate(session, email="alex@example.com", password="new-harbour-77").id == user.id
    with pytest.raises(AccountError) as err:
        accounts.reset_password(session, raw, "another-harbour-88")
    assert err.value.code == "reset_link_invalid"


def test_reset_for_unknown_email_sends_nothing(session, user, monkeypatch):
    sent = []
    monkeypatch.setattr("smplat.services.email.send_password_reset", lambda *args, **_log: sent.append(args))
    assert accounts.request_password_reset(session, "nobody@example.com") is None
    assert sent == [] and count(session, AuthToken) == 0


def test_purge_removes_only_what_is_spent(session, user):
    now = utcnow()
    keep = accounts.redeem_signin_ticket(session, accounts.issue_signin_ticket(session, user))
    expired = accounts.redeem_signin_ticket(
        session, accounts.issue_signin_ticket(session, user), now=now - timedelta(days=40)
    )
    revoked = accounts.redeem_signin_ticket(session, accounts.issue_signin_ticket(session, user))
    accounts.revoke_session(session, revoked.token)
    accounts.issue_signin_ticket(session, user)  # unused, still valid
    session.add(LoginAttempt(email="old@example.com", created_at=now - timedelta(days=30)))
    session.add(LoginAttempt(email="new@example.com", created_at=now))
    session.commit()

    counts = accounts.purge_expired(session, now)

    # 3 tickets were used (keep, expired, revoked), 1 unused ticket remains.
    assert counts == {"sessions": 2, "tokens": 3, "login_attempts": 1}
    assert accounts.resolve_session(session, keep.token).id == user.id
    assert expired is not None
    assert count(session, UserSession) == 1 and count(session, AuthToken) == 1 and count(session, LoginAttempt) == 1
