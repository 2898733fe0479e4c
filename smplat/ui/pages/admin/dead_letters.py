"""Admin → Dead letters: fulfilment tasks that ran out of attempts; retry or cancel with a
reason (it goes on the order's timeline). Handlers are staff-only."""

from __future__ import annotations

from typing import Any

import reflex as rx

from smplat.db import session_scope
from smplat.services.fulfillment import operator_actions, read_models
from smplat.services.permissions import Permission
from smplat.ui import routes
from smplat.ui.components.common import data_table, empty_state, form_alert, page_title
from smplat.ui.components.layout import admin_page
from smplat.ui.pages.admin._actions import action_select, operator_actor
from smplat.ui.registry import NavEntry, page
from smplat.ui.state.auth import AuthState, requires


class DeadLettersState(AuthState):
    rows: list[dict[str, Any]] = []
    error: str = ""
    loaded: bool = False

    def _reload(self) -> None:
        with session_scope() as db:
            self.rows = read_models.dead_letters(db)
        self.loaded = True

    @rx.event
    @requires(Permission.ACT_ON_ORDERS)
    def load(self) -> None:
        self.error = ""
        self._reload()

    @rx.event
    @requires(Permission.ACT_ON_ORDERS)
    def act(self, data: dict[str, Any]):
        action, reason = str(data.get("action", "")), str(data.get("reason", "")).strip()
        try:
            task_id = int(str(data.get("task_id", "")))
        except ValueError:
            self.error = "Pick a task."
            return None
        if action not in ("retry", "cancel"):
            self.error = "Choose Retry or Cancel."
            return None
        try:
            with session_scope() as db:
                do = operator_actions.retry_task if action == "retry" else operator_actions.cancel_task
                do(db, task_id, operator_actor(self), reason)
        except operator_actions.TaskActionError as exc:  # the service says why (a missing reason too)
            self.error = exc.message
            self._reload()
            return None
        self.error = ""
        self._reload()
        return rx.toast.success(f"Task {task_id} {'queued again' if action == 'retry' else 'canceled'}.")


def _dead_letter_actions(row: rx.Var) -> rx.Component:
    return rx.form(
        rx.hstack(
            rx.el.input(type="hidden", name="task_id", value=row["task_id"].to(str)),
            action_select([("retry", "Retry"), ("cancel", "Cancel")], "action-" + row["task_id"].to(str)),
            rx.input(
                name="reason",
                placeholder="Reason",
                size="1",
                width="10rem",
                required=True,
                id="reason-" + row["task_id"].to(str),
            ),
            rx.button("Apply", size="1", type="submit", id="apply-" + row["task_id"].to(str)),
            spacing="2",
            align="center",
        ),
        on_submit=DeadLettersState.act,
        reset_on_submit=True,
    )


@page(
    route=routes.ADMIN_DEAD_LETTERS,
    title="Dead letters",
    guard=Permission.ACT_ON_ORDERS,
    on_load=DeadLettersState.load,
    nav=NavEntry(group="Operations", label="Dead letters", icon="inbox", order=20),
)
def admin_dead_letters_page() -> rx.Component:
    table = data_table(
        ["Order", "Item", "Task", "Attempts", "Last error", "Since", "Action"],
        DeadLettersState.rows,
        lambda d: [
            rx.table.row_header_cell(
                rx.link(d["order"], href=routes.ADMIN_ORDERS + "/" + d["order"].to(str), weight="medium")
            ),
            rx.table.cell(d["product"]),
            rx.table.cell(rx.badge(d["kind"], variant="outline")),
            rx.table.cell(d["attempts"].to(str)),
            rx.table.cell(rx.text(d["error"], size="1", color="var(--red-11)", max_width="22rem")),
            rx.table.cell(d["updated"]),
            rx.table.cell(_dead_letter_actions(d)),
        ],
        "dead-letters-table",
    )
    return admin_page(
        page_title(
            "Dead letters", "Fulfilment tasks that ran out of attempts. Retry once the cause is fixed, or cancel."
        ),
        form_alert(DeadLettersState.error, alert_id="dead-letter-error"),
        rx.cond(
            DeadLettersState.rows.length() > 0,
            table,
            rx.cond(
                DeadLettersState.loaded,
                empty_state("inbox", "No dead letters", "Every task is delivered or still being retried."),
            ),
        ),
    )
