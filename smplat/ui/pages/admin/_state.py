"""The state shared by the dashboard, orders, catalog and customers pages; every loader is
staff-only on the server."""

from __future__ import annotations

from typing import Any

import reflex as rx

from smplat.db import session_scope
from smplat.services import accounts, catalog_editor, dashboard
from smplat.services import orders as order_service
from smplat.services.permissions import Permission
from smplat.ui.components.common import empty_state
from smplat.ui.state.auth import AuthState, requires


class AdminState(AuthState):
    """Display rows of the admin pages; each loader checks the role before reading."""

    kpis: dict[str, str] = {}
    orders: list[dict[str, Any]] = []
    products: list[dict[str, Any]] = []
    users: list[dict[str, Any]] = []
    loaded: bool = False

    @rx.event
    @requires(Permission.VIEW_ANALYTICS)
    def load_dashboard(self) -> None:
        with session_scope() as db:
            o = dashboard.overview(db)
            self.orders = order_service.list_recent_orders(db, limit=8)
        self.kpis = {
            "products": str(o.active_products),
            "customers": str(o.customers),
            "orders": str(o.orders_total),
            "open": str(o.orders_open),
            "revenue": o.revenue,
            "runs": str(o.job_runs_24h),
            "failures": str(o.job_failures_24h),
        }
        self.loaded = True

    @rx.event
    @requires(Permission.VIEW_ORDERS)
    def load_orders(self) -> None:
        with session_scope() as db:
            self.orders = order_service.list_recent_orders(db, limit=100)
        self.loaded = True

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def load_catalog(self) -> None:
        with session_scope() as db:
            self.products = catalog_editor.catalog_rows(db)
        self.loaded = True

    @rx.event
    @requires(Permission.VIEW_CUSTOMERS)
    def load_customers(self) -> None:
        with session_scope() as db:
            self.users = accounts.list_users(db, limit=200)
        self.loaded = True


def no_orders() -> rx.Component:
    return empty_state(
        "package", "No orders yet", "Paid orders appear here the moment checkout completes.", id="admin-orders-empty"
    )
