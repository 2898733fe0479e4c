"""My account → Overview: who is signed in and the recent orders."""

from __future__ import annotations

import reflex as rx

from smplat.ui import routes
from smplat.ui.components.common import card, stat_card
from smplat.ui.components.layout import account_page
from smplat.ui.components.orders import ORDER_COLUMNS, orders_table
from smplat.ui.components.skeletons import table_skeleton
from smplat.ui.components.sparkline import profile_sparklines
from smplat.ui.pages.account._state import AccountState, no_orders
from smplat.ui.registry import NavEntry, page
from smplat.ui.state.auth import AuthState


@page(
    route=routes.ACCOUNT,
    title="My account",
    guard="signed_in",
    on_load=AccountState.load_orders,
    nav=NavEntry(label="Overview", icon="layout-dashboard", order=0),
)
def account_overview_page() -> rx.Component:
    return account_page(
        rx.heading(
            rx.text.span("Welcome back, "),
            AuthState.display_name,
            size="7",
            weight="bold",
            margin_bottom="1.25rem",
            id="account-welcome",
        ),
        rx.grid(
            stat_card("Orders", AccountState.order_count.to_string(), "all time", icon="package"),
            card(
                rx.vstack(
                    rx.text("Signed in as", size="2", color_scheme="gray"),
                    rx.text(AuthState.user_email, weight="bold", id="account-email"),
                    rx.badge(AuthState.user_role, variant="soft"),
                    spacing="1",
                    align="start",
                )
            ),
            columns=rx.breakpoints(initial="1", sm="2"),
            spacing="4",
            width="100%",
            margin_bottom="1.5rem",
        ),
        profile_sparklines(),
        rx.heading("Recent orders", size="5", margin_bottom="0.75rem"),
        rx.cond(
            AccountState.loaded,
            rx.cond(AccountState.orders.length() > 0, orders_table(AccountState.orders), no_orders()),
            table_skeleton(3, len(ORDER_COLUMNS)),
        ),
    )
