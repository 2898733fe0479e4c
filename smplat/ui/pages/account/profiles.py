"""My account → Profiles: link social profiles and watch them grow, with every order marked.

`/account/profiles?profile=<id>` opens one profile's charts (followers with orders marked,
engagement rate, a week before/after each completed order); another customer's id is simply
not found. Every rule (ownership, validation, what an order did) is in `services.profiles`.
"""

from __future__ import annotations

import asyncio
from typing import Any

import plotly.graph_objects as go
import reflex as rx

from smplat.db import session_scope
from smplat.models.base import utcnow
from smplat.services import profiles as profile_service
from smplat.services.errors import ServiceError
from smplat.ui import routes
from smplat.ui.components.common import card, data_table, empty_state, form_alert, page_title
from smplat.ui.components.layout import account_page
from smplat.ui.components.skeletons import table_skeleton
from smplat.ui.components.sparkline import SPARK_HEIGHT, SPARK_WIDTH, sparkline
from smplat.ui.registry import NavEntry, page
from smplat.ui.state.auth import AuthState, signed_in_only

LINK_FORM_KEYS = ("platform", "handle")
CHART_HEIGHT = 260


def _layout(fig: go.Figure, y_title: str, *, from_zero: bool = True) -> go.Figure:
    """Readable on a 390 px phone: small margins, legend under the plot, no toolbar (config)."""
    fig.update_layout(
        height=CHART_HEIGHT,
        margin={"l": 44, "r": 8, "t": 8, "b": 36},
        legend={"orientation": "h", "y": -0.25, "x": 0},
        font={"size": 11},
        hovermode="closest",
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        yaxis={
            "title": {"text": y_title},
            "gridcolor": "rgba(128,128,128,0.2)",
            "rangemode": "tozero" if from_zero else "normal",
            "tickformat": ",d" if y_title == "followers" else "",
        },
        xaxis={"gridcolor": "rgba(128,128,128,0.2)"},
    )
    return fig


def followers_figure(chart: profile_service.ProfileChart) -> go.Figure:
    snaps = chart.snapshots
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[s.taken_at.isoformat() for s in snaps],
            y=[s.followers for s in snaps],
            mode="lines+markers",
            name="Followers",
            line={"color": "#6e56cf", "width": 2},
            marker={"size": 4},
        )
    )
    marked = chart.orders
    if marked:
        fig.add_trace(
            go.Scatter(
                x=[m.at.isoformat() for m in marked],
                y=[profile_service.followers_at(snaps, m.at) or (snaps[0].followers if snaps else 0) for m in marked],
                mode="markers",
                name="Your orders",
                marker={"symbol": "star", "size": 14, "color": "#e5484d", "line": {"width": 1, "color": "white"}},
                hovertext=[f"{m.number} · {m.quantity:,} × {m.title} · {m.status.replace('_', ' ')}" for m in marked],
                hoverinfo="text",
            )
        )
    return _layout(fig, "followers", from_zero=False)  # growth shows; the axis says where it starts


def engagement_figure(chart: profile_service.ProfileChart) -> go.Figure:
    fig = go.Figure(
        go.Scatter(
            x=[s.taken_at.isoformat() for s in chart.snapshots],
            y=[s.engagement_rate_bps / 100 for s in chart.snapshots],
            mode="lines+markers",
            name="Engagement rate",
            line={"color": "#12a594", "width": 2},
            marker={"size": 4},
            hovertemplate="%{y:.2f} %<extra></extra>",
        )
    )
    return _layout(fig, "engagement %")


def comparison_figure(chart: profile_service.ProfileChart) -> go.Figure:
    numbers = [c.number for c in chart.comparisons]
    fig = go.Figure()
    for label, attr, color in (
        ("7 days before", "before", "#b4b4b4"),
        ("At completion", "at", "#8e7ee0"),
        ("7 days after", "after", "#6e56cf"),
    ):
        fig.add_trace(
            go.Bar(x=numbers, y=[getattr(c, attr) for c in chart.comparisons], name=label, marker={"color": color})
        )
    fig.update_layout(barmode="group")
    return _layout(fig, "followers")


