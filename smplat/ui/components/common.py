"""Small building blocks shared by every surface: titles, cards, empty states, tables."""

from __future__ import annotations

import reflex as rx

from smplat.ui.theme import BRAND_GRADIENT, CARD


def brand_logo(size: str = "5") -> rx.Component:
    return rx.link(
        rx.hstack(
            rx.center(
                rx.icon("trending-up", size=18, color="white"),
                width="32px",
                height="32px",
                border_radius="10px",
                background=BRAND_GRADIENT,
            ),
            rx.text("SMPLAT", weight="bold", size=size, letter_spacing="-0.02em", color="var(--gray-12)"),
            spacing="2",
            align="center",
        ),
        href="/",
        underline="none",
        id="brand-logo",
    )


def page_title(title: str | rx.Var, subtitle: str | rx.Var = "", *actions: rx.Component) -> rx.Component:
    return rx.flex(
        rx.vstack(
            rx.heading(title, size="7", weight="bold", letter_spacing="-0.02em"),
            rx.cond(subtitle != "", rx.text(subtitle, color_scheme="gray", size="3"))
            if isinstance(subtitle, rx.Var)
            else (rx.text(subtitle, color_scheme="gray", size="3") if subtitle else rx.fragment()),
            spacing="1",
            align="start",
        ),
        rx.hstack(*actions, spacing="2"),
        justify="between",
        align="end",
        wrap="wrap",
        spacing="3",
        width="100%",
        margin_bottom="1.25rem",
    )


def card(*children: rx.Component, **props) -> rx.Component:
    style = {**CARD, "padding": "1.25rem", **props.pop("style", {})}
    return rx.box(*children, style=style, **props)


def empty_state(icon: str, title: str, text: str, action: rx.Component | None = None, **props) -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.center(
                rx.icon(icon, size=26, color="var(--violet-11)"),
                width="56px",
                height="56px",
                border_radius="16px",
                background="var(--violet-a3)",
            ),
            rx.heading(title, size="4", weight="medium"),
            rx.text(text, color_scheme="gray", size="2", text_align="center", max_width="420px"),
            action or rx.fragment(),
            spacing="3",
            align="center",
        ),
        padding="3rem 1rem",
        border="1px dashed var(--gray-a6)",
        border_radius="16px",
        width="100%",
        **props,
    )


def stat_card(
    label: str, value: rx.Var | str, hint: rx.Var | str = "", icon: str = "activity", **props
) -> rx.Component:
    return card(
        rx.hstack(
            rx.vstack(
                rx.text(label, size="2", color_scheme="gray", weight="medium"),
                rx.text(value, size="7", weight="bold", letter_spacing="-0.02em"),
                rx.text(hint, size="1", color_scheme="gray"),
                spacing="1",
                align="start",
            ),
            rx.spacer(),
            rx.center(
                rx.icon(icon, size=20, color="var(--violet-11)"),
                width="40px",
                height="40px",
                border_radius="12px",
                background="var(--violet-a3)",
            ),
            align="start",
            width="100%",
        ),
        **props,
    )


def loading_block(label: str = "Loading…") -> rx.Component:
    return rx.center(
        rx.hstack(rx.spinner(size="3"), rx.text(label, color_scheme="gray"), spacing="3", align="center"),
        padding="3rem",
        width="100%",
    )


def status_badge(status: rx.Var | str, label: rx.Var | str | None = None) -> rx.Component:
    """A badge coloured by the stored `status`, reading `label` when given (a customer's words),
    else the status in words ("partially refunded", not "partially_refunded")."""
    if label is None:
        label = status.replace("_", " ") if isinstance(status, str) else status.to(str).replace("_", " ")
    return rx.badge(
        label,
        color_scheme=rx.match(
            status,
            ("succeeded", "green"),
            ("active", "green"),
            ("completed", "green"),
            ("healthy", "green"),
            ("paid", "green"),
            ("promoted", "green"),
            ("partially_delivered", "amber"),
            ("partial", "amber"),
            ("on_hold", "amber"),
            ("retry_wait", "amber"),
            ("degraded", "amber"),
            ("refunded", "gray"),
            ("partially_refunded", "amber"),
            ("dead_letter", "red"),
            ("down", "red"),
            ("vanished", "red"),
            ("running", "blue"),
            ("processing", "blue"),
            ("pending", "amber"),
            ("failed", "red"),
            ("canceled", "red"),
            ("archived", "gray"),
            ("draft", "gray"),
            ("skipped", "gray"),
            ("admin", "violet"),
            ("operator", "blue"),
            "gray",
        ),
        variant="soft",
        radius="full",
    )


def field_error(message: rx.Var, field_id: str) -> rx.Component:
    return rx.cond(
        message != "",
        rx.text(message, color_scheme="red", size="1", id=f"{field_id}-error", role="alert"),
    )


def form_field(
    label: str,
    name: str,
    error: rx.Var,
    *,
    type: str = "text",
    placeholder: str = "",
    autocomplete: str = "",
    hint: str = "",
    default_value: str | rx.Var | None = None,
) -> rx.Component:
    input_props = {"name": name, "id": name, "type": type, "placeholder": placeholder, "size": "3", "width": "100%"}
    if autocomplete:
        input_props["auto_complete"] = autocomplete
    if default_value is not None:
        input_props["default_value"] = default_value
    return rx.vstack(
        rx.el.label(label, html_for=name, style={"font_size": "14px", "font_weight": "500"}),
        rx.input(**input_props, color_scheme=rx.cond(error != "", "red", "gray")),
        rx.cond(
            error != "",
            field_error(error, name),
            rx.text(hint, size="1", color_scheme="gray") if hint else rx.fragment(),
        ),
        spacing="1",
        width="100%",
        align="start",
    )


def form_alert(
    message: rx.Var, color: str = "red", icon: str = "circle-alert", alert_id: str = "form-error"
) -> rx.Component:
    return rx.cond(
        message != "",
        rx.callout(message, icon=icon, color_scheme=color, size="1", width="100%", id=alert_id, role="alert"),
    )


def data_table(headers: list[str], rows: rx.Var, render_row, table_id: str = "", row_key: str = "") -> rx.Component:
    """A readable table that scrolls sideways inside its box on small screens.

    `render_row(row)` returns the cells (the first as a row header) for one row var.
    `row_key` names the field that identifies a row (React's key; by default its position):
    give it when rows hold forms and the list can change under them (a live page's reload),
    so what the operator typed stays with its row.
    """
    props = {"id": table_id} if table_id else {}

    def row_of(row: rx.Var) -> rx.Component:
        return rx.table.row(*render_row(row), **({"key": row[row_key]} if row_key else {}))

    return rx.box(
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
            rx.table.body(rx.foreach(rows, row_of)),
            variant="surface",
            width="100%",
            class_name="smplat-table",
            **props,
        ),
        overflow_x="auto",
        width="100%",
    )
