"""Admin → Customers: search accounts (email, name or an order number) in keyset pages, and a
customer's page: orders, spend, internal notes, sessions, linked profiles, and (admins) role.

The rules live in `smplat.services.customers` and `smplat.services.staff`; the query is in
the URL (`?q=`) so a search can be shared and reloaded. Both pages are live while open
(`LiveState`: `live.customers`, `live.customer`), keeping the search, the page and a note being typed."""

from __future__ import annotations

from typing import Any, ClassVar

import reflex as rx
from sqlmodel import Session

from smplat.db import session_scope
from smplat.services import customers, live, staff
from smplat.services.errors import ServiceError
from smplat.services.permissions import Permission
from smplat.ui import routes
from smplat.ui.components.common import (
    card,
    data_table,
    empty_state,
    form_alert,
    loading_block,
    page_title,
    stat_card,
    status_badge,
)
from smplat.ui.components.layout import admin_page
from smplat.ui.pages.admin._actions import action_select, operator_actor
from smplat.ui.registry import NavEntry, page
from smplat.ui.state.auth import AuthState, requires
from smplat.ui.state.live import LiveState, live_ticker

ROLE_CHOICES = [("customer", "Customer"), ("operator", "Operator"), ("admin", "Admin")]


class CustomersState(AuthState, LiveState):
    rows: list[dict[str, Any]] = []
    query: str = ""
    next_before: int = 0
    page_number: int = 1
    _pages: list[int] = [0]
    loaded: bool = False
    live_permission: ClassVar[Permission] = Permission.VIEW_CUSTOMERS

    def _live_read(self, db: Session) -> str:
        return live.customers(db)

    def _live_refresh(self) -> None:
        self._show(self._pages[-1])  # the operator's search and page

    def _show(self, before: int) -> None:
        with session_scope() as db:
            found = customers.search(db, self.query, before_id=before or None)
        self.rows = found["rows"]
        self.next_before = found["next_before"] or 0
        self.loaded = True

    @rx.event
    @requires(Permission.VIEW_CUSTOMERS)
    def load(self) -> None:
        self.query = str(self.router.url.query_parameters.get("q", "") or "")[:200]
        self.page_number, self._pages = 1, [0]
        self._live_load()

    @rx.event
    @requires(Permission.VIEW_CUSTOMERS)
    def search(self, form: dict[str, Any]):
        query = str(form.get("q", "") or "").strip()[:200]
        return rx.redirect(routes.ADMIN_CUSTOMERS + (f"?q={_quote(query)}" if query else ""))

    @rx.event
    @requires(Permission.VIEW_CUSTOMERS)
    def next_page(self) -> None:
        if not self.next_before:
            return
        self._pages.append(self.next_before)
        self.page_number += 1
        self._show(self.next_before)

    @rx.event
    @requires(Permission.VIEW_CUSTOMERS)
    def previous_page(self) -> None:
        if len(self._pages) < 2:
            return
        self._pages.pop()
        self.page_number -= 1
        self._show(self._pages[-1])


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


class CustomerState(AuthState, LiveState):
    customer: dict[str, Any] = {}
    error: str = ""
    notice: str = ""
    loaded: bool = False
    _shown_user: str = ""  # the account the guarded loader opened (what the tick watches)
    live_permission: ClassVar[Permission] = Permission.VIEW_CUSTOMERS

    def _user_id(self) -> str:
        return self._shown_user

    def _reload(self) -> None:
        try:
            with session_scope() as db:
                self.customer = customers.detail(db, self._user_id())
        except ServiceError:
            self.customer = {}
        self.loaded = True

    def _live_read(self, db: Session) -> str:
        return live.customer(db, int(self._shown_user) if self._shown_user.isdigit() else 0)

    def _live_refresh(self) -> None:
        self._reload()  # the note being typed and the notices stay

    @rx.event
    @requires(Permission.VIEW_CUSTOMERS)
    def load(self) -> None:
        self.error, self.notice, self.loaded = "", "", False
        self._shown_user = str(self.router.page.params.get("user_id", ""))[:20]
        self._live_load()

    @rx.event
    @requires(Permission.VIEW_CUSTOMERS)
    def add_note(self, form: dict[str, Any]):
        try:
            with session_scope() as db:
                customers.add_note(db, operator_actor(self), self._user_id(), str(form.get("note", "")))
        except ServiceError as exc:
            self.error, self.notice = exc.message, ""
            return None
        self.error, self.notice = "", "Note added."
        self._reload()
        return rx.set_value("customer-note", "")

    @rx.event
    @requires(Permission.MANAGE_STAFF)
    def set_role(self, form: dict[str, Any]):
        try:
            with session_scope() as db:
                user = staff.change_role(db, operator_actor(self), self._user_id(), str(form.get("action", "")))
                done = f"{user.email} is now {user.role}; their sessions were ended."
        except ServiceError as exc:
            self.error, self.notice = exc.message, ""
            return None
        self.error, self.notice = "", done
        self._reload()
        return rx.toast.success(done)


