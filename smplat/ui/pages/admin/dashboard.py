"""Admin area: dashboard, orders, catalog and customers. Every loader is staff-only on the server."""

from __future__ import annotations

from typing import Any

import reflex as rx

from smplat.db import session_scope
from smplat.services import accounts, catalog, dashboard
from smplat.services import orders as order_service
from smplat.ui import routes
from smplat.ui.components.common import data_table, empty_state, loading_block, page_title, stat_card, status_badge
from smplat.ui.components.layout import admin_page
from smplat.ui.components.skeletons import skeleton_text, stat_card_skeleton, table_skeleton
from smplat.ui.pages.account.overview import ORDER_COLUMNS, orders_table
from smplat.ui.state.auth import AuthState, staff_only


class AdminState(AuthState):
    """Display rows of the admin pages; each loader checks the role before reading."""

    kpis: dict[str, str] = {}
    orders: list[dict[str, Any]] = []
    products: list[dict[str, Any]] = []
    users: list[dict[str, Any]] = []
    loaded: bool = False

    @rx.event
    @staff_only
    def load_dashboard(self) -> None:
        with session_scope() as db:
            o = dashboard.overview(db)
            self.orders = order_service.list_recent_orders(db, limit=8)
        self.kpis = {
            "products": str(o.active_products), "customers": str(o.customers), "orders": str(o.orders_total),
            "open": str(o.orders_open), "revenue": o.revenue, "runs": str(o.job_runs_24h),
            "failures": str(o.job_failures_24h),
        }
        self.loaded = True

    @rx.event
    @staff_only
    def load_orders(self) -> None:
        with session_scope() as db:
            self.orders = order_service.list_recent_orders(db, limit=100)
        self.loaded = True

    @rx.event
    @staff_only
    def load_catalog(self) -> None:
        with session_scope() as db:
            self.products = catalog.admin_product_rows(db)
        self.loaded = True

    @rx.event
    @staff_only
    def load_customers(self) -> None:
        with session_scope() as db:
            self.users = accounts.list_users(db, limit=200)
        self.loaded = True


def _no_orders() -> rx.Component:
    return empty_state("package", "No orders yet", "Paid orders appear here the moment checkout completes.",
                       id="admin-orders-empty")


def _dashboard_skeleton() -> rx.Component:
    """The four tiles, the jobs line and the latest-orders table at their final size."""
    return rx.vstack(
        rx.grid(*[stat_card_skeleton() for _ in range(4)], columns=rx.breakpoints(initial="1", sm="2", lg="4"),
                spacing="4", width="100%"),
        rx.text(skeleton_text(width="24em"), size="2"),
        rx.heading(skeleton_text(width="8em"), size="5", margin_top="1rem"),
        table_skeleton(8, len(ORDER_COLUMNS) + 1),
        spacing="4",
        width="100%",
        align="start",
        aria_busy="true",
        id="dashboard-skeleton",
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
                    rx.text(AdminState.kpis["runs"] + " job runs in the last 24 h, "
                            + AdminState.kpis["failures"] + " failed.", size="2"),
                    rx.link("See jobs", href=routes.ADMIN_JOBS, size="2"),
                    color="var(--gray-11)",
                ),
                rx.heading("Latest orders", size="5", margin_top="1rem"),
                rx.cond(AdminState.orders.length() > 0, orders_table(AdminState.orders, show_customer=True),
                        _no_orders()),
                spacing="4",
                width="100%",
                align="start",
            ),
            _dashboard_skeleton(),
        ),
    )


def admin_orders_page() -> rx.Component:
    return admin_page(
        page_title("Orders", "Every order, newest first."),
        rx.cond(AdminState.loaded,
                rx.cond(AdminState.orders.length() > 0, orders_table(AdminState.orders, show_customer=True),
                        _no_orders()),
                loading_block()),
    )


def admin_catalog_page() -> rx.Component:
    table = data_table(
        ["Product", "Category", "Status", "Base price", "Options", "Add-ons", "Presets", "Popularity", "Routing"],
        AdminState.products,
        lambda p: [
            rx.table.row_header_cell(rx.link(p["title"], href=f"{routes.SERVICES}/" + p["slug"].to(str),
                                             weight="medium")),
            rx.table.cell(p["category"]),
            rx.table.cell(status_badge(p["status"])),
            rx.table.cell(p["base_price"]),
            rx.table.cell(p["options"]),
            rx.table.cell(p["add_ons"]),
            rx.table.cell(p["presets"]),
            rx.table.cell(p["popularity"]),
            rx.table.cell(rx.link("Preview", href=f"{routes.ADMIN_CATALOG}/" + p["slug"].to(str),
                                  id="routing-" + p["slug"].to(str))),
        ],
        "admin-catalog-table",
    )
    return admin_page(
        page_title("Catalog", "Products as customers see them."),
        rx.cond(AdminState.loaded,
                rx.cond(AdminState.products.length() > 0, table,
                        empty_state("store", "No products yet", "Run the demo seed or add a product.")),
                loading_block()),
    )


def admin_customers_page() -> rx.Component:
    table = data_table(
        ["Email", "Name", "Role", "Joined", "Last sign-in"],
        AdminState.users,
        lambda u: [
            rx.table.row_header_cell(u["email"]),
            rx.table.cell(u["full_name"]),
            rx.table.cell(status_badge(u["role"])),
            rx.table.cell(u["created_at"]),
            rx.table.cell(u["last_login"]),
        ],
        "admin-customers-table",
    )
    return admin_page(
        page_title("Customers", "Accounts, newest first."),
        rx.cond(AdminState.loaded, table, loading_block()),
    )
