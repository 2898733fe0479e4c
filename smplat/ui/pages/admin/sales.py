"""Admin → Sales: checkout and webhook counters, checkout sessions (regenerate a payment
link), pricing experiments (define variants, see results), preset events, price preview.
Live while open (`LiveState`): one statement per tick (`live.sales`)."""

from __future__ import annotations

from typing import Any, ClassVar

import reflex as rx
from sqlalchemy import select
from sqlmodel import Session

from smplat.db import session_scope
from smplat.models.catalog import Product
from smplat.services import catalog, checkout, counters, experiments, live, pricing
from smplat.services.checkout import sessions as checkout_sessions
from smplat.services.errors import ServiceError
from smplat.services.money import format_money
from smplat.services.permissions import Permission
from smplat.ui import routes
from smplat.ui.components.common import card, data_table, empty_state, page_title, stat_card, status_badge
from smplat.ui.components.layout import admin_page
from smplat.ui.pages.admin._actions import operator_actor
from smplat.ui.registry import NavEntry, page
from smplat.ui.state.auth import AuthState, requires
from smplat.ui.state.live import LiveState, live_ticker


class SalesState(AuthState, LiveState):
    counters: dict[str, int] = {}
    sessions: list[dict[str, Any]] = []
    experiments: list[dict[str, Any]] = []
    preset_events: list[dict[str, Any]] = []
    products: list[str] = []
    regenerated_link: str = ""
    message: str = ""
    preview: list[dict[str, str]] = []
    preview_total: str = ""
    live_permission: ClassVar[Permission] = Permission.VIEW_ANALYTICS

    def _live_read(self, db: Session) -> str:
        return live.sales(db)

    def _live_refresh(self) -> None:
        self._reload()  # the forms, the preview and the new link stay as they are

    def _reload(self) -> None:
        with session_scope() as db:
            self.counters = counters.read_counters(db)
            self.sessions = checkout_sessions.checkout_rows(db)
            self.experiments = experiments.experiment_rows(db)
            self.preset_events = counters.preset_event_rows(db)
            self.products = list(
                db.execute(select(Product.slug).where(Product.draft_of_id.is_(None)).order_by(Product.slug)).scalars()
            )

    @rx.event
    @requires(Permission.VIEW_ANALYTICS)
    def load_sales(self) -> None:
        self.message = ""
        self._live_load()

    @rx.event
    @requires(Permission.ACT_ON_ORDERS)
    def regenerate(self, checkout_id: int):
        try:
            with session_scope() as db:
                new = checkout_sessions.regenerate_link(db, int(checkout_id), actor=operator_actor(self))
                self.regenerated_link = new.payment_url
        except (checkout.CheckoutError, checkout.PaymentProviderUnavailable) as exc:
            return rx.toast.error(str(exc))
        self._reload()

    @rx.event
    @requires(Permission.MANAGE_EXPERIMENTS)
    def create_experiment(self, form: dict[str, Any]):
        try:
            with session_scope() as db:
                experiments.define_experiment(
                    db,
                    product_slug=str(form.get("product", "")),
                    key=str(form.get("key", "")),
                    name=str(form.get("name", "")),
                    variants_text=str(form.get("variants", "")),
                    actor=operator_actor(self),
                )
        except experiments.ExperimentError as exc:
            self.message = exc.message
            return
        self.message = "Experiment started."
        self._reload()

    @rx.event
    @requires(Permission.MANAGE_EXPERIMENTS)
    def stop_experiment(self, experiment_id: int):
        with session_scope() as db:
            experiments.stop_experiment(db, int(experiment_id), actor=operator_actor(self))
        self._reload()

    @rx.event
    @requires(Permission.MANAGE_EXPERIMENTS)
    def promote_variant(self, experiment_id: int, variant_key: str):
        try:
            with session_scope() as db:
                experiments.promote_variant(db, int(experiment_id), str(variant_key), actor=operator_actor(self))
        except ServiceError as exc:
            self._reload()
            return rx.toast.error(exc.message)
        self._reload()
        return rx.toast.success("Promoted: its price is now the list price, and the experiment has stopped.")

    @rx.event
    @requires(Permission.VIEW_ANALYTICS)
    def preview_price(self, form: dict[str, Any]):
        with session_scope() as db:
            detail = catalog.get_product_detail(db, str(form.get("product", "")), include_inactive=True)
            if detail is None:
                self.preview, self.preview_total = [], "Unknown product"
                return
            try:
                config = (
                    pricing.from_preset(detail, str(form["preset"]))
                    if form.get("preset")
                    else pricing.default_configuration(detail)
                )
                # the same pricing as the shop at list price; typed values are not needed
                quote = pricing.price_for(db, detail, config, fields=pricing.FIELDS_SKIP)
            except pricing.ConfigurationInvalid as exc:
                self.preview, self.preview_total = [], str(exc)
                return
            self.preview = pricing.format_breakdown(quote, detail)
            self.preview_total = format_money(quote.total_minor, quote.currency)


