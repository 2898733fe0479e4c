"""The state shared by the account pages (overview and orders); loaders are signed-in only."""

from __future__ import annotations

from typing import Any

import reflex as rx

from smplat.db import session_scope
from smplat.services import orders as order_service
from smplat.ui import routes
from smplat.ui.components.common import empty_state
from smplat.ui.state.auth import AuthState, signed_in_only


class AccountState(AuthState):
    orders: list[dict[str, Any]] = []
    order_count: int = 0
    loaded: bool = False

    @rx.event
    @signed_in_only
    def load_orders(self) -> None:
        user = self._current_user()
        with session_scope() as db:
            self.orders = order_service.list_orders_for_user(db, user.id)
            self.order_count = order_service.count_orders(db, user.id)
        self.loaded = True


def no_orders() -> rx.Component:
    return empty_state(
        "package",
        "No orders yet",
        "When you buy a service, its delivery progress shows up here.",
        rx.link(rx.button("Browse services"), href=routes.SERVICES),
        id="orders-empty",
    )
