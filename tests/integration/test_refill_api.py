"""POST /api/order-items/{id}/refill: refusals at the boundary change nothing."""

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from smplat.api.app import build_api
from smplat.db import session_scope
from smplat.models.accounts import Role, User
from smplat.models.fulfillment import FulfillmentTask
from smplat.models.orders import OrderEvent, OrderItem
from smplat.models.providers import Refill
from smplat.services import fulfillment
from smplat.settings import get_settings
from tests.fulfillment_factory import paid_order, product, seed_with_panel

pytestmark = pytest.mark.integration


def _count(session, model) -> int:
    session.expire_all()
    return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_refill_api_refuses_bad_body_anonymous_callers_and_strangers(session, panel, session_cookie_for):
    # given a customer's delivered line of a service with a refill guarantee
    seed_with_panel(session, panel.base_url)
    owner = session.execute(select(User).where(User.email == "client@smplat.local")).scalars().one()
    order = paid_order(session, [(product(session, "instagram-followers"), "https://instagram.com/refill", 500, 690)],
                       user_id=owner.id)
    fulfillment.run_fulfillment(session_scope)
    fulfillment.sync_statuses(session_scope)
    session.expire_all()
    item = session.execute(select(OrderItem).where(OrderItem.order_id == order.id)).scalars().one()
    assert item.status == "completed"
    name = get_settings().session_cookie_name
    as_owner = {name: session_cookie_for(Role.CUSTOMER, "client@smplat.local")}
    as_stranger = {name: session_cookie_for(Role.CUSTOMER)}
    tasks_before, events_before, calls_before = _count(session, FulfillmentTask), _count(session, OrderEvent), \
        list(panel.state.calls)
    api = TestClient(build_api())
    url = f"/api/order-items/{item.id}/refill"

    # when the owner sends a body that is not JSON, then one without a reason; a signed-out
    # caller and another customer send a valid one
    bad = api.post(url, content=b"not json", cookies=as_owner)
    missing = api.post(url, json={}, cookies=as_owner)
    anonymous = api.post(url, json={"reason": "dropped"})
    stranger = api.post(url, json={"reason": "dropped"}, cookies=as_stranger)

    # then each is refused for its own reason, and nothing is stored, queued or sent
    assert (bad.status_code, bad.json()) == (400, {"error": 'body must be JSON: {"reason": "..."}'})
    assert (missing.status_code, missing.json()) == (400, {"error": "reason is required"})
    assert (anonymous.status_code, anonymous.json()) == (401, {"error": "sign in first"})
    assert (stranger.status_code, stranger.json()) == (404, {"error": "no such order line"})
    assert _count(session, Refill) == 0
    assert (_count(session, FulfillmentTask), _count(session, OrderEvent)) == (tasks_before, events_before)
    assert panel.state.calls == calls_before

    # and the same request from the owner is accepted: the line was refillable all along
    accepted = api.post(url, json={"reason": "dropped"}, cookies=as_owner)
    assert accepted.status_code == 202
    assert _count(session, Refill) == 1
