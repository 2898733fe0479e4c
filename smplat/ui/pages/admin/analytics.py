"""Admin → Analytics: revenue and orders over time against the previous period, the conversion
funnel, fulfilment per provider, provider share, margins, average completion time, searches,
payment and webhook outcomes, as Plotly charts that update while the page is open.

Live (`LiveState`, ui/state/live.py): `live_ticker` (an `rx.moment` that unmounts with the
page, so polling stops when it closes) calls `live_tick`: one statement
(`analytics.live_version`) and the guarded full reload of the chosen period only when it moved."""

from __future__ import annotations

from typing import Any, ClassVar

import plotly.graph_objects as go
import reflex as rx
from sqlmodel import Session

from smplat.db import read_scope
from smplat.models.base import utcnow
from smplat.services import analytics
from smplat.services.money import format_money
from smplat.services.permissions import Permission
from smplat.ui import routes
from smplat.ui.components.common import card, data_table, loading_block, page_title, stat_card
from smplat.ui.components.layout import admin_page
from smplat.ui.registry import NavEntry, page
from smplat.ui.state.auth import AuthState, requires
from smplat.ui.state.live import LiveState, live_ticker

PERIODS = {"7": 7, "30": 30, "90": 90}
CURRENCY = "EUR"


def _layout(fig: go.Figure, height: int = 300, **extra: Any) -> go.Figure:
    fig.update_layout(
        height=height,
        autosize=True,
        margin={"l": 50, "r": 10, "t": 10, "b": 40},
        legend={"orientation": "h", "y": -0.2},
        plot_bgcolor="rgba(0,0,0,0)",
        paper_bgcolor="rgba(0,0,0,0)",
        font={"family": "Inter, system-ui, sans-serif"},
        **extra,
    )
    return fig


def revenue_figure(series: list[dict[str, Any]], previous: list[dict[str, Any]]) -> go.Figure:
    days = [s["day"] for s in series]
    fig = go.Figure()
    fig.add_bar(name="Revenue", x=days, y=[s["revenue_minor"] / 100 for s in series], marker_color="#2563eb")
    fig.add_scatter(
        name="Previous period",
        x=days,
        y=[p["revenue_minor"] / 100 for p in previous[-len(days) :]] if previous else [],
        mode="lines",
        line={"color": "#94a3b8", "dash": "dot"},
    )
    fig.add_scatter(
        name="Orders", x=days, y=[s["orders"] for s in series], mode="lines+markers", yaxis="y2", marker_color="#16a34a"
    )
    return _layout(fig, yaxis_title=CURRENCY, yaxis2={"overlaying": "y", "side": "right", "title": "orders"})


def _empty(fig: go.Figure, message: str) -> go.Figure:
    """A chart with nothing to draw says so, in place of empty axes."""
    fig.update_layout(
        xaxis={"visible": False},
        yaxis={"visible": False},
        annotations=[
            {
                "text": message,
                "showarrow": False,
                "xref": "paper",
                "yref": "paper",
                "x": 0.5,
                "y": 0.5,
                "font": {"size": 14, "color": "#64748b"},
            }
        ],
    )
    return fig


def funnel_figure(stages: list[tuple[str, int]]) -> go.Figure:
    """Each stage's count and its share of the first stage (visits); without visits (none
    recorded: no analytics consent) the counts alone, never a share of nothing."""
    first = stages[0][1] if stages else 0
    text = [f"{n:,}" + (f" · {n / first:.0%}" if first else "") for _, n in stages]
    fig = go.Figure(go.Funnel(y=[s for s, _ in stages], x=[n for _, n in stages], text=text, textinfo="text"))
    if not any(n for _, n in stages):
        _empty(fig, "No visits or orders in this period")
    return _layout(fig)


