"""Admin → Dashboard: today's shop at a glance."""

from __future__ import annotations

import reflex as rx

from smplat.ui import routes
from smplat.ui.components.common import loading_block, page_title, stat_card
from smplat.ui.components.layout import admin_page
from smplat.ui.components.orders import orders_table
from smplat.ui.pages.admin._state import AdminState, no_orders
from smplat.ui.registry import NavEntry, page


@page(route=routes.ADMIN, title="Admin · {brand}", guard="staff", on_load=AdminState.load_dashboard,
      nav=NavEntry(group="Sales", label="Dashboard", icon="layout-dashboard", order=0))
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
                    rx.text(AdminState.kpis["runs"] + " job runs in the last 24 h, "
                            + AdminState.kpis["failures"] + " failed.", size="2"),
                    rx.link("See jobs", href=routes.ADMIN_JOBS, size="2"),
                    color="var(--gray-11)",
                ),
                rx.heading("Latest orders", size="5", margin_top="1rem"),
                rx.cond(AdminState.orders.length() > 0, orders_table(AdminState.orders, show_customer=True),
                        no_orders()),
                spacing="4",
                width="100%",
                align="start",
            ),
            loading_block(),
        ),
    )
