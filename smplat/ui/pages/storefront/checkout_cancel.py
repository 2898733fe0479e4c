"""The checkout cancel page: nothing charged, the cart is kept."""

from __future__ import annotations

import reflex as rx

from smplat.ui import routes
from smplat.ui.components.common import empty_state
from smplat.ui.components.layout import storefront_page
from smplat.ui.pages.storefront._checkout_result import CheckoutResultState
from smplat.ui.registry import page


@page(route=routes.CHECKOUT_CANCEL, title="Checkout not completed", on_load=CheckoutResultState.load_cancel)
def cancel_page() -> rx.Component:
    return storefront_page(
        rx.cond(
            CheckoutResultState.declined,
            empty_state(
                "circle-x",
                "Your payment was declined",
                "Your card was declined, so no money was taken and no order was placed. Your cart is "
                "still here: try another card or payment method.",
                rx.link(rx.button("Back to my cart"), href=routes.CART),
                id="checkout-failed",
            ),
            empty_state(
                "undo-2",
                "Checkout cancelled",
                "Nothing was charged and no order was placed. Your cart is still here when you are ready.",
                rx.link(rx.button("Back to my cart"), href=routes.CART),
                id="checkout-cancelled",
            ),
        ),
    )