def providers_figure(rows: list[dict[str, Any]]) -> go.Figure:
    fig = go.Figure()
    names = [r["provider"] for r in rows]
    fig.add_bar(name="Succeeded", x=names, y=[r["succeeded"] for r in rows], marker_color="#16a34a")
    fig.add_bar(name="Failed", x=names, y=[r["failed"] for r in rows], marker_color="#dc2626")
    fig.add_bar(name="Other", x=names, y=[r["other"] for r in rows], marker_color="#94a3b8")
    if not rows:
        _empty(fig, "No provider calls in this period")
    return _layout(fig, barmode="stack")


def share_figure(rows: list[dict[str, Any]]) -> go.Figure:
    fig = go.Figure(go.Pie(labels=[r["provider"] for r in rows], values=[r["orders"] for r in rows], hole=0.45))
    if not any(r["orders"] for r in rows):
        _empty(fig, "No orders placed with providers in this period")
    return _layout(fig)


def margin_figure(rows: list[dict[str, Any]], key: str) -> go.Figure:
    fig = go.Figure()
    names = [r[key] for r in rows]
    fig.add_bar(name="Revenue", x=names, y=[r["revenue_minor"] / 100 for r in rows], marker_color="#2563eb")
    fig.add_bar(name="Cost", x=names, y=[r["cost_minor"] / 100 for r in rows], marker_color="#f59e0b")
    fig.add_bar(name="Margin", x=names, y=[r["margin_minor"] / 100 for r in rows], marker_color="#16a34a")
    if not rows:  # by provider: only what was placed with a provider has a provider
        note = "No sales in this period" if key == "service" else "No orders placed with providers in this period"
        return _layout(_empty(fig, note), barmode="group")
    return _layout(fig, barmode="group", yaxis_title=CURRENCY)


def searches_figure(trending: list[dict[str, Any]]) -> go.Figure:
    fig = go.Figure(go.Bar(x=[t["count"] for t in trending], y=[t["query"] for t in trending], orientation="h"))
    if not trending:
        return _layout(_empty(fig, "No searches in this period"))
    return _layout(fig, yaxis={"autorange": "reversed"})


def _change(value: float | None) -> str:
    return "no previous data" if value is None else f"{value:+.1f} % vs previous period"


