"""Cart, checkout hand-off to Stripe, and the success / cancel pages."""

from __future__ import annotations

from typing import Any

import reflex as rx

from smplat.db import session_scope
from smplat.services import carts, checkout
from smplat.services.money import format_money
from smplat.settings import get_settings
from smplat.ui import routes
from smplat.ui.components.common import card, empty_state, loading_block, page_title
from smplat.ui.components.layout import storefront_page
from smplat.ui.state.auth import navigate_hard
from smplat.ui.state.cart import ShopperState


class CartState(ShopperState):
    loaded: bool = False
    rows: list[dict[str, Any]] = []
    total: str = ""
    can_checkout: bool = False
    email_error: str = ""
    checkout_error: str = ""

    def _reload(self, db, known: dict | None = None) -> None:  # noqa: ANN001
        cart = carts.find_cart(db, **self._owner())
        priced = carts.price_cart(db, cart, visitor=self._visitor(), known=known)
        self.rows = [line.row() for line in priced.lines]
        self.total = format_money(priced.total_minor, priced.currency)
        self.can_checkout = priced.ok
        self.loaded = True

    @rx.event
    def load_cart(self) -> None:
        self.load_user()
        self.email_error = self.checkout_error = ""
        with session_scope() as db:
            self._reload(db)

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
                line = carts.update_line(db, cart, item_id, quantity=int(row["quantity"]) + delta,
                                         visitor=self._visitor())
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
        # the form sends only the receipt email (Reflex also submits it under its element id);
        # a price or total is never ours to accept
        if any(key not in ("email", "checkout_email") for key in form_data):
            self.checkout_error = "This form was changed outside the shop; reload the page and try again."
            return rx.toast.error(self.checkout_error)
        user = self._current_user()
        email = user.email if user else str(form_data.get("email", ""))
        self.email_error = self.checkout_error = ""
        try:
            with session_scope() as db:
                cart = carts.find_cart(db, **self._owner())
                created = checkout.start_checkout(db, cart, customer_email=email, user_id=user.id if user else None,
                                                  visitor=self._visitor(), base_url=get_settings().public_base_url)
                url = created.payment_url
        except checkout.CheckoutError as exc:
            self.email_error = exc.errors.get("email", "")
            self.checkout_error = "" if self.email_error else str(exc)
            with session_scope() as db:
                self._reload(db)
            return
        except checkout.PaymentProviderUnavailable as exc:
            self.checkout_error = str(exc)
            return
        return navigate_hard(url)


def _cart_row(row: rx.Var) -> rx.Component:
    return card(
        rx.hstack(
            rx.image(src=row["image"], width="64px", height="64px", border_radius="10px", object_fit="cover",
                     background="var(--gray-3)"),
            rx.vstack(
                rx.link(rx.text(row["title"], weight="bold"), href=routes.SERVICES + "/" + row["slug"].to(str)),
                rx.text(row["summary"], size="2", color_scheme="gray"),
                rx.text(row["fields"], size="1", color_scheme="gray"),
                rx.link(rx.hstack(rx.icon("pencil", size=12), rx.text("Edit options", size="1"), spacing="1",
                                  align="center"),
                        href=routes.SERVICES + "/" + row["slug"].to(str) + "?edit=" + row["id"].to(str),
                        class_name="cart-edit", id="edit-line-" + row["id"].to(str)),
                rx.cond(row["error"] != "", rx.text(row["error"], size="1", color="var(--red-11)")),
                spacing="1", align="start", flex="1",
            ),
            rx.hstack(
                rx.icon_button(rx.icon("minus", size=14), variant="soft", size="1",
                               on_click=CartState.change_quantity(row["id"], -1)),
                rx.text(row["quantity"], weight="medium", class_name="cart-qty"),
                rx.icon_button(rx.icon("plus", size=14), variant="soft", size="1",
                               on_click=CartState.change_quantity(row["id"], 1)),
                spacing="2", align="center",
            ),
            rx.vstack(rx.text(row["total"], weight="bold", class_name="cart-line-total"),
                      rx.text(row["billing"], size="1", color_scheme="gray"), spacing="0", align="end",
                      min_width="90px"),
            rx.icon_button(rx.icon("trash-2", size=14), variant="ghost", color_scheme="red",
                           on_click=CartState.remove(row["id"]), aria_label="Remove"),
            width="100%", align="center", spacing="4", wrap="wrap",
        ),
        class_name="cart-line",
        width="100%",
    )