def _promote_button(r: rx.Var) -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(
            rx.button(
                "Promote",
                size="1",
                variant=rx.cond(r["suggested"], "solid", "soft"),
                color_scheme="violet",
                id="promote-" + r["key"].to(str) + "-" + r["variant_key"].to(str),
            )
        ),
        rx.alert_dialog.content(
            rx.alert_dialog.title("Promote " + r["variant"].to(str) + "?"),
            rx.alert_dialog.description(
                "Every list price of " + r["product"].to(str) + " becomes " + r["price"].to(str) + " of what it is now "
                "(also in an open draft), and the experiment stops. Orders already placed keep their prices."
            ),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(
                    rx.button(
                        "Promote",
                        color_scheme="violet",
                        on_click=SalesState.promote_variant(r["experiment_id"], r["variant_key"]),
                        id="confirm-promote",
                    )
                ),
                spacing="3",
                justify="end",
                margin_top="1rem",
            ),
        ),
    )


def _experiment_row(r: rx.Var) -> list[rx.Component]:
    return [
        rx.table.row_header_cell(r["experiment"]),
        rx.table.cell(r["product"]),
        rx.table.cell(status_badge(r["status"])),
        rx.table.cell(
            rx.hstack(
                rx.text(r["variant"]),
                rx.cond(r["suggested"], rx.badge("Suggested", color_scheme="green", variant="solid")),
                spacing="2",
            )
        ),
        rx.table.cell(r["price"]),
        rx.table.cell(r["exposures"].to(str)),
        rx.table.cell(r["conversions"].to(str)),
        rx.table.cell(r["conversion_rate"]),
        rx.table.cell(r["revenue"]),
        rx.table.cell(r["per_visitor"]),
        rx.table.cell(rx.badge(r["verdict"], color_scheme=r["tone"].to(str), variant="soft")),
        rx.table.cell(r["p_value"]),
        rx.table.cell(
            rx.hstack(
                rx.cond(
                    r["status"] == "running",
                    rx.button(
                        "Stop", size="1", variant="ghost", on_click=SalesState.stop_experiment(r["experiment_id"])
                    ),
                ),
                rx.cond(r["can_promote"], _promote_button(r)),
                spacing="2",
            )
        ),
    ]


