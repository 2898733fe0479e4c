"""Accounts: sign-up, sign-in with throttling, server-side sessions, password reset.

Pages, API routes and jobs call these functions; none of them imports Reflex.
Tokens (session cookies, sign-in tickets, reset links) are random, shown once, and
stored only as SHA-256 digests, so a database leak yields no usable token.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from smplat.models.accounts import AttemptKind, AuthToken, LoginAttempt, Role, TokenPurpose, User, UserSession
from smplat.models.base import utcnow
from smplat.services import rate_limits
from smplat.services.errors import ErrorCode, ServiceError
from smplat.settings import get_settings

log = logging.getLogger(__name__)

# Argon2id at the library's RFC 9106 low-memory profile; test suites may choose a cheap cost
# (SMPLAT_PASSWORD_HASH_COST=test, refused in production) because every account they create
# would otherwise spend ~0.3 s of CPU on its hash.
_COSTS = {
    "standard": {},
    "test": {"time_cost": 1, "memory_cost": 8, "parallelism": 1},
}


@lru_cache(maxsize=2)
def _hasher_for(cost: str) -> tuple[PasswordHasher, str]:
    """The hasher of a cost setting and its dummy hash, verified against when the email is
    unknown so that a miss costs the same time as a hit."""
    hasher = PasswordHasher(**_COSTS[cost])
    return hasher, hasher.hash("dummy-password-for-timing")


def _hasher() -> PasswordHasher:
    return _hasher_for(get_settings().password_hash_cost)[0]


EMAIL_RE = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 200
_COMMON_PASSWORDS = frozenset(
    {
        "password",
        "password1",
        "password12",
        "password123",
        "1234567890",
        "12345678910",
        "qwertyuiop",
        "qwerty1234",
        "iloveyou12",
        "letmein123",
        "welcome123",
        "administrator",
        "passw0rd123",
        "abcdefghij",
        "abc1234567",
        "0987654321",
        "1111111111",
        "0000000000",
    }
)
SESSION_TOUCH_INTERVAL = timedelta(minutes=5)
# The role rule, once: who may do what. Pages, handlers and routes ask `is_staff` / `is_admin`.
STAFF_ROLES = frozenset({Role.OPERATOR.value, Role.ADMIN.value})
ADMIN_ROLES = frozenset({Role.ADMIN.value})


class AccountError(Exception):
    """An error the user caused and can fix; `field` names the form field it belongs to."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


class SignInThrottled(AccountError, ServiceError):
    """Too many failed sign-ins, reset requests or codes for this email or from this IP.

    An AccountError (the forms show it like the others) and a ServiceError with code
    THROTTLED (API routes answer 429); `code == "throttled"` either way.
    """

    default_code = ErrorCode.THROTTLED

    def __init__(self, message: str, retry_after_minutes: int, field: str | None = None) -> None:
        ServiceError.__init__(self, message, code=ErrorCode.THROTTLED, field=field)
        self.retry_after_minutes = retry_after_minutes


# --- pure helpers -------------------------------------------------------------


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_password(plain: str) -> str:
    return _hasher().hash(plain)


def verify_password(password_hash: str, plain: str) -> bool:
    try:
        return _hasher().verify(password_hash, plain)
    except (VerificationError, InvalidHashError):
        return False


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def validate_email(email: str) -> str:
    email = normalize_email(email)
    if not email:
        raise AccountError("email_required", "Enter your email address.", "email")
    if len(email) > 320 or not EMAIL_RE.match(email):
        raise AccountError("email_invalid", "Enter a valid email address, like name@example.com.", "email")
    return email


