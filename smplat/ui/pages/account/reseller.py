"""My account → Reseller: wallet balance and ledger, API keys (created and shown once, named,
optionally limited to IPs, revocable) and the mass order form (`service | link | quantity`).

Every rule is in `services.resellers`; a customer who is not a reseller sees how to become one.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from smplat.db import session_scope
from smplat.services import resellers
from smplat.services.errors import ServiceError
from smplat.services.money import format_money
from smplat.ui import routes
from smplat.ui.components.common import card, data_table, empty_state, form_alert, page_title
from smplat.ui.components.layout import account_page
from smplat.ui.registry import NavEntry, page
from smplat.ui.state.auth import AuthState, signed_in_only

KEY_FORM_KEYS = ("key_name", "key_ips")
MASS_FORM_KEYS = ("mass_orders",)


class ResellerState(AuthState):
    loaded: bool = False
    is_reseller: bool = False
    balance: str = ""
    ledger_rows: list[dict[str, str]] = []
    keys: list[dict[str, str]] = []
    new_key: str = ""  # shown once, right after creation
    key_error: str = ""
    mass_error: str = ""
    mass_results: list[dict[str, str]] = []

    def _load(self, db, user_id: int) -> None:
        account = resellers.account_for_user(db, user_id)
        self.is_reseller = account is not None and account.enabled
        if not self.is_reseller:
            self.balance, self.ledger_rows, self.keys = "", [], []
            return
        self.balance = format_money(account.balance_minor, account.currency)
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
        with session_scope() as db:
            self._load(db, user.id)
        self.loaded = True

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


@page(
    route=routes.ACCOUNT_RESELLER,
    title="Reseller",
    guard="signed_in",
    on_load=ResellerState.load_reseller,
    nav=NavEntry(label="Reseller", icon="wallet", order=25),
)
def account_reseller_page() -> rx.Component:
    return account_page(
        page_title("Reseller", "Your wallet, API keys and mass orders."),
        rx.cond(
            ResellerState.loaded,
            rx.cond(
                ResellerState.is_reseller,
                rx.vstack(_wallet_card(), _keys_card(), _mass_card(), spacing="4", width="100%"),
                empty_state(
                    "store",
                    "Not a reseller account",
                    "Resellers buy wholesale through our panel API. Contact us to open a reseller account.",
                    id="not-reseller",
                ),
            ),
            rx.text("Loading…", size="2", color_scheme="gray"),
        ),
    )
