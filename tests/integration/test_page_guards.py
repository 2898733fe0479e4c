"""Server-side role checks: admin and account event handlers, called directly the way
a crafted websocket event would call them, refuse anyone but the right user."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from smplat.db import session_scope
from smplat.models.accounts import Role
from smplat.services import accounts
from smplat.ui import routes
from smplat.ui.pages.account._state import AccountState
from smplat.ui.pages.admin._state import AdminState
from smplat.ui.pages.admin.jobs import JobsState
from smplat.ui.state.auth import STAFF_ONLY_MESSAGE, AuthState

pytestmark = pytest.mark.integration


@pytest.fixture
def state_for(root_state):
    """`await state_for(cls, cookie, path)`: the state as the websocket builds it for that cookie."""

    def make(cls, cookie: str | None, path: str = "/admin"):
        return root_state(cls, path, cookie=cookie)

    return make


@pytest.mark.parametrize("cookie_kind", ["none", "forged", "customer"])
async def test_admin_loaders_refuse_non_staff(
    sqlite_url, cookie_kind, handler_events, is_toast_error, session_cookie_for, state_for
):
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


async def test_jobs_loader_refuses_a_customer(
    sqlite_url, handler_events, is_toast_error, session_cookie_for, state_for
):
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


# --- every registered page: its guard and its loaders -------------------------------------------


def _pages():
    from smplat.ui import registry

    return registry.discover()


def _concrete(route: str) -> str:
    """A path the route matches: /admin/orders/[number] -> /admin/orders/x."""
    return "/".join("x" if part.startswith("[") else part for part in route.split("/"))


def _own_values(state) -> dict:
    """The page state's own fields (not the signed-in user's), to show a refusal changed nothing."""
    names = [n for n in type(state).base_vars if n not in AuthState.base_vars]
    return {n: getattr(state, n) for n in names}


def test_the_registry_holds_every_area_page_with_its_areas_guard():
    specs = _pages()
    guards = {s.route: s.guard for s in specs}
    # the admin and account areas are guarded by their area's rule, everything else is public
    assert {r: g for r, g in guards.items() if r.startswith(routes.ADMIN)} == {
        r: "staff" for r in guards if r.startswith(routes.ADMIN)
    }
    assert {r: g for r, g in guards.items() if r.startswith(routes.ACCOUNT)} == {
        routes.ACCOUNT: "signed_in",
        routes.ACCOUNT_ORDERS: "signed_in",
        routes.ACCOUNT_PROFILES: "signed_in",
        routes.ACCOUNT_NOTIFICATIONS: "signed_in",
        routes.ACCOUNT_RESELLER: "signed_in",
        routes.ACCOUNT_SECURITY: "signed_in",
        routes.ACCOUNT_SETTINGS: "signed_in",
        routes.ACCOUNT_ORDER: "signed_in",
        routes.ACCOUNT_SUBSCRIPTIONS: "signed_in",
        routes.ACCOUNT_PRIVACY: "signed_in",
        routes.ACCOUNT_BILLING: "signed_in",
    }
    assert len([r for r in guards if r.startswith(routes.ADMIN)]) == 30
    assert all(g == "public" for r, g in guards.items() if not r.startswith((routes.ADMIN, routes.ACCOUNT)))
    # and the guard's server-side check runs first, before any loader
    for spec in specs:
        first = spec.events()[0]
        expected = {"staff": AuthState.require_staff, "signed_in": AuthState.require_signed_in}.get(spec.guard)
        if spec.route in (routes.ADMIN_STAFF, routes.ADMIN_AUDIT, routes.ADMIN_RESELLERS):  # admin-only pages
            expected = AuthState.require_admin
        if expected is not None:
            assert first.fn is expected.fn, spec.route
        else:
            assert first.fn not in (AuthState.require_staff.fn, AuthState.require_signed_in.fn), spec.route


def test_the_admin_navigation_is_grouped_and_lists_each_page_once():
    from smplat.ui import registry

    groups = [(group, [link.label for link in links]) for group, links in registry.nav_groups("admin")]
    assert groups == [
        ("Sales", ["Dashboard", "Orders", "Sales", "Invoices", "Analytics", "Merchandising", "Customers", "Resellers"]),
        ("Catalog", ["Catalog", "Categories", "Bundles", "Content", "Searches"]),
        ("Operations", ["Providers", "Fulfilment", "Dead letters", "Jobs"]),
        ("Settings", ["Staff", "Audit log"]),
    ]
    assert [link.href for _, links in registry.nav_groups("account") for link in links] == [
        routes.ACCOUNT,
        routes.ACCOUNT_ORDERS,
        routes.ACCOUNT_SUBSCRIPTIONS,
        routes.ACCOUNT_PROFILES,
        routes.ACCOUNT_RESELLER,
        routes.ACCOUNT_SECURITY,
        routes.ACCOUNT_NOTIFICATIONS,
        routes.ACCOUNT_BILLING,
        routes.ACCOUNT_PRIVACY,
        routes.ACCOUNT_SETTINGS,
    ]


async def test_every_guarded_page_sends_a_visitor_to_sign_in_and_its_loaders_refuse(
    sqlite_url, handler_events, state_for
):
    guarded = [s for s in _pages() if s.guard != "public"]
    assert len(guarded) == 41
    for spec in guarded:
        path = _concrete(spec.route)
        guard, *loaders = spec.events()
        # when a visitor without a session opens the page
        answer = handler_events(guard.fn(await state_for(AuthState, None, path)))
        # then the guard sends them to sign in and back
        assert any(f"/signin?next={path}" in str(e) for e in answer), spec.route
        # and each loader, called directly like a crafted event, refuses the same way and changes nothing
        for loader in loaders:
            state = await state_for(loader.state, None, path)
            before = _own_values(state)
            assert any("/signin?next=" in str(e) for e in handler_events(loader.fn(state))), (spec.route, loader)
            assert _own_values(state) == before, (spec.route, loader)


async def test_every_staff_page_refuses_a_customer(
    sqlite_url, handler_events, is_toast_error, session_cookie_for, state_for
):
    cookie = session_cookie_for(Role.CUSTOMER)
    staff_pages = [s for s in _pages() if s.guard == "staff"]
    for spec in staff_pages:
        path = _concrete(spec.route)
        guard, *loaders = spec.events()
        # when a signed-in customer opens an admin page, the guard moves them to their account
        answer = handler_events(guard.fn(await state_for(AuthState, cookie, path)))
        assert any(routes.ACCOUNT in str(e) and "/signin" not in str(e) for e in answer), spec.route
        # and every loader says it is for staff only and loads nothing
        for loader in loaders:
            state = await state_for(loader.state, cookie, path)
            before = _own_values(state)
            assert any(is_toast_error(e, STAFF_ONLY_MESSAGE) for e in handler_events(loader.fn(state))), (
                spec.route,
                loader,
            )
            assert _own_values(state) == before, (spec.route, loader)


async def test_every_signed_in_page_serves_a_customer(sqlite_url, session_cookie_for, state_for):
    cookie = session_cookie_for(Role.CUSTOMER)
    for spec in (s for s in _pages() if s.guard == "signed_in"):
        guard, *loaders = spec.events()
        assert guard.fn(await state_for(AuthState, cookie, spec.route)) is None
        for loader in loaders:
            state = await state_for(loader.state, cookie, spec.route)
            assert loader.fn(state) is None
            assert state.loaded is True and state.user_role == Role.CUSTOMER.value


# --- background handlers: the same guard, resolved before any work -----------------------------


async def test_a_customer_cannot_run_a_job_from_the_background_handler(
    db_url, is_toast_error, session_cookie_for, state_for
):
    from smplat.models.jobs import JobRun

    # given a signed-in customer on the jobs page
    state = await state_for(JobsState, session_cookie_for(Role.CUSTOMER), routes.ADMIN_JOBS)
    # when they send the "run now" event (a background handler)
    answer = await JobsState.run_now.fn(state, "purge_sessions")
    # then it is refused and nothing ran or changed
    assert is_toast_error(answer, STAFF_ONLY_MESSAGE)
    assert (state.running, state.jobs, state.loaded) == ("", [], False)
    with session_scope() as db:
        assert db.execute(select(func.count()).select_from(JobRun)).scalar_one() == 0


async def test_a_visitor_is_sent_to_sign_in_by_the_background_handler(db_url, state_for):
    from smplat.models.jobs import JobRun

    state = await state_for(JobsState, "forged-cookie", routes.ADMIN_JOBS)
    answer = await JobsState.run_now.fn(state, "purge_sessions")
    assert f"/signin?next={routes.ADMIN_JOBS}" in str(answer)
    assert state.running == "" and state.user_id == 0
    with session_scope() as db:
        assert db.execute(select(func.count()).select_from(JobRun)).scalar_one() == 0


async def test_staff_run_a_job_from_the_background_handler(db_url, session_cookie_for, state_for):
    from smplat.models.jobs import JobRun

    # given an operator on the jobs page
    state = await state_for(JobsState, session_cookie_for(Role.OPERATOR), routes.ADMIN_JOBS)
    # when they run the session purge now
    answer = await JobsState.run_now.fn(state, "purge_sessions")
    # then it ran once, recorded as a manual run, and the page shows it
    assert "purge_sessions" in str(answer) and "toast" in str(answer)
    with session_scope() as db:
        runs = db.execute(select(JobRun.job_name, JobRun.trigger)).all()
    assert runs == [("purge_sessions", "manual")]
    assert state.running == "" and state.loaded is True and state.user_role == Role.OPERATOR.value