def validate_password(password: str, email: str = "") -> None:
    """A password is long enough, not all one kind of character, and not a known weak one."""
    password = password or ""
    if len(password) < PASSWORD_MIN_LENGTH:
        raise AccountError(
            "password_too_short", f"Use at least {PASSWORD_MIN_LENGTH} characters for your password.", "password"
        )
    if len(password) > PASSWORD_MAX_LENGTH:
        raise AccountError("password_too_long", f"Use at most {PASSWORD_MAX_LENGTH} characters.", "password")
    lowered = password.lower()
    if lowered in _COMMON_PASSWORDS or len(set(password)) < 4:
        raise AccountError("password_weak", "This password is too easy to guess; choose another.", "password")
    if password.isdigit() or password.isalpha():
        raise AccountError(
            "password_weak", "Mix letters with digits or symbols to make the password harder to guess.", "password"
        )
    local = normalize_email(email).split("@")[0]
    if len(local) >= 4 and local in lowered:
        raise AccountError("password_weak", "Your password must not contain your email name.", "password")


def safe_next_path(next_path: str | None, default: str = "/account") -> str:
    """Only same-site relative paths are followed after sign-in (no open redirects)."""
    if not next_path or not next_path.startswith("/") or next_path.startswith("//") or "\\" in next_path:
        return default
    if any(ch in next_path for ch in "\r\n"):
        return default
    return next_path


def is_staff(role: str | None) -> bool:
    """Operators and admins: the admin area and every staff-only action."""
    return role in STAFF_ROLES


def is_admin(role: str | None) -> bool:
    return role in ADMIN_ROLES


# --- sign-up and sign-in --------------------------------------------------------


def sign_up(
    session: Session,
    *,
    email: str,
    password: str,
    full_name: str = "",
    role: Role = Role.CUSTOMER,
    ip_address: str = "",
) -> User:
    """Create a customer account; raises AccountError (or RateLimited) and writes nothing on bad input."""
    rate_limits.hit_all([("signup_ip", ip_address), ("signup_email", normalize_email(email))])
    email = validate_email(email)
    full_name = (full_name or "").strip()
    if len(full_name) > 200:
        raise AccountError("name_too_long", "Use at most 200 characters for your name.", "full_name")
    validate_password(password, email)
    if session.execute(select(User.id).where(User.email == email)).first() is not None:
        raise AccountError("email_taken", "An account with this email already exists. Sign in instead.", "email")
    user = User(email=email, password_hash=hash_password(password), full_name=full_name, role=role.value)
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        # Two sign-ups raced; the unique index decided.
        session.rollback()
        raise AccountError(
            "email_taken", "An account with this email already exists. Sign in instead.", "email"
        ) from None
    if role == Role.CUSTOMER:  # queued with the account: a sign-up that rolls back welcomes no one
        from smplat.services.notifications import NotificationKind, notify

        notify(
            session,
            NotificationKind.WELCOME,
            user=user,
            context={"name": full_name or email.split("@")[0]},
            event_key=f"welcome:user:{user.id}",
        )
    return user


@dataclass(frozen=True)
class Throttle:
    limited: bool
    retry_after_minutes: int = 0


def _throttle_rules(kind: AttemptKind) -> tuple[int, int, int]:
    """(per-email limit, per-IP limit, window minutes) of one kind of attempt."""
    settings = get_settings()
    if kind == AttemptKind.RESET:
        return settings.reset_max_requests, settings.reset_max_requests_per_ip, settings.reset_window_minutes
    if kind == AttemptKind.TOTP:
        return settings.totp_max_failures, settings.totp_max_failures * 4, settings.login_window_minutes
    return settings.login_max_failures, settings.login_max_failures_per_ip, settings.login_window_minutes


