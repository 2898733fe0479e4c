"""Notifications: every message a customer gets, rendered from one template library, logged as a
row, enqueued in the event's own transaction and sent after commit with retries.

The path of a message:

1. `notify(session, kind, user=..., context=..., event_key=...)` renders the kind's Jinja2
   templates (HTML and plain text, smplat/templates/email/) and adds one
   `NotificationMessage` row in the caller's transaction: `queued`, or `skipped` when the
   customer turned the kind off. `event_key` is UNIQUE: notifying the same event again
   returns the first row, so nothing is sent twice for one event; a rolled-back event leaves
   no row, so nothing is sent for it.
2. `send_due(session_factory, now)` (the jobs process's `send_notifications` job) claims due
   rows with one conditional UPDATE each (`queued` -> `sending`, lease `claimed_until`): of
   two senders racing for a row exactly one UPDATE matches, on PostgreSQL and SQLite alike.
   A send that fails is re-queued with exponential backoff until `notifications_max_attempts`.
   For the kinds someone is waiting for (receipt, a message from the shop) the process that
   queued the row also tries it once right after the commit (`notifications_send_on_commit`),
   through the same claim, so the customer gets the receipt at once.
3. `deliver_now(...)` is for the messages that carry a one-time secret link (password reset,
   email verification, email change): sent at once while the person waits, logged without
   the body (a raw token must never sit in the database).

Preferences: one row per (user, kind, channel); no row means on. Kinds in ALWAYS_SENT
(receipts, invoices, payment problems, security) ignore them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from smplat.models.accounts import User
from smplat.models.base import StrEnum, utcnow
from smplat.models.notifications import (
    NotificationChannel,
    NotificationMessage,
    NotificationPreference,
    NotificationStatus,
)
from smplat.services.errors import ErrorCode, ServiceError
from smplat.settings import Settings, get_settings

logger = logging.getLogger(__name__)

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates" / "email"


class NotificationKind(StrEnum):
    WELCOME = "welcome"
    EMAIL_VERIFICATION = "email_verification"
    PASSWORD_RESET = "password_reset"
    EMAIL_CHANGE = "email_change"  # the link that confirms a new address (sent to the new one)
    EMAIL_CHANGED = "email_changed"  # the notice to the previous address
    ACCOUNT_EXPORTED = "account_exported"  # the customer downloaded their data (GDPR export)
    PAYMENT_RECEIPT = "payment_receipt"
    ORDER_STARTED = "order_started"
    ORDER_PARTIALLY_DELIVERED = "order_partially_delivered"
    ORDER_COMPLETED = "order_completed"
    REFILL_DONE = "refill_done"
    PAYMENT_FAILED = "payment_failed"  # a checkout payment or a subscription renewal
    INVOICE_ISSUED = "invoice_issued"
    SHOP_MESSAGE = "shop_message"  # an operator wrote to the customer from the admin order page
    WEEKLY_DIGEST = "weekly_digest"


K = NotificationKind


@dataclass(frozen=True)
class KindSpec:
    kind: NotificationKind
    label: str  # in the customer's words, on the preferences page
    description: str
    always_reason: str = ""  # non-empty: sent whatever the preferences (the reason is shown)
    unsubscribe: bool = False  # bulk mail: a one-click unsubscribe link and List-Unsubscribe headers
    # someone is waiting for it (the paying customer, the operator who wrote): tried right after
    # the commit (`notifications_send_on_commit`); the others wait for the jobs process's sender
    prompt: bool = False

    @property
    def always(self) -> bool:
        return bool(self.always_reason)


_SECURITY = "Security messages about your account always go."
KINDS: dict[str, KindSpec] = {
    spec.kind.value: spec
    for spec in [
        KindSpec(K.WELCOME, "Welcome", "One email when you create your account."),
        KindSpec(K.EMAIL_VERIFICATION, "Email confirmation", "The link that confirms your address.", _SECURITY),
        KindSpec(K.PASSWORD_RESET, "Password reset", "The link to choose a new password.", _SECURITY),
        KindSpec(K.EMAIL_CHANGE, "Email address change", "The link that confirms a new address.", _SECURITY),
        KindSpec(K.EMAIL_CHANGED, "Email address changed", "A notice to your previous address.", _SECURITY),
        KindSpec(K.ACCOUNT_EXPORTED, "Data export", "When a copy of your data is downloaded.", _SECURITY, prompt=True),
        KindSpec(
            K.PAYMENT_RECEIPT,
            "Payment receipts",
            "What you paid for, after each payment.",
            "Receipts always go.",
            prompt=True,
        ),
        KindSpec(K.ORDER_STARTED, "Order started", "When delivery of an order begins."),
        KindSpec(
            K.ORDER_PARTIALLY_DELIVERED, "Order partly delivered", "When part of an order could not be delivered."
        ),
        KindSpec(K.ORDER_COMPLETED, "Order completed", "When an order is delivered in full."),
        KindSpec(K.REFILL_DONE, "Refill done", "When a refill you asked for is finished."),
        KindSpec(
            K.PAYMENT_FAILED,
            "Payment problems",
            "A payment or a subscription renewal that did not go through.",
            "Messages about money you owe always go.",
        ),
        KindSpec(
            K.INVOICE_ISSUED, "Invoices", "Each invoice and credit note.", "Invoices are legal documents.", prompt=True
        ),
        KindSpec(
            K.SHOP_MESSAGE,
            "Messages from the shop",
            "A person on our team writing to you about an order.",
            "A person on our team wrote to you about your order.",
            prompt=True,
        ),
        KindSpec(
            K.WEEKLY_DIGEST, "Weekly digest", "A summary of your week: orders, deliveries, growth.", unsubscribe=True
        ),
    ]
}

# the kinds a person can see on the preferences page, in this order (secret-link kinds are not listed)
LISTED_KINDS = [
    K.ORDER_STARTED,
    K.ORDER_PARTIALLY_DELIVERED,
    K.ORDER_COMPLETED,
    K.REFILL_DONE,
    K.WEEKLY_DIGEST,
    K.WELCOME,
    K.PAYMENT_RECEIPT,
    K.INVOICE_ISSUED,
    K.PAYMENT_FAILED,
    K.SHOP_MESSAGE,
]

# channels that have a sender today; the others are accepted by the model and shown as "soon"
DELIVERED_CHANNELS = (NotificationChannel.EMAIL,)


class NotificationError(ServiceError):
    """A notification request that cannot be honoured (unknown kind, a kind that always goes)."""


def spec_for(kind: str) -> KindSpec:
    try:
        return KINDS[str(kind)]
    except KeyError:
        raise NotificationError(f"unknown notification kind {kind!r}", code=ErrorCode.INVALID, field="kind") from None


# --- rendering ------------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@lru_cache(maxsize=1)
def _environments() -> tuple[jinja2.Environment, jinja2.Environment]:
    """(html, text): the HTML one escapes every value; the text one must not (it is not HTML)."""
    common = {
        "loader": jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        "trim_blocks": True,
        "lstrip_blocks": True,
        "keep_trailing_newline": True,
        "undefined": jinja2.StrictUndefined,  # a missing value is a bug, not an empty gap in an email
    }
    html = jinja2.Environment(autoescape=True, **common)
    text = jinja2.Environment(autoescape=False, **common)
    return html, text


def base_context(settings: Settings | None = None) -> dict[str, Any]:
    settings = settings or get_settings()
    base = settings.public_base_url.rstrip("/")
    return {
        "brand": settings.brand_name,
        "base_url": base + "/",
        "account_url": f"{base}/account",
        "preferences_url": "",
        "unsubscribe_url": "",
        "subject": "",
        "body_html": "",
    }


def _tidy_text(text: str) -> str:
    lines = [line.rstrip() for line in text.strip("\n").splitlines()]
    out: list[str] = []
    for line in lines:  # at most one blank line in a row
        if not line and out and not out[-1]:
            continue
        out.append(line)
    return "\n".join(out).strip("\n") + "\n"


def render(kind: str, context: Mapping[str, Any], *, settings: Settings | None = None) -> Rendered:
    """The subject, text and HTML of one message; `context` holds the kind's values (the
    brand, links and unsubscribe URL come from settings and `base_context`)."""
    spec = spec_for(kind)
    values = {**base_context(settings), "kind_label": spec.label, **dict(context)}
    html_env, text_env = _environments()
    text_template = text_env.get_template(f"{spec.kind.value}.txt")
    subject = "".join(text_template.blocks["subject"](text_template.new_context(values))).strip()
    subject = " ".join(subject.split())[:300]
    text = _tidy_text(text_template.render(values))
    html = html_env.get_template(f"{spec.kind.value}.html").render({**values, "subject": subject})
    return Rendered(subject, text, html)


def render_layout(body_html: str, *, title: str = "", settings: Settings | None = None) -> str:
    """The brand layout around an HTML fragment (for `email.compose_email`'s free-form mails)."""
    html_env, _ = _environments()
    values = {**base_context(settings), "subject": title, "kind_label": "", "body_html": Markup(body_html)}
    return html_env.get_template("_layout.html").render(values)


# --- the customer's order in their words ---------------------------------------------------


def order_context(session: Session, order_id: int) -> dict[str, Any] | None:
    """The order as the customer bought it: product titles, the package they chose, the labels
    of the details they gave (never internal keys), delivered units and amounts."""
    from smplat.models.catalog import ProductCustomField
    from smplat.models.orders import Order, OrderItem
    from smplat.services import pricing
    from smplat.services.checkout import receipts
    from smplat.services.money import format_money
    from smplat.services.order_tracking import tracking_url

    order = session.get(Order, order_id)
    if order is None:
        return None
    items = list(
        session.execute(select(OrderItem).where(OrderItem.order_id == order.id).order_by(OrderItem.id)).scalars()
    )
    product_ids = {i.product_id for i in items if i.product_id is not None}
    labels = (
        {
            (pid, key): label
            for pid, key, label in session.execute(
                select(ProductCustomField.product_id, ProductCustomField.key, ProductCustomField.label).where(
                    ProductCustomField.product_id.in_(product_ids)
                )
            )
        }
        if product_ids
        else {}
    )
    base = get_settings().public_base_url.rstrip("/")
    url = f"{base}/account/orders/{order.number}" if order.user_id else tracking_url(order)
    lines = []
    for item in items:
        snap = item.snapshot or {}
        price = snap.get("price") or {}
        lines.append(
            {
                "title": item.product_title,
                "package": str(snap.get("summary", "")),
                "quantity": item.quantity,
                "unit": str((snap.get("product") or {}).get("unit_label", "units")),
                "ordered": f"{item.service_quantity:,}",
                "delivered": f"{item.delivered_quantity:,}",
                "fields": [
                    {
                        "label": (snap.get("field_labels") or {}).get(k)
                        or labels.get((item.product_id, k))
                        or k.replace("_", " ").strip().capitalize(),
                        "value": v,
                    }
                    for k, v in (snap.get("fields") or {}).items()
                ],
                # the one delivery promise, as frozen at checkout, and the bundle discount
                "delivery": receipts.delivery_text(snap),
                "bundle": (
                    f"{pricing.bundle_label(bundle['title'], bundle['discount_bps'])}: "
                    f"{format_money(-bundle['discount_minor'], item.currency)}"
                    if (bundle := snap.get("bundle"))
                    else ""
                ),
                "total": format_money(item.total_minor, item.currency),
                "billing": ""
                if price.get("billing", "one_time") == "one_time"
                else f"every {price.get('interval', 'period')}",
                "blueprint": [
                    {"label": b.get("label", ""), "tagline": b.get("tagline", "")} for b in snap.get("blueprint") or []
                ],
            }
        )
    return {
        "number": order.number,
        "url": url,
        "total": format_money(order.total_minor, order.currency),
        "items": lines,
        "email": order.customer_email,
        "user_id": order.user_id,
    }


def notify_order(
    session: Session, kind: str, order_id: int, event_key: str, extra: Mapping[str, Any] | None = None
) -> NotificationMessage | None:
    """`notify` about an order, to its customer (the account when there is one, else the guest
    email); None for an order without an email."""
    order = order_context(session, order_id)
    if order is None or not order["email"]:
        return None
    user = session.get(User, order["user_id"]) if order["user_id"] else None
    recipient = user.email if user is not None and user.is_active else order["email"]
    return notify(
        session, kind, user=user, recipient=recipient, context={"order": order, **(extra or {})}, event_key=event_key
    )


# --- preferences --------------------------------------------------------------------------


def is_enabled(session: Session, user_id: int | None, kind: str, channel: str = NotificationChannel.EMAIL) -> bool:
    """Whether the user gets `kind` on `channel`: kinds that always go, and guests, always do."""
    spec = spec_for(kind)
    if spec.always or user_id is None:
        return True
    enabled = session.execute(
        select(NotificationPreference.enabled).where(
            NotificationPreference.user_id == user_id,
            NotificationPreference.kind == spec.kind.value,
            NotificationPreference.channel == str(channel),
        )
    ).scalar()
    return True if enabled is None else bool(enabled)


def set_preference(session: Session, user_id: int, kind: str, channel: str, enabled: bool) -> None:
    """Turn one kind on or off on one channel. Kinds that always go refuse the change."""
    spec = spec_for(kind)
    if spec.kind not in LISTED_KINDS:
        raise NotificationError("That notification cannot be changed here.", code=ErrorCode.INVALID, field="kind")
    if spec.always:
        raise NotificationError(
            f"{spec.label} cannot be turned off. {spec.always_reason}", code=ErrorCode.NOT_ALLOWED, field="kind"
        )
    try:
        channel = NotificationChannel(channel).value
    except ValueError:
        raise NotificationError(f"unknown channel {channel!r}", code=ErrorCode.INVALID, field="channel") from None
    row = session.execute(
        select(NotificationPreference).where(
            NotificationPreference.user_id == user_id,
            NotificationPreference.kind == spec.kind.value,
            NotificationPreference.channel == channel,
        )
    ).scalar_one_or_none()
    if row is None:
        row = NotificationPreference(user_id=user_id, kind=spec.kind.value, channel=channel, enabled=bool(enabled))
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
            return
        except IntegrityError:  # two tabs at once: the other insert won, update it
            row = session.execute(
                select(NotificationPreference).where(
                    NotificationPreference.user_id == user_id,
                    NotificationPreference.kind == spec.kind.value,
                    NotificationPreference.channel == channel,
                )
            ).scalar_one()
    row.enabled = bool(enabled)
    row.updated_at = utcnow()
    session.add(row)
    session.flush()


def preferences(session: Session, user_id: int) -> list[dict[str, Any]]:
    """Rows for the preferences page: each listed kind with, per channel, on/off and whether
    the person may change it (and why not)."""
    stored = {
        (p.kind, p.channel): p.enabled
        for p in session.execute(
            select(NotificationPreference).where(NotificationPreference.user_id == user_id)
        ).scalars()
    }
    rows = []
    for kind in LISTED_KINDS:
        spec = KINDS[kind.value]
        channels = []
        for channel in NotificationChannel:
            available = channel in DELIVERED_CHANNELS
            channels.append(
                {
                    "channel": channel.value,
                    # a channel without a sender is off whatever is stored (receipts included)
                    "enabled": available and (spec.always or stored.get((kind.value, channel.value), True)),
                    "locked": spec.always or not available,
                    "available": available,
                }
            )
        rows.append(
            {
                "kind": kind.value,
                "label": spec.label,
                "description": spec.description,
                "always_reason": spec.always_reason,
                "channels": channels,
            }
        )
    return rows


# --- one-click unsubscribe ------------------------------------------------------------------


def _unsubscribe_key() -> bytes:
    return hashlib.sha256(b"smplat:unsubscribe:" + get_settings().secret().encode("utf-8")).digest()


def _unsubscribe_signature(user_id: int, kind: str) -> str:
    mac = hmac.new(_unsubscribe_key(), f"{user_id}|{kind}".encode(), hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def unsubscribe_token(user_id: int, kind: str) -> str:
    """A signed token naming one user and one kind: it turns that kind off without a sign-in."""
    return f"{user_id}.{kind}.{_unsubscribe_signature(user_id, kind)}"


def unsubscribe_url(user_id: int, kind: str) -> str:
    base = get_settings().public_base_url.rstrip("/")
    return f"{base}/api/notifications/unsubscribe?token={unsubscribe_token(user_id, kind)}"


def read_unsubscribe_token(token: str) -> tuple[int, str] | None:
    """(user id, kind) of a genuine token, else None."""
    try:
        user_part, kind, signature = (token or "").split(".")
        user_id = int(user_part)
    except ValueError:
        return None
    if kind not in KINDS or not hmac.compare_digest(_unsubscribe_signature(user_id, kind), signature):
        return None
    return user_id, kind


def unsubscribe(session: Session, token: str) -> KindSpec | None:
    """Honour a one-click unsubscribe: the kind is turned off for email. None for a bad token
    (or an account that no longer exists); repeating it is harmless."""
    found = read_unsubscribe_token(token)
    if found is None:
        return None
    user_id, kind = found
    spec = KINDS[kind]
    if spec.always or session.get(User, user_id) is None:
        return None
    set_preference(session, user_id, kind, NotificationChannel.EMAIL.value, False)
    return spec


# --- enqueue --------------------------------------------------------------------------


def _existing(session: Session, event_key: str) -> NotificationMessage | None:
    return session.execute(
        select(NotificationMessage).where(NotificationMessage.event_key == event_key)
    ).scalar_one_or_none()


def notify(
    session: Session,
    kind: str,
    *,
    user: User | None = None,
    recipient: str | None = None,
    context: Mapping[str, Any] | None = None,
    event_key: str,
    channel: str = NotificationChannel.EMAIL.value,
    now: datetime | None = None,
    attachment_ref: str = "",
) -> NotificationMessage:
    """Queue one message about one event, in the caller's transaction.

    `user` (the account; its email is the default recipient, its preferences apply) or
    `recipient` (a guest's address) names who gets it; `context` holds the kind's template
    values; `event_key` names the event ("order_completed:42") and is unique: a second call
    for the same event returns the first row and queues nothing. An opted-out kind is logged
    as `skipped`. Raises NotificationError for an unknown kind, ValueError without a recipient.
    """
    spec = spec_for(kind)
    event_key = event_key.strip()[:200]
    if not event_key:
        raise ValueError("a notification needs an event key")
    recipient = (recipient or (user.email if user is not None else "") or "").strip()
    if not recipient:
        raise ValueError("a notification needs a recipient")
    existing = _existing(session, event_key)
    if existing is not None:
        return existing
    now = now or utcnow()
    user_id = user.id if user is not None else None
    enabled = is_enabled(session, user_id, spec.kind, channel)
    values = dict(context or {})
    headers: dict[str, str] = {}
    if user_id is not None:
        values.setdefault("preferences_url", f"{get_settings().public_base_url.rstrip('/')}/account/notifications")
    if spec.unsubscribe and user_id is not None:
        url = unsubscribe_url(user_id, spec.kind.value)
        values["unsubscribe_url"] = url
        headers = {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    rendered = render(spec.kind, values)
    row = NotificationMessage(
        kind=spec.kind.value,
        channel=str(channel),
        recipient=recipient,
        user_id=user_id,
        event_key=event_key,
        status=(NotificationStatus.QUEUED if enabled else NotificationStatus.SKIPPED).value,
        subject=rendered.subject,
        body_text=rendered.text,
        body_html=rendered.html,
        headers=headers,
        attachment_ref=attachment_ref,
        next_attempt_at=now if enabled else None,
        last_error="" if enabled else "turned off by the customer",
        created_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:  # the same event notified at the same moment elsewhere: that row wins
        return session.execute(
            select(NotificationMessage).where(NotificationMessage.event_key == event_key)
        ).scalar_one()
    if enabled and spec.prompt and get_settings().notifications_send_on_commit:
        from smplat.db import after_commit

        after_commit(session, _send_soon_callback(row.id))
    return row


def _send_soon_callback(message_id: int):
    def send_soon() -> None:
        from smplat.db import session_scope

        send_one(session_scope, message_id, utcnow())

    return send_soon


# --- sending --------------------------------------------------------------------------


def _backoff(attempts: int, settings: Settings) -> timedelta:
    seconds = settings.notifications_retry_base_seconds * 2 ** max(0, attempts - 1)
    return timedelta(seconds=min(seconds, settings.notifications_retry_max_seconds))


def _due(now: datetime):
    return or_(
        (NotificationMessage.status == NotificationStatus.QUEUED.value) & (NotificationMessage.next_attempt_at <= now),
        (NotificationMessage.status == NotificationStatus.SENDING.value) & (NotificationMessage.claimed_until < now),
    )


def claim(session: Session, message_id: int, now: datetime, settings: Settings | None = None) -> bool:
    """Take one due row for this sender: one conditional UPDATE, so of two senders exactly one
    matches (PostgreSQL re-checks the WHERE after the other's commit; SQLite serialises
    writers). Counts the attempt. The caller commits at once."""
    settings = settings or get_settings()
    result = session.execute(
        update(NotificationMessage)
        .where(NotificationMessage.id == message_id, _due(now))
        .values(
            status=NotificationStatus.SENDING.value,
            claimed_until=now + timedelta(seconds=settings.notifications_claim_seconds),
            attempts=NotificationMessage.attempts + 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def build_email(
    row: NotificationMessage, settings: Settings | None = None, session: Session | None = None
) -> EmailMessage:
    from smplat.services.email import build_message

    message = build_message(
        row.recipient, row.subject, row.body_text, row.body_html, headers=row.headers, settings=settings
    )
    if row.attachment_ref and session is not None:
        kind, _, ref = row.attachment_ref.partition(":")
        if kind == "invoice" and ref.isdigit():
            from smplat.services import invoices

            name, data = invoices.pdf_attachment(session, int(ref))
            message.add_attachment(data, maintype="application", subtype="pdf", filename=name)
    return message


def send_one(session_factory, message_id: int, now: datetime, *, mailer=None) -> str:
    """Claim, send and record one row; returns sent, failed, retry or claimed_elsewhere."""
    return _send_one(session_factory, message_id, now, mailer=mailer)[0]


def _send_one(session_factory, message_id: int, now: datetime, *, mailer=None) -> tuple[str, bool]:
    """`send_one`'s outcome, and whether the mail server could not be reached at all."""
    from smplat.services.email import EmailDeliveryError, SmtpUnreachable, get_mailer

    settings = get_settings()
    with session_factory() as session:
        if not claim(session, message_id, now, settings):
            return "claimed_elsewhere", False
    with session_factory() as session:
        row = session.get(NotificationMessage, message_id)
        try:
            message = build_email(row, settings, session)
        except ValueError as exc:  # a bad address never becomes good: no retry
            _finish(session, row, NotificationStatus.FAILED, now, error=str(exc))
            return "failed", False
        attempts = row.attempts
    try:
        (mailer or get_mailer(settings)).send(message)
    except EmailDeliveryError as exc:
        unreachable = isinstance(exc, SmtpUnreachable)
        with session_factory() as session:
            row = session.get(NotificationMessage, message_id)
            if attempts >= settings.notifications_max_attempts:
                _finish(session, row, NotificationStatus.FAILED, now, error=str(exc))
                logger.error("notification %s to %s failed for good: %s", message_id, row.recipient, exc)
                return "failed", unreachable
            row.status = NotificationStatus.QUEUED.value
            row.next_attempt_at = now + _backoff(attempts, settings)
            row.claimed_until = None
            row.last_error = str(exc)[:2000]
            row.updated_at = now
            session.add(row)
            logger.warning(
                "notification %s: %s; attempt %d again at %s", message_id, exc, attempts + 1, row.next_attempt_at
            )
        return "retry", unreachable
    with session_factory() as session:
        row = session.get(NotificationMessage, message_id)
        row.provider_message_id = str(message.get("Message-ID", ""))[:300]
        _finish(session, row, NotificationStatus.SENT, now)
    return "sent", False


def _finish(
    session: Session, row: NotificationMessage, status: NotificationStatus, now: datetime, error: str = ""
) -> None:
    row.status = status.value
    row.claimed_until = None
    row.next_attempt_at = None
    row.updated_at = now
    if status == NotificationStatus.SENT:
        row.sent_at = now
        row.last_error = ""
    else:
        row.last_error = error[:2000]
    session.add(row)


def send_due(session_factory, now: datetime, *, mailer=None, limit: int | None = None) -> dict[str, int]:
    """The jobs process's sender: every due row (queued and due, or claimed by a sender that
    died), oldest first, each claimed before it is sent. When the mail server cannot be reached
    at all the run stops there: the rest stay queued (`deferred`) for the next run."""
    settings = get_settings()
    with session_factory() as session:
        ids = list(
            session.execute(
                select(NotificationMessage.id)
                .where(_due(now))
                .order_by(NotificationMessage.next_attempt_at, NotificationMessage.id)
                .limit(limit or settings.notifications_batch_size)
            ).scalars()
        )
    counts = {"sent": 0, "retry": 0, "failed": 0, "claimed_elsewhere": 0, "deferred": 0}
    for index, message_id in enumerate(ids):
        outcome, unreachable = _send_one(session_factory, message_id, now, mailer=mailer)
        counts[outcome] += 1
        if unreachable:
            # the server is down: the rest would only wait for the same refusal (and hold up the
            # jobs process, a stop included); they stay queued, untouched, for the next run
            counts["deferred"] = len(ids) - index - 1
            if counts["deferred"]:
                logger.warning("mail server unreachable: %d due message(s) left for the next run", counts["deferred"])
            break
    return counts


# --- messages with a one-time link: sent at once, logged without the body --------------------


def deliver_now(
    kind: str,
    recipient: str,
    context: Mapping[str, Any],
    *,
    session: Session | None = None,
    user_id: int | None = None,
    mailer=None,
) -> Rendered:
    """Render and send at once (raises EmailDeliveryError / ValueError like `send_message`).

    For the messages a person is waiting for on the screen and whose body holds a one-time
    secret (reset, verification, email change). With `session`, a log row is added (status
    sent or failed, no body: the database never holds a usable link) and committed."""
    from smplat.services.email import EmailDeliveryError, build_message, get_mailer

    spec = spec_for(kind)
    rendered = render(spec.kind, context)
    message = build_message(recipient, rendered.subject, rendered.text, rendered.html)
    error: EmailDeliveryError | None = None
    try:
        (mailer or get_mailer()).send(message)
    except EmailDeliveryError as exc:
        error = exc
    if session is not None:
        now = utcnow()
        session.add(
            NotificationMessage(
                kind=spec.kind.value,
                recipient=recipient,
                user_id=user_id,
                event_key=f"{spec.kind.value}:{uuid.uuid4().hex}",  # every request is its own event
                status=(NotificationStatus.FAILED if error else NotificationStatus.SENT).value,
                subject=rendered.subject,
                body_text="(not stored: it held a one-time link)",
                attempts=1,
                last_error=str(error or "")[:2000],
                provider_message_id="" if error else str(message.get("Message-ID", ""))[:300],
                sent_at=None if error else now,
                created_at=now,
                updated_at=now,
            )
        )
        session.commit()
    if error is not None:
        raise error
    return rendered


# --- the delivery log, for the account and the admin ------------------------------------------


def log_for_user(session: Session, user_id: int, limit: int = 50) -> list[NotificationMessage]:
    return list(
        session.execute(
            select(NotificationMessage)
            .where(NotificationMessage.user_id == user_id)
            .order_by(NotificationMessage.id.desc())
            .limit(limit)
        ).scalars()
    )
