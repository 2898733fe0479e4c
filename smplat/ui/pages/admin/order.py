"""Admin â one order: its lines, current provider orders (superseded ones collapsed into
history), the timeline (order events and every provider request/answer), and the actions:
refill / replay / scheduled replay / cancel at the provider per provider order; status with a
reason, internal note, message to the customer, refund (full or part) and retry of dead
letters for the order. Handlers are staff-only; each calls one service function, which checks
the role again, writes the order event and the audit row. Live while open (`LiveState`): one
statement per tick (`live.order`, this order's newest event, attempt, provider order, line
and payment change); the reload keeps what the operator typed in the action forms (the
provider-order cards are keyed by id)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

import reflex as rx
from sqlmodel import Session

from smplat.db import session_scope
from smplat.models.orders import OrderStatus
from smplat.services import admin_orders, live, operations
from smplat.services.errors import ServiceError
from smplat.services.fulfillment import operator_actions
from smplat.services.fulfillment.cancel import CancelRefused, request_cancel
from smplat.services.money import exponent
from smplat.services.permissions import Permission
from smplat.ui import routes
from smplat.ui.components.common import card, data_table, empty_state, form_alert, page_title, status_badge
from smplat.ui.components.layout import admin_page
from smplat.ui.pages.admin._actions import COMPACT_SELECT, action_select, operator_actor, reason_input
from smplat.ui.registry import page
from smplat.ui.state.auth import AuthState, requires
from smplat.ui.state.live import LiveState, live_ticker


class OrderDetailState(AuthState, LiveState):
    order: dict[str, Any] = {}
    error: str = ""
    loaded: bool = False
    _shown_number: str = ""  # the order the guarded loader opened (what the tick watches)
    live_permission: ClassVar[Permission] = Permission.VIEW_ORDERS

    def _number(self) -> str:
        return str(self.router.page.params.get("number", ""))

    def _reload(self) -> None:
        with session_scope() as db:
            self.order = operations.order_detail(db, self._shown_number) or {}
        self.loaded = True

    def _live_read(self, db: Session) -> str:
        return live.order(db, self._shown_number)

    def _live_refresh(self) -> None:
        self._reload()

    @rx.event
    @requires(Permission.VIEW_ORDERS)
    def load(self) -> None:
        self.error = ""
        self._shown_number = self._number()[:40]
        self._live_load()

    def _item_of_this_order(self, raw: Any) -> int | None:
        try:
            item_id = int(str(raw))
        except ValueError:
            return None
        return item_id if any(i["id"] == item_id for i in self.order.get("items", [])) else None

    @rx.event
    @requires(Permission.ACT_ON_ORDERS)
    def act(self, data: dict[str, Any]):
        action, reason = str(data.get("action", "")), str(data.get("reason", "")).strip()
        item_id = self._item_of_this_order(data.get("item_id", ""))
        if item_id is None:
            self.error = "That line is not part of this order."
            return None
        try:
            with session_scope() as db:
                actor = operator_actor(self)
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
                elif action == "cancel":
                    request_cancel(db, item_id, actor, reason)
                    done = "Cancel queued: the provider is asked now."
                else:
                    raise operator_actions.RefillRefused("choose refill, replay, schedule or cancel")
        except (operator_actions.RefillRefused, CancelRefused) as exc:  # the service says why (a missing reason too)
            self.error = exc.message
            return None
        self.error = ""
        self._reload()
        return rx.toast.success(done)

    def _order_action(self, run: Any, done: str):
        """Run one service call on this order; a refusal shows beside the actions."""
        if not self.order.get("number"):
            self.error = "No such order."
            return None
        try:
            with session_scope() as db:
                result = run(db, operator_actor(self), str(self.order["number"]))
        except ServiceError as exc:
            self.error = exc.message[:1].upper() + exc.message[1:] + "."
            return None
        self.error = ""
        self._reload()
        return rx.toast.success(done.format(result=result))

    @rx.event
    @requires(Permission.ACT_ON_ORDERS)
    def change_status(self, data: dict[str, Any]):
        status, reason = str(data.get("status", "")), str(data.get("reason", ""))
        return self._order_action(
            lambda db, actor, number: admin_orders.change_status(db, actor, number, status, reason),
            "Status changed on {result} line(s).",
        )

    @rx.event
    @requires(Permission.ACT_ON_ORDERS)
    def add_note(self, data: dict[str, Any]):
        text = str(data.get("note", ""))
        return self._order_action(
            lambda db, actor, number: admin_orders.add_note(db, actor, number, text), "Note added."
        )

    @rx.event
    @requires(Permission.ACT_ON_ORDERS)
    def message_customer(self, data: dict[str, Any]):
        text = str(data.get("message", ""))
        return self._order_action(
            lambda db, actor, number: admin_orders.message_customer(db, actor, number, text),
            "Message sent to the customer.",
        )

    @rx.event
    @requires(Permission.REFUND)
    def refund(self, data: dict[str, Any]):
        raw = str(data.get("amount", "")).strip()
        amount = _minor(raw, str(self.order.get("currency", "EUR")))
        if raw and amount is None:
            self.error = "Write the amount to refund, e.g. 12.50, or leave it empty to refund all that is left."
            return None
        return self._order_action(
            lambda db, actor, number: admin_orders.refund(db, actor, number, amount), "Refund made."
        )

    @rx.event
    @requires(Permission.ACT_ON_ORDERS)
    def retry_dead_letters(self, data: dict[str, Any]):
        reason, order_id = str(data.get("reason", "")), int(self.order.get("id") or 0)
        return self._order_action(
            lambda db, actor, number: admin_orders.bulk_retry(db, actor, [order_id], reason),
            "{result} dead-lettered task(s) queued again.",
        )


def _minor(raw: str, currency: str) -> int | None:
    """ "12.50" → 1250 (in the currency's minor units); None for anything else."""
    try:
        value = Decimal(raw) * (10 ** exponent(currency))
    except (InvalidOperation, ValueError):
        return None
    if value != value.to_integral_value() or value <= 0:
        return None
    return int(value)


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
            action_select(
                [
                    ("refill", "Refill"),
                    ("replay", "Replay now"),
                    ("schedule", "Schedule replay"),
                    ("cancel", "Cancel at provider"),
                ],
                "action-po-" + po["id"].to(str),
            ),
            reason_input("reason-po-" + po["id"].to(str), width="11rem", required=True),
            rx.input(
                name="run_at",
                type="datetime-local",
                size="1",
                width="12rem",
                id="run-at-po-" + po["id"].to(str),
                title="Replay time (UTC), for a scheduled replay",
            ),
            rx.button("Apply", size="1", type="submit", id="apply-po-" + po["id"].to(str)),
            spacing="2",
            wrap="wrap",
            align="center",
        ),
        on_submit=OrderDetailState.act,
        reset_on_submit=True,
    )


