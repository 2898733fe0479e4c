"""Admin → one provider: its settings (the API key is write-only), its services, importing or
re-syncing them, and "Check now"."""

from __future__ import annotations

import asyncio
from typing import Any

import reflex as rx

from smplat.db import session_scope
from smplat.integrations.dialects import PRESETS
from smplat.models.base import utcnow
from smplat.services import audit, operations, permissions, providers
from smplat.services.fulfillment import read_models
from smplat.services.permissions import Permission
from smplat.ui import routes
from smplat.ui.components.common import card, data_table, empty_state, form_alert, page_title, status_badge
from smplat.ui.components.layout import admin_page
from smplat.ui.pages.admin._actions import operator_actor
from smplat.ui.pages.admin._provider_form import flagged_table, provider_fields, provider_form
from smplat.ui.registry import page
from smplat.ui.state.auth import AuthState, requires


class ProviderDetailState(AuthState):
    """One provider: its form values (never the key), services and actions."""

    provider: dict[str, Any] = {}
    services: list[dict[str, Any]] = []
    flagged: list[dict[str, Any]] = []
    flagged_orders: list[dict[str, Any]] = []  # provider orders with a status word outside the dialect
    dialect: str = ""  # the dialect's JSON as the admin edits it
    connection_ok: str = ""  # the last "Test connection" sentence, when it connected
    connection_failed: str = ""  # ... when it did not (a classified reason, never the reply)
    form_error: str = ""
    notice: str = ""
    check_failed: str = ""  # "Check now" that failed: the reason, shown red
    busy: str = ""
    loaded: bool = False

    def _provider_id(self) -> int:
        raw = str(self.router.page.params.get("provider_id", ""))
        return int(raw) if raw.isdigit() else 0

    def _reload(self) -> None:
        provider_id = self._provider_id()
        with session_scope() as db:
            self.provider = operations.provider_form_values(db, provider_id) or {}
            self.dialect = self.provider.pop("dialect", "")
            self.services = operations.provider_services(db, provider_id) if self.provider else []
            name = self.provider.get("name")
            self.flagged = [f for f in providers.products_needing_attention(db) if f["provider"] == name]
            self.flagged_orders = (
                read_models.flagged_provider_orders(db, 20, provider_id=provider_id) if self.provider else []
            )
        self.loaded = True

    @rx.var
    def can_manage(self) -> bool:
        """Only admins see the settings and import forms (the service refuses anyone else anyway)."""
        return permissions.has_permission(self.user_role, Permission.MANAGE_PROVIDERS)

    @rx.event
    @requires(Permission.VIEW_PROVIDERS)
    def load(self) -> None:
        self.form_error, self.notice = "", ""
        self.connection_ok, self.connection_failed = "", ""
        self._reload()

    @rx.event
    @requires(Permission.MANAGE_PROVIDERS)
    def save(self, data: dict[str, Any]) -> None:
        try:
            with session_scope() as db:
                providers.update_provider(db, self._provider_id(), provider_form(data), actor=operator_actor(self))
        except providers.ProviderInputError as exc:
            self.form_error, self.notice = str(exc), ""
            return
        self.form_error, self.notice = "", "Provider saved."
        self._reload()

    @rx.event
    @requires(Permission.MANAGE_PROVIDERS)
    def save_dialect(self, data: dict[str, Any]) -> None:
        preset = str(data.get("dialect_preset", "edited"))
        text = str(data.get("dialect_text", ""))
        try:
            with session_scope() as db:
                chosen = providers.update_dialect(
                    db,
                    self._provider_id(),
                    text if preset == "edited" else {"preset": preset},
                    actor=operator_actor(self),
                )
        except providers.ProviderInputError as exc:
            self.form_error, self.notice = str(exc), ""
            return
        self.form_error, self.notice = "", f"Dialect saved ({chosen.preset})."
        self._reload()

    @rx.event(background=True)
    @requires(Permission.SYNC_PROVIDERS)
    async def test_connection(self):
        async with self:
            provider_id, self.busy = self._provider_id(), "connection"
        actor = await asyncio.to_thread(operator_actor, self)

        def work() -> tuple[bool, str]:
            with session_scope() as db:
                return providers.try_connection(db, provider_id, actor=actor)

        try:
            ok, message = await asyncio.to_thread(work)
        except providers.ProviderInputError as exc:
            ok, message = False, str(exc)
        async with self:
            self.busy = ""
            self.connection_ok, self.connection_failed = (message, "") if ok else ("", message)

    @rx.event
    @requires(Permission.MANAGE_PROVIDERS)
    def import_file(self, data: dict[str, Any]) -> None:
        text, fmt = str(data.get("services_text", "")), str(data.get("services_format", "csv"))
        try:
            with session_scope() as db:
                counts = providers.import_services(db, self._provider_id(), text, fmt, actor=operator_actor(self))
        except providers.ProviderInputError as exc:
            self.form_error, self.notice = "\n".join(exc.problems) or str(exc), ""
            return
        self.form_error = ""
        self.notice = f"Imported: {counts['created']} created, {counts['updated']} updated."
        self._reload()

    @rx.event(background=True)
    @requires(Permission.SYNC_PROVIDERS)
    async def resync(self):
        async with self:
            provider_id, self.busy = self._provider_id(), "resync"
        actor = await asyncio.to_thread(operator_actor, self)

        def work() -> dict[str, int]:
            with session_scope() as db:
                return providers.sync_services(db, provider_id, actor=actor)

        try:
            counts = await asyncio.to_thread(work)
            message = (
                f"Services re-synced: {counts['created']} new, {counts['updated']} updated, "
                f"{counts['vanished']} vanished."
            )
            error = ""
        except Exception as exc:
            message, error = "", f"The panel did not answer the services list: {providers.describe_failure(exc)}"
        async with self:
            self.busy, self.notice, self.form_error = "", message, error
            self._reload()

    @rx.event(background=True)
    @requires(Permission.SYNC_PROVIDERS)
    async def check_now(self):
        async with self:
            provider_id, self.busy = self._provider_id(), "check"
        actor = await asyncio.to_thread(operator_actor, self)

        def work() -> tuple[bool, str]:
            counts = providers.check_providers(session_scope, utcnow(), provider_id=provider_id)
            with session_scope() as db:
                audit.record(db, actor, "provider.check", "provider", provider_id, data=counts)
                if not counts["checked"]:
                    return False, "The provider is inactive; nothing was checked."
                return providers.last_check(db, provider_id)

        ok, message = await asyncio.to_thread(work)
        async with self:
            self.busy = ""
            # a failed check is a red alert with its reason, never the green notice
            self.notice, self.check_failed = (message, "") if ok else ("", message)
            self._reload()


