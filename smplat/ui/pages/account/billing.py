"""My account → Billing: the details invoices are made out to, and every invoice and credit
note with its PDF and a CSV export. Rules live in `smplat.services.invoices`; every handler
re-checks the session. (Subscriptions get their own section here when that page lands.)"""

from __future__ import annotations

from typing import Any

import reflex as rx

from smplat.db import session_scope
from smplat.models.base import utcnow
from smplat.services import invoices
from smplat.services.checkout import subscriptions
from smplat.services.invoices import BILLING_KEYS, InvoiceError
from smplat.ui import routes
from smplat.ui.components.billing import billing_fields
from smplat.ui.components.common import card, data_table, empty_state, form_alert, page_title
from smplat.ui.components.layout import account_page
from smplat.ui.registry import NavEntry, page
from smplat.ui.state.auth import AuthState, requires


class BillingState(AuthState):
    loaded: bool = False
    details: dict[str, str] = {}
    errors: dict[str, str] = {}
    notice: str = ""
    form_error: str = ""
    rows: list[dict[str, Any]] = []
    subscriptions: list[dict[str, Any]] = []
    form_key: int = 0  # bumped on load, so the uncontrolled inputs show the stored values

    def _reload(self) -> None:
        with session_scope() as db:
            self.details = invoices.billing_details(db, self.user_id)
            self.rows = invoices.list_for_user(db, self.user_id)
            self.subscriptions = [
                {
                    k: str(v)
                    for k, v in row.items()
                    if k in ("id", "title", "plan", "status_label", "next_renewal", "amount")
                }
                for row in subscriptions.list_for_user(db, self.user_id)
            ]
        self.form_key += 1
        self.loaded = True

    @rx.event
    @requires("signed_in")
    def load_billing(self) -> None:
        self.errors, self.notice, self.form_error = {}, "", ""
        self._reload()

    @rx.event
    @requires("signed_in")
    def save_details(self, form: dict[str, Any]) -> None:
        values = {key: str(form.get(key, "") or "") for key in BILLING_KEYS}
        self.errors, self.notice, self.form_error = {}, "", ""
        try:
            with session_scope() as db:
                invoices.save_billing_details(db, self.user_id, values)
        except InvoiceError as error:
            self.errors = error.errors or {error.field or "form": error.message}
            self.form_error = "Please correct the fields marked below."
            return
        self._reload()
        self.notice = "Your billing details are saved. New invoices use them."

    @rx.event
    @requires("signed_in")
    def export_csv(self):
        with session_scope() as db:
            text = invoices.export_csv_for_user(db, self.user_id)
        return rx.download(data=text, filename=f"invoices-{utcnow():%Y%m%d}.csv", mime_type="text/csv")


def _details_section() -> rx.Component:
    return card(
        rx.vstack(
            rx.heading("Billing details", size="4"),
            rx.text(
                "Who your invoices are made out to. Issued invoices keep the details they were issued with.",
                size="2",
                color_scheme="gray",
            ),
            form_alert(BillingState.form_error, alert_id="billing-error"),
            form_alert(BillingState.notice, color="green", icon="circle-check", alert_id="billing-notice"),
            rx.form(
                rx.vstack(
                    billing_fields(BillingState.details, BillingState.errors),
                    rx.button(
                        "Save billing details",
                        type="submit",
                        id="save-billing",
                        width=rx.breakpoints(initial="100%", sm="auto"),
                    ),
                    spacing="3",
                    width="100%",
                    align="start",
                ),
                on_submit=BillingState.save_details,
                key=BillingState.form_key,
                width="100%",
            ),
            spacing="3",
            width="100%",
            align="start",
        ),
        width="100%",
        id="billing-details",
    )


def _subscriptions_section() -> rx.Component:
    """Each subscription with its plan, status, next renewal and amount; cancelling and resuming
    happen on the Subscriptions page (one place for those rules)."""
    table = data_table(
        ["Subscription", "Plan", "Status", "Next renewal", "Amount"],
        BillingState.subscriptions,
        lambda s: [
            rx.table.row_header_cell(s["title"]),
            rx.table.cell(s["plan"]),
            rx.table.cell(s["status_label"]),
            rx.table.cell(s["next_renewal"]),
            rx.table.cell(s["amount"]),
        ],
        "billing-subscriptions",
    )
    return card(
        rx.hstack(
            rx.heading("Subscriptions", size="4"),
            rx.spacer(),
            rx.link(
                "Cancel or resume →", href=routes.ACCOUNT_SUBSCRIPTIONS, size="2", id="billing-manage-subscriptions"
            ),
            width="100%",
            align="center",
        ),
        rx.cond(
            BillingState.subscriptions.length() > 0,
            table,
            rx.text("You have no subscriptions.", size="2", color_scheme="gray", id="billing-no-subscriptions"),
        ),
    )


def _invoices_section() -> rx.Component:
    table = data_table(
        ["Number", "Date", "Order", "Net", "VAT", "Total", ""],
        BillingState.rows,
        lambda r: [
            rx.table.row_header_cell(
                rx.vstack(
                    rx.text(r["number"], weight="bold", white_space="nowrap"),
                    rx.text(r["kind"], size="1", color_scheme="gray"),
                    spacing="0",
                    align="start",
                )
            ),
            rx.table.cell(rx.text(r["issued"], white_space="nowrap")),
            rx.table.cell(r["order"]),
            rx.table.cell(rx.text(r["net"], white_space="nowrap")),
            rx.table.cell(
                rx.text(rx.cond(r["reverse_charge"], "Reverse charge", r["vat"]), white_space="nowrap"),
            ),
            rx.table.cell(rx.text(r["gross"], weight="bold", white_space="nowrap")),
            rx.table.cell(
                rx.el.a(
                    rx.hstack(rx.icon("download", size=14), rx.text("PDF", size="2"), spacing="1", align="center"),
                    href=r["download"],
                    download=True,
                    reload_document=True,  # a file from an API route: the browser fetches it, not the router
                    id="invoice-pdf-" + r["number"].to(str),
                    style={"color": "var(--accent-11)", "text_decoration": "none"},
                )
            ),
        ],
        "invoices-table",
    )
    export = rx.button(
        rx.icon("file-spreadsheet", size=14),
        "Export CSV",
        variant="soft",
        on_click=BillingState.export_csv,
        id="invoices-export",
        disabled=BillingState.rows.length() == 0,
    )
    return card(
        rx.vstack(
            rx.hstack(rx.heading("Invoices", size="4"), rx.spacer(), export, width="100%", align="center"),
            rx.cond(
                BillingState.rows.length() > 0,
                table,
                empty_state(
                    "receipt",
                    "No invoices yet",
                    "Each paid order gets an invoice here, and each refund a credit note.",
                    id="invoices-empty",
                ),
            ),
            spacing="3",
            width="100%",
            align="start",
        ),
        width="100%",
        id="billing-invoices",
    )


@page(
    route=routes.ACCOUNT_BILLING,
    title="Billing",
    guard="signed_in",
    on_load=BillingState.load_billing,
    nav=NavEntry(label="Billing", icon="receipt", order=40),
)
def account_billing_page() -> rx.Component:
    return account_page(
        page_title("Billing", "Your billing details, subscriptions and invoices."),
        rx.cond(
            BillingState.loaded,
            rx.vstack(_details_section(), _subscriptions_section(), _invoices_section(), spacing="4", width="100%"),
            rx.vstack(
                rx.skeleton(height="20rem", width="100%"),
                rx.skeleton(height="12rem", width="100%"),
                spacing="4",
                width="100%",
                id="billing-skeleton",
            ),
        ),
    )
