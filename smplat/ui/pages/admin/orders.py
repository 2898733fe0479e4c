"""Admin → Orders: the operators' queue. Filters live in the URL query (the home's tiles link to
them), pages are keyset pages from `admin_orders.queue_page` (one statement each), columns sort,
dead letters of the ticked orders retry in bulk with a reason, and the filtered set exports as
CSV (audited). Live while open: one change-detection statement per tick (`LiveState`,
ui/state/live.py); the reload keeps the filters, sort and page."""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import urlencode

import reflex as rx
from sqlmodel import Session

from smplat.db import session_scope
from smplat.models.orders import OrderStatus, PaymentStatus
from smplat.services import admin_orders
from smplat.services.admin_orders import QueueFilters
from smplat.services.errors import ServiceError
from smplat.services.permissions import Permission
from smplat.ui import routes
from smplat.ui.components.common import (
    card,
    empty_state,
    form_alert,
    loading_block,
    page_title,
    status_badge,
)
from smplat.ui.components.layout import admin_page
from smplat.ui.pages.admin._actions import COMPACT_SELECT, operator_actor, reason_input
from smplat.ui.registry import NavEntry, page
from smplat.ui.state.auth import AuthState, requires
from smplat.ui.state.live import LiveState, live_ticker

FILTER_KEYS = ("status", "payment", "provider", "product", "from", "to", "customer", "dead", "stuck", "awaiting", "q")


def queue_url(query: dict[str, str]) -> str:
    return routes.ADMIN_ORDERS + ("?" + urlencode(query) if query else "")


class OrderQueueState(AuthState, LiveState):
    rows: list[dict[str, Any]] = []
    query: dict[str, str] = {}  # the filters as URL query values (the form's defaults)
    sort: str = "created"
    descending: bool = True
    next_cursor: str = ""
    page_number: int = 1
    error: str = ""
    loaded: bool = False
    providers: list[dict[str, str]] = []  # the provider and product filters' choices
    products: list[dict[str, str]] = []
    _cursors: list[str] = []  # the cursor of each page shown so far ("" for the first)
    live_permission: ClassVar[Permission] = Permission.VIEW_ORDERS

    def _filters(self) -> QueueFilters:
        return QueueFilters.from_query({**self.query, "sort": self.sort, "dir": "" if self.descending else "asc"})

    def _show(self, cursor: str) -> None:
        with session_scope() as db:
            found = admin_orders.queue_page(db, self._filters(), cursor)
        self.rows = [{k: v for k, v in r.items() if not k.startswith("_")} for r in found.rows]
        self.next_cursor = found.next_cursor
        self.loaded = True

    def _live_read(self, db: Session) -> str:
        return admin_orders.live_version(db)

    def _live_refresh(self) -> None:
        """The page the operator is on, with their filters and sort."""
        self._show(self._cursors[-1] if self._cursors else "")

    @rx.event
    @requires(Permission.VIEW_ORDERS)
    def load(self) -> None:
        filters = QueueFilters.from_query(dict(self.router.url.query_parameters))
        self.query = {k: v for k, v in filters.to_query().items() if k in FILTER_KEYS}
        self.sort, self.descending = filters.sort, filters.descending
        self.error, self.page_number, self._cursors = "", 1, [""]
        with session_scope() as db:
            choices = admin_orders.filter_choices(db)
        self.providers, self.products = choices["providers"], choices["products"]
        self._live_load()

    @rx.event
    @requires(Permission.VIEW_ORDERS)
    def apply_filters(self, form: dict[str, Any]):
        raw = {k: str(form.get(k, "") or "") for k in FILTER_KEYS}
        raw = {k: ("" if v == "all" else v) for k, v in raw.items()}
        return rx.redirect(queue_url(QueueFilters.from_query(raw).to_query()))

    @rx.event
    @requires(Permission.VIEW_ORDERS)
    def sort_by(self, column: str):
        filters = admin_orders.with_sort(self._filters(), str(column))
        return rx.redirect(queue_url(filters.to_query()))

    @rx.event
    @requires(Permission.VIEW_ORDERS)
    def next_page(self) -> None:
        if not self.next_cursor:
            return
        self._cursors.append(self.next_cursor)
        self.page_number += 1
        self._show(self.next_cursor)

    @rx.event
    @requires(Permission.VIEW_ORDERS)
    def previous_page(self) -> None:
        if len(self._cursors) < 2:
            return
        self._cursors.pop()
        self.page_number -= 1
        self._show(self._cursors[-1])

    @rx.event
    @requires(Permission.VIEW_ORDERS)
    def export(self):
        with session_scope() as db:
            text = admin_orders.export_csv(db, operator_actor(self), self._filters())
        return rx.download(data=text, filename="orders.csv")

    @rx.event
    @requires(Permission.ACT_ON_ORDERS)
    def bulk_retry(self, form: dict[str, Any]):
        shown = {int(r["id"]) for r in self.rows}
        # only the orders on this page: a ticked box is submitted as "pick-<id>"
        chosen = [i for i in shown if str(form.get(f"pick-{i}", "")) in ("on", "true", "1")]
        if not chosen:
            self.error = "Tick the orders whose dead letters should be retried."
            return None
        try:
            with session_scope() as db:
                done = admin_orders.bulk_retry(db, operator_actor(self), chosen, str(form.get("reason", "")))
        except ServiceError as exc:
            self.error = exc.message[:1].upper() + exc.message[1:] + "."
            return None
        self.error = ""
        self._show(self._cursors[-1] if self._cursors else "")
        return rx.toast.success(f"{done} dead-lettered task(s) queued again.")


