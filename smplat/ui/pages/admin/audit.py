"""Admin → Audit log (admins only): every staff action with who, when, from where and what
changed; filters by actor, action, target and dates; keyset pages of 50; CSV export (formula
cells neutralised, the export itself logged). Rules and queries live in `smplat.services.audit`."""

from __future__ import annotations

from typing import Any

import reflex as rx

from smplat.db import session_scope
from smplat.models.base import utcnow
from smplat.services import audit
from smplat.services.errors import ServiceError
from smplat.services.permissions import Permission
from smplat.ui import routes
from smplat.ui.components.common import card, data_table, empty_state, form_alert, loading_block, page_title
from smplat.ui.components.layout import admin_page
from smplat.ui.pages.admin._actions import operator_actor
from smplat.ui.registry import NavEntry, page
from smplat.ui.state.auth import AuthState, requires

FILTER_KEYS = ("actor", "action", "target", "date_from", "date_to")


class AuditState(AuthState):
    rows: list[dict[str, Any]] = []
    filters: dict[str, str] = {}
    cursor: int = 0  # the keyset of this page (0: the newest page)
    next_cursor: int = 0  # the keyset of the next (older) page, 0 when this is the last
    previous: list[int] = []  # the cursors of the newer pages, to go back
    error: str = ""
    loaded: bool = False

    def _reload(self) -> None:
        filters = audit.Filters.parse(self.filters)
        with session_scope() as db:
            self.rows, following = audit.page(db, filters, before_id=self.cursor or None)
        self.next_cursor = following or 0
        self.loaded = True

    @rx.event
    @requires(Permission.VIEW_AUDIT_LOG)
    def load(self) -> None:
        self.filters, self.cursor, self.previous, self.error = {}, 0, [], ""
        self._reload()

    @rx.event
    @requires(Permission.VIEW_AUDIT_LOG)
    def apply_filters(self, form: dict[str, Any]) -> None:
        values = {key: str(form.get(key, "") or "").strip() for key in FILTER_KEYS}
        try:
            audit.Filters.parse(values)
        except ServiceError as exc:
            self.error = exc.message
            return
        self.filters, self.cursor, self.previous, self.error = values, 0, [], ""
        self._reload()

    @rx.event
    @requires(Permission.VIEW_AUDIT_LOG)
    def clear_filters(self) -> None:
        self.filters, self.cursor, self.previous, self.error = {}, 0, [], ""
        self._reload()

    @rx.event
    @requires(Permission.VIEW_AUDIT_LOG)
    def older(self) -> None:
        if self.next_cursor:
            self.previous = [*self.previous, self.cursor]
            self.cursor = self.next_cursor
            self._reload()

    @rx.event
    @requires(Permission.VIEW_AUDIT_LOG)
    def newer(self) -> None:
        if self.previous:
            self.cursor, self.previous = self.previous[-1], self.previous[:-1]
            self._reload()

    @rx.event
    @requires(Permission.VIEW_AUDIT_LOG)
    def export_csv(self):
        try:
            with session_scope() as db:
                text = audit.export_csv(db, operator_actor(self), audit.Filters.parse(self.filters))
        except ServiceError as exc:
            return rx.toast.error(exc.message)
        self._reload()  # the export is in the log now
        return rx.download(data=text, filename=f"audit-log-{utcnow():%Y%m%d-%H%M}.csv", mime_type="text/csv")


def _filter_input(name: str, placeholder: str, width: str = "11rem", type: str = "text") -> rx.Component:
    return rx.vstack(
        rx.el.label(name.replace("_", " ").capitalize(), html_for=f"audit-{name}", style={"font_size": "12px"}),
        rx.input(
            name=name,
            id=f"audit-{name}",
            placeholder=placeholder,
            type=type,
            size="2",
            width=width,
            default_value=AuditState.filters.get(name, ""),
        ),
        spacing="1",
        align="start",
    )


@page(
    route=routes.ADMIN_AUDIT,
    title="Audit log",
    guard=Permission.VIEW_AUDIT_LOG,
    on_load=AuditState.load,
    nav=NavEntry(group="Settings", label="Audit log", icon="scroll-text", order=10),
)
def admin_audit_page() -> rx.Component:
    filters = card(
        rx.form(
            rx.hstack(
                _filter_input("actor", "email"),
                _filter_input("action", "provider. or staff.role"),
                _filter_input("target", "provider:3"),
                _filter_input("date_from", "", "10rem", "date"),
                _filter_input("date_to", "", "10rem", "date"),
                rx.button("Filter", type="submit", id="audit-filter"),
                rx.button("Clear", type="button", variant="soft", on_click=AuditState.clear_filters, id="audit-clear"),
                spacing="3",
                align="end",
                wrap="wrap",
            ),
            on_submit=AuditState.apply_filters,
            key=AuditState.filters.to_string(),
            width="100%",
        ),
        width="100%",
    )
    table = data_table(
        ["Time", "Actor", "Action", "Target", "IP", "Changes (before → after)"],
        AuditState.rows,
        lambda r: [
            rx.table.row_header_cell(rx.text(r["time"], white_space="nowrap")),
            rx.table.cell(
                rx.vstack(
                    rx.text(r["actor"]), rx.text(r["role"], size="1", color_scheme="gray"), spacing="0", align="start"
                )
            ),
            rx.table.cell(rx.code(r["action"])),
            rx.table.cell(r["target"]),
            rx.table.cell(r["ip"]),
            rx.table.cell(rx.text(r["changes"], size="1", style={"word_break": "break-word"}, max_width="32rem")),
        ],
        "audit-table",
    )
    pager = rx.hstack(
        rx.button(
            "← Newer",
            variant="soft",
            on_click=AuditState.newer,
            disabled=AuditState.previous.length() == 0,
            id="audit-newer",
        ),
        rx.button(
            "Older →", variant="soft", on_click=AuditState.older, disabled=AuditState.next_cursor == 0, id="audit-older"
        ),
        spacing="2",
    )
    export = rx.button(rx.icon("download", size=14), "Export CSV", on_click=AuditState.export_csv, id="audit-export")
    return admin_page(
        page_title("Audit log", "Every staff action: who, when, from where, and what changed.", export),
        rx.vstack(
            filters,
            form_alert(AuditState.error, alert_id="audit-error"),
            rx.cond(
                AuditState.loaded,
                rx.cond(
                    AuditState.rows.length() > 0,
                    rx.vstack(table, pager, spacing="3", width="100%"),
                    empty_state(
                        "scroll-text", "Nothing logged", "No staff action matches these filters yet.", id="audit-empty"
                    ),
                ),
                loading_block(),
            ),
            spacing="4",
            width="100%",
            align="start",
        ),
    )
