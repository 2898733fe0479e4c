"""My account → Orders: everything bought and how its delivery is going."""

from __future__ import annotations

import reflex as rx

from smplat.ui import routes
from smplat.ui.components.common import page_title
from smplat.ui.components.layout import account_page
from smplat.ui.components.orders import ORDER_COLUMNS, orders_table
from smplat.ui.components.skeletons import table_skeleton
from smplat.ui.pages.account._state import AccountState, no_orders
from smplat.ui.registry import NavEntry, page


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
        rx.cond(
            AccountState.loaded,
            rx.cond(AccountState.orders.length() > 0, orders_table(AccountState.orders), no_orders()),
            table_skeleton(5, len(ORDER_COLUMNS)),
        ),
    )
