"""The marketing home page. Every text block comes from Admin → Content (or its default);
services, categories and prices come from the catalog."""

from __future__ import annotations

from typing import Any

import reflex as rx

from smplat.db import session_scope
from smplat.services import catalog, content, search
from smplat.ui import routes
from smplat.ui.components.common import card, empty_state
from smplat.ui.components.layout import storefront_page
from smplat.ui.components.product_cards import platform_icon, product_grid
from smplat.ui.components.skeletons import product_grid_skeleton, skeleton_text
from smplat.ui.registry import page
from smplat.ui.state.auth import AuthState
from smplat.ui.theme import BRAND_GRADIENT, PAGE_MAX_WIDTH


def _block(view: content.BlockView) -> dict[str, str]:
    return {"title": view.title, "subtitle": view.subtitle, "body": view.body}


class HomeState(AuthState):
    """Display rows of the home page: small dicts of strings."""

    hero: dict[str, str] = {}
    services: dict[str, str] = {}
    metrics: dict[str, str] = {}
    metric_items: list[dict[str, str]] = []
    testimonials: dict[str, str] = {}
    testimonial_items: list[dict[str, str]] = []
    faq: dict[str, str] = {}
    faq_items: list[dict[str, str]] = []
    pricing: dict[str, str] = {}
    pricing_cards: list[dict[str, Any]] = []
    case_study: dict[str, str] = {}
    case_steps: list[dict[str, str]] = []
    products: list[dict[str, Any]] = []
    categories: list[dict[str, str]] = []
    loaded: bool = False

    @rx.event
    def load_home(self) -> None:
        self.load_user()
        with session_scope() as db:
            blocks = content.get_blocks(db, content.HOME_KEYS)
            # one row of three on wide screens: the featured services, else the most popular
            cards = catalog.list_product_cards(db, featured_only=True, limit=3) or catalog.list_product_cards(
                db, limit=3
            )
            pricing_cards = search.cards_for_slugs(db, [i["slug"] for i in blocks["home.pricing"].items])
            categories = catalog.list_categories(db)
            self._note_visit(db)
        self.hero = _block(blocks["home.hero"])
        self.services = _block(blocks["home.services"])
        self.metrics, self.metric_items = _block(blocks["home.metrics"]), blocks["home.metrics"].items
        self.testimonials = _block(blocks["home.testimonials"])
        self.testimonial_items = blocks["home.testimonials"].items
        self.faq, self.faq_items = _block(blocks["home.faq"]), blocks["home.faq"].items
        self.pricing = _block(blocks["home.pricing"])
        self.pricing_cards = [c.as_row() for c in pricing_cards]
        self.case_study, self.case_steps = _block(blocks["home.case_study"]), blocks["home.case_study"].items
        self.products = [c.as_row() for c in cards]
        self.categories = [
            {"slug": c.slug, "name": c.name, "platform": c.platform, "description": c.description} for c in categories
        ]
        self.loaded = True


def _hero() -> rx.Component:
    return rx.box(
        rx.flex(
            rx.vstack(
                rx.cond(
                    HomeState.loaded,
                    rx.cond(
                        HomeState.hero["subtitle"] != "",
                        rx.badge(
                            HomeState.hero["subtitle"],
                            variant="surface",
                            radius="full",
                            color_scheme="gray",
                            high_contrast=True,
                        ),
                    ),
                    rx.badge(
                        skeleton_text(width="14em", on_dark=True),
                        variant="surface",
                        radius="full",
                        color_scheme="gray",
                        high_contrast=True,
                    ),
                ),
                # the headline and its sentence keep their element while loading: placeholder
                # lines in their own line height (as many as the default texts take on a desktop)
                rx.heading(
                    rx.cond(HomeState.loaded, HomeState.hero["title"], skeleton_text(2, on_dark=True)),
                    size=rx.breakpoints(initial="8", md="9"),
                    weight="bold",
                    width="100%",
                    letter_spacing="-0.03em",
                    color="white",
                    line_height="1.05",
                    id="hero-title",
                    as_="h1",
                ),
                rx.text(
                    rx.cond(HomeState.loaded, HomeState.hero["body"], skeleton_text(3, on_dark=True)),
                    size="4",
                    color="rgba(255,255,255,.85)",
                    max_width="560px",
                    width="100%",
                    id="hero-body",
                ),
                rx.hstack(
                    rx.link(
                        rx.button("Browse services", size="4", color_scheme="gray", high_contrast=True),
                        href=routes.SERVICES,
                        id="hero-browse",
                    ),
                    rx.link(
                        rx.button(
                            "Create account",
                            size="4",
                            variant="outline",
                            color="white",
                            style={"border_color": "rgba(255,255,255,.6)"},
                        ),
                        href=routes.SIGN_UP,
                    ),
                    spacing="3",
                    wrap="wrap",
                ),
                spacing="5",
                align="start",
                min_height="260px",
                width="100%",
            ),
            max_width=PAGE_MAX_WIDTH,
            margin="0 auto",
            padding=["3.5rem 1.25rem", "5rem 1.25rem"],
        ),
        background=BRAND_GRADIENT,
        width="100%",
    )


