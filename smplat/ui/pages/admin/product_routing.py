"""Admin routing preview for one product: price, provider routes, cost, margin, guardrail."""

from __future__ import annotations

from typing import Any

import reflex as rx

from smplat.db import session_scope
from smplat.services.permissions import Permission
from smplat.services.route_preview import product_route_preview
from smplat.ui import routes
from smplat.ui.components.common import data_table, empty_state, loading_block, page_title
from smplat.ui.components.layout import admin_page
from smplat.ui.registry import page
from smplat.ui.state.auth import AuthState, requires


class RoutingPreviewState(AuthState):
    preview: dict[str, Any] = {}
    loaded: bool = False

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def load(self) -> None:
        with session_scope() as db:
            self.preview = product_route_preview(db, str(self.router.page.params.get("slug", ""))) or {}
        self.loaded = True


def _verdict(verdict: rx.Var) -> rx.Component:
    return rx.badge(
        verdict,
        variant="soft",
        radius="full",
        color_scheme=rx.match(verdict, ("ok", "green"), ("warning", "amber"), "red"),
    )


@page(
    route=routes.ADMIN_PRODUCT_ROUTING,
    title="Routing preview",
    guard=Permission.EDIT_CATALOG,
    on_load=RoutingPreviewState.load,
)
def admin_routing_page() -> rx.Component:
    p = RoutingPreviewState.preview
    table = data_table(
        ["Package", "Customer pays", "Units", "Provider", "Service", "Cost", "Margin", "Guardrail", "Why"],
        p["rows"].to(list[dict[str, str]]),
        lambda r: [
            rx.table.row_header_cell(r["package"]),
            rx.table.cell(r["price"]),
            rx.table.cell(r["units"]),
            rx.table.cell(r["provider"]),
            rx.table.cell(r["service"]),
            rx.table.cell(r["cost"]),
            rx.table.cell(r["margin"]),
            rx.table.cell(_verdict(r["verdict"])),
            rx.table.cell(rx.text(r["note"], size="1", color_scheme="gray")),
        ],
        "routing-preview-table",
    )
    body = rx.vstack(
        page_title(p["title"].to(str), "How each package would be routed, and what it earns after provider cost."),
        rx.hstack(
            rx.badge(p["warnings"].to(str) + " below the warning margin", color_scheme="amber", variant="soft"),
            rx.badge(p["blocked"].to(str) + " blocked", color_scheme="red", variant="soft"),
            spacing="2",
        ),
        table,
        rx.text(
            "Routes below the hard margin floor are never used; the next eligible route takes the order. "
            "Thresholds: SMPLAT_ROUTING_MARGIN_WARN_BPS and SMPLAT_ROUTING_MARGIN_FLOOR_BPS (or a route's own floor).",
            size="1",
            color_scheme="gray",
        ),
        spacing="3",
        width="100%",
        align="start",
    )
    return admin_page(
        rx.link("← Catalog", href=routes.ADMIN_CATALOG, size="2", color_scheme="gray"),
        rx.cond(
            p.contains("slug"),
            body,
            rx.cond(
                RoutingPreviewState.loaded,
                empty_state("search-x", "No such product", "Check the link from the catalog."),
                loading_block(),
            ),
        ),
    )
