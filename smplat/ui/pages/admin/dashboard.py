"""Admin → Dashboard: today's shop at a glance."""

from __future__ import annotations

import reflex as rx

from smplat.services.permissions import Permission
from smplat.ui import routes
from smplat.ui.components.common import page_title, stat_card
from smplat.ui.components.layout import admin_page
from smplat.ui.components.orders import ORDER_COLUMNS, orders_table
from smplat.ui.components.skeletons import skeleton_text, stat_card_skeleton, table_skeleton
from smplat.ui.pages.admin._state import AdminState, no_orders
from smplat.ui.registry import NavEntry, page


def _dashboard_skeleton() -> rx.Component:
    """The four tiles, the jobs line and the latest-orders table at their final size."""
    return rx.vstack(
        rx.grid(
            *[stat_card_skeleton() for _ in range(4)],
            columns=rx.breakpoints(initial="1", sm="2", lg="4"),
            spacing="4",
            width="100%",
        ),
        rx.text(skeleton_text(width="24em"), size="2"),
        rx.heading(skeleton_text(width="8em"), size="5", margin_top="1rem"),
        table_skeleton(8, len(ORDER_COLUMNS) + 1),
        spacing="4",
        width="100%",
        align="start",
        aria_busy="true",
        id="dashboard-skeleton",
    )


@page(
    route=routes.ADMIN,
    title="Admin · {brand}",
    guard=Permission.VIEW_ANALYTICS,
    on_load=AdminState.load_dashboard,
    nav=NavEntry(group="Sales", label="Dashboard", icon="layout-dashboard", order=0),
)
def admin_home_page() -> rx.Component:
    return admin_page(
        page_title("Dashboard", "Today's shop at a glance."),
        rx.cond(
            AdminState.loaded,
            rx.vstack(
                rx.grid(
                    stat_card("Revenue (net)", AdminState.kpis["revenue"], "charged minus refunded", icon="euro"),
                    stat_card("Orders", AdminState.kpis["orders"], AdminState.kpis["open"] + " open", icon="package"),
                    stat_card("Customers", AdminState.kpis["customers"], "accounts", icon="users"),
                    stat_card("Live products", AdminState.kpis["products"], "in the storefront", icon="store"),
                    columns=rx.breakpoints(initial="1", sm="2", lg="4"),
                    spacing="4",
                    width="100%",
                    id="admin-kpis",
                ),
                rx.hstack(
                    rx.icon("timer", size=16),
                    rx.text(
                        AdminState.kpis["runs"]
                        + " job runs in the last 24 h, "
                        + AdminState.kpis["failures"]
                        + " failed.",
                        size="2",
                    ),
                    rx.link("See jobs", href=routes.ADMIN_JOBS, size="2"),
                    color="var(--gray-11)",
                ),
                rx.heading("Latest orders", size="5", margin_top="1rem"),
                rx.cond(
                    AdminState.orders.length() > 0, orders_table(AdminState.orders, show_customer=True), no_orders()
                ),
                spacing="4",
                width="100%",
                align="start",
            ),
            _dashboard_skeleton(),
        ),
    )
