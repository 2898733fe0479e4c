"""Row generators for checkout tests: a guest's cart with one configured line, taken to a
Stripe checkout session through the real placement function."""

from __future__ import annotations

from smplat.db import session_scope
from smplat.models.checkout import CheckoutSession
from smplat.services import carts
from smplat.services.checkout import placement

GUEST_TOKEN = carts.sign_guest_token("guest-token-1")  # a cart cookie the shop issued
POPULAR = {
    "options": {"package": "1000", "speed": "standard"},
    "add_ons": [],
    "plan": "one-time",
    "fields": {"username": "@brand"},
    "preset": "popular",
}


def start_guest_checkout(
    email: str = "guest@example.test",
    configuration: dict | None = None,
    quantity: int = 1,
    slug: str = "instagram-followers",
) -> CheckoutSession:
    """A guest's cart with one line of `slug`, taken to a checkout session at the Stripe sandbox."""
    with session_scope() as db:
        cart = carts.get_or_create_cart(db, user_id=None, guest_token=GUEST_TOKEN)
        carts.add_item(db, cart, slug, configuration or POPULAR, quantity, visitor=carts.visitor_key(GUEST_TOKEN))
        return placement.start_checkout(
            db,
            cart,
            customer_email=email,
            user_id=None,
            visitor=carts.visitor_key(GUEST_TOKEN),
            base_url="http://shop.test",
        )