@page(
    route=routes.ADMIN_SALES,
    title="Sales",
    guard=Permission.VIEW_ANALYTICS,
    on_load=SalesState.load_sales,
    nav=NavEntry(group="Sales", label="Sales", icon="credit-card", order=20),
)
def admin_sales_page() -> rx.Component:
    c = SalesState.counters
    return admin_page(
        page_title("Sales", "Checkout health, payment links, pricing experiments and preset use."),
        live_ticker(SalesState.live_tick),
        rx.grid(
            stat_card("Checkouts started", c["checkout_started"].to(str), icon="shopping-cart"),
            stat_card("Completed", c["checkout_completed"].to(str), icon="circle-check", id="sales-completed"),
            stat_card("Failed", c["checkout_failed"].to(str), icon="circle-x"),
            stat_card("Abandoned", c["checkout_abandoned"].to(str), icon="hourglass"),
            stat_card("Webhooks received", c["webhooks_received"].to(str), icon="webhook"),
            stat_card("Duplicates", c["webhooks_duplicate"].to(str), icon="copy"),
            stat_card("Rejected", c["webhooks_rejected"].to(str), icon="shield-x"),
            stat_card("Failed webhooks", c["webhooks_failed"].to(str), icon="triangle-alert"),
            columns=rx.breakpoints(initial="2", md="4"),
            spacing="3",
            width="100%",
            id="sales-counters",
        ),
        rx.heading("Checkout sessions", size="5", margin_top="1.5rem"),
        rx.cond(
            SalesState.regenerated_link != "",
            rx.callout(
                rx.text(
                    "New payment link: ",
                    rx.link(SalesState.regenerated_link, href=SalesState.regenerated_link, id="regenerated-link"),
                ),
                icon="link",
            ),
        ),
        data_table(
            ["#", "Email", "Status", "Total", "Lines", "Created", ""],
            SalesState.sessions,
            lambda r: [
                rx.table.row_header_cell(r["id"].to(str)),
                rx.table.cell(r["email"]),
                rx.table.cell(status_badge(r["status"])),
                rx.table.cell(r["total"]),
                rx.table.cell(r["lines"].to(str)),
                rx.table.cell(r["created"]),
                rx.table.cell(
                    rx.cond(
                        r["can_regenerate"],
                        rx.button("Regenerate link", size="1", variant="soft", on_click=SalesState.regenerate(r["id"])),
                    )
                ),
            ],
            table_id="checkout-sessions",
        ),
        rx.heading("Pricing experiments", size="5", margin_top="1.5rem"),
        card(
            rx.form(
                rx.hstack(
                    rx.select(SalesState.products, name="product", placeholder="Product", id="experiment-product"),
                    rx.input(name="key", placeholder="key, e.g. ig-followers-price", id="experiment-key"),
                    rx.input(name="name", placeholder="Name", id="experiment-name"),
                    rx.input(
                        name="variants",
                        placeholder="control:List price:10000:1, lower:10% off:9000:1",
                        width="100%",
                        max_width="340px",
                        id="experiment-variants",
                    ),
                    rx.button("Start experiment", type="submit", id="start-experiment"),
                    wrap="wrap",
                    spacing="2",
                ),
                on_submit=SalesState.create_experiment,
            ),
            rx.text(SalesState.message, size="2", color_scheme="gray", id="experiment-message"),
        ),
        rx.cond(
            SalesState.experiments.length() > 0,
            data_table(
                [
                    "Experiment",
                    "Product",
                    "Status",
                    "Variant",
                    "Price",
                    "Visitors",
                    "Conversions",
                    "Rate",
                    "Revenue",
                    "Per visitor",
                    "Against control",
                    "p",
                    "",
                ],
                SalesState.experiments,
                _experiment_row,
                table_id="experiments",
            ),
            empty_state(
                "flask-conical",
                "No pricing experiments yet",
                "Start one above: variants of a product's price, shown to visitors in turn.",
                id="experiments-empty",
            ),
        ),
        rx.text(
            "Each variant's conversion rate is compared with the control's by a two-sided, pooled "
            "two-proportion z-test at the 5 % level, once both have enough visitors "
            "(SMPLAT_EXPERIMENT_MIN_EXPOSURES). Suggested: converts significantly better and earns "
            "more per visitor. Promote makes that variant's price the list price and stops the experiment.",
            size="1",
            color_scheme="gray",
        ),
        rx.heading("Preset events", size="5", margin_top="1.5rem"),
        data_table(
            ["Product", "Preset", "Action", "Source", "Count"],
            SalesState.preset_events,
            lambda r: [
                rx.table.row_header_cell(r["product"]),
                rx.table.cell(r["preset"]),
                rx.table.cell(r["action"]),
                rx.table.cell(r["source"]),
                rx.table.cell(r["count"].to(str)),
            ],
            table_id="preset-events",
        ),
        rx.heading("Price preview", size="5", margin_top="1.5rem"),
        card(
            rx.form(
                rx.hstack(
                    rx.select(SalesState.products, name="product", placeholder="Product"),
                    rx.input(name="preset", placeholder="preset key (optional)"),
                    rx.button("Preview", type="submit"),
                    spacing="2",
                ),
                on_submit=SalesState.preview_price,
            ),
            rx.foreach(
                SalesState.preview,
                lambda b: rx.hstack(
                    rx.text(b["label"], size="2"), rx.spacer(), rx.text(b["amount"], size="2"), width="100%"
                ),
            ),
            rx.text(SalesState.preview_total, weight="bold", id="preview-total"),
        ),
    )
