"""Row generators for fulfilment tests: the seeded catalog pointed at a panel sandbox, and paid orders.

A paid order is made the way the shop makes one: a checkout session holding the frozen
lines, then `checkout.fulfil_paid_session` (the function the Stripe webhook and the success
page call) turns the paid session into the order, its items, the payment and the delivery
tasks. Only the lines are written here, with the link, units and price a test asks for
instead of a configured cart (pricing has its own tests).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

from smplat.models.catalog import Product
from smplat.models.checkout import CheckoutSession
from smplat.models.orders import Order
from smplat.models.providers import Provider, ProviderHealth
from smplat.services.checkout.placement import fulfil_paid_session
from smplat.services.delivery import DeliverySpec
from smplat.services.seed import SANDBOX_PROVIDER_SLUG, seed_demo


def seed_with_panel(session: Session, base_url: str, *, rate_limit: int = 1000) -> Provider:
    """The demo catalog and routes, with the sandbox provider pointed at `base_url`."""
    seed_demo(session)
    provider = session.execute(select(Provider).where(Provider.slug == SANDBOX_PROVIDER_SLUG)).scalars().one()
    provider.base_url, provider.rate_limit_per_second = base_url, rate_limit
    provider.health_status = ProviderHealth.HEALTHY.value
    session.add(provider)
    session.commit()
    return provider


def product(session: Session, slug: str) -> Product:
    return session.execute(select(Product).where(Product.slug == slug)).scalars().one()


def _line(
    prod: Product,
    link: str,
    units: int,
    price: int,
    dripfeed: tuple[int, int] | None,
    add_ons: tuple[str, ...] = (),
    order_params: dict[str, str] | None = None,
) -> dict:
    """One frozen checkout line (the shape `checkout.start_checkout` stores) for `units` of `prod` on `link`."""
    spec = DeliverySpec(
        link=link,
        quantity=units,
        channel=prod.platform,
        dripfeed_runs=dripfeed[0] if dripfeed else None,
        dripfeed_interval_minutes=dripfeed[1] if dripfeed else None,
        add_on_keys=list(add_ons),
        order_params=dict(order_params or {}),
    )
    configuration = {
        "options": {},
        "add_ons": list(add_ons),
        "fields": {"link": link},
        "plan": "one-time",
        "preset": None,
    }
    return {
        "product_id": prod.id,
        "product_slug": prod.slug,
        "product_title": prod.title,
        "unit_label": prod.unit_label,
        "platform": prod.platform,
        "summary": f"{units} on {link}",
        "configuration": configuration,
        "quantity": 1,
        "unit_price_minor": price,
        "total_minor": price,
        "price": {"billing": "one_time", "lines": [{"label": prod.title, "amount_minor": price}]},
        "blueprint": {},
        "service_units": units,
        "override_service_id": None,
        "delivery_estimate_hours": None,
        "delivery": spec.to_snapshot(),
    }


def paid_order(
    session: Session,
    lines: list[tuple[Product, str, int, int]],
    *,
    user_id: int | None = None,
    email: str = "buyer@example.com",
    dripfeed: tuple[int, int] | None = None,
    add_ons: tuple[str, ...] = (),
    now: datetime | None = None,
    order_params: dict[str, str] | None = None,
) -> Order:
    """A paid order with one line per (product, link, units, price_minor), queued for delivery:
    `add_ons`: the add-on keys chosen on every line (a service-override add-on routes the line);
    placed by `fulfil_paid_session` from a paid checkout session at `now` (a test's fake clock;
    default: the wall clock), then committed."""
    frozen = [_line(prod, link, units, price, dripfeed, add_ons, order_params) for prod, link, units, price in lines]
    total = sum(line["total_minor"] for line in frozen)
    checkout = CheckoutSession(
        user_id=user_id,
        customer_email=email,
        stripe_session_id=f"cs_test_{uuid.uuid4().hex}",
        amount_total_minor=total,
        currency="EUR",
        lines=frozen,
    )
    session.add(checkout)
    session.flush()
    placed = fulfil_paid_session(
        session,
        {
            "id": checkout.stripe_session_id,
            "payment_status": "paid",
            # no card payment intent: a refund is recorded as due by hand,
            # never asked of a Stripe this test does not run
            "amount_total": total,
            "payment_intent": None,
        },
        actor="webhook",
        now=now,
    )
    assert placed.created, f"the paid session was not placed: {placed.status}"
    session.commit()
    return session.get(Order, placed.order_id)
