"""Page frames: the storefront (header + footer), the account area and the admin area
(side navigation), all built on one header so the shop feels like one product.

The side navigation is built from the page registry (`smplat.ui.registry`): a page with a
`NavEntry` appears in its area's navigation, grouped under headings in the admin."""

from __future__ import annotations

import reflex as rx

from smplat.ui import registry, routes
from smplat.ui.components.common import brand_logo
from smplat.ui.components.consent import ConsentState, consent_banner
from smplat.ui.components.skeletons import (
    AUTH_SLOT_WIDTH,
    auth_slot_placeholder,
    page_skeleton,
)
from smplat.ui.state.auth import AuthState
from smplat.ui.theme import PAGE_MAX_WIDTH

STOREFRONT_LINKS = [("Home", routes.HOME, "nav-home"), ("Services", routes.SERVICES, "nav-services")]


def _nav_link(label: str, href: str, link_id: str) -> rx.Component:
    return rx.link(label, href=href, id=link_id, size="3", weight="medium", color_scheme="gray", high_contrast=True)


def account_menu() -> rx.Component:
    return rx.menu.root(
        rx.menu.trigger(
            rx.button(
                rx.avatar(fallback=AuthState.initials, size="1", radius="full"),
                rx.text(AuthState.display_name, class_name="hide-on-phone"),
                rx.icon("chevron-down", size=14),
                variant="ghost",
                color_scheme="gray",
                id="account-menu",
            )
        ),
        rx.menu.content(
            rx.box(rx.text(AuthState.user_email, size="1", color_scheme="gray"), padding="0.25rem 0.5rem"),
            rx.menu.item(rx.icon("layout-dashboard", size=14), "My account", on_click=rx.redirect(routes.ACCOUNT)),
            rx.menu.item(rx.icon("package", size=14), "My orders", on_click=rx.redirect(routes.ACCOUNT_ORDERS)),
            rx.cond(
                AuthState.is_staff,
                rx.menu.item(rx.icon("shield", size=14), "Admin", on_click=rx.redirect(routes.ADMIN), id="menu-admin"),
            ),
            rx.menu.separator(),
            rx.menu.item(
                rx.icon("log-out", size=14), "Sign out", on_click=AuthState.sign_out, id="menu-sign-out", color="red"
            ),
        ),
    )


def hydration_marker() -> rx.Component:
    """An empty element present once the page is hydrated (the websocket connected and the
    page's state arrived): browser tests wait for it before typing, which hydration would clear."""
    return rx.cond(rx.State.is_hydrated, rx.el.span(id="app-hydrated", display="none"))


def header() -> rx.Component:
    return rx.box(
        hydration_marker(),
        rx.hstack(
            brand_logo(),
            rx.hstack(*[_nav_link(*link) for link in STOREFRONT_LINKS], spacing="5", class_name="hide-on-phone"),
            rx.spacer(),
            rx.link(
                rx.button(
                    rx.icon("shopping-cart", size=16),
                    rx.text("Cart", class_name="hide-on-phone"),
                    variant="soft",
                    color_scheme="gray",
                ),
                href=routes.CART,
                id="nav-cart",
            ),
            # one slot of a fixed minimum width: a neutral placeholder until the session is
            # known, then "Sign in / Get started" or the account menu, so nothing beside it moves
            rx.flex(
                rx.cond(
                    AuthState.session_known,
                    rx.cond(
                        AuthState.signed_in,
                        account_menu(),
                        rx.hstack(
                            rx.link(
                                rx.button("Sign in", variant="soft", color_scheme="gray"),
                                href=routes.SIGN_IN,
                                id="nav-sign-in",
                            ),
                            rx.link(
                                rx.button("Get started"),
                                href=routes.SIGN_UP,
                                id="nav-sign-up",
                                class_name="hide-on-phone",
                            ),
                            spacing="2",
                        ),
                    ),
                    auth_slot_placeholder(),
                ),
                justify="end",
                align="center",
                min_width=AUTH_SLOT_WIDTH,
                id="nav-auth",
            ),
            rx.box(
                rx.menu.root(
                    rx.menu.trigger(
                        rx.icon_button(rx.icon("menu"), variant="ghost", color_scheme="gray", aria_label="Menu")
                    ),
                    rx.menu.content(
                        *[rx.menu.item(label, on_click=rx.redirect(href)) for label, href, _ in STOREFRONT_LINKS]
                    ),
                ),
                class_name="show-on-phone",
            ),
            align="center",
            spacing="4",
            max_width=PAGE_MAX_WIDTH,
            margin="0 auto",
            padding="0.85rem 1.25rem",
            width="100%",
        ),
        position="sticky",
        top="0",
        z_index="10",
        background="rgba(255,255,255,0.85)",
        backdrop_filter="saturate(180%) blur(12px)",
        border_bottom="1px solid var(--gray-a4)",
        width="100%",
    )


