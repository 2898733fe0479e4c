"""Admin → Providers: health, balance and services of each upstream panel; create/edit a
provider (the API key is write-only); import / re-sync services and "Check now"."""

from __future__ import annotations

import asyncio
from typing import Any

import reflex as rx

from smplat.db import session_scope
from smplat.models.base import utcnow
from smplat.services import operations, providers
from smplat.ui import routes
from smplat.ui.components.common import card, data_table, empty_state, form_alert, page_title, status_badge
from smplat.ui.components.layout import admin_page
from smplat.ui.state.auth import STAFF_ONLY_MESSAGE, AuthState, staff_only


def _form(data: dict[str, Any]) -> providers.ProviderForm:
    def number(key: str, default: int) -> int:
        raw = str(data.get(key, "") or "").strip()
        try:
            return int(raw) if raw else default
        except ValueError:
            raise providers.ProviderInputError(f"{key.replace('_', ' ')} must be a whole number") from None

    return providers.ProviderForm(
        name=str(data.get("name", "")), slug=str(data.get("slug", "")), base_url=str(data.get("base_url", "")),
        api_key=str(data.get("api_key", "")), rate_limit_per_second=number("rate_limit_per_second", 5),
        timeout_seconds=number("timeout_seconds", 20), low_balance_threshold=str(data.get("low_balance_threshold", "")),
        is_active=str(data.get("is_active", "on")).lower() in ("on", "true", "1", "yes"))


class ProvidersState(AuthState):
    """The list page: display rows and the create form's message only."""

    rows: list[dict[str, Any]] = []
    flagged: list[dict[str, Any]] = []
    form_error: str = ""
    loaded: bool = False

    def _reload(self) -> None:
        with session_scope() as db:
            self.rows = providers.provider_overview(db)
            self.flagged = providers.products_needing_attention(db)
        self.loaded = True

    @rx.event
    @staff_only
    def load(self) -> None:
        self.form_error = ""
        self._reload()

    @rx.event
    @staff_only
    def create(self, data: dict[str, Any]):
        try:
            with session_scope() as db:
                created = providers.create_provider(db, _form(data))
                new_id = created.id
        except providers.ProviderInputError as exc:
            self.form_error = str(exc)
            return None
        self.form_error = ""
        return rx.redirect(routes.admin_provider(new_id))


class ProviderDetailState(AuthState):
    """One provider: its form values (never the key), services and actions."""

    provider: dict[str, Any] = {}
    services: list[dict[str, Any]] = []
    flagged: list[dict[str, Any]] = []
    form_error: str = ""
    notice: str = ""
    busy: str = ""
    loaded: bool = False

    def _provider_id(self) -> int:
        raw = str(self.router.page.params.get("provider_id", ""))
        return int(raw) if raw.isdigit() else 0

    def _reload(self) -> None:
        provider_id = self._provider_id()
        with session_scope() as db:
            self.provider = operations.provider_form_values(db, provider_id) or {}
            self.services = operations.provider_services(db, provider_id) if self.provider else []
            name = self.provider.get("name")
            self.flagged = [f for f in providers.products_needing_attention(db) if f["provider"] == name]
        self.loaded = True

    @rx.event
    @staff_only
    def load(self) -> None:
        self.form_error, self.notice = "", ""
        self._reload()

    @rx.event
    @staff_only
    def save(self, data: dict[str, Any]) -> None:
        try:
            with session_scope() as db:
                providers.update_provider(db, self._provider_id(), _form(data))
        except providers.ProviderInputError as exc:
            self.form_error, self.notice = str(exc), ""
            return
        self.form_error, self.notice = "", "Provider saved."
        self._reload()

    @rx.event
    @staff_only
    def import_file(self, data: dict[str, Any]) -> None:
        text, fmt = str(data.get("services_text", "")), str(data.get("services_format", "csv"))
        try:
            with session_scope() as db:
                counts = providers.import_services(db, self._provider_id(), text, fmt)
        except providers.ProviderInputError as exc:
            self.form_error, self.notice = "\n".join(exc.problems) or str(exc), ""
            return
        self.form_error = ""
        self.notice = f"Imported: {counts['created']} created, {counts['updated']} updated."
        self._reload()

    @rx.event(background=True)
    async def resync(self):
        async with self:
            user = self._current_user()
            if user is None or not user.is_staff:
                return rx.toast.error(STAFF_ONLY_MESSAGE)
            provider_id, self.busy = self._provider_id(), "resync"

        def work() -> dict[str, int]:
            with session_scope() as db:
                return providers.sync_services(db, provider_id)

        try:
            counts = await asyncio.to_thread(work)
            message = (f"Services re-synced: {counts['created']} new, {counts['updated']} updated, "
                       f"{counts['vanished']} vanished.")
            error = ""
        except Exception as exc:  # noqa: BLE001 - a panel failure is shown to the operator, nothing stored
            message, error = "", f"The panel did not answer the services list: {providers.describe_failure(exc)}"
        async with self:
            self.busy, self.notice, self.form_error = "", message, error
            self._reload()

    @rx.event(background=True)
    async def check_now(self):
        async with self:
            user = self._current_user()
            if user is None or not user.is_staff:
                return rx.toast.error(STAFF_ONLY_MESSAGE)
            provider_id, self.busy = self._provider_id(), "check"
        def work() -> str:
            counts = providers.check_providers(session_scope, utcnow(), provider_id=provider_id)
            if not counts["checked"]:
                return "The provider is inactive; nothing was checked."
            with session_scope() as db:
                return providers.last_check_message(db, provider_id)

        message = await asyncio.to_thread(work)
        async with self:
            self.busy = ""
            self.notice = message
            self._reload()


