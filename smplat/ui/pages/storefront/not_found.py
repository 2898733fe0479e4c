"""The not-found page."""

from __future__ import annotations

import reflex as rx

from smplat.ui import routes
from smplat.ui.components.layout import storefront_page
from smplat.ui.registry import page
from smplat.ui.state.auth import AuthState


@page(route=routes.NOT_FOUND, title="Page not found", on_load=AuthState.load_user)
def not_found_page() -> rx.Component:
    return storefront_page(
        rx.center(
            rx.vstack(
                rx.text(
                    "404",
                    size="9",
                    weight="bold",
                    style={
                        "background": "linear-gradient(135deg,#6d28d9,#db2777)",
                        "-webkit-background-clip": "text",
                        "color": "transparent",
                    },
                ),
                rx.heading("We couldn't find that page", size="6", id="not-found-title"),
                rx.text("The link may be old or mistyped. These will get you back on track:", color_scheme="gray"),
                rx.hstack(
                    rx.link(rx.button("Home", variant="soft"), href=routes.HOME),
                    rx.link(rx.button("Browse services"), href=routes.SERVICES),
                    spacing="3",
                ),
                spacing="4",
                align="center",
            ),
            padding_y="5rem",
        )
    )
