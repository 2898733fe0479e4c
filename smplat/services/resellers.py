"""Resellers: the prepaid wallet, its ledger, API keys and reseller prices; the rules behind
panel API v2 (`smplat/api/reseller_v2.py`).

Money moves in one place, `_move`: a conditional `UPDATE reseller_accounts SET balance =
balance + amount WHERE id = … AND balance + amount >= 0 RETURNING balance` followed by the
ledger row, in the caller's transaction. The UPDATE takes the row's write lock (PostgreSQL
re-checks the condition on the newest row after waiting; SQLite runs one writer at a time), so
two concurrent orders can never spend the same balance: the second one either finds enough
left or is refused, and the CHECK constraint `balance_minor >= 0` backs it up.

An order placed through the API is a checkout session paid from the wallet, turned into the
order by `placement.fulfil_paid_session` (the function Stripe's webhook calls): the same
order rows, delivery tasks, routing and guardrails as a storefront order.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import re
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from smplat.db import CATALOG_CHANGES, RowBatch
from smplat.integrations.dialects import CONVENTION_ORDER_PARAMS, word_key
from smplat.models.accounts import User
from smplat.models.base import utcnow
from smplat.models.catalog import Product, ProductStatus
from smplat.models.checkout import CheckoutSession
from smplat.models.merchandising import CommerceCounter
from smplat.models.orders import Order, OrderItem, OrderStatus
from smplat.models.providers import (
    ProviderOrder,
    ProviderService,
    QuantitySource,
    Refill,
    RefillStatus,
    RouteStep,
    ServiceRoute,
)
from smplat.models.resellers import LedgerKind, ResellerAccount, ResellerApiKey, ResellerLedgerEntry
from smplat.services import audit, counters, links, pricing
from smplat.services.catalog import ProductDetail, get_product_detail
from smplat.services.delivery import DeliverySpec
from smplat.services.errors import ErrorCode, ServiceError
from smplat.services.permissions import Permission
from smplat.settings import get_settings

KEY_PREFIX = "smr_"
MAX_STATUS_IDS = 100
PAYMENT_PROVIDER = "wallet"


class ResellerError(ServiceError):
    """A reseller API request that cannot be served; `message` is what the API answers."""


class InsufficientBalance(ResellerError):
    default_code = ErrorCode.NOT_ALLOWED


class DuplicateIdempotencyKey(Exception):
    """Two requests with one idempotency key raced; the caller retries and finds the first."""


# --- accounts and wallet -----------------------------------------------------------------------


def account_for_user(session: Session, user_id: int) -> ResellerAccount | None:
    return session.execute(select(ResellerAccount).where(ResellerAccount.user_id == user_id)).scalars().first()


def is_reseller(session: Session, user_id: int) -> bool:
    """An enabled reseller account (one indexed lookup: the account navigation asks it)."""
    found = session.execute(
        select(ResellerAccount.id).where(ResellerAccount.user_id == user_id, ResellerAccount.enabled.is_(True))
    ).first()
    return found is not None


def _user_by_email(session: Session, email: str) -> User:
    user = session.execute(select(User).where(User.email == (email or "").strip().lower())).scalars().first()
    if user is None:
        raise ResellerError("no account with this email", code=ErrorCode.NOT_FOUND, field="email")
    return user


def enable(session: Session, actor: audit.Actor, email: str, *, currency: str | None = None) -> ResellerAccount:
    """Make a customer a reseller (idempotent; re-enables a disabled account). Audited."""
    audit.require(actor, Permission.MANAGE_RESELLERS, "reseller.enable", "user", email)
    user = _user_by_email(session, email)
    account = account_for_user(session, user.id)
    if account is not None and account.enabled:
        return account
    if account is None:
        account = ResellerAccount(user_id=user.id, **({"currency": currency.upper()} if currency else {}))
    account.enabled = True
    session.add(account)
    session.flush()
    audit.record(session, actor, "reseller.enable", "reseller", account.id, data={"email": user.email})
    return account


_accounts = ResellerAccount.__table__
_DEBIT = (
    update(_accounts)
    .where(_accounts.c.id == bindparam("b_account_id"), _accounts.c.balance_minor + bindparam("amount") >= 0)
    .values(balance_minor=_accounts.c.balance_minor + bindparam("amount"), updated_at=bindparam("now"))
    .returning(_accounts.c.balance_minor)
)


def _change_balance(session: Session, account_id: int, amount_minor: int) -> int:
    """Add `amount_minor` (negative: a debit) atomically; the new balance. Raises
    InsufficientBalance (nothing changed) when a debit would take it below zero."""
    result = session.execute(_DEBIT, {"b_account_id": account_id, "amount": amount_minor, "now": utcnow()}).first()
    if result is None:
        raise InsufficientBalance("Not enough funds on balance")
    return int(result[0])


def _ledger_row(
    account_id: int,
    amount_minor: int,
    kind: str,
    balance_after: int,
    *,
    reason: str = "",
    actor_label: str = "",
    order_id: int | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "kind": kind,
        "amount_minor": amount_minor,
        "balance_after_minor": balance_after,
        "order_id": order_id,
        "idempotency_key": idempotency_key,
        "reason": reason[:500],
        "actor_label": actor_label[:200],
    }


def _move(
    session: Session,
    account_id: int,
    amount_minor: int,
    kind: str,
    *,
    reason: str = "",
    actor_label: str = "",
    order_id: int | None = None,
    idempotency_key: str | None = None,
) -> ResellerLedgerEntry:
    """Move the wallet and write its ledger row."""
    balance_after = _change_balance(session, account_id, amount_minor)
    entry = ResellerLedgerEntry(
        **_ledger_row(
            account_id,
            amount_minor,
            kind,
            balance_after,
            reason=reason,
            actor_label=actor_label,
            order_id=order_id,
            idempotency_key=idempotency_key,
        )
    )
    session.add(entry)
    session.flush()
    return entry


def adjust(session: Session, actor: audit.Actor, email: str, amount_minor: int, reason: str) -> ResellerLedgerEntry:
    """An operator's credit (positive) or correction (negative) of a wallet, with a reason. Audited.
    Makes the customer a reseller when they are not one yet."""
    audit.require(actor, Permission.MANAGE_RESELLERS, "reseller.adjust", "user", email)
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor == 0:
        raise ResellerError("the amount must be a whole number of minor units, not zero", field="amount")
    reason = (reason or "").strip()
    if not reason:
        raise ResellerError("say why the balance changes", code=ErrorCode.REQUIRED, field="reason")
    account = enable(session, actor, email)
    before = account.balance_minor
    entry = _move(session, account.id, amount_minor, LedgerKind.ADJUSTMENT, reason=reason, actor_label=actor.label)
    audit.record(
        session,
        actor,
        "reseller.adjust",
        "reseller",
        account.id,
        before={"balance_minor": before},
        after={"balance_minor": entry.balance_after_minor},
        data={"amount_minor": amount_minor, "reason": reason, "ledger_id": entry.id},
    )
    return entry


def credit_refund(session: Session, order: Order, amount_minor: int, reason: str, idempotency_key: str) -> bool:
    """A refund of a wallet-paid order goes back to the wallet, once per key. False when the
    order was not paid from a wallet (the caller refunds it another way)."""
    entry = (
        session.execute(
            select(ResellerLedgerEntry).where(
                ResellerLedgerEntry.order_id == order.id, ResellerLedgerEntry.kind == LedgerKind.ORDER
            )
        )
        .scalars()
        .first()
    )
    if entry is None or amount_minor <= 0:
        return False
    key = f"refund:{idempotency_key}"[:120]
    if session.execute(
        select(ResellerLedgerEntry.id).where(
            ResellerLedgerEntry.account_id == entry.account_id, ResellerLedgerEntry.idempotency_key == key
        )
    ).first():
        return True
    with session.begin_nested():
        _move(
            session,
            entry.account_id,
            amount_minor,
            LedgerKind.REFUND,
            reason=reason,
            actor_label="system",
            order_id=order.id,
            idempotency_key=key,
        )
    return True


# --- top-ups through Stripe Checkout ---------------------------------------------------------

TOPUP_KIND = "reseller_topup"  # `metadata.smplat_kind` of a top-up's Checkout session


def topup_limits() -> tuple[int, int]:
    settings = get_settings()
    return settings.reseller_topup_min_minor, settings.reseller_topup_max_minor


def start_topup(session: Session, user_id: int, amount_minor: int, base_url: str) -> str:
    """A Stripe Checkout session that tops up the reseller's wallet by `amount_minor`; the
    hosted page's URL. Nothing is credited here: the paid session's webhook does that
    (`credit_topup`), once. Raises ResellerError for a non-reseller or an amount outside the
    `reseller_topup_min_minor`..`reseller_topup_max_minor` settings."""
    from smplat.integrations import stripe_gateway

    account = account_for_user(session, user_id)
    if account is None or not account.enabled:
        raise ResellerError("Your account is not a reseller account.", code=ErrorCode.NOT_ALLOWED)
    low, high = topup_limits()
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or not low <= amount_minor <= high:
        raise ResellerError(
            f"Top up between {_money(low)} and {_money(high)} {account.currency}.", field="topup_amount"
        )
    user = session.get(User, user_id)
    base = base_url.rstrip("/")
    created = stripe_gateway.create_checkout_session(
        {
            "mode": "payment",
            "line_items": [
                {
                    "price_data": {
                        "currency": account.currency.lower(),
                        "unit_amount": amount_minor,
                        "product_data": {"name": "Reseller wallet top-up", "description": f"Wallet of {user.email}"},
                    },
                    "quantity": 1,
                }
            ],
            "customer_email": user.email,
            "client_reference_id": f"reseller-{account.id}",
            "metadata": {
                "smplat_kind": TOPUP_KIND,
                "reseller_account_id": str(account.id),
                "amount_minor": str(amount_minor),
            },
            "success_url": f"{base}/account/reseller?topup=paid",
            "cancel_url": f"{base}/account/reseller?topup=cancelled",
        }
    )
    url = created.get("url")
    if not url:
        raise ResellerError("Payments are unavailable right now; please try again in a minute.")
    return str(url)


def is_topup(stripe_session: dict[str, Any]) -> bool:
    return (stripe_session.get("metadata") or {}).get("smplat_kind") == TOPUP_KIND


def credit_topup(session: Session, stripe_session: dict[str, Any]) -> ResellerLedgerEntry | None:
    """Credit a paid top-up session to its wallet, exactly once: the ledger row carries
    `topup:<session id>` under UNIQUE(account, key), so a second copy of the event, another
    event for the same session (completed, then async_payment_succeeded) or two at once find
    the first credit. An unpaid session (a delayed payment method) credits nothing yet; the
    amount is what Stripe collected, in the wallet's currency only."""
    meta = stripe_session.get("metadata") or {}
    ref = str(meta.get("reseller_account_id") or "")
    account = session.get(ResellerAccount, int(ref)) if ref.isdigit() else None
    if account is None or stripe_session.get("payment_status") != "paid":
        return None
    amount = int(stripe_session.get("amount_total") or 0)
    if amount <= 0 or str(stripe_session.get("currency") or "").upper() != account.currency:
        return None
    key = f"topup:{stripe_session.get('id')}"[:120]
    found = select(ResellerLedgerEntry).where(
        ResellerLedgerEntry.account_id == account.id, ResellerLedgerEntry.idempotency_key == key
    )
    existing = session.execute(found).scalars().first()
    if existing is not None:
        return existing
    try:
        with session.begin_nested():
            return _move(
                session,
                account.id,
                amount,
                LedgerKind.TOPUP,
                reason="Top-up paid through Stripe Checkout",
                actor_label="stripe",
                idempotency_key=key,
            )
    except IntegrityError:  # a concurrent copy credited it first
        return session.execute(found).scalars().one()