class AnalyticsState(AuthState, LiveState):
    period: str = "30"
    kpis: dict[str, str] = {}
    revenue_chart: go.Figure = go.Figure()
    funnel_chart: go.Figure = go.Figure()
    providers_chart: go.Figure = go.Figure()
    share_chart: go.Figure = go.Figure()
    service_margin_chart: go.Figure = go.Figure()
    provider_margin_chart: go.Figure = go.Figure()
    searches_chart: go.Figure = go.Figure()
    margins: list[dict[str, str]] = []
    completion: list[dict[str, str]] = []
    payments: list[dict[str, str]] = []
    webhooks: list[dict[str, str]] = []
    trending: list[dict[str, str]] = []
    zero_results: list[dict[str, str]] = []
    loaded: bool = False
    live_permission: ClassVar[Permission] = Permission.VIEW_ANALYTICS

    def _days(self) -> int:
        return PERIODS.get(self.period, 30)

    live_version_in_refresh: ClassVar[bool] = True

    def _live_read(self, db: Session) -> str:
        return analytics.live_version(db)

    def _live_refresh(self) -> str:
        """Every figure of the chosen period again."""
        now, days = utcnow(), self._days()
        with read_scope() as db:
            figures = analytics.period_figures(db, now, days, CURRENCY)
        insights = figures["search"]
        compared, series, previous = figures["comparison"], figures["series"], figures["previous_series"]
        stages, activity, outcomes = figures["funnel"], figures["activity"], figures["outcomes"]
        by_service, by_provider = figures["by_service"], figures["by_provider"]
        seconds, titles = figures["completion"], figures["titles"]
        current, before = compared["current"], compared["previous"]
        self.kpis = {
            "revenue": format_money(current.revenue_minor, CURRENCY),
            "revenue_change": _change(compared["revenue_change"]),
            "orders": str(current.orders),
            "orders_change": _change(compared["orders_change"]),
            "aov": format_money(current.aov_minor, CURRENCY),
            "aov_change": _change(compared["aov_change"]),
            "previous": f"previous period: {format_money(before.revenue_minor, CURRENCY)}, {before.orders} orders",
        }
        self.revenue_chart = revenue_figure(series, previous)
        self.funnel_chart = funnel_figure(stages)
        self.providers_chart = providers_figure(activity)
        self.share_chart = share_figure(activity)
        self.service_margin_chart = margin_figure(by_service, "service")
        self.provider_margin_chart = margin_figure(by_provider, "provider")
        self.margins = [
            {
                "name": r.get("service") or r.get("provider"),
                "revenue": format_money(r["revenue_minor"], CURRENCY),
                "cost": format_money(r["cost_minor"], CURRENCY),
                "margin": format_money(r["margin_minor"], CURRENCY),
                "percent": "—" if r["margin_percent"] is None else f"{r['margin_percent']:.1f} %",
            }
            for r in [*by_service, *by_provider]
        ]
        self.completion = [
            {"service": titles.get(pid, str(pid)), "average": analytics.duration_label(s)}
            for pid, s in sorted(seconds.items(), key=lambda kv: titles.get(kv[0], ""))
        ]
        self.payments = [
            {
                "kind": p["kind"],
                "status": p["status"],
                "count": str(p["count"]),
                "amount": format_money(p["amount_minor"], CURRENCY),
            }
            for p in outcomes["payments"]
        ]
        self.webhooks = [
            {"type": w["type"], "status": w["status"], "count": str(w["count"])} for w in outcomes["webhooks"]
        ]
        trending = [{"query": t.query, "count": t.searches} for t in insights.trending]
        self.searches_chart = searches_figure(trending)
        self.trending = [{"query": t.query, "count": str(t.searches)} for t in insights.trending]
        self.zero_results = [{"query": t.query, "count": str(t.searches)} for t in insights.zero_results]
        self.loaded = True
        return figures["version"]

    @rx.event
    @requires(Permission.VIEW_ANALYTICS)
    def load_analytics(self) -> None:
        period = str(self.router.url.query_parameters.get("period", self.period))
        self.period = period if period in PERIODS else "30"
        self._live_load()

    @rx.event
    @requires(Permission.VIEW_ANALYTICS)
    def choose_period(self, period: str) -> None:
        self.period = period if period in PERIODS else "30"
        self._live_load()


def _chart(title: str, figure: rx.Var, chart_id: str) -> rx.Component:
    return card(
        rx.heading(title, size="4"),
        rx.box(
            rx.plotly(
                data=figure,
                use_resize_handler=True,
                config={"responsive": True, "displayModeBar": False},
                style={"width": "100%"},
            ),
            width="100%",
            overflow="hidden",
        ),
        width="100%",
        id=chart_id,
    )


def _table_or_note(headers: list[str], rows: rx.Var, render_row, table_id: str, title: str, note: str) -> rx.Component:
    """`data_table`, or (no rows in the period) its title and a line saying there are none."""
    return rx.cond(
        rows.length() > 0,
        data_table(headers, rows, render_row, table_id),
        card(rx.heading(title, size="4"), rx.text(note, size="2", color_scheme="gray"), width="100%"),
    )


def _query_list(title: str, rows: rx.Var, list_id: str) -> rx.Component:
    return card(
        rx.heading(title, size="4"),
        rx.cond(
            rows.length() > 0,
            rx.vstack(
                rx.foreach(
                    rows,
                    lambda r: rx.hstack(rx.text(r["query"], size="2"), rx.spacer(), rx.badge(r["count"]), width="100%"),
                ),
                spacing="1",
                width="100%",
            ),
            rx.text("None in this period.", size="2", color_scheme="gray"),
        ),
        width="100%",
        id=list_id,
    )


