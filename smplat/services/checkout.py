"""Checkout with Stripe Checkout (the official SDK), the idempotent fulfilment that turns a
paid session into exactly one order, webhook handling, session expiry and link regeneration.

Flow: `start_checkout` re-prices the cart, stores a `checkout_sessions` row with the priced
lines (the order is built from these, never from the cart) and creates the Stripe session.
Payment completes on Stripe's page; then `fulfil_paid_session` runs from whichever arrives
first, the `checkout.session.completed` webhook or the success page, and the unique
`orders.checkout_session_id` makes the second caller find the order the first created.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import stripe
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from smplat.models.base import utcnow
from smplat.models.carts import Cart, CartItem, CartStatus
from smplat.models.checkout import CheckoutMode, CheckoutSession, CheckoutStatus
from smplat.models.orders import ActorType, Order, OrderEvent, OrderItem, OrderStatus, PaymentStatus
from smplat.models.payments import (
    Payment,
    PaymentEvent,
    PaymentKind,
    PaymentRowStatus,
    Subscription,
    SubscriptionStatus,
    WebhookEvent,
    WebhookStatus,
)
from smplat.services import carts, counters, experiments, pricing
from smplat.services.delivery import DeliverySpec, enqueue_delivery
from smplat.services.money import format_money
from smplat.settings import Settings, get_settings

logger = logging.getLogger(__name__)

_PROFILE_URLS = {"instagram": "https://www.instagram.com/{}/", "tiktok": "https://www.tiktok.com/@{}"}


class CheckoutError(ValueError):
    """The customer can fix this (empty cart, a line that no longer validates, bad email)."""

    def __init__(self, message: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or {}


class PaymentProviderUnavailable(RuntimeError):
    """Stripe (or the sandbox) did not answer; nothing was stored."""


def stripe_client(settings: Settings | None = None) -> stripe.StripeClient:
    """The SDK client: the local sandbox by default, Stripe itself with real keys (see settings)."""
    settings = settings or get_settings()
    base = settings.effective_stripe_api_base
    return stripe.StripeClient(
        settings.stripe_secret_key.get_secret_value(),
        base_addresses={"api": base, "files": base, "connect": base},
        max_network_retries=2,
    )


def _as_dict(obj: Any) -> dict[str, Any]:
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


# --- starting a checkout ----------------------------------------------------------------


def delivery_spec(line_detail: Any, quote: pricing.Quote) -> DeliverySpec:
    product = line_detail.product
    fields = quote.configuration.fields
    handle = fields.get("username", "").lstrip("@")
    link = next((v for k, v in fields.items() if k.endswith("_link")), "")
    if not link and handle:
        link = _PROFILE_URLS.get(product.platform, "https://{}").format(handle)
    drip = pricing.drip_feed(line_detail, quote.configuration)  # the same rule as the delivery estimate
    runs, interval = (drip.runs, drip.interval_minutes) if drip is not None else (None, None)
    comments = [c.strip() for c in fields.get("custom_comments", "").splitlines() if c.strip()]
    return DeliverySpec(
        link=link or product.slug, quantity=quote.service_units * quote.quantity, channel=product.platform,
        dripfeed_runs=runs, dripfeed_interval_minutes=interval, comments=comments,
        option_keys={k: list(v) for k, v in quote.configuration.options.items()},
        add_on_keys=list(quote.configuration.add_ons), plan_key=quote.configuration.plan or "",
    )


def _line_record(detail: Any, quote: pricing.Quote) -> dict[str, Any]:
    product = detail.product
    return {
        "product_id": product.id, "product_slug": product.slug, "product_title": product.title,
        "unit_label": product.unit_label, "platform": product.platform,
        "summary": pricing.summary(detail, quote.configuration),
        "configuration": quote.configuration.as_dict(), "quantity": quote.quantity,
        "unit_price_minor": quote.unit_price_minor, "total_minor": quote.total_minor,
        "price": quote.price_record(), "blueprint": pricing.blueprint_snapshot(detail, quote.configuration),
        "service_units": quote.service_units * quote.quantity, "override_service_id": quote.override_service_id,
        "delivery_estimate_hours": pricing.delivery_estimate_hours(detail, quote.configuration),
        "delivery": delivery_spec(detail, quote).to_snapshot(),
    }


def _validate_email(email: str) -> str:
    import re

    email = (email or "").strip().lower()
    if not re.match(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$", email) or len(email) > 320:
        raise CheckoutError("Enter the email address your receipt should go to.", {"email": "Enter a valid email address."})
    return email


def _stripe_line(line: dict[str, Any], currency: str) -> dict[str, Any]:
    price_data: dict[str, Any] = {
        "currency": currency.lower(), "unit_amount": line["unit_price_minor"],
        "product_data": {"name": line["product_title"], "description": line["summary"] or line["product_title"]},
    }
    price = line["price"]
    if price["billing"] == "subscription":
        price_data["recurring"] = {"interval": price["interval"], "interval_count": price["interval_count"]}
    return {"price_data": price_data, "quantity": line["quantity"]}


def _create_stripe_session(checkout: CheckoutSession, base_url: str, settings: Settings) -> None:
    params: dict[str, Any] = {
        "mode": checkout.mode,
        "line_items": [_stripe_line(line, checkout.currency) for line in checkout.lines],
        "customer_email": checkout.customer_email,
        "client_reference_id": str(checkout.id),
        "metadata": {"checkout_session_id": str(checkout.id)},
        "success_url": f"{base_url}/checkout/success?session_id={{CHECKOUT_SESSION_ID}}",
        "cancel_url": f"{base_url}/checkout/cancel?session_id={{CHECKOUT_SESSION_ID}}",
        "expires_at": int(checkout.expires_at.timestamp()),
    }
    if checkout.mode == CheckoutMode.SUBSCRIPTION.value:
        params["subscription_data"] = {"metadata": {"checkout_session_id": str(checkout.id)}}
    try:
        created = stripe_client(settings).v1.checkout.sessions.create(params=params)
    except stripe.StripeError as exc:
        logger.error("stripe: creating the checkout session failed: %s", exc)
        raise PaymentProviderUnavailable("Payments are unavailable right now; please try again in a minute.") from None
    checkout.stripe_session_id = created.id
    checkout.payment_url = created.url
    checkout.success_url, checkout.cancel_url = params["success_url"], params["cancel_url"]


def start_checkout(session: Session, cart: Cart | None, *, customer_email: str, user_id: int | None,
                   visitor: str | None, base_url: str | None = None) -> CheckoutSession:
    """Re-validate and re-price the cart, freeze its lines, create the Stripe session.
    Raises CheckoutError (nothing stored) or PaymentProviderUnavailable (caller rolls back)."""
    settings = get_settings()
    email = _validate_email(customer_email)
    priced = carts.price_cart(session, cart, visitor=visitor)
    if not priced.lines:
        raise CheckoutError("Your cart is empty.")
    broken = {f"item.{line.item.id}": "; ".join(line.errors.values()) for line in priced.lines if line.errors}
    if broken:
        raise CheckoutError("Some items need your attention before you can pay.", broken)
    lines = [_line_record(line.detail, line.quote) for line in priced.lines]
    mode = (CheckoutMode.SUBSCRIPTION if any(line["price"]["billing"] == "subscription" for line in lines)
            else CheckoutMode.PAYMENT).value
    checkout = CheckoutSession(
        cart_id=cart.id, user_id=user_id, customer_email=email, mode=mode, status=CheckoutStatus.OPEN.value,
        amount_total_minor=sum(line["total_minor"] for line in lines), currency=priced.currency, lines=lines,
        expires_at=utcnow() + timedelta(minutes=settings.checkout_session_ttl_minutes),
    )
    session.add(checkout)
    session.flush()
    _create_stripe_session(checkout, (base_url or settings.public_base_url).rstrip("/"), settings)
    counters.increment(session, counters.CHECKOUT_STARTED)
    session.flush()
    return checkout


# --- fulfilment -------------------------------------------------------------------------


@dataclass(frozen=True)
class Fulfilment:
    order_id: int | None
    created: bool
    status: str  # created, exists, unpaid, unknown


def _find_checkout(session: Session, stripe_session: dict[str, Any]) -> CheckoutSession | None:
    found = session.execute(select(CheckoutSession).where(
        CheckoutSession.stripe_session_id == stripe_session.get("id"))).scalars().first()
    if found is None:
        ref = (stripe_session.get("metadata") or {}).get("checkout_session_id")
        if ref and str(ref).isdigit():
            found = session.get(CheckoutSession, int(ref))
    return found


def _existing_order(session: Session, checkout_id: int) -> Order | None:
    return session.execute(select(Order).where(Order.checkout_session_id == checkout_id)).scalars().first()


def fulfil_paid_session(session: Session, stripe_session: dict[str, Any], *, actor: str) -> Fulfilment:
    """Create the order of a paid session exactly once (safe to call from anywhere, any number of times)."""
    checkout = _find_checkout(session, stripe_session)
    if checkout is None:
        return Fulfilment(None, False, "unknown")
    if stripe_session.get("payment_status") not in ("paid", "no_payment_required"):
        return Fulfilment(None, False, "unpaid")
    existing = _existing_order(session, checkout.id)
    if existing is not None:
        return Fulfilment(existing.id, False, "exists")
    now = utcnow()
    order = Order(user_id=checkout.user_id, customer_email=checkout.customer_email, checkout_session_id=checkout.id,
                  status=OrderStatus.PROCESSING.value, payment_status=PaymentStatus.PAID.value,
                  currency=checkout.currency, subtotal_minor=checkout.amount_total_minor,
                  total_minor=checkout.amount_total_minor, charged_minor=int(stripe_session.get("amount_total")
                                                                             or checkout.amount_total_minor),
                  placed_at=now)
    try:
        with session.begin_nested():
            session.add(order)
            session.flush()
            for line in checkout.lines:
                snapshot = {
                    "product": {"id": line["product_id"], "slug": line["product_slug"], "title": line["product_title"],
                                "unit_label": line["unit_label"], "platform": line["platform"]},
                    "summary": line["summary"], "configuration": line["configuration"],
                    "options": line["configuration"]["options"], "add_ons": line["configuration"]["add_ons"],
                    "fields": line["configuration"]["fields"], "preset": line["configuration"].get("preset"),
                    "plan": line["configuration"].get("plan"), "price": line["price"],
                    "price_breakdown": line["price"]["lines"], "blueprint": line["blueprint"],
                    "override_service_id": line["override_service_id"],
                    "delivery_estimate_hours": line["delivery_estimate_hours"], "delivery": line["delivery"],
                }
                session.add(OrderItem(order_id=order.id, product_id=line["product_id"],
                                      product_title=line["product_title"], quantity=line["quantity"],
                                      unit_price_minor=line["unit_price_minor"], total_minor=line["total_minor"],
                                      currency=checkout.currency, status=OrderStatus.PENDING.value,
                                      snapshot=snapshot, service_quantity=line["service_units"]))
            session.flush()
    except IntegrityError:
        # the webhook and the success page raced; the other one created it
        existing = _existing_order(session, checkout.id)
        return Fulfilment(existing.id if existing else None, False, "exists")
    enqueue_delivery(session, order)
    payment = Payment(order_id=order.id, checkout_session_id=checkout.id, kind=PaymentKind.CHARGE.value,
                      stripe_payment_intent_id=stripe_session.get("payment_intent"),
                      stripe_subscription_id=stripe_session.get("subscription"), amount_minor=order.charged_minor,
                      currency=checkout.currency, status=PaymentRowStatus.SUCCEEDED.value)
    session.add(payment)
    session.flush()
    session.add(PaymentEvent(payment_id=payment.id, kind="succeeded", data={"stripe_session": stripe_session.get("id")}))
    session.add(OrderEvent(order_id=order.id, kind="placed", actor_type=ActorType.WEBHOOK.value if actor == "webhook"
                           else ActorType.SYSTEM.value, actor_label=actor,
                           message=f"Paid {format_money(order.charged_minor, order.currency)} with Stripe Checkout",
                           data={"stripe_session": stripe_session.get("id")}))
    if stripe_session.get("subscription"):
        _upsert_subscription(session, {"id": stripe_session["subscription"], "status": "active",
                                       "customer": stripe_session.get("customer")}, order=order, checkout=checkout)
    checkout.status = CheckoutStatus.COMPLETED.value
    checkout.completed_at = now
    if checkout.cart_id:
        session.execute(update(Cart).where(Cart.id == checkout.cart_id).values(status=CartStatus.CONVERTED.value))
        session.execute(CartItem.__table__.delete().where(CartItem.cart_id == checkout.cart_id))
    for line in checkout.lines:
        if line["price"].get("experiment"):
            experiments.record_conversion(session, line["price"]["experiment"], line["total_minor"])
    counters.increment(session, counters.CHECKOUT_COMPLETED)
    session.flush()
    return Fulfilment(order.id, True, "created")


def confirm_from_success_page(session: Session, stripe_session_id: str) -> Fulfilment:
    """The success page: ask Stripe about the session, then the same idempotent fulfilment."""
    if not stripe_session_id or len(stripe_session_id) > 255:
        return Fulfilment(None, False, "unknown")
    try:
        remote = stripe_client().v1.checkout.sessions.retrieve(stripe_session_id)
    except stripe.InvalidRequestError:
        return Fulfilment(None, False, "unknown")
    except stripe.StripeError as exc:
        logger.error("stripe: retrieving %s failed: %s", stripe_session_id, exc)
        raise PaymentProviderUnavailable("We could not reach the payment provider; refresh in a moment.") from None
    return fulfil_paid_session(session, _as_dict(remote), actor="success_page")


# --- receipt ------------------------------------------------------------------------------


def order_view(session: Session, order_id: int) -> dict[str, Any] | None:
    order = session.get(Order, order_id)
    if order is None:
        return None
    items = session.execute(select(OrderItem).where(OrderItem.order_id == order.id).order_by(OrderItem.id)).scalars()
    return {
        "number": order.number, "email": order.customer_email, "total": format_money(order.total_minor, order.currency),
        "total_minor": order.total_minor, "currency": order.currency,
        "items": [{
            "title": item.product_title, "quantity": item.quantity, "summary": item.snapshot.get("summary", ""),
            "total": format_money(item.total_minor, item.currency),
            "billing": "" if item.snapshot["price"]["billing"] == "one_time"
            else f"every {item.snapshot['price']['interval']}",
            "fields": ", ".join(f"{k}: {v}" for k, v in item.snapshot.get("fields", {}).items()),
            "blueprint": [{"label": b["label"], "tagline": b["tagline"], "sla": b["delivery_sla"]}
                          for b in item.snapshot.get("blueprint", [])],
            "breakdown": [{"label": b["label"], "amount": format_money(b["amount_minor"], item.currency)}
                          for b in item.snapshot.get("price_breakdown", [])],
        } for item in items],
    }


def send_receipt(session: Session, order_id: int) -> None:
    """The receipt email: what was bought, with its blueprint copy, as frozen in the order."""
    from smplat.services.email import send_email

    view = order_view(session, order_id)
    if view is None or not view["email"]:
        return
    settings = get_settings()
    lines = []
    for item in view["items"]:
        lines.append(f"- {item['title']} x {item['quantity']}: {item['total']} {item['billing']}".rstrip())
        if item["summary"]:
            lines.append(f"  {item['summary']}")
        for bp in item["blueprint"]:
            if bp["tagline"] or bp["sla"]:
                lines.append(f"  {bp['label']}: {bp['tagline']} ({bp['sla']})")
        if item["fields"]:
            lines.append(f"  For: {item['fields']}")
    text = (f"Thank you for your order {view['number']}.\n\n" + "\n".join(lines) +
            f"\n\nTotal paid: {view['total']}\n\nWe have passed your order to delivery; follow it at "
            f"{settings.public_base_url.rstrip('/')}/account/orders\n\nThe {settings.brand_name} team\n")
    send_email(view["email"], f"Your {settings.brand_name} receipt for order {view['number']}", text)


def send_receipt_safely(order_id: int) -> None:
    """After commit: a mail server outage must not undo a paid order (it is logged instead)."""
    from smplat.db import session_scope

    try:
        with session_scope() as db:
            send_receipt(db, order_id)
    except Exception:  # noqa: BLE001
        logger.exception("receipt email for order %s failed", order_id)


# --- webhooks -------------------------------------------------------------------------------

HANDLED_EVENTS = ("checkout.session.completed", "checkout.session.async_payment_succeeded",
                  "checkout.session.async_payment_failed", "checkout.session.expired", "invoice.paid",
                  "customer.subscription.updated", "customer.subscription.deleted", "charge.refunded")


@dataclass(frozen=True)
class WebhookOutcome:
    status: str  # processed, ignored, duplicate, failed
    order_to_receipt: int | None = None


def store_event(session: Session, event: dict[str, Any]) -> tuple[WebhookEvent, bool]:
    """Record the event once by its id. Returns (row, is_new); a processed duplicate is not new."""
    counters.increment(session, counters.WEBHOOKS_RECEIVED)
    row = WebhookEvent(source="stripe", external_id=str(event.get("id", ""))[:255],
                       event_type=str(event.get("type", ""))[:100], payload=event, signature_ok=True)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
        return row, True
    except IntegrityError:
        existing = session.execute(select(WebhookEvent).where(WebhookEvent.source == "stripe",
                                                              WebhookEvent.external_id == row.external_id)).scalars().one()
        if existing.status in (WebhookStatus.PROCESSED.value, WebhookStatus.IGNORED.value):
            counters.increment(session, counters.WEBHOOKS_DUPLICATE)
            return existing, False
        return existing, True  # a failed attempt: Stripe's retry gets another go


def handle_event(session: Session, row: WebhookEvent) -> WebhookOutcome:
    """Apply one stored event. Every handler is idempotent and safe out of order."""
    event = row.payload
    kind = event.get("type", "")
    obj = (event.get("data") or {}).get("object") or {}
    row.attempts += 1
    receipt: int | None = None
    if kind not in HANDLED_EVENTS:
        row.status = WebhookStatus.IGNORED.value
        row.processed_at = utcnow()
        return WebhookOutcome("ignored")
    if kind in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
        result = fulfil_paid_session(session, obj, actor="webhook")
        receipt = result.order_id if result.created else None
    elif kind == "checkout.session.async_payment_failed":
        _close_session(session, obj, CheckoutStatus.FAILED, counters.CHECKOUT_FAILED)
    elif kind == "checkout.session.expired":
        _close_session(session, obj, CheckoutStatus.EXPIRED, counters.CHECKOUT_ABANDONED)
    elif kind == "invoice.paid":
        _invoice_paid(session, obj, row)
    elif kind in ("customer.subscription.updated", "customer.subscription.deleted"):
        _upsert_subscription(session, obj, deleted=kind.endswith("deleted"))
    elif kind == "charge.refunded":
        _charge_refunded(session, obj, row)
    row.status = WebhookStatus.PROCESSED.value
    row.processed_at = utcnow()
    row.error = ""
    return WebhookOutcome("processed", receipt)


def _close_session(session: Session, obj: dict[str, Any], status: CheckoutStatus, counter: str) -> None:
    checkout = _find_checkout(session, obj)
    if checkout is None or checkout.status != CheckoutStatus.OPEN.value:
        return  # completed (or already closed) wins: a late expiry never undoes a payment
    checkout.status = status.value
    counters.increment(session, counter)


def _order_for_subscription(session: Session, obj: dict[str, Any]) -> tuple[Order | None, CheckoutSession | None]:
    meta = obj.get("metadata") or (obj.get("subscription_details") or {}).get("metadata") or {}
    ref = meta.get("checkout_session_id")
    if not ref or not str(ref).isdigit():
        return None, None
    checkout = session.get(CheckoutSession, int(ref))
    return (_existing_order(session, checkout.id) if checkout else None), checkout


def _ts(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), tz=timezone.utc) if value else None


def _upsert_subscription(session: Session, obj: dict[str, Any], *, deleted: bool = False, order: Order | None = None,
                         checkout: CheckoutSession | None = None) -> Subscription | None:
    sub_id = obj.get("id")
    if not sub_id:
        return None
    row = session.execute(select(Subscription).where(Subscription.stripe_subscription_id == sub_id)).scalars().first()
    if row is None:
        if order is None:
            order, checkout = _order_for_subscription(session, obj)
        plan_line = next((line for line in (checkout.lines if checkout else [])
                          if line["price"]["billing"] == "subscription"), None)
        row = Subscription(stripe_subscription_id=sub_id, stripe_customer_id=obj.get("customer"),
                           user_id=order.user_id if order else (checkout.user_id if checkout else None),
                           order_id=order.id if order else None,
                           product_id=plan_line["product_id"] if plan_line else None)
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
        except IntegrityError:
            row = session.execute(select(Subscription).where(Subscription.stripe_subscription_id == sub_id)).scalars().one()
    if order is not None and row.order_id is None:
        row.order_id = order.id
    if row.status == SubscriptionStatus.CANCELED.value and not deleted:
        return row  # a late "updated" never revives a canceled subscription
    status = SubscriptionStatus.CANCELED.value if deleted else str(obj.get("status") or row.status)
    if status in SubscriptionStatus.values():
        row.status = status
    if obj.get("current_period_end"):
        row.current_period_end = _ts(obj["current_period_end"])
    if "cancel_at_period_end" in obj:
        row.cancel_at_period_end = bool(obj["cancel_at_period_end"])
    if deleted:
        row.canceled_at = _ts(obj.get("canceled_at")) or utcnow()
    session.flush()
    return row


def _invoice_paid(session: Session, obj: dict[str, Any], row: WebhookEvent) -> None:
    if obj.get("billing_reason") == "subscription_create":
        return  # the first invoice is the checkout's own charge, recorded at fulfilment
    subscription = _upsert_subscription(session, {"id": obj.get("subscription"), "customer": obj.get("customer"),
                                                  "metadata": (obj.get("subscription_details") or {}).get("metadata")})
    exists = session.execute(select(Payment.id).where(Payment.stripe_invoice_id == obj.get("id"))).first()
    if exists:
        return
    payment = Payment(order_id=subscription.order_id if subscription else None,
                      kind=PaymentKind.SUBSCRIPTION_INVOICE.value, stripe_invoice_id=obj.get("id"),
                      stripe_subscription_id=obj.get("subscription"), stripe_payment_intent_id=obj.get("payment_intent"),
                      amount_minor=int(obj.get("amount_paid") or 0), currency=str(obj.get("currency", "eur")).upper(),
                      status=PaymentRowStatus.SUCCEEDED.value)
    session.add(payment)
    session.flush()
    session.add(PaymentEvent(payment_id=payment.id, webhook_event_id=row.id, kind="invoice_paid",
                             data={"billing_reason": obj.get("billing_reason")}))
    if subscription and obj.get("period_end"):
        subscription.current_period_end = _ts(obj["period_end"])


def _charge_refunded(session: Session, obj: dict[str, Any], row: WebhookEvent) -> None:
    charge = session.execute(select(Payment).where(Payment.stripe_payment_intent_id == obj.get("payment_intent"),
                                                   Payment.kind == PaymentKind.CHARGE.value)).scalars().first()
    if charge is None:
        raise LookupError(f"no payment for {obj.get('payment_intent')} yet")  # stored as failed, retried by Stripe
    for refund in (obj.get("refunds") or {}).get("data", []):
        if session.execute(select(Payment.id).where(Payment.stripe_refund_id == refund["id"])).first():
            continue
        try:
            with session.begin_nested():
                refund_row = Payment(order_id=charge.order_id, kind=PaymentKind.REFUND.value,
                                     stripe_refund_id=refund["id"], stripe_payment_intent_id=charge.stripe_payment_intent_id,
                                     amount_minor=int(refund["amount"]), currency=charge.currency,
                                     status=PaymentRowStatus.SUCCEEDED.value)
                session.add(refund_row)
                session.flush()
                session.add(PaymentEvent(payment_id=refund_row.id, webhook_event_id=row.id, kind="refunded",
                                         data={"amount_minor": int(refund["amount"])}))
        except IntegrityError:
            continue
    order = session.get(Order, charge.order_id) if charge.order_id else None
    if order is not None:
        # the charge's cumulative refunded amount, so events in any order converge
        refunded = max(order.refunded_minor, int(obj.get("amount_refunded") or 0))
        if refunded != order.refunded_minor:
            order.refunded_minor = refunded
            order.payment_status = (PaymentStatus.REFUNDED if refunded >= order.charged_minor
                                    else PaymentStatus.PARTIALLY_REFUNDED).value
            session.add(OrderEvent(order_id=order.id, kind="refunded", actor_type=ActorType.WEBHOOK.value,
                                   actor_label="stripe", message=f"Refunded {format_money(refunded, order.currency)} in total"))


# --- lifecycle: expiry, regeneration, operator actions ------------------------------------


def expire_stale_sessions(session: Session, now: datetime | None = None) -> dict[str, int]:
    """The job: open sessions past their deadline are expired at Stripe and marked abandoned.
    A session Stripe reports paid is fulfilled instead (a missed webhook self-heals)."""
    now = now or utcnow()
    stale = session.execute(select(CheckoutSession).where(CheckoutSession.status == CheckoutStatus.OPEN.value,
                                                          CheckoutSession.expires_at <= now)
                            .order_by(CheckoutSession.id).limit(200)).scalars().all()
    client = stripe_client()
    counts = {"abandoned": 0, "fulfilled": 0, "errors": 0}
    receipts = []
    for checkout in stale:
        if checkout.stripe_session_id:
            try:
                remote = _as_dict(client.v1.checkout.sessions.retrieve(checkout.stripe_session_id))
                if remote.get("payment_status") == "paid":
                    result = fulfil_paid_session(session, remote, actor="job:expire_checkouts")
                    if result.created:
                        receipts.append(result.order_id)
                    counts["fulfilled"] += 1
                    continue
                if remote.get("status") == "open":
                    client.v1.checkout.sessions.expire(checkout.stripe_session_id)
            except stripe.InvalidRequestError:
                pass  # unknown or already closed at Stripe: abandon it here as well
            except stripe.StripeError as exc:
                logger.warning("expire %s: %s", checkout.stripe_session_id, exc)
                counts["errors"] += 1
                continue
        checkout.status = CheckoutStatus.ABANDONED.value
        counters.increment(session, counters.CHECKOUT_ABANDONED)
        counts["abandoned"] += 1
    session.flush()
    session.info.setdefault("after_commit_receipts", []).extend(receipts)
    return counts


def regenerate_link(session: Session, checkout_id: int, *, base_url: str | None = None) -> CheckoutSession:
    """An operator sends a customer a fresh link: lines re-validated and re-priced today,
    a new session replaces the old one (which is expired at Stripe if still open)."""
    old = session.get(CheckoutSession, checkout_id)
    if old is None:
        raise CheckoutError("That checkout does not exist.")
    if old.status == CheckoutStatus.COMPLETED.value or _existing_order(session, old.id):
        raise CheckoutError("That checkout was paid; there is nothing to regenerate.")
    cache = carts.DetailCache(session)
    lines = []
    for line in old.lines:
        detail = cache.get(line["product_id"])
        if detail is None:
            raise CheckoutError(f"{line['product_title']} is no longer sold; the customer must choose again.")
        try:
            # the variant the customer was offered, so the price holds and the conversion counts
            quote = pricing.price_for(session, detail, line["configuration"], quantity=line["quantity"],
                                      variant=experiments.recorded_variant(line["price"].get("experiment")))
        except pricing.ConfigurationInvalid as exc:
            raise CheckoutError(f"{line['product_title']}: {exc}") from None
        lines.append(_line_record(detail, quote))
    settings = get_settings()
    new = CheckoutSession(cart_id=old.cart_id, user_id=old.user_id, customer_email=old.customer_email, mode=old.mode,
                          amount_total_minor=sum(line["total_minor"] for line in lines), currency=old.currency,
                          lines=lines, replaces_session_id=old.id,
                          expires_at=utcnow() + timedelta(minutes=settings.checkout_session_ttl_minutes))
    session.add(new)
    session.flush()
    _create_stripe_session(new, (base_url or settings.public_base_url).rstrip("/"), settings)
    if old.status == CheckoutStatus.OPEN.value and old.stripe_session_id:
        try:
            stripe_client().v1.checkout.sessions.expire(old.stripe_session_id)
        except stripe.StripeError:
            pass
    if old.status == CheckoutStatus.OPEN.value:
        old.status = CheckoutStatus.EXPIRED.value
    counters.increment(session, counters.CHECKOUT_STARTED)
    session.flush()
    return new


def refund_order(session: Session, order_id: int, amount_minor: int | None = None) -> str:
    """Operator action: ask Stripe for a refund; the `charge.refunded` webhook records it."""
    charge = session.execute(select(Payment).where(Payment.order_id == order_id,
                                                   Payment.kind == PaymentKind.CHARGE.value)).scalars().first()
    if charge is None or not charge.stripe_payment_intent_id:
        raise CheckoutError("This order has no card payment to refund.")
    params: dict[str, Any] = {"payment_intent": charge.stripe_payment_intent_id}
    if amount_minor is not None:
        if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or not 0 < amount_minor <= charge.amount_minor:
            raise CheckoutError("The refund must be between 1 and the amount charged.")
        params["amount"] = amount_minor
    try:
        refund = stripe_client().v1.refunds.create(params=params)
    except stripe.InvalidRequestError as exc:
        raise CheckoutError(exc.user_message or "Stripe refused the refund.") from None
    return refund.id


def cancel_subscription(session: Session, subscription_id: int) -> None:
    """Operator action: cancel at Stripe; `customer.subscription.deleted` updates the row."""
    row = session.get(Subscription, subscription_id)
    if row is None:
        raise CheckoutError("That subscription does not exist.")
    stripe_client().v1.subscriptions.cancel(row.stripe_subscription_id)


def checkout_rows(session: Session, limit: int = 50) -> list[dict[str, Any]]:
    rows = session.execute(select(CheckoutSession).order_by(CheckoutSession.id.desc()).limit(limit)).scalars().all()
    return [{"id": c.id, "email": c.customer_email, "status": c.status,
             "total": format_money(c.amount_total_minor, c.currency), "lines": len(c.lines),
             "created": c.created_at.strftime("%Y-%m-%d %H:%M"), "link": c.payment_url,
             "can_regenerate": c.status != CheckoutStatus.COMPLETED.value} for c in rows]
