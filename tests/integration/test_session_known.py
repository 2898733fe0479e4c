"""The header stays neutral until the session is known: `AuthState.session_known` is False
on a fresh state and turns True only once a loader has resolved the cookie (to a user or
to nobody)."""

from __future__ import annotations

import pytest

from smplat.models.accounts import Role
from smplat.ui.pages.storefront.home import HomeState
from smplat.ui.state.auth import AuthState

pytestmark = pytest.mark.integration


@pytest.fixture
def state_for(root_state):
    """`await state_for(cls, cookie, path)`: the state as the websocket builds it for that cookie."""

    def make(cls, cookie: str | None, path: str = "/"):
        return root_state(cls, path, cookie=cookie)

    return make


async def test_a_fresh_state_does_not_know_the_session(sqlite_url, session_cookie_for, state_for):
    state = await state_for(AuthState, session_cookie_for(Role.CUSTOMER), "/")
    assert state.session_known is False
    assert state.signed_in is False  # not yet resolved: neither signed in nor out for the header


async def test_load_user_makes_a_signed_out_visitor_known(sqlite_url, state_for):
    state = await state_for(AuthState, None, "/")
    state.load_user()
    assert state.session_known is True and state.signed_in is False


async def test_a_forged_cookie_is_known_as_signed_out(sqlite_url, state_for):
    state = await state_for(AuthState, "forged-cookie", "/")
    state.load_user()
    assert state.session_known is True and state.signed_in is False


async def test_require_signed_in_makes_the_customer_known(sqlite_url, session_cookie_for, state_for):
    state = await state_for(AuthState, session_cookie_for(Role.CUSTOMER), "/account")
    assert state.require_signed_in() is None
    assert state.session_known is True and state.signed_in is True and state.user_role == Role.CUSTOMER.value


async def test_a_page_loader_resolves_the_session_for_the_header(sqlite_url, session_cookie_for, state_for):
    home = await state_for(HomeState, session_cookie_for(Role.ADMIN), "/")
    home.load_home()
    auth = await home.get_state(AuthState)
    assert auth.session_known is True and auth.is_admin is True
