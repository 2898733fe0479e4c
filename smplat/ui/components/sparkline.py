"""A small follower sparkline (an SVG path drawn on the server) and the overview's strip of them."""

from __future__ import annotations

import reflex as rx

from smplat.db import session_scope
from smplat.models.base import utcnow
from smplat.services import profiles as profile_service
from smplat.ui import routes
from smplat.ui.components.common import card
from smplat.ui.state.auth import AuthState, signed_in_only

SPARK_WIDTH, SPARK_HEIGHT = 120, 32


def sparkline(path: rx.Var | str, label: rx.Var | str = "", **props) -> rx.Component:
    """`path` from `services.profiles.sparkline_path(values, 120, 32)`; nothing drawn when empty."""
    return rx.el.svg(
        rx.el.svg.path(d=path, fill="none", stroke="var(--violet-9)", stroke_width="2", stroke_linejoin="round"),
        view_box=f"0 0 {SPARK_WIDTH} {SPARK_HEIGHT}",
        width=f"{SPARK_WIDTH}px",
        height=f"{SPARK_HEIGHT}px",
        role="img",
        aria_label=label,
        flex_shrink="0",
        **props,
    )


class ProfileSparklinesState(AuthState):
    """The overview's follower sparklines, loaded when the strip mounts (signed-in only)."""

    sparklines: list[dict[str, str]] = []

    @rx.event
    @signed_in_only
    def load_sparklines(self) -> None:
        user = self._current_user()
        with session_scope() as db:
            self.sparklines = [
                {
                    "id": str(p.id),
                    "handle": "@" + p.handle,
                    "followers": f"{values[-1]:,}" if values else "—",
                    "path": profile_service.sparkline_path(values, SPARK_WIDTH, SPARK_HEIGHT),
                }
                for p, values in profile_service.sparklines(db, user.id, utcnow())
            ]


def profile_sparklines() -> rx.Component:
    """One card per linked profile with its followers over the last 30 days; nothing without profiles."""
    return rx.box(
        rx.cond(
            ProfileSparklinesState.sparklines.length() > 0,
            rx.grid(
                rx.foreach(
                    ProfileSparklinesState.sparklines,
                    lambda p: rx.link(
                        card(
                            rx.hstack(
                                rx.vstack(
                                    rx.text(p["handle"], weight="medium", size="2"),
                                    rx.text(p["followers"], " followers", size="1", color_scheme="gray"),
                                    spacing="0",
                                    align="start",
                                    min_width="0",
                                ),
                                rx.spacer(),
                                sparkline(p["path"], "Followers over the last 30 days"),
                                align="center",
                                width="100%",
                            ),
                            style={"padding": "0.75rem 1rem"},
                        ),
                        href=routes.ACCOUNT_PROFILES + "?profile=" + p["id"],
                        underline="none",
                        color="inherit",
                    ),
                ),
                columns=rx.breakpoints(initial="1", sm="2"),
                spacing="3",
                width="100%",
                margin_bottom="1.5rem",
            ),
        ),
        on_mount=ProfileSparklinesState.load_sparklines,
        width="100%",
        id="profile-sparklines",
    )