def ledger(session: Session, account_id: int, limit: int = 50) -> list[dict[str, Any]]:
    rows = session.execute(
        select(ResellerLedgerEntry)
        .where(ResellerLedgerEntry.account_id == account_id)
        .order_by(ResellerLedgerEntry.id.desc())
        .limit(limit)
    ).scalars()
    return [
        {
            "id": r.id,
            "kind": r.kind,
            "amount_minor": r.amount_minor,
            "balance_after_minor": r.balance_after_minor,
            "order_id": r.order_id,
            "reason": r.reason,
            "created_at": r.created_at.isoformat(),
        }
        for r in rows
    ]


# --- API keys ----------------------------------------------------------------------------------


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def _clean_ips(allowed_ips: list[str] | str | None) -> list[str]:
    if isinstance(allowed_ips, str):
        allowed_ips = [p for p in allowed_ips.replace(",", " ").split() if p]
    cleaned = []
    for value in allowed_ips or []:
        try:
            cleaned.append(str(ipaddress.ip_network(value.strip(), strict=False)))
        except ValueError:
            raise ResellerError(f"{value!r} is not an IP address or network", field="allowed_ips") from None
    return cleaned


def create_key(
    session: Session, account: ResellerAccount, name: str = "", allowed_ips: list[str] | str | None = None
) -> tuple[ResellerApiKey, str]:
    """A new key: returns the row and the raw key, which is shown once and never stored."""
    if not account.enabled:
        raise ResellerError("this reseller account is disabled", code=ErrorCode.NOT_ALLOWED)
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ResellerApiKey(
        account_id=account.id,
        name=(name or "").strip()[:80] or "API key",
        prefix=raw[:12],
        key_hash=hash_key(raw),
        allowed_ips=_clean_ips(allowed_ips),
    )
    session.add(row)
    session.flush()
    return row, raw


def revoke_key(session: Session, account: ResellerAccount, key_id: int) -> ResellerApiKey:
    row = session.get(ResellerApiKey, key_id)
    if row is None or row.account_id != account.id:
        raise ResellerError("no such key", code=ErrorCode.NOT_FOUND)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
        session.flush()
    return row


def list_keys(session: Session, account_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(ResellerApiKey).where(ResellerApiKey.account_id == account_id).order_by(ResellerApiKey.id)
    ).scalars()
    return [
        {
            "id": r.id,
            "name": r.name,
            "prefix": r.prefix,
            "allowed_ips": ", ".join(r.allowed_ips or []),
            "revoked": r.revoked_at is not None,
        }
        for r in rows
    ]


