"""Cross-sell bundles: a section the catalog and the product page both show.

`bundles_section()` loads itself when it mounts (keyed on the URL, so moving from one
product to another reloads it): on a product page it shows the bundles that product
belongs to, elsewhere every live bundle.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from smplat.db import session_scope
from smplat.services import bundles, carts, pricing
from smplat.services.rate_limits import RateLimited
from smplat.ui import routes
from smplat.ui.state.cart import ShopperState
from smplat.ui.theme import CARD


class BundlesState(ShopperState):
    bundles: list[dict[str, Any]] = []

    @rx.event
    def load_bundles(self) -> None:
        slug = self.router.page.params.get("slug") or None
        with session_scope() as db:
            self.bundles = [b.as_row() for b in bundles.list_bundles(db, product_slug=slug, limit=3)]

    @rx.event
    def add_bundle(self, bundle_slug: str):
        """Every item of the bundle into the visitor's cart in one click (all or none), then the
        cart, where the discount shows and each line asks for its link."""
        if not isinstance(bundle_slug, str) or not any(b["slug"] == bundle_slug for b in self.bundles):
            return rx.toast.error("This bundle is not available any more.")
        with session_scope() as db:
            try:
                cart = carts.get_or_create_cart(db, **self._owner(), client_ip=self._client_ip())
                carts.add_bundle(db, cart, bundle_slug, visitor=self._visitor(), client_ip=self._client_ip())
            except (carts.CartError, RateLimited, pricing.ConfigurationInvalid) as exc:
                db.rollback()
                return rx.toast.error(
                    str(exc)
                    if not isinstance(exc, pricing.ConfigurationInvalid)
                    else "This bundle cannot be added right now; add its items one by one."
                )
        return [rx.toast.success("Bundle added: add your links in the cart"), rx.redirect(routes.CART)]


def _bundle_item(item: rx.Var) -> rx.Component:
    return rx.link(
        rx.hstack(
            rx.icon("plus", size=14, color="var(--violet-11)"),
            rx.vstack(
                rx.text(item["title"], size="2", weight="medium"),
                rx.text(item["offer"], size="1", color_scheme="gray"),
                spacing="0",
                align="start",
            ),
            spacing="2",
            align="center",
        ),
        href=f"{routes.SERVICES}/" + item["slug"].to(str),
        underline="none",
        color="inherit",
    )


def _bundle_card(bundle: rx.Var) -> rx.Component:
    return rx.box(
        rx.vstack(
            rx.hstack(
                rx.center(
                    rx.icon("package-plus", size=18, color="white"),
                    width="36px",
                    height="36px",
                    border_radius="10px",
                    background="var(--violet-9)",
                    flex_shrink="0",
                ),
                rx.heading(bundle["title"], size="4"),
                rx.spacer(),
                rx.cond(
                    bundle["discount"] != "",
                    rx.badge(bundle["discount"], color_scheme="green", variant="soft", radius="full"),
                ),
                width="100%",
                align="center",
                wrap="wrap",
            ),
            rx.text(bundle["description"], size="2", color_scheme="gray"),
            rx.vstack(
                rx.hstack(
                    rx.icon("star", size=14, color="var(--amber-10)"),
                    rx.text(bundle["primary_title"], size="2", weight="medium"),
                    spacing="2",
                    align="center",
                ),
                rx.foreach(bundle["items"].to(list[dict[str, str]]), _bundle_item),
                spacing="2",
                padding="0.75rem",
                border_radius="12px",
                background="var(--gray-a2)",
                width="100%",
            ),
            rx.hstack(
                rx.button(
                    rx.icon("shopping-cart", size=16),
                    "Add bundle",
                    on_click=BundlesState.add_bundle(bundle["slug"].to(str)),
                    class_name="add-bundle",
                    id="add-bundle-" + bundle["slug"].to(str),
                ),
                rx.link(
                    rx.hstack(
                        rx.text("Start with " + bundle["primary_title"].to(str), size="2", weight="medium"),
                        rx.icon("arrow-right", size=14),
                        spacing="2",
                        align="center",
                    ),
                    href=f"{routes.SERVICES}/" + bundle["primary_slug"].to(str),
                    underline="none",
                ),
                spacing="4",
                align="center",
                wrap="wrap",
                margin_top="auto",
            ),
            spacing="3",
            align="start",
            height="100%",
        ),
        style={**CARD, "padding": "1.25rem"},
        data_testid="bundle-card",
    )


def bundles_section() -> rx.Component:
    return rx.box(
        rx.cond(
            BundlesState.bundles.length() > 0,
            rx.vstack(
                rx.heading("Bundle and save", size="6", weight="bold"),
                rx.text(
                    "Services that work well together, with a discount on the extras.", color_scheme="gray", size="3"
                ),
                rx.grid(
                    rx.foreach(BundlesState.bundles, _bundle_card),
                    columns=rx.breakpoints(initial="1", md="2", lg="3"),
                    spacing="4",
                    width="100%",
                ),
                spacing="3",
                width="100%",
                align="start",
                margin_top="2.5rem",
            ),
        ),
        key=rx.State.router.page.raw_path,
        on_mount=BundlesState.load_bundles,
        width="100%",
        id="bundles-section",
    )
