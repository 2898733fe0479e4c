"""Product cards and the product grid, shown on the home page and the catalog."""

from __future__ import annotations

import reflex as rx

from smplat.ui import routes


def platform_icon(platform: rx.Var) -> rx.Component:
    return rx.match(
        platform,
        ("instagram", rx.icon("camera", size=16)),
        ("tiktok", rx.icon("music-2", size=16)),
        ("youtube", rx.icon("circle-play", size=16)),
        rx.icon("sparkles", size=16),
    )


def product_card(row: rx.Var) -> rx.Component:
    href = f"{routes.SERVICES}/" + row["slug"].to(str)
    return rx.box(
        rx.link(
            rx.image(
                src=row["image_url"],
                alt=row["title"],
                width="100%",
                height="150px",
                # contain, not cover: the 4:3 artwork (and its text) is shown whole
                object_fit="contain",
                border_radius="12px",
                background="var(--gray-3)",
            ),
            rx.vstack(
                rx.hstack(
                    rx.badge(platform_icon(row["platform"]), row["category_name"], variant="soft", radius="full"),
                    rx.spacer(),
                    rx.cond(
                        row["is_featured"], rx.badge("Popular", color_scheme="amber", variant="soft", radius="full")
                    ),
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
            href=href,
            underline="none",
            color="inherit",
            class_name="product-card-link",
        ),
        # one click to the configurator with the featured preset applied (recorded as a
        # "marketing card" preset event when the visitor allowed analytics)
        rx.cond(
            row["preset_key"] != "",
            rx.link(
                rx.button(rx.icon("zap", size=14), row["preset_label"], variant="soft", size="2", width="100%"),
                href=href + "?preset=" + row["preset_key"].to(str),
                class_name="card-preset",
                data_testid="card-preset",
                margin_top="0.75rem",
                display="block",
            ),
        ),
        class_name="product-card",
        padding="0.75rem",
        border="1px solid var(--gray-a5)",
        border_radius="16px",
        background="var(--color-panel-solid)",
        height="100%",
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
