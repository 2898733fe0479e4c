"""Admin → Resellers: per-reseller usage (balance, orders and money through the wallet, refunds,
active keys, prices), a wallet adjustment with a reason, and each reseller's prices: a markup
over cost and per-service rates (both audited, admins only)."""

from __future__ import annotations

from typing import Any

import reflex as rx

from smplat.db import session_scope
from smplat.services import audit, resellers
from smplat.services.errors import ServiceError
from smplat.services.money import format_money, parse_amount
from smplat.services.permissions import Permission
from smplat.settings import get_settings
from smplat.ui import routes
from smplat.ui.components.common import card, data_table, form_alert, loading_block, page_title
from smplat.ui.components.layout import admin_page
from smplat.ui.registry import NavEntry, page
from smplat.ui.state.auth import AuthState, client_ip, requires

ADJUST_FORM_KEYS = ("adjust_email", "adjust_amount", "adjust_reason")
PRICES_FORM_KEYS = ("prices_email", "prices_markup", "prices_rates")


def _markup_text(bps: int | None, default_bps: int) -> str:
    if bps is None:
        return f"default (+{default_bps / 100:g} %)"
    return f"+{bps / 100:g} %"


def _rates_text(rates: dict[str, int], currency: str) -> str:
    return ", ".join(f"#{k}: {format_money(v, currency)}" for k, v in sorted(rates.items(), key=lambda kv: int(kv[0])))


def _amount_minor(text: str) -> int | None:
    return parse_amount(text, allow_negative=True)


class ResellerAdminState(AuthState):
    rows: list[dict[str, str]] = []
    loaded: bool = False
    adjust_error: str = ""
    prices_error: str = ""

    def _load(self) -> None:
        default_bps = get_settings().reseller_default_markup_bps
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
                    "markup": _markup_text(r["markup_bps"], default_bps),
                    "rates": _rates_text(r["rates"], r["currency"]) or "—",
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
    def set_prices(self, form_data: dict[str, Any]):
        """A reseller's markup over cost (blank: the default) and per-service rates (replaced)."""
        values = {k: str(form_data.get(k, "") or "") for k in PRICES_FORM_KEYS}
        self.prices_error = ""
        user = self._current_user()
        actor = audit.Actor.staff(user.id, user.email, user.role, client_ip(self))
        try:
            markup = resellers.parse_markup(values["prices_markup"])
            rates = resellers.parse_rates(values["prices_rates"])
            with session_scope() as db:
                resellers.set_prices(db, actor, values["prices_email"], markup_bps=markup, rates=rates)
        except ServiceError as exc:
            self.prices_error = exc.message
            return None
        self._load()
        return rx.toast.success("Prices saved.")

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


def _prices_form() -> rx.Component:
    return card(
        rx.form(
            rx.vstack(
                rx.heading("Reseller prices", size="4"),
                rx.flex(
                    rx.input(name="prices_email", id="prices_email", placeholder="Reseller email", size="3"),
                    rx.input(
                        name="prices_markup",
                        id="prices_markup",
                        placeholder="Markup over cost in % (blank: default)",
                        size="3",
                        flex="1",
                    ),
                    spacing="2",
                    width="100%",
                    direction=rx.breakpoints(initial="column", md="row"),
                ),
                rx.text_area(
                    name="prices_rates",
                    id="prices_rates",
                    placeholder="Per-service rates, one per line: service id = rate per 1000 (e.g. 3 = 43.21)",
                    rows="4",
                    width="100%",
                ),
                rx.button("Save prices", type="submit", size="3", id="save-prices"),
                form_alert(ResellerAdminState.prices_error, alert_id="prices-error"),
                rx.text(
                    "A per-service rate wins over the markup (per package for Package services); the markup "
                    "applies to the provider's cost and never goes above the storefront price. Saving "
                    "replaces the reseller's rates. Audited.",
                    size="1",
                    color_scheme="gray",
                ),
                spacing="3",
                width="100%",
                align="start",
            ),
            on_submit=ResellerAdminState.set_prices,
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
        ["Email", "State", "Balance", "Orders", "Spent", "Refunded", "Active keys", "Markup", "Own rates"],
        ResellerAdminState.rows,
        lambda r: [
            rx.table.row_header_cell(r["email"]),
            rx.table.cell(r["state"]),
            rx.table.cell(r["balance"]),
            rx.table.cell(r["orders"]),
            rx.table.cell(r["spent"]),
            rx.table.cell(r["refunded"]),
            rx.table.cell(r["keys"]),
            rx.table.cell(r["markup"]),
            rx.table.cell(r["rates"]),
        ],
        "admin-resellers-table",
    )
    return admin_page(
        page_title("Resellers", "Usage of the reseller API per reseller; wallet adjustments and prices."),
        rx.grid(_adjust_form(), _prices_form(), columns=rx.breakpoints(initial="1", lg="2"), spacing="4", width="100%"),
        rx.cond(ResellerAdminState.loaded, table, loading_block()),
    )
