"""Operational counters and merchandising events that admin pages and tests read.

Counters (checkout started/completed/failed/abandoned, webhooks received/duplicate/
rejected/failed) hold no personal data and are always recorded, incremented in SQL
(`value = value + 1`) so concurrent workers never lose a count. Preset events are
analytics and are recorded only with the visitor's consent.
"""

from __future__ import annotations

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from smplat.models.base import utcnow
from smplat.models.catalog import Product
from smplat.models.merchandising import CommerceCounter, PresetAction, PresetEvent, PresetSource
from smplat.services import rate_limits
from smplat.services.consent import allows_analytics

CHECKOUT_STARTED = "checkout_started"
CHECKOUT_COMPLETED = "checkout_completed"
CHECKOUT_FAILED = "checkout_failed"
CHECKOUT_ABANDONED = "checkout_abandoned"
WEBHOOKS_RECEIVED = "webhooks_received"
WEBHOOKS_DUPLICATE = "webhooks_duplicate"
WEBHOOKS_REJECTED = "webhooks_rejected"
WEBHOOKS_FAILED = "webhooks_failed"
ALL_COUNTERS = (
    CHECKOUT_STARTED,
    CHECKOUT_COMPLETED,
    CHECKOUT_FAILED,
    CHECKOUT_ABANDONED,
    WEBHOOKS_RECEIVED,
    WEBHOOKS_DUPLICATE,
    WEBHOOKS_REJECTED,
    WEBHOOKS_FAILED,
)


_BUMP = (
    update(CommerceCounter.__table__)
    .where(CommerceCounter.__table__.c.name == bindparam("b_name"))
    .values(value=CommerceCounter.__table__.c.value + bindparam("by"), updated_at=bindparam("now"))
)


def increment(session: Session, name: str, by: int = 1) -> None:
    params = {"b_name": name, "by": by, "now": utcnow()}
    if session.execute(_BUMP, params).rowcount:
        return
    try:
        with session.begin_nested():
            session.add(CommerceCounter(name=name, value=by))
            session.flush()
    except IntegrityError:
        session.execute(_BUMP, params)  # another worker created the row first


def read_counters(session: Session) -> dict[str, int]:
    """The commerce counters Sales shows (not the catalog's change counter, which only keys
    the reseller API's offer cache)."""
    from smplat.db import CATALOG_CHANGES

    values = dict(session.execute(select(CommerceCounter.name, CommerceCounter.value)).all())
    return {name: int(values.get(name, 0)) for name in ALL_COUNTERS} | {
        k: int(v) for k, v in values.items() if k not in ALL_COUNTERS and k != CATALOG_CHANGES
    }


def record_preset_event(
    session: Session,
    *,
    product_id: int,
    preset_key: str,
    action: str,
    source: str,
    consent: str | None,
    client_ip: str | None = None,
    visitor: str | None = None,
) -> bool:
    """One row per preset apply/clear, only when the visitor allowed analytics (and within the
    analytics rate limits of their IP and browser)."""
    if action not in PresetAction.values() or source not in PresetSource.values():
        raise ValueError(f"unknown preset event {action}/{source}")
    if not allows_analytics(consent) or not rate_limits.analytics_event(client_ip, visitor):
        return False
    session.add(PresetEvent(product_id=product_id, preset_key=preset_key[:60], action=action, source=source))
    session.flush()
    return True


def preset_event_rows(session: Session) -> list[dict[str, str | int]]:
    """Counts per product, preset, action and source (one query)."""
    rows = session.execute(
        select(Product.title, PresetEvent.preset_key, PresetEvent.action, PresetEvent.source, func.count())
        .join(Product, Product.id == PresetEvent.product_id)
        .group_by(Product.title, PresetEvent.preset_key, PresetEvent.action, PresetEvent.source)
        .order_by(func.count().desc())
    ).all()
    return [{"product": t, "preset": k, "action": a, "source": s, "count": int(n)} for t, k, a, s, n in rows]
