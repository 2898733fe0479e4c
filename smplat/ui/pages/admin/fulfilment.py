"""Admin → Dead letters, Fulfilment (metrics) and the order detail page with refill / replay /
scheduled replay. Handlers are staff-only; each action calls one service function that
writes an order event with the operator and the reason."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import plotly.graph_objects as go
import reflex as rx

from smplat.db import session_scope
from smplat.services import operations
from smplat.services.fulfillment import operator_actions, read_models
from smplat.services.order_status import Actor
from smplat.ui import routes
from smplat.ui.components.common import card, data_table, empty_state, form_alert, page_title, stat_card, status_badge
from smplat.ui.components.layout import admin_page
from smplat.ui.state.auth import AuthState, staff_only


def _operator(state: AuthState) -> Actor:
    user = state._current_user()
    return Actor.operator(user.id, user.email)


class DeadLettersState(AuthState):
    rows: list[dict[str, Any]] = []
    error: str = ""
    loaded: bool = False

    def _reload(self) -> None:
        with session_scope() as db:
            self.rows = read_models.dead_letters(db)
        self.loaded = True

    @rx.event
    @staff_only
    def load(self) -> None:
        self.error = ""
        self._reload()

    @rx.event
    @staff_only
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
                do(db, task_id, _operator(self), reason)
        except operator_actions.TaskActionError as exc:  # the service says why (a missing reason too)
            self.error = exc.message
            self._reload()
            return None
        self.error = ""
        self._reload()
        return rx.toast.success(f"Task {task_id} {'queued again' if action == 'retry' else 'canceled'}.")


def _action_select(choices: list[tuple[str, str]], select_id: rx.Var) -> rx.Component:
    """A named native select: form data carries the chosen action (a clicked submit
    button's own name/value is not part of Reflex's form data)."""
    return rx.el.select(
        *[rx.el.option(label, value=value) for value, label in choices],
        name="action", id=select_id,
        style={"height": "24px", "font_size": "12px", "border": "1px solid var(--gray-a7)", "border_radius": "6px",
               "padding": "0 6px", "background": "var(--color-panel-solid)"},
    )


def _dead_letter_actions(row: rx.Var) -> rx.Component:
    return rx.form(
        rx.hstack(
            rx.el.input(type="hidden", name="task_id", value=row["task_id"].to(str)),
            _action_select([("retry", "Retry"), ("cancel", "Cancel")], "action-" + row["task_id"].to(str)),
            rx.input(name="reason", placeholder="Reason", size="1", width="10rem", required=True,
                     id="reason-" + row["task_id"].to(str)),
            rx.button("Apply", size="1", type="submit", id="apply-" + row["task_id"].to(str)),
            spacing="2", align="center"),
        on_submit=DeadLettersState.act, reset_on_submit=True,
    )


def admin_dead_letters_page() -> rx.Component:
    table = data_table(["Order", "Item", "Task", "Attempts", "Last error", "Since", "Action"], DeadLettersState.rows,
                       lambda d: [
                           rx.table.row_header_cell(rx.link(d["order"], href=routes.ADMIN_ORDERS + "/" + d["order"].to(str),
                                                            weight="medium")),
                           rx.table.cell(d["product"]), rx.table.cell(rx.badge(d["kind"], variant="outline")),
                           rx.table.cell(d["attempts"].to(str)),
                           rx.table.cell(rx.text(d["error"], size="1", color="var(--red-11)", max_width="22rem")),
                           rx.table.cell(d["updated"]), rx.table.cell(_dead_letter_actions(d)),
                       ], "dead-letters-table")
    return admin_page(
        page_title("Dead letters", "Fulfilment tasks that ran out of attempts. Retry once the cause is fixed, or cancel."),
        form_alert(DeadLettersState.error, alert_id="dead-letter-error"),
        rx.cond(DeadLettersState.rows.length() > 0, table,
                rx.cond(DeadLettersState.loaded, empty_state("inbox", "No dead letters",
                                                             "Every task is delivered or still being retried."))),
    )


class OrderDetailState(AuthState):
    order: dict[str, Any] = {}
    error: str = ""
    loaded: bool = False

    def _number(self) -> str:
        return str(self.router.page.params.get("number", ""))

    def _reload(self) -> None:
        with session_scope() as db:
            self.order = operations.order_detail(db, self._number()) or {}
        self.loaded = True

    @rx.event
    @staff_only
    def load(self) -> None:
        self.error = ""
        self._reload()

    def _item_of_this_order(self, raw: Any) -> int | None:
        try:
            item_id = int(str(raw))
        except ValueError:
            return None
        return item_id if any(i["id"] == item_id for i in self.order.get("items", [])) else None

    @rx.event
    @staff_only
    def act(self, data: dict[str, Any]):
        action, reason = str(data.get("action", "")), str(data.get("reason", "")).strip()
        item_id = self._item_of_this_order(data.get("item_id", ""))
        if item_id is None:
            self.error = "That line is not part of this order."
            return None
        try:
            with session_scope() as db:
                actor = _operator(self)
                if action == "refill":
                    operator_actions.request_refill(db, item_id, actor, reason)
                    done = "Refill queued."
                elif action == "replay":
                    operator_actions.replay(db, item_id, actor, reason)
                    done = "Replay queued."
                elif action == "schedule":
                    run_at = _parse_utc(str(data.get("run_at", "")))
                    if run_at is None:
                        raise operator_actions.RefillRefused("pick the date and time (UTC) of the replay")
                    operator_actions.schedule_replay(db, item_id, run_at, actor, reason)
                    done = f"Replay scheduled for {run_at:%Y-%m-%d %H:%M} UTC."
                else:
                    raise operator_actions.RefillRefused("choose refill, replay or schedule")
        except operator_actions.RefillRefused as exc:  # the service says why (a missing reason too)
            self.error = exc.message
            return None
        self.error = ""
        self._reload()
        return rx.toast.success(done)


def _parse_utc(raw: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _provider_order_actions(po: rx.Var) -> rx.Component:
    return rx.form(
        rx.flex(
            rx.el.input(type="hidden", name="item_id", value=po["item_id"].to(str)),
            _action_select([("refill", "Refill"), ("replay", "Replay now"), ("schedule", "Schedule replay")],
                           "action-po-" + po["id"].to(str)),
            rx.input(name="reason", placeholder="Reason (required)", size="1", width="11rem", required=True,
                     id="reason-po-" + po["id"].to(str)),
            rx.input(name="run_at", type="datetime-local", size="1", width="12rem", id="run-at-po-" + po["id"].to(str),
                     title="Replay time (UTC), for a scheduled replay"),
            rx.button("Apply", size="1", type="submit", id="apply-po-" + po["id"].to(str)),
            spacing="2", wrap="wrap", align="center"),
        on_submit=OrderDetailState.act, reset_on_submit=True,
    )


def admin_order_page() -> rx.Component:
    o = OrderDetailState.order
    items = data_table(["Item", "Status", "Ordered", "Delivered", "Remains"], o["items"].to(list[dict[str, Any]]),
                       lambda i: [rx.table.row_header_cell(i["product"]), rx.table.cell(status_badge(i["status"])),
                                  rx.table.cell(i["ordered"]), rx.table.cell(i["delivered"]), rx.table.cell(i["remains"])],
                       "order-items-table")
    pos = rx.vstack(rx.foreach(o["provider_orders"].to(list[dict[str, Any]]), lambda po: card(
        rx.vstack(
            rx.flex(rx.text(po["product"], weight="bold"), rx.badge(po["provider"], variant="outline"),
                    status_badge(po["status"]), rx.text("#", po["external_id"], size="2", color_scheme="gray"),
                    spacing="2", wrap="wrap", align="center"),
            rx.flex(*[rx.vstack(rx.text(label, size="1", color_scheme="gray"), rx.text(po[key], size="2", weight="medium"),
                                spacing="0", align="start")
                      for label, key in (("Quantity", "quantity"), ("Charge", "charge"), ("Start count", "start_count"),
                                         ("Remains", "remains"))], spacing="5", wrap="wrap"),
            _provider_order_actions(po),
            spacing="3", align="start", width="100%"),
        width="100%")), spacing="3", width="100%")
    timeline = rx.vstack(rx.foreach(o["events"].to(list[dict[str, Any]]), lambda e: rx.hstack(
        rx.box(width="8px", height="8px", border_radius="50%", background="var(--violet-9)", margin_top="7px",
               flex_shrink="0"),
        rx.vstack(rx.text(e["message"], size="2"),
                  rx.text(e["time"], " · ", e["actor"], " · ", e["kind"], size="1", color_scheme="gray"),
                  spacing="0", align="start"),
        align="start", spacing="3", width="100%")), spacing="3", width="100%", id="order-timeline")
    body = rx.vstack(
        page_title("Order " + o["number"].to(str), o["customer"].to(str) + " · placed " + o["placed"].to(str),
                   status_badge(o["status"].to(str)), status_badge(o["payment_status"].to(str))),
        form_alert(OrderDetailState.error, alert_id="order-action-error"),
        rx.heading("Items", size="5"), items,
        rx.heading("Provider orders", size="5", margin_top="0.5rem"),
        rx.cond(o["provider_orders"].to(list[dict[str, Any]]).length() > 0, pos,
                rx.text("Not sent to a provider yet.", color_scheme="gray")),
        rx.heading("Timeline", size="5", margin_top="0.5rem"), card(timeline, width="100%"),
        spacing="3", width="100%", align="start",
    )
    return admin_page(
        rx.link("← Orders", href=routes.ADMIN_ORDERS, size="2", color_scheme="gray"),
        rx.cond(o.contains("number"), body,
                rx.cond(OrderDetailState.loaded, empty_state("package-x", "No such order", "Check the order number."))),
    )


class FulfilmentState(AuthState):
    rows: list[dict[str, Any]] = []
    totals: dict[str, str] = {}
    figure: go.Figure = go.Figure()
    loaded: bool = False

    @rx.event
    @staff_only
    def load(self) -> None:
        with session_scope() as db:
            rows = operations.metric_rows(db)
            dead_now = operations.dead_letter_count(db)
        self.rows = [{**r, "label": f"{r['provider']} · {r['task_kind']}"} for r in rows]
        self.totals = {k: str(sum(r[k] for r in rows)) for k in ("processed", "succeeded", "failed", "retried", "dead_lettered")}
        self.totals["dead_now"] = str(dead_now)
        self.figure = _chart(self.rows)
        self.loaded = True


def _chart(rows: list[dict[str, Any]]) -> go.Figure:
    labels = [r["label"] for r in rows]
    fig = go.Figure()
    for key, name, colour in (("succeeded", "Succeeded", "#16a34a"), ("retried", "Retried", "#f59e0b"),
                              ("dead_lettered", "Dead-lettered", "#dc2626"), ("waited", "Waited", "#94a3b8")):
        fig.add_bar(name=name, x=labels, y=[r[key] for r in rows], marker_color=colour)
    fig.update_layout(barmode="stack", height=320, autosize=True, margin={"l": 40, "r": 10, "t": 10, "b": 40},
                      legend={"orientation": "h", "y": -0.2}, plot_bgcolor="rgba(0,0,0,0)",
                      paper_bgcolor="rgba(0,0,0,0)", font={"family": "Inter, system-ui, sans-serif"})
    return fig


def admin_fulfilment_page() -> rx.Component:
    t = FulfilmentState.totals
    table = data_table(["Provider", "Task", "Processed", "Succeeded", "Failed", "Retried", "Dead-lettered", "Avg latency",
                        "Max latency"], FulfilmentState.rows, lambda r: [
        rx.table.row_header_cell(r["provider"]), rx.table.cell(rx.badge(r["task_kind"], variant="outline")),
        rx.table.cell(r["processed"].to(str)), rx.table.cell(r["succeeded"].to(str)), rx.table.cell(r["failed"].to(str)),
        rx.table.cell(r["retried"].to(str)), rx.table.cell(r["dead_lettered"].to(str)),
        rx.table.cell(r["latency_avg_ms"].to(str) + " ms"), rx.table.cell(r["latency_max_ms"].to(str) + " ms"),
    ], "fulfilment-metrics-table")
    return admin_page(
        page_title("Fulfilment", "Every attempt to reach a provider, by provider and task kind."),
        rx.grid(
            stat_card("Processed", t["processed"], "attempts", icon="send"),
            stat_card("Failed", t["failed"], t["retried"] + " retried", icon="circle-x"),
            stat_card("Dead-lettered", t["dead_lettered"], "attempts that gave up", icon="archive-x"),
            rx.link(stat_card("Dead letters now", t["dead_now"], "open the list", icon="inbox"),
                    href=routes.ADMIN_DEAD_LETTERS, underline="none"),
            columns=rx.breakpoints(initial="2", md="4"), spacing="3", width="100%",
        ),
        rx.cond(
            FulfilmentState.rows.length() > 0,
            rx.vstack(card(rx.heading("Outcomes", size="4"), rx.box(rx.plotly(data=FulfilmentState.figure, use_resize_handler=True,
                                                    config={"responsive": True, "displayModeBar": False},
                                                    style={"width": "100%"}), width="100%", overflow="hidden"),
                           width="100%", id="fulfilment-chart"),
                      table, spacing="4", width="100%", margin_top="1rem"),
            rx.cond(FulfilmentState.loaded, empty_state("activity", "No attempts yet",
                                                        "Counts appear once the jobs process sends orders to providers.",
                                                        margin_top="1rem")),
        ),
    )
