"""The provider form and the flagged-products table, shared by the providers list and one provider's page."""

from __future__ import annotations

from typing import Any

import reflex as rx

from smplat.services import providers
from smplat.ui.components.common import data_table, status_badge


def provider_form(data: dict[str, Any]) -> providers.ProviderForm:
    def number(key: str, default: int) -> int:
        raw = str(data.get(key, "") or "").strip()
        try:
            return int(raw) if raw else default
        except ValueError:
            raise providers.ProviderInputError(f"{key.replace('_', ' ')} must be a whole number") from None

    return providers.ProviderForm(
        name=str(data.get("name", "")),
        slug=str(data.get("slug", "")),
        base_url=str(data.get("base_url", "")),
        api_key=str(data.get("api_key", "")),
        rate_limit_per_second=number("rate_limit_per_second", 5),
        timeout_seconds=number("timeout_seconds", 20),
        low_balance_threshold=str(data.get("low_balance_threshold", "")),
        is_active=str(data.get("is_active", "on")).lower() in ("on", "true", "1", "yes"),
    )


def flagged_table(rows: rx.Var) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.icon("triangle-alert", color="var(--amber-11)", size=18),
            rx.heading("Products routed to unavailable services", size="4"),
            align="center",
        ),
        data_table(
            ["Product", "Provider", "Service", "Service status"],
            rows,
            lambda f: [
                rx.table.row_header_cell(f["product"]),
                rx.table.cell(f["provider"]),
                rx.table.cell(f["service"]),
                rx.table.cell(status_badge(f["service_status"])),
            ],
            "flagged-products-table",
        ),
        width="100%",
        spacing="2",
        align="start",
        margin_top="1rem",
    )


def _field(
    label: str, name: str, *, default: Any = "", type_: str = "text", placeholder: str = "", hint: str = ""
) -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=name, style={"font_size": "14px", "font_weight": "500"}),
        rx.input(
            name=name,
            id=name,
            type=type_,
            default_value=default,
            placeholder=placeholder,
            width="100%",
            auto_complete="off" if type_ != "password" else "new-password",
        ),
        rx.text(hint, size="1", color_scheme="gray") if hint else rx.fragment(),
        spacing="1",
        width="100%",
        align="start",
    )


def provider_fields(values: Any, *, editing: bool) -> rx.Component:
    get = (lambda k, d="": values[k]) if editing else (lambda k, d="": d)
    key_hint = (
        rx.cond(values["key_set"], "Key set. Leave empty to keep it.", "No key set.")
        if editing
        else "Stored encrypted; never shown again."
    )
    return rx.grid(
        _field("Name", "name", default=get("name")),
        _field("Slug", "slug", default=get("slug"), placeholder="my-panel"),
        _field("Base URL", "base_url", default=get("base_url"), placeholder="https://panel.example/api/v2"),
        rx.vstack(
            rx.el.label("API key", html_for="api_key", style={"font_size": "14px", "font_weight": "500"}),
            rx.input(
                name="api_key",
                id="api_key",
                type="password",
                default_value="",
                width="100%",
                auto_complete="new-password",
            ),
            rx.text(key_hint, size="1", color_scheme="gray", id="api-key-hint"),
            spacing="1",
            width="100%",
            align="start",
        ),
        _field("Calls per second", "rate_limit_per_second", default=get("rate_limit_per_second", "5")),
        _field("Timeout (seconds)", "timeout_seconds", default=get("timeout_seconds", "20")),
        _field(
            "Low balance below",
            "low_balance_threshold",
            default=get("low_balance_threshold"),
            placeholder="e.g. 50",
            hint="Raises an alert when the balance drops below it.",
        ),
        columns=rx.breakpoints(initial="1", md="2"),
        spacing="3",
        width="100%",
    )
