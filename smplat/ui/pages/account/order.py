"""My account → one order: what was bought (in the customer's words), the price, the
timeline, per line the delivery progress and estimate, and the actions (refill where the
service and window allow it, order again). Live while open (see `_state.py`)."""

from __future__ import annotations

from typing import Any

import reflex as rx

from smplat.db import session_scope
from smplat.services import client_orders, rate_limits
from smplat.services.errors import ServiceError
from smplat.services.fulfillment.cancel import request_cancel
from smplat.services.fulfillment.operator_actions import request_refill
from smplat.services.order_status import Actor
from smplat.ui import routes
from smplat.ui.components.client_orders import line_card, price_breakdown, timeline
from smplat.ui.components.common import empty_state, form_alert, page_title, status_badge
from smplat.ui.components.layout import account_page
from smplat.ui.components.skeletons import table_skeleton
from smplat.ui.registry import page
from smplat.ui.state.auth import AuthState, signed_in_only
from smplat.ui.state.live import live_ticker

DEFAULT_REFILL_REASON = "The count dropped after delivery."


class ClientOrderState(AuthState):
    order: dict[str, Any] = {}
    loaded: bool = False
    error: str = ""
    confirm_cancel: int = 0  # the line whose "Cancel" asks for confirmation (0: none)
    _order_id: int = 0
    _owner_id: int = 0
    _live_version: str = ""

    def _number(self) -> str:
        return str(self.router.page.params.get("number", ""))[:20]

    def _reload(self, user_id: int) -> None:
        with session_scope() as db:
            found = client_orders.find_order(db, self._number(), user_id)
            if found is None:
                self.order, self._order_id, self._owner_id = {}, 0, 0
            else:
                self.order = client_orders.order_detail(db, found)
                self._order_id, self._owner_id = found.id, user_id
                self._live_version = client_orders.live_version(db, [found.id])
        self.loaded = True

    @rx.event
    @signed_in_only
    def load(self) -> None:
        self.error, self.loaded = "", False
        self._reload(self._current_user().id)

    @rx.event
    def live_tick(self, _moment: Any = None):
        """One statement; the guarded reload only when the order changed."""
        if not self._order_id:
            return None
        with session_scope() as db:
            version = client_orders.live_version(db, [self._order_id])
        if version == self._live_version:
            return None
        return ClientOrderState.live_reload

    @rx.event
    @signed_in_only
    def live_reload(self) -> None:
        self._reload(self._current_user().id)

    @rx.event
    @signed_in_only
    def ask_refill(self, form: dict[str, Any]):
        user = self._current_user()
        raw = str(form.get("item_id", ""))
        lines = {str(line["id"]) for line in self.order.get("lines", [])}
        reason = str(form.get("reason", "")).strip() or DEFAULT_REFILL_REASON
        if raw not in lines or not raw.isdigit():
            self.error = "That line is not part of this order."
            return None
        try:
            with session_scope() as db:
                rate_limits.hit("refill_user", str(user.id))  # the same budget as the API route
                request_refill(db, int(raw), Actor.customer(user.id, user.email), reason, customer_user_id=user.id)
        except ServiceError as exc:
            self.error = exc.message[:1].upper() + exc.message[1:] + "."
            return None
        self.error = ""
        self._reload(user.id)
        return rx.toast.success("Refill requested. We will let the supplier know right away.")

    def _own_line(self, raw: Any) -> int | None:
        raw = str(raw)
        lines = {str(line["id"]) for line in self.order.get("lines", [])}
        return int(raw) if raw in lines and raw.isdigit() else None

    @rx.event
    @signed_in_only
    def start_cancel(self, item_id: Any):
        """The first click: show the confirmation beside the line (nothing is sent yet)."""
        line = self._own_line(item_id)
        self.confirm_cancel = line or 0
        self.error = "" if line else "That line is not part of this order."

    @rx.event
    @signed_in_only
    def keep_line(self):
        self.confirm_cancel = 0

    @rx.event
    @signed_in_only
    def confirm_cancel_line(self, form: dict[str, Any]):
        """The confirmation: ask the supplier to cancel the rest of the line (the service
        checks it is theirs, still running and cancelable)."""
        user = self._current_user()
        item_id = self._own_line(form.get("item_id", ""))
        self.confirm_cancel = 0
        if item_id is None:
            self.error = "That line is not part of this order."
            return None
        reason = str(form.get("reason", "")).strip()[:1000]
        try:
            with session_scope() as db:
                rate_limits.hit("refill_user", str(user.id))  # the same budget as refills and the API
                request_cancel(db, item_id, Actor.customer(user.id, user.email), reason, customer_user_id=user.id)
        except ServiceError as exc:
            self.error = exc.message[:1].upper() + exc.message[1:] + ("" if exc.message.endswith(".") else ".")
            return None
        self.error = ""
        self._reload(user.id)
        return rx.toast.success("Cancel requested. What was not delivered will be refunded.")


