"""Admin → Fulfilment: processed, succeeded, failed, retried and dead-lettered tasks per
provider and task kind, with a chart. Live while open (`LiveState`): one statement per tick
(`live.fulfilment`)."""

from __future__ import annotations

from typing import Any, ClassVar

import plotly.graph_objects as go
import reflex as rx
from sqlmodel import Session

from smplat.db import session_scope
from smplat.services import live, operations
from smplat.services.fulfillment import read_models
from smplat.services.permissions import Permission
from smplat.ui import routes
from smplat.ui.components.common import card, data_table, empty_state, page_title, stat_card
from smplat.ui.components.layout import admin_page
from smplat.ui.registry import NavEntry, page
from smplat.ui.state.auth import AuthState, requires
from smplat.ui.state.live import LiveState, live_ticker


class FulfilmentState(AuthState, LiveState):
    rows: list[dict[str, Any]] = []
    flagged: list[dict[str, Any]] = []
    totals: dict[str, str] = {}
    figure: go.Figure = go.Figure()
    loaded: bool = False
    live_permission: ClassVar[Permission] = Permission.ACT_ON_ORDERS

    @rx.event
    @requires(Permission.ACT_ON_ORDERS)
    def load(self) -> None:
        self._live_load()

    def _live_read(self, db: Session) -> str:
        return live.fulfilment(db)

    def _live_refresh(self) -> None:
        with session_scope() as db:
            rows = operations.metric_rows(db)
            dead_now = operations.dead_letter_count(db)
            self.flagged = read_models.flagged_provider_orders(db)
        self.rows = [{**r, "label": f"{r['provider']} · {r['task_kind']}"} for r in rows]
        self.totals = {
            k: str(sum(r[k] for r in rows)) for k in ("processed", "succeeded", "failed", "retried", "dead_lettered")
        }
        self.totals["dead_now"] = str(dead_now)
        self.figure = _chart(self.rows)
        self.loaded = True


def _chart(rows: list[dict[str, Any]]) -> go.Figure:
    labels = [r["label"] for r in rows]
    fig = go.Figure()
    for key, name, colour in (
        ("succeeded", "Succeeded", "#16a34a"),
        ("retried", "Retried", "#f59e0b"),
        ("dead_lettered", "Dead-lettered", "#dc2626"),
        ("waited", "Waited", "#94a3b8"),
        ("held", "Held for an operator", "#7c3aed"),
    ):
        fig.add_bar(name=name, x=labels, y=[r[key] for r in rows], marker_color=colour)
    fig.update_layout(
        barmode="stack",
        height=320,
        autosize=True,
        margin={"l": 40, "r": 10, "t": 10, "b": 40},
        legend={"orientation": "h", "y": -0.2},
        plot_bgcolor="rgba(0,0,0,0)",
        paper_bgcolor="rgba(0,0,0,0)",
        font={"family": "Inter, system-ui, sans-serif"},
    )
    return fig


@page(
    route=routes.ADMIN_FULFILMENT,
    title="Fulfilment",
    guard=Permission.ACT_ON_ORDERS,
    on_load=FulfilmentState.load,
    nav=NavEntry(group="Operations", label="Fulfilment", icon="activity", order=10),
)
def admin_fulfilment_page() -> rx.Component:
    t = FulfilmentState.totals
    table = data_table(
        [
            "Provider",
            "Task",
            "Processed",
            "Succeeded",
            "Failed",
            "Retried",
            "Dead-lettered",
            "Avg latency",
            "Max latency",
        ],
        FulfilmentState.rows,
        lambda r: [
            rx.table.row_header_cell(r["provider"]),
            rx.table.cell(rx.badge(r["task_kind"], variant="outline")),
            rx.table.cell(r["processed"].to(str)),
            rx.table.cell(r["succeeded"].to(str)),
            rx.table.cell(r["failed"].to(str)),
            rx.table.cell(r["retried"].to(str)),
            rx.table.cell(r["dead_lettered"].to(str)),
            rx.table.cell(r["latency_avg_ms"].to(str) + " ms"),
            rx.table.cell(r["latency_max_ms"].to(str) + " ms"),
        ],
        "fulfilment-metrics-table",
    )
    flagged = rx.cond(
        FulfilmentState.flagged.length() > 0,
        card(
            rx.heading("Flagged provider orders", size="4"),
            rx.text(
                "The panel answered a status word its dialect does not map. The order is still polled; "
                "map the word in the provider's dialect, or settle the order by hand.",
                size="2",
                color_scheme="gray",
            ),
            data_table(
                ["Order", "Provider", "Provider order", "Status word", "Raw answer", "Flagged"],
                FulfilmentState.flagged,
                lambda f: [
                    rx.table.row_header_cell(rx.link(f["order"], href=routes.ADMIN_ORDERS + "/" + f["order"].to(str))),
                    rx.table.cell(rx.link(f["provider"], href=routes.ADMIN_PROVIDERS + "/" + f["provider_id"].to(str))),
                    rx.table.cell(f["external_order_id"]),
                    rx.table.cell(rx.badge(f["raw_status"], color_scheme="amber")),
                    rx.table.cell(rx.code(f["raw_answer"], size="1")),
                    rx.table.cell(f["flagged"]),
                ],
                "flagged-provider-orders",
            ),
            width="100%",
            id="flagged-provider-orders-card",
        ),
    )
    return admin_page(
        page_title("Fulfilment", "Every attempt to reach a provider, by provider and task kind."),
        live_ticker(FulfilmentState.live_tick),
        flagged,
        rx.grid(
            stat_card("Processed", t["processed"], "attempts", icon="send"),
            stat_card("Failed", t["failed"], t["retried"] + " retried", icon="circle-x"),
            stat_card("Dead-lettered", t["dead_lettered"], "attempts that gave up", icon="archive-x"),
            rx.link(
                stat_card("Dead letters now", t["dead_now"], "open the list", icon="inbox"),
                href=routes.ADMIN_DEAD_LETTERS,
                underline="none",
            ),
            columns=rx.breakpoints(initial="2", md="4"),
            spacing="3",
            width="100%",
        ),
        rx.cond(
            FulfilmentState.rows.length() > 0,
            rx.vstack(
                card(
                    rx.heading("Outcomes", size="4"),
                    rx.box(
                        rx.plotly(
                            data=FulfilmentState.figure,
                            use_resize_handler=True,
                            config={"responsive": True, "displayModeBar": False},
                            style={"width": "100%"},
                        ),
                        width="100%",
                        overflow="hidden",
                    ),
                    width="100%",
                    id="fulfilment-chart",
                ),
                table,
                spacing="4",
                width="100%",
                margin_top="1rem",
            ),
            rx.cond(
                FulfilmentState.loaded,
                empty_state(
                    "activity",
                    "No attempts yet",
                    "Counts appear once the jobs process sends orders to providers.",
                    margin_top="1rem",
                ),
            ),
        ),
    )
