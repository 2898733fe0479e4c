"""The customer's data (GDPR): export everything the platform holds about an account, delete
the account, and purge deleted accounts once their bookkeeping is past retention.

What belongs to an account is discovered from the schema, not listed by hand: starting from
the `users` row, every table with a foreign key to a table already collected contributes the
rows that point at collected rows (tables are walked parents first, so one pass reaches
order items, fulfilment tasks, payments, payment events, profile snapshots ... and any table
another module adds later, such as invoices or a notification log, with no code here).
Tables keyed by the account's email (sign-in attempts) and the audit entries about the
account or its orders are added to that. Columns that hold secrets (password hashes, token
hashes, TOTP secrets, API keys) are never exported.

Deleting an account (password, and a current code when two-factor sign-in is on): every
session ends at once, live subscriptions are cancelled at Stripe, personal data is removed
(sessions, tokens, backup codes, linked profiles and their snapshots, saved configurations,
carts, sign-in attempts) or replaced by placeholders (email, name, the handles and links in
orders and checkouts), and the bookkeeping (orders, items, payments, subscriptions, invoices)
is kept, anonymised, for `account_data_retention_days`. `purge_deleted_accounts` (a job)
then removes everything that was discovered for the account, and the account row itself;
the audit log keeps its entries (the actor column is cleared).
"""

from __future__ import annotations

import base64
import io
import json
import logging
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy import delete, select, update
from sqlmodel import Session, SQLModel

from smplat.db import after_commit
from smplat.models.accounts import AuthToken, BackupCode, LoginAttempt, Role, User, UserSession
from smplat.models.audit import AuditLog
from smplat.models.base import utcnow
from smplat.models.checkout import CheckoutSession
from smplat.models.orders import Order, OrderItem
from smplat.models.payments import Subscription
from smplat.services import accounts, audit, two_factor
from smplat.services.errors import ErrorCode, ServiceError
from smplat.settings import get_settings

logger = logging.getLogger(__name__)

PLACEHOLDER = "[removed]"
EXPORT_FILENAME = "smplat-my-data.zip"
# kept when an account is purged: the audit trail outlives the account (its actor id is cleared)
KEPT_ON_PURGE = frozenset({"audit_logs"})
# columns whose name marks a secret (audit's markers, plus hashes): never exported
SECRET_SUFFIXES = ("_hash",)
EMAIL_COLUMNS = ("email",)
# text columns of `users` a deletion does not blank (set to fixed values instead, or not personal)
ACCOUNT_TEXT_KEPT = frozenset(
    {"email", "password_hash", "role", "timezone"}
)  # a table with this column and no foreign key path: rows with the account's email


class PrivacyError(ServiceError):
    pass


def _secret(column: str) -> bool:
    return audit.is_secret(column) or column.endswith(SECRET_SUFFIXES)


def _is_text(column: sa.Column) -> bool:
    kind = column.type
    return isinstance(kind, sa.String) or isinstance(getattr(kind, "impl", None), sa.String)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode()
    return value


def _tables() -> list[sa.Table]:
    import smplat.models  # noqa: F401  (every table registered)

    return list(SQLModel.metadata.sorted_tables)


@dataclass
class Collected:
    """The rows of one account, per table, as {id: row mapping} (tables without id: a list)."""

    rows: dict[str, dict[Any, dict[str, Any]]]

    def ids(self, table: str) -> set[Any]:
        return set(self.rows.get(table, {}))

    def count(self, table: str) -> int:
        return len(self.rows.get(table, {}))


