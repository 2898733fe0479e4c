"""Admin → Customers: accounts, newest first."""

from __future__ import annotations

import reflex as rx

from smplat.services.permissions import Permission
from smplat.ui import routes
from smplat.ui.components.common import data_table, loading_block, page_title, status_badge
from smplat.ui.components.layout import admin_page
from smplat.ui.pages.admin._state import AdminState
from smplat.ui.registry import NavEntry, page


@page(
    route=routes.ADMIN_CUSTOMERS,
    title="Customers",
    guard=Permission.VIEW_CUSTOMERS,
    on_load=AdminState.load_customers,
    nav=NavEntry(group="Sales", label="Customers", icon="users", order=30),
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
