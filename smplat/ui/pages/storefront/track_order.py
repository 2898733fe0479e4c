"""A guest's order, read-only, opened from the signed tracking link in the receipt (and on
the checkout success page): no account needed. Live like the account's order page."""

from __future__ import annotations

from typing import Any

import reflex as rx

from smplat.db import session_scope
from smplat.services import client_orders, order_tracking
from smplat.ui import routes
from smplat.ui.components.common import empty_state
from smplat.ui.components.layout import storefront_page
from smplat.ui.components.skeletons import table_skeleton
from smplat.ui.pages.account.order import order_body
from smplat.ui.registry import page
from smplat.ui.state.auth import AuthState
from smplat.ui.state.live import live_ticker


class TrackOrderState(AuthState):
    order: dict[str, Any] = {}
    loaded: bool = False
    error: str = ""
    _order_id: int = 0
    _live_version: str = ""

    def _reload(self) -> None:
        token = str(self.router.page.params.get("token", ""))
        with session_scope() as db:
            found = order_tracking.order_for_token(db, token)
            if found is None:  # tampered, expired, revoked or unknown: the same answer
                self.order, self._order_id = {}, 0
            else:
                self.order = client_orders.order_detail(db, found)
                self._order_id = found.id
                self._live_version = client_orders.live_version(db, [found.id])
        self.loaded = True

    @rx.event
    def load(self) -> None:
        self.load_user()
        self.loaded = False
        self._reload()

    @rx.event
    def live_tick(self, _moment: Any = None):
        if not self._order_id:
            return None
        with session_scope() as db:
            version = client_orders.live_version(db, [self._order_id])
        if version == self._live_version:
            return None
        return TrackOrderState.live_reload

    @rx.event
    def live_reload(self) -> None:
        self._reload()  # checks the link again: a revoked link stops showing the order


@page(route=routes.TRACK_ORDER, title="Your order", on_load=TrackOrderState.load)
def track_order_page() -> rx.Component:
    return storefront_page(
        rx.box(
            rx.cond(
                TrackOrderState.order.contains("number"),
                rx.vstack(
                    order_body(TrackOrderState, actions=False),
                    rx.callout(
                        "Create an account with the email this order was paid with, and confirm it: "
                        "this order and your next ones appear there, with refills and reorders.",
                        icon="info",
                        size="1",
                        width="100%",
                    ),
                    rx.link("Create an account", href=routes.SIGN_UP, id="track-signup"),
                    spacing="3",
                    width="100%",
                ),
                rx.cond(
                    TrackOrderState.loaded,
                    empty_state(
                        "link-2-off",
                        "This tracking link does not work",
                        "It may be incomplete, expired or replaced by a newer one. "
                        "Sign in, or use the link in your latest receipt.",
                        rx.link(rx.button("Sign in"), href=routes.SIGN_IN),
                        id="track-invalid",
                    ),
                    table_skeleton(3, 3),
                ),
            ),
            live_ticker(TrackOrderState.live_tick),
            max_width="860px",
            margin="0 auto",
            width="100%",
        ),
    )
