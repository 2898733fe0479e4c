"""Product editor, Plans tab: one-time or subscription plans and their Stripe prices.

The rules are in `services.catalog_plans` (a new or re-priced subscription plan creates a new
Stripe price through the adapter, the old one is retired; Stripe unreachable saves nothing)."""

from __future__ import annotations

from typing import Any

import reflex as rx

from smplat.db import session_scope
from smplat.services import catalog_plans
from smplat.services.errors import ServiceError
from smplat.services.permissions import Permission
from smplat.ui import routes
from smplat.ui.components.common import card, data_table, empty_state
from smplat.ui.components.layout import admin_page
from smplat.ui.pages.admin._actions import editor_draft_redirect, operator_actor
from smplat.ui.pages.admin._editor import editor_frame, labelled, native_select, product_header, product_id_param
from smplat.ui.registry import page
from smplat.ui.state.auth import AuthState, requires

FORM_KEYS = ("key", "name", "billing", "interval", "interval_count", "price")
EMPTY_FORM = {"key": "", "name": "", "billing": "subscription", "interval": "month", "interval_count": "1", "price": ""}


class PlansEditorState(AuthState):
    product: dict[str, str] = {}
    rows: list[dict[str, str]] = []
    form: dict[str, str] = dict(EMPTY_FORM)
    editing_id: str = ""
    form_round: int = 0
    errors: dict[str, str] = {}
    error: str = ""
    notice: str = ""
    loaded: bool = False

    def _reload(self) -> None:
        pid = product_id_param(self)
        with session_scope() as db:
            head = product_header(db, pid)
            self.product = head or {}
            if head is not None:
                self.rows = catalog_plans.plan_rows(catalog_plans.list_plans(db, pid))
        self.loaded = True

    def _start(self, form: dict[str, str], editing_id: str) -> None:
        self.form, self.editing_id, self.errors = form, editing_id, {}
        self.form_round += 1

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def load(self):
        if (moved := editor_draft_redirect(self, "plans")) is not None:
            return moved
        self.error, self.notice = "", ""
        self._reload()
        self._start(dict(EMPTY_FORM), "")

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def new_plan(self) -> None:
        self._start(dict(EMPTY_FORM), "")

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def edit(self, plan_id: str) -> None:
        row = next((r for r in self.rows if r["id"] == str(plan_id)), None)
        if row is None:
            self.error = "This plan no longer exists; the list was reloaded."
            self._reload()
            return
        form = {
            "key": row["key"],
            "name": row["name"],
            "billing": row["billing"],
            "interval": row["interval"] or "month",
            "interval_count": row["interval_count"],
            "price": row["price_input"],
        }
        self.error, self.notice = "", ""
        self._start(form, str(plan_id))

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def save(self, data: dict[str, Any]):
        form = {k: str(data.get(k, "") or "") for k in FORM_KEYS}
        self.form = form
        pid = product_id_param(self) or 0
        editing = self.editing_id
        try:
            with session_scope() as db:
                plan, _version = catalog_plans.save_plan(
                    db,
                    operator_actor(self),
                    pid,
                    int(self.product.get("version", "0") or 0),
                    form,
                    plan_id=int(editing) if editing else None,
                )
                done = f"Plan “{plan.name}” saved" + (
                    f" (Stripe price {plan.stripe_price_id})." if plan.stripe_price_id else "."
                )
        except ServiceError as exc:
            self.errors, self.error, self.notice = dict(exc.errors), exc.message, ""
            if exc.code.value in ("conflict", "not_found"):
                self._reload()
            return None
        self.error, self.notice = "", done
        self._reload()
        self._start(dict(EMPTY_FORM), "")
        return rx.toast.success(done)

    @rx.event
    @requires(Permission.EDIT_CATALOG)
    def delete(self, plan_id: str):
        pid = product_id_param(self) or 0
        try:
            with session_scope() as db:
                catalog_plans.delete_plan(
                    db, operator_actor(self), pid, int(self.product.get("version", "0") or 0), int(plan_id)
                )
        except ServiceError as exc:
            self.error, self.notice = exc.message, ""
            self._reload()
            return None
        self.error, self.notice = "", "Plan deleted; its Stripe price was retired."
        self._reload()
        return rx.toast.success("Plan deleted.")


