"""Checkout sessions after they start: expiry of stale ones (a paid one is fulfilled instead),
an operator's fresh link, and the admin list."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from smplat.integrations import stripe_gateway
from smplat.models.base import utcnow
from smplat.models.checkout import CheckoutSession, CheckoutStatus
from smplat.services import audit, carts, counters, experiments, pricing
from smplat.services.checkout import placement
from smplat.services.checkout.errors import CheckoutError
from smplat.services.errors import ErrorCode
from smplat.services.money import format_money
from smplat.settings import get_settings

logger = logging.getLogger(__name__)


def expire_stale_sessions(session: Session, now: datetime | None = None) -> dict[str, int]:
    """The job: open sessions past their deadline are expired at Stripe and marked abandoned.
    A session Stripe reports paid is fulfilled instead (a missed webhook self-heals; its
    receipt goes out when the job's unit of work commits)."""
    now = now or utcnow()
    stale = (
        session.execute(
            select(CheckoutSession)
            .where(CheckoutSession.status == CheckoutStatus.OPEN.value, CheckoutSession.expires_at <= now)
            .order_by(CheckoutSession.id)
            .limit(200)
        )
        .scalars()
        .all()
    )
    counts = {"abandoned": 0, "fulfilled": 0, "errors": 0}
    for checkout in stale:
        if checkout.stripe_session_id:
            try:
                remote = stripe_gateway.retrieve_checkout_session(checkout.stripe_session_id)
                if remote.get("payment_status") == "paid":
                    placement.fulfil_paid_session(session, remote, actor="job:expire_checkouts")
                    counts["fulfilled"] += 1
                    continue
                if remote.get("status") == "open":
                    stripe_gateway.expire_checkout_session(checkout.stripe_session_id)
            except (stripe_gateway.PaymentProviderNotFound, stripe_gateway.PaymentProviderRefused):
                pass  # unknown or already closed at Stripe: abandon it here as well
            except stripe_gateway.PaymentProviderUnavailable as exc:
                logger.warning("expire %s: %s", checkout.stripe_session_id, exc)
                counts["errors"] += 1
                continue
        checkout.status = CheckoutStatus.ABANDONED.value
        counters.increment(session, counters.CHECKOUT_ABANDONED)
        counts["abandoned"] += 1
    session.flush()
    return counts


def regenerate_link(
    session: Session, checkout_id: int, *, base_url: str | None = None, actor: audit.Actor | None = None
) -> CheckoutSession:
    """An operator sends a customer a fresh link: lines re-validated and re-priced today,
    a new session replaces the old one (which is expired at Stripe if still open)."""
    old = session.get(CheckoutSession, checkout_id)
    if old is None:
        raise CheckoutError("That checkout does not exist.", code=ErrorCode.NOT_FOUND)
    if old.status == CheckoutStatus.COMPLETED.value or placement.existing_order(session, old.id):
        raise CheckoutError("That checkout was paid; there is nothing to regenerate.", code=ErrorCode.CONFLICT)
    cache = carts.DetailCache(session)
    quoted = []
    for line in old.lines:
        detail = cache.get(line["product_id"])
        if detail is None:
            raise CheckoutError(
                f"{line['product_title']} is no longer sold; the customer must choose again.",
                code=ErrorCode.NOT_ALLOWED,
            )
        try:
            # the variant the customer was offered, so the price holds and the conversion counts
            quote = pricing.price_for(
                session,
                detail,
                line["configuration"],
                quantity=line["quantity"],
                variant=experiments.recorded_variant(line["price"].get("experiment")),
            )
        except pricing.ConfigurationInvalid as exc:
            raise CheckoutError(f"{line['product_title']}: {exc}") from None
        quoted.append((detail, quote))
    # bought together today, the lines earn today's bundle discounts (pricing rule 5)
    discounted = pricing.with_bundle_discounts(session, [quote for _, quote in quoted])
    lines = [placement.line_record(detail, quote) for (detail, _), quote in zip(quoted, discounted, strict=True)]
    settings = get_settings()
    new = CheckoutSession(
        cart_id=old.cart_id,
        user_id=old.user_id,
        customer_email=old.customer_email,
        mode=old.mode,
        amount_total_minor=sum(line["total_minor"] for line in lines),
        currency=old.currency,
        lines=lines,
        replaces_session_id=old.id,
        expires_at=utcnow() + timedelta(minutes=settings.checkout_session_ttl_minutes),
    )
    session.add(new)
    session.flush()
    placement.create_stripe_session(new, (base_url or settings.public_base_url).rstrip("/"))
    if old.status == CheckoutStatus.OPEN.value and old.stripe_session_id:
        try:
            stripe_gateway.expire_checkout_session(old.stripe_session_id)
        except (
            stripe_gateway.PaymentProviderNotFound,
            stripe_gateway.PaymentProviderRefused,
            stripe_gateway.PaymentProviderUnavailable,
        ):
            pass  # it expires on its own at its deadline
    if old.status == CheckoutStatus.OPEN.value:
        old.status = CheckoutStatus.EXPIRED.value
    counters.increment(session, counters.CHECKOUT_STARTED)
    session.flush()
    if actor is not None:
        audit.record(
            session,
            actor,
            "checkout.regenerate_link",
            "checkout_session",
            old.id,
            data={"new_checkout_id": new.id, "amount_total_minor": new.amount_total_minor, "currency": new.currency},
        )
    return new


def checkout_rows(session: Session, limit: int = 50) -> list[dict[str, Any]]:
    rows = session.execute(select(CheckoutSession).order_by(CheckoutSession.id.desc()).limit(limit)).scalars().all()
    return [
        {
            "id": c.id,
            "email": c.customer_email,
            "status": c.status,
            "total": format_money(c.amount_total_minor, c.currency),
            "lines": len(c.lines),
            "created": c.created_at.strftime("%Y-%m-%d %H:%M"),
            "link": c.payment_url,
            "can_regenerate": c.status != CheckoutStatus.COMPLETED.value,
        }
        for c in rows
    ]
