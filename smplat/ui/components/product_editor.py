"""The product editor's frame: one tab bar shared by every editor page.

Each tab is its own page (`routes.ADMIN_PRODUCT_EDITOR*`) working on the product row in the
URL (`[product_id]`): a never-published product or the draft of a published one.
"""

from __future__ import annotations

import reflex as rx

from smplat.ui import routes

# (key, label, path suffix) in the order the tabs are shown
EDITOR_TABS: tuple[tuple[str, str, str], ...] = (
    ("details", "Details", ""),
    ("options", "Options & add-ons", "/options"),
    ("fields", "Fields", "/fields"),
    ("presets", "Presets & calculator", "/presets"),
    ("plans", "Plans", "/plans"),
    ("media", "Media", "/media"),
    ("preview", "Preview & publish", "/preview"),
)


def editor_tabs(product_id: rx.Var | str | int, active: str) -> rx.Component:
    """Links to every editor tab of `product_id`, the `active` one highlighted."""
    links = []
    for key, label, suffix in EDITOR_TABS:
        href = f"/admin/products/{product_id}{suffix}"
        links.append(
            rx.link(
                rx.button(
                    label,
                    variant="solid" if key == active else "soft",
                    color_scheme="violet" if key == active else "gray",
                    size="2",
                ),
                href=href,
                id=f"editor-tab-{key}",
            )
        )
    return rx.vstack(
        rx.link("← Catalog", href=routes.ADMIN_CATALOG, size="2", color_scheme="gray"),
        rx.hstack(*links, spacing="2", wrap="wrap"),
        spacing="2",
        width="100%",
        align="start",
    )