S = PlansEditorState


def _err(name: str) -> rx.Var:
    return S.errors.get(name, "").to(str)


def _input(name: str, **props) -> rx.Component:
    return rx.input(
        name=name,
        id=f"plan-{name}",
        default_value=S.form[name],
        key=f"{name}-" + S.form_round.to_string(),
        width="100%",
        **props,
    )


def _form() -> rx.Component:
    return card(
        rx.form(
            rx.vstack(
                rx.heading(rx.cond(S.editing_id != "", "Edit plan", "Add a plan"), size="4"),
                rx.grid(
                    labelled("Name", _input("name", placeholder="Monthly"), _err("name")),
                    labelled("Key (internal)", _input("key", placeholder="monthly"), _err("key")),
                    labelled(
                        "Billing",
                        native_select(
                            "billing",
                            [("subscription", "Subscription"), ("one_time", "One-time")],
                            S.form["billing"],
                            "billing-" + S.form_round.to_string(),
                        ),
                        _err("billing"),
                    ),
                    labelled(
                        "Price (" + S.product.get("currency", "EUR").to(str) + ")",
                        _input("price", placeholder="29.90", input_mode="decimal"),
                        _err("price"),
                        "per interval for a subscription",
                    ),
                    labelled(
                        "Renews every",
                        rx.hstack(
                            _input("interval_count", type="number", min="1", max="52"),
                            native_select(
                                "interval",
                                [("week", "week(s)"), ("month", "month(s)"), ("year", "year")],
                                S.form["interval"],
                                "interval-" + S.form_round.to_string(),
                            ),
                            spacing="2",
                            width="100%",
                        ),
                        rx.cond(_err("interval") != "", _err("interval"), _err("interval_count")),
                        "subscriptions only; at most a year",
                    ),
                    columns=rx.breakpoints(initial="1", md="2"),
                    spacing="4",
                    width="100%",
                ),
                rx.hstack(
                    rx.button("Save plan", type="submit", id="save-plan", color_scheme="violet"),
                    rx.cond(
                        S.editing_id != "",
                        rx.button("Cancel", type="button", variant="soft", color_scheme="gray", on_click=S.new_plan),
                    ),
                    rx.text(
                        "A new or re-priced subscription gets a new Stripe price; the old one is retired.",
                        size="1",
                        color_scheme="gray",
                    ),
                    spacing="3",
                    align="center",
                ),
                spacing="4",
                width="100%",
                align="start",
            ),
            on_submit=S.save,
            width="100%",
        ),
        width="100%",
    )


@page(
    route=routes.ADMIN_PRODUCT_EDITOR_PLANS,
    title="Product plans",
    guard=Permission.EDIT_CATALOG,
    on_load=PlansEditorState.load,
)
def admin_product_plans_page() -> rx.Component:
    table = rx.cond(
        S.rows.length() > 0,
        data_table(
            ["Plan", "Billing", "Price", "Stripe price", ""],
            S.rows,
            lambda r: [
                rx.table.row_header_cell(
                    rx.vstack(rx.text(r["name"], weight="medium"), rx.code(r["key"], size="1"), spacing="0")
                ),
                rx.table.cell(r["billing_label"]),
                rx.table.cell(r["price"]),
                rx.table.cell(rx.code(r["stripe_price_id"], size="1")),
                rx.table.cell(
                    rx.hstack(
                        rx.button("Edit", size="1", variant="soft", on_click=S.edit(r["id"])),
                        rx.button(
                            "Delete", size="1", variant="outline", color_scheme="red", on_click=S.delete(r["id"])
                        ),
                        spacing="2",
                    )
                ),
            ],
            "plans-table",
        ),
        empty_state(
            "calendar-clock",
            "No plans",
            "Without plans the product is sold once at its package price.",
            id="plans-empty",
        ),
    )
    body = rx.vstack(table, _form(), spacing="4", width="100%", align="start")
    return admin_page(editor_frame(S, "plans", "One-time or subscription, kept in step with Stripe prices.", body))
