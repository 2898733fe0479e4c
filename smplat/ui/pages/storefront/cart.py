"""The cart page and the checkout hand-off to Stripe."""

from __future__ import annotations

from typing import Any

import reflex as rx

from smplat.db import session_scope
from smplat.services import carts, checkout, invoices
from smplat.services.checkout import placement
from smplat.services.invoices import BILLING_KEYS
from smplat.services.money import format_money
from smplat.services.rate_limits import RateLimited
from smplat.settings import get_settings
from smplat.ui import routes
from smplat.ui.components.billing import billing_fields
from smplat.ui.components.common import card, empty_state, page_title
from smplat.ui.components.layout import storefront_page
from smplat.ui.components.skeletons import skeleton_block, skeleton_card, skeleton_text
from smplat.ui.registry import page
from smplat.ui.state.auth import navigate_hard
from smplat.ui.state.cart import ShopperState

CHECKOUT_FORM_KEYS = frozenset({"email", "checkout_email", *BILLING_KEYS})


class CartState(ShopperState):
    loaded: bool = False
    rows: list[dict[str, Any]] = []
    total: str = ""
    savings: list[dict[str, str]] = []  # one row per bundle discount in the cart
    can_checkout: bool = False
    email_error: str = ""
    checkout_error: str = ""
    # a signed-in customer without billing details is asked for them once, here
    needs_billing: bool = False
    billing_errors: dict[str, str] = {}

    def _reload(self, db, known: dict | None = None) -> None:
        cart = carts.find_cart(db, **self._owner())
        priced = carts.price_cart(db, cart, visitor=self._visitor(), known=known)
        self.rows = [line.row() for line in priced.lines]
        self.total = format_money(priced.total_minor, priced.currency)
        self.savings = priced.bundle_savings
        self.can_checkout = priced.ok
        self.loaded = True

    @rx.event
    def load_cart(self) -> None:
        self.load_user()
        self.email_error = self.checkout_error = ""
        self.billing_errors = {}
        with session_scope() as db:
            self._reload(db)
            self.needs_billing = invoices.needs_billing_details(db, self.user_id or None)

    @rx.event
    def change_quantity(self, item_id: int, delta: int):
        with session_scope() as db:
            cart = carts.find_cart(db, **self._owner())
            row = next((r for r in self.rows if r["id"] == item_id), None)
            if cart is None or row is None:
                return rx.toast.error("That cart line does not exist.")
            if delta not in (-1, 1):  # the page only sends one step at a time
                return rx.toast.error("Change the quantity one package at a time.")
            try:
                line = carts.update_line(
                    db, cart, item_id, quantity=int(row["quantity"]) + delta, visitor=self._visitor()
                )
            except (carts.CartError, carts.pricing.ConfigurationInvalid) as exc:
                db.rollback()
                self.checkout_error = str(exc)
                return
            self._reload(db, known={line.item.id: line.quote})

    @rx.event
    def remove(self, item_id: int):
        with session_scope() as db:
            cart = carts.find_cart(db, **self._owner())
            try:
                carts.remove_item(db, cart, item_id) if cart else None
            except carts.CartError as exc:
                return rx.toast.error(str(exc))
            self._reload(db)

    @rx.event
    def start_checkout(self, form_data: dict[str, Any]):
        # the form sends only the receipt email and the billing details (Reflex also submits
        # each under its element id); a price or total is never ours to accept
        if any(key not in CHECKOUT_FORM_KEYS for key in form_data):
            self.checkout_error = "This form was changed outside the shop; reload the page and try again."
            return rx.toast.error(self.checkout_error)
        user = self._current_user()
        email = user.email if user else str(form_data.get("email", ""))
        self.email_error = self.checkout_error = ""
        self.billing_errors = {}
        try:
            with session_scope() as db:
                if user and invoices.needs_billing_details(db, user.id):
                    # saved with the checkout: a refused checkout stores no details either
                    invoices.save_billing_details(db, user.id, {k: form_data.get(k, "") for k in BILLING_KEYS})
                cart = carts.find_cart(db, **self._owner())
                created = placement.start_checkout(
                    db,
                    cart,
                    customer_email=email,
                    user_id=user.id if user else None,
                    visitor=self._visitor(),
                    base_url=get_settings().public_base_url,
                    client_ip=self._client_ip(),
                )
                url = created.payment_url
        except invoices.InvoiceError as exc:
            self.billing_errors = exc.errors or {exc.field or "name": exc.message}
            self.checkout_error = "Please complete your billing details for the invoice."
            return
        except checkout.CheckoutError as exc:
            self.email_error = exc.errors.get("email", "")
            self.checkout_error = "" if self.email_error else str(exc)
            with session_scope() as db:
                self._reload(db)
            return
        except (checkout.PaymentProviderUnavailable, RateLimited) as exc:
            self.checkout_error = str(exc)
            return
        return navigate_hard(url)


