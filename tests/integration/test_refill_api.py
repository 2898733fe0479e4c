"""POST /api/order-items/{id}/refill: every refusal answers the status of its error code
(`errors.http_status`, never the message text) and changes nothing."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from smplat.api.app import build_api
from smplat.db import session_scope
from smplat.models.accounts import Role, User
from smplat.models.base import utcnow
from smplat.models.fulfillment import FulfillmentTask
from smplat.models.orders import OrderEvent, OrderItem
from smplat.models.providers import ProviderOrder, Refill
from smplat.services import accounts
from smplat.services.fulfillment import engine, status_sync
from smplat.settings import get_settings
from tests.fulfillment_factory import paid_order, product, seed_with_panel

pytestmark = pytest.mark.integration


def _signed_in(email: str) -> TestClient:
    with session_scope() as db:
        user = db.execute(select(User).where(User.email == email)).scalars().first() or accounts.sign_up(
            db, email=email, password="violet-harbour-42", role=Role.CUSTOMER
        )
        token = accounts.redeem_signin_ticket(db, accounts.issue_signin_ticket(db, user)).token
    client = TestClient(build_api())
    client.cookies.set(get_settings().session_cookie_name, token)
    return client


def _written(session) -> tuple[int, int, int]:
    session.expire_all()
    return tuple(
        session.execute(select(func.count()).select_from(model)).scalar_one()
        for model in (Refill, FulfillmentTask, OrderEvent)
    )


def test_refill_api_refuses_anonymous_callers_before_reading_the_body_and_bad_bodies(session):
    client = TestClient(build_api())
    # a visitor is refused before the body is read, whatever it holds
    for body in ({"content": b"not json"}, {"json": {}}, {"json": {"reason": "dropped"}}):
        anonymous = client.post("/api/order-items/1/refill", **body)
        assert (anonymous.status_code, anonymous.json()) == (401, {"error": "sign in first", "code": "unauthenticated"})
    # a signed-in customer with a bad body is told what is wrong
    user = accounts.sign_up(session, email="refill-body@example.com", password="violet-harbour-42")
    token = accounts.redeem_signin_ticket(session, accounts.issue_signin_ticket(session, user)).token
    session.commit()
    client.cookies.set(get_settings().session_cookie_name, token)
    bad = client.post("/api/order-items/1/refill", content=b"not json")
    not_text = client.post("/api/order-items/1/refill", json={"reason": 42})
    assert (bad.status_code, bad.json()) == (400, {"error": 'body must be JSON: {"reason": "..."}', "code": "invalid"})
    assert (not_text.status_code, not_text.json()["code"], not_text.json()["field"]) == (400, "invalid", "reason")
    assert session.execute(select(func.count()).select_from(Refill)).scalar_one() == 0


def test_refill_of_a_line_that_does_not_exist_is_404_on_an_empty_database(session):
    # given a signed-in customer and no order at all
    client = _signed_in("nobody@example.test")
    assert _written(session) == (0, 0, 0)
    # when they ask for a refill of line 1
    answer = client.post("/api/order-items/1/refill", json={"reason": "dropped by 40"})
    # then not found, and nothing was written
    assert (answer.status_code, answer.json()) == (404, {"error": "no such order line", "code": "not_found"})
    assert _written(session) == (0, 0, 0)


@pytest.mark.parametrize("reason", ["", "   ", None], ids=["empty", "blank", "missing"])
def test_refill_without_a_reason_is_refused_by_the_service(session, reason):
    client = _signed_in("nobody@example.test")
    body = {} if reason is None else {"reason": reason}
    answer = client.post("/api/order-items/1/refill", json=body)
    assert (answer.status_code, answer.json()) == (
        400,
        {"error": "say why the refill is needed", "code": "required", "field": "reason"},
    )
    assert _written(session) == (0, 0, 0)


def test_each_refusal_answers_the_status_of_its_code(session, panel):
    # given the client's line, delivered, and a second line of theirs not yet sent
    seed_with_panel(session, panel.base_url)
    client_user = session.execute(select(User).where(User.email == "client@smplat.local")).scalars().one()
    followers = product(session, "instagram-followers")
    order = paid_order(session, [(followers, "https://instagram.com/api-refill", 500, 690)], user_id=client_user.id)
    engine.run_fulfillment(session_scope)
    status_sync.sync_statuses(session_scope)
    waiting = paid_order(session, [(followers, "https://instagram.com/api-wait", 500, 690)], user_id=client_user.id)
    delivered = session.execute(select(OrderItem).where(OrderItem.order_id == order.id)).scalars().one()
    not_sent = session.execute(select(OrderItem).where(OrderItem.order_id == waiting.id)).scalars().one()
    owner, stranger = _signed_in("client@smplat.local"), _signed_in("stranger@example.test")
    before = _written(session)

    def ask(client: TestClient, item_id: int) -> tuple[int, str]:
        answer = client.post(f"/api/order-items/{item_id}/refill", json={"reason": "dropped by 40"})
        return answer.status_code, answer.json().get("code", "")

    # when someone else asks for the line, the owner asks for the line not yet sent
    assert ask(stranger, delivered.id) == (404, "not_found")  # never say it exists
    assert ask(owner, not_sent.id) == (409, "conflict")
    assert _written(session) == before
    # and when the refill window is over
    session.execute(
        ProviderOrder.__table__.update()
        .where(ProviderOrder.order_item_id == delivered.id)
        .values(completed_at=utcnow() - timedelta(days=31), submitted_at=utcnow() - timedelta(days=31))
    )
    session.commit()
    assert ask(owner, delivered.id) == (409, "not_allowed")
    assert _written(session) == before
    # then inside the window the first ask is accepted and a second one conflicts
    session.execute(
        ProviderOrder.__table__.update()
        .where(ProviderOrder.order_item_id == delivered.id)
        .values(completed_at=utcnow())
    )
    session.commit()
    assert ask(owner, delivered.id) == (202, "")
    after_first = _written(session)
    assert after_first == (before[0] + 1, before[1] + 1, before[2] + 1)
    assert ask(owner, delivered.id) == (409, "conflict")
    assert _written(session) == after_first
