"""POST /api/order-items/{id}/refill: refusals at the boundary change nothing."""

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from smplat.api.app import build_api
from smplat.models.providers import Refill

pytestmark = pytest.mark.integration


def test_refill_api_refuses_bad_body_and_anonymous_callers(session):
    client = TestClient(build_api())
    bad = client.post("/api/order-items/1/refill", content=b"not json")
    missing = client.post("/api/order-items/1/refill", json={})
    anonymous = client.post("/api/order-items/1/refill", json={"reason": "dropped"})
    assert (bad.status_code, bad.json()) == (400, {"error": 'body must be JSON: {"reason": "..."}'})
    assert (missing.status_code, missing.json()) == (400, {"error": "reason is required"})
    assert (anonymous.status_code, anonymous.json()) == (401, {"error": "sign in first"})
    assert session.execute(select(func.count()).select_from(Refill)).scalar_one() == 0
