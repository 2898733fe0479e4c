"""Admin → Merchandising: preset applies and clears (7-day rolling averages as a Plotly chart),
per-preset 7/30/90-day windows with the risky flag, and blueprint adoption (presets, add-ons,
providers) with run rates. Reads the nightly roll-ups plus what is not rolled up yet (today),
in a fixed number of statements (services/merch_analytics.py). Live while open (`LiveState`):
one statement per tick (`live.merchandising`); the chosen period stays."""

from __future__ import annotations

from typing import Any, ClassVar

import plotly.graph_objects as go
import reflex as rx
from sqlmodel import Session

from smplat.db import session_scope
from smplat.models.base import utcnow
from smplat.models.merchandising import PresetSource
from smplat.services import live, merch_analytics
from smplat.services.permissions import Permission
from smplat.settings import get_settings
from smplat.ui import routes
from smplat.ui.components.common import card, data_table, empty_state, loading_block, page_title, stat_card
from smplat.ui.components.layout import admin_page
from smplat.ui.pages.admin.analytics import _chart, _layout
from smplat.ui.registry import NavEntry, page
from smplat.ui.state.auth import AuthState, requires
from smplat.ui.state.live import LiveState, live_ticker

PERIODS = {"7": 7, "30": 30, "90": 90}
SOURCE_LABELS = {PresetSource.MARKETING_CARD.value: "cards", PresetSource.CONFIGURATOR.value: "configurator"}
KIND_LABELS = {"preset": "Preset", "add_on": "Add-on", "provider": "Provider"}


def rolling_figure(series: list[dict[str, Any]]) -> go.Figure:
    days = [s["day"] for s in series]
    fig = go.Figure()
    fig.add_bar(name="Applies", x=days, y=[s["applies"] for s in series], marker_color="#c7d2fe")
    fig.add_bar(name="Clears", x=days, y=[s["clears"] for s in series], marker_color="#fecaca")
    fig.add_scatter(
        name="Applies, 7-day average",
        x=days,
        y=[s["applies_avg"] for s in series],
        mode="lines",
        line={"color": "#4f46e5", "width": 3},
    )
    fig.add_scatter(
        name="Clears, 7-day average",
        x=days,
        y=[s["clears_avg"] for s in series],
        mode="lines",
        line={"color": "#dc2626", "width": 3},
    )
    return _layout(fig, barmode="group")


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} %"


class MerchandisingState(AuthState, LiveState):
    period: str = "30"
    chart: go.Figure = go.Figure()
    presets: list[dict[str, str]] = []
    adoption: list[dict[str, str]] = []
    kpis: dict[str, str] = {}
    rule: str = ""
    loaded: bool = False
    live_permission: ClassVar[Permission] = Permission.VIEW_ANALYTICS

    def _live_read(self, db: Session) -> str:
        return live.merchandising(db)

    def _live_refresh(self) -> None:
        self._reload()  # the chosen period

    def _reload(self) -> None:
        now, settings = utcnow(), get_settings()
        days = PERIODS.get(self.period, 30)
        with session_scope() as db:
            report = merch_analytics.preset_report(db, now, settings)
            lines, adoption = merch_analytics.adoption(db, now, days)
        self.chart = rolling_figure(report.series)
        self.presets = [
            {
                "product": p.product,
                "preset": p.preset_key,
                **{
                    f"{key}_{n}": value
                    for n in merch_analytics.WINDOWS
                    for key, value in (
                        ("applies", str(p.windows[n].applies)),
                        ("clears", str(p.windows[n].clears)),
                        ("rate", _rate(p.windows[n].clear_rate)),
                        ("net", f"{p.windows[n].net:+d}"),
                    )
                },
                "sources": ", ".join(f"{SOURCE_LABELS.get(s, s)} {n}" for s, n in sorted(p.by_source.items())) or "—",
                "risky": "risky" if p.risky else "",
            }
            for p in report.presets
        ]
        self.adoption = [
            {
                "kind": KIND_LABELS.get(a.kind, a.kind),
                "name": a.name,
                "product": a.product or "all services",
                "lines": str(a.lines),
                "share": _rate(a.share),
                "per_day": f"{a.per_day:.2f}",
                "per_30": f"{a.per_30_days:.1f}",
            }
            for a in adoption
        ]
        week = report.series[-merch_analytics.ROLLING_DAYS :]
        self.kpis = {
            "presets": str(len(report.presets)),
            "risky": str(len(report.risky)),
            "applies": str(sum(s["applies"] for s in week)),
            "clears": str(sum(s["clears"] for s in week)),
            "lines": str(lines),
        }
        self.rule = (
            f"Risky: cleared at least {settings.merch_risky_clear_percent} % as often as applied over the last "
            f"{merch_analytics.RISK_WINDOW} days, with at least {settings.merch_risky_min_applies} applies."
        )
        self.loaded = True

    @rx.event
    @requires(Permission.VIEW_ANALYTICS)
    def load_merchandising(self) -> None:
        period = str(self.router.url.query_parameters.get("period", self.period))
        self.period = period if period in PERIODS else "30"
        self._live_load()

    @rx.event
    @requires(Permission.VIEW_ANALYTICS)
    def choose_period(self, period: str) -> None:
        self.period = period if period in PERIODS else "30"
        self._live_load()


