"""The checkout success page: the paid order, confirmed with Stripe on the server."""

from __future__ import annotations

import reflex as rx

from smplat.ui import routes
from smplat.ui.components.common import card, empty_state, loading_block
from smplat.ui.components.layout import storefront_page
from smplat.ui.pages.storefront._checkout_result import CheckoutResultState
from smplat.ui.registry import page


def _order_item(item: rx.Var) -> rx.Component:
    return card(
        rx.hstack(
            rx.text(item["title"], weight="bold"),
            rx.text("× " + item["quantity"].to(str), color_scheme="gray"),
            rx.spacer(),
            rx.text(item["total"], weight="bold"),
            rx.text(item["billing"], size="1"),
            width="100%",
        ),
        rx.text(item["summary"], size="2", color_scheme="gray"),
        rx.foreach(
            item["blueprint"].to(list[dict[str, str]]),
            lambda b: rx.hstack(
                rx.icon("sparkles", size=14, color="var(--violet-11)"),
                rx.text(b["label"] + ": " + b["tagline"], size="2"),
                spacing="2",
                align="center",
            ),
        ),
        rx.cond(
            item["delivery"] != "",
            rx.hstack(
                rx.icon("clock", size=14),
                rx.text(item["delivery"], size="2", class_name="line-delivery"),
                spacing="2",
                align="center",
                color="var(--gray-11)",
            ),
        ),
        rx.cond(
            item["bundle"] != "",
            rx.text(item["bundle"], size="2", color="var(--green-11)", class_name="line-bundle"),
        ),
        rx.text(item["fields"], size="1", color_scheme="gray"),
        width="100%",
    )


@page(route=routes.CHECKOUT_SUCCESS, title="Order placed", on_load=CheckoutResultState.load_success)
def success_page() -> rx.Component:
    return storefront_page(
        rx.cond(
            CheckoutResultState.loaded,
            rx.match(
                CheckoutResultState.status,
                (
                    "paid",
                    rx.vstack(
                        rx.center(rx.icon("circle-check", size=40, color="var(--green-10)"), width="100%"),
                        rx.heading(
                            "Thank you, your order is placed",
                            size="7",
                            text_align="center",
                            width="100%",
                            id="success-title",
                        ),
                        rx.text(
                            "Order ",
                            rx.text.strong(CheckoutResultState.order["number"], id="order-number"),
                            " · paid ",
                            rx.text.strong(CheckoutResultState.order["total"], id="order-total"),
                            " · receipt sent to ",
                            CheckoutResultState.order["email"],
                            text_align="center",
                            width="100%",
                        ),
                        rx.foreach(CheckoutResultState.items, _order_item),
                        rx.hstack(
                            rx.link(
                                rx.button("Follow my order"),
                                href=CheckoutResultState.order["follow"],
                                id="follow-order",
                            ),
                            rx.link(rx.button("Keep shopping", variant="soft"), href=routes.SERVICES),
                            spacing="3",
                        ),
                        spacing="4",
                        width="100%",
                        max_width="640px",
                        margin="0 auto",
                        align="center",
                    ),
                ),
                (
                    "unpaid",
                    empty_state(
                        "hourglass",
                        "Payment not confirmed yet",
                        "Stripe has not confirmed this payment. No order was placed and you were not "
                        "charged. If you paid, refresh this page in a moment.",
                        id="payment-pending",
                    ),
                ),
                (
                    "unreachable",
                    empty_state(
                        "wifi-off",
                        "We could not reach the payment provider",
                        "Refresh this page in a moment; your payment is safe either way.",
                    ),
                ),
                empty_state(
                    "search-x",
                    "We could not find this checkout",
                    "The link may be incomplete. Your orders are listed in your account.",
                    rx.link(rx.button("My orders"), href=routes.ACCOUNT_ORDERS),
                ),
            ),
            loading_block(),
        ),
    )
