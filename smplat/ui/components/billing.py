"""The billing-details fields (name, company, address, country from the VAT table, VAT number),
shared by My account → Billing and the cart's checkout form."""

from __future__ import annotations

import reflex as rx

from smplat.services import invoices
from smplat.ui.components.common import form_field

COUNTRIES = invoices.country_choices()


def country_select(name: str, default: rx.Var | str, error: rx.Var) -> rx.Component:
    """The country of the VAT table (shared with checkout's billing form)."""
    return rx.vstack(
        rx.el.label("Country", html_for=name, style={"font_size": "14px", "font_weight": "500"}),
        rx.el.select(
            rx.el.option("Choose your country", value=""),
            *[rx.el.option(label, value=code) for code, label in COUNTRIES],
            name=name,
            id=name,
            default_value=default,
            style={
                "height": "2.5rem",
                "border_radius": "6px",
                "padding": "0 0.5rem",
                "width": "100%",
                "border": "1px solid var(--gray-7)",
                "background": "var(--color-surface)",
            },
        ),
        rx.cond(error != "", rx.text(error, color_scheme="red", size="1", id=f"{name}-error", role="alert")),
        spacing="1",
        width="100%",
        align="start",
    )


def billing_fields(details: rx.Var, errors: rx.Var) -> rx.Component:
    """Name, company, address, country and VAT number: the billing page and checkout both use it."""
    return rx.vstack(
        rx.grid(
            form_field(
                "Name", "name", errors.get("name", ""), autocomplete="name", default_value=details.get("name", "")
            ),
            form_field(
                "Company (optional)",
                "company",
                errors.get("company", ""),
                autocomplete="organization",
                default_value=details.get("company", ""),
            ),
            columns=rx.breakpoints(initial="1", sm="2"),
            spacing="3",
            width="100%",
        ),
        rx.vstack(
            rx.el.label("Address", html_for="address", style={"font_size": "14px", "font_weight": "500"}),
            rx.text_area(
                name="address",
                id="address",
                placeholder="Street and number\nPostcode and city",
                default_value=details.get("address", ""),
                rows="3",
                width="100%",
                color_scheme=rx.cond(errors.get("address", "") != "", "red", "gray"),
            ),
            rx.cond(
                errors.get("address", "") != "",
                rx.text(errors.get("address", ""), color_scheme="red", size="1", id="address-error", role="alert"),
            ),
            spacing="1",
            width="100%",
            align="start",
        ),
        rx.grid(
            country_select("country", details.get("country", ""), errors.get("country", "")),
            form_field(
                "VAT number (businesses)",
                "vat_id",
                errors.get("vat_id", ""),
                placeholder="e.g. DE123456789",
                hint="With its country prefix. An EU business abroad is invoiced without VAT (reverse charge).",
                default_value=details.get("vat_id", ""),
            ),
            columns=rx.breakpoints(initial="1", sm="2"),
            spacing="3",
            width="100%",
        ),
        spacing="3",
        width="100%",
    )
