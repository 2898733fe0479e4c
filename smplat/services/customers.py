"""Admin → Customers: search accounts, one customer's page (orders, spend, notes, sessions,
linked profiles), internal notes. Role changes go through `staff.change_role` (admins only).

Every read is a fixed number of statements: the list aggregates orders per page of users in
one grouped query; the customer page reads each section once.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlmodel import Session

from smplat.models.accounts import CustomerNote, User, UserSession
from smplat.models.base import utcnow
from smplat.models.orders import Order
from smplat.models.profiles import LinkedProfile
from smplat.services import audit
from smplat.services.account_settings import device_label
from smplat.services.errors import ErrorCode, ServiceError
from smplat.services.money import format_money
from smplat.services.permissions import Permission

PAGE_SIZE = 50
NOTE_MAX = 2000


def _when(moment: datetime | None, *, with_time: bool = True) -> str:
    if moment is None:
        return "—"
    return moment.strftime("%Y-%m-%d %H:%M UTC" if with_time else "%Y-%m-%d")


def _spend_text(by_currency: dict[str, int]) -> str:
    if not by_currency:
        return "—"
    return " + ".join(format_money(amount, currency) for currency, amount in sorted(by_currency.items()))


def _order_totals(session: Session, user_ids: list[int]) -> tuple[dict[int, int], dict[int, dict[str, int]]]:
    """Orders placed and net spend (charged - refunded) per user and currency, in one query."""
    counts: dict[int, int] = defaultdict(int)
    spend: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    if not user_ids:
        return counts, spend
    rows = session.execute(
        select(
            Order.user_id,
            Order.currency,
            func.count(Order.id),
            func.coalesce(func.sum(Order.charged_minor - Order.refunded_minor), 0),
        )
        .where(Order.user_id.in_(user_ids), Order.placed_at.is_not(None))
        .group_by(Order.user_id, Order.currency)
    ).all()
    for user_id, currency, count, net in rows:
        counts[user_id] += int(count)
        if net:
            spend[user_id][currency] += int(net)
    return counts, spend


def search(session: Session, query: str = "", *, before_id: int | None = None, limit: int = PAGE_SIZE) -> dict:
    """Accounts matching `query` (part of an email or name, or an order number), newest first,
    in keyset pages: pass the last row's id as `before_id` for the next page."""
    query = (query or "").strip()[:200]
    stmt = select(User).order_by(User.id.desc()).limit(limit + 1)
    if query:
        like = f"%{query.lower()}%"
        by_order = select(Order.user_id).where(Order.number == query.upper(), Order.user_id.is_not(None))
        stmt = stmt.where(
            or_(func.lower(User.email).like(like), func.lower(User.full_name).like(like), User.id.in_(by_order))
        )
    if before_id:
        stmt = stmt.where(User.id < int(before_id))
    users = list(session.execute(stmt).scalars())
    more = len(users) > limit
    users = users[:limit]
    counts, spend = _order_totals(session, [u.id for u in users])
    rows = [
        {
            "id": user.id,
            "email": user.email,
            "full_name": user.full_name or "—",
            "role": user.role,
            "is_active": user.is_active,
            "orders": counts.get(user.id, 0),
            "spend": _spend_text(spend.get(user.id, {})),
            "created_at": _when(user.created_at, with_time=False),
            "last_login": _when(user.last_login_at) if user.last_login_at else "never",
        }
        for user in users
    ]
    return {"rows": rows, "next_before": users[-1].id if more and users else None}


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, int(user_id)) if str(user_id).isdigit() else None
    if user is None:
        raise ServiceError("No such customer.", code=ErrorCode.NOT_FOUND)
    return user


def detail(session: Session, user_id: int, *, order_limit: int = 50, now: datetime | None = None) -> dict[str, Any]:
    """Everything the customer page shows, in six statements."""
    now = now or utcnow()
    user = _user(session, user_id)
    counts, spend = _order_totals(session, [user.id])
    orders = session.execute(
        select(Order)
        .where(Order.user_id == user.id)
        .order_by(Order.created_at.desc(), Order.id.desc())
        .limit(order_limit)
    ).scalars()
    order_rows = [
        {
            "number": order.number,
            "status": order.status,
            "payment_status": order.payment_status,
            "total": format_money(order.total_minor, order.currency),
            "refunded": format_money(order.refunded_minor, order.currency) if order.refunded_minor else "",
            "placed_at": _when(order.placed_at or order.created_at),
        }
        for order in orders
    ]
    last_order = session.execute(select(func.max(Order.placed_at)).where(Order.user_id == user.id)).scalar()
    notes = session.execute(
        select(CustomerNote)
        .where(CustomerNote.user_id == user.id)
        .order_by(CustomerNote.created_at.desc(), CustomerNote.id.desc())
    ).scalars()
    sessions = session.execute(
        select(UserSession).where(UserSession.user_id == user.id).order_by(UserSession.created_at.desc()).limit(20)
    ).scalars()
    profiles = session.execute(
        select(LinkedProfile).where(LinkedProfile.user_id == user.id).order_by(LinkedProfile.created_at)
    ).scalars()
    placed = counts.get(user.id, 0)
    net = spend.get(user.id, {})
    average = {currency: amount // placed for currency, amount in net.items()} if placed else {}
    return {
        "id": user.id,
        "email": user.email,
        "full_name": user.full_name or "—",
        "role": user.role,
        "is_active": user.is_active,
        "verified": user.email_verified_at is not None,
        "two_factor": user.two_factor_enabled_at is not None,
        "created_at": _when(user.created_at),
        "last_login": _when(user.last_login_at) if user.last_login_at else "never",
        "orders_count": placed,
        "spend": _spend_text(net),
        "average_order": _spend_text(average),
        "last_order": _when(last_order) if last_order else "never",
        "orders": order_rows,
        "notes": [
            {"id": note.id, "author": note.author_label, "body": note.body, "at": _when(note.created_at)}
            for note in notes
        ],
        "sessions": [
            {
                "device": device_label(row.user_agent),
                "ip": row.ip_address or "unknown",
                "signed_in_at": _when(row.created_at),
                "last_seen": _when(row.last_seen_at or row.created_at),
                "state": "signed out"
                if row.revoked_at is not None
                else ("expired" if row.expires_at <= now else "active"),
            }
            for row in sessions
        ],
        "profiles": [
            {
                "platform": profile.platform,
                "handle": "@" + profile.handle,
                "status": profile.status,
                "last_refreshed": _when(profile.last_refreshed_at),
            }
            for profile in profiles
        ],
    }


def add_note(session: Session, actor: audit.Actor, user_id: int, body: str) -> CustomerNote:
    """An internal note on the customer's page; audited."""
    audit.require(actor, Permission.VIEW_CUSTOMERS, "customer.note", "user", user_id)
    text = (body or "").strip()
    if not text:
        raise ServiceError("Write the note first.", code=ErrorCode.REQUIRED, field="note")
    if len(text) > NOTE_MAX:
        raise ServiceError(f"A note holds at most {NOTE_MAX} characters.", field="note")
    user = _user(session, user_id)
    note = CustomerNote(user_id=user.id, author_user_id=actor.user_id, author_label=actor.label, body=text)
    session.add(note)
    session.flush()
    audit.record(session, actor, "customer.note", "user", user.id, after={"note": text}, data={"email": user.email})
    return note