def _small_form(form_id: str, handler: Any, *fields: rx.Component, button: str) -> rx.Component:
    return rx.form(
        rx.flex(
            *fields,
            rx.button(button, size="1", type="submit", id=form_id + "-submit"),
            spacing="2",
            wrap="wrap",
            align="center",
        ),
        on_submit=handler,
        reset_on_submit=True,
        id=form_id,
    )


def _order_actions(o: rx.Var) -> rx.Component:
    return card(
        rx.vstack(
            rx.text(
                "Total ",
                o["total"].to(str),
                " · charged ",
                o["charged"].to(str),
                " · refunded ",
                o["refunded"].to(str),
                size="2",
                id="order-money",
            ),
            _small_form(
                "status-form",
                OrderDetailState.change_status,
                rx.el.select(
                    *[rx.el.option(s.value.replace("_", " "), value=s.value) for s in OrderStatus],
                    name="status",
                    id="status-select",
                    # starts at the order's status (keyed: re-drawn when the status changes)
                    default_value=o["status"].to(str),
                    key=o["status"].to(str),
                    style=COMPACT_SELECT,
                ),
                reason_input("status-reason"),
                button="Change status",
            ),
            _small_form(
                "refund-form",
                OrderDetailState.refund,
                rx.input(
                    name="amount",
                    placeholder="Amount (empty: all that is left)",
                    size="1",
                    width="16rem",
                    id="refund-amount",
                ),
                button="Refund",
            ),
            _small_form(
                "note-form",
                OrderDetailState.add_note,
                rx.input(name="note", placeholder="Internal note", size="1", width="24rem", id="note-text"),
                button="Add note",
            ),
            _small_form(
                "message-form",
                OrderDetailState.message_customer,
                rx.input(
                    name="message", placeholder="Message to the customer", size="1", width="24rem", id="message-text"
                ),
                button="Message customer",
            ),
            _small_form(
                "retry-form",
                OrderDetailState.retry_dead_letters,
                reason_input("retry-reason"),
                button="Retry dead letters",
            ),
            spacing="3",
            align="start",
            width="100%",
        ),
        width="100%",
    )


