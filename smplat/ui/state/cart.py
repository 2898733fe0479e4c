"""The shopper's browser identity: the guest cart cookie (a random token; the server
stores only its hash) and the consent cookie, shared by the product, cart and checkout pages."""

from __future__ import annotations

import reflex as rx

from smplat.services import carts
from smplat.services.consent import CONSENT_COOKIE
from smplat.ui.state.auth import AuthState


class ShopperState(AuthState):
    cart_token: str = rx.Cookie("", name=carts.CART_COOKIE, max_age=60 * 86400, same_site="lax", path="/")
    consent_choice: str = rx.Cookie("", name=CONSENT_COOKIE, path="/")

    def _ensure_cart_token(self) -> str:
        # A value this shop did not issue (empty, made up, rotated) is replaced, never trusted.
        token = carts.guest_token_for(self.cart_token)
        if token != self.cart_token:
            self.cart_token = token
        return self.cart_token

    def _visitor(self) -> str | None:
        return carts.visitor_key(self._ensure_cart_token())

    def _owner(self) -> dict:
        user = self._current_user()
        return {"user_id": user.id if user else None, "guest_token": None if user else self._ensure_cart_token()}