@dataclass(frozen=True)
class Caller:
    """The reseller behind a valid API key (plain values): who, and their prices as read with
    the key (`markup_bps`, per-service `rates`), and the `catalog_changes` counter read in the
    same statement (what the offer cache is checked against, see `offer`)."""

    account_id: int
    user_id: int
    email: str
    key_id: int
    currency: str
    markup_bps: int | None = None
    rates: dict[str, int] = field(default_factory=dict)
    catalog_version: tuple[Any, ...] = ()


def _catalog_version() -> list[Any]:
    """The `catalog_changes` counter's value and time (the time tells a database that was
    emptied and refilled from the one before), as two columns for any SELECT."""
    row = CommerceCounter.name == CATALOG_CHANGES
    return [
        select(func.max(CommerceCounter.value)).where(row).scalar_subquery(),
        select(func.max(CommerceCounter.updated_at)).where(row).scalar_subquery(),
    ]


# the key, its account, the account's email and the catalog counter: one statement
_AUTHENTICATE = (
    select(
        ResellerApiKey.id,
        ResellerApiKey.revoked_at,
        ResellerApiKey.allowed_ips,
        ResellerAccount.id,
        ResellerAccount.user_id,
        ResellerAccount.enabled,
        ResellerAccount.currency,
        ResellerAccount.markup_bps,
        ResellerAccount.rates,
        User.email,
        *_catalog_version(),
    )
    .join(ResellerAccount, ResellerAccount.id == ResellerApiKey.account_id)
    .outerjoin(User, User.id == ResellerAccount.user_id)
    .where(ResellerApiKey.key_hash == bindparam("key_hash"))
)


def authenticate(session: Session, raw_key: str, client_ip: str | None) -> Caller:
    """The caller of an API request, or ResellerError("Invalid API key") / ("IP not allowed")."""
    if not raw_key or len(raw_key) > 200:
        raise ResellerError("Invalid API key", code=ErrorCode.UNAUTHENTICATED)
    row = session.execute(_AUTHENTICATE, {"key_hash": hash_key(raw_key)}).first()
    if row is None:
        raise ResellerError("Invalid API key", code=ErrorCode.UNAUTHENTICATED)
    key_id, revoked_at, allowed_ips, account_id, user_id, enabled, currency, markup_bps, rates, email, *version = row
    if revoked_at is not None or not enabled:
        raise ResellerError("Invalid API key", code=ErrorCode.UNAUTHENTICATED)
    if allowed_ips:
        try:
            ip = ipaddress.ip_address(client_ip or "")
        except ValueError:
            ip = None
        if ip is None or not any(ip in ipaddress.ip_network(n) for n in allowed_ips):
            raise ResellerError("IP not allowed", code=ErrorCode.FORBIDDEN)
    return Caller(account_id, user_id, email or "", key_id, currency, markup_bps, dict(rates or {}), tuple(version))


# --- reseller prices ---------------------------------------------------------------------------


def _sellable(session: Session) -> list[Product]:
    return list(
        session.execute(
            select(Product).where(Product.status == ProductStatus.ACTIVE.value).order_by(Product.id)
        ).scalars()
    )


def api_sellable(detail: ProductDetail | None) -> bool:
    """One-time services only: a subscription product has no place in a per-order API."""
    if detail is None:
        return False
    return pricing.price(detail, pricing.default_configuration(detail)).billing != "subscription"


def retail_rate_per_1000(detail: ProductDetail) -> int:
    """The storefront price of 1000 units in the default configuration (minor units, rounded up)."""
    quote = pricing.price(detail, pricing.default_configuration(detail))
    return math.ceil(Decimal(quote.unit_price_minor) * 1000 / max(1, quote.service_units))


def primary_route(session: Session, product: Product) -> tuple[ServiceRoute, ProviderService] | None:
    """The product's first active initial route and its provider service (what an order of it
    is sent to first), or None."""
    row = session.execute(
        select(ServiceRoute, ProviderService)
        .join(ProviderService, ProviderService.id == ServiceRoute.provider_service_id)
        .where(
            ServiceRoute.product_id == product.id,
            ServiceRoute.add_on_id.is_(None),
            ServiceRoute.is_active.is_(True),
            ServiceRoute.step == RouteStep.INITIAL.value,
            ServiceRoute.quantity_source == QuantitySource.ITEM.value,
        )
        .order_by(ServiceRoute.priority, ServiceRoute.id)
        .limit(1)
    ).first()
    return (row[0], row[1]) if row is not None else None


def cost_rate_per_1000(session: Session, product: Product) -> int | None:
    """What 1000 units cost at the provider of the product's first active route (minor units,
    rounded up), when that provider bills in the product's currency; None otherwise."""
    return _cost_rate(product, primary_route(session, product))


def _cost_rate(product: Product, found: tuple[ServiceRoute, ProviderService] | None) -> int | None:
    if found is None or found[1].currency != product.currency:
        return None
    route, service = found
    per_unit_rate = 1000 if service.type == "Package" else 1  # a Package's rate is per package
    return math.ceil(Decimal(service.rate_per_1000) * Decimal(route.quantity_multiplier) * 100 * per_unit_rate)


def _marked_up(retail: int, cost: int | None, account: ResellerAccount | Caller) -> int:
    if cost is None:
        return retail
    bps = account.markup_bps if account.markup_bps is not None else get_settings().reseller_default_markup_bps
    return min(retail, math.ceil(Decimal(cost) * (10000 + bps) / 10000))


def rate_per_1000(session: Session, account: ResellerAccount | Caller, detail: ProductDetail) -> int:
    """The reseller's rate per 1000 units: the provider cost with their markup (or the
    `reseller_default_markup_bps` setting), never above the storefront's rate; the
    storefront's rate when the cost is unknown. (Their own rate, when set, wins: `listed_rate`.)"""
    return _marked_up(retail_rate_per_1000(detail), cost_rate_per_1000(session, detail.product), account)


def per_package(kind: str) -> bool:
    """Panels price a Package per package; every other type per 1000 units."""
    return word_key(kind) == "package"


def listed_rate(
    session: Session,
    account: ResellerAccount | Caller,
    detail: ProductDetail,
    kind: str,
    *,
    rates: tuple[int, int | None] | None = None,
) -> int:
    """The rate `services` lists and `add` charges (minor units): per 1000 units, or per
    package for a Package service. The reseller's own rate for the service wins when set.
    `rates`: the (retail, cost) rates per 1000 when the caller has them (an `Offer`)."""
    own = (account.rates or {}).get(str(detail.product.id))
    if own is not None:
        return int(own)
    if rates is None:
        rate = rate_per_1000(session, account, detail)
    else:
        rate = _marked_up(rates[0], rates[1], account)
    return math.ceil(Decimal(rate) / 1000) if per_package(kind) else rate


@dataclass(frozen=True)
class Offer:
    """What `add` needs of one service, read once per catalog version: the product, its detail
    and first route (loaded objects, detached: read only), its order type and its retail and
    cost rates per 1000."""

    product: Product
    detail: ProductDetail
    routed: tuple[ServiceRoute, ProviderService] | None
    kind: str
    retail_rate: int
    cost_rate: int | None


