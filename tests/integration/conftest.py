"""Fixtures shared by integration tests: Reflex states built the way the websocket builds
them (a root state with a router carrying the page path, query and session cookie), real
sign-in sessions, and the Stripe sandbox with an SMTP sink for checkout."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from smplat.db import session_scope
from smplat.models.accounts import Role
from smplat.services import carts
from smplat.settings import (
    SANDBOX_STRIPE_SECRET_KEY,
    SANDBOX_STRIPE_WEBHOOK_SECRET,
    reset_settings_cache,
)

# --- Reflex states and handlers ------------------------------------------------------------


@pytest.fixture
def root_state() -> Callable[..., Any]:
    """`await root_state(cls, path, query=..., params=..., cookie=..., consent=None)`: the state
    `cls` under a fresh root state whose router carries the page `path`, its query string,
    route `params` and (when given) the `smplat_session` cookie. `consent` sets the cookie
    banner's choice (ConsentState) as the browser would have stored it."""
    import reflex as rx
    from reflex.istate.data import RouterData

    async def make(
        cls,
        path: str = "/",
        *,
        query: dict | None = None,
        params: dict | None = None,
        cookie: str | None = None,
        consent: str | None = None,
    ):
        root = rx.State(_reflex_internal_init=True)
        headers = {"cookie": f"smplat_session={cookie}"} if cookie else {}
        as_path = path + (("?" + urlencode(query)) if query else "")
        root.router = RouterData.from_router_data(
            {"headers": headers, "pathname": path, "asPath": as_path, "query": {**(query or {}), **(params or {})}}
        )
        if consent is not None:
            from smplat.ui.components.consent import ConsentState

            (await root.get_state(ConsentState)).choice = consent
        return await root.get_state(cls)

    return make


@pytest.fixture
def session_cookie_for() -> Callable[..., str]:
    """`session_cookie_for(role, email=None)`: a real session token (the value of the
    `smplat_session` cookie) for the user with `email`, signed up with `role` when there is
    none (by default `<role>@guards.test`)."""
    import pyotp
    from sqlalchemy import select

    from smplat.models.accounts import User
    from smplat.services import accounts, two_factor

    def make(role: Role, email: str | None = None) -> str:
        email = email or f"{role.value}@guards.test"
        with session_scope() as db:
            user = db.execute(select(User).where(User.email == email)).scalars().first() or accounts.sign_up(
                db, email=email, password="violet-harbour-42", role=role
            )
            if two_factor.must_enrol(user.role, user.two_factor_enabled_at):
                # admins must have two-factor before the admin answers them
                two_factor.enable_with_secret(db, user.id, pyotp.random_base32())
            return accounts.redeem_signin_ticket(db, accounts.issue_signin_ticket(db, user)).token

    return make


def _as_list(result: Any) -> list:
    return result if isinstance(result, list) else [result]


@pytest.fixture
def handler_events() -> Callable[[Any], list]:
    """`handler_events(result)`: what a handler returned, as the list of events it sends."""
    return _as_list


@pytest.fixture
def is_toast_error() -> Callable[[Any, str], bool]:
    """`is_toast_error(event, message)`: the event shows an error toast with `message`."""

    def check(event: Any, message: str) -> bool:
        return "toast" in str(event) and message in str(event)

    return check


# --- Stripe sandbox and SMTP sink --------------------------------------------------------


class StripeShop:
    """A seeded shop talking to the Stripe sandbox, whose webhook events are kept (not sent)
    so a test posts them itself, in any order. Unpacks as `sandbox, sink`."""

    def __init__(self, sandbox, sink) -> None:
        self.sandbox, self.sink = sandbox, sink

    def __iter__(self) -> Iterator[Any]:
        return iter((self.sandbox, self.sink))

    @staticmethod
    def signed(event: dict, *, secret: str = SANDBOX_STRIPE_WEBHOOK_SECRET, timestamp: int | None = None):
        from smplat.sandbox.stripe_sandbox import sign_payload

        payload = json.dumps(event)
        return payload, {
            "Stripe-Signature": sign_payload(payload, secret, timestamp),
            "Content-Type": "application/json",
        }

    def post(self, client, event: dict, **kw):
        """Deliver `event` to the shop's webhook endpoint through `client`, signed (kw: secret, timestamp)."""
        payload, headers = self.signed(event, **kw)
        return client.post("/api/stripe/webhook", content=payload, headers=headers)

    def pay(self, cs) -> httpx.Response:
        """The customer pays the checkout session on the sandbox's hosted page."""
        return httpx.post(f"{self.sandbox.base_url}/pay/{cs.stripe_session_id}/pay", follow_redirects=False)

    def events(self, kind: str) -> list[dict]:
        return [e for e in self.sandbox.events if e["type"] == kind]


@pytest.fixture
def stripe_shop(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StripeShop]:
    """Seeded database, SMTP sink, and a Stripe sandbox whose webhooks go nowhere (tests post them)."""
    from smplat.sandbox.smtp_sink import SmtpSink
    from smplat.sandbox.stripe_sandbox import StripeSandbox
    from smplat.services.seed import seed_demo

    with session_scope() as db:
        seed_demo(db)
    with SmtpSink("127.0.0.1", 0, tmp_path / "mailbox") as sink:
        sandbox = StripeSandbox(
            "127.0.0.1",
            0,
            secret_key=SANDBOX_STRIPE_SECRET_KEY,
            webhook_url="http://127.0.0.1:9/unused",
            webhook_secret=SANDBOX_STRIPE_WEBHOOK_SECRET,
        )
        original = StripeSandbox.emit

        def emit(event_type, obj, *, deliver=True):
            return original(sandbox, event_type, obj, deliver=False)

        sandbox.emit = emit  # keep events for the test to deliver, in any order
        sandbox.start()
        monkeypatch.setenv("SMPLAT_STRIPE_API_BASE", sandbox.base_url)
        monkeypatch.setenv("SMPLAT_SMTP_PORT", str(sink.port))
        reset_settings_cache()
        try:
            yield StripeShop(sandbox, sink)
        finally:
            sandbox.stop()
            reset_settings_cache()


# --- the storefront as a visitor's tab sees it ----------------------------------------------

GUEST_CART = carts.sign_guest_token("guest-cart-token-1")  # a cart cookie the shop issued
PRODUCT_SLUG = "instagram-followers"


@pytest.fixture
def shopper_state(root_state):
    """`await shopper_state(cls, path, query=, params=, session=, cart_token=, consent=)`: the
    state as the websocket builds it, carrying the visitor's cart cookie and cookie-banner choice."""

    async def make(
        cls,
        path: str,
        *,
        query: dict | None = None,
        params: dict | None = None,
        session: str | None = None,
        cart_token: str = GUEST_CART,
        consent: str = "",
    ):
        state = await root_state(cls, path, query=query, params=params, cookie=session)
        if hasattr(state, "cart_token"):
            state.cart_token = cart_token
            state.consent_choice = consent
        return state

    return make


@pytest.fixture
def product_state(shopper_state):
    """`await product_state(query, **shopper_state kw)`: the product page of PRODUCT_SLUG, loaded."""
    from smplat.ui.pages.storefront.product import ProductState

    async def make(query: dict | None = None, **kw):
        state = await shopper_state(
            ProductState, f"/services/{PRODUCT_SLUG}", query=query, params={"slug": PRODUCT_SLUG}, **kw
        )
        state.load_product()
        return state

    return make
