"""Admin → Dead letters: fulfilment tasks that ran out of attempts; retry or cancel with a
reason (it goes on the order's timeline). A task held because the outcome of its add is
unknown is decided instead: it reached the panel (its order id) or not (submit now).
Handlers are staff-only. Live while open (`LiveState`): one statement per tick
(`live.dead_letters`); rows are keyed by task, so a reason being typed stays with its task when
a new dead letter arrives above it."""

from __future__ import annotations

from typing import Any, ClassVar

import reflex as rx
from sqlmodel import Session

from smplat.db import session_scope
from smplat.services import live
from smplat.services.errors import ServiceError
from smplat.services.fulfillment import operator_actions, read_models
from smplat.services.permissions import Permission
from smplat.ui import routes
from smplat.ui.components.common import data_table, empty_state, form_alert, page_title
from smplat.ui.components.layout import admin_page
from smplat.ui.pages.admin._actions import action_select, operator_actor, reason_input
from smplat.ui.registry import NavEntry, page
from smplat.ui.state.auth import AuthState, requires
from smplat.ui.state.live import LiveState, live_ticker


class DeadLettersState(AuthState, LiveState):
    rows: list[dict[str, Any]] = []
    error: str = ""
    loaded: bool = False
    live_permission: ClassVar[Permission] = Permission.ACT_ON_ORDERS

    def _live_read(self, db: Session) -> str:
        return live.dead_letters(db)

    def _live_refresh(self) -> None:
        self._reload()

    def _reload(self) -> None:
        with session_scope() as db:
            self.rows = read_models.dead_letters(db)
        self.loaded = True

    @rx.event
    @requires(Permission.ACT_ON_ORDERS)
    def load(self) -> None:
        self.error = ""
        self._live_load()

    @rx.event
    @requires(Permission.ACT_ON_ORDERS)
    def act(self, data: dict[str, Any]):
        action, reason = str(data.get("action", "")), str(data.get("reason", "")).strip()
        try:
            task_id = int(str(data.get("task_id", "")))
        except ValueError:
            self.error = "Pick a task."
            return None
        if action not in DONE:
            self.error = "Choose an action."
            return None
        external_id = str(data.get("external_order_id", ""))
        try:
            with session_scope() as db:
                actor = operator_actor(self)
                if action == "reached":  # a held task: the operator found the order on the panel
                    operator_actions.confirm_reached(db, task_id, external_id, actor, reason)
                elif action == "not_reached":  # a held task: not on the panel, submit it now
                    operator_actions.submit_not_reached(db, task_id, actor, reason)
                else:
                    do = operator_actions.retry_task if action == "retry" else operator_actions.cancel_task
                    do(db, task_id, actor, reason)
        except ServiceError as exc:  # the service says why (a missing reason or id too)
            self.error = exc.message
            self._reload()
            return None
        self.error = ""
        self._reload()
        return rx.toast.success(f"Task {task_id} {DONE[action]}.")


DONE = {
    "retry": "queued again",
    "cancel": "canceled",
    "reached": "completed with the panel's order",
    "not_reached": "queued to submit now",
}


def _dead_letter_actions(row: rx.Var) -> rx.Component:
    return rx.cond(row["held"], _actions_form(row, held=True), _actions_form(row, held=False))


def _actions_form(row: rx.Var, *, held: bool) -> rx.Component:
    """Retry or cancel; a task held because the outcome of its add is unknown (docs/providers.md,
    "Reconcile without lookup") is decided instead: it reached the panel (enter the panel's
    order id) or it did not (submit now)."""
    task_id = row["task_id"].to(str)
    choices = (
        [("reached", "Reached panel: id"), ("not_reached", "Not reached: submit"), ("cancel", "Cancel")]
        if held
        else [("retry", "Retry"), ("cancel", "Cancel")]
    )
    panel_id = (
        [
            rx.input(
                name="external_order_id",
                placeholder="Panel order id",
                size="1",
                width="9rem",
                id="panel-order-" + task_id,
            )
        ]
        if held
        else []
    )
    return rx.form(
        # stacked (the choice, a held task's panel id, then the reason and the button): the column
        # stays narrow enough for the error beside it
        rx.vstack(
            rx.el.input(type="hidden", name="task_id", value=task_id),
            action_select(choices, "action-" + task_id),
            *panel_id,
            rx.hstack(
                reason_input("reason-" + task_id, width="9rem", placeholder="Reason", required=True),
                rx.button("Apply", size="1", type="submit", id="apply-" + task_id),
                spacing="2",
                align="center",
            ),
            spacing="2",
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
        ["Order", "Item", "Attempts", "Last error", "Since", "Action"],
        DeadLettersState.rows,
        lambda d: [
            rx.table.row_header_cell(
                rx.link(
                    d["order"],
                    href=routes.ADMIN_ORDERS + "/" + d["order"].to(str),
                    weight="medium",
                    white_space="nowrap",
                )
            ),
            rx.table.cell(
                rx.vstack(rx.text(d["product"]), rx.badge(d["kind"], variant="outline"), spacing="1", align="start")
            ),
            rx.table.cell(d["attempts"].to(str)),
            rx.table.cell(rx.text(d["error"], size="1", color="var(--red-11)", min_width="8rem", max_width="22rem")),
            rx.table.cell(rx.text(d["updated"], size="2", width="6rem")),  # the date above the time
            rx.table.cell(_dead_letter_actions(d)),
        ],
        "dead-letters-table",
        row_key="task_id",
    )
    return admin_page(
        page_title(
            "Dead letters",
            "Fulfilment tasks that ran out of attempts: retry once the cause is fixed, or cancel. A task held "
            "for a decision: did its order reach the panel (enter the panel's order id) or not (submit now)?",
        ),
        live_ticker(DeadLettersState.live_tick),
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