def _cart_row(row: rx.Var) -> rx.Component:
    return card(
        rx.hstack(
            rx.image(
                src=row["image"],
                width="64px",
                height="64px",
                border_radius="10px",
                # "cover" cut the 4:3 artwork to its middle square ("ollowers"): show it whole
                object_fit="contain",
                background="var(--gray-3)",
            ),
            rx.vstack(
                rx.link(rx.text(row["title"], weight="bold"), href=routes.SERVICES + "/" + row["slug"].to(str)),
                rx.text(row["summary"], size="2", color_scheme="gray"),
                rx.hstack(
                    rx.icon("clock", size=12),
                    rx.text(row["delivery"], size="1", class_name="cart-delivery"),
                    spacing="1",
                    align="center",
                    color="var(--gray-11)",
                ),
                rx.text(row["fields"], size="1", color_scheme="gray"),
                rx.cond(
                    row["discount"] != "",
                    rx.badge(
                        rx.icon("tag", size=12),
                        row["discount"],
                        color_scheme="green",
                        variant="soft",
                        class_name="cart-line-discount",
                    ),
                ),
                rx.link(
                    rx.hstack(
                        rx.icon("pencil", size=12), rx.text("Edit options", size="1"), spacing="1", align="center"
                    ),
                    href=routes.SERVICES + "/" + row["slug"].to(str) + "?edit=" + row["id"].to(str),
                    class_name="cart-edit",
                    id="edit-line-" + row["id"].to(str),
                ),
                rx.cond(row["error"] != "", rx.text(row["error"], size="1", color="var(--red-11)")),
                spacing="1",
                align="start",
                flex="1",
            ),
            rx.hstack(
                rx.icon_button(
                    rx.icon("minus", size=14),
                    variant="soft",
                    size="1",
                    on_click=CartState.change_quantity(row["id"], -1),
                ),
                rx.text(row["quantity"], weight="medium", class_name="cart-qty"),
                rx.icon_button(
                    rx.icon("plus", size=14), variant="soft", size="1", on_click=CartState.change_quantity(row["id"], 1)
                ),
                spacing="2",
                align="center",
            ),
            rx.vstack(
                rx.text(row["total"], weight="bold", class_name="cart-line-total"),
                rx.text(row["billing"], size="1", color_scheme="gray"),
                spacing="0",
                align="end",
                min_width="90px",
            ),
            rx.icon_button(
                rx.icon("trash-2", size=14),
                variant="ghost",
                color_scheme="red",
                on_click=CartState.remove(row["id"]),
                aria_label="Remove",
            ),
            width="100%",
            align="center",
            spacing="4",
            wrap="wrap",
        ),
        class_name="cart-line",
        width="100%",
    )


