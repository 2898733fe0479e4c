"""Product cards and grid shared by the storefront pages, and the product page with its state."""

from __future__ import annotations

from typing import Any

import reflex as rx

from smplat.db import session_scope
from smplat.services import catalog
from smplat.services.money import format_money
from smplat.ui import routes
from smplat.ui.components.common import card, empty_state, loading_block
from smplat.ui.components.layout import storefront_page
from smplat.ui.pages.storefront.bundles import bundles_section
from smplat.ui.state.auth import AuthState


def platform_icon(platform: rx.Var) -> rx.Component:
    return rx.match(
        platform,
        ("instagram", rx.icon("camera", size=16)),
        ("tiktok", rx.icon("music-2", size=16)),
        ("youtube", rx.icon("circle-play", size=16)),
        rx.icon("sparkles", size=16),
    )


def product_card(row: rx.Var) -> rx.Component:
    return rx.link(
        rx.box(
            rx.image(src=row["image_url"], alt=row["title"], width="100%", height="150px", object_fit="cover",
                     border_radius="12px", background="var(--gray-3)"),
            rx.vstack(
                rx.hstack(
                    rx.badge(platform_icon(row["platform"]), row["category_name"], variant="soft", radius="full"),
                    rx.spacer(),
                    rx.cond(row["is_featured"], rx.badge("Popular", color_scheme="amber", variant="soft",
                                                         radius="full")),
                    width="100%",
                ),
                rx.heading(row["title"], size="4", weight="bold"),
                rx.text(row["tagline"], size="2", color_scheme="gray", line_clamp=2, min_height="2.6em"),
                rx.hstack(
                    rx.vstack(
                        rx.text("from", size="1", color_scheme="gray"),
                        rx.text(row["from_price"], size="5", weight="bold"),
                        spacing="0",
                        align="start",
                    ),
                    rx.spacer(),
                    rx.text(row["delivery"], size="1", color_scheme="gray"),
                    width="100%",
                    align="end",
                ),
                spacing="2",
                padding_top="0.75rem",
                align="start",
            ),
            class_name="product-card",
            padding="0.75rem",
            border="1px solid var(--gray-a5)",
            border_radius="16px",
            background="var(--color-panel-solid)",
            height="100%",
        ),
        href=f"{routes.SERVICES}/" + row["slug"].to(str),
        underline="none",
        color="inherit",
        class_name="product-card-link",
        data_testid="product-card",
    )


def product_grid(rows: rx.Var) -> rx.Component:
    return rx.grid(
        rx.foreach(rows, product_card),
        columns=rx.breakpoints(initial="1", sm="2", lg="3"),
        spacing="4",
        width="100%",
        id="product-grid",
    )


# --- product page -----------------------------------------------------------------------


class ProductState(AuthState):
    """The product page's display rows (plain dicts, small)."""

    found: bool = True
    loaded: bool = False
    product: dict[str, Any] = {}
    groups: list[dict[str, Any]] = []
    add_ons: list[dict[str, str]] = []
    plans: list[dict[str, str]] = []
    fields: list[dict[str, str]] = []
    presets: list[dict[str, str]] = []
    images: list[dict[str, str]] = []

    @rx.event
    def load_product(self) -> None:
        self.load_user()
        slug = self.router.page.params.get("slug", "")
        with session_scope() as db:
            detail = catalog.get_product_detail(db, slug)
            self.loaded = True
            self.found = detail is not None
            if detail is None:
                return
            p = detail.product
            self.product = {
                "title": p.title, "tagline": p.tagline, "description": p.description, "platform": p.platform,
                "category": detail.category.name, "unit": p.unit_label,
                "delivery": catalog.delivery_label(p.delivery_estimate_hours),
                "base_price": format_money(p.base_price_minor, p.currency),
            }
            self.groups = [
                {
                    "name": g.name, "description": g.description,
                    "selection": "Choose one" if g.selection == "single" else "Choose any",
                    "options": [
                        {"label": o.label, "description": o.description or str(o.blueprint.get("tagline", "")),
                         "sla": str(o.blueprint.get("delivery_sla", "")),
                         "delta": ("+" + format_money(o.price_delta_minor, p.currency)) if o.price_delta_minor > 0
                         else ("included" if o.price_delta_minor == 0 else format_money(o.price_delta_minor, p.currency))}
                        for o in options
                    ],
                }
                for g, options in detail.groups
            ]
            self.add_ons = [{"label": a.label, "description": a.description, "price": _addon_price(a, p.currency)}
                            for a in detail.add_ons]
            self.plans = [{"name": pl.name, "price": format_money(pl.price_minor, pl.currency),
                           "billing": "one-time" if pl.billing == "one_time" else f"every {pl.interval}"}
                          for pl in detail.plans]
            self.fields = [{"label": f.label, "help": f.help_text or f.placeholder,
                            "required": "Required" if f.required else "Optional"} for f in detail.fields]
            self.presets = [{"label": pr.label, "description": pr.description} for pr in detail.presets]
            self.images = [{"url": m.url, "alt": m.alt_text or p.title} for m in detail.media]


