"""Admin → Catalog: products as customers see them, with a routing preview per product."""

from __future__ import annotations

import reflex as rx

from smplat.services.permissions import Permission
from smplat.ui import routes
from smplat.ui.components.common import data_table, empty_state, loading_block, page_title, status_badge
from smplat.ui.components.layout import admin_page
from smplat.ui.pages.admin._state import AdminState
from smplat.ui.registry import NavEntry, page


@page(
    route=routes.ADMIN_CATALOG,
    title="Catalog",
    guard=Permission.EDIT_CATALOG,
    on_load=AdminState.load_catalog,
    nav=NavEntry(group="Catalog", label="Catalog", icon="store", order=0),
)
def admin_catalog_page() -> rx.Component:
    table = data_table(
        ["Product", "Category", "Status", "Base price", "Options", "Add-ons", "Presets", "Popularity", "Routing"],
        AdminState.products,
        lambda p: [
            rx.table.row_header_cell(
                rx.link(p["title"], href=f"{routes.SERVICES}/" + p["slug"].to(str), weight="medium")
            ),
            rx.table.cell(p["category"]),
            rx.table.cell(status_badge(p["status"])),
            rx.table.cell(p["base_price"]),
            rx.table.cell(p["options"]),
            rx.table.cell(p["add_ons"]),
            rx.table.cell(p["presets"]),
            rx.table.cell(p["popularity"]),
            rx.table.cell(
                rx.link(
                    "Preview", href=f"{routes.ADMIN_CATALOG}/" + p["slug"].to(str), id="routing-" + p["slug"].to(str)
                )
            ),
        ],
        "admin-catalog-table",
    )
    return admin_page(
        page_title("Catalog", "Products as customers see them."),
        rx.cond(
            AdminState.loaded,
            rx.cond(
                AdminState.products.length() > 0,
                table,
                empty_state("store", "No products yet", "Run the demo seed or add a product."),
            ),
            loading_block(),
        ),
    )