def _select_in(session: Session, table: sa.Table, column: sa.Column, values: set[Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    ordered = sorted(values, key=str)
    for start in range(0, len(ordered), 500):  # bounded IN lists
        chunk = ordered[start : start + 500]
        found.extend(dict(r._mapping) for r in session.execute(select(table).where(column.in_(chunk))))
    return found


def collect(session: Session, user: User) -> Collected:
    """Every row the platform holds about `user`, discovered through the foreign keys."""
    rows: dict[str, dict[Any, dict[str, Any]]] = {}
    user_row = session.execute(select(User.__table__).where(User.__table__.c.id == user.id)).first()
    rows["users"] = {user.id: dict(user_row._mapping)}
    for table in _tables():
        if table.name == "users" or "id" not in table.c:
            continue
        found: dict[Any, dict[str, Any]] = {}
        for fk in table.foreign_keys:
            parent = fk.column.table.name
            if parent == table.name or parent not in rows or fk.column.name != "id":
                continue
            for row in _select_in(session, table, fk.parent, set(rows[parent])):
                found[row["id"]] = row
        if not any(fk.column.table.name in rows for fk in table.foreign_keys):
            for name in EMAIL_COLUMNS:
                if name in table.c:
                    for r in session.execute(select(table).where(table.c[name] == user.email)):
                        found[r._mapping["id"]] = dict(r._mapping)
        if table.name == AuditLog.__tablename__:
            for row in _audit_about(session, user, rows):
                found[row["id"]] = row
        if found:
            rows[table.name] = found
    return Collected(rows)


def _audit_about(session: Session, user: User, rows: dict[str, dict[Any, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Audit entries about the account or its orders (not only those it made)."""
    table = AuditLog.__table__
    orders = rows.get("orders", {})
    targets = [sa.and_(table.c.entity_type.in_(("user", "account")), table.c.entity_id == str(user.id))]
    keys = {str(i) for i in orders} | {str(o["number"]) for o in orders.values()}
    if keys:
        targets.append(sa.and_(table.c.entity_type == "order", table.c.entity_id.in_(sorted(keys))))
    return [dict(r._mapping) for r in session.execute(select(table).where(sa.or_(*targets)))]


# --- export -----------------------------------------------------------------------------------


def _public_row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(v) for k, v in row.items() if not _secret(k)}


def build_export(session: Session, user_id: int, *, now: datetime | None = None) -> bytes:
    """The account's data as a ZIP: README.txt, account.json and one data/<table>.json per
    kind of data, rows ordered by id. Only ever built for the signed-in owner (the caller
    passes the caller's own id; there is no way to name another account)."""
    now = now or utcnow()
    user = session.get(User, user_id)
    if user is None or user.deleted_at is not None:
        raise PrivacyError("This account does not exist.", code=ErrorCode.NOT_FOUND)
    collected = collect(session, user)
    settings = get_settings()
    buffer = io.BytesIO()
    listing = []
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        profile = _public_row(collected.rows["users"][user.id])
        archive.writestr("account.json", json.dumps(profile, indent=2, ensure_ascii=False))
        for table, found in sorted(collected.rows.items()):
            data = [_public_row(found[key]) for key in sorted(found, key=lambda k: (str(type(k)), k))]
            archive.writestr(f"data/{table}.json", json.dumps(data, indent=2, ensure_ascii=False, default=str))
            listing.append(f"  data/{table}.json  {len(data)} row{'s' if len(data) != 1 else ''}")
        readme = (
            f"Your data at {settings.brand_name}\n"
            f"Account: {user.email}\nExported: {now.isoformat()}\n\n"
            "account.json is your profile. Each file in data/ holds one kind of record we keep about you,\n"
            "as JSON (times in UTC, amounts in minor units with their currency):\n\n"
            + "\n".join(listing)
            + "\n\nPassword and token hashes and two-factor secrets are never included.\n"
            "Orders and payments are kept for the legal retention period even after you delete your account.\n"
        )
        archive.writestr("README.txt", readme)
    return buffer.getvalue()


def export_for_owner(session: Session, user_id: int, *, ip_address: str = "") -> bytes:
    """Build the export, record it in the audit log and confirm it by email (after commit)."""
    archive = build_export(session, user_id)
    user = session.get(User, user_id)
    audit.record(
        session, _self_actor(user, ip_address), "account.export", "user", user.id, data={"bytes": len(archive)}
    )
    from smplat.services import notifications

    now = utcnow()
    notifications.notify(
        session,
        notifications.NotificationKind.ACCOUNT_EXPORTED,
        user=user,
        context={"size": f"{max(1, len(archive) // 1024):,} KB"},
        event_key=f"account_exported:{user.id}:{now.isoformat()}",
        now=now,
    )
    return archive


# --- delete -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deletion:
    user_id: int
    sessions_ended: int
    removed: dict[str, int]
    kept: dict[str, int]


def _self_actor(user: User, ip_address: str = "") -> audit.Actor:
    return audit.Actor(user.id, f"customer #{user.id}", user.role, ip_address, "customer")


def placeholder_email(user_id: int) -> str:
    return f"deleted-{user_id}@deleted.invalid"


def _scrub_fields(value: Any) -> Any:
    """The customer's own words in a frozen purchase (handles, links, comments) -> placeholders."""
    if isinstance(value, dict):
        return {k: PLACEHOLDER if isinstance(v, str) and v else v for k, v in value.items()}
    return value


def _scrub_snapshot(snapshot: dict[str, Any]) -> dict[str, Any]:
    scrubbed = dict(snapshot)
    if "fields" in scrubbed:
        scrubbed["fields"] = _scrub_fields(scrubbed["fields"])
    if isinstance(scrubbed.get("configuration"), dict) and "fields" in scrubbed["configuration"]:
        scrubbed["configuration"] = {
            **scrubbed["configuration"],
            "fields": _scrub_fields(scrubbed["configuration"]["fields"]),
        }
    if isinstance(scrubbed.get("delivery"), dict):
        delivery = dict(scrubbed["delivery"])
        for key in ("link", "comments", "order_params"):
            if delivery.get(key):
                delivery[key] = (
                    PLACEHOLDER
                    if isinstance(delivery[key], str)
                    else ([] if isinstance(delivery[key], list) else _scrub_fields(delivery[key]))
                )
        scrubbed["delivery"] = delivery
    return scrubbed


def delete_account(
    session: Session,
    user_id: int,
    password: str,
    code: str = "",
    *,
    ip_address: str = "",
    now: datetime | None = None,
) -> Deletion:
    """Delete the signed-in customer's account (see the module text). Bad input changes nothing."""
    from smplat.integrations import stripe_gateway
    from smplat.services.checkout.subscriptions import ACTIVE_STATES

    now = now or utcnow()
    user = session.get(User, user_id)
    if user is None or user.deleted_at is not None:
        raise PrivacyError("This account does not exist.", code=ErrorCode.NOT_FOUND)
    if user.role != Role.CUSTOMER.value:
        raise PrivacyError(
            "Staff and reseller accounts are closed by an administrator, not from this page.",
            code=ErrorCode.NOT_ALLOWED,
        )
    if not password:
        raise PrivacyError("Enter your password to confirm.", code=ErrorCode.REQUIRED, field="password")
    if not accounts.verify_password(user.password_hash, password):
        raise PrivacyError("That password is not right.", code=ErrorCode.INVALID, field="password")
    if two_factor.is_enabled(user):
        try:
            two_factor.verify_sign_in(session, user.id, code, ip_address=ip_address, now=now)
        except ServiceError as error:
            raise PrivacyError(error.message, code=error.code, field="code") from None
    original_email = user.email
    # stop the money first: a deleted account must never be charged again
    live = (
        session.execute(
            select(Subscription).where(Subscription.user_id == user.id, Subscription.status.in_(ACTIVE_STATES))
        )
        .scalars()
        .all()
    )
    for sub in live:
        try:
            stripe_gateway.cancel_subscription(sub.stripe_subscription_id)
        except stripe_gateway.PaymentProviderNotFound:
            pass  # Stripe no longer has it: nothing to stop
        sub.status, sub.canceled_at = "canceled", now
    collected = collect(session, user)
    sessions_ended = accounts.revoke_all_sessions(session, user.id, now)
    removed: dict[str, int] = {}

    def remove(model: Any, *where: Any) -> None:
        removed[model.__tablename__] = session.execute(delete(model).where(*where)).rowcount or 0

    from smplat.models.carts import Cart
    from smplat.models.merchandising import SavedConfiguration
    from smplat.models.profiles import LinkedProfile, ProfileSnapshot

    remove(UserSession, UserSession.user_id == user.id)
    remove(AuthToken, AuthToken.user_id == user.id)
    remove(BackupCode, BackupCode.user_id == user.id)
    remove(LoginAttempt, LoginAttempt.email == original_email)
    profile_ids = select(LinkedProfile.id).where(LinkedProfile.user_id == user.id)
    remove(ProfileSnapshot, ProfileSnapshot.profile_id.in_(profile_ids))
    remove(LinkedProfile, LinkedProfile.user_id == user.id)
    remove(SavedConfiguration, SavedConfiguration.user_id == user.id)
    carts = select(Cart.id).where(Cart.user_id == user.id)
    from smplat.models.carts import CartItem

    session.execute(delete(CartItem).where(CartItem.cart_id.in_(carts)))
    session.execute(update(CheckoutSession).where(CheckoutSession.cart_id.in_(carts)).values(cart_id=None))
    remove(Cart, Cart.user_id == user.id)
    from smplat.models.invoices import BillingProfile
    from smplat.models.notifications import NotificationMessage, NotificationPreference

    # billing details go (issued invoices keep the buyer as the law requires: bookkeeping)
    remove(BillingProfile, BillingProfile.user_id == user.id)
    remove(NotificationPreference, NotificationPreference.user_id == user.id)
    placeholder = placeholder_email(user.id)
    # the delivery log keeps that a message went, not to whom or what it said
    session.execute(
        update(NotificationMessage)
        .where(NotificationMessage.user_id == user.id)
        .values(recipient=placeholder, subject="", body_text="", body_html="", headers={})
    )
    # bookkeeping stays, without the person: emails and the handles/links they typed
    order_ids = collected.ids("orders")
    if order_ids:
        session.execute(update(Order).where(Order.id.in_(order_ids)).values(customer_email=placeholder))
        for item_id, snapshot in session.execute(
            select(OrderItem.id, OrderItem.snapshot).where(OrderItem.order_id.in_(order_ids))
        ).all():
            # a Core UPDATE on purpose: snapshots are immutable for the shop's code, but the
            # law's erasure of personal data overrides that for the customer's own words
            session.execute(
                update(OrderItem.__table__)
                .where(OrderItem.__table__.c.id == item_id)
                .values(snapshot=_scrub_snapshot(snapshot))
            )
    for checkout_id, lines in session.execute(
        select(CheckoutSession.id, CheckoutSession.lines).where(
            CheckoutSession.id.in_(collected.ids("checkout_sessions"))
        )
    ).all():
        session.execute(
            update(CheckoutSession)
            .where(CheckoutSession.id == checkout_id)
            .values(customer_email=placeholder, lines=[_scrub_snapshot(line) for line in lines or []])
        )
    # every other text column of the account is personal by default (name, and billing details
    # or phone numbers other modules add later): cleared without a list to keep up to date
    for column in User.__table__.columns:
        if _is_text(column) and column.name not in ACCOUNT_TEXT_KEPT:
            setattr(user, column.name, "")
    user.email = placeholder
    user.password_hash = "!deleted"  # matches no password
    user.two_factor_enabled_at = None
    user.two_factor_last_step = None
    user.email_verified_at = None
    user.last_login_at = None
    user.timezone = "UTC"
    user.is_active = False
    user.deleted_at = now
    session.flush()
    kept = {name: collected.count(name) for name in ("orders", "order_items", "payments", "subscriptions")}
    audit.record(
        session,
        _self_actor(user, ip_address),
        "account.delete",
        "user",
        user.id,
        data={"sessions_ended": sessions_ended, "removed": removed, "kept": kept, "subscriptions_cancelled": len(live)},
        at=now,
    )
    brand = get_settings().brand_name
    # The one message that bypasses the notification log on purpose: a logged row would keep the
    # address of an account that asked to be forgotten. Sent once, after the commit.
    after_commit(
        session,
        lambda: _send_safely(
            original_email,
            f"Your {brand} account is deleted",
            f"Your {brand} account has been deleted and you were signed out everywhere.\n\n"
            "Your personal details, linked profiles and saved configurations are gone. Orders and payments are kept, "
            f"without your name or email, for {get_settings().account_data_retention_days} days as the law requires "
            "for bookkeeping, and then removed.\n\n"
            f"The {brand} team\n",
        ),
    )
    return Deletion(user.id, sessions_ended, removed, kept)


def _send_safely(to: str, subject: str, text: str) -> None:
    from smplat.services.email import send_email

    try:
        send_email(to, subject, text)
    except Exception:
        logger.exception("privacy email %r failed", subject)


# --- purge ------------------------------------------------------------------------------------


def purge_deleted_accounts(
    session: Session, now: datetime | None = None, retention_days: int | None = None
) -> dict[str, int]:
    """Remove deleted accounts whose retention period has passed: every row discovered for the
    account (children first), then the account row. Audit entries stay (actor cleared)."""
    now = now or utcnow()
    days = get_settings().account_data_retention_days if retention_days is None else retention_days
    cutoff = now - timedelta(days=days)
    due = session.execute(select(User).where(User.deleted_at.is_not(None), User.deleted_at <= cutoff)).scalars().all()
    counts: dict[str, int] = {"accounts": 0}
    by_name = {t.name: t for t in _tables()}
    for user in due:
        collected = collect(session, user)
        for name in reversed([t.name for t in _tables()]):
            ids = collected.ids(name)
            if not ids or name in KEPT_ON_PURGE:
                continue
            table = by_name[name]
            for keep in KEPT_ON_PURGE:  # the kept tables stop pointing at what goes
                for fk in by_name[keep].foreign_keys:
                    if fk.column.table.name == name:
                        session.execute(update(by_name[keep]).where(fk.parent.in_(ids)).values({fk.parent.name: None}))
            ordered = sorted(ids, key=str)
            for start in range(0, len(ordered), 500):
                session.execute(delete(table).where(table.c.id.in_(ordered[start : start + 500])))
            counts[name] = counts.get(name, 0) + len(ids)
        counts["accounts"] += 1
    session.flush()
    return counts
