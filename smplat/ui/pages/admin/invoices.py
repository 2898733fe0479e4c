"""Admin → Invoices: every invoice and credit note, newest first; filters by period, number and
customer; keyset pages of 50; CSV export (formula cells neutralised, the export audit-logged);
each PDF downloadable. Rules and queries live in `smplat.services.invoices`. Live while open
(`LiveState`): one statement per tick (`live.invoices`); the filters and page stay."""

from __future__ import annotations

from typing import Any, ClassVar

import reflex as rx
from sqlmodel import Session

from smplat.db import session_scope
from smplat.models.base import utcnow
from smplat.services import invoices, live
from smplat.services.errors import ServiceError
from smplat.services.permissions import Permission
from smplat.ui import routes
from smplat.ui.components.common import card, data_table, empty_state, form_alert, loading_block, page_title
from smplat.ui.components.layout import admin_page
from smplat.ui.pages.admin._actions import operator_actor
from smplat.ui.registry import NavEntry, page
from smplat.ui.state.auth import AuthState, requires
from smplat.ui.state.live import LiveState, live_ticker

FILTER_KEYS = ("number", "customer", "date_from", "date_to")


class AdminInvoicesState(AuthState, LiveState):
    rows: list[dict[str, Any]] = []
    filters: dict[str, str] = {}
    cursor: int = 0  # the keyset of this page (0: the newest page)
    next_cursor: int = 0  # the keyset of the next (older) page, 0 when this is the last
    previous: list[int] = []  # the cursors of the newer pages, to go back
    error: str = ""
    loaded: bool = False
    live_permission: ClassVar[Permission] = Permission.VIEW_ORDERS

    def _live_read(self, db: Session) -> str:
        return live.invoices(db)

    def _live_refresh(self) -> None:
        self._reload()  # the operator's filters and page

    def _reload(self) -> None:
        filters = invoices.Filters.parse(self.filters)
        with session_scope() as db:
            self.rows, following = invoices.admin_page(db, filters, before_id=self.cursor or None)
        self.next_cursor = following or 0
        self.loaded = True

    @rx.event
    @requires(Permission.VIEW_ORDERS)
    def load(self) -> None:
        self.filters, self.cursor, self.previous, self.error = {}, 0, [], ""
        self._live_load()

    @rx.event
    @requires(Permission.VIEW_ORDERS)
    def apply_filters(self, form: dict[str, Any]) -> None:
        values = {key: str(form.get(key, "") or "").strip() for key in FILTER_KEYS}
        try:
            invoices.Filters.parse(values)
        except ServiceError as exc:
            self.error = exc.message
            return
        self.filters, self.cursor, self.previous, self.error = values, 0, [], ""
        self._reload()

    @rx.event
    @requires(Permission.VIEW_ORDERS)
    def clear_filters(self) -> None:
        self.filters, self.cursor, self.previous, self.error = {}, 0, [], ""
        self._reload()

    @rx.event
    @requires(Permission.VIEW_ORDERS)
    def older(self) -> None:
        if self.next_cursor:
            self.previous = [*self.previous, self.cursor]
            self.cursor = self.next_cursor
            self._reload()

    @rx.event
    @requires(Permission.VIEW_ORDERS)
    def newer(self) -> None:
        if self.previous:
            self.cursor, self.previous = self.previous[-1], self.previous[:-1]
            self._reload()

    @rx.event
    @requires(Permission.VIEW_ORDERS)
    def export_csv(self):
        try:
            with session_scope() as db:
                text = invoices.export_csv(db, operator_actor(self), invoices.Filters.parse(self.filters))
        except ServiceError as exc:
            return rx.toast.error(exc.message)
        return rx.download(data=text, filename=f"invoices-{utcnow():%Y%m%d-%H%M}.csv", mime_type="text/csv")


def _filter_input(name: str, label: str, placeholder: str, width: str = "11rem", type: str = "text") -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=f"invoices-{name}", style={"font_size": "12px"}),
        rx.input(
            name=name,
            id=f"invoices-{name}",
            placeholder=placeholder,
            type=type,
            size="2",
            width=width,
            default_value=AdminInvoicesState.filters.get(name, ""),
        ),
        spacing="1",
        align="start",
    )