def _window_cell(r: rx.Var, n: int) -> rx.Component:
    """One window in one cell: applies and clears, then the clear rate and net below."""
    return rx.table.cell(
        rx.vstack(
            rx.text(r[f"applies_{n}"] + " applied · " + r[f"clears_{n}"] + " cleared", size="2"),
            rx.text(r[f"rate_{n}"] + " cleared · net " + r[f"net_{n}"], size="1", color_scheme="gray"),
            spacing="0",
        ),
        white_space="nowrap",
    )


@page(
    route=routes.ADMIN_MERCHANDISING,
    title="Merchandising",
    guard=Permission.VIEW_ANALYTICS,
    on_load=MerchandisingState.load_merchandising,
    nav=NavEntry(group="Sales", label="Merchandising", icon="sparkles", order=27),
)
def admin_merchandising_page() -> rx.Component:
    s = MerchandisingState
    tiles = rx.grid(
        stat_card(
            "Presets in use", s.kpis["presets"], "applied or cleared in 90 days", icon="sparkles", id="kpi-presets"
        ),
        stat_card(
            "Risky presets", s.kpis["risky"], "see the rule below the table", icon="triangle-alert", id="kpi-risky"
        ),
        stat_card("Applies, 7 days", s.kpis["applies"], "today included", icon="mouse-pointer-click", id="kpi-applies"),
        stat_card("Clears, 7 days", s.kpis["clears"], "today included", icon="eraser", id="kpi-clears"),
        columns=rx.breakpoints(initial="1", sm="2", lg="4"),
        spacing="3",
        width="100%",
    )
    presets = rx.cond(
        s.presets.length() > 0,
        data_table(
            ["Service", "Preset", "Last 7 days", "Last 30 days", "Last 90 days", "Applies by source (90 days)"],
            s.presets,
            lambda r: [
                rx.table.row_header_cell(
                    rx.vstack(
                        rx.text(r["product"], weight="medium"),
                        rx.cond(r["risky"] != "", rx.badge("Risky", color_scheme="red", variant="solid")),
                        spacing="1",
                    )
                ),
                rx.table.cell(rx.code(r["preset"])),
                _window_cell(r, 7),
                _window_cell(r, 30),
                _window_cell(r, 90),
                rx.table.cell(rx.text(r["sources"], size="1", color_scheme="gray")),
            ],
            "merch-presets",
        ),
        empty_state("sparkles", "No preset events yet", "Applies and clears appear here once visitors use presets."),
    )
    adoption = rx.cond(
        s.adoption.length() > 0,
        data_table(
            ["Kind", "Name", "Service", "Paid lines", "Share of lines", "Per day", "Projected 30 days"],
            s.adoption,
            lambda r: [
                rx.table.row_header_cell(r["kind"]),
                rx.table.cell(rx.code(r["name"])),
                rx.table.cell(r["product"]),
                rx.table.cell(r["lines"]),
                rx.table.cell(r["share"]),
                rx.table.cell(r["per_day"]),
                rx.table.cell(r["per_30"]),
            ],
            "merch-adoption",
        ),
        empty_state("package", "No paid lines in this period", "Adoption is counted from paid order lines."),
    )
    period = rx.select(["7", "30", "90"], value=s.period, on_change=s.choose_period, name="period", id="merch-period")
    return admin_page(
        page_title("Merchandising", "Preset applies and clears, risky presets and blueprint adoption."),
        live_ticker(MerchandisingState.live_tick),
        rx.cond(
            s.loaded,
            rx.vstack(
                tiles,
                _chart("Preset applies and clears per day (last 30 days)", s.chart, "merch-chart"),
                card(
                    rx.heading("Presets", size="4"),
                    rx.text(s.rule, size="2", color_scheme="gray", id="merch-rule"),
                    presets,
                    width="100%",
                ),
                card(
                    rx.hstack(
                        rx.heading("Blueprint adoption", size="4"),
                        rx.spacer(),
                        rx.text("Last days:", size="2"),
                        period,
                        align="center",
                        spacing="2",
                        width="100%",
                    ),
                    rx.text(
                        s.kpis["lines"] + " paid order lines in the period; run rates are per day over the period "
                        "and projected to 30 days.",
                        size="2",
                        color_scheme="gray",
                    ),
                    adoption,
                    width="100%",
                ),
                spacing="4",
                width="100%",
                align="start",
            ),
            loading_block(),
        ),
    )