def _cart_skeleton() -> rx.Component:
    """One cart line beside the order summary, at their final size."""
    line = skeleton_card(
        rx.hstack(
            skeleton_block("64px", width="64px", radius="10px"),
            rx.vstack(
                rx.text(skeleton_text(width="10em"), weight="bold"),
                rx.text(skeleton_text(width="14em"), size="2"),
                rx.text(skeleton_text(width="8em"), size="1"),
                rx.text(skeleton_text(width="6em"), size="1"),
                spacing="1",
                align="start",
                flex="1",
            ),
            rx.text(skeleton_text(width="5em"), weight="bold", min_width="90px"),
            width="100%",
            align="center",
            spacing="4",
        ),
        width="100%",
    )
    summary = skeleton_card(
        rx.heading(skeleton_text(width="8em"), size="4"),
        rx.text(skeleton_text(), size="6", margin_y="0.75rem"),
        rx.vstack(
            rx.text(skeleton_text(width="10em"), size="2"),
            skeleton_block("40px", radius="8px"),
            skeleton_block("48px", radius="8px"),
            rx.text(skeleton_text(2), size="1"),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )
    return rx.grid(
        rx.vstack(line, spacing="3", width="100%"),
        summary,
        columns=rx.breakpoints(initial="1", md="2fr 1fr"),
        spacing="5",
        width="100%",
        aria_busy="true",
        id="cart-skeleton",
    )


@page(route=routes.CART, title="Cart", on_load=CartState.load_cart)
def cart_page() -> rx.Component:
    summary = card(
        rx.heading("Order summary", size="4"),
        rx.foreach(
            CartState.savings,
            lambda s: rx.hstack(
                rx.icon("tag", size=14, color="var(--green-11)"),
                rx.text(s["label"], size="2", color="var(--green-11)"),
                rx.spacer(),
                rx.text(s["amount"], size="2", weight="medium", color="var(--green-11)", white_space="nowrap"),
                width="100%",
                align="center",
                margin_top="0.5rem",
                class_name="cart-bundle-saving",
            ),
        ),
        rx.hstack(
            rx.text("Total"),
            rx.spacer(),
            rx.text(CartState.total, size="6", weight="bold", id="cart-total"),
            width="100%",
            align="center",
            margin_y="0.75rem",
        ),
        rx.form(
            rx.vstack(
                rx.cond(
                    CartState.signed_in & CartState.needs_billing,
                    rx.vstack(
                        rx.text("Billing details for your invoice", size="2", weight="medium"),
                        rx.text(
                            "Asked once; change them any time under My account → Billing.",
                            size="1",
                            color_scheme="gray",
                        ),
                        billing_fields({}, CartState.billing_errors),
                        spacing="2",
                        width="100%",
                        id="checkout-billing",
                    ),
                ),
                rx.cond(
                    CartState.signed_in,
                    rx.text("Receipt to " + CartState.user_email, size="2", color_scheme="gray"),
                    rx.vstack(
                        rx.text("Email for your receipt", size="2", weight="medium"),
                        rx.input(
                            name="email",
                            type="email",
                            placeholder="you@example.com",
                            id="checkout-email",
                            width="100%",
                            size="3",
                        ),
                        rx.cond(
                            CartState.email_error != "",
                            rx.text(CartState.email_error, size="1", color="var(--red-11)", id="email-error"),
                        ),
                        spacing="1",
                        width="100%",
                    ),
                ),
                rx.button(
                    rx.icon("lock", size=16),
                    "Checkout securely",
                    size="4",
                    width="100%",
                    type="submit",
                    id="checkout-button",
                    disabled=~CartState.can_checkout,
                ),
                rx.cond(
                    CartState.checkout_error != "",
                    rx.callout(
                        CartState.checkout_error, icon="triangle-alert", color_scheme="red", id="checkout-error"
                    ),
                ),
                rx.text(
                    "Payment runs on Stripe. Prices are checked again before you pay.", size="1", color_scheme="gray"
                ),
                spacing="3",
                width="100%",
            ),
            on_submit=CartState.start_checkout,
            reset_on_submit=False,
        ),
        width="100%",
    )
    return storefront_page(
        page_title("Your cart"),
        rx.cond(
            CartState.loaded,
            rx.cond(
                CartState.rows.length() > 0,
                rx.grid(
                    rx.vstack(rx.foreach(CartState.rows, _cart_row), spacing="3", width="100%"),
                    summary,
                    columns=rx.breakpoints(initial="1", md="2fr 1fr"),
                    spacing="5",
                    width="100%",
                ),
                empty_state(
                    "shopping-cart",
                    "Your cart is empty",
                    "Pick a service, choose a package and it will wait for you here.",
                    rx.link(rx.button("Browse services"), href=routes.SERVICES),
                    id="cart-empty",
                ),
            ),
            _cart_skeleton(),
        ),
    )
