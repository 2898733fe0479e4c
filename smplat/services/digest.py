"""The weekly digest: each customer's last complete ISO week (Monday 00:00 UTC to Monday),
in numbers, queued as one `weekly_digest` notification per customer and week.

The event key `weekly_digest:user:<id>:<ISO year>-W<week>` makes it idempotent: the job may
run every hour, a week is sent once. Customers who turned the digest off, and customers with
nothing to say (no order placed or completed, nothing delivered, no refill, no follower
change), are skipped without a row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlmodel import Session

from smplat.models.accounts import Role, User
from smplat.models.orders import Order, OrderEvent, OrderEventKind, OrderItem, OrderStatus
from smplat.models.profiles import LinkedProfile, ProfileSnapshot
from smplat.models.providers import ProviderOrder, Refill, RefillStatus
from smplat.services import notifications
from smplat.services.notifications import NotificationKind


@dataclass(frozen=True)
class Week:
    start: datetime  # Monday 00:00 UTC, inclusive
    end: datetime  # the next Monday, exclusive
    label: str  # "2026-W48"


def last_complete_week(now: datetime) -> Week:
    """The ISO week that ended most recently before `now` (aware UTC)."""
    monday = datetime.combine((now - timedelta(days=now.weekday())).date(), time(0), tzinfo=now.tzinfo)
    start = monday - timedelta(days=7)
    year, week, _ = start.isocalendar()
    return Week(start, monday, f"{year}-W{week:02d}")


def week_summary(session: Session, user_id: int, week: Week) -> dict:
    """The customer's numbers for `week`: orders placed, orders completed, units delivered
    (what providers reported done that week), refills completed, and each linked profile's
    followers at the end of the week with the change over it."""
    from smplat.services.fulfillment.status_sync import _delivered

    in_week = lambda column: (column >= week.start) & (column < week.end)  # noqa: E731
    placed = session.execute(select(Order.id).where(Order.user_id == user_id, in_week(Order.created_at))).all()
    events = session.execute(
        select(OrderEvent.order_id, OrderEvent.data)
        .join(Order, Order.id == OrderEvent.order_id)
        .where(
            Order.user_id == user_id,
            OrderEvent.kind == OrderEventKind.STATUS_CHANGED.value,
            in_week(OrderEvent.created_at),
        )
    ).all()
    completed = {
        order_id
        for order_id, data in events
        if (data or {}).get("scope") == "order" and (data or {}).get("to") == OrderStatus.COMPLETED.value
    }
    provider_orders = session.execute(
        select(ProviderOrder)
        .join(OrderItem, OrderItem.id == ProviderOrder.order_item_id)
        .join(Order, Order.id == OrderItem.order_id)
        .where(Order.user_id == user_id, ProviderOrder.completed_at.is_not(None), in_week(ProviderOrder.completed_at))
    ).scalars()
    delivered = sum(_delivered(po) for po in provider_orders)
    refills = session.execute(
        select(Refill.id)
        .join(ProviderOrder, ProviderOrder.id == Refill.provider_order_id)
        .join(OrderItem, OrderItem.id == ProviderOrder.order_item_id)
        .join(Order, Order.id == OrderItem.order_id)
        .where(Order.user_id == user_id, Refill.status == RefillStatus.COMPLETED.value, in_week(Refill.updated_at))
    ).all()
    profiles = []
    for profile in session.execute(
        select(LinkedProfile).where(LinkedProfile.user_id == user_id).order_by(LinkedProfile.id)
    ).scalars():
        snaps = list(
            session.execute(
                select(ProfileSnapshot.taken_at, ProfileSnapshot.followers)
                .where(ProfileSnapshot.profile_id == profile.id, ProfileSnapshot.taken_at < week.end)
                .order_by(ProfileSnapshot.taken_at)
            ).all()
        )
        if not snaps or snaps[-1][0] < week.start:
            continue  # nothing measured this week
        before = [s for s in snaps if s[0] < week.start]
        base = before[-1][1] if before else snaps[0][1]
        change = snaps[-1][1] - base
        profiles.append(
            {
                "handle": profile.handle,
                "platform": profile.platform.capitalize(),
                "followers": f"{snaps[-1][1]:,}",
                "change": f"{change:+,}",
                "change_value": change,
            }
        )
    return {
        "orders_placed": len(placed),
        "orders_completed": len(completed),
        "delivered_units": delivered,
        "refills_done": len(refills),
        "profiles": profiles,
    }


def has_news(summary: Mapping) -> bool:
    return bool(
        summary["orders_placed"]
        or summary["orders_completed"]
        or summary["delivered_units"]
        or summary["refills_done"]
        or any(p["change_value"] for p in summary["profiles"])
    )


def send_weekly_digests(session_factory, now: datetime) -> dict[str, int]:
    """Queue last week's digest for every active customer with something to say (the job)."""
    week = last_complete_week(now)
    counts = {"queued": 0, "already_sent": 0, "opted_out": 0, "nothing_to_say": 0}
    with session_factory() as session:
        user_ids = list(
            session.execute(
                select(User.id).where(User.role == Role.CUSTOMER.value, User.is_active.is_(True)).order_by(User.id)
            ).scalars()
        )
    for user_id in user_ids:  # one unit of work per customer: one failure does not undo the others
        with session_factory() as session:
            key = f"weekly_digest:user:{user_id}:{week.label}"
            if notifications._existing(session, key) is not None:
                counts["already_sent"] += 1
                continue
            if not notifications.is_enabled(session, user_id, NotificationKind.WEEKLY_DIGEST):
                counts["opted_out"] += 1
                continue
            summary = week_summary(session, user_id, week)
            if not has_news(summary):
                counts["nothing_to_say"] += 1
                continue
            user = session.get(User, user_id)
            context = {
                **summary,
                "delivered_units": f"{summary['delivered_units']:,}",
                "name": user.full_name or user.email.split("@")[0],
                "week_label": f"{week.start:%d %b} – {(week.end - timedelta(days=1)):%d %b %Y}",
            }
            notifications.notify(
                session, NotificationKind.WEEKLY_DIGEST, user=user, context=context, event_key=key, now=now
            )
            counts["queued"] += 1
    return counts