def check_throttle(
    session: Session,
    *,
    email: str,
    ip_address: str,
    now: datetime | None = None,
    kind: AttemptKind = AttemptKind.PASSWORD,
) -> Throttle:
    """Too many counted attempts of this kind for this email, or from this IP, inside the window?

    Failures count for passwords and codes; every request counts for reset emails.
    """
    per_email_limit, per_ip_limit, window_minutes = _throttle_rules(kind)
    now = now or utcnow()
    since = now - timedelta(minutes=window_minutes)
    counted = [LoginAttempt.kind == kind.value, LoginAttempt.created_at >= since]
    if kind != AttemptKind.RESET:
        counted.append(LoginAttempt.succeeded.is_(False))
    email = normalize_email(email)
    per_email = select(func.count(), func.min(LoginAttempt.created_at)).where(LoginAttempt.email == email, *counted)
    count, oldest = session.execute(per_email).one()
    limit = per_email_limit
    if count < limit and ip_address:
        # An IP may try several accounts (a shared office), but not endlessly.
        per_ip = select(func.count(), func.min(LoginAttempt.created_at)).where(
            LoginAttempt.ip_address == ip_address[:64], *counted
        )
        count, oldest = session.execute(per_ip).one()
        limit = per_ip_limit
    if count < limit:
        return Throttle(False)
    if oldest is not None and oldest.tzinfo is None:  # aggregate results skip the column type
        oldest = oldest.replace(tzinfo=UTC)
    unlock = (oldest or now) + timedelta(minutes=window_minutes)
    minutes = max(1, math.ceil((unlock - now).total_seconds() / 60))
    return Throttle(True, minutes)


def ensure_not_throttled(
    session: Session,
    *,
    email: str,
    ip_address: str,
    kind: AttemptKind = AttemptKind.PASSWORD,
    now: datetime | None = None,
    field: str | None = None,
) -> None:
    """Raise SignInThrottled ("Too many attempts. Try again in 4 minutes.") when throttled."""
    throttle = check_throttle(session, email=email, ip_address=ip_address, now=now, kind=kind)
    if throttle.limited:
        raise SignInThrottled(
            rate_limits.wait_message(throttle.retry_after_minutes * 60), throttle.retry_after_minutes, field
        )


def record_attempt(
    session: Session,
    *,
    email: str,
    ip_address: str,
    succeeded: bool,
    kind: AttemptKind = AttemptKind.PASSWORD,
    now: datetime | None = None,
) -> None:
    """Write one attempt in its OWN transaction, committed at once.

    The request that failed raises afterwards, and its unit of work (`session_scope`)
    rolls back; a failure written there would vanish and throttling would never start.
    """
    with Session(session.get_bind().engine, expire_on_commit=False) as own:
        own.add(
            LoginAttempt(
                email=normalize_email(email),
                ip_address=(ip_address or "")[:64],
                succeeded=succeeded,
                kind=kind.value,
                created_at=now or utcnow(),
            )
        )
        own.commit()


def authenticate(
    session: Session, *, email: str, password: str, ip_address: str = "", now: datetime | None = None
) -> User:
    """Check credentials with throttling; records the attempt. Raises AccountError (or RateLimited)."""
    now = now or utcnow()
    email = normalize_email(email)
    if not email or not password:
        raise AccountError(
            "credentials_required", "Enter your email and password.", "email" if not email else "password"
        )
    rate_limits.hit_all([("signin_ip", ip_address), ("signin_email", email)])
    ensure_not_throttled(session, email=email, ip_address=ip_address, now=now)
    user = session.execute(select(User).where(User.email == email)).scalars().first()
    ok = (
        verify_password(user.password_hash if user else _hasher_for(get_settings().password_hash_cost)[1], password)
        and user is not None
    )
    ok = ok and user.is_active
    if not ok:
        record_attempt(session, email=email, ip_address=ip_address, succeeded=False, now=now)
        raise AccountError("credentials_invalid", "That email and password don't match an account.", "password")
    session.add(
        LoginAttempt(
            email=email, ip_address=ip_address[:64], succeeded=True, kind=AttemptKind.PASSWORD.value, created_at=now
        )
    )
    if _hasher().check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = now
    session.add(user)
    session.flush()
    if user.email_verified_at is not None:
        # guest orders paid with this (verified) address since the last visit
        from smplat.services.order_tracking import attach_guest_orders

        attach_guest_orders(session, user)
    return user


# --- tickets and sessions --------------------------------------------------------


def _issue_token(session: Session, user: User, purpose: TokenPurpose, ttl: timedelta, next_path: str = "") -> str:
    raw = new_token()
    session.add(
        AuthToken(
            user_id=user.id,
            purpose=purpose.value,
            token_hash=hash_token(raw),
            next_path=next_path,
            expires_at=utcnow() + ttl,
        )
    )
    session.flush()
    return raw


