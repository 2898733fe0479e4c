"""The client dashboard's pieces: order cards with a progress bar (phone-first, no table to
scroll sideways), the per-line progress figures and the customer-words timeline."""

from __future__ import annotations

from typing import Any

import reflex as rx

from smplat.ui import routes
from smplat.ui.components.common import card, status_badge


def progress_bar(percent: rx.Var, bar_id: rx.Var | str) -> rx.Component:
    return rx.hstack(
        rx.progress(value=percent.to(int), max=100, size="2", width="100%", color_scheme="violet"),
        rx.text(percent.to(str) + "%", size="1", color_scheme="gray", min_width="2.6rem", text_align="right"),
        align="center",
        spacing="2",
        width="100%",
        id=bar_id,
    )


def order_cards(rows: rx.Var) -> rx.Component:
    """One card per order; the whole card opens the order."""
    return rx.vstack(
        rx.foreach(
            rows,
            lambda o: rx.link(
                card(
                    rx.vstack(
                        rx.flex(
                            rx.text(o["number"], weight="bold", size="3"),
                            status_badge(o["status"], o["status_label"]),
                            rx.spacer(),
                            rx.text(o["total"], weight="medium", size="3"),
                            spacing="2",
                            align="center",
                            wrap="wrap",
                            width="100%",
                        ),
                        rx.text(
                            o["placed_at"].to(str)
                            + " · "
                            + o["items_label"].to(str)
                            + " · "
                            + o["status_label"].to(str),
                            size="1",
                            color_scheme="gray",
                        ),
                        progress_bar(o["percent"], "progress-" + o["number"].to(str)),
                        spacing="2",
                        width="100%",
                    ),
                    width="100%",
                    _hover={"border_color": "var(--violet-a7)"},
                ),
                href=routes.ACCOUNT_ORDERS + "/" + o["number"].to(str),
                underline="none",
                color="inherit",
                width="100%",
                id="order-" + o["number"].to(str),
            ),
        ),
        spacing="3",
        width="100%",
        id="orders-table",
    )


def _figure(label: str, value: rx.Var, figure_id: rx.Var) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="1", color_scheme="gray"),
        rx.text(value, size="2", weight="medium", id=figure_id),
        spacing="0",
        align="start",
        min_width="6.5rem",
    )


def line_card(line: rx.Var, actions: rx.Component | None = None) -> rx.Component:
    """One bought line: what, for what, progress figures, history, and the page's actions."""
    lid = line["id"].to(str)
    return card(
        rx.vstack(
            rx.flex(
                rx.text(line["title"], weight="bold", size="4"),
                rx.badge(line["status_label"], variant="soft", id="line-status-" + lid),
                spacing="2",
                align="center",
                wrap="wrap",
            ),
            rx.cond(line["summary"] != "", rx.text(line["summary"], size="2", color_scheme="gray")),
            rx.cond(
                line["promise"] != "",
                rx.hstack(
                    rx.icon("clock", size=14),
                    rx.text(line["promise"], size="2", id="promise-" + lid),
                    spacing="2",
                    align="center",
                    color="var(--gray-11)",
                ),
            ),
            rx.foreach(
                line["fields"].to(list[dict[str, str]]),
                lambda f: rx.text(
                    rx.text.strong(f["label"], ": "),
                    f["value"],
                    size="2",
                    word_break="break-all",
                ),
            ),
            progress_bar(line["percent"], "line-progress-" + lid),
            rx.flex(
                _figure("Start count", rx.cond(line["start_count"] != "", line["start_count"], "—"), "start-" + lid),
                _figure("Delivered", line["delivered_text"], "delivered-" + lid),
                _figure("Remains", line["remains_text"], "remains-" + lid),
                _figure("Started", rx.cond(line["started_at"] != "", line["started_at"], "not yet"), "started-" + lid),
                rx.cond(line["runs"] != "", _figure("Drip-feed", line["runs"], "runs-" + lid)),
                _figure(
                    "Estimated completion",
                    rx.cond(line["eta"] != "", line["eta"], rx.cond(line["percent"].to(int) >= 100, "done", "—")),
                    "eta-" + lid,
                ),
                spacing="4",
                wrap="wrap",
                width="100%",
            ),
            rx.cond(
                line["extra"].to(int) > 0,
                rx.text("Bonus: ", line["extra"].to(str), " extra delivered.", size="1", color_scheme="green"),
            ),
            rx.cond(
                line["history"].to(list[dict[str, str]]).length() > 0,
                rx.vstack(
                    rx.text("Refills and re-sends", size="1", weight="bold", color_scheme="gray"),
                    rx.foreach(
                        line["history"].to(list[dict[str, str]]),
                        lambda h: rx.text(h["at"], " · ", h["text"], size="1"),
                    ),
                    spacing="1",
                    align="start",
                    id="history-" + lid,
                ),
            ),
            actions or rx.fragment(),
            spacing="3",
            align="start",
            width="100%",
        ),
        width="100%",
        id="line-" + lid,
        class_name="order-line",
    )


def price_breakdown(order: rx.Var) -> rx.Component:
    lines = order["lines"].to(list[dict[str, Any]])
    return card(
        rx.vstack(
            rx.foreach(
                lines,
                lambda line: rx.foreach(
                    line["breakdown"].to(list[dict[str, str]]),
                    lambda b: rx.flex(
                        rx.text(b["label"], size="2"), rx.spacer(), rx.text(b["amount"], size="2"), width="100%"
                    ),
                ),
            ),
            rx.cond(
                order["discount"] != "",
                rx.flex(
                    rx.text("Discount", size="2"), rx.spacer(), rx.text("−", order["discount"], size="2"), width="100%"
                ),
            ),
            rx.separator(size="4"),
            rx.flex(rx.text("Total", weight="bold"), rx.spacer(), rx.text(order["total"], weight="bold"), width="100%"),
            rx.cond(
                order["refunded"] != "",
                rx.flex(
                    rx.text("Refunded", size="2", color_scheme="gray"),
                    rx.spacer(),
                    rx.text(order["refunded"], size="2", color_scheme="gray"),
                    width="100%",
                ),
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
        id="price-breakdown",
    )


def timeline(entries: rx.Var) -> rx.Component:
    return card(
        rx.vstack(
            rx.foreach(
                entries,
                lambda e: rx.hstack(
                    rx.box(
                        width="8px",
                        height="8px",
                        border_radius="50%",
                        background="var(--violet-9)",
                        margin_top="7px",
                        flex_shrink="0",
                    ),
                    rx.vstack(
                        rx.text(e["text"], size="2"),
                        rx.text(e["at"], size="1", color_scheme="gray"),
                        spacing="0",
                        align="start",
                    ),
                    align="start",
                    spacing="3",
                    width="100%",
                ),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
        id="order-timeline",
    )
