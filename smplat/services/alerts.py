"""Operational alerts: evaluate conditions, send each by email and/or a Slack-compatible webhook.

Both channels are off until configured (settings.alert_email_to / alert_webhook_url), except
in development with the sandboxes, where they go to the local SMTP and webhook sinks so a new
operator sees them (`Settings.alert_email_recipients` / `effective_alert_webhook_url`). A
condition (kind + subject) is sent when first raised, then at most every
alert_repeat_minutes while it stays true; the dead-letter alert is only re-sent when the
count grew; a risky preset (services/merch_analytics.py) is sent once per preset per UTC day.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy import ColumnElement, and_, case, false, func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from smplat.models.base import UTCDateTime
from smplat.models.catalog import Product
from smplat.models.fulfillment import AttemptOutcome, FulfillmentAttempt, FulfillmentTask, TaskStatus
from smplat.models.orders import Order, OrderItem, OrderStatus, PaymentStatus
from smplat.models.providers import AlertNotice, Provider, ProviderHealth, ProviderOrder
from smplat.settings import Settings, get_settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Alert:
    # dead_letters, provider_down, low_balance, failure_rate, provider_share, stuck_orders, risky_preset
    kind: str
    subject: str
    message: str


def evaluate(session: Session, now: datetime, settings: Settings) -> list[Alert]:
    alerts: list[Alert] = []
    dead = session.execute(
        select(func.count()).where(FulfillmentTask.status == TaskStatus.DEAD_LETTER.value)
    ).scalar_one()
    if dead >= settings.alert_dead_letter_threshold:
        alerts.append(Alert("dead_letters", f"count:{dead}", f"{dead} fulfilment task(s) in the dead letters"))
    for provider in session.execute(
        select(Provider).where(Provider.is_active.is_(True)).order_by(Provider.id)
    ).scalars():
        if provider.health_status in (ProviderHealth.DOWN.value, ProviderHealth.DEGRADED.value):
            alerts.append(
                Alert(
                    "provider_down", f"provider:{provider.id}", f"Provider {provider.name} is {provider.health_status}"
                )
            )
        if (
            provider.balance is not None
            and provider.low_balance_threshold is not None
            and provider.balance < provider.low_balance_threshold
        ):
            alerts.append(
                Alert(
                    "low_balance",
                    f"provider:{provider.id}",
                    f"Provider {provider.name} balance {_amount(provider.balance, provider.balance_currency)} "
                    f"is below {_amount(provider.low_balance_threshold, provider.balance_currency)}",
                )
            )
    a = FulfillmentAttempt
    failed_outcomes = (AttemptOutcome.RETRIED.value, AttemptOutcome.DEAD_LETTERED.value)
    rows = session.execute(
        select(a.provider_id, func.count(), func.sum(func.cast(a.outcome.in_(failed_outcomes), sa_int())))
        .where(a.created_at >= now - timedelta(hours=1), a.provider_id.is_not(None))
        .group_by(a.provider_id)
    ).all()
    names = dict(session.execute(select(Provider.id, Provider.name)).all())
    for provider_id, total, failed in rows:
        failed = int(failed or 0)
        if total >= settings.alert_failure_rate_min_attempts and failed / total > settings.alert_failure_rate_threshold:
            alerts.append(
                Alert(
                    "failure_rate",
                    f"provider:{provider_id}",
                    f"Provider {names.get(provider_id)} failed {failed} of {total} attempts in the last hour",
                )
            )
    shares = session.execute(
        select(OrderItem.product_id, ProviderOrder.provider_id, func.count())
        .join(OrderItem, OrderItem.id == ProviderOrder.order_item_id)
        .where(ProviderOrder.created_at >= now - timedelta(days=1), ProviderOrder.external_order_id.is_not(None))
        .group_by(OrderItem.product_id, ProviderOrder.provider_id)
    ).all()
    per_product: dict[Any, list[tuple[int, int]]] = {}
    for product_id, provider_id, count in shares:
        per_product.setdefault(product_id, []).append((provider_id, count))
    for product_id, parts in per_product.items():
        total = sum(c for _, c in parts)
        provider_id, top = max(parts, key=lambda p: p[1])
        if total >= settings.alert_provider_share_min_orders and top / total > settings.alert_provider_share_threshold:
            alerts.append(
                Alert(
                    "provider_share",
                    f"product:{product_id}",
                    f"Provider {names.get(provider_id)} carries {top} of {total} orders of product {product_id} in the last day",
                )
            )
    for product_id, title, hours, count in stuck_lines_per_product(session, now):
        alerts.append(
            Alert(
                "stuck_orders",
                f"product:{product_id}",
                f"{count} order line(s) of {title} waiting longer than {hours} h (its delivery estimate)",
            )
        )
    from smplat.services.merch_analytics import RISK_WINDOW, risky_presets

    for preset in risky_presets(session, now, settings):
        week = preset.windows[RISK_WINDOW]
        alerts.append(
            Alert(
                "risky_preset",
                f"preset:{preset.product_id}:{preset.preset_key}",
                f"Preset {preset.preset_key} of {preset.product} was cleared {week.clears} times after "
                f"{week.applies} applies in the last {RISK_WINDOW} days ({week.clear_rate} %)",
            )
        )
    return alerts


# Lines still waiting for delivery (a running drip-feed, "active", is not stuck).
STUCK_STATUSES = (OrderStatus.PENDING.value, OrderStatus.PROCESSING.value, OrderStatus.ON_HOLD.value)
PAID_STATUSES = (PaymentStatus.PAID.value, PaymentStatus.PARTIALLY_REFUNDED.value)


# the few distinct delivery promises the stuck rule compares against
PROMISES = select(Product.delivery_estimate_hours).distinct()


def promises_from(rows: Any) -> list[int]:
    """The hours of `PROMISES`' rows."""
    return sorted({int(h) for (h,) in rows if h})


