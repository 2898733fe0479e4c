"""Two-factor sign-in with TOTP (RFC 6238): enrolment, codes, single-use backup codes.

The secret is encrypted at rest like provider keys (`secrets_box`); it is active only once
a first code confirmed it. A code is accepted once: the time step it belongs to is stored
and a code of that step or an earlier one is refused. Backup codes are shown once and
stored as keyed SHA-256 digests; each works once. Every wrong code counts towards the
`AttemptKind.TOTP` throttle (per account and per IP), written in its own transaction.
Pages call these functions; nothing here imports Reflex.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp
import segno
from sqlalchemy import delete, func, or_, select, update
from sqlmodel import Session

from smplat.models.accounts import AttemptKind, BackupCode, Role, User
from smplat.models.base import utcnow
from smplat.services import accounts, secrets_box
from smplat.services.errors import ErrorCode, ServiceError
from smplat.settings import get_settings

BACKUP_CODE_COUNT = 10
# No 0/o, 1/l/i: a code read off paper is typed right the first time.
_BACKUP_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
STEP_SECONDS = 30


class TwoFactorError(ServiceError):
    """A code, state or rule the user can fix; `field` is "code" for a wrong code."""


@dataclass(frozen=True)
class Enrolment:
    secret: str  # base32, shown as text for apps that cannot scan
    uri: str  # otpauth:// provisioning URI
    qr_data_uri: str  # the URI as an SVG QR code, ready for <img src>


@dataclass(frozen=True)
class Status:
    enabled: bool
    required: bool
    backup_codes_left: int


# --- the rules, once ------------------------------------------------------------------


def is_required(role: str | None) -> bool:
    """Admins always; operators when SMPLAT_REQUIRE_TWO_FACTOR_FOR_OPERATORS is true."""
    if role == Role.ADMIN.value:
        return True
    return role == Role.OPERATOR.value and get_settings().require_two_factor_for_operators


def must_enrol(role: str | None, enabled_at: datetime | None) -> bool:
    """Signed in, required to have two-factor, and not enrolled yet: only enrolment is open."""
    return enabled_at is None and is_required(role)


def is_enabled(user: User) -> bool:
    return user.two_factor_enabled_at is not None


def _step(now: datetime) -> int:
    return int(now.timestamp()) // STEP_SECONDS


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, interval=STEP_SECONDS)


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step (now, one before or one after) whose code `code` is, or None."""
    code = "".join(code.split())
    if len(code) != 6 or not code.isdigit():
        return None
    totp = _totp(secret)
    current = _step(now)
    for step in (current, current - 1, current + 1):  # valid_window=1
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def pending_deadline(now: datetime | None = None) -> float:
    """When a correct password stops waiting for its code (a POSIX timestamp, kept by the tab)."""
    now = now or utcnow()
    return now.timestamp() + get_settings().two_factor_pending_minutes * 60


def pending_is_live(deadline: float, now: datetime | None = None) -> bool:
    return deadline > (now or utcnow()).timestamp()


def normalize_backup_code(code: str) -> str:
    return "".join(ch for ch in (code or "").lower() if ch.isalnum())


