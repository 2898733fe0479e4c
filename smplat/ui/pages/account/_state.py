"""The state shared by the account pages (overview and orders list); loaders are signed-in only.

Live: the orders list ticks (`live_ticker` of ui/state/live.py, an `rx.moment` that unmounts with the page,
so polling stops when the page closes). A tick runs one statement, `client_orders.live_version`
over the order ids the page shows (kept server-side, set only by the guarded loader); only
when the version moved does it send the guarded reload, which re-checks the session."""

from __future__ import annotations

from datetime import date
from typing import Any

import reflex as rx

from smplat.db import session_scope
from smplat.services import accounts, client_orders
from smplat.ui import routes
from smplat.ui.components.common import empty_state
from smplat.ui.state.auth import AuthState, signed_in_only


def _day(raw: Any) -> date | None:
    try:
        return date.fromisoformat(str(raw or "").strip()[:10])
    except ValueError:
        return None


class AccountState(AuthState):
    orders: list[dict[str, Any]] = []
    order_count: int = 0  # orders matching the filters
    loaded: bool = False
    status_filter: str = ""
    since: str = ""
    until: str = ""
    search: str = ""
    page: int = 1
    pages: int = 1
    # overview
    figures: dict[str, str] = {}
    activity: list[dict[str, str]] = []
    first_visit: bool = False
    email_verified: bool = True
    verification_sent: bool = False
    _live_ids: list[int] = []
    _live_version: str = ""
    _live_user: int = 0

    def _filters(self) -> client_orders.OrderFilters:
        return client_orders.OrderFilters(
            status=self.status_filter if self.status_filter in client_orders.STATUS_FILTERS else "",
            since=_day(self.since),
            until=_day(self.until),
            search=self.search,
            page=self.page,
        )

    def _load_page(self, user_id: int) -> None:
        with session_scope() as db:
            rows, total = client_orders.list_orders(db, user_id, self._filters())
            ids = [r["id"] for r in rows]
            self._live_version = client_orders.live_version(db, ids, user_id)
        self.orders, self.order_count = rows, total
        self.pages = max(1, -(-total // client_orders.PAGE_SIZE))
        self._live_ids, self._live_user = ids, user_id
        self.loaded = True

    @rx.event
    @signed_in_only
    def load_orders(self) -> None:
        """The orders list, filtered by the URL's query (status, from, to, q, page)."""
        query = self.router.url.query_parameters
        self.status_filter = str(query.get("status", ""))[:20]
        self.since, self.until = str(query.get("from", ""))[:10], str(query.get("to", ""))[:10]
        self.search = str(query.get("q", ""))[:200]
        page = str(query.get("page", "1"))
        self.page = int(page) if page.isdigit() and 0 < int(page) < 100_000 else 1
        self._load_page(self._current_user().id)

    @rx.event
    @signed_in_only
    def filter_orders(self, form: dict[str, Any]) -> None:
        self.status_filter = str(form.get("status", ""))[:20]
        if self.status_filter == "all":
            self.status_filter = ""
        self.since, self.until = str(form.get("from", ""))[:10], str(form.get("to", ""))[:10]
        self.search = str(form.get("q", ""))[:200]
        self.page = 1
        self._load_page(self._current_user().id)

    @rx.event
    @signed_in_only
    def go_to_page(self, page: int) -> None:
        self.page = max(1, min(int(page), self.pages))
        self._load_page(self._current_user().id)

    @rx.event
    @signed_in_only
    def load_overview(self) -> None:
        user = self._current_user()
        self.status_filter, self.since, self.until, self.search, self.page = "open", "", "", "", 1
        with session_scope() as db:
            figures = client_orders.overview(db, user.id)
            self.activity = client_orders.latest_activity(db, user.id)
            self.email_verified = accounts.email_is_verified(db, user.id)
        self.figures = {k: str(v) for k, v in figures.items()}
        self.first_visit = figures["orders"] == 0
        self._load_page(user.id)

    @rx.event
    @signed_in_only
    def send_verification(self):
        if accounts.send_verification_safely(self._current_user().id):
            self.verification_sent = True
            return None
        return rx.toast.error("We couldn't send the email just now. Please try again in a minute.")

    @rx.event
    def live_tick(self, _moment: Any = None):
        """One statement; a reload (guarded) only when what the page shows has changed."""
        if not self._live_user:
            return None
        with session_scope() as db:
            version = client_orders.live_version(db, self._live_ids, self._live_user)
        if version == self._live_version:
            return None
        return AccountState.live_reload

    @rx.event
    @signed_in_only
    def live_reload(self) -> None:
        user = self._current_user()
        if user.id != self._live_user:
            return
        if self.router.page.path == routes.ACCOUNT:
            with session_scope() as db:
                figures = client_orders.overview(db, user.id)
                self.activity = client_orders.latest_activity(db, user.id)
            self.figures = {k: str(v) for k, v in figures.items()}
        self._load_page(user.id)


def no_orders() -> rx.Component:
    return empty_state(
        "package",
        "No orders yet",
        "When you buy a service, its delivery progress shows up here.",
        rx.link(rx.button("Browse services"), href=routes.SERVICES),
        id="orders-empty",
    )
