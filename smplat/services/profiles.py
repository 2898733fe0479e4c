"""Linked social profiles: link/unlink (owner-checked), snapshot refreshes with back-off, chart data.

A customer links an Instagram handle; the link takes a first snapshot at once (or stores the
reason it could not: unknown, private, rate limited) and the `profile_refresh` job takes one
per profile every `jobs_profile_refresh_interval_seconds`, at most `profile_refresh_max_calls`
Graph API calls per run, stopping early when the API reports most of its budget used. A
failing profile waits `profile_backoff_base_seconds`, doubling per failure up to
`profile_backoff_max_seconds`. Orders are matched to a profile by the link they were
delivered to (`delivery.link` in the order item's snapshot), so charts can mark them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from smplat.integrations import instagram
from smplat.models.orders import Order, OrderItem, OrderStatus
from smplat.models.profiles import LinkedProfile, ProfilePlatform, ProfileSnapshot, ProfileStatus
from smplat.services.errors import ErrorCode, ServiceError
from smplat.services.jobs import SessionFactory
from smplat.settings import get_settings

PLATFORM_LABELS = {"instagram": "Instagram", "tiktok": "TikTok", "youtube": "YouTube"}
STATUS_LABELS = {
    ProfileStatus.PENDING.value: "Waiting for the first numbers",
    ProfileStatus.OK.value: "Up to date",
    ProfileStatus.UNKNOWN.value: "Account not found",
    ProfileStatus.PRIVATE.value: "Private account",
    ProfileStatus.RATE_LIMITED.value: "Instagram is busy",
    ProfileStatus.ERROR.value: "Could not update",
}
# What "order for this profile" opens when the profile has no order to repeat yet.
DEFAULT_PRODUCT = {"instagram": "instagram-followers", "tiktok": "tiktok-followers", "youtube": "youtube-subscribers"}
MAX_PROFILES_PER_USER = 20
SPARKLINE_DAYS = 30
COMPARISON_DAYS = 7
ClientFactory = Callable[[], instagram.InstagramClient]


# --- owning and linking -------------------------------------------------------------


def list_profiles(session: Session, user_id: int) -> list[LinkedProfile]:
    return list(
        session.execute(
            select(LinkedProfile).where(LinkedProfile.user_id == user_id).order_by(LinkedProfile.id)
        ).scalars()
    )


def owned_profile(session: Session, user_id: int, profile_id: Any) -> LinkedProfile:
    """The customer's own profile; another customer's id, or none, is simply not found."""
    try:
        wanted = int(profile_id)
    except (TypeError, ValueError):
        wanted = 0
    profile = session.get(LinkedProfile, wanted) if wanted > 0 else None
    if profile is None or profile.user_id != user_id:
        raise ServiceError("That profile was not found.", code=ErrorCode.NOT_FOUND, field="profile")
    return profile


def link_profile(
    session: Session,
    user_id: int,
    platform: str,
    raw_handle: str,
    now: datetime,
    client_factory: ClientFactory | None = None,
) -> LinkedProfile:
    """Link `@handle` to the customer's account and take its first snapshot (committed).

    Linking an account already linked answers the existing row. The first refresh's outcome
    (numbers, or why there are none) is on the returned row."""
    if platform not in ProfilePlatform.values():
        raise ServiceError("Choose Instagram, TikTok or YouTube.", field="platform")
    if platform != ProfilePlatform.INSTAGRAM.value:
        raise ServiceError(
            f"{PLATFORM_LABELS[platform]} profiles can't be followed yet; Instagram can.",
            code=ErrorCode.NOT_ALLOWED,
            field="platform",
        )
    handle = instagram.normalize_handle(raw_handle)
    if not handle:
        raise ServiceError("Enter an Instagram username such as @yourbrand or a link to the profile.", field="handle")
    existing = session.execute(
        select(LinkedProfile).where(
            LinkedProfile.user_id == user_id, LinkedProfile.platform == platform, LinkedProfile.handle == handle
        )
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    if len(list_profiles(session, user_id)) >= MAX_PROFILES_PER_USER:
        raise ServiceError(
            f"You can link up to {MAX_PROFILES_PER_USER} profiles; unlink one first.",
            code=ErrorCode.NOT_ALLOWED,
            field="handle",
        )
    profile = LinkedProfile(user_id=user_id, platform=platform, handle=handle, created_at=now)
    session.add(profile)
    try:
        session.commit()
    except IntegrityError:  # the same link from another tab at the same moment
        session.rollback()
        return session.execute(
            select(LinkedProfile).where(
                LinkedProfile.user_id == user_id, LinkedProfile.platform == platform, LinkedProfile.handle == handle
            )
        ).scalar_one()
    with (client_factory or instagram.client_from_settings)() as client:
        outcome = _fetch(client, profile.handle)
    apply_outcome(session, profile, outcome, now)
    session.commit()
    return profile


def unlink_profile(session: Session, user_id: int, profile_id: Any) -> None:
    profile = owned_profile(session, user_id, profile_id)
    session.execute(delete(ProfileSnapshot).where(ProfileSnapshot.profile_id == profile.id))
    session.delete(profile)
    session.commit()


# --- refreshing -------------------------------------------------------------------------


def _fetch(client: instagram.InstagramClient, handle: str) -> instagram.ProfileNumbers | instagram.InstagramError:
    try:
        return client.fetch_profile(handle)
    except instagram.InstagramError as exc:
        return exc


def backoff_delay(failures: int) -> timedelta:
    """Wait after the `failures`-th failure in a row: base, 2 x base, 4 x base, ... up to the max."""
    settings = get_settings()
    seconds = settings.profile_backoff_base_seconds * 2 ** max(0, failures - 1)
    return timedelta(seconds=min(seconds, settings.profile_backoff_max_seconds))


def apply_outcome(
    session: Session,
    profile: LinkedProfile,
    outcome: instagram.ProfileNumbers | instagram.InstagramError,
    now: datetime,
) -> None:
    """Store one refresh: a snapshot and the next regular refresh, or the reason and a back-off."""
    if isinstance(outcome, instagram.InstagramError):
        profile.status = outcome.kind
        profile.status_message = outcome.message[:500]
        profile.consecutive_failures += 1
        profile.next_refresh_at = now + backoff_delay(profile.consecutive_failures)
    else:
        session.add(
            ProfileSnapshot(
                profile_id=profile.id,
                taken_at=now,
                followers=outcome.followers,
                following=outcome.following,
                posts=outcome.posts,
                engagement_rate_bps=outcome.engagement_rate_bps,
                reach=outcome.reach,
            )
        )
        profile.status, profile.status_message, profile.consecutive_failures = ProfileStatus.OK.value, "", 0
        profile.display_name = outcome.display_name[:200]
        profile.last_refreshed_at = now
        profile.next_refresh_at = now + timedelta(seconds=get_settings().jobs_profile_refresh_interval_seconds)
    session.add(profile)


def refresh_due_profiles(
    session_factory: SessionFactory, now: datetime, client_factory: ClientFactory | None = None
) -> dict[str, int]:
    """The job: refresh profiles that are due, oldest first, within the API's call budget.

    Each profile's result is written in its own transaction (one failing write does not lose
    the others); the Graph API call happens outside any transaction."""
    settings = get_settings()
    counts = {"due": 0, "refreshed": 0, "failed": 0, "rate_limited": 0, "stopped_early": 0}
    with session_factory() as session:
        due = list(
            session.execute(
                select(LinkedProfile.id, LinkedProfile.handle)
                .where(
                    LinkedProfile.platform == ProfilePlatform.INSTAGRAM.value,
                    (LinkedProfile.next_refresh_at.is_(None)) | (LinkedProfile.next_refresh_at <= now),
                )
                .order_by(LinkedProfile.next_refresh_at.is_not(None), LinkedProfile.next_refresh_at, LinkedProfile.id)
                .limit(settings.profile_refresh_max_calls)
            ).all()
        )
    counts["due"] = len(due)
    if not due:
        return counts
    with (client_factory or instagram.client_from_settings)() as client:
        for profile_id, handle in due:
            if client.usage_percent >= settings.profile_refresh_usage_stop_percent:
                counts["stopped_early"] = 1
                break
            outcome = _fetch(client, handle)
            with session_factory() as session:
                profile = session.get(LinkedProfile, profile_id)
                if profile is None:  # unlinked meanwhile
                    continue
                apply_outcome(session, profile, outcome, now)
                session.commit()
            if isinstance(outcome, instagram.InstagramError):
                counts["failed"] += 1
                if outcome.kind == ProfileStatus.RATE_LIMITED.value:
                    counts["rate_limited"] += 1
                    counts["stopped_early"] = 1
                    break  # the limit is the app's: the other profiles would be refused too
            else:
                counts["refreshed"] += 1
    return counts


# --- what the pages show -----------------------------------------------------------------


@dataclass(frozen=True)
class OrderMark:
    number: str
    product_slug: str
    title: str
    quantity: int
    status: str
    at: datetime  # completion (last change of a finished line) or placement
    completed: bool


@dataclass(frozen=True)
class Comparison:
    number: str
    title: str
    before: int | None  # followers 7 days before completion
    at: int | None  # followers at completion
    after: int | None  # followers 7 days after completion (or now, if that is sooner)


@dataclass
class ProfileChart:
    profile: LinkedProfile
    snapshots: list[ProfileSnapshot] = field(default_factory=list)
    orders: list[OrderMark] = field(default_factory=list)
    comparisons: list[Comparison] = field(default_factory=list)


def _link_handle(snapshot: dict[str, Any]) -> tuple[str, str]:
    delivery = snapshot.get("delivery") if isinstance(snapshot, dict) else None
    link = str((delivery or {}).get("link") or "")
    platform = str((delivery or {}).get("channel") or (snapshot.get("product") or {}).get("platform") or "")
    return platform, instagram.normalize_handle(link)


def orders_for_profile(session: Session, profile: LinkedProfile) -> list[OrderMark]:
    """The customer's order lines delivered to this profile, oldest first (one query)."""
    rows = session.execute(
        select(
            Order.number,
            Order.placed_at,
            Order.created_at,
            OrderItem.product_title,
            OrderItem.service_quantity,
            OrderItem.status,
            OrderItem.updated_at,
            OrderItem.snapshot,
        )
        .join(Order, Order.id == OrderItem.order_id)
        .where(Order.user_id == profile.user_id)
        .order_by(Order.created_at, OrderItem.id)
    ).all()
    finished = {OrderStatus.COMPLETED.value, OrderStatus.PARTIALLY_DELIVERED.value}
    marks = []
    for number, placed_at, created_at, title, quantity, status, updated_at, snapshot in rows:
        platform, handle = _link_handle(snapshot)
        if handle != profile.handle or (platform and platform != profile.platform):
            continue
        done = status in finished
        slug = str((snapshot.get("product") or {}).get("slug") or "")
        at = updated_at if done else (placed_at or created_at)
        marks.append(OrderMark(number, slug, title, quantity, status, at, done))
    return marks


