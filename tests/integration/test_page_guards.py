"""Server-side role checks: admin and account event handlers, called directly the way
a crafted websocket event would call them, refuse anyone but the right user."""

from __future__ import annotations

import pytest

from smplat.db import session_scope
from smplat.models.accounts import Role
from smplat.services import accounts
from smplat.ui.pages.account.pages import AccountState
from smplat.ui.pages.admin.jobs import JobsState
from smplat.ui.pages.admin.pages import AdminState
from smplat.ui.state.auth import STAFF_ONLY_MESSAGE

pytestmark = pytest.mark.integration


@pytest.fixture
def state_for(root_state):
    """`await state_for(cls, cookie, path)`: the state as the websocket builds it for that cookie."""

    def make(cls, cookie: str | None, path: str = "/admin"):
        return root_state(cls, path, cookie=cookie)

    return make


@pytest.mark.parametrize("cookie_kind", ["none", "forged", "customer"])
async def test_admin_loaders_refuse_non_staff(sqlite_url, cookie_kind, handler_events, is_toast_error,
                                              session_cookie_for, state_for):
    cookie = {"none": None, "forged": "forged-cookie", "customer": session_cookie_for(Role.CUSTOMER)}[cookie_kind]
    for loader in ("load_dashboard", "load_orders", "load_catalog", "load_customers"):
        state = await state_for(AdminState, cookie)
        result = getattr(state, loader)()
        assert state.loaded is False and state.users == [] and state.products == [] and state.kpis == {}
        events = handler_events(result)
        if cookie_kind == "customer":
            assert any(is_toast_error(e, STAFF_ONLY_MESSAGE) for e in events)
        else:
            assert any("/signin?next=/admin" in str(e) for e in events)


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.ADMIN])
async def test_admin_loaders_serve_staff(sqlite_url, role, session_cookie_for, state_for):
    state = await state_for(AdminState, session_cookie_for(role))
    assert state.load_customers() is None
    assert state.loaded is True
    assert [u["email"] for u in state.users] == [f"{role.value}@guards.test"]
    assert state.user_role == role.value


async def test_jobs_loader_refuses_a_customer(sqlite_url, handler_events, is_toast_error, session_cookie_for,
                                              state_for):
    state = await state_for(JobsState, session_cookie_for(Role.CUSTOMER), "/admin/jobs")
    events = handler_events(state.load_jobs())
    assert any(is_toast_error(e, STAFF_ONLY_MESSAGE) for e in events)
    assert state.jobs == [] and state.loaded is False


async def test_account_loader_needs_a_signed_in_user(sqlite_url, handler_events, state_for):
    state = await state_for(AccountState, "forged-cookie", "/account")
    events = handler_events(state.load_orders())
    assert any("/signin?next=/account" in str(e) for e in events)
    assert state.loaded is False


async def test_revoked_session_loses_access_immediately(sqlite_url, handler_events, session_cookie_for, state_for):
    cookie = session_cookie_for(Role.ADMIN)
    state = await state_for(AdminState, cookie)
    assert state.load_catalog() is None and state.loaded is True
    with session_scope() as db:
        accounts.revoke_session(db, cookie)
    fresh = await state_for(AdminState, cookie)
    assert any("/signin" in str(e) for e in handler_events(fresh.load_catalog()))
    assert fresh.loaded is False
