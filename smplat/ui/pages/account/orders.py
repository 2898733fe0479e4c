"""My account → Orders: every order with its progress; filters, search and pages; live."""

from __future__ import annotations

import reflex as rx

from smplat.ui import routes
from smplat.ui.components.client_orders import order_cards
from smplat.ui.components.common import page_title
from smplat.ui.components.layout import account_page
from smplat.ui.components.skeletons import table_skeleton
from smplat.ui.pages.account._state import AccountState, no_orders
from smplat.ui.registry import NavEntry, page
from smplat.ui.state.live import live_ticker

STATUS_CHOICES = [
    ("all", "All orders"),
    ("open", "In progress"),
    ("completed", "Delivered"),
    ("partial", "Partly delivered"),
    ("canceled", "Canceled"),
]


def _filters() -> rx.Component:
    return rx.form(
        rx.flex(
            rx.input(
                name="q",
                placeholder="Order number or link",
                default_value=AccountState.search,
                id="orders-search",
                width=rx.breakpoints(initial="100%", sm="14rem"),
            ),
            rx.el.select(
                *[rx.el.option(label, value=value) for value, label in STATUS_CHOICES],
                name="status",
                default_value=AccountState.status_filter,
                id="orders-status",
                style={"height": "2rem", "border_radius": "6px", "padding": "0 0.5rem", "max_width": "100%"},
            ),
            rx.input(type="date", name="from", default_value=AccountState.since, id="orders-from", title="Placed from"),
            rx.input(type="date", name="to", default_value=AccountState.until, id="orders-to", title="Placed until"),
            rx.button("Filter", type="submit", id="orders-filter"),
            spacing="2",
            wrap="wrap",
            align="center",
            width="100%",
        ),
        on_submit=AccountState.filter_orders,
        width="100%",
        margin_bottom="1rem",
    )


def _pager() -> rx.Component:
    return rx.cond(
        AccountState.pages > 1,
        rx.hstack(
            rx.button(
                "Newer",
                variant="soft",
                disabled=AccountState.page <= 1,
                on_click=AccountState.go_to_page(AccountState.page - 1),
                id="orders-newer",
            ),
            rx.text("Page ", AccountState.page.to_string(), " of ", AccountState.pages.to_string(), size="2"),
            rx.button(
                "Older",
                variant="soft",
                disabled=AccountState.page >= AccountState.pages,
                on_click=AccountState.go_to_page(AccountState.page + 1),
                id="orders-older",
            ),
            spacing="3",
            align="center",
            margin_top="1rem",
        ),
    )


@page(
    route=routes.ACCOUNT_ORDERS,
    title="My orders",
    guard="signed_in",
    on_load=AccountState.load_orders,
    nav=NavEntry(label="Orders", icon="package", order=10),
)
def account_orders_page() -> rx.Component:
    return account_page(
        page_title("Orders", "Everything you've bought and how its delivery is going."),
        _filters(),
        rx.cond(
            AccountState.loaded,
            rx.cond(
                AccountState.orders.length() > 0,
                rx.fragment(order_cards(AccountState.orders), _pager()),
                rx.cond(
                    (AccountState.search != "")
                    | (AccountState.status_filter != "")
                    | (AccountState.since != "")
                    | (AccountState.until != ""),
                    rx.text("No order matches these filters.", color_scheme="gray", id="orders-no-match"),
                    no_orders(),
                ),
            ),
            table_skeleton(5, 4),
        ),
        live_ticker(AccountState.live_tick),
    )
