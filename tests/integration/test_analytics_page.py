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
    # nothing changed: the tick costs one statement, no reload
    with count_queries(db_url) as q:
        assert state.live_tick() is None
    assert state.kpis["orders"] == "1"
    assert len(q.statements) == 1
    # a new paid order: the next tick sends the guarded reload, which shows it
    with session_scope() as db:
        db.add(Order(charged_minor=800, payment_status="paid", status="processing", created_at=utcnow()))
    assert state.live_tick() is AnalyticsState.live_reload
    state.live_reload()
    assert (state.kpis["orders"], state.kpis["revenue"]) == ("2", "€20.00")
    assert state.live_tick() is None


async def test_a_customer_gets_nothing(sqlite_url, root_state, session_cookie_for) -> None:
    with session_scope() as db:
        db.add(Order(charged_minor=1200, payment_status="paid", status="processing", created_at=utcnow()))
    state = await root_state(AnalyticsState, routes.ADMIN_ANALYTICS, cookie=session_cookie_for(Role.CUSTOMER))
    state.load_analytics()
    assert state.live_tick() is None  # never armed: its loader was refused
    state.live_reload()  # sent directly: refused by the page's permission
    assert state.loaded is False and state.kpis == {}


async def test_product_page_shows_the_average_time_of_the_last_completed_orders(session, root_state) -> None:
    from datetime import timedelta
    from decimal import Decimal

    from smplat.models.fulfillment import FulfillmentTask
    from smplat.models.orders import OrderItem
    from smplat.models.providers import ProviderOrder, ProviderService
    from smplat.ui.pages.storefront.product import ProductState
    from tests.fulfillment_factory import product, seed_with_panel

    provider = seed_with_panel(session, "http://127.0.0.1:9/api/v2")
    followers = product(session, "instagram-followers")
    service = ProviderService(provider_id=provider.id, external_service_id="avg", name="x", rate_per_1000=Decimal(1))
    session.add(service)
    now = utcnow()
    for n, minutes in enumerate((90, 150)):  # 1 h 30 min and 2 h 30 min: 2 hours on average
        order = Order(charged_minor=500, payment_status="paid", status="completed")
        session.add(order)
        session.flush()
        created = now - timedelta(days=1 + n)
        item = OrderItem(
            order_id=order.id, product_id=followers.id, product_title="F", status="completed", created_at=created
        )
        session.add(item)
        session.flush()
        task = FulfillmentTask(order_item_id=item.id, idempotency_key=f"avg{n}")
        session.add(task)
        session.flush()
        session.add(
            ProviderOrder(
                fulfillment_task_id=task.id,
                order_item_id=item.id,
                provider_id=provider.id,
                provider_service_id=service.id,
                submission_key=f"avg{n}",
                external_order_id=f"e{n}",
                status="completed",
                completed_at=created + timedelta(minutes=minutes),
            )
        )
    session.commit()
    state = await root_state(ProductState, "/services/instagram-followers", params={"slug": "instagram-followers"})
    state.load_product()
    assert state.average_time == "2 hours"
    # the load counted the tab's visit and a product view; a second load only another view
    from sqlalchemy import select

    from smplat.models.analytics import DailyCounter

    state.load_product()
    with session_scope() as db:
        assert dict(db.execute(select(DailyCounter.name, DailyCounter.value)).all()) == {
            "visits": 1,
            "product_views": 2,
        }