def late_line(
    session: Session,
    now: datetime | None,
    *,
    fallback_hours: int | None = None,
    promises: list[int] | None = None,
    cutoff: Callable[[int], Any] | None = None,
) -> Any:
    """The one "stuck" rule (this alert, the admin home's tile and the queue's filter): a paid
    line still waiting (pending, processing, on hold) longer than its product's promise
    (`Product.delivery_estimate_hours`) since the line was placed (lines are created when the
    order is paid). A condition over `OrderItem`,
    `Order` and `Product` (outer-joined: a line whose product is gone counts after
    `fallback_hours`, when given). The few distinct promises are read first (one small
    statement, `PROMISES`, unless given) so the test is a plain comparison on the line's
    `created_at` in every dialect. `cutoff(hours)` gives the time a line placed before is late
    (by default `now - hours`; a statement built once passes bound parameters). The line's
    deadline is one CASE over the promises (cheaper to plan than one OR arm per promise, and
    tested once per waiting line read from the lines' covering status index)."""

    def late_after(hours: int) -> Any:
        at = cutoff(hours) if cutoff is not None else now - timedelta(hours=hours)  # type: ignore[operator]
        return at if isinstance(at, ColumnElement) else sa.literal(at, UTCDateTime())

    if promises is None:
        promises = promises_from(session.execute(PROMISES).all())
    deadlines = [(Product.delivery_estimate_hours == h, late_after(h)) for h in promises]
    if fallback_hours is not None:
        deadlines.insert(0, (OrderItem.product_id.is_(None), late_after(fallback_hours)))
    if not deadlines:
        return false()
    return and_(
        OrderItem.status.in_(STUCK_STATUSES),
        Order.payment_status.in_(PAID_STATUSES),
        OrderItem.created_at < case(*deadlines),  # no deadline (a product without a promise): never late
    )


