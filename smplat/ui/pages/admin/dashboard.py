"""Admin → Dashboard: count tiles that open the filtered queue (the work waiting), recent alerts,
today's and this period's revenue, orders and AOV against the previous ones, the latest orders.
Live while open (`LiveState`, ui/state/live.py): one change-detection statement per tick
(`admin_orders.live_version`), the guarded reload only when it moved; the ticker unmounts with
the page."""

from __future__ import annotations

from typing import Any, ClassVar

import reflex as rx
from sqlmodel import Session

from smplat.db import read_scope
from smplat.services import admin_orders
from smplat.services.permissions import Permission
from smplat.ui import routes
from smplat.ui.components.common import card, page_title, stat_card
from smplat.ui.components.layout import admin_page
from smplat.ui.components.orders import ORDER_COLUMNS, orders_table
from smplat.ui.components.skeletons import skeleton_text, stat_card_skeleton, table_skeleton
from smplat.ui.pages.admin._state import no_orders
from smplat.ui.registry import NavEntry, page
from smplat.ui.state.auth import AuthState, requires
from smplat.ui.state.live import LiveState, live_ticker

# (tile key, label, hint, icon, where it leads)
TILES = (
    (
        "awaiting",
        "Awaiting placement",
        "paid, not yet sent to a provider",
        "inbox",
        routes.ADMIN_ORDERS + "?awaiting=1",
    ),
    ("stuck", "Stuck", "still processing past the threshold", "hourglass", routes.ADMIN_ORDERS + "?stuck=1"),
    ("refills", "Refill requests", "requested or pending", "refresh-cw", routes.ADMIN_FULFILMENT),
    ("dead_letters", "Dead letters", "held tasks included", "skull", routes.ADMIN_ORDERS + "?dead=1"),
    ("providers", "Providers down / low", "down, degraded or low balance", "server-crash", routes.ADMIN_PROVIDERS),
    ("failed_payments", "Failed payments", "last 7 days", "credit-card", routes.ADMIN_ORDERS + "?payment=failed"),
    ("failed_webhooks", "Failed webhooks", "last 7 days", "webhook", routes.ADMIN_SALES),
)


# the figures and alerts cards keep their height while the state hydrates (no jump)
FIGURES_HEIGHT = "140px"
ALERTS_HEIGHT = "100px"


class AdminHomeState(AuthState, LiveState):
    tiles: dict[str, str] = {}
    today: dict[str, str] = {}
    period: dict[str, str] = {}
    period_days: str = ""
    alerts: list[dict[str, str]] = []
    orders: list[dict[str, Any]] = []
    loaded: bool = False
    live_permission: ClassVar[Permission] = Permission.VIEW_ANALYTICS
    live_version_in_refresh: ClassVar[bool] = True

    def _live_read(self, db: Session) -> str:
        return admin_orders.live_version(db)

    def _live_refresh(self) -> str:
        with read_scope() as db:
            home = admin_orders.home(db)
        self.orders = home["orders"]
        self.tiles, self.today, self.period = home["tiles"], home["today"], home["period"]
        self.period_days, self.alerts = home["period_days"], home["alerts"]
        self.loaded = True
        return home["version"]

    @rx.event
    @requires(Permission.VIEW_ANALYTICS)
    def load(self) -> None:
        self._live_load()


def _tile(key: str, label: str, hint: str, icon: str, href: str) -> rx.Component:
    return rx.link(
        stat_card(label, AdminHomeState.tiles.get(key, "0"), hint, icon=icon, width="100%"),
        href=href,
        underline="none",
        id="tile-" + key.replace("_", "-"),
    )


def _figure(label: str, block: rx.Var, key: str, box_id: str) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="2", color_scheme="gray"),
        rx.text(block.get(key, ""), size="6", weight="bold", id=box_id + "-" + key),
        rx.text(block.get(key + "_change", ""), size="1", color_scheme="gray"),
        spacing="0",
        align="start",
    )