@page(
    route=routes.ADMIN_CUSTOMERS,
    title="Customers",
    guard=Permission.VIEW_CUSTOMERS,
    on_load=CustomersState.load,
    nav=NavEntry(group="Sales", label="Customers", icon="users", order=30),
)
def admin_customers_page() -> rx.Component:
    table = data_table(
        ["Email", "Name", "Role", "Orders", "Spend", "Joined", "Last sign-in"],
        CustomersState.rows,
        lambda u: [
            rx.table.row_header_cell(
                rx.link(u["email"], href="/admin/customers/" + u["id"].to(str), id="customer-" + u["id"].to(str))
            ),
            rx.table.cell(u["full_name"]),
            rx.table.cell(status_badge(u["role"])),
            rx.table.cell(u["orders"].to(str)),
            rx.table.cell(u["spend"]),
            rx.table.cell(u["created_at"]),
            rx.table.cell(u["last_login"]),
        ],
        "admin-customers-table",
    )
    pager = rx.hstack(
        rx.button(
            "← Previous",
            variant="soft",
            size="2",
            disabled=CustomersState.page_number <= 1,
            on_click=CustomersState.previous_page,
        ),
        rx.text("Page ", CustomersState.page_number.to(str), size="2", color_scheme="gray"),
        rx.button(
            "Next →",
            variant="soft",
            size="2",
            disabled=CustomersState.next_before == 0,
            on_click=CustomersState.next_page,
        ),
        spacing="3",
        align="center",
    )
    search = rx.form(
        rx.hstack(
            rx.input(
                name="q",
                id="customer-search",
                placeholder="Email, name or order number",
                default_value=CustomersState.query,
                key=CustomersState.query,
                width="22rem",
            ),
            rx.button("Search", type="submit", id="customer-search-submit"),
            spacing="2",
        ),
        on_submit=CustomersState.search,
    )
    return admin_page(
        page_title("Customers", "Accounts, newest first: search by email, name or an order number."),
        live_ticker(CustomersState.live_tick),
        search,
        rx.cond(
            CustomersState.loaded,
            rx.cond(
                CustomersState.rows.length() > 0,
                rx.vstack(table, pager, spacing="3", width="100%"),
                empty_state(
                    "users",
                    "No customers found",
                    "Nobody matches this search. Try part of the email address.",
                    id="customers-empty",
                ),
            ),
            loading_block(),
        ),
    )


def _section(title: str, *children: rx.Component) -> rx.Component:
    return rx.vstack(rx.heading(title, size="4"), *children, spacing="2", width="100%", margin_top="1.25rem")