@page(
    route=routes.ADMIN_ANALYTICS,
    title="Analytics",
    guard=Permission.VIEW_ANALYTICS,
    on_load=AnalyticsState.load_analytics,
    nav=NavEntry(group="Sales", label="Analytics", icon="chart-line", order=25),
)
def admin_analytics_page() -> rx.Component:
    s = AnalyticsState
    tiles = rx.grid(
        stat_card("Revenue", s.kpis["revenue"], s.kpis["revenue_change"], icon="banknote", id="kpi-revenue"),
        stat_card("Paid orders", s.kpis["orders"], s.kpis["orders_change"], icon="package", id="kpi-orders"),
        stat_card("Average order value", s.kpis["aov"], s.kpis["aov_change"], icon="receipt", id="kpi-aov"),
        columns=rx.breakpoints(initial="1", md="3"),
        spacing="3",
        width="100%",
    )
    period = rx.select(
        ["7", "30", "90"], value=s.period, on_change=s.choose_period, name="period", id="analytics-period"
    )
    two = {"columns": rx.breakpoints(initial="1", lg="2"), "spacing": "3", "width": "100%"}
    return admin_page(
        page_title("Analytics", "Live numbers from the database; they update while this page is open."),
        live_ticker(AnalyticsState.live_tick),
        rx.cond(
            s.loaded,
            rx.vstack(
                rx.hstack(
                    rx.text("Last days:", size="2"),
                    period,
                    rx.text(s.kpis["previous"], size="1", color_scheme="gray"),
                    align="center",
                    spacing="2",
                ),
                tiles,
                _chart("Revenue and orders", s.revenue_chart, "analytics-revenue"),
                rx.grid(
                    _chart("Conversion funnel", s.funnel_chart, "analytics-funnel"),
                    _chart("Provider share of orders", s.share_chart, "analytics-share"),
                    **two,
                ),
                _chart("Fulfilment calls by provider", s.providers_chart, "analytics-providers"),
                rx.grid(
                    _chart("Margin by service", s.service_margin_chart, "analytics-margin-service"),
                    _chart("Margin by provider", s.provider_margin_chart, "analytics-margin-provider"),
                    **two,
                ),
                _table_or_note(
                    ["Service / provider", "Revenue", "Cost", "Margin", "%"],
                    s.margins,
                    lambda r: [
                        rx.table.row_header_cell(r["name"]),
                        rx.table.cell(r["revenue"]),
                        rx.table.cell(r["cost"]),
                        rx.table.cell(r["margin"]),
                        rx.table.cell(r["percent"]),
                    ],
                    "analytics-margins",
                    "Margins",
                    "No sales in this period.",
                ),
                _table_or_note(
                    ["Service", "Average completion time (orders of the period)"],
                    s.completion,
                    lambda r: [rx.table.row_header_cell(r["service"]), rx.table.cell(r["average"])],
                    "analytics-completion",
                    "Average completion time",
                    "No orders completed in this period.",
                ),
                _chart("Most searched", s.searches_chart, "analytics-searches"),
                rx.grid(
                    _query_list("Trending searches", s.trending, "analytics-trending"),
                    _query_list("Searches with no results", s.zero_results, "analytics-zero-results"),
                    **two,
                ),
                rx.grid(
                    _table_or_note(
                        ["Payment", "Status", "Count", "Amount"],
                        s.payments,
                        lambda r: [
                            rx.table.row_header_cell(r["kind"]),
                            rx.table.cell(r["status"]),
                            rx.table.cell(r["count"]),
                            rx.table.cell(r["amount"]),
                        ],
                        "analytics-payments",
                        "Payments",
                        "No payments in this period.",
                    ),
                    _table_or_note(
                        ["Webhook", "Status", "Count"],
                        s.webhooks,
                        lambda r: [
                            rx.table.row_header_cell(r["type"]),
                            rx.table.cell(r["status"]),
                            rx.table.cell(r["count"]),
                        ],
                        "analytics-webhooks",
                        "Webhooks",
                        "No webhooks received in this period.",
                    ),
                    **two,
                ),
                spacing="4",
                width="100%",
                align="start",
            ),
            loading_block(),
        ),
    )