def _hash_backup_code(user_id: int, code: str) -> str:
    key = get_settings().secret().encode("utf-8")
    message = f"{user_id}:{normalize_backup_code(code)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _new_backup_code() -> str:
    raw = "".join(secrets.choice(_BACKUP_ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def qr_data_uri(uri: str) -> str:
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=2)


def _enrolment(user: User, secret: str) -> Enrolment:
    uri = _totp(secret).provisioning_uri(name=user.email, issuer_name=get_settings().brand_name)
    return Enrolment(secret=secret, uri=uri, qr_data_uri=qr_data_uri(uri))


# --- reads ----------------------------------------------------------------------------------


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        raise TwoFactorError("Sign in again.", code=ErrorCode.UNAUTHENTICATED)
    return user


def status(session: Session, user_id: int) -> Status:
    user = _user(session, user_id)
    left = 0
    if is_enabled(user):
        left = session.execute(
            select(func.count()).where(BackupCode.user_id == user_id, BackupCode.used_at.is_(None))
        ).scalar_one()
    return Status(enabled=is_enabled(user), required=is_required(user.role), backup_codes_left=left)


# --- enrolment ------------------------------------------------------------------------------


def start_enrolment(session: Session, user_id: int) -> Enrolment:
    """A new secret, stored encrypted but not active until `confirm_enrolment`."""
    user = _user(session, user_id)
    if is_enabled(user):
        raise TwoFactorError("Two-factor sign-in is already on.", code=ErrorCode.CONFLICT)
    secret = pyotp.random_base32()
    user.two_factor_secret = secrets_box.encrypt(secret)
    user.two_factor_last_step = None
    session.add(user)
    session.flush()
    return _enrolment(user, secret)


def _new_backup_codes(session: Session, user_id: int, now: datetime) -> list[str]:
    session.execute(delete(BackupCode).where(BackupCode.user_id == user_id))
    codes = [_new_backup_code() for _ in range(BACKUP_CODE_COUNT)]
    session.add_all(BackupCode(user_id=user_id, code_hash=_hash_backup_code(user_id, c), created_at=now) for c in codes)
    session.flush()
    return codes


def _throttled_check(
    session: Session, user: User, ip_address: str, now: datetime, check, *, field: str = "code"
) -> None:
    """Run `check()` (True: accepted) under the TOTP throttle; a refusal is recorded and raised."""
    accounts.ensure_not_throttled(
        session, email=user.email, ip_address=ip_address, kind=AttemptKind.TOTP, now=now, field=field
    )
    if not check():
        # A refused check may have begun a write (a claim that matched no row); end it first,
        # or SQLite's writer lock would block the attempt row written on its own connection.
        session.rollback()
        accounts.record_attempt(
            session, email=user.email, ip_address=ip_address, succeeded=False, kind=AttemptKind.TOTP, now=now
        )
        raise TwoFactorError("That code is not right (or was already used). Check your app and try again.", field=field)


def _claim_step(session: Session, user_id: int, step: int) -> bool:
    """Accept the code of `step` once: atomically, a later or equal step wins only once."""
    result = session.execute(
        update(User)
        .where(
            User.id == user_id,
            or_(User.two_factor_last_step.is_(None), User.two_factor_last_step < step),
        )
        .values(two_factor_last_step=step)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _accept_totp(session: Session, user: User, code: str, now: datetime) -> bool:
    if not user.two_factor_secret:
        return False
    step = _matching_step(secrets_box.decrypt(user.two_factor_secret), code, now)
    return step is not None and _claim_step(session, user.id, step)


def _accept_backup_code(session: Session, user: User, code: str, now: datetime) -> bool:
    if len(normalize_backup_code(code)) != 10:
        return False
    result = session.execute(
        update(BackupCode)
        .where(
            BackupCode.user_id == user.id,
            BackupCode.code_hash == _hash_backup_code(user.id, code),
            BackupCode.used_at.is_(None),
        )
        .values(used_at=now)
    )
    return result.rowcount == 1


def confirm_enrolment(
    session: Session, user_id: int, code: str, *, ip_address: str = "", now: datetime | None = None
) -> list[str]:
    """Turn two-factor on with a first valid code; returns the ten backup codes (shown once)."""
    now = now or utcnow()
    user = _user(session, user_id)
    if is_enabled(user):
        raise TwoFactorError("Two-factor sign-in is already on.", code=ErrorCode.CONFLICT)
    if not user.two_factor_secret:
        raise TwoFactorError("Start the set-up first.", code=ErrorCode.CONFLICT)
    _throttled_check(session, user, ip_address, now, lambda: _accept_totp(session, user, code, now))
    user.two_factor_enabled_at = now
    session.add(user)
    return _new_backup_codes(session, user.id, now)


def enable_with_secret(session: Session, user_id: int, secret: str, now: datetime | None = None) -> list[str]:
    """Provisioning without a code (tests, scripted set-ups): the secret is known already."""
    now = now or utcnow()
    user = _user(session, user_id)
    user.two_factor_secret = secrets_box.encrypt(secret)
    user.two_factor_enabled_at = now
    user.two_factor_last_step = None
    session.add(user)
    return _new_backup_codes(session, user.id, now)


# --- sign-in and changes ------------------------------------------------------------------------


def verify_sign_in(
    session: Session, user_id: int, code: str, *, ip_address: str = "", now: datetime | None = None
) -> User:
    """The second step of a sign-in: a TOTP code, or a backup code (each used once)."""
    now = now or utcnow()
    user = _user(session, user_id)
    if not is_enabled(user):
        raise TwoFactorError("Sign in again.", code=ErrorCode.CONFLICT)
    if not (code or "").strip():
        raise TwoFactorError("Enter the code from your app or a backup code.", code=ErrorCode.REQUIRED, field="code")
    _throttled_check(
        session,
        user,
        ip_address,
        now,
        lambda: _accept_totp(session, user, code, now) or _accept_backup_code(session, user, code, now),
    )
    return user


def regenerate_backup_codes(
    session: Session, user_id: int, code: str, *, ip_address: str = "", now: datetime | None = None
) -> list[str]:
    """Ten new backup codes (the old ones stop working); needs a current code from the app."""
    now = now or utcnow()
    user = _user(session, user_id)
    if not is_enabled(user):
        raise TwoFactorError("Turn on two-factor sign-in first.", code=ErrorCode.CONFLICT)
    _throttled_check(session, user, ip_address, now, lambda: _accept_totp(session, user, code, now))
    return _new_backup_codes(session, user.id, now)


def disable(
    session: Session, user_id: int, code_or_password: str, *, ip_address: str = "", now: datetime | None = None
) -> None:
    """Turn two-factor off with a current code or the password; refused where it is required."""
    now = now or utcnow()
    user = _user(session, user_id)
    if not is_enabled(user):
        raise TwoFactorError("Two-factor sign-in is already off.", code=ErrorCode.CONFLICT)
    if is_required(user.role):
        raise TwoFactorError(
            "Two-factor sign-in is required for your role; it cannot be turned off.", code=ErrorCode.NOT_ALLOWED
        )
    proof = code_or_password or ""
    _throttled_check(
        session,
        user,
        ip_address,
        now,
        lambda: _accept_totp(session, user, proof, now) or accounts.verify_password(user.password_hash, proof),
    )
    user.two_factor_secret = ""
    user.two_factor_enabled_at = None
    user.two_factor_last_step = None
    session.add(user)
    session.execute(delete(BackupCode).where(BackupCode.user_id == user.id))
    session.flush()