def _cancel(line: rx.Var) -> rx.Component:
    lid = line["id"].to(str)
    return rx.cond(
        line["can_cancel"].to(bool),
        rx.cond(
            ClientOrderState.confirm_cancel == line["id"].to(int),
            rx.form(
                rx.flex(
                    rx.el.input(type="hidden", name="item_id", value=lid),
                    rx.text("Cancel the rest of this delivery? What was not delivered is refunded.", size="2"),
                    rx.input(name="reason", placeholder="Why? (optional)", size="2", id="cancel-reason-" + lid),
                    rx.button("Yes, cancel it", type="submit", size="2", color_scheme="red", id="cancel-yes-" + lid),
                    rx.button(
                        "Keep it",
                        type="button",
                        size="2",
                        variant="soft",
                        on_click=ClientOrderState.keep_line,
                        id="cancel-keep-" + lid,
                    ),
                    spacing="2",
                    wrap="wrap",
                    align="center",
                ),
                on_submit=ClientOrderState.confirm_cancel_line,
                reset_on_submit=True,
                id="cancel-confirm-" + lid,
            ),
            rx.button(
                "Cancel",
                type="button",
                size="2",
                variant="soft",
                color_scheme="red",
                on_click=ClientOrderState.start_cancel(lid),
                id="cancel-" + lid,
            ),
        ),
        rx.cond(
            line["cancel_note"].to(str) != "",
            rx.text(line["cancel_note"], size="1", color_scheme="gray", id="cancel-note-" + lid),
        ),
    )


def _actions(line: rx.Var) -> rx.Component:
    lid = line["id"].to(str)
    return rx.flex(
        rx.cond(
            line["can_refill"].to(bool),
            rx.form(
                rx.flex(
                    rx.el.input(type="hidden", name="item_id", value=lid),
                    rx.input(
                        name="reason", placeholder="What dropped? (optional)", size="2", id="refill-reason-" + lid
                    ),
                    rx.button("Request refill", type="submit", size="2", id="refill-" + lid),
                    spacing="2",
                    wrap="wrap",
                ),
                on_submit=ClientOrderState.ask_refill,
                reset_on_submit=True,
            ),
            rx.text(line["refill_note"], size="1", color_scheme="gray", id="refill-note-" + lid),
        ),
        _cancel(line),
        rx.cond(
            line["can_reorder"].to(bool),
            rx.link(
                rx.button("Order again", variant="soft", size="2"),
                href=routes.SERVICES + "/" + line["product_slug"].to(str) + "?reorder=" + lid,
                id="reorder-" + lid,
            ),
        ),
        spacing="3",
        wrap="wrap",
        align="center",
        width="100%",
    )


def order_body(state: type[ClientOrderState] | Any, *, actions: bool) -> rx.Component:
    o = state.order
    return rx.vstack(
        page_title(
            "Order " + o["number"].to(str),
            "Placed " + o["placed_at"].to(str),
        ),
        rx.box(status_badge(o["status"].to(str), o["status_label"].to(str)), id="order-status"),
        form_alert(state.error, alert_id="order-action-error"),
        rx.foreach(
            o["lines"].to(list[dict[str, Any]]),
            lambda line: line_card(line, _actions(line) if actions else None),
        ),
        rx.cond(
            o["messages"].to(list[dict[str, str]]).length() > 0,
            rx.vstack(
                rx.heading("Messages from us", size="5", margin_top="0.5rem"),
                rx.foreach(
                    o["messages"].to(list[dict[str, str]]),
                    lambda m: rx.callout.root(
                        rx.callout.icon(rx.icon("mail")),
                        rx.callout.text(m["text"], " · ", rx.text.span(m["at"], size="1")),
                        width="100%",
                    ),
                ),
                spacing="2",
                width="100%",
                id="order-messages",
            ),
        ),
        rx.heading("Price", size="5", margin_top="0.5rem"),
        price_breakdown(o),
        rx.heading("Timeline", size="5", margin_top="0.5rem"),
        timeline(o["timeline"].to(list[dict[str, str]])),
        spacing="3",
        width="100%",
        align="start",
    )


@page(route=routes.ACCOUNT_ORDER, title="Order", guard="signed_in", on_load=ClientOrderState.load)
def account_order_page() -> rx.Component:
    return account_page(
        rx.link("← Orders", href=routes.ACCOUNT_ORDERS, size="2", color_scheme="gray"),
        rx.cond(
            ClientOrderState.order.contains("number"),
            order_body(ClientOrderState, actions=True),
            rx.cond(
                ClientOrderState.loaded,
                empty_state("package-x", "No such order", "Check the order number.", id="order-not-found"),
                table_skeleton(3, 3),
            ),
        ),
        live_ticker(ClientOrderState.live_tick),
    )