_offers: dict[tuple[str, int], tuple[tuple[Any, ...], Offer | None]] = {}


def offer(session: Session, product_id: int, catalog_version: tuple[Any, ...]) -> Offer | None:
    """The offer of an active one-time product, None when the API does not sell it. Kept per
    database and product under `catalog_version`, the `catalog_changes` counter the caller
    read before: every write to a catalog or route table moves that counter in its own
    transaction (in any process: `smplat.db`), so a kept offer is only used while nothing it
    was read from has changed. Read in a session of its own, so that the caller's rollback
    cannot expire the kept objects."""
    bind = session.get_bind()
    key = (str(bind.url), product_id)
    kept = _offers.get(key)
    if kept is not None and kept[0] == catalog_version:
        return kept[1]
    with Session(bind, expire_on_commit=False) as own:
        found = _read_offer(own, product_id)
    _offers[key] = (catalog_version, found)
    return found


def _read_offer(session: Session, product_id: int) -> Offer | None:
    product = session.get(Product, product_id)
    if product is None or product.status != ProductStatus.ACTIVE.value:
        return None
    detail = get_product_detail(session, product.slug)
    if not api_sellable(detail):
        return None
    routed = primary_route(session, product)
    return Offer(product, detail, routed, order_type(routed), retail_rate_per_1000(detail), _cost_rate(product, routed))


def charge_for(rate_minor: int, quantity: int, kind: str = "Default") -> int:
    if per_package(kind):
        return rate_minor * quantity
    return math.ceil(Decimal(rate_minor) * quantity / 1000)


MAX_MARKUP_BPS = 100_000  # +1000 %


def parse_markup(text: str) -> int | None:
    """A markup typed as a percentage ("35", "12.5", "" for the default) in basis points."""
    text = (text or "").strip().rstrip("%").strip()
    if not text:
        return None
    try:
        value = Decimal(text.replace(",", "."))
    except ArithmeticError:
        value = Decimal("NaN")
    bps = value * 100 if value.is_finite() else Decimal(-1)
    if bps != bps.to_integral_value() or not 0 <= bps <= MAX_MARKUP_BPS:
        raise ResellerError(
            f"Enter the markup as a percentage from 0 to {MAX_MARKUP_BPS // 100}, like 35 or 12.5",
            field="markup",
        )
    return int(bps)