def _section_heading(block: rx.Var, section_id: str) -> rx.Component:
    return rx.vstack(
        rx.heading(block["title"], size="7", weight="bold", letter_spacing="-0.02em", id=f"{section_id}-title"),
        rx.cond(block["subtitle"] != "", rx.text(block["subtitle"], size="3", color_scheme="gray")),
        rx.cond(block["body"] != "", rx.text(block["body"], size="3", color_scheme="gray", max_width="720px")),
        spacing="1",
        align="start",
        width="100%",
    )


def _metrics_box(heading: rx.Component, *cells: rx.Component, **props) -> rx.Component:
    """The figures box: a heading over four columns of figures (the content and its skeleton)."""
    return rx.box(
        heading,
        rx.grid(*cells, columns=rx.breakpoints(initial="2", md="4"), spacing="5", width="100%"),
        padding="1.75rem",
        border_radius="20px",
        background="var(--violet-a2)",
        border="1px solid var(--violet-a4)",
        width="100%",
        **props,
    )


def _metrics() -> rx.Component:
    return _metrics_box(
        rx.heading(HomeState.metrics["title"], size="5", weight="bold", margin_bottom="1rem"),
        rx.foreach(
            HomeState.metric_items,
            lambda m: rx.vstack(
                rx.text(m["value"], size="8", weight="bold", letter_spacing="-0.03em", color="var(--violet-11)"),
                rx.text(m["label"], size="2", color_scheme="gray"),
                spacing="1",
                align="start",
            ),
        ),
        id="home-metrics",
    )


def _services_overview() -> rx.Component:
    return rx.vstack(
        rx.flex(
            _section_heading(HomeState.services, "services"),
            rx.link(rx.button("All services", rx.icon("arrow-right", size=16), variant="soft"), href=routes.SERVICES),
            justify="between",
            align="end",
            spacing="3",
            wrap="wrap",
            width="100%",
        ),
        rx.cond(
            HomeState.products.length() > 0,
            product_grid(HomeState.products),
            empty_state("store", "The catalog is empty", "Services appear here once published."),
        ),
        rx.grid(
            rx.foreach(
                HomeState.categories,
                lambda c: rx.link(
                    card(
                        rx.hstack(
                            platform_icon(c["platform"]), rx.heading(c["name"], size="4"), spacing="2", align="center"
                        ),
                        rx.text(c["description"], size="2", color_scheme="gray", margin_top="0.5rem"),
                        height="100%",
                    ),
                    href=f"{routes.SERVICES}?category=" + c["slug"].to(str),
                    underline="none",
                    color="inherit",
                ),
            ),
            columns=rx.breakpoints(initial="1", md="3"),
            spacing="4",
            width="100%",
            margin_top="0.5rem",
        ),
        spacing="4",
        width="100%",
        id="home-services",
    )


def _pricing() -> rx.Component:
    return rx.cond(
        HomeState.pricing_cards.length() > 0,
        rx.vstack(
            _section_heading(HomeState.pricing, "pricing"),
            rx.grid(
                rx.foreach(
                    HomeState.pricing_cards,
                    lambda p: rx.link(
                        card(
                            rx.hstack(
                                platform_icon(p["platform"]),
                                rx.text(p["category_name"], size="2", color_scheme="gray"),
                                spacing="2",
                                align="center",
                            ),
                            rx.heading(p["title"], size="5", margin_top="0.5rem"),
                            rx.hstack(
                                rx.text("from", size="2", color_scheme="gray"),
                                rx.text(p["from_price"], size="8", weight="bold", letter_spacing="-0.03em"),
                                align="baseline",
                                spacing="2",
                                margin_top="0.5rem",
                            ),
                            rx.text(p["delivery"], size="2", color_scheme="gray"),
                            rx.button("See packages", variant="soft", width="100%", margin_top="1rem"),
                            height="100%",
                        ),
                        href=f"{routes.SERVICES}/" + p["slug"].to(str),
                        underline="none",
                        color="inherit",
                    ),
                ),
                columns=rx.breakpoints(initial="1", md="3"),
                spacing="4",
                width="100%",
            ),
            spacing="4",
            width="100%",
            id="home-pricing",
        ),
    )


