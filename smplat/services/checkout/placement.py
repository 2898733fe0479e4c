"""Placing an order: start a checkout (freeze the priced cart, create the Stripe session) and
turn a paid session into exactly one order.

`fulfil_paid_session` runs from whichever arrives first, the `checkout.session.completed`
webhook, the success page or the expiry job; the unique `orders.checkout_session_id` makes
any second caller, even one running at the same moment, find the order the first created.
"""

from __future__ import annotations

import re
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from smplat.db import RowBatch, insert_built, insert_rows
from smplat.integrations import stripe_gateway
from smplat.models.base import utcnow
from smplat.models.carts import Cart, CartItem, CartStatus
from smplat.models.checkout import CheckoutMode, CheckoutSession, CheckoutStatus
from smplat.models.orders import ActorType, Order, OrderItem, OrderStatus
from smplat.models.payments import Payment, PaymentEvent, PaymentKind, PaymentRowStatus
from smplat.services import carts, counters, experiments, invoices, links, order_status, pricing, rate_limits
from smplat.services.checkout import receipts, subscriptions
from smplat.services.checkout.errors import CheckoutError
from smplat.services.checkout.payments import payment_status_for
from smplat.services.delivery import HANDLE_FIELD, LINK_FIELD_SUFFIX, DeliverySpec, enqueue_delivery
from smplat.services.errors import ErrorCode
from smplat.services.money import format_money
from smplat.settings import get_settings

# customer fields that are an order type's own parameters (the dialect decides which are sent)
ORDER_PARAM_FIELDS = frozenset(
    {"usernames", "hashtags", "hashtag", "username", "media", "answer_number", "min", "max", "posts", "delay", "expiry"}
)

# option groups whose chosen key is an order type's parameter (Subscriptions: posts, delay)
ORDER_PARAM_GROUPS = frozenset({"posts", "delay"})
EXPIRY_DAYS_GROUP = "expiry_days"  # a subscription's length in days, sent as `expiry` dd/mm/yyyy


def order_params_for(fields: dict[str, str], options: dict[str, list[str]], now: datetime) -> dict[str, str]:
    """An order type's own parameters from the customer's words: the fields and option
    groups named after them (pricing validated both). Handles go without '@', a hashtag
    without '#', one username per line for lists, a length in days as the expiry date."""
    params = {k: str(v).strip() for k, v in fields.items() if k in ORDER_PARAM_FIELDS and str(v).strip()}
    if "username" in params:
        params["username"] = params["username"].lstrip("@")
    if "hashtag" in params:
        params["hashtag"] = params["hashtag"].lstrip("#")
    if "usernames" in params:
        params["usernames"] = "\n".join(
            line.strip().lstrip("@") for line in params["usernames"].splitlines() if line.strip()
        )
    for group in ORDER_PARAM_GROUPS:
        if options.get(group):
            params[group] = options[group][0]
    days = (options.get(EXPIRY_DAYS_GROUP) or [""])[0]
    if days.isdigit():
        params["expiry"] = (now + timedelta(days=int(days))).strftime("%d/%m/%Y")
    return params


# --- starting a checkout ----------------------------------------------------------------


def delivery_spec(line_detail: Any, quote: pricing.Quote, now: datetime | None = None) -> DeliverySpec:
    product = line_detail.product
    fields = quote.configuration.fields
    handle = fields.get(HANDLE_FIELD, "")
    link = next((v for k, v in fields.items() if k.endswith(LINK_FIELD_SUFFIX)), "")
    if not link and handle:
        link = links.profile_url(product.platform, handle)  # fields are canonical: pricing checked them
    drip = pricing.drip_feed(line_detail, quote.configuration)  # the same rule as the delivery estimate
    runs, interval = (drip.runs, drip.interval_minutes) if drip is not None else (None, None)
    comments = [c.strip() for c in fields.get("custom_comments", "").splitlines() if c.strip()]
    order_params = order_params_for(fields, quote.configuration.options, now or utcnow())
    return DeliverySpec(
        link=link or product.slug,
        quantity=quote.service_units * quote.quantity,
        channel=product.platform,
        dripfeed_runs=runs,
        dripfeed_interval_minutes=interval,
        comments=comments,
        option_keys={k: list(v) for k, v in quote.configuration.options.items()},
        add_on_keys=list(quote.configuration.add_ons),
        plan_key=quote.configuration.plan or "",
        order_params=order_params,
    )