def followers_at(snapshots: list[ProfileSnapshot], when: datetime) -> int | None:
    """Followers in the last snapshot taken at or before `when`."""
    value = None
    for snap in snapshots:
        if snap.taken_at > when:
            break
        value = snap.followers
    return value


def profile_chart(session: Session, user_id: int, profile_id: Any, now: datetime) -> ProfileChart:
    """Everything the profile's charts show, in three queries (profile, snapshots, orders)."""
    profile = owned_profile(session, user_id, profile_id)
    snapshots = list(
        session.execute(
            select(ProfileSnapshot).where(ProfileSnapshot.profile_id == profile.id).order_by(ProfileSnapshot.taken_at)
        ).scalars()
    )
    marks = orders_for_profile(session, profile)
    week = timedelta(days=COMPARISON_DAYS)
    comparisons = [
        Comparison(
            m.number,
            m.title,
            followers_at(snapshots, m.at - week),
            followers_at(snapshots, m.at),
            followers_at(snapshots, min(now, m.at + week)),
        )
        for m in marks
        if m.completed
    ]
    return ProfileChart(profile, snapshots, marks, comparisons)


def sparklines(session: Session, user_id: int, now: datetime) -> list[tuple[LinkedProfile, list[int]]]:
    """Each profile with its followers over the last 30 days (two queries)."""
    profiles = list_profiles(session, user_id)
    if not profiles:
        return []
    series: dict[int, list[int]] = {p.id: [] for p in profiles}
    for profile_id, followers in session.execute(
        select(ProfileSnapshot.profile_id, ProfileSnapshot.followers)
        .where(
            ProfileSnapshot.profile_id.in_(list(series)),
            ProfileSnapshot.taken_at >= now - timedelta(days=SPARKLINE_DAYS),
        )
        .order_by(ProfileSnapshot.profile_id, ProfileSnapshot.taken_at)
    ).all():
        series[profile_id].append(followers)
    return [(p, series[p.id]) for p in profiles]