def _filter_select(name: str, options: list[rx.Component], **style: str) -> rx.Component:
    """A filter's select: "any <name>" first, keyed by the URL's value (re-drawn with it)."""
    return rx.el.select(
        rx.el.option("any " + name, value="all"),
        *options,
        name=name,
        id="filter-" + name,
        default_value=OrderQueueState.query.get(name, "all"),
        # the choices of named rows arrive with the first load: drawn again then, value chosen
        key=OrderQueueState.query.get(name, "all").to(str) + OrderQueueState.loaded.to(str),
        style={**COMPACT_SELECT, **style},
    )


def _select(name: str, choices: list[str]) -> rx.Component:
    """A filter among stored values (statuses)."""
    return _filter_select(name, [rx.el.option(c.replace("_", " "), value=c) for c in choices])


def _named_select(name: str, choices: rx.Var) -> rx.Component:
    """A filter among named rows (providers, products): the name shown, the id sent."""
    return _filter_select(
        name, [rx.foreach(choices, lambda c: rx.el.option(c["label"], value=c["value"]))], max_width="11rem"
    )


def _text(name: str, placeholder: str, kind: str = "text", width: str = "10rem") -> rx.Component:
    return rx.input(
        name=name,
        placeholder=placeholder,
        type=kind,
        size="1",
        width=width,
        id="filter-" + name,
        default_value=OrderQueueState.query.get(name, ""),
        key="filter-" + name + OrderQueueState.query.get(name, ""),
    )


def _check(name: str, label: str) -> rx.Component:
    return rx.el.label(
        rx.el.input(
            type="checkbox",
            name=name,
            value="1",
            id="filter-" + name,
            default_checked=OrderQueueState.query.get(name, "") == "1",
            key="filter-" + name + OrderQueueState.query.get(name, ""),
        ),
        " " + label,
        style={"font_size": "13px"},
    )


def _filters_form() -> rx.Component:
    def row(*children: rx.Component) -> rx.Component:
        return rx.flex(*children, spacing="2", wrap="wrap", align="center")

    return rx.form(
        rx.vstack(
            # what: the text search and the choices
            row(
                _text("q", "Order number, email or link", width="15rem"),
                _select("status", [s.value for s in OrderStatus]),
                _select("payment", [s.value for s in PaymentStatus]),
                _named_select("provider", OrderQueueState.providers),
                _named_select("product", OrderQueueState.products),
            ),
            # who, when, and the work to do
            row(
                _text("customer", "Customer email", width="10rem"),
                _text("from", "From", "date", "8rem"),
                _text("to", "To", "date", "8rem"),
                _check("dead", "dead letters"),
                _check("stuck", "stuck"),
                _check("awaiting", "awaiting placement"),
                rx.hstack(  # together, wherever the row wraps
                    rx.button("Filter", size="1", type="submit", id="filter-submit"),
                    rx.link("Clear", href=routes.ADMIN_ORDERS, size="2"),
                    spacing="2",
                    align="center",
                ),
            ),
            spacing="2",
        ),
        on_submit=OrderQueueState.apply_filters,
        id="queue-filters",
    )