def _health_cell(row: rx.Var) -> rx.Component:
    return rx.hstack(status_badge(row["health"]), rx.cond(row["active"], rx.fragment(),
                                                           rx.badge("inactive", color_scheme="gray", variant="outline")),
                     spacing="1")


def _balance_cell(row: rx.Var) -> rx.Component:
    return rx.hstack(rx.text(rx.cond(row["balance"] != "", row["balance"], "—")),
                     rx.cond(row["low_balance"], rx.badge("low balance", color_scheme="red", variant="soft")),
                     spacing="2", align="center")


def _flagged_table(rows: rx.Var) -> rx.Component:
    return rx.vstack(
        rx.hstack(rx.icon("triangle-alert", color="var(--amber-11)", size=18),
                  rx.heading("Products routed to unavailable services", size="4"), align="center"),
        data_table(["Product", "Provider", "Service", "Service status"], rows, lambda f: [
            rx.table.row_header_cell(f["product"]), rx.table.cell(f["provider"]), rx.table.cell(f["service"]),
            rx.table.cell(status_badge(f["service_status"]))], "flagged-products-table"),
        width="100%", spacing="2", align="start", margin_top="1rem",
    )


def _field(label: str, name: str, *, default: Any = "", type_: str = "text", placeholder: str = "",
           hint: str = "") -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=name, style={"font_size": "14px", "font_weight": "500"}),
        rx.input(name=name, id=name, type=type_, default_value=default, placeholder=placeholder, width="100%",
                 auto_complete="off" if type_ != "password" else "new-password"),
        rx.text(hint, size="1", color_scheme="gray") if hint else rx.fragment(),
        spacing="1", width="100%", align="start",
    )


def _provider_fields(values: Any, *, editing: bool) -> rx.Component:
    get = (lambda k, d="": values[k]) if editing else (lambda k, d="": d)
    key_hint = rx.cond(values["key_set"], "Key set. Leave empty to keep it.", "No key set.") if editing \
        else "Stored encrypted; never shown again."
    return rx.grid(
        _field("Name", "name", default=get("name")),
        _field("Slug", "slug", default=get("slug"), placeholder="my-panel"),
        _field("Base URL", "base_url", default=get("base_url"), placeholder="https://panel.example/api/v2"),
        rx.vstack(
            rx.el.label("API key", html_for="api_key", style={"font_size": "14px", "font_weight": "500"}),
            rx.input(name="api_key", id="api_key", type="password", default_value="", width="100%",
                     auto_complete="new-password"),
            rx.text(key_hint, size="1", color_scheme="gray", id="api-key-hint"),
            spacing="1", width="100%", align="start"),
        _field("Calls per second", "rate_limit_per_second", default=get("rate_limit_per_second", "5")),
        _field("Timeout (seconds)", "timeout_seconds", default=get("timeout_seconds", "20")),
        _field("Low balance below", "low_balance_threshold", default=get("low_balance_threshold"),
               placeholder="e.g. 50", hint="Raises an alert when the balance drops below it."),
        columns=rx.breakpoints(initial="1", md="2"), spacing="3", width="100%",
    )


def admin_providers_page() -> rx.Component:
    table = data_table(["Provider", "Health", "Balance", "Services", "Last check"], ProvidersState.rows, lambda p: [
        rx.table.row_header_cell(rx.vstack(
            rx.link(p["name"], href=routes.ADMIN_PROVIDERS + "/" + p["id"].to(str), weight="medium",
                    id="provider-link-" + p["slug"].to(str)),
            rx.text(p["base_url"], size="1", color_scheme="gray"), spacing="0", align="start")),
        rx.table.cell(_health_cell(p)),
        rx.table.cell(_balance_cell(p)),
        rx.table.cell(rx.text(p["services"].to(str), rx.cond(p["vanished"].to(int) > 0,
                                                             rx.text.span(" · ", p["vanished"].to(str), " unavailable",
                                                                          color="var(--amber-11)")))),
        rx.table.cell(p["checked"]),
    ], "providers-table")
    create = card(
        rx.form(
            rx.vstack(
                rx.heading("Add a provider", size="4"),
                _provider_fields({}, editing=False),
                form_alert(ProvidersState.form_error, alert_id="provider-form-error"),
                rx.button("Add provider", type="submit", id="create-provider"),
                spacing="3", width="100%", align="start"),
            on_submit=ProvidersState.create, reset_on_submit=False, width="100%"),
        width="100%",
    )
    return admin_page(
        page_title("Providers", "Upstream panels that deliver the orders: health, wallet balance and services."),
        rx.vstack(
            rx.cond(ProvidersState.rows.length() > 0, table,
                    empty_state("server", "No providers yet", "Add the panel you buy from below.")),
            rx.cond(ProvidersState.flagged.length() > 0, _flagged_table(ProvidersState.flagged)),
            create,
            spacing="4", width="100%", align="start"),
    )


