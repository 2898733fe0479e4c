"""Shared bits of the product editor's tab pages (fields, presets, plans): the product row in
the URL, its header, and the version every save names."""

from __future__ import annotations

from typing import Any

import reflex as rx
from sqlmodel import Session

from smplat.models.catalog import Product
from smplat.ui.components.common import empty_state, loading_block, page_title
from smplat.ui.components.product_editor import editor_tabs


def product_id_param(state: Any) -> int | None:
    raw = str(state.router.page.params.get("product_id", "") or "")
    return int(raw) if raw.isdigit() else None


def product_header(db: Session, product_id: int | None) -> dict[str, str] | None:
    """Title, status and version of the product being edited, or None when it does not exist."""
    product = db.get(Product, product_id) if product_id else None
    if product is None:
        return None
    return {
        "id": str(product.id),
        "title": product.title,
        "status": product.status,
        "version": str(product.version),
        "currency": product.currency,
        "unit_label": product.unit_label,
        "draft": "draft of a published product" if product.draft_of_id else product.status,
    }


def editor_frame(state: Any, active: str, subtitle: str, body: rx.Component) -> rx.Component:
    """The tab bar, the product's title and version, then the tab's body; a clear empty
    state when the product in the URL does not exist, a loading block before the loader ran."""
    head = state.product
    return rx.vstack(
        editor_tabs(rx.cond(head.contains("id"), head["id"], "0"), active),
        rx.cond(
            head.contains("id"),
            rx.vstack(
                page_title(
                    head["title"].to(str),
                    subtitle,
                    rx.badge(
                        "version " + head["version"].to(str), variant="soft", color_scheme="gray", id="editor-version"
                    ),
                ),
                rx.cond(
                    state.error != "",
                    rx.callout(
                        state.error,
                        icon="circle-alert",
                        color_scheme="red",
                        width="100%",
                        id="editor-error",
                        role="alert",
                    ),
                ),
                rx.cond(
                    state.notice != "",
                    rx.callout(
                        state.notice, icon="circle-check", color_scheme="green", width="100%", id="editor-notice"
                    ),
                ),
                body,
                spacing="4",
                width="100%",
                align="start",
            ),
            rx.cond(
                state.loaded,
                empty_state("search-x", "No such product", "Open it from the catalog.", id="editor-missing"),
                loading_block(),
            ),
        ),
        spacing="4",
        width="100%",
        align="start",
    )


def labelled(label: str, control: rx.Component, error: rx.Var | None = None, hint: str | rx.Var = "") -> rx.Component:
    """A form control with its label above and its error (or hint) below."""
    below: rx.Component
    if error is not None:
        below = rx.cond(
            error != "",
            rx.text(error, color_scheme="red", size="1", role="alert"),
            rx.text(hint, size="1", color_scheme="gray") if hint is not None else rx.fragment(),
        )
    else:
        below = rx.text(hint, size="1", color_scheme="gray")
    return rx.vstack(
        rx.text(label, size="2", weight="medium"),
        control,
        below,
        spacing="1",
        width="100%",
        align="start",
    )


SELECT_STYLE = {
    "width": "100%",
    "height": "32px",
    "border": "1px solid var(--gray-a7)",
    "border_radius": "6px",
    "padding": "0 8px",
    "background": "var(--color-panel-solid)",
    "font_size": "14px",
}


def native_select(
    name: str, choices: list[tuple[str, str]], default: rx.Var | str, key: rx.Var | str, **props
) -> rx.Component:
    return rx.el.select(
        *[rx.el.option(label, value=value) for value, label in choices],
        name=name,
        id=f"form-{name}",
        default_value=default,
        key=key,
        style=SELECT_STYLE,
        **props,
    )