def _redeem_token(session: Session, raw: str, purpose: TokenPurpose, now: datetime) -> AuthToken | None:
    """Mark a valid token used, atomically: two redemptions race, one wins."""
    if not raw or len(raw) > 200:
        return None
    token_hash = hash_token(raw)
    result = session.execute(
        update(AuthToken)
        .where(
            AuthToken.token_hash == token_hash,
            AuthToken.purpose == purpose.value,
            AuthToken.used_at.is_(None),
            AuthToken.expires_at > now,
        )
        .values(used_at=now)
    )
    if result.rowcount != 1:
        return None
    return session.execute(select(AuthToken).where(AuthToken.token_hash == token_hash)).scalars().one()


def issue_signin_ticket(session: Session, user: User, next_path: str = "") -> str:
    """A one-time ticket the browser exchanges at /api/auth/session for the HttpOnly cookie."""
    ttl = timedelta(seconds=get_settings().signin_ticket_ttl_seconds)
    return _issue_token(session, user, TokenPurpose.SIGNIN_TICKET, ttl, safe_next_path(next_path))


@dataclass(frozen=True)
class NewSession:
    token: str
    user: User
    next_path: str
    expires_at: datetime


def redeem_signin_ticket(
    session: Session, raw_ticket: str, *, ip_address: str = "", user_agent: str = "", now: datetime | None = None
) -> NewSession | None:
    now = now or utcnow()
    ticket = _redeem_token(session, raw_ticket, TokenPurpose.SIGNIN_TICKET, now)
    if ticket is None:
        return None
    user = session.get(User, ticket.user_id)
    if user is None or not user.is_active:
        return None
    raw = new_token()
    expires_at = now + timedelta(days=get_settings().session_ttl_days)
    session.add(
        UserSession(
            user_id=user.id,
            token_hash=hash_token(raw),
            created_at=now,
            expires_at=expires_at,
            last_seen_at=now,
            ip_address=ip_address[:64],
            user_agent=user_agent[:400],
        )
    )
    session.flush()
    return NewSession(raw, user, safe_next_path(ticket.next_path), expires_at)


def resolve_session(session: Session, raw_token: str | None, now: datetime | None = None) -> User | None:
    """The signed-in user for a cookie value, or None (unknown, forged, expired, revoked)."""
    if not raw_token or len(raw_token) > 200:
        return None
    now = now or utcnow()
    idle_cutoff = now - timedelta(minutes=get_settings().session_idle_timeout_minutes)
    row = session.execute(
        select(UserSession, User)
        .join(User, User.id == UserSession.user_id)
        .where(
            UserSession.token_hash == hash_token(raw_token),
            UserSession.revoked_at.is_(None),
            UserSession.expires_at > now,
            # Unused for longer than the idle timeout: refused (a forgotten shared computer).
            or_(
                UserSession.last_seen_at > idle_cutoff,
                and_(UserSession.last_seen_at.is_(None), UserSession.created_at > idle_cutoff),
            ),
            User.is_active.is_(True),
        )
    ).first()
    if row is None:
        return None
    user_session, user = row
    if user_session.last_seen_at is None or now - user_session.last_seen_at > SESSION_TOUCH_INTERVAL:
        session.execute(update(UserSession).where(UserSession.id == user_session.id).values(last_seen_at=now))
    return user