def parse_rates(text: str) -> dict[str, int]:
    """Per-service rates typed one per line, `service id = rate per 1000` ("3 = 43.21"), in
    minor units by service id. Raises ResellerError naming the first bad line."""
    rates: dict[str, int] = {}
    for number, raw in enumerate((text or "").splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        service, sep, rate = (p.strip() for p in line.replace(":", "=").partition("="))
        try:
            value = Decimal(rate.replace(",", ".")) * 100 if sep else Decimal("NaN")
        except ArithmeticError:
            value = Decimal("NaN")
        if not service.isdigit() or len(service) > 9 or not value.is_finite():
            raise ResellerError(f"Line {number}: write service id = rate per 1000, like 3 = 43.21", field="rates")
        if value != value.to_integral_value() or not 0 < value <= 10**9:
            raise ResellerError(f"Line {number}: the rate must be above 0 with at most 2 decimals", field="rates")
        rates[str(int(service))] = int(value)
    return rates


def set_prices(
    session: Session,
    actor: audit.Actor,
    email: str,
    *,
    markup_bps: int | None = None,
    rates: dict[str, int] | None = None,
) -> ResellerAccount:
    """Set a reseller's markup over cost (None: the `reseller_default_markup_bps` setting) and,
    when `rates` is given, replace their per-service rates (minor units per 1000 by service
    id; a rate wins over the markup). Audited with the before and after."""
    audit.require(actor, Permission.MANAGE_RESELLERS, "reseller.prices", "user", email)
    if markup_bps is not None and (
        isinstance(markup_bps, bool) or not isinstance(markup_bps, int) or not 0 <= markup_bps <= MAX_MARKUP_BPS
    ):
        raise ResellerError("the markup must be 0 to 100000 basis points", field="markup")
    if rates is not None:
        cleaned = {str(k): v for k, v in rates.items()}
        for service, rate in cleaned.items():
            product = session.get(Product, int(service)) if service.isdigit() and len(service) < 10 else None
            if product is None:
                raise ResellerError(f"There is no service {service[:12]}", code=ErrorCode.NOT_FOUND, field="rates")
            if isinstance(rate, bool) or not isinstance(rate, int) or rate <= 0:
                raise ResellerError(f"The rate of service {service} must be above 0", field="rates")
    account = enable(session, actor, email)
    before = {"markup_bps": account.markup_bps, "rates": dict(account.rates or {})}
    account.markup_bps = markup_bps
    if rates is not None:
        account.rates = {str(k): int(v) for k, v in rates.items()}
    session.add(account)
    session.flush()
    audit.record(
        session,
        actor,
        "reseller.prices",
        "reseller",
        account.id,
        before=before,
        after={"markup_bps": account.markup_bps, "rates": dict(account.rates or {})},
    )
    return account


def _money(minor: int) -> str:
    return f"{Decimal(minor) / 100:.2f}"


def services(session: Session, caller: Caller) -> list[dict[str, Any]]:
    account = session.get(ResellerAccount, caller.account_id)
    out = []
    for product in _sellable(session):
        if product.currency != account.currency:
            continue
        detail = get_product_detail(session, product.slug)
        if not api_sellable(detail):
            continue
        routed = primary_route(session, product)
        out.append(
            {
                "service": product.id,
                "name": product.title,
                "type": order_type(routed),
                "category": detail.category.name if getattr(detail, "category", None) else product.platform,
                "rate": _money(listed_rate(session, account, detail, order_type(routed))),
                "min": product.min_quantity,
                "max": product.max_quantity,
                "refill": bool(routed and routed[1].refill),  # what `refill` can then ask for
                "cancel": bool(routed and routed[1].cancel),  # what `cancel` can then ask for
                "dripfeed": bool(routed and routed[1].dripfeed and order_type(routed) == "Default"),
            }
        )
    return out


def route_options(routed: tuple[ServiceRoute, ProviderService] | None) -> dict[str, list[str]]:
    """The options an API order carries so that the router picks the route its type came
    from: the route's own `options` conditions (`group:option`), e.g. a Mentions product
    whose routes differ by audience."""
    chosen: dict[str, list[str]] = {}
    for entry in (routed[0].conditions or {}).get("options") or [] if routed is not None else []:
        group, _, option = str(entry).partition(":")
        if group and option:
            chosen.setdefault(group, []).append(option)
    return chosen


def order_type(routed: tuple[ServiceRoute, ProviderService] | None) -> str:
    """The panel order type of a service: the type of the provider service its first route
    sends orders to (what decides which `add` parameters it takes), "Default" without one."""
    if routed is None:
        return "Default"
    wanted = word_key(routed[1].type or "Default")
    return next((name for name in CONVENTION_ORDER_PARAMS if word_key(name) == wanted), routed[1].type.strip())


PRICE_LIST_COLUMNS = ("service", "name", "rate", "min", "max")


def price_list(session: Session, caller: Caller) -> list[dict[str, Any]]:
    """The reseller's price list: exactly the `services` answer's id, name, rate per 1000, min, max."""
    return [{k: s[k] for k in PRICE_LIST_COLUMNS} for s in services(session, caller)]


def price_list_csv(session: Session, caller: Caller) -> str:
    from smplat.services.csv_safe import write_csv

    return write_csv(price_list(session, caller), PRICE_LIST_COLUMNS)


# --- orders ------------------------------------------------------------------------------------

USERNAME_RE = re.compile(r"^@?[A-Za-z0-9._]{1,30}$")
HASHTAG_RE = re.compile(r"^#?[A-Za-z0-9_]{1,100}$")
SUBSCRIPTION_DELAYS = (0, 5, 10, 15, 30, 60, 90)  # minutes, the panels' usual choices
MAX_LIST = 1000  # comments, usernames or hashtags in one order
MAX_RUNS = 1000
MAX_INTERVAL_MINUTES = 60 * 24 * 30
# the parameters only some order types take, and the type that takes them (for the error)
_TYPED_ONLY = {
    "comments": "Custom Comments",
    "usernames": "Mentions",
    "hashtags": "Mentions with Hashtags",
    "hashtag": "Mentions Hashtag",
    "media": "Mentions Media Likers",
    "answer_number": "Poll",
    "posts": "Subscriptions",
    "delay": "Subscriptions",
    "expiry": "Subscriptions",
    "min": "Subscriptions",
    "max": "Subscriptions",
}


@dataclass(frozen=True)
class TypedOrder:
    """An `add`'s parameters read for the service's order type."""

    link: str
    quantity: int  # units per run (the total without drip-feed)
    runs: int | None = None
    interval: int | None = None
    comments: list[str] = field(default_factory=list)
    extra: dict[str, str] = field(default_factory=dict)  # the type's own parameters, sent to the panel
    charge_factor: int = 1  # Subscriptions: units per post × posts


def _given(params: dict[str, Any], name: str) -> bool:
    return params.get(name) not in (None, "")


def _text_list(params: dict[str, Any], name: str, pattern: re.Pattern[str], strip: str, what: str) -> list[str]:
    raw = str(params.get(name) or "").replace("\\n", "\n").replace("\r", "")
    values = [v.strip() for line in raw.split("\n") for v in line.split(",") if v.strip()]
    if not values:
        raise ResellerError(f"This service needs {name}: {what}", code=ErrorCode.REQUIRED, field=name)
    if len(values) > MAX_LIST:
        raise ResellerError(f"At most {MAX_LIST} {name}", field=name)
    bad = next((v for v in values if not pattern.match(v)), None)
    if bad is not None:
        raise ResellerError(f"Incorrect {name}: {bad[:40]!r} is not valid", field=name)
    return [v.lstrip(strip) for v in values]


def _one_username(params: dict[str, Any]) -> str:
    value = str(params.get("username") or "").strip()
    if not value:
        raise ResellerError("This service needs username", code=ErrorCode.REQUIRED, field="username")
    if not USERNAME_RE.match(value):
        raise ResellerError("Incorrect username", field="username")
    return value.lstrip("@")


def _link(params: dict[str, Any]) -> str:
    link = str(params.get("link") or "").strip()
    if not link or len(link) > 1000 or any(c.isspace() for c in link):
        raise ResellerError("Incorrect link", field="link")
    return link


def _in_range(value: int, product: Product, name: str = "quantity") -> int:
    if not product.min_quantity <= value <= product.max_quantity:
        label = "Quantity" if name == "quantity" else name
        raise ResellerError(f"{label} must be between {product.min_quantity} and {product.max_quantity}", field=name)
    return value


def order_parameters(
    params: dict[str, Any], product: Product, routed: tuple[ServiceRoute, ProviderService] | None
) -> TypedOrder:
    """Read and check an `add`'s parameters for the service's order type (see docs/api.md):
    a parameter of another type, drip-feed on a service without it, or a missing or malformed
    parameter of this type is refused with a message saying which."""
    kind = order_type(routed)
    key = word_key(kind)
    takes = {word_key(k): v for k, v in CONVENTION_ORDER_PARAMS.items()}.get(key) or CONVENTION_ORDER_PARAMS["Default"]
    for name, owner in _TYPED_ONLY.items():
        if _given(params, name) and name not in takes:
            raise ResellerError(f"{name} is for {owner} services; this service is {kind}", field=name)
    drip_asked = _given(params, "runs") or _given(params, "interval")
    if drip_asked and not (routed is not None and routed[1].dripfeed and key == "default"):
        raise ResellerError("This service does not support drip-feed", field="runs")
    extra: dict[str, str] = {}

    if key == "subscriptions":
        username = _one_username(params)
        low = _positive_int(params.get("min"), "min")
        high = _positive_int(params.get("max"), "max")
        _in_range(low, product, "min")
        _in_range(high, product, "max")
        if low > high:
            raise ResellerError("min must not be above max", field="min")
        posts = _positive_int(params.get("posts"), "posts")
        if not 1 <= posts <= 1000:
            raise ResellerError("posts must be between 1 and 1000", field="posts")
        delay = _positive_int(params.get("delay") if _given(params, "delay") else "0", "delay")
        if delay not in SUBSCRIPTION_DELAYS:
            raise ResellerError(f"delay must be one of {', '.join(map(str, SUBSCRIPTION_DELAYS))}", field="delay")
        extra = {"username": username, "min": str(low), "max": str(high), "posts": str(posts), "delay": str(delay)}
        if _given(params, "expiry"):
            extra["expiry"] = _expiry(str(params["expiry"]))
        link = _link(params) if _given(params, "link") else links.profile_url(product.platform, username)
        return TypedOrder(link, high, extra=extra, charge_factor=posts)

    link = _link(params)
    if key == "custom comments":
        comments = _text_list_lines(params, "comments")
        if _given(params, "quantity") and _positive_int(params.get("quantity"), "quantity") != len(comments):
            raise ResellerError("quantity must equal the number of comments (or leave it out)", field="quantity")
        return TypedOrder(link, _in_range(len(comments), product), comments=comments)
    if key == "package":
        quantity = _positive_int(params["quantity"], "quantity") if _given(params, "quantity") else product.min_quantity
        return TypedOrder(link, _in_range(quantity, product))
    if key == "mentions custom list":
        names = _text_list(params, "usernames", USERNAME_RE, "@", "one username per line")
        return TypedOrder(link, _in_range(len(names), product), extra={"usernames": "\n".join(names)})

    quantity = _in_range(_positive_int(params.get("quantity"), "quantity"), product)
    if key in ("mentions", "mentions with hashtags"):
        names = _text_list(params, "usernames", USERNAME_RE, "@", "one username per line")
        extra["usernames"] = "\n".join(names)
        if key == "mentions with hashtags":
            tags = _text_list(params, "hashtags", HASHTAG_RE, "#", "one hashtag per line")
            extra["hashtags"] = "\n".join(tags)
    elif key == "mentions hashtag":
        tag = str(params.get("hashtag") or "").strip()
        if not tag:
            raise ResellerError("This service needs hashtag", code=ErrorCode.REQUIRED, field="hashtag")
        if not HASHTAG_RE.match(tag):
            raise ResellerError("Incorrect hashtag", field="hashtag")
        extra["hashtag"] = tag.lstrip("#")
    elif key in ("mentions user followers", "comment likes"):
        extra["username"] = _one_username(params)
    elif key == "mentions media likers":
        media = str(params.get("media") or "").strip()
        if not media:
            raise ResellerError("This service needs media: the post's link", code=ErrorCode.REQUIRED, field="media")
        if not media.startswith(("https://", "http://")) or len(media) > 1000 or any(c.isspace() for c in media):
            raise ResellerError("Incorrect media: give the post's link", field="media")
        extra["media"] = media
    elif key == "poll":
        if not _given(params, "answer_number"):
            raise ResellerError("This service needs answer_number", code=ErrorCode.REQUIRED, field="answer_number")
        answer = _positive_int(params.get("answer_number"), "answer_number")
        if not 1 <= answer <= 100:
            raise ResellerError("answer_number must be between 1 and 100", field="answer_number")
        extra["answer_number"] = str(answer)
    runs = interval = None
    if _given(params, "runs") or _given(params, "interval"):
        runs = _positive_int(params.get("runs"), "runs")
        interval = _positive_int(params.get("interval"), "interval")
        if not 2 <= runs <= MAX_RUNS or not 1 <= interval <= MAX_INTERVAL_MINUTES:
            raise ResellerError(
                f"Drip-feed needs 2 to {MAX_RUNS} runs and an interval of 1 to {MAX_INTERVAL_MINUTES} minutes",
                field="runs",
            )
    return TypedOrder(link, quantity, runs, interval, extra=extra)


def _text_list_lines(params: dict[str, Any], name: str) -> list[str]:
    """Comments: one per line (a comment may hold commas)."""
    raw = str(params.get(name) or "").replace("\\n", "\n").replace("\r", "")
    values = [c.strip() for c in raw.split("\n") if c.strip()]
    if not values:
        raise ResellerError(f"This service needs {name}: one per line", code=ErrorCode.REQUIRED, field=name)
    if len(values) > MAX_LIST or any(len(v) > 500 for v in values):
        raise ResellerError(f"At most {MAX_LIST} {name} of up to 500 characters each", field=name)
    return values


def _expiry(text: str) -> str:
    """`expiry` as the panels take it, dd/mm/yyyy, a date after today."""
    from datetime import datetime as _dt

    try:
        day = _dt.strptime(text.strip(), "%d/%m/%Y").date()
    except ValueError:
        raise ResellerError("Incorrect expiry: write it as dd/mm/yyyy", field="expiry") from None
    if day <= utcnow().date():
        raise ResellerError("expiry must be a date after today", field="expiry")
    return day.strftime("%d/%m/%Y")


@dataclass(frozen=True)
class Placed:
    order_id: int
    charge_minor: int
    created: bool


def _existing_by_key(session: Session, account_id: int, key: str) -> Placed | None:
    entry = (
        session.execute(
            select(ResellerLedgerEntry).where(
                ResellerLedgerEntry.account_id == account_id, ResellerLedgerEntry.idempotency_key == key
            )
        )
        .scalars()
        .first()
    )
    if entry is None or entry.order_id is None:
        return None
    return Placed(entry.order_id, -entry.amount_minor, False)


def _positive_int(value: Any, name: str) -> int:
    text = str(value if value is not None else "").strip()
    if not text.isdigit() or len(text) > 9:
        raise ResellerError(f"Incorrect {name}", field=name)
    return int(text)


@dataclass(frozen=True)
class Prepared:
    """A validated, priced `add`: what `place` writes (or the order an earlier retry placed)."""

    charge_minor: int = 0
    line: dict[str, Any] | None = None
    currency: str = ""
    reason: str = ""
    ledger_key: str | None = None
    existing: Placed | None = None


def add_order(session: Session, caller: Caller, params: dict[str, Any]) -> Placed:
    """Panel `add` in one unit of work: `prepare` then `place`. (The API runs the two in
    separate sessions so that on SQLite the write transaction starts with the debit.)"""
    prepared = prepare(session, caller, params)
    return prepared.existing or place(session, caller, prepared)


def prepare(session: Session, caller: Caller, params: dict[str, Any]) -> Prepared:
    """Validate and price an `add` (reads only). `idempotency_key` (optional): a retry with
    the same key answers the first order (`existing`), never paying twice."""
    key = str(params.get("idempotency_key") or "").strip()
    if len(key) > 100:
        raise ResellerError("Incorrect idempotency_key", field="idempotency_key")
    ledger_key = f"add:{key}" if key else None
    if ledger_key:
        found = _existing_by_key(session, caller.account_id, ledger_key)
        if found is not None:
            return Prepared(existing=found)
    service_id = str(params.get("service") or "").strip()
    found = (
        offer(session, int(service_id), caller.catalog_version)
        if service_id.isdigit() and len(service_id) < 10
        else None
    )
    if found is None or found.product.currency != caller.currency:
        raise ResellerError("Incorrect service ID", code=ErrorCode.NOT_FOUND, field="service")
    product, routed, kind = found.product, found.routed, found.kind
    typed = order_parameters(params, product, routed)
    link, quantity, runs, interval = typed.link, typed.quantity, typed.runs, typed.interval
    comments = typed.comments
    rate = listed_rate(session, caller, found.detail, kind, rates=(found.retail_rate, found.cost_rate))
    per_run = quantity
    total_units = quantity * runs if runs else quantity
    charge = charge_for(rate, total_units * typed.charge_factor, kind)
    spec = DeliverySpec(
        link=link,
        quantity=total_units,
        channel=product.platform,
        dripfeed_runs=runs,
        dripfeed_interval_minutes=interval,
        comments=comments,
        order_params=typed.extra,
        option_keys=route_options(routed),
    )
    line = {
        "product_id": product.id,
        "product_slug": product.slug,
        "product_title": product.title,
        "unit_label": product.unit_label,
        "platform": product.platform,
        "summary": f"{per_run}{f' × {runs} runs' if runs else ''} on {link} (reseller API)",
        "configuration": {"options": {}, "add_ons": [], "fields": {"link": link}, "plan": None, "preset": None},
        "quantity": 1,
        "unit_price_minor": charge,
        "total_minor": charge,
        "price": {
            "currency": product.currency,
            "unit_price_minor": charge,
            "quantity": 1,
            "total_minor": charge,
            "lines": [
                {
                    "kind": "reseller",
                    "label": f"{rate / 100:.2f} per {'package' if per_package(kind) else '1000'}",
                    "amount_minor": charge,
                }
            ],
            "billing": "one_time",
            "interval": None,
            "interval_count": 1,
            "experiment": None,
        },
        "blueprint": [],
        "service_units": total_units,
        "override_service_id": None,
        "delivery_estimate_hours": product.delivery_estimate_hours,
        "delivery": spec.to_snapshot(),
    }
    reason = f"{product.title}: {total_units}{f' × {typed.charge_factor} posts' if typed.charge_factor > 1 else ''} on {link}"
    return Prepared(charge, line, product.currency, reason, ledger_key)


def place(session: Session, caller: Caller, prepared: Prepared, batch: RowBatch | None = None) -> Placed:
    """Debit the wallet and place the prepared order through checkout's placement, in the
    caller's transaction. Raises InsufficientBalance (nothing written: the transaction may go
    on with other work) or DuplicateIdempotencyKey (a concurrent retry with the same key won:
    roll back, prepare again). `batch` (`_place_group`): the ledger row, the delivery task and
    the events are added to it, and the checkout not counted, for the group to write all of
    them at once before its commit."""
    from smplat.services.checkout.placement import fulfil_paid_session

    charge, ledger_key = prepared.charge_minor, prepared.ledger_key
    # the debit is this order's first write: it holds the wallet row until commit
    balance_after = _change_balance(session, caller.account_id, -charge)
    checkout = CheckoutSession(
        user_id=caller.user_id,
        customer_email=caller.email,
        stripe_session_id=f"wallet_{uuid.uuid4().hex}",
        amount_total_minor=charge,
        currency=prepared.currency,
        lines=[prepared.line],
    )
    placed = fulfil_paid_session(
        session,
        {"id": checkout.stripe_session_id, "payment_status": "paid", "amount_total": charge, "payment_intent": None},
        actor="reseller_api",
        paid_with="the reseller wallet",
        payment_provider=PAYMENT_PROVIDER,
        send_receipt=False,
        checkout=checkout,
        count_completed=batch is None,
        batch=batch,
    )
    row = _ledger_row(
        caller.account_id,
        -charge,
        LedgerKind.ORDER,
        balance_after,
        reason=prepared.reason,
        actor_label=f"api key {caller.key_id}",
        order_id=placed.order_id,
        idempotency_key=ledger_key,
    )
    if batch is not None:
        batch.add(ResellerLedgerEntry.__table__, [row])
        return Placed(placed.order_id, charge, True)
    try:
        session.execute(_LEDGER_INSERT, row)
    except IntegrityError:
        raise DuplicateIdempotencyKey(ledger_key) from None
    return Placed(placed.order_id, charge, True)


_LEDGER_INSERT = ResellerLedgerEntry.__table__.insert()


# --- status, refill, cancel --------------------------------------------------------------------

PANEL_STATUS = {
    OrderStatus.PENDING.value: "Pending",
    OrderStatus.PROCESSING.value: "In progress",
    OrderStatus.ACTIVE.value: "In progress",
    OrderStatus.ON_HOLD.value: "In progress",
    OrderStatus.COMPLETED.value: "Completed",
    OrderStatus.PARTIALLY_DELIVERED.value: "Partial",
    OrderStatus.CANCELED.value: "Canceled",
}
REFILL_STATUS = {
    RefillStatus.REQUESTED.value: "Pending",
    RefillStatus.PENDING.value: "Pending",
    RefillStatus.IN_PROGRESS.value: "In progress",
    RefillStatus.COMPLETED.value: "Completed",
    RefillStatus.REJECTED.value: "Rejected",
    RefillStatus.FAILED.value: "Error",
}


def parse_ids(raw: Any, name: str = "orders") -> list[str]:
    """`orders=1,2,3`: at most 100 ids (duplicates dropped, order kept); each one is checked
    on its own by the caller (a malformed id gets its own error in the answer)."""
    parts = [p.strip() for p in str(raw or "").split(",") if p.strip()]
    if not parts:
        raise ResellerError(f"Incorrect {name}", field=name)
    parts = list(dict.fromkeys(parts))
    if len(parts) > MAX_STATUS_IDS:
        raise ResellerError(f"Too many ids: at most {MAX_STATUS_IDS}", field=name)
    return parts


def _own_order(session: Session, caller: Caller, raw_id: Any) -> Order:
    text = str(raw_id if raw_id is not None else "").strip()
    order = session.get(Order, int(text)) if text.isdigit() and len(text) < 10 else None
    if order is None or order.user_id != caller.user_id:
        raise ResellerError("Incorrect order ID", code=ErrorCode.NOT_FOUND, field="order")
    return order


def order_status(session: Session, caller: Caller, raw_id: Any) -> dict[str, Any]:
    order = _own_order(session, caller, raw_id)
    items = list(session.execute(select(OrderItem).where(OrderItem.order_id == order.id)).scalars())
    ordered = sum(i.service_quantity for i in items)
    delivered = sum(i.delivered_quantity for i in items)
    start = next((i.start_count for i in items if i.start_count is not None), None)
    return {
        "charge": _money(order.charged_minor - order.refunded_minor),
        "start_count": str(start if start is not None else 0),
        "status": PANEL_STATUS.get(order.status, "Pending"),
        "remains": str(max(0, ordered - delivered)),
        "currency": order.currency,
    }


def request_refill(session: Session, caller: Caller, raw_id: Any) -> int:
    from smplat.services.fulfillment.operator_actions import request_refill as refill_line
    from smplat.services.order_status import Actor

    order = _own_order(session, caller, raw_id)
    item = session.execute(select(OrderItem).where(OrderItem.order_id == order.id).order_by(OrderItem.id)).scalars()
    first = item.first()
    if first is None:
        raise ResellerError("Incorrect order ID", code=ErrorCode.NOT_FOUND, field="order")
    with session.begin_nested():
        created = refill_line(
            session,
            first.id,
            Actor.customer(caller.user_id, caller.email),
            "asked through the reseller API",
            customer_user_id=caller.user_id,
        )
    return created.id


def refill_status(session: Session, caller: Caller, raw_id: Any) -> dict[str, Any]:
    text = str(raw_id if raw_id is not None else "").strip()
    refill = session.get(Refill, int(text)) if text.isdigit() and len(text) < 10 else None
    po = session.get(ProviderOrder, refill.provider_order_id) if refill is not None else None
    item = session.get(OrderItem, po.order_item_id) if po is not None and po.order_item_id else None
    order = session.get(Order, item.order_id) if item is not None else None
    if order is None or order.user_id != caller.user_id:
        raise ResellerError("Refill not found", code=ErrorCode.NOT_FOUND, field="refill")
    return {"status": REFILL_STATUS.get(refill.status, "Pending")}


def cancel(session: Session, caller: Caller, raw_id: Any) -> int:
    """Panel `cancel`: the same customer cancel as the order page (the line must have reached
    the supplier, still run, and its service allow cancels); the undelivered part comes back to
    the wallet when the supplier has stopped. 1 when the cancel was queued."""
    from smplat.services.fulfillment.cancel import request_cancel
    from smplat.services.order_status import Actor

    order = _own_order(session, caller, raw_id)
    first = (
        session.execute(select(OrderItem).where(OrderItem.order_id == order.id).order_by(OrderItem.id))
        .scalars()
        .first()
    )
    if first is None:
        raise ResellerError("Incorrect order ID", code=ErrorCode.NOT_FOUND, field="order")
    with session.begin_nested():
        request_cancel(
            session,
            first.id,
            Actor.customer(caller.user_id, caller.email),
            "asked through the reseller API",
            customer_user_id=caller.user_id,
        )
    return 1


def balance(session: Session, caller: Caller) -> dict[str, Any]:
    account = session.get(ResellerAccount, caller.account_id)
    return {"balance": _money(account.balance_minor), "currency": account.currency}


# --- dashboard and mass orders ------------------------------------------------------------------

MAX_MASS_LINES = 100


def caller_for_user(session: Session, user_id: int) -> Caller | None:
    """The reseller acting from the client dashboard (no key), or None for a non-reseller."""
    account = account_for_user(session, user_id)
    if account is None or not account.enabled:
        return None
    user = session.get(User, user_id)
    version = session.execute(select(*_catalog_version())).one()
    return Caller(
        account.id,
        user_id,
        user.email if user else "",
        0,
        account.currency,
        account.markup_bps,
        dict(account.rates or {}),
        tuple(version),
    )


def add_in_own_transactions(caller: Caller, params: dict[str, Any]) -> Placed:
    """`add` as the API runs it: validate and price in one unit of work (reads only), then
    place it in a write transaction whose first statement is a write (on SQLite a read
    snapshot cannot then turn a concurrent writer into `database is locked`), grouped with
    the adds arriving meanwhile (`_group_place`); a racing retry with the same idempotency
    key is found on the next round."""
    from smplat.db import session_scope

    for _ in range(3):
        try:
            with session_scope() as db:
                prepared = prepare(db, caller, params)
            if prepared.existing is not None:
                return prepared.existing
            return _group_place(caller, prepared)
        except DuplicateIdempotencyKey:
            continue
    raise ResellerError("Try again")


MAX_GROUP = 64  # adds placed in one transaction at most


@dataclass
class _Pending:
    caller: Caller
    prepared: Prepared
    done: threading.Event = field(default_factory=threading.Event)
    lead: bool = False  # woken to place the next group rather than with a result
    result: Placed | None = None
    error: BaseException | None = None


_group_lock = threading.Lock()
_group_queue: list[_Pending] = []
_group_leading = False


def _group_place(caller: Caller, prepared: Prepared) -> Placed:
    """Group commit: an add that finds no group being placed places, in one transaction, its
    own and every add queued by then (up to MAX_GROUP), then hands the next group to the first
    add still waiting. Each add's debit is its first write and atomic as ever; a refused one
    (not enough funds) writes nothing and fails alone. One commit, one connection and one
    writer turn per group instead of per add. Should anything else fail (a duplicate
    idempotency key, the commit), nothing of the group stays and each add is placed alone."""
    global _group_leading
    mine = _Pending(caller, prepared)
    with _group_lock:
        _group_queue.append(mine)
        lead = not _group_leading
        _group_leading = True
    if not lead:
        mine.done.wait()
        if not mine.lead:
            return _outcome(mine)
    with _group_lock:
        group = _group_queue[:MAX_GROUP]
        del _group_queue[:MAX_GROUP]
    try:
        _place_group(group)
    finally:
        for pending in group:
            if pending.result is None and pending.error is None:
                pending.error = ResellerError("Try again")
        with _group_lock:
            if _group_queue:
                _group_queue[0].lead = True
                _group_queue[0].done.set()
            else:
                _group_leading = False
        for pending in group:
            if pending is not mine:
                pending.done.set()
    return _outcome(mine)


def _outcome(pending: _Pending) -> Placed:
    if pending.error is not None:
        raise pending.error
    return pending.result


def _place_alone(pending: _Pending) -> None:
    from smplat.db import session_scope

    pending.result = pending.error = None
    try:
        with session_scope() as db:
            pending.result = place(db, pending.caller, pending.prepared)
    except Exception as exc:
        pending.error = exc


def _place_group(group: list[_Pending]) -> None:
    from smplat.db import session_scope

    if len(group) == 1:
        _place_alone(group[0])
        return
    try:
        with session_scope() as db:
            batch = RowBatch()
            for pending in group:
                try:
                    pending.result = place(db, pending.caller, pending.prepared, batch)
                except InsufficientBalance as exc:  # refused before it wrote anything
                    pending.error = exc
            placed = sum(1 for pending in group if pending.result is not None)
            if placed:  # the group's tasks, events and ledger rows, one INSERT per table (a
                batch.write(db)  # duplicate idempotency key fails the group), one count
                counters.increment(db, counters.CHECKOUT_COMPLETED, by=placed)
    except Exception:  # nothing of the group stayed: each add alone
        for pending in group:
            _place_alone(pending)


def mass_order(caller: Caller, text: str) -> list[dict[str, Any]]:
    """One order per line `service | link | quantity`: every line validated and answered on
    its own ({"line": n, "order": id} or {"line": n, "error": why}); valid lines are placed,
    each in its own transaction, so a bad or unaffordable line never undoes the others."""
    lines = [(n, raw.strip()) for n, raw in enumerate(str(text or "").splitlines(), start=1) if raw.strip()]
    if not lines:
        raise ResellerError("Paste one order per line: service | link | quantity", code=ErrorCode.REQUIRED)
    if len(lines) > MAX_MASS_LINES:
        raise ResellerError(f"At most {MAX_MASS_LINES} lines at once", field="orders")
    results: list[dict[str, Any]] = []
    for number, raw in lines:
        parts = [p.strip() for p in raw.split("|")]
        if len(parts) != 3:
            results.append({"line": number, "error": "Write service | link | quantity"})
            continue
        try:
            placed = add_in_own_transactions(caller, {"service": parts[0], "link": parts[1], "quantity": parts[2]})
        except ServiceError as exc:
            results.append({"line": number, "error": exc.message})
            continue
        results.append({"line": number, "order": placed.order_id})
    return results


def usage(session: Session) -> list[dict[str, Any]]:
    """Per-reseller usage for the admin: balance, orders and money spent through the wallet,
    refunds back to it, active keys (one grouped query per table)."""
    entry = ResellerLedgerEntry
    sums = {
        row.account_id: row
        for row in session.execute(
            select(
                entry.account_id,
                func.count().filter(entry.kind == LedgerKind.ORDER).label("orders"),
                func.coalesce(func.sum(entry.amount_minor).filter(entry.kind == LedgerKind.ORDER), 0).label("spent"),
                func.coalesce(func.sum(entry.amount_minor).filter(entry.kind == LedgerKind.REFUND), 0).label(
                    "refunded"
                ),
            ).group_by(entry.account_id)
        )
    }
    keys = dict(
        session.execute(
            select(ResellerApiKey.account_id, func.count())
            .where(ResellerApiKey.revoked_at.is_(None))
            .group_by(ResellerApiKey.account_id)
        ).all()
    )
    rows = session.execute(
        select(ResellerAccount, User.email).join(User, User.id == ResellerAccount.user_id).order_by(User.email)
    ).all()
    out = []
    for account, email in rows:
        s = sums.get(account.id)
        out.append(
            {
                "email": email,
                "enabled": account.enabled,
                "currency": account.currency,
                "balance_minor": account.balance_minor,
                "orders": int(s.orders) if s else 0,
                "spent_minor": -int(s.spent) if s else 0,
                "refunded_minor": int(s.refunded) if s else 0,
                "active_keys": int(keys.get(account.id, 0)),
                "markup_bps": account.markup_bps,
                "rates": dict(account.rates or {}),
            }
        )
    return out
