"""Order types end to end: a paid line routed to a service of each type is submitted with its
own parameters (in the provider's dialect) and tracked to its end by the status sync."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from smplat.db import session_scope
from smplat.integrations.dialects import PanelDialect
from smplat.models.orders import OrderItem
from smplat.models.providers import ProviderOrder, ProviderService, ServiceRoute
from smplat.services import audit, providers
from smplat.services.fulfillment import engine, status_sync
from tests.fulfillment_factory import paid_order, product, seed_with_panel

pytestmark = pytest.mark.integration


def test_drip_feed_is_sent_per_run_and_tracked_to_its_end(session, panel):
    seed_with_panel(session, panel.base_url)
    panel.state.set_knobs(polls_to_complete=2)
    paid_order(
        session, [(product(session, "instagram-followers"), "https://instagram.com/drip", 1000, 990)], dripfeed=(5, 60)
    )
    assert engine.run_fulfillment(session_scope)["submitted"] == 1
    [order] = panel.state.orders.values()
    # 200 per run x 5 runs, 60 minutes apart: the 1000 bought, charged once for 1000
    assert (order.quantity, order.runs, order.interval, order.charge) == (1000, 5, 60, Decimal("0.9500"))
    status_sync.sync_statuses(session_scope)
    session.expire_all()
    item = session.execute(select(OrderItem)).scalars().one()
    assert item.status == "active"  # running drip-feed
    status_sync.sync_statuses(session_scope)
    session.expire_all()
    item = session.get(OrderItem, item.id)
    po = session.execute(select(ProviderOrder)).scalars().one()
    assert (po.quantity, po.runs, po.interval, po.status) == (1000, 5, 60, "completed")
    assert (item.status, item.delivered_quantity) == ("completed", 1000)


TYPES = [
    # (sandbox service, customer fields, what the panel must have received)
    ("401", {"username": "brand", "posts": "5", "delay": "30", "expiry": "31/12/2027"}, {"link": "brand"}),
    ("408", {"answer_number": "2"}, {"answer_number": "2"}),
    ("402", {}, {"quantity": 1}),
]


@pytest.mark.parametrize("service_ext,fields,expected", TYPES, ids=["subscription", "poll", "package"])
def test_other_order_types_are_routed_submitted_and_completed(session, panel, service_ext, fields, expected):
    provider = seed_with_panel(session, panel.base_url)
    panel.state.set_knobs(extra_types=True, polls_to_complete=2)
    providers.sync_services(session, provider.id, actor=audit.Actor.cli())
    session.commit()
    # the likes product now routes to a service of that type
    likes = product(session, "instagram-likes")
    service = (
        session.execute(
            select(ProviderService).where(
                ProviderService.provider_id == provider.id, ProviderService.external_service_id == service_ext
            )
        )
        .scalars()
        .one()
    )
    for route in session.execute(select(ServiceRoute).where(ServiceRoute.product_id == likes.id)).scalars():
        route.provider_service_id = service.id
        if service.type == "Package":  # one package whatever the line's units
            route.quantity_source, route.fixed_quantity = "fixed", 1
        session.add(route)
    session.commit()
    paid_order(session, [(likes, "https://instagram.com/p/types", 100, 990)], order_params=fields)
    # when
    assert engine.run_fulfillment(session_scope)["submitted"] == 1
    # then the panel got the type's own parameters and only those
    [order] = panel.state.orders.values()
    add = next(r for r in panel.state.requests if "service" in r["params"])
    assert set(add["params"]) - {"key", "action", "service", "ref"} <= set(
        PanelDialect.from_stored({}).params_for(service.type)
    )
    assert order.kind == service.type
    for name, value in expected.items():
        actual = order.link if name == "link" else (order.quantity if name == "quantity" else order.extra[name])
        assert actual == value, name
    if service.type == "Subscriptions":
        assert order.extra["min"] == order.extra["max"] == 100 and order.extra["posts"] == 5
    status_sync.sync_statuses(session_scope)
    status_sync.sync_statuses(session_scope)
    session.expire_all()
    po = session.execute(select(ProviderOrder)).scalars().one()
    assert po.status == "completed" and po.flagged_at is None


def test_drip_feed_on_a_service_without_it_goes_in_one_run(session, panel):
    seed_with_panel(session, panel.base_url)
    # Instagram likes route only to service 103, which has no drip-feed (the panel would refuse runs)
    paid_order(
        session, [(product(session, "instagram-likes"), "https://instagram.com/p/nodrip", 1000, 990)], dripfeed=(5, 60)
    )
    assert engine.run_fulfillment(session_scope)["submitted"] == 1
    [order] = panel.state.orders.values()
    assert (order.quantity, order.runs, order.interval, order.charge) == (1000, None, None, Decimal("0.3500"))
    add = next(r for r in panel.state.requests if "service" in r["params"])
    assert "runs" not in add["params"] and "interval" not in add["params"]
    session.expire_all()
    po = session.execute(select(ProviderOrder)).scalars().one()
    assert (po.quantity, po.runs, po.interval) == (1000, None, None)