def _count(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def _change(before: int | None, after: int | None) -> str:
    if before is None or after is None:
        return "—"
    return f"{after - before:+,}"


def _link(user_id: int, platform: str, handle: str) -> tuple[int, str] | str:
    """(profile id, the first refresh's message) or the reason it could not be linked."""
    with session_scope() as db:
        try:
            profile = profile_service.link_profile(db, user_id, platform, handle, utcnow())
        except ServiceError as exc:
            return exc.message
        return profile.id, profile.status_message


class ProfilesState(AuthState):
    profiles: list[dict[str, str]] = []
    loaded: bool = False
    linking: bool = False
    link_error: str = ""
    link_notice: str = ""
    selected_id: str = ""
    selected_handle: str = ""
    selected_message: str = ""
    snapshot_count: int = 0
    orders: list[dict[str, str]] = []
    comparisons: list[dict[str, str]] = []
    followers_chart: go.Figure = go.Figure()
    engagement_chart: go.Figure = go.Figure()
    comparison_chart: go.Figure = go.Figure()

    def _load_list(self, db, user_id: int) -> None:
        now = utcnow()
        self.profiles = [
            {
                "id": str(p.id),
                "handle": "@" + p.handle,
                "platform": profile_service.PLATFORM_LABELS.get(p.platform, p.platform),
                "followers": f"{values[-1]:,}" if values else "—",
                "path": profile_service.sparkline_path(values, SPARK_WIDTH, SPARK_HEIGHT),
                "status": profile_service.STATUS_LABELS.get(p.status, p.status),
                "ok": "yes" if p.status == "ok" else "",
                "message": p.status_message,
                "charts": routes.ACCOUNT_PROFILES + f"?profile={p.id}",
                "order": routes.product_for_profile(profile_service.DEFAULT_PRODUCT[p.platform], p.id),
            }
            for p, values in profile_service.sparklines(db, user_id, now)
        ]

    def _clear_selection(self) -> None:
        self.selected_id, self.selected_handle, self.selected_message = "", "", ""
        self.snapshot_count, self.orders, self.comparisons = 0, [], []
        self.followers_chart = self.engagement_chart = self.comparison_chart = go.Figure()

    def _select(self, db, user_id: int, profile_id: Any) -> None:
        chart = profile_service.profile_chart(db, user_id, profile_id, utcnow())
        p = chart.profile
        self.selected_id, self.selected_handle = str(p.id), "@" + p.handle
        self.selected_message = p.status_message
        self.snapshot_count = len(chart.snapshots)
        self.orders = [
            {
                "number": m.number,
                "title": m.title,
                "quantity": f"{m.quantity:,}",
                "status": m.status.replace("_", " "),
                "date": m.at.strftime("%d %b %Y"),
                "again": routes.product_for_profile(
                    m.product_slug or profile_service.DEFAULT_PRODUCT[p.platform], p.id
                ),
            }
            for m in reversed(chart.orders)
        ]
        self.comparisons = [
            {
                "number": c.number,
                "before": _count(c.before),
                "at": _count(c.at),
                "after": _count(c.after),
                "change": _change(c.before, c.after),
            }
            for c in chart.comparisons
        ]
        self.followers_chart = followers_figure(chart)
        self.engagement_chart = engagement_figure(chart)
        self.comparison_chart = comparison_figure(chart)

    @rx.event
    @signed_in_only
    def load_profiles(self):
        user = self._current_user()
        self.link_error, self.link_notice = "", ""
        self._clear_selection()
        wanted = str(self.router.url.query_parameters.get("profile", ""))
        notice = None
        with session_scope() as db:
            self._load_list(db, user.id)
            try:
                if wanted:
                    self._select(db, user.id, wanted)
                elif len(self.profiles) == 1:
                    self._select(db, user.id, self.profiles[0]["id"])
            except ServiceError as exc:
                notice = rx.toast.error(exc.message)
        self.loaded = True
        return notice

    @rx.event
    @signed_in_only
    def show_profile(self, profile_id: str):
        user = self._current_user()
        with session_scope() as db:
            try:
                self._select(db, user.id, profile_id)
            except ServiceError as exc:
                return rx.toast.error(exc.message)
        return None

    @rx.event(background=True)
    @signed_in_only
    async def link_profile(self, form_data: dict[str, Any]):
        """Links and takes the first snapshot: a Graph API call, so it runs off the state lock."""
        values = {k: str(form_data.get(k, "") or "") for k in LINK_FORM_KEYS}
        async with self:
            if self.linking:
                return None
            user_id, self.linking, self.link_error, self.link_notice = self.user_id, True, "", ""
        try:
            linked = await asyncio.to_thread(_link, user_id, values["platform"] or "instagram", values["handle"])
        finally:
            async with self:
                self.linking = False
        async with self:
            if isinstance(linked, str):
                self.link_error = linked
                return None
            profile_id, message = linked
            with session_scope() as db:
                self._load_list(db, user_id)
                self._select(db, user_id, profile_id)
            self.link_notice = message
        return rx.set_value("handle", "")

    @rx.event
    @signed_in_only
    def unlink_profile(self, profile_id: str):
        user = self._current_user()
        with session_scope() as db:
            try:
                profile_service.unlink_profile(db, user.id, profile_id)
            except ServiceError as exc:
                return rx.toast.error(exc.message)
            self._load_list(db, user.id)
        if profile_id == self.selected_id:
            self._clear_selection()
        return rx.toast.success("Profile unlinked.")


def _link_form() -> rx.Component:
    return card(
        rx.form(
            rx.vstack(
                rx.heading("Link a profile", size="4"),
                rx.flex(
                    rx.select.root(
                        rx.select.trigger(aria_label="Platform", id="link-platform"),
                        rx.select.content(
                            rx.select.item("Instagram", value="instagram"),
                            rx.select.item("TikTok (soon)", value="tiktok"),
                            rx.select.item("YouTube (soon)", value="youtube"),
                        ),
                        name="platform",
                        default_value="instagram",
                        size="3",
                    ),
                    rx.input(
                        name="handle",
                        id="handle",
                        placeholder="@yourbrand or profile link",
                        size="3",
                        flex="1",
                        min_width="0",
                        aria_label="Username or profile link",
                    ),
                    rx.button(
                        "Link profile", type="submit", size="3", id="link-profile", loading=ProfilesState.linking
                    ),
                    spacing="2",
                    width="100%",
                    direction=rx.breakpoints(initial="column", sm="row"),
                ),
                form_alert(ProfilesState.link_error, alert_id="link-error"),
                form_alert(ProfilesState.link_notice, color="amber", icon="info", alert_id="link-notice"),
                rx.text(
                    "Public business and creator accounts only; we never ask for your password.",
                    size="1",
                    color_scheme="gray",
                ),
                spacing="3",
                width="100%",
                align="start",
            ),
            on_submit=ProfilesState.link_profile,
            width="100%",
        ),
        width="100%",
    )


def _profile_card(p: rx.Var) -> rx.Component:
    return card(
        rx.vstack(
            rx.hstack(
                rx.vstack(
                    rx.text(p["handle"], weight="bold", size="3"),
                    rx.text(p["platform"], " · ", p["followers"], " followers", size="2", color_scheme="gray"),
                    spacing="0",
                    align="start",
                    min_width="0",
                ),
                rx.spacer(),
                sparkline(p["path"], "Followers over the last 30 days"),
                align="center",
                width="100%",
            ),
            rx.badge(p["status"], color_scheme=rx.cond(p["ok"] != "", "green", "amber"), variant="soft"),
            rx.cond(p["message"] != "", rx.text(p["message"], size="1", color_scheme="gray")),
            rx.flex(
                rx.button("Show charts", size="2", variant="soft", on_click=ProfilesState.show_profile(p["id"])),
                rx.link(rx.button("Order for this profile", size="2", variant="outline"), href=p["order"]),
                rx.button(
                    "Unlink",
                    size="2",
                    variant="ghost",
                    color_scheme="red",
                    on_click=ProfilesState.unlink_profile(p["id"]),
                ),
                spacing="2",
                wrap="wrap",
            ),
            spacing="2",
            align="start",
            width="100%",
        ),
        width="100%",
        id="profile-" + p["id"],
    )


def _chart_card(title: str, figure: rx.Var, chart_id: str, note: str = "") -> rx.Component:
    return card(
        rx.heading(title, size="4"),
        rx.text(note, size="1", color_scheme="gray") if note else rx.fragment(),
        rx.box(
            rx.plotly(
                data=figure,
                use_resize_handler=True,
                config={"responsive": True, "displayModeBar": False},
                style={"width": "100%", "height": f"{CHART_HEIGHT}px"},
            ),
            width="100%",
            min_height=f"{CHART_HEIGHT}px",
            overflow="hidden",
        ),
        width="100%",
        id=chart_id,
    )


def _charts() -> rx.Component:
    return rx.cond(
        ProfilesState.selected_id != "",
        rx.vstack(
            rx.heading(ProfilesState.selected_handle, size="5", id="chart-handle"),
            rx.cond(
                ProfilesState.snapshot_count > 0,
                rx.vstack(
                    _chart_card(
                        "Followers",
                        ProfilesState.followers_chart,
                        "followers-chart",
                        "Stars mark your orders; hover one to see which.",
                    ),
                    _chart_card("Engagement rate", ProfilesState.engagement_chart, "engagement-chart"),
                    spacing="4",
                    width="100%",
                ),
                empty_state(
                    "chart-line",
                    "No numbers yet",
                    ProfilesState.selected_message,
                    id="no-snapshots",
                ),
            ),
            rx.cond(
                ProfilesState.comparisons.length() > 0,
                rx.vstack(
                    _chart_card(
                        "Before and after each order",
                        ProfilesState.comparison_chart,
                        "comparison-chart",
                        "Followers 7 days before an order completed, at completion and 7 days after.",
                    ),
                    data_table(
                        ["Order", "7 days before", "At completion", "7 days after", "Change"],
                        ProfilesState.comparisons,
                        lambda c: [
                            rx.table.row_header_cell(c["number"]),
                            *[rx.table.cell(c[k]) for k in ("before", "at", "after", "change")],
                        ],
                        table_id="comparison-table",
                    ),
                    spacing="3",
                    width="100%",
                ),
            ),
            rx.cond(
                ProfilesState.orders.length() > 0,
                card(
                    rx.heading("Orders for this profile", size="4", margin_bottom="0.5rem"),
                    rx.vstack(
                        rx.foreach(
                            ProfilesState.orders,
                            lambda o: rx.flex(
                                rx.vstack(
                                    rx.text(o["number"], " · ", o["quantity"], " × ", o["title"], size="2"),
                                    rx.text(o["status"], " · ", o["date"], size="1", color_scheme="gray"),
                                    spacing="0",
                                    align="start",
                                ),
                                rx.spacer(),
                                rx.link(rx.button("Order again", size="1", variant="soft"), href=o["again"]),
                                align="center",
                                spacing="2",
                                width="100%",
                                wrap="wrap",
                            ),
                        ),
                        spacing="3",
                        width="100%",
                    ),
                    width="100%",
                    id="profile-orders",
                ),
            ),
            spacing="4",
            width="100%",
            margin_top="1.5rem",
            id="profile-charts",
        ),
    )


@page(
    route=routes.ACCOUNT_PROFILES,
    title="My profiles",
    guard="signed_in",
    on_load=ProfilesState.load_profiles,
    nav=NavEntry(label="Profiles", icon="chart-line", order=20),
)
def account_profiles_page() -> rx.Component:
    return account_page(
        page_title("Profiles", "Link your social profiles and see how every order moves them."),
        _link_form(),
        rx.cond(
            ProfilesState.loaded,
            rx.cond(
                ProfilesState.profiles.length() > 0,
                rx.grid(
                    rx.foreach(ProfilesState.profiles, _profile_card),
                    columns=rx.breakpoints(initial="1", md="2"),
                    spacing="3",
                    width="100%",
                    margin_top="1.5rem",
                    id="profile-list",
                ),
                rx.box(
                    empty_state(
                        "users",
                        "No profiles linked yet",
                        "Link your Instagram profile to watch its followers and engagement, with your orders marked.",
                        id="profiles-empty",
                    ),
                    margin_top="1.5rem",
                    width="100%",
                ),
            ),
            rx.box(table_skeleton(2, 3), margin_top="1.5rem", width="100%"),
        ),
        _charts(),
    )
