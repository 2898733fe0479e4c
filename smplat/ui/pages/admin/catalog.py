"""Admin → Catalog: every product with its state (draft / published / archived, "has
unpublished changes"), an Edit link into the product editor and Create product."""

from __future__ import annotations

import reflex as rx

from smplat.services.permissions import Permission
from smplat.ui import routes
from smplat.ui.components.common import data_table, empty_state, loading_block, page_title
from smplat.ui.components.layout import admin_page
from smplat.ui.pages.admin._state import AdminState
from smplat.ui.registry import NavEntry, page


def _state_badge(state: rx.Var) -> rx.Component:
    return rx.badge(
        state,
        variant="soft",
        radius="full",
        color_scheme=rx.match(state, ("published", "green"), ("draft", "amber"), "gray"),
    )


@page(
    route=routes.ADMIN_CATALOG,
    title="Catalog",
    guard=Permission.EDIT_CATALOG,
    on_load=AdminState.load_catalog,
    nav=NavEntry(group="Catalog", label="Catalog", icon="store", order=0),
)
def admin_catalog_page() -> rx.Component:
    table = data_table(
        ["Product", "Category", "State", "Base price", "Options", "Add-ons", "Published", "Routing", ""],
        AdminState.products,
        lambda p: [
            rx.table.row_header_cell(
                rx.vstack(
                    rx.cond(
                        p["is_live"],
                        rx.link(p["title"], href=f"{routes.SERVICES}/" + p["slug"].to(str), weight="medium"),
                        rx.text(p["title"], weight="medium"),
                    ),
                    rx.text(p["slug"], size="1", color_scheme="gray"),
                    spacing="0",
                )
            ),
            rx.table.cell(p["category"]),
            rx.table.cell(
                rx.hstack(
                    _state_badge(p["state"]),
                    rx.cond(
                        p["changes"] != "",
                        rx.badge(p["changes"], color_scheme="blue", variant="outline", radius="full"),
                    ),
                    spacing="1",
                    wrap="wrap",
                )
            ),
            rx.table.cell(p["base_price"]),
            rx.table.cell(p["options"]),
            rx.table.cell(p["add_ons"]),
            rx.table.cell(p["published"]),
            rx.table.cell(
                rx.link(
                    "Preview", href=f"{routes.ADMIN_CATALOG}/" + p["slug"].to(str), id="routing-" + p["slug"].to(str)
                )
            ),
            rx.table.cell(
                rx.link(
                    rx.button("Edit", size="1", variant="soft"),
                    href=p["edit_href"].to(str),
                    id="edit-" + p["slug"].to(str),
                )
            ),
        ],
        "admin-catalog-table",
    )
    create = rx.link(
        rx.button(rx.icon("plus", size=16), "Create product"),
        href=routes.admin_product_editor_new(),
        id="create-product",
    )
    return admin_page(
        page_title("Catalog", "What the shop sells: edit a product, preview it and publish it.", create),
        rx.cond(
            AdminState.loaded,
            rx.cond(
                AdminState.products.length() > 0,
                table,
                empty_state("store", "No products yet", "Create the first product, or run the demo seed.", create),
            ),
            loading_block(),
        ),
    )