def _customer_body() -> rx.Component:
    c = CustomerState.customer
    orders = data_table(
        ["Order", "Status", "Payment", "Total", "Refunded", "Placed"],
        c["orders"].to(list[dict[str, str]]),
        lambda o: [
            rx.table.row_header_cell(rx.link(o["number"], href="/admin/orders/" + o["number"])),
            rx.table.cell(status_badge(o["status"])),
            rx.table.cell(status_badge(o["payment_status"])),
            rx.table.cell(o["total"]),
            rx.table.cell(o["refunded"]),
            rx.table.cell(o["placed_at"]),
        ],
        "customer-orders",
    )
    notes = rx.vstack(
        rx.form(
            rx.vstack(
                rx.text_area(name="note", id="customer-note", placeholder="An internal note (never shown to them)"),
                rx.button("Add note", type="submit", id="customer-note-submit", size="2"),
                spacing="2",
                width="100%",
                align="start",
            ),
            on_submit=CustomerState.add_note,
            width="100%",
        ),
        rx.foreach(
            c["notes"].to(list[dict[str, str]]),
            lambda n: card(
                rx.text(n["body"], size="2", white_space="pre-wrap"),
                rx.text(n["author"] + " · " + n["at"], size="1", color_scheme="gray"),
            ),
        ),
        spacing="2",
        width="100%",
        id="customer-notes",
    )
    sessions = data_table(
        ["Device", "IP", "Signed in", "Last seen", "State"],
        c["sessions"].to(list[dict[str, str]]),
        lambda s: [
            rx.table.row_header_cell(s["device"]),
            rx.table.cell(s["ip"]),
            rx.table.cell(s["signed_in_at"]),
            rx.table.cell(s["last_seen"]),
            rx.table.cell(status_badge(s["state"])),
        ],
        "customer-sessions",
    )
    profiles = data_table(
        ["Platform", "Handle", "Status", "Last refreshed"],
        c["profiles"].to(list[dict[str, str]]),
        lambda p: [
            rx.table.row_header_cell(p["platform"]),
            rx.table.cell(p["handle"]),
            rx.table.cell(status_badge(p["status"])),
            rx.table.cell(p["last_refreshed"]),
        ],
        "customer-profiles",
    )
    role_form = rx.cond(
        CustomerState.is_admin,
        rx.form(
            rx.hstack(
                rx.text("Role", size="2", weight="medium"),
                action_select(ROLE_CHOICES, "customer-role", default=c["role"].to(str)),
                rx.button("Change role", type="submit", size="1", variant="soft", id="customer-role-submit"),
                spacing="2",
                align="center",
            ),
            on_submit=CustomerState.set_role,
            key=c["role"].to(str),
        ),
    )
    return rx.vstack(
        page_title(
            c["email"].to(str),
            c["full_name"].to(str)
            + " · joined "
            + c["created_at"].to(str)
            + " · last sign-in "
            + c["last_login"].to(str),
        ),
        rx.hstack(
            status_badge(c["role"].to(str)),
            rx.cond(c["is_active"], rx.fragment(), rx.badge("deactivated", color_scheme="red")),
            rx.cond(c["verified"], rx.badge("email verified", color_scheme="green", variant="soft")),
            rx.cond(c["two_factor"], rx.badge("two-factor on", color_scheme="green", variant="soft")),
            role_form,
            spacing="3",
            align="center",
            wrap="wrap",
        ),
        form_alert(CustomerState.error, alert_id="customer-error"),
        form_alert(CustomerState.notice, color="green", icon="circle-check", alert_id="customer-notice"),
        rx.grid(
            stat_card("Orders", c["orders_count"].to(str), icon="package"),
            stat_card("Spend (net of refunds)", c["spend"].to(str), icon="wallet"),
            stat_card("Average order", c["average_order"].to(str), icon="calculator"),
            stat_card("Last order", c["last_order"].to(str), icon="calendar"),
            columns=rx.breakpoints(initial="2", md="4"),
            spacing="3",
            width="100%",
            id="customer-figures",
        ),
        _section(
            "Orders",
            rx.cond(
                c["orders"].to(list).length() > 0,
                orders,
                rx.text("No orders yet.", size="2", color_scheme="gray"),
            ),
        ),
        _section("Notes", notes),
        _section(
            "Sessions",
            rx.cond(
                c["sessions"].to(list).length() > 0,
                sessions,
                rx.text("Never signed in.", size="2", color_scheme="gray"),
            ),
        ),
        _section(
            "Linked profiles",
            rx.cond(
                c["profiles"].to(list).length() > 0,
                profiles,
                rx.text("No linked profiles.", size="2", color_scheme="gray"),
            ),
        ),
        spacing="3",
        width="100%",
        align="start",
    )


@page(route=routes.ADMIN_CUSTOMER, title="Customer", guard=Permission.VIEW_CUSTOMERS, on_load=CustomerState.load)
def admin_customer_page() -> rx.Component:
    return admin_page(
        rx.link("← Customers", href=routes.ADMIN_CUSTOMERS, size="2", color_scheme="gray"),
        live_ticker(CustomerState.live_tick),
        rx.cond(
            CustomerState.customer.contains("email"),
            _customer_body(),
            rx.cond(
                CustomerState.loaded,
                empty_state("search-x", "No such customer", "Check the link from the customer list."),
                loading_block(),
            ),
        ),
    )
