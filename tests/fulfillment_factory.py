"""Row generators for fulfilment tests: the seeded catalog pointed at a panel sandbox, and paid orders.

Order creation belongs to checkout (issue 4); these build the same rows it hands over:
an Order + OrderItems carrying a DeliverySpec snapshot, then `enqueue_delivery`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

from smplat.models.base import utcnow
from smplat.models.catalog import Product
from smplat.models.orders import Order, OrderItem, OrderStatus, PaymentStatus
from smplat.models.providers import Provider, ProviderHealth
from smplat.services.delivery import DeliverySpec, enqueue_delivery
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


def paid_order(session: Session, lines: list[tuple[Product, str, int, int]], *, user_id: int | None = None,
               email: str = "buyer@example.com", dripfeed: tuple[int, int] | None = None,
               now: datetime | None = None) -> Order:
    """A paid order with one line per (product, link, units, price_minor), placed and queued
    for delivery at `now` (a test's fake clock; default: the wall clock)."""
    now = now or utcnow()
    total = sum(price for *_, price in lines)
    order = Order(user_id=user_id, customer_email=email, status=OrderStatus.PENDING.value,
                  payment_status=PaymentStatus.PAID.value, currency="EUR", subtotal_minor=total, total_minor=total,
                  charged_minor=total, placed_at=now)
    session.add(order)
    session.flush()
    for prod, link, units, price in lines:
        spec = DeliverySpec(link=link, quantity=units, channel=prod.platform,
                            dripfeed_runs=dripfeed[0] if dripfeed else None,
                            dripfeed_interval_minutes=dripfeed[1] if dripfeed else None)
        session.add(OrderItem(order_id=order.id, product_id=prod.id, product_title=prod.title, quantity=1,
                              unit_price_minor=price, total_minor=price, currency="EUR", service_quantity=units,
                              snapshot={"product": {"slug": prod.slug}, "delivery": spec.to_snapshot()}))
    session.flush()
    enqueue_delivery(session, order, now=now)
    session.commit()
    return order