@page(route=routes.ADMIN_PROVIDER, title="Provider", guard=Permission.VIEW_PROVIDERS, on_load=ProviderDetailState.load)
def admin_provider_page() -> rx.Component:
    p = ProviderDetailState.provider
    services = data_table(
        ["Service", "Name", "Rate / 1000", "Min", "Max", "Refill", "Cancel", "Drip-feed", "Status"],
        ProviderDetailState.services,
        lambda s: [
            rx.table.row_header_cell(s["service"]),
            rx.table.cell(
                rx.vstack(
                    rx.text(s["name"]),
                    rx.text(s["category"], size="1", color_scheme="gray"),
                    spacing="0",
                    align="start",
                )
            ),
            rx.table.cell(s["rate"]),
            rx.table.cell(s["min"]),
            rx.table.cell(s["max"]),
            rx.table.cell(s["refill"]),
            rx.table.cell(s["cancel"]),
            rx.table.cell(s["dripfeed"]),
            rx.table.cell(status_badge(s["status"])),
        ],
        "provider-services-table",
    )
    summary = rx.grid(
        card(rx.text("Health", size="2", color_scheme="gray"), rx.box(status_badge(p["health"]), margin_top="6px")),
        card(
            rx.text("Balance", size="2", color_scheme="gray"),
            rx.hstack(
                rx.text(rx.cond(p["balance"] != "", p["balance"], "—"), size="5", weight="bold"),
                rx.cond(p["low_balance"], rx.badge("low balance", color_scheme="red")),
                align="center",
            ),
        ),
        card(
            rx.text("Services", size="2", color_scheme="gray"),
            rx.text(ProviderDetailState.services.length().to(str), size="5", weight="bold"),
        ),
        card(rx.text("Last check", size="2", color_scheme="gray"), rx.text(p["checked"], size="3", weight="medium")),
        columns=rx.breakpoints(initial="2", md="4"),
        spacing="3",
        width="100%",
    )
    edit = card(
        rx.form(
            rx.vstack(
                rx.heading("Settings", size="4"),
                provider_fields(p, editing=True),
                rx.button("Save provider", type="submit", id="save-provider"),
                spacing="3",
                width="100%",
                align="start",
            ),
            on_submit=ProviderDetailState.save,
            reset_on_submit=False,
            width="100%",
            key=p["id"].to(str),
        ),
        width="100%",
    )
    importer = card(
        rx.form(
            rx.vstack(
                rx.heading("Import services", size="4"),
                rx.text(
                    "Paste a CSV or JSON list in the export's shape (service, name, rate, min, max, …). "
                    "Any bad row refuses the whole list.",
                    size="2",
                    color_scheme="gray",
                ),
                rx.select(["csv", "json"], name="services_format", default_value="csv", id="services_format"),
                rx.text_area(
                    name="services_text",
                    id="services_text",
                    rows="6",
                    width="100%",
                    placeholder="service,name,rate,min,max\n101,Followers,1.20,50,10000",
                ),
                rx.button("Import", type="submit", variant="soft", id="import-services"),
                spacing="3",
                width="100%",
                align="start",
            ),
            on_submit=ProviderDetailState.import_file,
            width="100%",
        ),
        width="100%",
    )
    dialect = card(
        rx.form(
            rx.vstack(
                rx.heading("Dialect", size="4"),
                rx.text(
                    "How this panel speaks API v2: transport, key parameter, status words, error shape, "
                    "order parameters per type (docs/providers.md). Pick a preset, or edit the JSON.",
                    size="2",
                    color_scheme="gray",
                ),
                rx.select(
                    ["edited", *PRESETS],
                    name="dialect_preset",
                    default_value="edited",
                    id="dialect_preset",
                ),
                rx.text_area(
                    name="dialect_text",
                    id="dialect_text",
                    default_value=ProviderDetailState.dialect,
                    rows="14",
                    width="100%",
                    font_family="monospace",
                    key=ProviderDetailState.dialect,
                ),
                rx.button("Save dialect", type="submit", variant="soft", id="save-dialect"),
                spacing="3",
                width="100%",
                align="start",
            ),
            on_submit=ProviderDetailState.save_dialect,
            reset_on_submit=False,
            width="100%",
        ),
        width="100%",
    )
    body = rx.vstack(
        summary,
        form_alert(ProviderDetailState.connection_ok, color="green", icon="plug-zap", alert_id="provider-connection"),
        form_alert(ProviderDetailState.connection_failed, icon="plug", alert_id="provider-connection-failed"),
        form_alert(ProviderDetailState.notice, color="green", icon="circle-check", alert_id="provider-notice"),
        form_alert(ProviderDetailState.check_failed, icon="circle-x", alert_id="provider-check-failed"),
        rx.box(
            form_alert(ProviderDetailState.form_error, alert_id="provider-form-error"),
            white_space="pre-line",
            width="100%",
        ),
        rx.cond(ProviderDetailState.flagged.length() > 0, flagged_table(ProviderDetailState.flagged)),
        rx.cond(
            ProviderDetailState.flagged_orders.length() > 0,
            card(
                rx.heading("Provider orders with an unknown status word", size="4"),
                rx.text(
                    "Map the word in the dialect below (the flag clears at the next sync), or settle the order by hand.",
                    size="2",
                    color_scheme="gray",
                ),
                data_table(
                    ["Order", "Provider order", "Status word", "Raw answer"],
                    ProviderDetailState.flagged_orders,
                    lambda f: [
                        rx.table.row_header_cell(
                            rx.link(f["order"], href=routes.ADMIN_ORDERS + "/" + f["order"].to(str))
                        ),
                        rx.table.cell(f["external_order_id"]),
                        rx.table.cell(rx.badge(f["raw_status"], color_scheme="amber")),
                        rx.table.cell(rx.code(f["raw_answer"], size="1")),
                    ],
                    "provider-flagged-orders",
                ),
                width="100%",
            ),
        ),
        rx.heading("Services", size="5", margin_top="0.5rem"),
        rx.cond(
            ProviderDetailState.services.length() > 0,
            services,
            empty_state("list", "No services yet", "Re-sync from the panel or import a list."),
        ),
        rx.cond(
            ProviderDetailState.can_manage,
            rx.grid(edit, importer, columns=rx.breakpoints(initial="1", lg="2"), spacing="4", width="100%"),
        ),
        rx.cond(ProviderDetailState.can_manage, dialect),
        spacing="4",
        width="100%",
        align="start",
    )
    actions = [
        rx.button(
            rx.icon("refresh-cw", size=14),
            "Re-sync services",
            variant="soft",
            on_click=ProviderDetailState.resync,
            loading=ProviderDetailState.busy == "resync",
            id="resync-services",
        ),
        rx.button(
            rx.icon("plug-zap", size=14),
            "Test connection",
            variant="soft",
            on_click=ProviderDetailState.test_connection,
            loading=ProviderDetailState.busy == "connection",
            id="test-connection",
        ),
        rx.button(
            rx.icon("activity", size=14),
            "Check now",
            on_click=ProviderDetailState.check_now,
            loading=ProviderDetailState.busy == "check",
            id="check-provider",
        ),
    ]
    return admin_page(
        rx.link("← Providers", href=routes.ADMIN_PROVIDERS, size="2", color_scheme="gray"),
        rx.cond(
            p.contains("id"),
            rx.vstack(page_title(p["name"].to(str), p["base_url"].to(str), *actions), body, width="100%", spacing="0"),
            rx.cond(
                ProviderDetailState.loaded, empty_state("server-off", "No such provider", "It may have been removed.")
            ),
        ),
    )
