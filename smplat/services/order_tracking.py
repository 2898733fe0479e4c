"""Guest order tracking and attaching guest orders to an account.

A tracking link is `/track/<number>.<expires>.<signature>`: the signature is an HMAC-SHA256
(stdlib `hmac`, key derived from SMPLAT_SECRET_KEY) over the order number, the expiry and the
order's `tracking_nonce`. It opens a read-only order page without an account until it
expires (SMPLAT_TRACKING_LINK_DAYS); `revoke_tracking_links` changes the nonce, which
invalidates every link sent so far. A tampered, expired, revoked link or one signed for
another order opens nothing, and says nothing about why.

Guest orders (placed without an account) attach to an account whose email is the order's
`customer_email` only once that address is verified (`accounts.verify_email`); a verified
customer also picks up guest orders placed later, when they next sign in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlmodel import Session

from smplat.models.accounts import User
from smplat.models.base import utcnow
from smplat.models.orders import Order
from smplat.settings import get_settings

TOKEN_MAX_LENGTH = 120


def _key() -> bytes:
    # a key of its own, derived from the app secret: a tracking signature is useless anywhere else
    return hashlib.sha256(b"smplat:order-tracking:" + get_settings().secret().encode("utf-8")).digest()


def _signature(number: str, expires: int, nonce: str) -> str:
    mac = hmac.new(_key(), f"{number}|{expires}|{nonce}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def tracking_token(order: Order, now: datetime | None = None) -> str:
    now = now or utcnow()
    expires = int((now + timedelta(days=get_settings().tracking_link_days)).timestamp())
    return f"{order.number}.{expires}.{_signature(order.number, expires, order.tracking_nonce or '')}"


def tracking_url(order: Order, now: datetime | None = None) -> str:
    return f"{get_settings().public_base_url.rstrip('/')}/track/{tracking_token(order, now)}"


def order_for_token(session: Session, token: str, now: datetime | None = None) -> Order | None:
    """The order a valid, unexpired, unrevoked link was signed for; None otherwise."""
    token = (token or "").strip()
    if not token or len(token) > TOKEN_MAX_LENGTH or token.count(".") != 2:
        return None
    number, expires_raw, signature = token.split(".")
    if not expires_raw.isdigit() or len(expires_raw) > 12:
        return None
    expires = int(expires_raw)
    if (now or utcnow()).timestamp() > expires:
        return None
    order = session.execute(select(Order).where(Order.number == number)).scalars().first()
    if order is None:
        return None
    if not hmac.compare_digest(_signature(number, expires, order.tracking_nonce or ""), signature):
        return None
    return order


def revoke_tracking_links(session: Session, order: Order) -> None:
    """Invalidate every tracking link of the order sent so far (a new one can be issued)."""
    order.tracking_nonce = secrets.token_hex(16)
    session.add(order)
    session.flush()


def attach_guest_orders(session: Session, user: User) -> int:
    """Give a verified account the guest orders paid with its email; the number attached.
    An unverified account gets nothing: knowing an address does not make it yours."""
    if user.email_verified_at is None or not user.email:
        return 0
    result = session.execute(
        update(Order)
        .where(Order.user_id.is_(None), Order.customer_email == user.email.lower())
        .values(user_id=user.id)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)
