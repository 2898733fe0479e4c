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
import secrets
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from smplat.models.accounts import User
from smplat.models.base import utcnow
from smplat.models.catalog import Product, ProductStatus
from smplat.models.checkout import CheckoutSession
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
from smplat.services import audit, pricing
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


def _change_balance(session: Session, account_id: int, amount_minor: int) -> int:
    """Add `amount_minor` (negative: a debit) atomically; the new balance. Raises
    InsufficientBalance (nothing changed) when a debit would take it below zero."""
    accounts = ResellerAccount.__table__
    result = session.execute(
        update(accounts)
        .where(accounts.c.id == account_id, accounts.c.balance_minor + amount_minor >= 0)
        .values(balance_minor=accounts.c.balance_minor + amount_minor, updated_at=utcnow())
        .returning(accounts.c.balance_minor)
    ).first()
    if result is None:
        raise InsufficientBalance("Not enough funds on balance")
    return int(result[0])


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
    balance_after: int | None = None,
) -> ResellerLedgerEntry:
    """Move the wallet (unless the caller already did: `balance_after`) and write its ledger row."""
    if balance_after is None:
        balance_after = _change_balance(session, account_id, amount_minor)
    entry = ResellerLedgerEntry(
        account_id=account_id,
        kind=kind,
        amount_minor=amount_minor,
        balance_after_minor=balance_after,
        order_id=order_id,
        idempotency_key=idempotency_key,
        reason=reason[:500],
        actor_label=actor_label[:200],
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
    """The reseller behind a valid API key (plain values)."""

    account_id: int
    user_id: int
    email: str
    key_id: int
    currency: str


def authenticate(session: Session, raw_key: str, client_ip: str | None) -> Caller:
    """The caller of an API request, or ResellerError("Invalid API key") / ("IP not allowed")."""
    if not raw_key or len(raw_key) > 200:
        raise ResellerError("Invalid API key", code=ErrorCode.UNAUTHENTICATED)
    row = session.execute(select(ResellerApiKey).where(ResellerApiKey.key_hash == hash_key(raw_key))).scalars().first()
    account = session.get(ResellerAccount, row.account_id) if row is not None else None
    if row is None or row.revoked_at is not None or account is None or not account.enabled:
        raise ResellerError("Invalid API key", code=ErrorCode.UNAUTHENTICATED)
    if row.allowed_ips:
        try:
            ip = ipaddress.ip_address(client_ip or "")
        except ValueError:
            ip = None
        if ip is None or not any(ip in ipaddress.ip_network(n) for n in row.allowed_ips):
            raise ResellerError("IP not allowed", code=ErrorCode.FORBIDDEN)
    user = session.get(User, account.user_id)
    return Caller(account.id, account.user_id, user.email if user else "", row.id, account.currency)


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
    found = primary_route(session, product)
    if found is None or found[1].currency != product.currency:
        return None
    route, service = found
    return math.ceil(Decimal(service.rate_per_1000) * Decimal(route.quantity_multiplier) * 100)


def rate_per_1000(session: Session, account: ResellerAccount, detail: ProductDetail) -> int:
    """The reseller's rate per 1000 units: their own rate for the service when set; else the
    provider cost with their markup (or the `reseller_default_markup_bps` setting), never
    above the storefront's rate; the storefront's rate when the cost is unknown."""
    own = (account.rates or {}).get(str(detail.product.id))
    if own is not None:
        return int(own)
    retail = retail_rate_per_1000(detail)
    cost = cost_rate_per_1000(session, detail.product)
    if cost is None:
        return retail
    bps = account.markup_bps if account.markup_bps is not None else get_settings().reseller_default_markup_bps
    return min(retail, math.ceil(Decimal(cost) * (10000 + bps) / 10000))


def charge_for(rate_minor: int, quantity: int) -> int:
    return math.ceil(Decimal(rate_minor) * quantity / 1000)


def set_prices(
    session: Session,
    actor: audit.Actor,
    email: str,
    *,
    markup_bps: int | None = None,
    rates: dict[str, int] | None = None,
) -> ResellerAccount:
    audit.require(actor, Permission.MANAGE_RESELLERS, "reseller.prices", "user", email)
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
                "type": _order_type(product),
                "category": detail.category.name if getattr(detail, "category", None) else product.platform,
                "rate": _money(rate_per_1000(session, account, detail)),
                "min": product.min_quantity,
                "max": product.max_quantity,
                "refill": bool(routed and routed[1].refill),  # what `refill` can then ask for
                "cancel": bool(routed and routed[1].cancel),  # what `cancel` can then ask for
                "dripfeed": True,
            }
        )
    return out


def _order_type(product: Product) -> str:
    return "Custom Comments" if "comment" in product.slug else "Default"