def sparkline_path(values: list[int], width: int = 120, height: int = 32) -> str:
    """An SVG path drawing `values` left to right in a width x height box ("" for fewer than 2)."""
    if len(values) < 2:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1
    step = width / (len(values) - 1)
    points = [(i * step, height - 2 - (v - low) * (height - 4) / span) for i, v in enumerate(values)]
    return "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in points)


def handles_for_platform(session: Session, user_id: int | None, platform: str) -> list[str]:
    """ "@handle" of each of the customer's profiles on `platform`, for the configurator's handle fields."""
    if user_id is None:
        return []
    return [
        "@" + handle
        for handle in session.execute(
            select(LinkedProfile.handle)
            .where(LinkedProfile.user_id == user_id, LinkedProfile.platform == platform)
            .order_by(LinkedProfile.id)
        ).scalars()
    ]


def prefill_for_profile(
    session: Session, user_id: int | None, profile_id: Any, platform: str, handle_fields: list[str]
) -> dict[str, str]:
    """Field values that order a product for one of the customer's profiles ("order again").

    Owner-checked: a visitor or another customer's id is not found. The product must be for
    the profile's platform and ask for an account name (`handle_fields`: its handle fields)."""
    if user_id is None:
        raise ServiceError("Sign in to order for one of your profiles.", code=ErrorCode.NOT_FOUND, field="profile")
    profile = owned_profile(session, user_id, profile_id)
    if profile.platform != platform or not handle_fields:
        raise ServiceError(
            f"This service is not for your {PLATFORM_LABELS.get(profile.platform, profile.platform)} profile "
            f"@{profile.handle}; enter the account below.",
            code=ErrorCode.NOT_ALLOWED,
            field="profile",
        )
    return {key: "@" + profile.handle for key in handle_fields}
