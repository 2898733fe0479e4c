"""Admin → Search insights: what visitors searched (with analytics consent), the most
searched queries and the ones that found nothing. Staff only. Live while open (`LiveState`):
one statement per tick (`live.search_insights`)."""

from __future__ import annotations

from typing import Any, ClassVar

import reflex as rx
from sqlmodel import Session

from smplat.db import session_scope
from smplat.services import live, search
from smplat.services.permissions import Permission
from smplat.ui import routes
from smplat.ui.components.common import data_table, empty_state, loading_block, page_title, stat_card
from smplat.ui.components.layout import admin_page
from smplat.ui.registry import NavEntry, page
from smplat.ui.state.auth import AuthState, requires
from smplat.ui.state.live import LiveState, live_ticker

WINDOWS = {"7": "Last 7 days", "30": "Last 30 days", "90": "Last 90 days"}


def _rows(stats: list[search.QueryStat]) -> list[dict[str, Any]]:
    return [
        {
            "query": s.query,
            "searches": s.searches,
            "average": f"{s.average_results:g}",
            "last": s.last_searched.strftime("%Y-%m-%d %H:%M UTC"),
            "href": "/services" + search.SearchParams(q=s.query).query_string(),
        }
        for s in stats
    ]


class SearchInsightsState(AuthState, LiveState):
    window: str = "30"
    kpis: dict[str, str] = {}
    trending: list[dict[str, Any]] = []
    zero_results: list[dict[str, Any]] = []
    categories: list[dict[str, Any]] = []
    loaded: bool = False
    live_permission: ClassVar[Permission] = Permission.VIEW_ANALYTICS

    def _live_read(self, db: Session) -> str:
        return live.search_insights(db)

    def _live_refresh(self) -> None:
        self._load()  # the chosen window

    def _load(self) -> None:
        with session_scope() as db:
            insights = search.search_insights(db, days=int(self.window))
        share = f"{round(100 * insights.zero_result_searches / insights.searches)} %" if insights.searches else "—"
        self.kpis = {"searches": str(insights.searches), "zero": str(insights.zero_result_searches), "share": share}
        self.trending = _rows(insights.trending)
        self.zero_results = _rows(insights.zero_results)
        self.categories = [{"category": slug, "searches": n} for slug, n in insights.categories]
        self.loaded = True

    @rx.event
    @requires(Permission.VIEW_ANALYTICS)
    def load_insights(self) -> None:
        self._live_load()

    @rx.event
    @requires(Permission.VIEW_ANALYTICS)
    def choose_window(self, window: str) -> None:
        if window in WINDOWS:
            self.window = window
            self._live_load()


def _query_table(rows: rx.Var, table_id: str) -> rx.Component:
    return data_table(
        ["Search", "Searches", "Avg. results", "Last searched"],
        rows,
        lambda r: [
            rx.table.row_header_cell(rx.link(r["query"], href=r["href"], weight="medium", is_external=True)),
            rx.table.cell(r["searches"]),
            rx.table.cell(r["average"]),
            rx.table.cell(r["last"]),
        ],
        table_id,
    )


@page(
    route=routes.ADMIN_SEARCH_INSIGHTS,
    title="Search insights",
    guard=Permission.VIEW_ANALYTICS,
    on_load=SearchInsightsState.load_insights,
    nav=NavEntry(group="Catalog", label="Searches", icon="search", order=20),
)
def admin_search_insights_page() -> rx.Component:
    return admin_page(
        live_ticker(SearchInsightsState.live_tick),
        page_title(
            "Search insights",
            "What visitors look for in the catalog. Only searches of visitors who accepted analytics are counted.",
            rx.select.root(
                rx.select.trigger(id="insights-window"),
                rx.select.content(*[rx.select.item(label, value=key) for key, label in WINDOWS.items()]),
                value=SearchInsightsState.window,
                on_change=SearchInsightsState.choose_window,
            ),
        ),
        rx.cond(
            SearchInsightsState.loaded,
            rx.vstack(
                rx.grid(
                    stat_card(
                        "Searches",
                        SearchInsightsState.kpis["searches"],
                        "with a query or a filter",
                        icon="search",
                        id="kpi-searches",
                    ),
                    stat_card(
                        "Found nothing",
                        SearchInsightsState.kpis["zero"],
                        "searches with no result",
                        icon="search-x",
                        id="kpi-zero",
                    ),
                    stat_card(
                        "Zero-result share", SearchInsightsState.kpis["share"], "of all searches", icon="percent"
                    ),
                    columns=rx.breakpoints(initial="1", sm="3"),
                    spacing="4",
                    width="100%",
                ),
                rx.heading("Trending searches", size="5", margin_top="1rem"),
                rx.cond(
                    SearchInsightsState.trending.length() > 0,
                    _query_table(SearchInsightsState.trending, "trending-table"),
                    empty_state(
                        "trending-up",
                        "No searches yet",
                        "Searches appear here once visitors who accepted analytics use the catalog search.",
                        id="trending-empty",
                    ),
                ),
                rx.heading("Searches that found nothing", size="5", margin_top="1rem"),
                rx.text(
                    "Each is a service people wanted and did not find: a candidate for the catalog, or a "
                    "word to add to a description.",
                    size="2",
                    color_scheme="gray",
                ),
                rx.cond(
                    SearchInsightsState.zero_results.length() > 0,
                    _query_table(SearchInsightsState.zero_results, "zero-results-table"),
                    empty_state(
                        "circle-check", "Every search found something", "Nothing to fix here.", id="zero-results-empty"
                    ),
                ),
                rx.heading("Category filters", size="5", margin_top="1rem"),
                rx.cond(
                    SearchInsightsState.categories.length() > 0,
                    data_table(
                        ["Category", "Searches"],
                        SearchInsightsState.categories,
                        lambda r: [rx.table.row_header_cell(r["category"]), rx.table.cell(r["searches"])],
                        "category-table",
                    ),
                    rx.text("No category filters used in this period.", size="2", color_scheme="gray"),
                ),
                spacing="3",
                width="100%",
                align="start",
            ),
            loading_block(),
        ),
    )
