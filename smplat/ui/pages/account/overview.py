"""Client dashboard: overview and orders (live delivery views arrive with fulfilment)."""

from __future__ import annotations

from typing import Any

import reflex as rx

from smplat.db import session_scope
from smplat.services import orders as order_service
from smplat.ui import routes
from smplat.ui.components.common import card, data_table, empty_state, page_title, stat_card, status_badge
from smplat.ui.components.layout import account_page
from smplat.ui.components.skeletons import table_skeleton
from smplat.ui.state.auth import AuthState, signed_in_only


class AccountState(AuthState):
    orders: list[dict[str, Any]] = []
    order_count: int = 0
    loaded: bool = False

    @rx.event
    @signed_in_only
    def load_orders(self) -> None:
        user = self._current_user()
        with session_scope() as db:
            self.orders = order_service.list_orders_for_user(db, user.id)
            self.order_count = order_service.count_orders(db, user.id)
        self.loaded = True


ORDER_COLUMNS = ["Order", "Placed", "Items", "Total", "Status", "Payment"]


def orders_table(rows: rx.Var, *, show_customer: bool = False) -> rx.Component:
    headers = [ORDER_COLUMNS[0], *(["Customer"] if show_customer else []), *ORDER_COLUMNS[1:]]
    return data_table(headers, rows, lambda o: [
        rx.table.row_header_cell(
            rx.link(o["number"], href=routes.ADMIN_ORDERS + "/" + o["number"].to(str), weight="medium",
                    id="admin-order-" + o["number"].to(str)) if show_customer
            else rx.text(o["number"], weight="medium")),
        *([rx.table.cell(o["customer_email"])] if show_customer else []),
        rx.table.cell(o["placed_at"]),
        rx.table.cell(o["items"]),
        rx.table.cell(o["total"]),
        rx.table.cell(status_badge(o["status"])),
        rx.table.cell(status_badge(o["payment_status"])),
    ], "orders-table")


def _no_orders() -> rx.Component:
    return empty_state("package", "No orders yet", "When you buy a service, its delivery progress shows up here.",
                       rx.link(rx.button("Browse services"), href=routes.SERVICES), id="orders-empty")


def account_overview_page() -> rx.Component:
    return account_page(
        rx.heading(rx.text.span("Welcome back, "), AuthState.display_name, size="7", weight="bold",
                   margin_bottom="1.25rem", id="account-welcome"),
        rx.grid(
            stat_card("Orders", AccountState.order_count.to_string(), "all time", icon="package"),
            card(rx.vstack(rx.text("Signed in as", size="2", color_scheme="gray"),
                           rx.text(AuthState.user_email, weight="bold", id="account-email"),
                           rx.badge(AuthState.user_role, variant="soft"), spacing="1", align="start")),
            columns=rx.breakpoints(initial="1", sm="2"),
            spacing="4",
            width="100%",
            margin_bottom="1.5rem",
        ),
        rx.heading("Recent orders", size="5", margin_bottom="0.75rem"),
        rx.cond(AccountState.loaded,
                rx.cond(AccountState.orders.length() > 0, orders_table(AccountState.orders), _no_orders()),
                table_skeleton(3, len(ORDER_COLUMNS))),
    )


def account_orders_page() -> rx.Component:
    return account_page(
        page_title("Orders", "Everything you've bought and how its delivery is going."),
        rx.cond(AccountState.loaded,
                rx.cond(AccountState.orders.length() > 0, orders_table(AccountState.orders), _no_orders()),
                table_skeleton(5, len(ORDER_COLUMNS))),
    )
