"""POST /api/order-items/{id}/refill: refusals at the boundary change nothing."""

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from smplat.api.app import build_api
from smplat.models.providers import Refill
from smplat.services import accounts
from smplat.settings import get_settings

pytestmark = pytest.mark.integration


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
    missing = client.post("/api/order-items/1/refill", json={})
    assert (bad.status_code, bad.json()) == (400, {"error": 'body must be JSON: {"reason": "..."}'})
    assert (missing.status_code, missing.json()) == (400, {"error": "reason is required"})
    assert session.execute(select(func.count()).select_from(Refill)).scalar_one() == 0