def cart_page() -> rx.Component:
    summary = card(
        rx.heading("Order summary", size="4"),
        rx.hstack(rx.text("Total"), rx.spacer(), rx.text(CartState.total, size="6", weight="bold", id="cart-total"),
                  width="100%", align="center", margin_y="0.75rem"),
        rx.form(
            rx.vstack(
                rx.cond(CartState.signed_in,
                        rx.text("Receipt to " + CartState.user_email, size="2", color_scheme="gray"),
                        rx.vstack(rx.text("Email for your receipt", size="2", weight="medium"),
                                  rx.input(name="email", type="email", placeholder="you@example.com", id="checkout-email",
                                           width="100%", size="3"),
                                  rx.cond(CartState.email_error != "", rx.text(CartState.email_error, size="1",
                                                                               color="var(--red-11)", id="email-error")),
                                  spacing="1", width="100%")),
                rx.button(rx.icon("lock", size=16), "Checkout securely", size="4", width="100%", type="submit",
                          id="checkout-button", disabled=~CartState.can_checkout),
                rx.cond(CartState.checkout_error != "", rx.callout(CartState.checkout_error, icon="triangle-alert",
                                                                   color_scheme="red", id="checkout-error")),
                rx.text("Payment runs on Stripe. Prices are checked again before you pay.", size="1",
                        color_scheme="gray"),
                spacing="3", width="100%",
            ),
            on_submit=CartState.start_checkout, reset_on_submit=False,
        ),
        width="100%",
    )
    return storefront_page(
        page_title("Your cart"),
        rx.cond(
            CartState.loaded,
            rx.cond(
                CartState.rows.length() > 0,
                rx.grid(rx.vstack(rx.foreach(CartState.rows, _cart_row), spacing="3", width="100%"), summary,
                        columns=rx.breakpoints(initial="1", md="2fr 1fr"), spacing="5", width="100%"),
                empty_state("shopping-cart", "Your cart is empty",
                            "Pick a service, choose a package and it will wait for you here.",
                            rx.link(rx.button("Browse services"), href=routes.SERVICES), id="cart-empty"),
            ),
            loading_block(),
        ),
    )


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
                result = checkout.confirm_from_success_page(db, session_id)
        except checkout.PaymentProviderUnavailable:
            self.status = "unreachable"
        if result is not None and result.created:
            checkout.send_receipt_safely(result.order_id)
        if result is not None and result.order_id:
            with session_scope() as db:
                view = checkout.order_view(db, result.order_id)
            self.order = {"number": view["number"], "total": view["total"], "email": view["email"]}
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


def _order_item(item: rx.Var) -> rx.Component:
    return card(
        rx.hstack(rx.text(item["title"], weight="bold"), rx.text("× " + item["quantity"].to(str), color_scheme="gray"),
                  rx.spacer(), rx.text(item["total"], weight="bold"), rx.text(item["billing"], size="1"), width="100%"),
        rx.text(item["summary"], size="2", color_scheme="gray"),
        rx.foreach(item["blueprint"].to(list[dict[str, str]]), lambda b: rx.hstack(
            rx.icon("sparkles", size=14, color="var(--violet-11)"),
            rx.text(b["label"] + ": " + b["tagline"], size="2"), rx.text(b["sla"], size="1", color_scheme="gray"),
            spacing="2", align="center")),
        rx.text(item["fields"], size="1", color_scheme="gray"),
        width="100%",
    )


def success_page() -> rx.Component:
    return storefront_page(
        rx.cond(
            CheckoutResultState.loaded,
            rx.match(
                CheckoutResultState.status,
                ("paid", rx.vstack(
                    rx.center(rx.icon("circle-check", size=40, color="var(--green-10)"), width="100%"),
                    rx.heading("Thank you, your order is placed", size="7", text_align="center", width="100%",
                               id="success-title"),
                    rx.text("Order ", rx.text.strong(CheckoutResultState.order["number"], id="order-number"),
                            " · paid ", rx.text.strong(CheckoutResultState.order["total"], id="order-total"),
                            " · receipt sent to ", CheckoutResultState.order["email"], text_align="center", width="100%"),
                    rx.foreach(CheckoutResultState.items, _order_item),
                    rx.hstack(rx.link(rx.button("Track my orders"), href=routes.ACCOUNT_ORDERS),
                              rx.link(rx.button("Keep shopping", variant="soft"), href=routes.SERVICES), spacing="3"),
                    spacing="4", width="100%", max_width="640px", margin="0 auto", align="center",
                )),
                ("unpaid", empty_state("hourglass", "Payment not confirmed yet",
                                       "Stripe has not confirmed this payment. No order was placed and you were not "
                                       "charged. If you paid, refresh this page in a moment.", id="payment-pending")),
                ("unreachable", empty_state("wifi-off", "We could not reach the payment provider",
                                            "Refresh this page in a moment; your payment is safe either way.")),
                empty_state("search-x", "We could not find this checkout",
                            "The link may be incomplete. Your orders are listed in your account.",
                            rx.link(rx.button("My orders"), href=routes.ACCOUNT_ORDERS)),
            ),
            loading_block(),
        ),
    )


def cancel_page() -> rx.Component:
    return storefront_page(
        rx.cond(
            CheckoutResultState.declined,
            empty_state("circle-x", "Your payment was declined",
                        "Your card was declined, so no money was taken and no order was placed. Your cart is "
                        "still here: try another card or payment method.",
                        rx.link(rx.button("Back to my cart"), href=routes.CART), id="checkout-failed"),
            empty_state("undo-2", "Checkout cancelled",
                        "Nothing was charged and no order was placed. Your cart is still here when you are ready.",
                        rx.link(rx.button("Back to my cart"), href=routes.CART), id="checkout-cancelled"),
        ),
    )
