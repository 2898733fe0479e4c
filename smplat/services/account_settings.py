"""Account → Settings: a signed-in customer's name, email address and signed-in devices.

- The name changes at once.
- An email change needs the current password; a one-time link goes to the NEW address and
  nothing changes until it is opened there (the old address is then told). Asking again
  spends the earlier link.
- The password change is `accounts.change_password` (other sessions end, reset links die).
- Sessions: the user's live sessions with device, IP and times; any other one can be ended,
  or all of them but this one.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlmodel import Session

from smplat.models.accounts import AttemptKind, AuthToken, TokenPurpose, User, UserSession
from smplat.models.base import utcnow
from smplat.services import accounts, rate_limits
from smplat.services.accounts import AccountError
from smplat.settings import get_settings

log = logging.getLogger(__name__)

NAME_MAX_LENGTH = 200
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


# --- name ---------------------------------------------------------------------------------


def change_name(session: Session, *, user_id: int, full_name: str) -> User:
    """Set the display name (empty is allowed: the email's first part is shown instead)."""
    name = " ".join((full_name or "").split())
    if len(name) > NAME_MAX_LENGTH:
        raise AccountError("name_too_long", f"Use at most {NAME_MAX_LENGTH} characters for your name.", "full_name")
    if _CONTROL_RE.search(name):
        raise AccountError("name_invalid", "Use letters, spaces and punctuation only.", "full_name")
    user = _active_user(session, user_id)
    user.full_name = name
    user.updated_at = utcnow()
    session.add(user)
    session.flush()
    return user


def _active_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        raise AccountError("credentials_invalid", "Sign in again to change your settings.")
    return user


# --- email ----------------------------------------------------------------------------------


def _email_change_url(raw: str) -> str:
    return f"{get_settings().public_base_url.rstrip('/')}/confirm-email?token={raw}"


def request_email_change(
    session: Session,
    *,
    user_id: int,
    new_email: str,
    current_password: str,
    ip_address: str = "",
    now: datetime | None = None,
) -> str:
    """Send a confirmation link to `new_email`; returns the raw token (tests). Nothing about the
    account changes now. Raises AccountError (field `new_email` / `current_password`),
    SignInThrottled or RateLimited; a wrong password is recorded like a failed sign-in."""
    from smplat.services.email import send_email_change_link

    now = now or utcnow()
    user = _active_user(session, user_id)
    email = accounts.validate_email(new_email)
    if email == user.email:
        raise AccountError("email_unchanged", "That is already your email address.", "new_email")
    accounts.ensure_not_throttled(session, email=user.email, ip_address=ip_address, now=now, field="current_password")
    if not accounts.verify_password(user.password_hash, current_password or ""):
        accounts.record_attempt(
            session, email=user.email, ip_address=ip_address, succeeded=False, kind=AttemptKind.PASSWORD, now=now
        )
        raise AccountError("credentials_invalid", "Your current password is not right.", "current_password")
    if session.execute(select(User.id).where(User.email == email)).first() is not None:
        raise AccountError("email_taken", "Another account uses that email address.", "new_email")
    rate_limits.hit("email_change_user", str(user.id))
    _spend_email_change_links(session, user.id, now)
    raw = accounts.new_token()
    ttl = get_settings().email_change_ttl_minutes
    session.add(
        AuthToken(
            user_id=user.id,
            purpose=TokenPurpose.EMAIL_CHANGE.value,
            token_hash=accounts.hash_token(raw),
            new_email=email,
            created_at=now,
            expires_at=now + timedelta(minutes=ttl),
        )
    )
    session.commit()  # the link must work once the email is out
    send_email_change_link(email, user.email, _email_change_url(raw), ttl, session=session, user_id=user.id)
    return raw


def _spend_email_change_links(session: Session, user_id: int, now: datetime) -> int:
    return session.execute(
        update(AuthToken)
        .where(
            AuthToken.user_id == user_id,
            AuthToken.purpose == TokenPurpose.EMAIL_CHANGE.value,
            AuthToken.used_at.is_(None),
        )
        .values(used_at=now)
    ).rowcount


def pending_email(session: Session, user_id: int, now: datetime | None = None) -> str:
    """The address waiting for confirmation ("" when none)."""
    now = now or utcnow()
    return (
        session.execute(
            select(AuthToken.new_email)
            .where(
                AuthToken.user_id == user_id,
                AuthToken.purpose == TokenPurpose.EMAIL_CHANGE.value,
                AuthToken.used_at.is_(None),
                AuthToken.expires_at > now,
            )
            .order_by(AuthToken.id.desc())
        ).scalar()
        or ""
    )


@dataclass(frozen=True)
class EmailChanged:
    user_id: int
    old_email: str
    new_email: str


def confirm_email_change(session: Session, raw_token: str, now: datetime | None = None) -> EmailChanged:
    """Open the link: the account's address becomes the new one (verified: guest orders paid
    with it are attached), the old one is told.

    Whoever opens the link proves they read the new mailbox; no session is needed. The old
    address's unused reset links are spent (they were sent to a mailbox that no longer signs in).
    """
    from smplat.services.email import send_email_changed_notice

    now = now or utcnow()
    token = accounts._redeem_token(session, raw_token, TokenPurpose.EMAIL_CHANGE, now)
    invalid = AccountError("email_link_invalid", "This link has expired or was already used. Ask for a new one.")
    if token is None or not token.new_email:
        raise invalid
    user = session.get(User, token.user_id)
    if user is None or not user.is_active:
        raise invalid
    if session.execute(select(User.id).where(User.email == token.new_email, User.id != user.id)).first():
        raise AccountError("email_taken", "Another account took that email address meanwhile.")
    from smplat.services.order_tracking import attach_guest_orders

    old_email = user.email
    user.email = token.new_email
    user.updated_at = now
    user.email_verified_at = now  # opening the link proved the new mailbox
    session.add(user)
    session.flush()
    accounts.invalidate_reset_links(session, user.id, now)
    _spend_email_change_links(session, user.id, now)
    attach_guest_orders(session, user)  # guest orders paid with the new address are theirs
    session.commit()
    try:
        send_email_changed_notice(old_email, token.new_email, session=session, user_id=user.id)
    except Exception:  # the change is done; a lost notice must not undo it
        log.exception("could not tell %s about the email change of user %s", old_email, user.id)
    return EmailChanged(user.id, old_email, token.new_email)


# --- sessions -------------------------------------------------------------------------------


def device_label(user_agent: str) -> str:
    """'Firefox on Windows', 'Safari on iPhone', or 'Unknown device' (a hint, never a rule)."""
    ua = user_agent or ""
    browser = next(
        (
            name
            for marker, name in (
                ("Edg/", "Edge"),
                ("OPR/", "Opera"),
                ("Firefox/", "Firefox"),
                ("FxiOS", "Firefox"),
                ("CriOS", "Chrome"),
                ("Chrome/", "Chrome"),
                ("Safari/", "Safari"),
                ("curl/", "curl"),
                ("python", "Script"),
            )
            if marker in ua
        ),
        "",
    )
    system = next(
        (
            name
            for marker, name in (
                ("iPhone", "iPhone"),
                ("iPad", "iPad"),
                ("Android", "Android"),
                ("Windows", "Windows"),
                ("Mac OS X", "macOS"),
                ("Linux", "Linux"),
            )
            if marker in ua
        ),
        "",
    )
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or "Unknown device"


def _live(now: datetime) -> list:
    idle_cutoff = now - timedelta(minutes=get_settings().session_idle_timeout_minutes)
    return [
        UserSession.revoked_at.is_(None),
        UserSession.expires_at > now,
        or_(
            UserSession.last_seen_at > idle_cutoff,
            and_(UserSession.last_seen_at.is_(None), UserSession.created_at > idle_cutoff),
        ),
    ]


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "—"


def list_sessions(
    session: Session, *, user_id: int, current_token: str | None, now: datetime | None = None
) -> list[dict[str, str | int | bool]]:
    """The user's live sessions, this device first, then the most recently used."""
    now = now or utcnow()
    current_hash = accounts.hash_token(current_token) if current_token else ""
    rows = session.execute(select(UserSession).where(UserSession.user_id == user_id, *_live(now))).scalars().all()
    listed = [
        {
            "id": row.id,
            "device": device_label(row.user_agent),
            "user_agent": (row.user_agent or "")[:160],
            "ip": row.ip_address or "unknown",
            "signed_in_at": _when(row.created_at),
            "last_seen": _when(row.last_seen_at or row.created_at),
            "current": row.token_hash == current_hash,
            "_seen": (row.last_seen_at or row.created_at).timestamp(),
        }
        for row in rows
    ]
    listed.sort(key=lambda r: (not r["current"], -r["_seen"]))
    for row in listed:
        del row["_seen"]
    return listed


def sign_out_session(
    session: Session, *, user_id: int, session_id: int, current_token: str | None, now: datetime | None = None
) -> None:
    """End one of the user's OTHER sessions. Someone else's, a missing one and this device's
    own are refused alike (this device signs out with "Sign out")."""
    now = now or utcnow()
    current_hash = accounts.hash_token(current_token) if current_token else ""
    result = session.execute(
        update(UserSession)
        .where(
            UserSession.id == session_id,
            UserSession.user_id == user_id,
            UserSession.token_hash != current_hash,
            UserSession.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    if result.rowcount != 1:
        raise AccountError("session_not_found", "That session is not one of your other signed-in devices.")


def sign_out_everywhere_else(
    session: Session, *, user_id: int, current_token: str | None, now: datetime | None = None
) -> int:
    """End every session of the user but this device's; returns how many ended."""
    if not current_token:
        raise AccountError("credentials_invalid", "Sign in again to change your settings.")
    return accounts.revoke_all_sessions(session, user_id, now or utcnow(), except_token=current_token)