def _testimonials() -> rx.Component:
    return rx.cond(
        HomeState.testimonial_items.length() > 0,
        rx.vstack(
            _section_heading(HomeState.testimonials, "testimonials"),
            rx.grid(
                rx.foreach(
                    HomeState.testimonial_items,
                    lambda t: card(
                        rx.icon("quote", size=20, color="var(--violet-9)"),
                        rx.text(t["quote"], size="3", margin_y="0.75rem"),
                        rx.text(t["name"], weight="bold", size="2"),
                        rx.text(t["role"], size="1", color_scheme="gray"),
                        height="100%",
                    ),
                ),
                columns=rx.breakpoints(initial="1", md="3"),
                spacing="4",
                width="100%",
            ),
            spacing="4",
            width="100%",
            id="home-testimonials",
        ),
    )


def _case_study() -> rx.Component:
    return rx.box(
        rx.grid(
            rx.vstack(
                rx.badge("Case study", variant="soft", radius="full"),
                rx.heading(
                    HomeState.case_study["title"],
                    size="7",
                    weight="bold",
                    letter_spacing="-0.02em",
                    id="case-study-title",
                ),
                rx.cond(
                    HomeState.case_study["subtitle"] != "",
                    rx.text(HomeState.case_study["subtitle"], size="2", color_scheme="gray", weight="medium"),
                ),
                rx.text(HomeState.case_study["body"], size="3"),
                spacing="3",
                align="start",
            ),
            rx.vstack(
                rx.foreach(
                    HomeState.case_steps,
                    lambda s: rx.hstack(
                        rx.badge(s["label"], variant="solid", radius="full", flex_shrink="0"),
                        rx.text(s["text"], size="2"),
                        spacing="3",
                        align="start",
                        width="100%",
                    ),
                ),
                spacing="3",
                width="100%",
            ),
            columns=rx.breakpoints(initial="1", md="2"),
            spacing="6",
            width="100%",
        ),
        style={
            "padding": "1.75rem",
            "border_radius": "20px",
            "background": "var(--gray-2)",
            "border": "1px solid var(--gray-a4)",
        },
        width="100%",
        id="home-case-study",
    )


def _faq() -> rx.Component:
    return rx.cond(
        HomeState.faq_items.length() > 0,
        rx.vstack(
            _section_heading(HomeState.faq, "faq"),
            rx.accordion.root(
                rx.foreach(
                    HomeState.faq_items,
                    lambda f: rx.accordion.item(
                        header=rx.text(f["question"], weight="medium", text_align="left"),
                        content=rx.text(f["answer"], size="2", color_scheme="gray"),
                        value=f["question"],
                    ),
                ),
                type="multiple",
                variant="ghost",
                width="100%",
            ),
            spacing="4",
            width="100%",
            id="home-faq",
        ),
    )


def _home_skeleton() -> rx.Component:
    """The figures box and the services row at their final size (taller than the fold)."""
    return rx.vstack(
        _metrics_box(
            rx.heading(skeleton_text(width="12em"), size="5", weight="bold", margin_bottom="1rem"),
            *[
                rx.vstack(
                    rx.text(skeleton_text(width="3em"), size="8"),
                    rx.text(skeleton_text(2), size="2", width="100%"),
                    spacing="1",
                    align="start",
                    width="100%",
                )
                for _ in range(4)
            ],
        ),
        rx.vstack(
            rx.heading(skeleton_text(width="10em"), size="7", max_width="100%"),
            # bounded by the column: a 24em line is wider than a 375px phone
            rx.text(skeleton_text(width="24em"), size="3", width="100%", max_width="100%"),
            product_grid_skeleton(3),
            spacing="4",
            width="100%",
        ),
        spacing="9",
        width="100%",
        align="start",
        aria_busy="true",
        id="home-skeleton",
    )


@page(
    route=routes.HOME,
    title="{brand} · Social growth services",
    description="Followers, likes, views and growth plans, delivered and tracked live.",
    on_load=HomeState.load_home,
)
def home_page() -> rx.Component:
    return storefront_page(
        _hero(),
        rx.box(
            rx.cond(
                HomeState.loaded,
                rx.vstack(
                    _metrics(),
                    _services_overview(),
                    _pricing(),
                    _case_study(),
                    _testimonials(),
                    _faq(),
                    spacing="9",
                    width="100%",
                    align="start",
                ),
                _home_skeleton(),
            ),
            max_width=PAGE_MAX_WIDTH,
            margin="0 auto",
            padding="3rem 1.25rem 0",
            width="100%",
        ),
        full_width=True,
    )