def admin_provider_page() -> rx.Component:
    p = ProviderDetailState.provider
    services = data_table(
        ["Service", "Name", "Rate / 1000", "Min", "Max", "Refill", "Cancel", "Drip-feed", "Status"],
        ProviderDetailState.services, lambda s: [
            rx.table.row_header_cell(s["service"]),
            rx.table.cell(rx.vstack(rx.text(s["name"]), rx.text(s["category"], size="1", color_scheme="gray"),
                                    spacing="0", align="start")),
            rx.table.cell(s["rate"]), rx.table.cell(s["min"]), rx.table.cell(s["max"]), rx.table.cell(s["refill"]),
            rx.table.cell(s["cancel"]), rx.table.cell(s["dripfeed"]), rx.table.cell(status_badge(s["status"])),
        ], "provider-services-table")
    summary = rx.grid(
        card(rx.text("Health", size="2", color_scheme="gray"), rx.box(status_badge(p["health"]), margin_top="6px")),
        card(rx.text("Balance", size="2", color_scheme="gray"),
             rx.hstack(rx.text(rx.cond(p["balance"] != "", p["balance"], "—"), size="5", weight="bold"),
                       rx.cond(p["low_balance"], rx.badge("low balance", color_scheme="red")), align="center")),
        card(rx.text("Services", size="2", color_scheme="gray"),
             rx.text(ProviderDetailState.services.length().to(str), size="5", weight="bold")),
        card(rx.text("Last check", size="2", color_scheme="gray"), rx.text(p["checked"], size="3", weight="medium")),
        columns=rx.breakpoints(initial="2", md="4"), spacing="3", width="100%",
    )
    edit = card(rx.form(
        rx.vstack(rx.heading("Settings", size="4"), _provider_fields(p, editing=True),
                  rx.button("Save provider", type="submit", id="save-provider"), spacing="3", width="100%", align="start"),
        on_submit=ProviderDetailState.save, reset_on_submit=False, width="100%", key=p["id"].to(str)), width="100%")
    importer = card(rx.form(
        rx.vstack(
            rx.heading("Import services", size="4"),
            rx.text("Paste a CSV or JSON list in the export's shape (service, name, rate, min, max, …). "
                    "Any bad row refuses the whole list.", size="2", color_scheme="gray"),
            rx.select(["csv", "json"], name="services_format", default_value="csv", id="services_format"),
            rx.text_area(name="services_text", id="services_text", rows="6", width="100%",
                         placeholder="service,name,rate,min,max\n101,Followers,1.20,50,10000"),
            rx.button("Import", type="submit", variant="soft", id="import-services"),
            spacing="3", width="100%", align="start"),
        on_submit=ProviderDetailState.import_file, width="100%"), width="100%")
    body = rx.vstack(
        summary,
        form_alert(ProviderDetailState.notice, color="green", icon="circle-check", alert_id="provider-notice"),
        rx.box(form_alert(ProviderDetailState.form_error, alert_id="provider-form-error"), white_space="pre-line",
               width="100%"),
        rx.cond(ProviderDetailState.flagged.length() > 0, _flagged_table(ProviderDetailState.flagged)),
        rx.heading("Services", size="5", margin_top="0.5rem"),
        rx.cond(ProviderDetailState.services.length() > 0, services,
                empty_state("list", "No services yet", "Re-sync from the panel or import a list.")),
        rx.grid(edit, importer, columns=rx.breakpoints(initial="1", lg="2"), spacing="4", width="100%"),
        spacing="4", width="100%", align="start",
    )
    actions = [
        rx.button(rx.icon("refresh-cw", size=14), "Re-sync services", variant="soft", on_click=ProviderDetailState.resync,
                  loading=ProviderDetailState.busy == "resync", id="resync-services"),
        rx.button(rx.icon("activity", size=14), "Check now", on_click=ProviderDetailState.check_now,
                  loading=ProviderDetailState.busy == "check", id="check-provider"),
    ]
    return admin_page(
        rx.link("← Providers", href=routes.ADMIN_PROVIDERS, size="2", color_scheme="gray"),
        rx.cond(
            p.contains("id"),
            rx.vstack(page_title(p["name"].to(str), p["base_url"].to(str), *actions), body, width="100%", spacing="0"),
            rx.cond(ProviderDetailState.loaded, empty_state("server-off", "No such provider", "It may have been removed.")),
        ),
    )
