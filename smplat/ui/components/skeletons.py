"""Skeletons: placeholders of the final size, shown while a page's state loads.

The rule (docs/architecture.md, "Pages that don't jump"): a page never grows when its content
arrives. Each loading branch is `rx.cond(State.loaded, content, skeleton)` where the skeleton
is built from the same boxes as the content (same card padding, same text sizes, same image
heights), so the swap moves nothing. Text placeholders are sized in `lh` (one line of the
element's own line height), so they match the real text at every breakpoint.
"""

from __future__ import annotations

import reflex as rx

from smplat.ui.theme import CARD

# The width the header's sign-in area keeps whether it shows the neutral placeholder,
# "Sign in / Get started" or the account menu (phone: "Sign in" alone).
AUTH_SLOT_WIDTH = rx.breakpoints(initial="72px", sm="180px")


def skeleton_block(height: str, width: str = "100%", radius: str = "12px", **props) -> rx.Component:
    """A pulsing box of a fixed size (an image, a button, a chart)."""
    return rx.box(
        class_name="smplat-skeleton",
        height=height,
        width=width,
        border_radius=radius,
        aria_hidden="true",
        flex_shrink="0",
        **props,
    )


def skeleton_text(lines: int = 1, width: str = "100%", last_width: str = "60%", on_dark: bool = False) -> rx.Component:
    """Line placeholders to put INSIDE the text element that will hold the real text
    (`rx.heading(rx.cond(loaded, title, skeleton_text(2)), size="8")`): each is one line of
    that element's line height."""
    tone = " smplat-skeleton-line--dark" if on_dark else ""
    return rx.fragment(
        *[
            rx.el.span(
                class_name="smplat-skeleton-line" + tone,
                aria_hidden="true",
                style={"width": last_width if i == lines - 1 and lines > 1 else width},
            )
            for i in range(lines)
        ]
    )


def skeleton_card(*children: rx.Component, **props) -> rx.Component:
    """The shared card frame (same border, radius and padding as `common.card`)."""
    style = {**CARD, "padding": "1.25rem", **props.pop("style", {})}
    return rx.box(*children, style=style, aria_hidden="true", **props)


def product_card_skeleton() -> rx.Component:
    """One `catalog.product_card` without its data: same padding, image height and text sizes."""
    return rx.box(
        skeleton_block("150px"),
        rx.vstack(
            rx.hstack(
                rx.badge(skeleton_text(width="7em"), variant="soft", radius="full", color_scheme="gray"), width="100%"
            ),
            rx.heading(skeleton_text(width="70%"), size="4", weight="bold", width="100%"),
            rx.text(skeleton_text(2, last_width="80%"), size="2", min_height="2.6em", width="100%"),
            rx.hstack(
                rx.vstack(
                    rx.text(skeleton_text(width="2em"), size="1"),
                    rx.text(skeleton_text(width="4em"), size="5"),
                    spacing="0",
                    align="start",
                ),
                rx.spacer(),
                rx.text(skeleton_text(width="6em"), size="1"),
                width="100%",
                align="end",
            ),
            spacing="2",
            padding_top="0.75rem",
            align="start",
            width="100%",
        ),
        # most cards carry a preset button; reserve it so the grid does not grow
        skeleton_block("32px", margin_top="0.75rem", radius="8px"),
        padding="0.75rem",
        border="1px solid var(--gray-a5)",
        border_radius="16px",
        background="var(--color-panel-solid)",
        height="100%",
        aria_hidden="true",
        data_testid="product-card-skeleton",
    )


def product_grid_skeleton(count: int) -> rx.Component:
    """`catalog.product_grid` with `count` placeholder cards (same columns and spacing)."""
    return rx.grid(
        *[product_card_skeleton() for _ in range(count)],
        columns=rx.breakpoints(initial="1", sm="2", lg="3"),
        spacing="4",
        width="100%",
    )


def stat_card_skeleton() -> rx.Component:
    """`common.stat_card` without its figures."""
    return skeleton_card(
        rx.hstack(
            rx.vstack(
                rx.text(skeleton_text(width="6em"), size="2"),
                rx.text(skeleton_text(width="4em"), size="7"),
                rx.text(skeleton_text(width="8em"), size="1"),
                spacing="1",
                align="start",
                width="100%",
            ),
            rx.spacer(),
            skeleton_block("40px", width="40px"),
            align="start",
            width="100%",
        ),
    )


def table_skeleton(rows: int, columns: int = 5) -> rx.Component:
    """A `common.data_table` frame: a header row and `rows` body rows of one text line each."""

    def row(header: bool) -> rx.Component:
        return rx.table.row(
            *[
                (rx.table.column_header_cell if header else rx.table.cell)(
                    rx.text(skeleton_text(width="70%" if header else "85%"), size="2")
                )
                for _ in range(columns)
            ]
        )

    return rx.box(
        rx.table.root(
            rx.table.header(row(True)),
            rx.table.body(*[row(False) for _ in range(rows)]),
            variant="surface",
            width="100%",
        ),
        width="100%",
        aria_hidden="true",
        data_testid="table-skeleton",
    )


def page_skeleton() -> rx.Component:
    """A neutral page body (title, subtitle, a wide block) while the session is checked."""
    return rx.vstack(
        rx.heading(skeleton_text(width="12em"), size="7"),
        rx.text(skeleton_text(width="20em"), size="3"),
        skeleton_block("240px", margin_top="1rem"),
        spacing="1",
        width="100%",
        align="start",
        aria_busy="true",
        id="page-skeleton",
    )


def auth_slot_placeholder() -> rx.Component:
    """The header's sign-in area before the session is known: neither "Sign in" nor the
    account menu, as wide as the buttons that will replace it."""
    return skeleton_block("32px", width=AUTH_SLOT_WIDTH, radius="8px", id="nav-auth-pending", aria_busy="true")
