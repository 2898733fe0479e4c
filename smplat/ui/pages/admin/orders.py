"""Admin → Orders: every order, newest first."""

from __future__ import annotations

import reflex as rx

from smplat.services.permissions import Permission
from smplat.ui import routes
from smplat.ui.components.common import loading_block, page_title
from smplat.ui.components.layout import admin_page
from smplat.ui.components.orders import orders_table
from smplat.ui.pages.admin._state import AdminState, no_orders
from smplat.ui.registry import NavEntry, page


@page(
    route=routes.ADMIN_ORDERS,
    title="Orders",
    guard=Permission.VIEW_ORDERS,
    on_load=AdminState.load_orders,
    nav=NavEntry(group="Sales", label="Orders", icon="package", order=10),
)
def admin_orders_page() -> rx.Component:
    return admin_page(
        page_title("Orders", "Every order, newest first."),
        rx.cond(
            AdminState.loaded,
            rx.cond(AdminState.orders.length() > 0, orders_table(AdminState.orders, show_customer=True), no_orders()),
            loading_block(),
        ),
    )
