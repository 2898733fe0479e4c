"""HTTP hardening through real HTTP on the API app (the Starlette app Reflex mounts its pages
and websocket under): security headers on every answer, foreign Origins refused on
state-changing API calls and on the /_event websocket, CORS never reflecting a foreign
origin with credentials."""

from __future__ import annotations

import pytest
from reflex.app import App
from sqlalchemy import func, select
from starlette.routing import WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect

from smplat.api.app import build_api
from smplat.api.security import CONTENT_SECURITY_POLICY
from smplat.db import session_scope
from smplat.models.accounts import Role, UserSession
from smplat.services import accounts
from smplat.settings import get_settings, reset_settings_cache

pytestmark = pytest.mark.integration

SHOP = "http://localhost:3000"  # the test settings' public base URL
FOREIGN = ["https://evil.example", "http://localhost:3001", "http://127.0.0.1:8080", "null"]


def _signed_in_cookie() -> str:
    with session_scope() as db:
        user = accounts.sign_up(db, email="buyer@hardening.test", password="violet-harbour-42", role=Role.CUSTOMER)
        return accounts.redeem_signin_ticket(db, accounts.issue_signin_ticket(db, user)).token


def _live_sessions() -> int:
    with session_scope() as db:
        return db.execute(
            select(func.count()).select_from(UserSession).where(UserSession.revoked_at.is_(None))
        ).scalar_one()


def test_every_answer_carries_the_security_headers(sqlite_url):
    client = TestClient(build_api())
    for answer in (
        client.get("/api/health"),
        client.get("/api/nope"),
        client.post("/api/stripe/webhook", content=b"{}"),
    ):
        assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "strict-origin-when-cross-origin"
        assert "strict-transport-security" not in answer.headers  # cookies not Secure: plain HTTP dev


def test_hsts_when_cookies_are_secure(sqlite_url, monkeypatch):
    monkeypatch.setenv("SMPLAT_COOKIE_SECURE", "true")
    reset_settings_cache()
    answer = TestClient(build_api()).get("/api/health")
    assert answer.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"


@pytest.mark.parametrize("origin", FOREIGN)
def test_sign_out_from_a_foreign_origin_is_refused_and_the_session_stays(sqlite_url, origin):
    # given a signed-in customer
    cookie = _signed_in_cookie()
    client = TestClient(build_api(), cookies={"smplat_session": cookie})
    # when another site's page posts the sign-out with their cookie
    answer = client.post("/api/auth/signout", headers={"Origin": origin})
    # then it is refused and the session is untouched
    assert answer.status_code == 403
    assert answer.json() == {"error": "cross-origin request refused"}
    assert _live_sessions() == 1


def test_foreign_referer_without_origin_is_refused_too(sqlite_url):
    cookie = _signed_in_cookie()
    client = TestClient(build_api(), cookies={"smplat_session": cookie})
    answer = client.post(
        "/api/order-items/1/refill", json={"reason": "x"}, headers={"Referer": "https://evil.example/page"}
    )
    assert answer.status_code == 403
    assert _live_sessions() == 1


def test_the_shops_own_origin_may_sign_out(sqlite_url):
    cookie = _signed_in_cookie()
    client = TestClient(build_api(), cookies={"smplat_session": cookie})
    answer = client.post("/api/auth/signout", headers={"Origin": SHOP})
    assert answer.status_code == 200
    assert _live_sessions() == 0


def test_extra_allowed_origin_from_settings(sqlite_url, monkeypatch):
    monkeypatch.setenv("SMPLAT_ALLOWED_ORIGINS", "https://www.shop.example")
    reset_settings_cache()
    cookie = _signed_in_cookie()
    client = TestClient(build_api(), cookies={"smplat_session": cookie})
    assert client.post("/api/auth/signout", headers={"Origin": "https://www.shop.example"}).status_code == 200


def test_stripe_webhook_is_exempt_from_the_origin_check(sqlite_url):
    # Stripe proves itself with a signature; a foreign Origin gets the signature answer, not 403
    answer = TestClient(build_api()).post(
        "/api/stripe/webhook", content=b"{}", headers={"Origin": "https://evil.example"}
    )
    assert answer.status_code == 400


@pytest.mark.parametrize("origin", ["https://evil.example", "http://localhost:3001"])
def test_cors_never_reflects_a_foreign_origin_with_credentials(sqlite_url, origin):
    # given the API composed the way Reflex composes it (its CORS middleware from rxconfig)
    api = build_api()
    App._add_cors(api)
    client = TestClient(api)
    # when a foreign page asks, simple and preflighted
    simple = client.get("/api/health", headers={"Origin": origin})
    preflight = client.options("/api/auth/signout", headers={"Origin": origin, "Access-Control-Request-Method": "POST"})
    own = client.get("/api/health", headers={"Origin": SHOP})
    # then its origin is never allowed; the shop's own is
    assert "access-control-allow-origin" not in simple.headers
    assert preflight.headers.get("access-control-allow-origin") != origin
    assert preflight.status_code == 400
    assert own.headers["access-control-allow-origin"] == SHOP
    assert "*" not in get_settings().allowed_origin_list


def _api_with_event_socket():
    """The API app with a stand-in `/_event` websocket (Reflex mounts the real one there)."""
    api = build_api()
    opened: list[str] = []

    async def event(websocket: WebSocket) -> None:
        await websocket.accept()
        opened.append(websocket.headers.get("origin", ""))
        await websocket.send_text("hello")
        await websocket.close()

    api.router.routes.append(WebSocketRoute("/_event/", event))
    return api, opened


@pytest.mark.parametrize("origin", FOREIGN)
def test_event_websocket_refuses_a_foreign_origin(sqlite_url, origin):
    api, opened = _api_with_event_socket()
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        TestClient(api).websocket_connect("/_event/?EIO=4&transport=websocket", headers={"Origin": origin}),
    ):
        pass
    assert refused.value.code == 1008
    assert opened == []


def test_event_websocket_accepts_the_shops_origin(sqlite_url):
    api, opened = _api_with_event_socket()
    with TestClient(api).websocket_connect("/_event/?EIO=4&transport=websocket", headers={"Origin": SHOP}) as ws:
        assert ws.receive_text() == "hello"
    assert opened == [SHOP]