def line_record(detail: Any, quote: pricing.Quote) -> dict[str, Any]:
    """One priced line as frozen on the checkout session (the order is built from these)."""
    product = detail.product
    promise = pricing.delivery_promise(detail, quote.configuration, quantity=quote.quantity)
    return {
        "product_id": product.id,
        "product_slug": product.slug,
        "product_title": product.title,
        "unit_label": product.unit_label,
        "platform": product.platform,
        "summary": pricing.summary(detail, quote.configuration),
        "configuration": quote.configuration.as_dict(),
        "quantity": quote.quantity,
        "unit_price_minor": quote.unit_price_minor,
        "total_minor": quote.total_minor,
        "price": quote.price_record(),
        "blueprint": pricing.blueprint_snapshot(detail, quote.configuration),
        "service_units": quote.service_units * quote.quantity,
        "override_service_id": quote.override_service_id,
        "delivery_estimate_hours": promise.hours,
        "delivery_promise": promise.text,  # the one promise, as the cart showed it, frozen for the order
        "delivery": delivery_spec(detail, quote).to_snapshot(),
        "field_labels": pricing.field_labels(detail),  # the receipt and order pages show labels, not keys
        "bundle": quote.bundle,  # the bundle discount in this line's unit price, or None
    }


def _validate_email(email: str) -> str:
    email = (email or "").strip().lower()
    if not re.match(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$", email) or len(email) > 320:
        raise CheckoutError(
            "Enter the email address your receipt should go to.",
            {"email": "Enter a valid email address."},
            field="email",
        )
    return email


def _stripe_line(line: dict[str, Any], currency: str) -> dict[str, Any]:
    description = line["summary"] or line["product_title"]
    bundle = line.get("bundle")
    if bundle:  # the unit amount is already discounted; the customer sees why on Stripe's page
        description += f" · {pricing.bundle_label(bundle['title'], bundle['discount_bps'])}"
    price_data: dict[str, Any] = {
        "currency": currency.lower(),
        "unit_amount": line["unit_price_minor"],
        "product_data": {"name": line["product_title"], "description": description},
    }
    price = line["price"]
    if price["billing"] == "subscription":
        price_data["recurring"] = {"interval": price["interval"], "interval_count": price["interval_count"]}
    return {"price_data": price_data, "quantity": line["quantity"]}


def create_stripe_session(checkout: CheckoutSession, base_url: str) -> None:
    """Create the hosted session at Stripe for a stored checkout row (raises PaymentProviderUnavailable)."""
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
        created = stripe_gateway.create_checkout_session(params)
    except (stripe_gateway.PaymentProviderNotFound, stripe_gateway.PaymentProviderRefused):
        raise stripe_gateway.PaymentProviderUnavailable(
            "Payments are unavailable right now; please try again in a minute."
        ) from None
    checkout.stripe_session_id = created["id"]
    checkout.payment_url = created.get("url")
    checkout.success_url, checkout.cancel_url = params["success_url"], params["cancel_url"]


def start_checkout(
    session: Session,
    cart: Cart | None,
    *,
    customer_email: str,
    user_id: int | None,
    visitor: str | None,
    base_url: str | None = None,
    client_ip: str | None = None,
) -> CheckoutSession:
    """Re-validate and re-price the cart, freeze its lines, create the Stripe session.
    Raises CheckoutError (nothing stored), RateLimited (`checkout_ip` per IP, `checkout_visitor`
    per account or cart cookie; nothing stored) or PaymentProviderUnavailable (caller rolls back)."""
    rate_limits.hit_all([("checkout_ip", client_ip), ("checkout_visitor", f"user:{user_id}" if user_id else visitor)])
    settings = get_settings()
    email = _validate_email(customer_email)
    priced = carts.price_cart(session, cart, visitor=visitor)
    if not priced.lines:
        raise CheckoutError("Your cart is empty.", code=ErrorCode.REQUIRED)
    broken = {f"item.{line.item.id}": "; ".join(line.errors.values()) for line in priced.lines if line.errors}
    if broken:
        raise CheckoutError("Some items need your attention before you can pay.", broken)
    lines = [line_record(line.detail, line.quote) for line in priced.lines]
    mode = (
        CheckoutMode.SUBSCRIPTION
        if any(line["price"]["billing"] == "subscription" for line in lines)
        else CheckoutMode.PAYMENT
    ).value
    checkout = CheckoutSession(
        cart_id=cart.id,
        user_id=user_id,
        customer_email=email,
        mode=mode,
        status=CheckoutStatus.OPEN.value,
        amount_total_minor=sum(line["total_minor"] for line in lines),
        currency=priced.currency,
        lines=lines,
        expires_at=utcnow() + timedelta(minutes=settings.checkout_session_ttl_minutes),
    )
    session.add(checkout)
    session.flush()
    create_stripe_session(checkout, (base_url or settings.public_base_url).rstrip("/"))
    counters.increment(session, counters.CHECKOUT_STARTED)
    session.flush()
    return checkout


# --- the paid session becomes one order ---------------------------------------------------


@dataclass(frozen=True)
class Fulfilment:
    order_id: int | None
    created: bool
    status: str  # created, exists, unpaid, unknown


def find_checkout(session: Session, stripe_session: dict[str, Any]) -> CheckoutSession | None:
    found = (
        session.execute(select(CheckoutSession).where(CheckoutSession.stripe_session_id == stripe_session.get("id")))
        .scalars()
        .first()
    )
    if found is None:
        ref = (stripe_session.get("metadata") or {}).get("checkout_session_id")
        if ref and str(ref).isdigit():
            found = session.get(CheckoutSession, int(ref))
    return found


def existing_order(session: Session, checkout_id: int) -> Order | None:
    return session.execute(select(Order).where(Order.checkout_session_id == checkout_id)).scalars().first()


def _item_snapshot(line: dict[str, Any]) -> dict[str, Any]:
    return {
        "product": {
            "id": line["product_id"],
            "slug": line["product_slug"],
            "title": line["product_title"],
            "unit_label": line["unit_label"],
            "platform": line["platform"],
        },
        "summary": line["summary"],
        "configuration": line["configuration"],
        "options": line["configuration"]["options"],
        "add_ons": line["configuration"]["add_ons"],
        "fields": line["configuration"]["fields"],
        "preset": line["configuration"].get("preset"),
        "plan": line["configuration"].get("plan"),
        "price": line["price"],
        "price_breakdown": line["price"]["lines"],
        "blueprint": line["blueprint"],
        "override_service_id": line["override_service_id"],
        "delivery_estimate_hours": line["delivery_estimate_hours"],
        "delivery_promise": line.get("delivery_promise", ""),
        "delivery": line["delivery"],
        "field_labels": line.get("field_labels") or {},
        "bundle": line.get("bundle"),
    }


def fulfil_paid_session(
    session: Session,
    stripe_session: dict[str, Any],
    *,
    actor: str,
    now: datetime | None = None,
    paid_with: str = "Stripe Checkout",
    payment_provider: str = "stripe",
    send_receipt: bool = True,
    checkout: CheckoutSession | None = None,
    count_completed: bool = True,
    batch: RowBatch | None = None,
) -> Fulfilment:
    """Create the order of a paid session exactly once (safe to call from anywhere, any number
    of times, concurrently). The creator schedules the receipt for after its commit. `now`
    is the caller's clock (a test's fake one); the wall clock by default. A reseller's order
    paid from their wallet comes here too (`paid_with`, `payment_provider="wallet"`) with its
    `checkout` built and not stored yet: it is stored here, completed, in the same INSERT, and
    (being new, invisible to any other transaction) neither looked up nor checked for an order.

    The rows: the order, its items and their submit tasks, the payment and its event, the
    invoice, the "placed" event; items, tasks and the payment event are written with one
    INSERT per table (nothing reads them back), the counters last (`count_completed=False`:
    the caller counts the completed checkout itself, a group of wallet orders in one go). With
    a `batch`, the tasks and both events are added to it for the caller to write before its
    commit (`smplat.db.RowBatch`)."""
    new_checkout = checkout is not None
    if checkout is None:
        checkout = find_checkout(session, stripe_session)
        if checkout is None:
            return Fulfilment(None, False, "unknown")
    if stripe_session.get("payment_status") not in ("paid", "no_payment_required"):
        return Fulfilment(None, False, "unpaid")
    if not new_checkout:
        existing = existing_order(session, checkout.id)
        if existing is not None:
            return Fulfilment(existing.id, False, "exists")
    now = now or utcnow()
    if new_checkout:  # written once, completed; only read from the object afterwards
        checkout.status, checkout.completed_at = CheckoutStatus.COMPLETED.value, now
        insert_built(session, checkout)
    charged = int(stripe_session.get("amount_total") or checkout.amount_total_minor)
    order = Order(
        user_id=checkout.user_id,
        customer_email=checkout.customer_email,
        checkout_session_id=checkout.id,
        payment_status=payment_status_for(charged, 0),
        currency=checkout.currency,
        subtotal_minor=checkout.amount_total_minor,
        total_minor=checkout.amount_total_minor,
        charged_minor=charged,
        placed_at=now,
        status=order_status.PLACED,  # paid: place_order below adds its "placed" event
    )
    try:
        with session.begin_nested() if not new_checkout else nullcontext():
            session.add(order)
            session.flush()
            snapshots = [_item_snapshot(line) for line in checkout.lines]
            item_ids = _insert_items(session, order, checkout, snapshots)
    except IntegrityError:
        # the webhook and the success page raced; the other one created it
        found = existing_order(session, checkout.id)
        return Fulfilment(found.id if found else None, False, "exists")
    enqueue_delivery(session, order, now=now, new_items=list(zip(item_ids, snapshots, strict=True)), batch=batch)
    payment = Payment(
        order_id=order.id,
        checkout_session_id=checkout.id,
        kind=PaymentKind.CHARGE.value,
        provider=payment_provider,
        stripe_payment_intent_id=stripe_session.get("payment_intent"),
        stripe_subscription_id=stripe_session.get("subscription"),
        amount_minor=order.charged_minor,
        currency=checkout.currency,
        status=PaymentRowStatus.SUCCEEDED.value,
    )
    insert_built(session, payment)
    event = {"payment_id": payment.id, "kind": "succeeded", "data": {"stripe_session": stripe_session.get("id")}}
    insert_rows(session, PaymentEvent.__table__, [event], batch)
    who = order_status.Actor(ActorType.WEBHOOK.value if actor == "webhook" else ActorType.SYSTEM.value, actor)
    order_status.place_order(
        session,
        order,
        who,
        f"Paid {format_money(order.charged_minor, order.currency)} with {paid_with}",
        {"stripe_session": stripe_session.get("id")},
        at=now,
        batch=batch,
    )
    if stripe_session.get("subscription"):
        subscriptions.upsert_subscription(
            session,
            {"id": stripe_session["subscription"], "status": "active", "customer": stripe_session.get("customer")},
            order=order,
            checkout=checkout,
        )
    if not new_checkout:
        checkout.status = CheckoutStatus.COMPLETED.value
        checkout.completed_at = now
    if checkout.cart_id:
        session.execute(update(Cart).where(Cart.id == checkout.cart_id).values(status=CartStatus.CONVERTED.value))
        session.execute(CartItem.__table__.delete().where(CartItem.cart_id == checkout.cart_id))
    for line in checkout.lines:
        if line["price"].get("experiment"):
            experiments.record_conversion(session, line["price"]["experiment"], line["total_minor"])
    # numbered now, emailed after commit (like the receipt: not for a reseller's API orders); the
    # invoice counter and the checkout counter are locked rows: taken last, held briefly
    lines = [
        (line["product_title"], snapshot, line["quantity"], line["total_minor"])
        for line, snapshot in zip(checkout.lines, snapshots, strict=True)
    ]
    invoices.issue_for_order(session, order, payment, now=now, email=send_receipt, new_lines=lines)
    if count_completed:
        counters.increment(session, counters.CHECKOUT_COMPLETED)
    session.flush()
    if send_receipt:  # a reseller's API orders get no email each (the API answers them)
        receipts.send_after_commit(session, order.id)
    return Fulfilment(order.id, True, "created")


_ITEMS = OrderItem.__table__
_ITEM_INSERT = _ITEMS.insert().returning(_ITEMS.c.id, sort_by_parameter_order=True)


def _insert_items(
    session: Session, order: Order, checkout: CheckoutSession, snapshots: list[dict[str, Any]]
) -> list[int]:
    """The order's items, one per frozen line, in one INSERT; their ids in line order."""
    rows = [
        {
            "order_id": order.id,
            "product_id": line["product_id"],
            "product_title": line["product_title"],
            "quantity": line["quantity"],
            "unit_price_minor": line["unit_price_minor"],
            "total_minor": line["total_minor"],
            "currency": checkout.currency,
            "status": OrderStatus.PENDING.value,
            "snapshot": snapshot,
            "service_quantity": line["service_units"],
        }
        for line, snapshot in zip(checkout.lines, snapshots, strict=True)
    ]
    return list(session.execute(_ITEM_INSERT, rows).scalars())


def confirm_from_success_page(session: Session, stripe_session_id: str) -> Fulfilment:
    """The success page: ask Stripe about the session, then the same idempotent fulfilment.
    Raises PaymentProviderUnavailable when Stripe cannot be asked."""
    if not stripe_session_id or len(stripe_session_id) > 255:
        return Fulfilment(None, False, "unknown")
    try:
        remote = stripe_gateway.retrieve_checkout_session(stripe_session_id)
    except (stripe_gateway.PaymentProviderNotFound, stripe_gateway.PaymentProviderRefused):
        return Fulfilment(None, False, "unknown")
    return fulfil_paid_session(session, remote, actor="success_page")