# --- orders ------------------------------------------------------------------------------------


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
    product = session.get(Product, int(service_id)) if service_id.isdigit() and len(service_id) < 10 else None
    account = session.get(ResellerAccount, caller.account_id)
    if product is None or product.status != ProductStatus.ACTIVE.value or product.currency != account.currency:
        raise ResellerError("Incorrect service ID", code=ErrorCode.NOT_FOUND, field="service")
    detail = get_product_detail(session, product.slug)
    if not api_sellable(detail):
        raise ResellerError("Incorrect service ID", code=ErrorCode.NOT_FOUND, field="service")
    link = str(params.get("link") or "").strip()
    if not link or len(link) > 1000:
        raise ResellerError("Incorrect link", field="link")
    comments = [c.strip() for c in str(params.get("comments") or "").replace("\\n", "\n").splitlines() if c.strip()]
    if comments and "quantity" not in params:
        quantity = len(comments)
    else:
        quantity = _positive_int(params.get("quantity"), "quantity")
    if not product.min_quantity <= quantity <= product.max_quantity:
        raise ResellerError(
            f"Quantity must be between {product.min_quantity} and {product.max_quantity}", field="quantity"
        )
    runs = interval = None
    if params.get("runs") not in (None, "") or params.get("interval") not in (None, ""):
        runs = _positive_int(params.get("runs"), "runs")
        interval = _positive_int(params.get("interval"), "interval")
        if runs < 2 or interval < 1:
            raise ResellerError("Drip-feed needs at least 2 runs and an interval of at least 1 minute", field="runs")
    rate = rate_per_1000(session, account, detail)
    per_run = quantity
    total_units = quantity * runs if runs else quantity
    charge = charge_for(rate, total_units)
    spec = DeliverySpec(
        link=link,
        quantity=total_units,
        channel=product.platform,
        dripfeed_runs=runs,
        dripfeed_interval_minutes=interval,
        comments=comments,
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
            "lines": [{"kind": "reseller", "label": f"{rate / 100:.2f} per 1000", "amount_minor": charge}],
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
    reason = f"{product.title}: {total_units} on {link}"
    return Prepared(charge, line, product.currency, reason, ledger_key)


def place(session: Session, caller: Caller, prepared: Prepared) -> Placed:
    """Debit the wallet and place the prepared order through checkout's placement, in the
    caller's transaction. Raises InsufficientBalance (nothing written) or
    DuplicateIdempotencyKey (a concurrent retry with the same key won; roll back, prepare again)."""
    from smplat.services.checkout.placement import fulfil_paid_session

    charge, ledger_key = prepared.charge_minor, prepared.ledger_key
    # the debit is the transaction's first write: it holds the wallet row until commit
    balance_after = _change_balance(session, caller.account_id, -charge)
    checkout = CheckoutSession(
        user_id=caller.user_id,
        customer_email=caller.email,
        stripe_session_id=f"wallet_{uuid.uuid4().hex}",
        amount_total_minor=charge,
        currency=prepared.currency,
        lines=[prepared.line],
    )
    session.add(checkout)
    session.flush()
    placed = fulfil_paid_session(
        session,
        {"id": checkout.stripe_session_id, "payment_status": "paid", "amount_total": charge, "payment_intent": None},
        actor="reseller_api",
        paid_with="the reseller wallet",
        payment_provider=PAYMENT_PROVIDER,
        send_receipt=False,
    )
    try:
        with session.begin_nested():
            _move(
                session,
                caller.account_id,
                -charge,
                LedgerKind.ORDER,
                reason=prepared.reason,
                actor_label=f"api key {caller.key_id}",
                order_id=placed.order_id,
                idempotency_key=ledger_key,
                balance_after=balance_after,
            )
    except IntegrityError:
        raise DuplicateIdempotencyKey(ledger_key) from None
    return Placed(placed.order_id, charge, True)


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
    return Caller(account.id, user_id, user.email if user else "", 0, account.currency)


def add_in_own_transactions(caller: Caller, params: dict[str, Any]) -> Placed:
    """`add` as the API runs it: validate and price in one unit of work, then debit and place
    in a fresh one whose first statement is the debit (on SQLite a read snapshot cannot then
    turn a concurrent writer into `database is locked`); a racing retry with the same
    idempotency key is found on the next round."""
    from smplat.db import session_scope

    for _ in range(3):
        try:
            with session_scope() as db:
                prepared = prepare(db, caller, params)
            if prepared.existing is not None:
                return prepared.existing
            with session_scope() as db:
                return place(db, caller, prepared)
        except DuplicateIdempotencyKey:
            continue
    raise ResellerError("Try again")


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
            }
        )
    return out