def footer() -> rx.Component:
    return rx.box(
        rx.flex(
            rx.vstack(
                brand_logo("4"),
                rx.text(
                    "Growth services for creators and brands, delivered and tracked.",
                    size="2",
                    color_scheme="gray",
                    max_width="320px",
                ),
                spacing="2",
            ),
            rx.flex(
                rx.link("Services", href=routes.SERVICES, size="2", color_scheme="gray"),
                rx.link("Cart", href=routes.CART, size="2", color_scheme="gray"),
                rx.link("My account", href=routes.ACCOUNT, size="2", color_scheme="gray"),
                rx.link("Terms", href=routes.TERMS, size="2", color_scheme="gray", id="footer-terms"),
                rx.link("Privacy", href=routes.PRIVACY, size="2", color_scheme="gray", id="footer-privacy"),
                rx.link("Imprint", href=routes.IMPRINT, size="2", color_scheme="gray", id="footer-imprint"),
                # a button, not a link: reopening the choice must not reload the page (and its analytics)
                rx.el.button(
                    "Cookie settings",
                    type="button",
                    id="footer-cookie-settings",
                    on_click=ConsentState.reopen,
                    class_name="footer-link-button",
                ),
                wrap="wrap",
                column_gap="1.25rem",
                row_gap="0.5rem",
            ),
            justify="between",
            wrap="wrap",
            spacing="5",
            max_width=PAGE_MAX_WIDTH,
            margin="0 auto",
            padding="2.5rem 1.25rem",
        ),
        rx.text(
            "© SMPLAT. Prices include VAT where applicable.",
            size="1",
            color_scheme="gray",
            text_align="center",
            padding_bottom="1.5rem",
        ),
        border_top="1px solid var(--gray-a4)",
        background="var(--gray-2)",
        width="100%",
        margin_top="4rem",
    )


def storefront_page(*children: rx.Component, full_width: bool = False) -> rx.Component:
    body = (
        rx.box(*children, width="100%")
        if full_width
        else rx.box(*children, max_width=PAGE_MAX_WIDTH, margin="0 auto", padding="2rem 1.25rem", width="100%")
    )
    return rx.vstack(
        header(),
        rx.box(body, flex="1", width="100%"),
        footer(),
        consent_banner(),
        spacing="0",
        min_height="100vh",
        width="100%",
    )


def _nav_heading(text: str) -> rx.Component:
    return rx.text(
        text,
        size="1",
        weight="bold",
        color_scheme="gray",
        text_transform="uppercase",
        letter_spacing="0.08em",
        padding_x="0.75rem",
        class_name="hide-on-phone",
    )


def _nav_item(link: registry.NavLink, nav_id: str) -> rx.Component:
    current = rx.State.router.page.path
    return rx.link(
        rx.hstack(
            rx.icon(link.icon, size=16), rx.text(link.label, size="2", weight="medium"), spacing="3", align="center"
        ),
        href=link.href,
        id=f"{nav_id}-{link.label.lower().replace(' ', '-')}",
        padding="0.55rem 0.75rem",
        border_radius="10px",
        width=rx.breakpoints(initial="auto", md="100%"),
        flex_shrink="0",
        color=rx.cond(current == link.href, "var(--violet-11)", "var(--gray-11)"),
        background=rx.cond(current == link.href, "var(--violet-a3)", "transparent"),
        _hover={"background": "var(--gray-a3)"},
    )


def _gated(link: registry.NavLink, item: rx.Component) -> rx.Component:
    if link.admin_only:
        return rx.cond(AuthState.is_admin, item)
    if link.reseller_only:  # the Reseller page: reseller accounts only (the page says why to others)
        return rx.cond(AuthState.is_reseller, item)
    return item


def _side_nav(area: str, title: str, nav_id: str) -> rx.Component:
    """The area's registered pages; a heading per group (the area's title when it has no groups).

    Headings are hidden on phones, where the links form one scrollable strip."""
    children: list[rx.Component] = []
    for index, (group, links) in enumerate(registry.nav_groups(area)):
        heading = _nav_heading(group or title)
        heading = (
            heading
            if index == 0
            else rx.box(heading, padding_top=rx.breakpoints(initial="0", md="0.9rem"), class_name="hide-on-phone")
        )
        # links to admin-only pages (staff, audit log) are shown to admins only, their heading too
        children.append(rx.cond(AuthState.is_admin, heading) if all(link.admin_only for link in links) else heading)
        children.extend(_gated(link, _nav_item(link, nav_id)) for link in links)
    return rx.flex(
        *children,
        # A scrollable strip on phones, a column beside the content from tablets up.
        direction=rx.breakpoints(initial="row", md="column"),
        spacing="1",
        align=rx.breakpoints(initial="center", md="start"),
        overflow_x="auto",
        width="100%",
        id=nav_id,
    )


def _area(nav: rx.Component, guard: rx.Var, *children: rx.Component) -> rx.Component:
    return rx.vstack(
        header(),
        rx.flex(
            rx.box(
                nav,
                width=["100%", "100%", "220px"],
                flex_shrink="0",
                padding=["1rem 1.25rem 0", "1rem 1.25rem 0", "2rem 0 0 1.25rem"],
            ),
            rx.box(
                rx.cond(guard, rx.box(*children, width="100%"), page_skeleton()),
                flex="1",
                min_width="0",
                padding="2rem 1.25rem",
            ),
            direction=rx.breakpoints(initial="column", md="row"),
            max_width=PAGE_MAX_WIDTH,
            margin="0 auto",
            width="100%",
            flex="1",
        ),
        spacing="0",
        min_height="100vh",
        width="100%",
        background="var(--gray-1)",
    )


def account_page(*children: rx.Component) -> rx.Component:
    return _area(_side_nav("account", "My account", "account-nav"), AuthState.signed_in, *children)


def admin_page(*children: rx.Component) -> rx.Component:
    return _area(_side_nav("admin", "Admin", "admin-nav"), AuthState.is_staff, *children)