@page(
    route=routes.ADMIN_INVOICES,
    title="Invoices",
    guard=Permission.VIEW_ORDERS,
    on_load=AdminInvoicesState.load,
    nav=NavEntry(group="Sales", label="Invoices", icon="receipt", order=22),
)
def admin_invoices_page() -> rx.Component:
    filters = card(
        rx.form(
            rx.hstack(
                _filter_input("number", "Number", "INV-2026-", "10rem"),
                _filter_input("customer", "Customer email", "name@example.com", "12rem"),
                _filter_input("date_from", "Issued from", "", "10rem", "date"),
                _filter_input("date_to", "Issued until", "", "10rem", "date"),
                rx.button("Filter", type="submit", id="invoices-filter"),
                rx.button(
                    "Clear",
                    type="button",
                    variant="soft",
                    on_click=AdminInvoicesState.clear_filters,
                    id="invoices-clear",
                ),
                spacing="3",
                align="end",
                wrap="wrap",
            ),
            on_submit=AdminInvoicesState.apply_filters,
            key=AdminInvoicesState.filters.to_string(),
            width="100%",
        ),
        width="100%",
    )
    table = data_table(
        ["Number", "Issued", "Order", "Customer", "Net", "VAT", "Total", ""],
        AdminInvoicesState.rows,
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
            rx.table.cell(
                rx.cond(
                    r["order"] != "",
                    rx.link(r["order"], href=routes.ADMIN_ORDERS + "/" + r["order"].to(str), white_space="nowrap"),
                    rx.text("—"),
                )
            ),
            rx.table.cell(
                rx.vstack(
                    rx.text(r["buyer"], rx.cond(r["country"] != "", " · " + r["country"].to(str), "")),
                    rx.text(r["customer_email"], size="1", color_scheme="gray"),
                    spacing="0",
                    align="start",
                )
            ),
            rx.table.cell(rx.text(r["net"], white_space="nowrap")),
            rx.table.cell(
                rx.text(
                    rx.cond(
                        r["reverse_charge"], "Reverse charge", r["vat"].to(str) + " (" + r["vat_rate"].to(str) + ")"
                    ),
                    white_space="nowrap",
                )
            ),
            rx.table.cell(rx.text(r["gross"], weight="bold", white_space="nowrap")),
            rx.table.cell(
                rx.el.a(
                    rx.icon("file-down", size=18),
                    href=r["download"],
                    title="Download PDF",
                    aria_label="Download PDF of " + r["number"].to(str),
                    download=True,
                    reload_document=True,  # a file from an API route: the browser fetches it, not the router
                    style={"color": "var(--accent-11)", "text_decoration": "none"},
                )
            ),
        ],
        "admin-invoices-table",
    )
    pager = rx.hstack(
        rx.button(
            "← Newer",
            variant="soft",
            on_click=AdminInvoicesState.newer,
            disabled=AdminInvoicesState.previous.length() == 0,
            id="invoices-newer",
        ),
        rx.button(
            "Older →",
            variant="soft",
            on_click=AdminInvoicesState.older,
            disabled=AdminInvoicesState.next_cursor == 0,
            id="invoices-older",
        ),
        spacing="2",
    )
    export = rx.button(
        rx.icon("download", size=14), "Export CSV", on_click=AdminInvoicesState.export_csv, id="admin-invoices-export"
    )
    return admin_page(
        page_title("Invoices", "Every invoice and credit note, as issued.", export),
        live_ticker(AdminInvoicesState.live_tick),
        rx.vstack(
            filters,
            form_alert(AdminInvoicesState.error, alert_id="invoices-error"),
            rx.cond(
                AdminInvoicesState.loaded,
                rx.cond(
                    AdminInvoicesState.rows.length() > 0,
                    rx.vstack(table, pager, spacing="3", width="100%"),
                    empty_state("receipt", "No invoices", "No invoice matches these filters yet.", id="invoices-empty"),
                ),
                loading_block(),
            ),
            spacing="4",
            width="100%",
            align="start",
        ),
    )