def stuck_lines_per_product(session: Session, now: datetime) -> list[tuple[int, str, int, int]]:
    """(product id, title, threshold hours, lines) for every service with paid lines still waiting
    longer than its delivery estimate (`late_line`); two statements."""
    rows = session.execute(
        select(Product.id, Product.title, Product.delivery_estimate_hours, func.count())
        .select_from(OrderItem)
        .join(Order, Order.id == OrderItem.order_id)
        .join(Product, Product.id == OrderItem.product_id)
        .where(late_line(session, now))
        .group_by(Product.id, Product.title, Product.delivery_estimate_hours)
        .order_by(Product.id)
    ).all()
    return [(int(pid), title, int(hours), int(n)) for pid, title, hours, n in rows]


def _amount(value: Any, currency: str | None) -> str:
    """Provider balances are decimals; show them as money whatever scale they were read at."""
    return f"{value:,.2f}" + (f" {currency}" if currency else "")


def sa_int():
    import sqlalchemy as sa

    return sa.Integer


def _utc_day(value: datetime) -> Any:
    from datetime import UTC

    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).date()


def _due(session: Session, alert: Alert, now: datetime, settings: Settings) -> bool:
    """Record the alert; True when it should be sent now."""
    kind_subject = alert.subject if alert.kind != "dead_letters" else "dead_letters"
    notice = (
        session.execute(select(AlertNotice).where(AlertNotice.kind == alert.kind, AlertNotice.subject == kind_subject))
        .scalars()
        .first()
    )
    if notice is None:
        notice = AlertNotice(
            kind=alert.kind, subject=kind_subject, message=alert.message, last_raised_at=now, created_at=now
        )
        try:
            with session.begin_nested():
                session.add(notice)
                session.flush()
        except IntegrityError:
            return False  # another process raised it at the same moment and sends it
    grew = alert.kind == "dead_letters" and notice.message != alert.message
    repeat = notice.last_sent_at is None or now - notice.last_sent_at >= timedelta(
        minutes=settings.alert_repeat_minutes
    )
    if alert.kind == "dead_letters":
        send = notice.last_sent_at is None or (grew and repeat)
    elif alert.kind == "risky_preset":  # once per preset per UTC day
        send = notice.last_sent_at is None or _utc_day(notice.last_sent_at) < _utc_day(now)
    else:
        send = repeat
    notice.times_raised += 1
    notice.last_raised_at, notice.message = now, alert.message
    if send:
        notice.last_sent_at = now
    session.add(notice)
    return send


def send(alerts: list[Alert], settings: Settings) -> dict[str, int]:
    counts = {"emailed": 0, "webhooks": 0, "send_errors": 0}
    if not alerts:
        return counts
    text = "\n".join(f"• [{a.kind}] {a.message}" for a in alerts)
    recipients = settings.alert_email_recipients
    webhook_url = settings.effective_alert_webhook_url
    if recipients:
        from smplat.services.email import send_email

        try:
            send_email(
                recipients,
                f"{settings.brand_name} alert: {alerts[0].message}"[:180]
                if len(alerts) == 1
                else f"{settings.brand_name}: {len(alerts)} operational alerts",
                text,
            )
            counts["emailed"] += 1
        except Exception:
            logger.exception("alert email failed")
            counts["send_errors"] += 1
    if webhook_url:
        try:
            response = httpx.post(webhook_url, json={"text": f"{settings.brand_name} alerts\n{text}"}, timeout=10)
            response.raise_for_status()
            counts["webhooks"] += 1
        except httpx.HTTPError:
            logger.exception("alert webhook failed")
            counts["send_errors"] += 1
    return counts


def run_alerts(session_factory: Any, now: datetime, settings: Settings | None = None) -> dict[str, int]:
    """The alerts job: evaluate, record, send what is due."""
    settings = settings or get_settings()
    with session_factory() as session:
        raised = evaluate(session, now, settings)
        due = [a for a in raised if _due(session, a, now, settings)]
    counts = send(due, settings)
    counts.update({"raised": len(raised), "sent": len(due)})
    return counts