def _figures(title: rx.Var | str, block: rx.Var, box_id: str) -> rx.Component:
    return card(
        rx.vstack(
            rx.heading(title, size="4"),
            rx.flex(
                _figure("Revenue (net)", block, "revenue", box_id),
                _figure("Orders", block, "orders", box_id),
                _figure("Average order", block, "aov", box_id),
                spacing="6",
                wrap="wrap",
            ),
            spacing="3",
            align="start",
        ),
        width="100%",
        min_height=FIGURES_HEIGHT,
        id=box_id,
    )


def _alerts() -> rx.Component:
    return card(
        rx.vstack(
            rx.heading("Alerts", size="4"),
            rx.cond(
                AdminHomeState.alerts.length() > 0,
                rx.foreach(
                    AdminHomeState.alerts,
                    lambda a: rx.hstack(
                        rx.icon("triangle-alert", size=14, color="var(--amber-10)"),
                        rx.text(a["message"], size="2"),
                        rx.text(a["at"], size="1", color_scheme="gray"),
                        spacing="2",
                        align="center",
                    ),
                ),
                rx.text("No alerts raised.", size="2", color_scheme="gray"),
            ),
            spacing="2",
            align="start",
        ),
        width="100%",
        min_height=ALERTS_HEIGHT,
        id="alerts-panel",
    )


def _dashboard_skeleton() -> rx.Component:
    """The tiles, figures, alerts and latest-orders table at their final size."""
    return rx.vstack(
        rx.grid(
            *[stat_card_skeleton() for _ in TILES],
            columns=rx.breakpoints(initial="1", sm="2", lg="4"),
            spacing="4",
            width="100%",
        ),
        rx.grid(
            card(rx.text(skeleton_text(width="10em")), width="100%", min_height=FIGURES_HEIGHT),
            card(rx.text(skeleton_text(width="10em")), width="100%", min_height=FIGURES_HEIGHT),
            columns=rx.breakpoints(initial="1", md="2"),
            spacing="4",
            width="100%",
        ),
        card(rx.text(skeleton_text(width="16em")), width="100%", min_height=ALERTS_HEIGHT),
        rx.heading(skeleton_text(width="8em"), size="5", margin_top="1rem"),
        table_skeleton(8, len(ORDER_COLUMNS) + 1),
        spacing="4",
        width="100%",
        align="start",
        aria_busy="true",
        id="dashboard-skeleton",
    )


@page(
    route=routes.ADMIN,
    title="Admin · {brand}",
    guard=Permission.VIEW_ANALYTICS,
    on_load=AdminHomeState.load,
    nav=NavEntry(group="Sales", label="Dashboard", icon="layout-dashboard", order=0),
)
def admin_home_page() -> rx.Component:
    return admin_page(
        page_title("Dashboard", "The work waiting, and how the shop is doing."),
        rx.cond(
            AdminHomeState.loaded,
            rx.vstack(
                rx.grid(
                    *[_tile(*tile) for tile in TILES],
                    columns=rx.breakpoints(initial="1", sm="2", lg="4"),
                    spacing="4",
                    width="100%",
                    id="admin-kpis",
                ),
                rx.grid(
                    _figures("Today", AdminHomeState.today, "figures-today"),
                    _figures("Last " + AdminHomeState.period_days + " days", AdminHomeState.period, "figures-period"),
                    columns=rx.breakpoints(initial="1", md="2"),
                    spacing="4",
                    width="100%",
                ),
                _alerts(),
                rx.heading("Latest orders", size="5", margin_top="1rem"),
                rx.cond(
                    AdminHomeState.orders.length() > 0,
                    orders_table(AdminHomeState.orders, show_customer=True),
                    no_orders(),
                ),
                spacing="4",
                width="100%",
                align="start",
            ),
            _dashboard_skeleton(),
        ),
        live_ticker(AdminHomeState.live_tick),
    )