@page(route=routes.ADMIN_ORDER, title="Order", guard=Permission.VIEW_ORDERS, on_load=OrderDetailState.load)
def admin_order_page() -> rx.Component:
    o = OrderDetailState.order
    items = data_table(
        ["Item", "Status", "Ordered", "Delivered", "Remains"],
        o["items"].to(list[dict[str, Any]]),
        lambda i: [
            rx.table.row_header_cell(
                rx.vstack(
                    rx.text(i["product"], weight="medium"),
                    rx.text(i["summary"], size="1", color_scheme="gray"),
                    rx.text(i["link"], " ", i["fields"], size="1", color_scheme="gray"),
                    rx.text(i["promise"], size="1", color_scheme="gray"),
                    spacing="0",
                    align="start",
                )
            ),
            rx.table.cell(status_badge(i["status"])),
            rx.table.cell(i["ordered"]),
            rx.table.cell(i["delivered"]),
            rx.table.cell(i["remains"]),
        ],
        "order-items-table",
    )

    def po_card(po: rx.Var, actions: bool) -> rx.Component:
        return card(
            rx.vstack(
                rx.flex(
                    rx.text(po["product"], weight="bold"),
                    rx.badge(po["provider"], variant="outline"),
                    status_badge(po["status"]),
                    rx.text("#", po["external_id"], size="2", color_scheme="gray"),
                    spacing="2",
                    wrap="wrap",
                    align="center",
                ),
                rx.flex(
                    *[
                        rx.vstack(
                            rx.text(label, size="1", color_scheme="gray"),
                            rx.text(po[key], size="2", weight="medium"),
                            spacing="0",
                            align="start",
                        )
                        for label, key in (
                            ("Quantity", "quantity"),
                            ("Charge", "charge"),
                            ("Start count", "start_count"),
                            ("Remains", "remains"),
                        )
                    ],
                    spacing="5",
                    wrap="wrap",
                ),
                *([_provider_order_actions(po)] if actions else []),
                spacing="3",
                align="start",
                width="100%",
            ),
            width="100%",
        )

    provider_orders = o["provider_orders"].to(list[dict[str, Any]])
    pos = rx.vstack(
        rx.foreach(
            provider_orders, lambda po: rx.fragment(rx.cond(po["current"].to(bool), po_card(po, True)), key=po["id"])
        ),
        rx.el.details(
            rx.el.summary("Superseded provider orders (history)", style={"cursor": "pointer"}),
            rx.vstack(
                rx.foreach(
                    provider_orders, lambda po: rx.cond(po["current"].to(bool), rx.fragment(), po_card(po, False))
                ),
                spacing="3",
                width="100%",
                margin_top="0.5rem",
            ),
            id="superseded-provider-orders",
        ),
        spacing="3",
        width="100%",
        id="provider-orders",
    )
    timeline = rx.vstack(
        rx.foreach(
            o["events"].to(list[dict[str, Any]]),
            lambda e: rx.hstack(
                rx.box(
                    width="8px",
                    height="8px",
                    border_radius="50%",
                    background="var(--violet-9)",
                    margin_top="7px",
                    flex_shrink="0",
                ),
                rx.vstack(
                    rx.text(e["message"], size="2"),
                    rx.text(e["time"], " · ", e["actor"], " · ", e["kind"], size="1", color_scheme="gray"),
                    spacing="0",
                    align="start",
                ),
                align="start",
                spacing="3",
                width="100%",
            ),
        ),
        spacing="3",
        width="100%",
        id="order-timeline",
    )
    body = rx.vstack(
        page_title(
            "Order " + o["number"].to(str),
            o["customer"].to(str) + " · placed " + o["placed"].to(str),
            status_badge(o["status"].to(str)),
            status_badge(o["payment_status"].to(str)),
        ),
        form_alert(OrderDetailState.error, alert_id="order-action-error"),
        rx.heading("Items", size="5"),
        items,
        rx.heading("Provider orders", size="5", margin_top="0.5rem"),
        rx.cond(
            o["provider_orders"].to(list[dict[str, Any]]).length() > 0,
            pos,
            rx.text("Not sent to a provider yet.", color_scheme="gray"),
        ),
        rx.heading("Actions", size="5", margin_top="0.5rem"),
        _order_actions(o),
        rx.heading("Invoices", size="5", margin_top="0.5rem"),
        rx.cond(
            o["invoices"].to(list[dict[str, Any]]).length() > 0,
            data_table(
                ["Number", "Kind", "Issued", "Net", "VAT", "Total", ""],
                o["invoices"].to(list[dict[str, Any]]),
                lambda inv: [
                    rx.table.row_header_cell(inv["number"]),
                    rx.table.cell(inv["kind"]),
                    rx.table.cell(inv["issued"]),
                    rx.table.cell(inv["net"]),
                    rx.table.cell(inv["vat"]),
                    rx.table.cell(inv["gross"], weight="medium"),
                    rx.table.cell(rx.link("PDF", href=inv["download"].to(str), is_external=True)),
                ],
                "order-invoices-table",
            ),
            rx.text("No invoice: nothing was paid yet.", color_scheme="gray", id="order-invoices-empty"),
        ),
        rx.heading("Timeline", size="5", margin_top="0.5rem"),
        card(timeline, width="100%"),
        spacing="3",
        width="100%",
        align="start",
    )
    return admin_page(
        rx.link("← Orders", href=routes.ADMIN_ORDERS, size="2", color_scheme="gray"),
        live_ticker(OrderDetailState.live_tick),
        rx.cond(
            o.contains("number"),
            body,
            rx.cond(OrderDetailState.loaded, empty_state("package-x", "No such order", "Check the order number.")),
        ),
    )
