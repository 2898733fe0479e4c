"""The state of the two pages Stripe sends the buyer back to (success and cancel)."""

from __future__ import annotations

from typing import Any

import reflex as rx

from smplat.db import session_scope
from smplat.services import checkout
from smplat.services.checkout import placement, receipts
from smplat.ui.state.cart import ShopperState


class CheckoutResultState(ShopperState):
    loaded: bool = False
    status: str = ""
    order: dict[str, Any] = {}
    items: list[dict[str, Any]] = []
    declined: bool = False

    @rx.event
    def load_success(self) -> None:
        self.load_user()
        session_id = self.router.url.query_parameters.get("session_id", "")
        result = None
        try:
            with session_scope() as db:
                result = placement.confirm_from_success_page(db, session_id)
        except checkout.PaymentProviderUnavailable:
            self.status = "unreachable"
        if result is not None and result.order_id:
            with session_scope() as db:
                view = receipts.order_view(db, result.order_id)
            self.order = {
                "number": view["number"],
                "total": view["total"],
                "email": view["email"],
                "follow": view["follow_path"],
            }
            self.items = view["items"]
            self.status = "paid"
        elif result is not None:
            self.status = result.status
        self.loaded = True

    @rx.event
    def load_cancel(self) -> None:
        self.load_user()
        self.declined = self.router.url.query_parameters.get("declined", "") == "1"
        self.loaded = True
