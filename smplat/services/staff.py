"""Staff accounts: who is an operator or an admin, role changes and deactivation (admins only).

Every change is checked here (`MANAGE_STAFF`), written to the audit log in the same
transaction, and ends the target's sessions, so a demoted or deactivated user keeps no
signed-in browser with the old role. The shop always keeps one active admin: the last
one cannot be demoted or deactivated (by themselves or anyone).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from smplat.models.accounts import Role, User
from smplat.models.base import utcnow
from smplat.services import accounts, audit
from smplat.services.errors import ErrorCode, ServiceError
from smplat.services.permissions import Permission

STAFF_ROLES = (Role.OPERATOR.value, Role.ADMIN.value)
LAST_ADMIN = "The shop needs at least one active admin; make someone else an admin first."


class StaffError(ServiceError):
    default_code = ErrorCode.INVALID


def _row(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "name": user.full_name,
        "role": user.role,
        "active": bool(user.is_active),
        "status": "active" if user.is_active else "deactivated",
        "last_login": user.last_login_at.strftime("%Y-%m-%d %H:%M UTC") if user.last_login_at else "never",
    }


def list_staff(session: Session, limit: int = 500) -> list[dict[str, Any]]:
    """Operators and admins (active first, then by email): one query."""
    users = session.execute(
        select(User).where(User.role.in_(STAFF_ROLES)).order_by(User.is_active.desc(), User.email).limit(limit)
    ).scalars()
    return [_row(u) for u in users]


def _target(session: Session, who: int | str) -> User:
    if isinstance(who, int) or (isinstance(who, str) and who.isdigit()):
        user = session.get(User, int(who))
    else:
        email = accounts.normalize_email(str(who))
        user = session.execute(select(User).where(User.email == email)).scalars().first() if email else None
    if user is None:
        raise StaffError("No account with that email.", code=ErrorCode.NOT_FOUND, field="email")
    return user


def _other_active_admins(session: Session, user_id: int) -> int:
    """Active admins other than `user_id` (their rows locked on PostgreSQL, so two admins
    demoting each other at once cannot leave none)."""
    query = select(User.id).where(User.role == Role.ADMIN.value, User.is_active.is_(True), User.id != user_id)
    if session.get_bind().dialect.name == "postgresql":
        return len(session.execute(query.with_for_update()).all())
    return session.execute(select(func.count()).select_from(query.subquery())).scalar_one()


def _keeps_an_admin(session: Session, user: User) -> None:
    if user.role == Role.ADMIN.value and user.is_active and _other_active_admins(session, user.id) == 0:
        raise StaffError(LAST_ADMIN, code=ErrorCode.NOT_ALLOWED, field="role")


def change_role(session: Session, actor: audit.Actor, who: int | str, role: str) -> User:
    """Make a user a customer, an operator or an admin; their sessions end."""
    audit.require(actor, Permission.MANAGE_STAFF, "staff.role", "user", who)
    try:
        new_role = Role(str(role))
    except ValueError:
        raise StaffError("Choose customer, operator or admin.", field="role") from None
    user = _target(session, who)
    if user.role == new_role.value:
        raise StaffError(f"{user.email} is already {new_role.value}.", code=ErrorCode.CONFLICT, field="role")
    if new_role != Role.ADMIN:
        _keeps_an_admin(session, user)
    before = {"role": user.role}
    now = utcnow()
    user.role, user.updated_at = new_role.value, now
    session.add(user)
    ended = accounts.revoke_all_sessions(session, user.id, now)
    session.flush()
    audit.record(
        session,
        actor,
        "staff.role",
        "user",
        user.id,
        before=before,
        after={"role": user.role},
        data={"email": user.email, "sessions_ended": ended},
    )
    return user


def set_active(session: Session, actor: audit.Actor, who: int | str, active: bool) -> User:
    """Deactivate (sign-in refused, sessions ended) or reactivate a staff account."""
    action = "staff.activate" if active else "staff.deactivate"
    audit.require(actor, Permission.MANAGE_STAFF, action, "user", who)
    user = _target(session, who)
    if bool(user.is_active) == bool(active):
        state = "active" if active else "deactivated"
        raise StaffError(f"{user.email} is already {state}.", code=ErrorCode.CONFLICT)
    if not active:
        _keeps_an_admin(session, user)
    now = utcnow()
    user.is_active, user.updated_at = bool(active), now
    session.add(user)
    ended = 0 if active else accounts.revoke_all_sessions(session, user.id, now)
    session.flush()
    audit.record(
        session,
        actor,
        action,
        "user",
        user.id,
        before={"is_active": not active},
        after={"is_active": bool(active)},
        data={"email": user.email, "sessions_ended": ended},
    )
    return user
