"""My account → Reseller: wallet balance and ledger, top-ups through Stripe Checkout, the
reseller's price list (CSV download), API keys (created and shown once, named, optionally
limited to IPs, revocable) and the mass order form (`service | link | quantity`).

Every rule is in `services.resellers`; a customer who is not a reseller sees how to become one.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from smplat.db import session_scope
from smplat.services import resellers
from smplat.services.errors import ServiceError
from smplat.services.money import format_money, parse_amount
from smplat.settings import get_settings
from smplat.ui import routes
from smplat.ui.components.common import card, data_table, empty_state, form_alert, page_title
from smplat.ui.components.layout import account_page
from smplat.ui.registry import NavEntry, page
from smplat.ui.state.auth import AuthState, navigate_hard, signed_in_only

KEY_FORM_KEYS = ("key_name", "key_ips")
MASS_FORM_KEYS = ("mass_orders",)
TOPUP_FORM_KEYS = ("topup_amount",)
TOPUP_NOTICES = {
    "paid": "Thank you: your top-up is paid. The balance grows as soon as Stripe confirms it, usually within seconds.",
    "cancelled": "The top-up was cancelled; nothing was charged.",
}


def _amount_minor(text: str) -> int | None:
    return parse_amount(text, allow_negative=False)


class ResellerState(AuthState):
    loaded: bool = False
    balance: str = ""
    ledger_rows: list[dict[str, str]] = []
    keys: list[dict[str, str]] = []
    new_key: str = ""  # shown once, right after creation
    key_error: str = ""
    mass_error: str = ""
    mass_results: list[dict[str, str]] = []
    prices: list[dict[str, str]] = []
    currency: str = ""
    topup_error: str = ""
    topup_notice: str = ""
    topup_hint: str = ""

    def _load(self, db, user_id: int) -> None:
        account = resellers.account_for_user(db, user_id)
        self.is_reseller = account is not None and account.enabled
        if not self.is_reseller:
            self.balance, self.ledger_rows, self.keys, self.prices = "", [], [], []
            return
        self.currency = account.currency
        self.balance = format_money(account.balance_minor, account.currency)
        low, high = resellers.topup_limits()
        self.topup_hint = f"Between {format_money(low, account.currency)} and {format_money(high, account.currency)}."
        caller = resellers.caller_for_user(db, user_id)
        self.prices = [
            {k: str(row[k]) for k in resellers.PRICE_LIST_COLUMNS}
            | {
                "rate_shown": f"{row['rate']} {account.currency} "
                + ("per package" if resellers.per_package(row["type"]) else "per 1000")
            }
            for row in resellers.services(db, caller)
        ]
        self.ledger_rows = [
            {
                "when": r["created_at"][:16].replace("T", " "),
                "kind": r["kind"],
                "amount": format_money(r["amount_minor"], account.currency),
                "after": format_money(r["balance_after_minor"], account.currency),
                "reason": r["reason"],
            }
            for r in resellers.ledger(db, account.id, 20)
        ]
        self.keys = [
            {**{k: str(v) for k, v in key.items()}, "state": "revoked" if key["revoked"] else "active"}
            for key in resellers.list_keys(db, account.id)
        ]

    @rx.event
    @signed_in_only
    def load_reseller(self):
        user = self._current_user()
        self.new_key, self.key_error, self.mass_error, self.mass_results = "", "", "", []
        self.topup_error = ""
        self.topup_notice = TOPUP_NOTICES.get(str(self.router.url.query_parameters.get("topup", "")), "")
        with session_scope() as db:
            self._load(db, user.id)
        self.loaded = True

    @rx.event
    @signed_in_only
    def start_topup(self, form_data: dict[str, Any]):
        """Send the reseller to Stripe Checkout for the amount; the webhook credits the wallet."""
        user = self._current_user()
        values = {k: str(form_data.get(k, "") or "") for k in TOPUP_FORM_KEYS}
        self.topup_error = ""
        amount = _amount_minor(values["topup_amount"])
        if amount is None:
            self.topup_error = "Enter an amount like 50 or 125.50."
            return None
        try:
            with session_scope() as db:
                url = resellers.start_topup(db, user.id, amount, get_settings().public_base_url)
        except ServiceError as exc:
            self.topup_error = exc.message
            return None
        return navigate_hard(url)

    @rx.event
    @signed_in_only
    def download_prices(self):
        user = self._current_user()
        with session_scope() as db:
            caller = resellers.caller_for_user(db, user.id)
            if caller is None:
                return rx.toast.error("Your account is not a reseller account.")
            text = resellers.price_list_csv(db, caller)
        return rx.download(data=text, filename="price-list.csv", mime_type="text/csv")

    @rx.event
    @signed_in_only
    def create_key(self, form_data: dict[str, Any]):
        user = self._current_user()
        values = {k: str(form_data.get(k, "") or "") for k in KEY_FORM_KEYS}
        self.new_key, self.key_error = "", ""
        with session_scope() as db:
            account = resellers.account_for_user(db, user.id)
            if account is None or not account.enabled:
                self.key_error = "Your account is not a reseller account."
                return None
            try:
                _row, raw = resellers.create_key(db, account, values["key_name"], values["key_ips"])
            except ServiceError as exc:
                db.rollback()
                self.key_error = exc.message
                return None
            self._load(db, user.id)
        self.new_key = raw
        return [rx.set_value("key_name", ""), rx.set_value("key_ips", "")]

    @rx.event
    @signed_in_only
    def revoke_key(self, key_id: str):
        user = self._current_user()
        with session_scope() as db:
            account = resellers.account_for_user(db, user.id)
            try:
                if account is None or not str(key_id).isdigit():
                    raise resellers.ResellerError("no such key")
                resellers.revoke_key(db, account, int(key_id))
            except ServiceError as exc:
                return rx.toast.error(exc.message)
            self._load(db, user.id)
        return rx.toast.success("Key revoked.")

    @rx.event
    @signed_in_only
    def mass_order(self, form_data: dict[str, Any]):
        user = self._current_user()
        text = str(form_data.get("mass_orders", "") or "")
        self.mass_error, self.mass_results = "", []
        with session_scope() as db:
            caller = resellers.caller_for_user(db, user.id)
        if caller is None:
            self.mass_error = "Your account is not a reseller account."
            return None
        try:
            results = resellers.mass_order(caller, text)
        except ServiceError as exc:
            self.mass_error = exc.message
            return None
        self.mass_results = [
            {
                "line": str(r["line"]),
                "result": f"order {r['order']}" if "order" in r else r["error"],
                "ok": "yes" if "order" in r else "",
            }
            for r in results
        ]
        with session_scope() as db:
            self._load(db, user.id)
        return None


def _keys_card() -> rx.Component:
    return card(
        rx.vstack(
            rx.heading("API keys", size="4"),
            rx.text("Panel API v2 at /api/v2 (see the API docs). A key is shown once.", size="2", color_scheme="gray"),
            rx.form(
                rx.flex(
                    rx.input(name="key_name", id="key_name", placeholder="Key name", size="3", aria_label="Key name"),
                    rx.input(
                        name="key_ips",
                        id="key_ips",
                        placeholder="Allowed IPs (optional, comma-separated)",
                        size="3",
                        flex="1",
                        aria_label="Allowed IPs",
                    ),
                    rx.button("Create key", type="submit", size="3", id="create-key"),
                    spacing="2",
                    width="100%",
                    direction=rx.breakpoints(initial="column", sm="row"),
                ),
                on_submit=ResellerState.create_key,
                width="100%",
            ),
            form_alert(ResellerState.key_error, alert_id="key-error"),
            rx.cond(
                ResellerState.new_key != "",
                rx.vstack(
                    rx.callout(
                        "Your new key: copy it now, it is not shown again.",
                        icon="key",
                        color_scheme="green",
                        width="100%",
                    ),
                    rx.code(ResellerState.new_key, id="new-key", size="3"),
                    spacing="2",
                    width="100%",
                ),
            ),
            data_table(
                ["Name", "Key", "Allowed IPs", "State", ""],
                ResellerState.keys,
                lambda k: [
                    rx.table.row_header_cell(k["name"]),
                    rx.table.cell(k["prefix"], "…"),
                    rx.table.cell(k["allowed_ips"]),
                    rx.table.cell(k["state"]),
                    rx.table.cell(
                        rx.cond(
                            k["state"] == "active",
                            rx.button(
                                "Revoke",
                                size="1",
                                variant="soft",
                                color_scheme="red",
                                on_click=ResellerState.revoke_key(k["id"]),
                            ),
                        )
                    ),
                ],
                table_id="key-list",
            ),
            spacing="3",
            width="100%",
            align="start",
        ),
        width="100%",
    )


def _mass_card() -> rx.Component:
    return card(
        rx.vstack(
            rx.heading("Mass order", size="4"),
            rx.text("One order per line: service | link | quantity", size="2", color_scheme="gray"),
            rx.form(
                rx.vstack(
                    rx.text_area(
                        name="mass_orders",
                        id="mass_orders",
                        placeholder="1 | https://www.instagram.com/brand/ | 1000",
                        rows="6",
                        width="100%",
                        aria_label="Orders, one per line",
                    ),
                    rx.button("Place orders", type="submit", size="3", id="place-mass"),
                    spacing="2",
                    width="100%",
                    align="start",
                ),
                on_submit=ResellerState.mass_order,
                width="100%",
            ),
            form_alert(ResellerState.mass_error, alert_id="mass-error"),
            rx.cond(
                ResellerState.mass_results.length() > 0,
                data_table(
                    ["Line", "Result"],
                    ResellerState.mass_results,
                    lambda r: [
                        rx.table.row_header_cell(r["line"]),
                        rx.table.cell(rx.text(r["result"], color_scheme=rx.cond(r["ok"] != "", "green", "red"))),
                    ],
                    table_id="mass-results",
                ),
            ),
            spacing="3",
            width="100%",
            align="start",
        ),
        width="100%",
    )


def _topup_form() -> rx.Component:
    return rx.vstack(
        rx.form(
            rx.flex(
                rx.input(
                    name="topup_amount",
                    id="topup_amount",
                    placeholder="Amount, e.g. 100",
                    size="3",
                    input_mode="decimal",
                    aria_label="Top-up amount",
                ),
                rx.button(rx.icon("credit-card", size=16), "Top up with card", type="submit", size="3", id="topup"),
                spacing="2",
                direction=rx.breakpoints(initial="column", sm="row"),
            ),
            on_submit=ResellerState.start_topup,
        ),
        rx.text(ResellerState.topup_hint, " Paid on Stripe's secure page.", size="1", color_scheme="gray"),
        form_alert(ResellerState.topup_error, alert_id="topup-error"),
        rx.cond(
            ResellerState.topup_notice != "",
            rx.callout(ResellerState.topup_notice, icon="info", id="topup-notice", width="100%"),
        ),
        spacing="2",
        width="100%",
        align="start",
    )


def _prices_card() -> rx.Component:
    return card(
        rx.vstack(
            rx.hstack(
                rx.heading("Your price list", size="4"),
                rx.spacer(),
                rx.button(
                    rx.icon("download", size=16),
                    "Download CSV",
                    size="2",
                    variant="soft",
                    on_click=ResellerState.download_prices,
                    id="download-prices",
                ),
                width="100%",
                align="center",
            ),
            rx.text(
                "Your rates, exactly as the API's services action answers them (per 1000 units, or per package).",
                size="2",
                color_scheme="gray",
            ),
            rx.cond(
                ResellerState.prices.length() > 0,
                data_table(
                    ["Service", "Name", "Rate", "Min", "Max"],
                    ResellerState.prices,
                    lambda r: [
                        rx.table.row_header_cell(r["service"]),
                        rx.table.cell(r["name"]),
                        rx.table.cell(r["rate_shown"]),
                        rx.table.cell(r["min"]),
                        rx.table.cell(r["max"]),
                    ],
                    table_id="price-list",
                ),
                rx.text("No services are on sale in your currency yet.", size="2", color_scheme="gray"),
            ),
            spacing="3",
            width="100%",
            align="start",
        ),
        width="100%",
    )


def _wallet_card() -> rx.Component:
    return card(
        rx.vstack(
            rx.hstack(
                rx.heading("Wallet", size="4"),
                rx.spacer(),
                rx.text(ResellerState.balance, size="5", weight="bold", id="wallet-balance"),
                width="100%",
                align="center",
            ),
            _topup_form(),
            data_table(
                ["When", "Kind", "Amount", "Balance", "Reason"],
                ResellerState.ledger_rows,
                lambda r: [
                    rx.table.row_header_cell(r["when"]),
                    rx.table.cell(r["kind"]),
                    rx.table.cell(r["amount"]),
                    rx.table.cell(r["after"]),
                    rx.table.cell(r["reason"]),
                ],
                table_id="wallet-ledger",
            ),
            spacing="3",
            width="100%",
            align="start",
        ),
        width="100%",
    )


def _invite() -> rx.Component:
    """What a customer who is not a reseller sees: what reselling offers and how to start."""
    perks = [
        ("badge-percent", "Wholesale rates", "Your own price list, below our storefront prices."),
        ("plug", "Panel API v2", "Connect your panel or bot with the API every SMM panel speaks."),
        ("wallet", "Prepaid wallet", "Top up by card; every order and refund is in your ledger."),
    ]
    return empty_state(
        "store",
        "Resell our services under your own brand",
        "Reseller accounts buy wholesale: shops, panels and bots order through our API or paste "
        "orders in bulk, paid from a prepaid wallet. Reply to any email from us, or write from "
        "this account's address, and we open a reseller account for you; this page then holds "
        "your wallet, price list and API keys.",
        rx.vstack(
            *[
                rx.hstack(
                    rx.icon(icon, size=18, color="var(--violet-11)"),
                    rx.vstack(
                        rx.text(title, size="2", weight="bold"),
                        rx.text(text, size="2", color_scheme="gray"),
                        spacing="0",
                        align="start",
                    ),
                    spacing="3",
                    align="start",
                )
                for icon, title, text in perks
            ],
            rx.link(rx.button("Browse our services", size="3", variant="soft"), href=routes.SERVICES),
            spacing="3",
            align="start",
            max_width="420px",
        ),
        id="not-reseller",
    )


@page(
    route=routes.ACCOUNT_RESELLER,
    title="Reseller",
    guard="signed_in",
    on_load=ResellerState.load_reseller,
    nav=NavEntry(label="Reseller", icon="wallet", order=25, reseller_only=True),
)
def account_reseller_page() -> rx.Component:
    return account_page(
        page_title("Reseller", "Your wallet, price list, API keys and mass orders."),
        rx.cond(
            ResellerState.loaded,
            rx.cond(
                ResellerState.is_reseller,
                rx.vstack(_wallet_card(), _prices_card(), _keys_card(), _mass_card(), spacing="4", width="100%"),
                _invite(),
            ),
            rx.text("Loading…", size="2", color_scheme="gray"),
        ),
    )
