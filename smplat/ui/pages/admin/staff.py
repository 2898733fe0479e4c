"""Admin → Staff (admins only): operators and admins, change a user's role, deactivate or
reactivate an account. The rules (last admin, sessions ended, audit row) live in
`smplat.services.staff`; the page reads a whitelist of form keys and shows the service's words."""

from __future__ import annotations

from typing import Any

import reflex as rx

from smplat.db import session_scope
from smplat.services import staff
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
    status_badge,
)
from smplat.ui.components.layout import admin_page
from smplat.ui.pages.admin._actions import action_select, operator_actor
from smplat.ui.registry import NavEntry, page
from smplat.ui.state.auth import AuthState, requires

ROLE_CHOICES = [("operator", "Operator"), ("admin", "Admin"), ("customer", "Customer")]


class StaffState(AuthState):
    rows: list[dict[str, Any]] = []
    error: str = ""
    notice: str = ""
    loaded: bool = False

    def _reload(self) -> None:
        with session_scope() as db:
            self.rows = staff.list_staff(db)
        self.loaded = True

    @rx.event
    @requires(Permission.MANAGE_STAFF)
    def load(self) -> None:
        self.error, self.notice = "", ""
        self._reload()

    @rx.event
    @requires(Permission.MANAGE_STAFF)
    def set_role(self, data: dict[str, Any]):
        """Form keys: `email` (or `user_id` from a row) and `action` (the new role)."""
        who = str(data.get("user_id", "") or data.get("email", "")).strip()
        role = str(data.get("action", "")).strip()
        if not who:
            self.error, self.notice = "Give the account's email.", ""
            return None
        try:
            with session_scope() as db:
                user = staff.change_role(db, operator_actor(self), who, role)
                done = f"{user.email} is now {user.role}; their sessions were ended."
        except ServiceError as exc:
            self.error, self.notice = exc.message, ""
            self._reload()
            return None
        self.error, self.notice = "", done
        self._reload()
        return rx.toast.success(done)

    @rx.event
    @requires(Permission.MANAGE_STAFF)
    def set_active(self, data: dict[str, Any]):
        """Form keys: `user_id` and `action` ("deactivate" or "activate")."""
        who, action = str(data.get("user_id", "")).strip(), str(data.get("action", ""))
        if not who.isdigit() or action not in ("deactivate", "activate"):
            self.error, self.notice = "Choose an account and Deactivate or Reactivate.", ""
            return None
        try:
            with session_scope() as db:
                user = staff.set_active(db, operator_actor(self), int(who), action == "activate")
                done = f"{user.email} was {'reactivated' if user.is_active else 'deactivated'}."
        except ServiceError as exc:
            self.error, self.notice = exc.message, ""
            self._reload()
            return None
        self.error, self.notice = "", done
        self._reload()
        return rx.toast.success(done)


def _row_actions(row: rx.Var) -> rx.Component:
    uid = row["id"].to(str)
    return rx.hstack(
        rx.form(
            rx.hstack(
                rx.el.input(type="hidden", name="user_id", value=uid),
                action_select(ROLE_CHOICES, "role-" + uid, row["role"].to(str)),
                rx.button("Change role", size="1", type="submit", variant="soft", id="change-role-" + uid),
                spacing="2",
                align="center",
            ),
            on_submit=StaffState.set_role,
        ),
        rx.form(
            rx.el.input(type="hidden", name="user_id", value=uid),
            rx.el.input(type="hidden", name="action", value=rx.cond(row["active"], "deactivate", "activate")),
            rx.button(
                rx.cond(row["active"], "Deactivate", "Reactivate"),
                size="1",
                type="submit",
                variant="outline",
                color_scheme=rx.cond(row["active"], "red", "gray"),
                id="toggle-active-" + uid,
            ),
            on_submit=StaffState.set_active,
        ),
        spacing="3",
        align="center",
        wrap="wrap",
    )


@page(
    route=routes.ADMIN_STAFF,
    title="Staff",
    guard=Permission.MANAGE_STAFF,
    on_load=StaffState.load,
    nav=NavEntry(group="Settings", label="Staff", icon="user-cog", order=0),
)
def admin_staff_page() -> rx.Component:
    table = data_table(
        ["Email", "Name", "Role", "Status", "Last sign-in", "Actions"],
        StaffState.rows,
        lambda u: [
            rx.table.row_header_cell(u["email"]),
            rx.table.cell(u["name"]),
            rx.table.cell(status_badge(u["role"])),
            rx.table.cell(status_badge(u["status"])),
            rx.table.cell(u["last_login"]),
            rx.table.cell(_row_actions(u)),
        ],
        "staff-table",
    )
    promote = card(
        rx.form(
            rx.vstack(
                rx.heading("Give an account a role", size="4"),
                rx.text(
                    "Make a customer an operator or an admin (or the reverse). Their sessions end, so the new role "
                    "applies from their next sign-in. Every change is in the audit log.",
                    size="2",
                    color_scheme="gray",
                ),
                rx.hstack(
                    rx.input(
                        name="email", id="staff-email", placeholder="email@example.com", type="email", width="18rem"
                    ),
                    action_select(ROLE_CHOICES, "staff-role"),
                    rx.button("Set role", type="submit", id="set-role"),
                    spacing="2",
                    align="center",
                    wrap="wrap",
                ),
                spacing="3",
                align="start",
                width="100%",
            ),
            on_submit=StaffState.set_role,
            reset_on_submit=True,
            width="100%",
        ),
        width="100%",
    )
    return admin_page(
        page_title("Staff", "Operators and admins: roles and access. Admins only."),
        rx.vstack(
            form_alert(StaffState.error, alert_id="staff-error"),
            form_alert(StaffState.notice, color="green", icon="circle-check", alert_id="staff-notice"),
            rx.cond(
                StaffState.loaded,
                rx.cond(
                    StaffState.rows.length() > 0,
                    table,
                    empty_state("users", "No staff yet", "Give an account the operator or admin role below."),
                ),
                loading_block(),
            ),
            promote,
            spacing="4",
            width="100%",
            align="start",
        ),
    )
