"""Admin → Resellers: per-reseller usage (balance, orders and money through the wallet, refunds,
active keys) and a wallet adjustment with a reason (audited, admins only)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import reflex as rx

from smplat.db import session_scope
from smplat.services import audit, resellers
from smplat.services.errors import ServiceError
from smplat.services.money import format_money
from smplat.services.permissions import Permission
from smplat.ui import routes
from smplat.ui.components.common import card, data_table, form_alert, loading_block, page_title
from smplat.ui.components.layout import admin_page
from smplat.ui.registry import NavEntry, page
from smplat.ui.state.auth import AuthState, client_ip, requires

ADJUST_FORM_KEYS = ("adjust_email", "adjust_amount", "adjust_reason")


def _amount_minor(text: str) -> int | None:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    minor = value * 100
    return int(minor) if value.is_finite() and minor == minor.to_integral_value() else None


class ResellerAdminState(AuthState):
    rows: list[dict[str, str]] = []
    loaded: bool = False
    adjust_error: str = ""

    def _load(self) -> None:
        with session_scope() as db:
            self.rows = [
                {
                    "email": r["email"],
                    "state": "active" if r["enabled"] else "disabled",
                    "balance": format_money(r["balance_minor"], r["currency"]),
                    "orders": str(r["orders"]),
                    "spent": format_money(r["spent_minor"], r["currency"]),
                    "refunded": format_money(r["refunded_minor"], r["currency"]),
                    "keys": str(r["active_keys"]),
                }
                for r in resellers.usage(db)
            ]

    @rx.event
    @requires(Permission.MANAGE_RESELLERS)
    def load_resellers(self):
        self.adjust_error = ""
        self._load()
        self.loaded = True

    @rx.event
    @requires(Permission.MANAGE_RESELLERS)
    def adjust(self, form_data: dict[str, Any]):
        values = {k: str(form_data.get(k, "") or "") for k in ADJUST_FORM_KEYS}
        self.adjust_error = ""
        amount = _amount_minor(values["adjust_amount"])
        if amount is None:
            self.adjust_error = "Enter an amount like 25 or -5.50."
            return None
        user = self._current_user()
        actor = audit.Actor.staff(user.id, user.email, user.role, client_ip(self))
        try:
            with session_scope() as db:
                resellers.adjust(db, actor, values["adjust_email"], amount, values["adjust_reason"])
        except ServiceError as exc:
            self.adjust_error = exc.message
            return None
        self._load()
        return [
            rx.toast.success("Wallet adjusted."),
            rx.set_value("adjust_amount", ""),
            rx.set_value("adjust_reason", ""),
        ]


def _adjust_form() -> rx.Component:
    return card(
        rx.form(
            rx.vstack(
                rx.heading("Adjust a wallet", size="4"),
                rx.flex(
                    rx.input(name="adjust_email", id="adjust_email", placeholder="Reseller email", size="3"),
                    rx.input(
                        name="adjust_amount", id="adjust_amount", placeholder="Amount (e.g. 25 or -5.50)", size="3"
                    ),
                    rx.input(name="adjust_reason", id="adjust_reason", placeholder="Reason", size="3", flex="1"),
                    rx.button("Adjust", type="submit", size="3", id="adjust-wallet"),
                    spacing="2",
                    width="100%",
                    direction=rx.breakpoints(initial="column", md="row"),
                ),
                form_alert(ResellerAdminState.adjust_error, alert_id="adjust-error"),
                rx.text(
                    "A new email becomes a reseller. Every adjustment is in the audit log.",
                    size="1",
                    color_scheme="gray",
                ),
                spacing="3",
                width="100%",
                align="start",
            ),
            on_submit=ResellerAdminState.adjust,
            width="100%",
        ),
        width="100%",
    )


@page(
    route=routes.ADMIN_RESELLERS,
    title="Resellers",
    guard=Permission.MANAGE_RESELLERS,
    on_load=ResellerAdminState.load_resellers,
    nav=NavEntry(group="Sales", label="Resellers", icon="store", order=35),
)
def admin_resellers_page() -> rx.Component:
    table = data_table(
        ["Email", "State", "Balance", "Orders", "Spent", "Refunded", "Active keys"],
        ResellerAdminState.rows,
        lambda r: [
            rx.table.row_header_cell(r["email"]),
            rx.table.cell(r["state"]),
            rx.table.cell(r["balance"]),
            rx.table.cell(r["orders"]),
            rx.table.cell(r["spent"]),
            rx.table.cell(r["refunded"]),
            rx.table.cell(r["keys"]),
        ],
        "admin-resellers-table",
    )
    return admin_page(
        page_title("Resellers", "Usage of the reseller API per reseller; wallet adjustments."),
        _adjust_form(),
        rx.cond(ResellerAdminState.loaded, table, loading_block()),
    )