def revoke_session(session: Session, raw_token: str | None, now: datetime | None = None) -> bool:
    if not raw_token:
        return False
    result = session.execute(
        update(UserSession)
        .where(UserSession.token_hash == hash_token(raw_token), UserSession.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
    )
    return result.rowcount == 1


def revoke_all_sessions(
    session: Session, user_id: int, now: datetime | None = None, *, except_token: str | None = None
) -> int:
    """End every session of a user (but the one whose raw token is `except_token`, if given)."""
    conditions = [UserSession.user_id == user_id, UserSession.revoked_at.is_(None)]
    if except_token:
        conditions.append(UserSession.token_hash != hash_token(except_token))
    result = session.execute(update(UserSession).where(*conditions).values(revoked_at=now or utcnow()))
    return result.rowcount


def invalidate_reset_links(session: Session, user_id: int, now: datetime | None = None) -> int:
    """Spend every unused password-reset link of a user (after a reset or a password change)."""
    result = session.execute(
        update(AuthToken)
        .where(
            AuthToken.user_id == user_id,
            AuthToken.purpose == TokenPurpose.PASSWORD_RESET.value,
            AuthToken.used_at.is_(None),
        )
        .values(used_at=now or utcnow())
    )
    return result.rowcount


# --- password reset ---------------------------------------------------------------


def request_password_reset(session: Session, email: str, ip_address: str = "") -> str | None:
    """Email a reset link when the account exists. Returns the raw token (for tests) or None.

    The caller shows the same message either way, so the form does not reveal which
    emails have accounts. Requests are limited per email and per IP (rate limits, and
    throttling rows that every worker sees), whether the account exists or not.
    """
    from smplat.services.email import send_password_reset

    email = validate_email(email)
    rate_limits.hit_all([("reset_ip", ip_address), ("reset_email", email)])
    ensure_not_throttled(session, email=email, ip_address=ip_address, kind=AttemptKind.RESET, field="email")
    # Every request counts, known address or not; committed below before any email is sent.
    session.add(
        LoginAttempt(
            email=email,
            ip_address=(ip_address or "")[:64],
            succeeded=True,
            kind=AttemptKind.RESET.value,
            created_at=utcnow(),
        )
    )
    user = session.execute(select(User).where(User.email == email, User.is_active.is_(True))).scalars().first()
    if user is None:
        session.commit()
        return None
    settings = get_settings()
    raw = _issue_token(
        session, user, TokenPurpose.PASSWORD_RESET, timedelta(minutes=settings.password_reset_ttl_minutes)
    )
    url = f"{settings.public_base_url.rstrip('/')}/reset-password?token={raw}"
    session.commit()  # the link must work even if sending is retried by the user
    send_password_reset(user.email, url, settings.password_reset_ttl_minutes, session=session, user_id=user.id)
    return raw


def send_email_verification(session: Session, user: User) -> str:
    """Issue and email the verification link of the user's address; returns the raw token
    (for tests). Committed before sending, so the link works whatever the mail server does."""
    from smplat.services.email import send_email_verification as send

    settings = get_settings()
    raw = _issue_token(session, user, TokenPurpose.VERIFY_EMAIL, timedelta(hours=settings.email_verification_hours))
    session.commit()
    send(
        user.email,
        f"{settings.public_base_url.rstrip('/')}/verify-email?token={raw}",
        settings.email_verification_hours,
        session=session,
        user_id=user.id,
    )
    return raw


def email_is_verified(session: Session, user_id: int) -> bool:
    return session.execute(select(User.email_verified_at).where(User.id == user_id)).scalar() is not None


def send_verification_safely(user_id: int) -> bool:
    """`send_email_verification` in its own unit of work; a mail outage is logged, never
    raised (sign-up must not fail for it; the account page offers to send the link again)."""
    from smplat.db import session_scope

    try:
        with session_scope() as db:
            user = db.get(User, user_id)
            if user is None or user.email_verified_at is not None:
                return False
            send_email_verification(db, user)
        return True
    except Exception:
        log.exception("verification email for user %s failed", user_id)
        return False


def verify_email(session: Session, raw: str, now: datetime | None = None) -> User | None:
    """Redeem a verification link: the address is the user's, and the guest orders paid with
    it are attached to the account. None for an unknown, used or expired link."""
    from smplat.services.order_tracking import attach_guest_orders

    now = now or utcnow()
    token = _redeem_token(session, raw, TokenPurpose.VERIFY_EMAIL, now)
    if token is None:
        return None
    user = session.get(User, token.user_id)
    if user is None or not user.is_active:
        return None
    if user.email_verified_at is None:
        user.email_verified_at = now
        session.add(user)
        session.flush()
    attach_guest_orders(session, user)
    return user


def reset_password_token_is_valid(session: Session, raw: str, now: datetime | None = None) -> bool:
    now = now or utcnow()
    if not raw:
        return False
    return (
        session.execute(
            select(AuthToken.id).where(
                AuthToken.token_hash == hash_token(raw),
                AuthToken.purpose == TokenPurpose.PASSWORD_RESET.value,
                AuthToken.used_at.is_(None),
                AuthToken.expires_at > now,
            )
        ).first()
        is not None
    )


def reset_password(session: Session, raw_token: str, new_password: str, now: datetime | None = None) -> User:
    """Set a new password from an emailed link; signs out every session of the account."""
    now = now or utcnow()
    token_row = (
        session.execute(
            select(AuthToken).where(
                AuthToken.token_hash == hash_token(raw_token or ""),
                AuthToken.purpose == TokenPurpose.PASSWORD_RESET.value,
            )
        )
        .scalars()
        .first()
    )
    user = session.get(User, token_row.user_id) if token_row else None
    validate_password(new_password, user.email if user else "")
    token = _redeem_token(session, raw_token, TokenPurpose.PASSWORD_RESET, now)
    if token is None or user is None:
        raise AccountError(
            "reset_link_invalid", "This reset link has expired or was already used. Request a new one.", "password"
        )
    user.password_hash = hash_password(new_password)
    session.add(user)
    revoke_all_sessions(session, user.id, now)
    invalidate_reset_links(session, user.id, now)  # an older link in the mailbox must not work either
    session.flush()
    return user


def change_password(
    session: Session,
    *,
    user_id: int,
    current_password: str,
    new_password: str,
    keep_session_token: str | None = None,
    ip_address: str = "",
    now: datetime | None = None,
) -> User:
    """A signed-in user changes their password: every other session ends, every reset link dies.

    The current password is checked with the same throttling as sign-in, so a stolen
    session cannot guess it endlessly.
    """
    now = now or utcnow()
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        raise AccountError("credentials_invalid", "Sign in again to change your password.")
    ensure_not_throttled(session, email=user.email, ip_address=ip_address, now=now, field="current_password")
    if not verify_password(user.password_hash, current_password or ""):
        record_attempt(session, email=user.email, ip_address=ip_address, succeeded=False, now=now)
        raise AccountError("credentials_invalid", "Your current password is not right.", "current_password")
    validate_password(new_password, user.email)
    user.password_hash = hash_password(new_password)
    session.add(user)
    revoke_all_sessions(session, user.id, now, except_token=keep_session_token)
    invalidate_reset_links(session, user.id, now)
    session.flush()
    return user


# --- maintenance (jobs) -------------------------------------------------------------


def purge_expired(session: Session, now: datetime | None = None) -> dict[str, int]:
    """Delete expired or revoked sessions, spent tokens and old sign-in attempts."""
    now = now or utcnow()
    retention = timedelta(days=get_settings().jobs_login_attempt_retention_days)
    sessions = session.execute(
        delete(UserSession).where(or_(UserSession.expires_at <= now, UserSession.revoked_at.is_not(None)))
    ).rowcount
    tokens = session.execute(
        delete(AuthToken).where(or_(AuthToken.expires_at <= now, AuthToken.used_at.is_not(None)))
    ).rowcount
    attempts = session.execute(delete(LoginAttempt).where(LoginAttempt.created_at < now - retention)).rowcount
    session.commit()
    return {"sessions": sessions, "tokens": tokens, "login_attempts": attempts}


# --- admin reads -------------------------------------------------------------------------


def list_users(session: Session, *, limit: int = 100, offset: int = 0) -> list[dict]:
    rows = session.execute(select(User).order_by(User.created_at.desc()).limit(limit).offset(offset)).scalars().all()
    return [
        {
            "id": user.id,
            "email": user.email,
            "full_name": user.full_name,
            "role": user.role,
            "is_active": user.is_active,
            "created_at": user.created_at.strftime("%Y-%m-%d"),
            "last_login": user.last_login_at.strftime("%Y-%m-%d %H:%M UTC") if user.last_login_at else "never",
        }
        for user in rows
    ]
