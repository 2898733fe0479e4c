"""Two-factor sign-in (services.two_factor): enrolment, codes once, backup codes once,
throttling, regenerate and disable; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from sqlalchemy import func, select

from smplat.db import session_scope
from smplat.models.accounts import AttemptKind, BackupCode, LoginAttempt, Role, User
from smplat.services import accounts, secrets_box, two_factor
from smplat.services.accounts import SignInThrottled
from smplat.services.two_factor import TwoFactorError
from smplat.settings import reset_settings_cache

pytestmark = pytest.mark.integration

PASSWORD = "violet-harbour-42"
NOW = datetime(2026, 11, 26, 17, 0, 5, tzinfo=UTC)
IP = "198.51.100.9"


def _user(email: str = "ada@example.com", role: Role = Role.CUSTOMER) -> int:
    with session_scope() as db:
        return accounts.sign_up(db, email=email, password=PASSWORD, role=role).id


def _enabled_user(email: str = "ada@example.com", role: Role = Role.CUSTOMER) -> tuple[int, str, list[str]]:
    user_id = _user(email, role)
    secret = pyotp.random_base32()
    with session_scope() as db:
        codes = two_factor.enable_with_secret(db, user_id, secret, now=NOW)
    return user_id, secret, codes


def _code(secret: str, at: datetime) -> str:
    return pyotp.TOTP(secret).at(at)


def _row(user_id: int) -> User:
    with session_scope() as db:
        user = db.get(User, user_id)
        db.expunge(user)
        return user


def _failures() -> int:
    with session_scope() as db:
        return db.execute(
            select(func.count()).where(LoginAttempt.kind == AttemptKind.TOTP.value, LoginAttempt.succeeded.is_(False))
        ).scalar_one()


def _unused_codes(user_id: int) -> int:
    with session_scope() as db:
        return db.execute(
            select(func.count()).where(BackupCode.user_id == user_id, BackupCode.used_at.is_(None))
        ).scalar_one()


def _verify(user_id: int, code: str, now: datetime = NOW) -> None:
    with session_scope() as db:
        two_factor.verify_sign_in(db, user_id, code, ip_address=IP, now=now)


def test_enrolment_is_active_only_after_a_first_valid_code(db_url):
    # given a customer who starts the set-up
    user_id = _user()
    with session_scope() as db:
        enrolment = two_factor.start_enrolment(db, user_id)

    # then the secret is stored encrypted, not active yet, and the QR code carries the URI
    row = _row(user_id)
    assert row.two_factor_enabled_at is None
    assert enrolment.secret not in row.two_factor_secret
    assert secrets_box.decrypt(row.two_factor_secret) == enrolment.secret
    assert enrolment.uri.startswith("otpauth://totp/SMPLAT:ada%40example.com?secret=")
    assert enrolment.qr_data_uri.startswith("data:image/svg+xml")

    # when a wrong code confirms it
    with pytest.raises(TwoFactorError) as refused, session_scope() as db:
        two_factor.confirm_enrolment(db, user_id, "000000", ip_address=IP, now=NOW)

    # then it stays off, no backup codes exist, and the failure is counted
    assert refused.value.field == "code"
    assert _row(user_id).two_factor_enabled_at is None and _unused_codes(user_id) == 0
    assert _failures() == 1

    # when the current code confirms it
    with session_scope() as db:
        codes = two_factor.confirm_enrolment(db, user_id, _code(enrolment.secret, NOW), ip_address=IP, now=NOW)

    # then it is on, with ten distinct backup codes stored only as digests
    assert _row(user_id).two_factor_enabled_at == NOW
    assert len(codes) == len(set(codes)) == 10
    with session_scope() as db:
        hashes = set(db.execute(select(BackupCode.code_hash).where(BackupCode.user_id == user_id)).scalars())
    assert len(hashes) == 10 and not hashes & {c for c in codes} and not hashes & {c.replace("-", "") for c in codes}
    with session_scope() as db:
        assert two_factor.status(db, user_id) == two_factor.Status(enabled=True, required=False, backup_codes_left=10)


@pytest.mark.parametrize(
    "offset_seconds, accepted",
    [
        pytest.param(0, True, id="this-step"),
        pytest.param(-30, True, id="previous-step"),
        pytest.param(30, True, id="next-step"),
        pytest.param(-60, False, id="two-steps-old"),
        pytest.param(90, False, id="three-steps-ahead"),
    ],
)
def test_a_code_is_valid_for_one_step_either_side(db_url, offset_seconds, accepted):
    user_id, secret, _ = _enabled_user()
    code = _code(secret, NOW + timedelta(seconds=offset_seconds))
    if accepted:
        _verify(user_id, code)
        assert _failures() == 0
    else:
        with pytest.raises(TwoFactorError):
            _verify(user_id, code)
        assert _failures() == 1 and _row(user_id).two_factor_last_step is None


def test_the_same_code_never_works_twice_nor_an_older_one(db_url):
    # given a code accepted once
    user_id, secret, _ = _enabled_user()
    _verify(user_id, _code(secret, NOW))
    step = _row(user_id).two_factor_last_step

    # when the same code is replayed (still inside its window), or the previous step's code
    for replay in (_code(secret, NOW), _code(secret, NOW - timedelta(seconds=30))):
        with pytest.raises(TwoFactorError):
            _verify(user_id, replay, NOW + timedelta(seconds=5))

    # then both are refused and counted; the next step's code works
    assert _failures() == 2 and _row(user_id).two_factor_last_step == step
    _verify(user_id, _code(secret, NOW + timedelta(seconds=30)), NOW + timedelta(seconds=30))
    assert _row(user_id).two_factor_last_step == step + 1


def test_a_backup_code_works_once(db_url):
    user_id, _, codes = _enabled_user()

    # when a backup code is used (typed in upper case, without the dash)
    _verify(user_id, codes[3].upper().replace("-", " "))
    assert _unused_codes(user_id) == 9 and _failures() == 0

    # then the second use is refused and nothing else changes
    with pytest.raises(TwoFactorError):
        _verify(user_id, codes[3])
    assert _unused_codes(user_id) == 9 and _failures() == 1

    # and another user cannot use it either
    other_id, _, _ = _enabled_user("bob@example.com")
    with pytest.raises(TwoFactorError):
        _verify(other_id, codes[4])
    assert _unused_codes(user_id) == 9


def test_wrong_codes_are_throttled_per_account_with_the_wait(db_url, monkeypatch):
    # given at most 3 wrong codes per window
    monkeypatch.setenv("SMPLAT_TOTP_MAX_FAILURES", "3")
    reset_settings_cache()
    user_id, secret, codes = _enabled_user()
    for _ in range(3):
        with pytest.raises(TwoFactorError):
            _verify(user_id, "123456")

    # when the right code, then a backup code, come next
    for code in (_code(secret, NOW), codes[0]):
        with pytest.raises(SignInThrottled) as throttled:
            _verify(user_id, code)
        assert throttled.value.message == "Too many attempts. Try again in 15 minutes."

    # then both were refused before checking: the step is unclaimed, the code unused
    assert _failures() == 3
    assert _row(user_id).two_factor_last_step is None and _unused_codes(user_id) == 10
    # and after the window the right code works
    _verify(user_id, _code(secret, NOW + timedelta(minutes=16)), NOW + timedelta(minutes=16))


def test_new_backup_codes_replace_the_old_ones_and_need_a_code(db_url):
    user_id, secret, old = _enabled_user()

    with pytest.raises(TwoFactorError), session_scope() as db:
        two_factor.regenerate_backup_codes(db, user_id, "111111", now=NOW)
    assert _unused_codes(user_id) == 10

    with session_scope() as db:
        new = two_factor.regenerate_backup_codes(db, user_id, _code(secret, NOW), now=NOW)
    assert len(new) == 10 and not set(new) & set(old)
    with pytest.raises(TwoFactorError):
        _verify(user_id, old[0])
    _verify(user_id, new[0])


def test_disable_needs_a_code_or_the_password_and_is_refused_where_required(db_url):
    # given an admin and a customer with two-factor on
    admin_id, admin_secret, _ = _enabled_user("root@example.com", Role.ADMIN)
    customer_id, _, _ = _enabled_user()

    # when the admin tries to turn it off with a valid code
    with pytest.raises(TwoFactorError) as refused, session_scope() as db:
        two_factor.disable(db, admin_id, _code(admin_secret, NOW), now=NOW)
    assert "required for your role" in refused.value.message
    assert _row(admin_id).two_factor_enabled_at is not None

    # when the customer gives a wrong password, then the right one
    with pytest.raises(TwoFactorError), session_scope() as db:
        two_factor.disable(db, customer_id, "not-the-password", now=NOW)
    assert _row(customer_id).two_factor_enabled_at is not None and _unused_codes(customer_id) == 10
    with session_scope() as db:
        two_factor.disable(db, customer_id, PASSWORD, now=NOW)

    # then it is off, the secret and the backup codes are gone
    row = _row(customer_id)
    assert row.two_factor_enabled_at is None and row.two_factor_secret == "" and _unused_codes(customer_id) == 0


@pytest.mark.parametrize(
    "role, operators_setting, required",
    [
        pytest.param(Role.ADMIN, "false", True, id="admin-always"),
        pytest.param(Role.OPERATOR, "false", False, id="operator-by-default"),
        pytest.param(Role.OPERATOR, "true", True, id="operator-when-set"),
        pytest.param(Role.CUSTOMER, "true", False, id="customer-never"),
    ],
)
def test_who_must_enrol(monkeypatch, role, operators_setting, required):
    monkeypatch.setenv("SMPLAT_REQUIRE_TWO_FACTOR_FOR_OPERATORS", operators_setting)
    reset_settings_cache()
    assert two_factor.is_required(role.value) is required
    assert two_factor.must_enrol(role.value, None) is required
    assert two_factor.must_enrol(role.value, NOW) is False
    reset_settings_cache()
