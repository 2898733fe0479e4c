"""Admin → Analytics page: numbers from the service, charts built, live tick reloads only on change."""

from __future__ import annotations

import pytest

from smplat.db import session_scope
from smplat.models.accounts import Role
from smplat.models.base import utcnow
from smplat.models.orders import Order
from smplat.ui import routes
from smplat.ui.pages.admin.analytics import AnalyticsState

pytestmark = pytest.mark.integration


async def test_page_loads_numbers_and_updates_live(db_url, root_state, session_cookie_for, count_queries) -> None:
    with session_scope() as db:
        db.add(Order(charged_minor=1200, payment_status="paid", status="processing", created_at=utcnow()))
    state = await root_state(AnalyticsState, routes.ADMIN_ANALYTICS, cookie=session_cookie_for(Role.OPERATOR))
    state.load_analytics()
    assert (state.kpis["orders"], state.kpis["revenue"]) == ("1", "€12.00")
    assert {t.name for t in state.revenue_chart.data} == {"Revenue", "Previous period", "Orders"}
    assert list(state.funnel_chart.data[0].x)[-1] == 1
    # nothing changed: the tick costs the session check and one statement, no reload
    with count_queries(db_url) as q:
        state.live_tick()
    assert state.kpis["orders"] == "1"
    assert sum("FROM orders" in s for s in q.statements) == 1
    # a new paid order: the next tick reloads
    with session_scope() as db:
        db.add(Order(charged_minor=800, payment_status="paid", status="processing", created_at=utcnow()))
    state.live_tick()
    assert (state.kpis["orders"], state.kpis["revenue"]) == ("2", "€20.00")


async def test_a_customer_gets_nothing(sqlite_url, root_state, session_cookie_for) -> None:
    with session_scope() as db:
        db.add(Order(charged_minor=1200, payment_status="paid", status="processing", created_at=utcnow()))
    state = await root_state(AnalyticsState, routes.ADMIN_ANALYTICS, cookie=session_cookie_for(Role.CUSTOMER))
    state.load_analytics()
    state.live_tick()
    assert state.loaded is False and state.kpis == {}