def _addon_price(add_on, currency: str) -> str:  # noqa: ANN001
    if add_on.pricing_mode == "percentage":
        return f"+{add_on.percentage_bps / 100:g}%"
    if add_on.pricing_mode == "flat":
        return "+" + format_money(add_on.amount_minor, currency)
    return "priced by route"


def _section(title: str, *children: rx.Component) -> rx.Component:
    return card(rx.heading(title, size="4", margin_bottom="0.75rem"), *children, width="100%")


def product_page() -> rx.Component:
    detail = rx.grid(
        rx.vstack(
            rx.cond(ProductState.images.length() > 0,
                    rx.image(src=ProductState.images[0]["url"], alt=ProductState.images[0]["alt"], width="100%",
                             border_radius="16px", id="product-hero-image")),
            _section("About this service", rx.text(ProductState.product["description"], size="3",
                                                   white_space="pre-wrap")),
            rx.cond(ProductState.fields.length() > 0, _section(
                "What we'll ask you for",
                rx.vstack(rx.foreach(ProductState.fields, lambda f: rx.hstack(
                    rx.icon("text-cursor-input", size=16), rx.text(f["label"], weight="medium"),
                    rx.text(f["help"], size="2", color_scheme="gray"), rx.spacer(),
                    rx.badge(f["required"], variant="soft"), width="100%", align="center")), spacing="2"),
            )),
            spacing="4",
            width="100%",
        ),
        rx.vstack(
            rx.badge(platform_icon(ProductState.product["platform"]), ProductState.product["category"],
                     variant="soft", radius="full"),
            rx.heading(ProductState.product["title"], size="8", weight="bold", letter_spacing="-0.02em",
                       id="product-title"),
            rx.text(ProductState.product["tagline"], size="4", color_scheme="gray"),
            rx.hstack(rx.icon("clock", size=16), rx.text(ProductState.product["delivery"], size="2"),
                      color="var(--gray-11)"),
            rx.foreach(ProductState.groups, lambda g: _section(
                g["name"],
                rx.text(g["selection"], size="1", color_scheme="gray", margin_bottom="0.5rem"),
                rx.vstack(rx.foreach(g["options"].to(list[dict[str, str]]), lambda o: rx.hstack(
                    rx.vstack(rx.text(o["label"], weight="medium"),
                              rx.text(o["description"], size="1", color_scheme="gray"), spacing="0", align="start"),
                    rx.spacer(),
                    rx.vstack(rx.text(o["delta"], weight="bold", size="2"),
                              rx.text(o["sla"], size="1", color_scheme="gray"), spacing="0", align="end"),
                    width="100%", padding="0.5rem 0", border_bottom="1px solid var(--gray-a3)")),
                    spacing="0", width="100%"),
            )),
            rx.cond(ProductState.add_ons.length() > 0, _section(
                "Add-ons",
                rx.vstack(rx.foreach(ProductState.add_ons, lambda a: rx.hstack(
                    rx.vstack(rx.text(a["label"], weight="medium"),
                              rx.text(a["description"], size="1", color_scheme="gray"), spacing="0", align="start"),
                    rx.spacer(), rx.text(a["price"], weight="bold", size="2"), width="100%")), spacing="3",
                    width="100%"),
            )),
            rx.cond(ProductState.plans.length() > 0, _section(
                "Plans",
                rx.vstack(rx.foreach(ProductState.plans, lambda pl: rx.hstack(
                    rx.text(pl["name"], weight="medium"), rx.spacer(), rx.text(pl["price"], weight="bold"),
                    rx.text(pl["billing"], size="1", color_scheme="gray"), width="100%", align="center")),
                    spacing="2", width="100%"),
            )),
            spacing="4",
            width="100%",
            align="start",
        ),
        columns=rx.breakpoints(initial="1", md="2"),
        spacing="6",
        width="100%",
    )
    return storefront_page(
        rx.link(rx.hstack(rx.icon("arrow-left", size=14), rx.text("All services", size="2")), href=routes.SERVICES,
                margin_bottom="1rem", display="inline-block"),
        rx.cond(
            ProductState.loaded,
            rx.cond(ProductState.found, detail,
                    empty_state("search-x", "This service isn't available",
                                "It may have been renamed or retired. Browse the current catalog instead.",
                                rx.link(rx.button("Browse services"), href=routes.SERVICES))),
            loading_block(),
        ),
        bundles_section(),
    )