def _sort_header(label: str, column: str) -> rx.Component:
    arrow = rx.cond(OrderQueueState.sort == column, rx.cond(OrderQueueState.descending, " ↓", " ↑"), "")
    return rx.link(label, arrow, on_click=OrderQueueState.sort_by(column), id="sort-" + column, cursor="pointer")


def _table() -> rx.Component:
    return rx.table.root(
        rx.table.header(
            rx.table.row(
                rx.table.column_header_cell(""),
                rx.table.column_header_cell("Order"),
                rx.table.column_header_cell("Customer"),
                rx.table.column_header_cell(_sort_header("Placed", "created")),
                rx.table.column_header_cell("Items"),
                rx.table.column_header_cell(_sort_header("Total", "total")),
                rx.table.column_header_cell("Status"),
                rx.table.column_header_cell("Payment"),
            )
        ),
        rx.table.body(
            rx.foreach(
                OrderQueueState.rows,
                lambda o: rx.table.row(
                    rx.table.cell(
                        rx.el.input(type="checkbox", name="pick-" + o["id"].to(str), id="pick-" + o["number"].to(str))
                    ),
                    rx.table.row_header_cell(
                        rx.link(
                            o["number"],
                            href=routes.ADMIN_ORDERS + "/" + o["number"].to(str),
                            weight="medium",
                            id="admin-order-" + o["number"].to(str),
                        )
                    ),
                    rx.table.cell(o["customer_email"]),
                    rx.table.cell(o["placed_at"]),
                    rx.table.cell(o["items"]),
                    rx.table.cell(o["total"]),
                    rx.table.cell(status_badge(o["status"])),
                    rx.table.cell(status_badge(o["payment_status"])),
                ),
            )
        ),
        width="100%",
        id="orders-table",
    )


@page(
    route=routes.ADMIN_ORDERS,
    title="Orders",
    guard=Permission.VIEW_ORDERS,
    on_load=OrderQueueState.load,
    nav=NavEntry(group="Sales", label="Orders", icon="package", order=10),
)
def admin_orders_page() -> rx.Component:
    return admin_page(
        page_title(
            "Orders",
            "The queue: filter, search, sort; tick orders to retry their dead letters.",
            rx.button("Export CSV", variant="soft", size="2", on_click=OrderQueueState.export, id="export-orders"),
        ),
        card(_filters_form(), width="100%"),
        form_alert(OrderQueueState.error, alert_id="queue-error"),
        rx.cond(
            OrderQueueState.loaded,
            rx.cond(
                OrderQueueState.rows.length() > 0,
                rx.form(
                    _table(),
                    rx.flex(
                        reason_input("bulk-reason", placeholder="Reason for the retry"),
                        rx.button("Retry dead letters of ticked orders", size="1", type="submit", id="bulk-retry"),
                        rx.spacer(),
                        rx.button(
                            "← Previous",
                            size="1",
                            variant="soft",
                            type="button",
                            disabled=OrderQueueState.page_number <= 1,
                            on_click=OrderQueueState.previous_page,
                            id="previous-page",
                        ),
                        rx.text("Page ", OrderQueueState.page_number.to(str), size="2", id="page-number"),
                        rx.button(
                            "Next →",
                            size="1",
                            variant="soft",
                            type="button",
                            disabled=OrderQueueState.next_cursor == "",
                            on_click=OrderQueueState.next_page,
                            id="next-page",
                        ),
                        spacing="2",
                        align="center",
                        width="100%",
                        margin_top="0.75rem",
                    ),
                    on_submit=OrderQueueState.bulk_retry,
                    width="100%",
                ),
                empty_state("package", "No orders", "No order matches these filters.", id="admin-orders-empty"),
            ),
            loading_block(),
        ),
        live_ticker(OrderQueueState.live_tick),
    )
