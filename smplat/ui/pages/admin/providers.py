"""Admin → Providers: health, balance and services count of each upstream panel, and the
form that adds one (the API key is write-only)."""

from __future__ import annotations

from typing import Any

import reflex as rx

from smplat.db import session_scope
from smplat.services import permissions, providers
from smplat.services.permissions import Permission
from smplat.ui import routes
from smplat.ui.components.common import card, data_table, empty_state, form_alert, page_title, status_badge
from smplat.ui.components.layout import admin_page
from smplat.ui.pages.admin._actions import operator_actor
from smplat.ui.pages.admin._provider_form import flagged_table, provider_fields, provider_form
from smplat.ui.registry import NavEntry, page
from smplat.ui.state.auth import AuthState, requires


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

    @rx.var
    def can_manage(self) -> bool:
        """Only admins see the create form (the service refuses anyone else anyway)."""
        return permissions.has_permission(self.user_role, Permission.MANAGE_PROVIDERS)

    @rx.event
    @requires(Permission.VIEW_PROVIDERS)
    def load(self) -> None:
        self.form_error = ""
        self._reload()

    @rx.event
    @requires(Permission.MANAGE_PROVIDERS)
    def create(self, data: dict[str, Any]):
        try:
            with session_scope() as db:
                created = providers.create_provider(db, provider_form(data), actor=operator_actor(self))
                new_id = created.id
        except providers.ProviderInputError as exc:
            self.form_error = str(exc)
            return None
        self.form_error = ""
        return rx.redirect(routes.admin_provider(new_id))


def _health_cell(row: rx.Var) -> rx.Component:
    return rx.hstack(
        status_badge(row["health"]),
        rx.cond(row["active"], rx.fragment(), rx.badge("inactive", color_scheme="gray", variant="outline")),
        spacing="1",
    )


def _balance_cell(row: rx.Var) -> rx.Component:
    return rx.hstack(
        rx.text(rx.cond(row["balance"] != "", row["balance"], "—")),
        rx.cond(row["low_balance"], rx.badge("low balance", color_scheme="red", variant="soft")),
        spacing="2",
        align="center",
    )


@page(
    route=routes.ADMIN_PROVIDERS,
    title="Providers",
    guard=Permission.VIEW_PROVIDERS,
    on_load=ProvidersState.load,
    nav=NavEntry(group="Operations", label="Providers", icon="server", order=0),
)
def admin_providers_page() -> rx.Component:
    table = data_table(
        ["Provider", "Health", "Balance", "Services", "Last check"],
        ProvidersState.rows,
        lambda p: [
            rx.table.row_header_cell(
                rx.vstack(
                    rx.link(
                        p["name"],
                        href=routes.ADMIN_PROVIDERS + "/" + p["id"].to(str),
                        weight="medium",
                        id="provider-link-" + p["slug"].to(str),
                    ),
                    rx.text(p["base_url"], size="1", color_scheme="gray"),
                    rx.cond(
                        p["problem"] != "",
                        rx.text(
                            "Last check failed: ",
                            p["problem"],
                            size="1",
                            color="var(--red-11)",
                            id="provider-problem-" + p["slug"].to(str),
                        ),
                    ),
                    spacing="0",
                    align="start",
                )
            ),
            rx.table.cell(_health_cell(p)),
            rx.table.cell(_balance_cell(p)),
            rx.table.cell(
                rx.text(
                    p["services"].to(str),
                    rx.cond(
                        p["vanished"].to(int) > 0,
                        rx.text.span(" · ", p["vanished"].to(str), " unavailable", color="var(--amber-11)"),
                    ),
                )
            ),
            rx.table.cell(p["checked"]),
        ],
        "providers-table",
    )
    create = card(
        rx.form(
            rx.vstack(
                rx.heading("Add a provider", size="4"),
                provider_fields({}, editing=False),
                form_alert(ProvidersState.form_error, alert_id="provider-form-error"),
                rx.button("Add provider", type="submit", id="create-provider"),
                spacing="3",
                width="100%",
                align="start",
            ),
            on_submit=ProvidersState.create,
            reset_on_submit=False,
            width="100%",
        ),
        width="100%",
    )
    return admin_page(
        page_title("Providers", "Upstream panels that deliver the orders: health, wallet balance and services."),
        rx.vstack(
            rx.cond(
                ProvidersState.rows.length() > 0,
                table,
                empty_state("server", "No providers yet", "Add the panel you buy from below."),
            ),
            rx.cond(ProvidersState.flagged.length() > 0, flagged_table(ProvidersState.flagged)),
            rx.cond(ProvidersState.can_manage, create),
            spacing="4",
            width="100%",
            align="start",
        ),
    )
