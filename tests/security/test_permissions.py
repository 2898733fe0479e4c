"""Roles and permissions: every page, every event handler and every API route of the app,
enumerated from the app itself, refuses a visitor, a customer and (where the role table says
so) an operator before anything is written; operators cannot touch provider connections."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pyotp
import pytest
import reflex as rx
from reflex.istate.data import RouterData
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine
from starlette.routing import Route
from starlette.testclient import TestClient

from smplat.api._access import PERMISSION_MARKER as API_MARKER
from smplat.api._access import PUBLIC_REASON_MARKER
from smplat.api.app import build_api
from smplat.db import session_scope
from smplat.models.accounts import Role
from smplat.models.audit import AuditLog
from smplat.models.providers import Provider
from smplat.services import accounts, audit, permissions, providers, two_factor
from smplat.services.errors import ErrorCode
from smplat.services.permissions import ROLE_PERMISSIONS, Permission
from smplat.settings import PROJECT_ROOT, get_settings, reset_settings_cache
from smplat.ui import registry, routes
from smplat.ui.access import BUILTIN_HANDLERS, PUBLIC, PUBLIC_HANDLERS, declared_permission
from smplat.ui.pages.admin.provider import ProviderDetailState
from smplat.ui.pages.admin.providers import ProvidersState
from smplat.ui.state.auth import STAFF_ONLY_MESSAGE, AuthState

pytestmark = pytest.mark.integration

PASSWORD = "violet-harbour-42"


# --- helpers -------------------------------------------------------------------------------------


def cookie_for(role: Role) -> str:
    with session_scope() as db:
        user = accounts.sign_up(db, email=f"{role.value}@permissions.test", password=PASSWORD, role=role)
        if two_factor.is_required(user.role):  # the admin answers admins with two-factor only
            two_factor.enable_with_secret(db, user.id, pyotp.random_base32())
        token = accounts.redeem_signin_ticket(db, accounts.issue_signin_ticket(db, user)).token
    with session_scope() as db:  # the first look-up may note "last seen"; later ones write nothing
        assert accounts.resolve_session(db, token) is not None
    return token


async def state_for(cls: Any, cookie: str | None, path: str = "/admin", params: dict[str, str] | None = None) -> Any:
    root = rx.State(_reflex_internal_init=True)
    headers = {"cookie": f"{get_settings().session_cookie_name}={cookie}"} if cookie else {}
    root.router = RouterData.from_router_data(
        {"headers": headers, "pathname": path, "asPath": path, "query": dict(params or {})}
    )
    return await root.get_state(cls)


@contextmanager
def counting_writes() -> Iterator[list[str]]:
    """Every INSERT/UPDATE/DELETE any engine sends while the block runs, but the audit row
    that records a refused staff member (the one write a refusal makes, on purpose)."""
    writes: list[str] = []

    def listen(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO AUDIT_LOGS"):
            return
        if statement.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            writes.append(statement)

    event.listen(Engine, "before_cursor_execute", listen)
    try:
        yield writes
    finally:
        event.remove(Engine, "before_cursor_execute", listen)


def _events(result: Any) -> list[Any]:
    return result if isinstance(result, list) else [result]


def _own_values(state: Any) -> dict[str, Any]:
    names = [n for n in type(state).base_vars if n not in AuthState.base_vars]
    return {n: getattr(state, n) for n in names}


def _app_states() -> list[type]:
    """Every state class of the app: all `rx.State` substates defined under `smplat` (every
    module under `smplat.ui` is imported first, so a state no page uses yet is found too)."""
    registry.discover("smplat.ui")
    found: list[type] = []

    def walk(cls: type) -> None:
        for sub in cls.get_substates():
            if sub.__module__.startswith("smplat."):
                found.append(sub)
            walk(sub)

    walk(rx.State)
    return found


def _all_handlers() -> list[tuple[type, str]]:
    return [(cls, name) for cls in _app_states() for name in sorted(cls.event_handlers)]


def _guarded_handlers() -> list[tuple[type, str, Any]]:
    out = []
    for cls, name in _all_handlers():
        requirement = declared_permission(cls, name)
        if requirement not in (PUBLIC, None):
            out.append((cls, name, requirement))
    return out


def _dummy(parameter: inspect.Parameter) -> Any:
    annotation = str(parameter.annotation)
    if "dict" in annotation:
        return {"name": "x", "slug": "x", "base_url": "http://127.0.0.1:1/api", "api_key": "x", "action": "x"}
    if "int" in annotation:
        return 1
    return "x"


async def call_handler(cls: type, name: str, state: Any) -> list[Any]:
    """Call a handler the way a crafted websocket event would, with dummy arguments."""
    fn = cls.event_handlers[name].fn
    params = list(inspect.signature(fn).parameters.values())[1:]
    args = [_dummy(p) for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    result = fn(state, *args)
    if inspect.isasyncgen(result):
        return [update async for update in result]
    if inspect.isawaitable(result):
        result = await result
    return _events(result)


def _who_is_refused(requirement: Any) -> list[Role | None]:
    """Visitors always; customers and operators where the role table does not give them the permission."""
    if requirement == "signed_in":
        return [None]
    return [
        None,
        *(role for role in (Role.CUSTOMER, Role.OPERATOR) if not permissions.has_permission(role, requirement)),
    ]


def _is_refusal(events: list[Any], role: Role | None, requirement: Any) -> bool:
    text = " ".join(str(e) for e in events)
    if role is None:
        return "/signin?next=" in text
    if role == Role.CUSTOMER:
        return "toast" in text and STAFF_ONLY_MESSAGE in text
    return "toast" in text and permissions.refusal_message(requirement) in text


# --- the role table ------------------------------------------------------------------------------


def test_the_role_table_gives_operators_the_daily_work_and_admins_the_connections_staff_and_big_refunds():
    admin_only = {
        Permission.MANAGE_PROVIDERS,
        Permission.MANAGE_STAFF,
        Permission.REFUND_ABOVE_LIMIT,
        Permission.VIEW_AUDIT_LOG,
        Permission.MANAGE_RESELLERS,
    }
    customer = {
        Permission.PLACE_ORDERS,
        Permission.VIEW_OWN_ORDERS,
        Permission.REQUEST_REFILLS,
        Permission.CANCEL_OWN_ORDERS,
    }
    assert ROLE_PERMISSIONS[Role.ADMIN] == set(Permission)
    assert ROLE_PERMISSIONS[Role.OPERATOR] == set(Permission) - admin_only
    assert ROLE_PERMISSIONS[Role.CUSTOMER] == customer
    assert set(permissions.DESCRIPTIONS) == set(Permission)
    for permission in admin_only:
        assert permissions.has_permission(Role.ADMIN, permission)
        assert not permissions.has_permission(Role.OPERATOR, permission)
    assert not permissions.has_permission("", Permission.PLACE_ORDERS)
    assert not permissions.has_permission("owner", Permission.PLACE_ORDERS)


def test_the_table_in_docs_security_is_the_role_table():
    doc = (PROJECT_ROOT / "docs" / "security.md").read_text()
    section = doc.split("## Roles and permissions", 1)[1].split("\n## ", 1)[0]
    rows = [line.strip("|").split("|") for line in section.splitlines() if line.startswith("| `")]
    documented = {cells[0].strip().strip("`"): [c.strip() == "yes" for c in cells[2:5]] for cells in rows}
    assert documented == {
        p.name: [p in ROLE_PERMISSIONS[r] for r in (Role.CUSTOMER, Role.OPERATOR, Role.ADMIN)] for p in Permission
    }


def test_require_permission_raises_forbidden_for_a_role_without_it():
    permissions.require_permission(Role.ADMIN, Permission.MANAGE_PROVIDERS)
    with pytest.raises(permissions.PermissionDenied) as refused:
        permissions.require_permission(Role.OPERATOR, Permission.MANAGE_PROVIDERS)
    assert refused.value.code == ErrorCode.FORBIDDEN
    assert refused.value.message == (
        "Only an admin can create a provider, change its base URL, API key or dialect, or import its services."
    )


@pytest.mark.parametrize(
    ("role", "amount", "allowed"),
    [
        pytest.param(Role.OPERATOR, 2500, True, id="operator-at-the-limit"),
        pytest.param(Role.OPERATOR, 2501, False, id="operator-above-the-limit"),
        pytest.param(Role.ADMIN, 2501, True, id="admin-above-the-limit"),
        pytest.param(Role.ADMIN, 10_000_000, True, id="admin-any-amount"),
        pytest.param(Role.CUSTOMER, 1, False, id="customer-never"),
    ],
)
def test_refunds_above_the_configured_amount_need_an_admin(monkeypatch, role, amount, allowed):
    monkeypatch.setenv("SMPLAT_OPERATOR_REFUND_LIMIT_MINOR", "2500")
    reset_settings_cache()
    try:
        assert permissions.can_refund(role, amount, "USD") is allowed
        if not allowed:
            with pytest.raises(permissions.PermissionDenied):
                permissions.require_refund(role, amount, "USD")
    finally:
        monkeypatch.delenv("SMPLAT_OPERATOR_REFUND_LIMIT_MINOR")
        reset_settings_cache()


# --- every event handler declares its permission ----------------------------------------------------


def test_every_event_handler_of_every_state_declares_a_permission_or_why_it_is_public():
    handlers = _all_handlers()
    undeclared = [f"{cls.__name__}.{name}" for cls, name in handlers if declared_permission(cls, name) is None]
    assert undeclared == []
    # the allowlist names only handlers that exist, and none of them is also guarded
    existing = {f"{cls.__name__}.{name}" for cls, name in handlers}
    assert sorted(set(PUBLIC_HANDLERS) - existing) == []
    assert all(reason.strip() for reason in [*PUBLIC_HANDLERS.values(), *BUILTIN_HANDLERS.values()])
    guarded = {f"{cls.__name__}.{name}" for cls, name, _ in _guarded_handlers()}
    assert sorted(guarded & set(PUBLIC_HANDLERS)) == []
    # the admin states are all guarded (the enumeration reaches them, not only the storefront)
    assert {
        "ProvidersState.create",
        "ProviderDetailState.save",
        "ProviderDetailState.import_file",
        "ProviderDetailState.resync",
        "JobsState.run_now",
        "AccountState.load_orders",
    } <= guarded


def test_provider_connections_are_admin_only_and_operators_keep_the_daily_provider_work():
    declared = {f"{cls.__name__}.{name}": req for cls, name, req in _guarded_handlers()}
    assert declared["ProvidersState.create"] == Permission.MANAGE_PROVIDERS
    assert declared["ProviderDetailState.save"] == Permission.MANAGE_PROVIDERS
    assert declared["ProviderDetailState.import_file"] == Permission.MANAGE_PROVIDERS
    assert declared["ProvidersState.load"] == Permission.VIEW_PROVIDERS
    assert declared["ProviderDetailState.load"] == Permission.VIEW_PROVIDERS
    assert declared["ProviderDetailState.resync"] == Permission.SYNC_PROVIDERS
    assert declared["ProviderDetailState.check_now"] == Permission.SYNC_PROVIDERS


async def test_every_guarded_handler_refuses_visitors_customers_and_operators_without_writing(db_url):
    cookies = {
        None: "forged-cookie",
        Role.CUSTOMER: cookie_for(Role.CUSTOMER),
        Role.OPERATOR: cookie_for(Role.OPERATOR),
    }
    checked: list[tuple[str, str]] = []
    for cls, name, requirement in _guarded_handlers():
        for role in _who_is_refused(requirement):
            # given a caller the handler is not for
            state = await state_for(cls, cookies[role], params={"provider_id": "1"})
            before = _own_values(state)
            # when they send the event directly, with arguments the guard must not even look at
            with counting_writes() as writes:
                events = await call_handler(cls, name, state)
            # then it is refused, nothing was written and the page state is as it was
            label = f"{cls.__name__}.{name} as {role or 'visitor'}"
            assert _is_refusal(events, role, requirement), (label, events)
            assert writes == [], label
            assert _own_values(state) == before, label
            checked.append((f"{cls.__name__}.{name}", str(role)))
    # operators were refused exactly the admin-only handlers
    refused_operator = sorted(h for h, role in checked if role == str(Role.OPERATOR))
    assert refused_operator == [
        "AuditState.apply_filters",
        "AuditState.clear_filters",
        "AuditState.export_csv",
        "AuditState.load",
        "AuditState.newer",
        "AuditState.older",
        "CustomerState.set_role",
        "ProviderDetailState.import_file",
        "ProviderDetailState.save",
        "ProviderDetailState.save_dialect",
        "ProvidersState.create",
        "ResellerAdminState.adjust",
        "ResellerAdminState.load_resellers",
        "ResellerAdminState.set_prices",
        "StaffState.load",
        "StaffState.set_active",
        "StaffState.set_role",
    ]
    assert len({h for h, _ in checked}) == len(_guarded_handlers())
    # and each refusal of the operator (staff) is in the audit log; visitors' and customers' are not
    with session_scope() as db:
        denied = db.execute(select(AuditLog).where(AuditLog.action == audit.DENIED)).scalars().all()
    assert sorted(row.entity_id for row in denied) == refused_operator
    assert {(row.actor_label, row.data["role"]) for row in denied} == {("operator@permissions.test", "operator")}


# --- every page --------------------------------------------------------------------------------------


def test_every_page_declares_its_guard_and_its_loaders_need_the_same():
    for spec in registry.discover():
        guard, loaders = spec.guard_event(), spec.on_load
        if spec.guard == "public":
            assert spec.permission is None and guard is None, spec.route
            continue
        expected = "signed_in" if spec.guard == "signed_in" else spec.permission
        assert isinstance(expected, Permission) or expected == "signed_in", spec.route
        for loader in loaders:
            assert declared_permission(loader.state, loader.fn.__name__) == expected, (spec.route, loader)
    admin_only = registry.PageSpec(
        route="/admin/staff",
        title="Staff",
        component=lambda: rx.fragment(),
        guard="staff",
        on_load=(),
        permission=Permission.MANAGE_STAFF,
    )
    assert admin_only.guard_event() is AuthState.require_admin


async def test_every_page_guard_refuses_visitors_customers_and_operators_without_writing(db_url):
    cookies = {None: None, Role.CUSTOMER: cookie_for(Role.CUSTOMER), Role.OPERATOR: cookie_for(Role.OPERATOR)}
    pages = [s for s in registry.discover() if s.guard != "public"]
    assert len(pages) == 41
    for spec in pages:
        path = "/".join("x" if part.startswith("[") else part for part in spec.route.split("/"))
        requirement = "signed_in" if spec.guard == "signed_in" else spec.permission
        for role in _who_is_refused(requirement):
            with counting_writes() as writes:
                answer = " ".join(
                    str(e) for e in _events(spec.guard_event().fn(await state_for(AuthState, cookies[role], path)))
                )
            assert writes == [], spec.route
            if role is None:
                assert f"/signin?next={path}" in answer, spec.route
            else:  # a customer goes to their account, an operator back to the admin area
                away = routes.ACCOUNT if role == Role.CUSTOMER else routes.ADMIN
                assert "/signin" not in answer and (f"'{away}'" in answer or f'"{away}"' in answer), (spec.route, role)


async def test_the_admin_only_page_guard_sends_an_operator_back_to_the_admin_area(db_url):
    state = await state_for(AuthState, cookie_for(Role.OPERATOR), "/admin/staff")
    answer = str(AuthState.require_admin.fn(state))
    assert "/signin" not in answer and ('"/admin"' in answer or "'/admin'" in answer)
    admin = await state_for(AuthState, cookie_for(Role.ADMIN), "/admin/staff")
    assert AuthState.require_admin.fn(admin) is None


# --- every API route ----------------------------------------------------------------------------------


def _api_routes() -> list[Route]:
    return [r for r in build_api().routes if isinstance(r, Route)]


def test_every_api_route_declares_a_permission_or_why_it_is_public():
    declared = {r.path: getattr(r.endpoint, API_MARKER, None) for r in _api_routes()}
    assert sorted(path for path, requirement in declared.items() if requirement is None) == []
    known = {
        "/api/health": PUBLIC,
        "/api/auth/session": PUBLIC,
        "/api/auth/signout": PUBLIC,
        "/api/stripe/webhook": PUBLIC,
        "/api/order-items/{item_id:int}/refill": Permission.REQUEST_REFILLS,
        "/api/order-items/{item_id:int}/cancel": Permission.CANCEL_OWN_ORDERS,
        "/api/invoices/{invoice_id:int}/pdf": Permission.VIEW_OWN_ORDERS,
    }
    assert {path: declared[path] for path in known} == known
    assert all(
        getattr(r.endpoint, PUBLIC_REASON_MARKER, "").strip() for r in _api_routes() if declared[r.path] == PUBLIC
    )


def test_every_protected_api_route_refuses_visitors_customers_and_operators_without_writing(db_url):
    cookies = {Role.CUSTOMER: cookie_for(Role.CUSTOMER), Role.OPERATOR: cookie_for(Role.OPERATOR)}
    client = TestClient(build_api())
    protected = [r for r in _api_routes() if getattr(r.endpoint, API_MARKER) != PUBLIC]
    assert "/api/order-items/{item_id:int}/refill" in [r.path for r in protected]
    for route in protected:
        requirement = getattr(route.endpoint, API_MARKER)
        path = "/".join("1" if part.startswith("{") else part for part in route.path.split("/"))
        for method in sorted(route.methods - {"HEAD"}):
            for role in _who_is_refused(requirement):
                client.cookies.clear()
                if role is not None:
                    client.cookies.set(get_settings().session_cookie_name, cookies[role])
                with counting_writes() as writes:
                    answer = client.request(method, path, json={"reason": "x"})
                expected = (401, "unauthenticated") if role is None else (403, "forbidden")
                assert (answer.status_code, answer.json()["code"]) == expected, (route.path, role)
                assert writes == [], (route.path, role)


# --- providers: operators cannot create one or change its URL or key; admins can ----------------------


def _provider_form(**overrides: str) -> dict[str, str]:
    form = {
        "name": "Panel",
        "slug": "panel",
        "base_url": "https://panel.example/api/v2",
        "api_key": "stored-key",
        "rate_limit_per_second": "5",
        "timeout_seconds": "20",
        "low_balance_threshold": "",
        "is_active": "on",
    }
    return {**form, **overrides}


def _provider_rows() -> list[tuple[str, str, str]]:
    with session_scope() as db:
        return [
            (p.slug, p.base_url, p.api_key_encrypted)
            for p in db.execute(select(Provider).order_by(Provider.id)).scalars()
        ]


async def test_an_operator_cannot_create_a_provider_but_an_admin_can(db_url):
    operator, admin = cookie_for(Role.OPERATOR), cookie_for(Role.ADMIN)
    # when an operator submits a complete, valid provider form
    state = await state_for(ProvidersState, operator, "/admin/providers")
    with counting_writes() as writes:
        answer = ProvidersState.create.fn(state, _provider_form())
    # then they are told only an admin may, and no provider exists
    assert "toast" in str(answer) and permissions.refusal_message(Permission.MANAGE_PROVIDERS) in str(answer)
    assert writes == [] and _provider_rows() == []
    # when an admin submits the same form, the provider is created and they go to its page
    state = await state_for(ProvidersState, admin, "/admin/providers")
    answer = ProvidersState.create.fn(state, _provider_form())
    with session_scope() as db:
        created = db.execute(select(Provider)).scalar_one()
        assert (created.slug, created.base_url) == ("panel", "https://panel.example/api/v2")
    assert f"/admin/providers/{created.id}" in str(answer)


async def test_an_operator_cannot_point_a_provider_with_a_stored_key_elsewhere_but_an_admin_can(db_url):
    operator, admin = cookie_for(Role.OPERATOR), cookie_for(Role.ADMIN)
    # given a provider with a stored key
    with session_scope() as db:
        form = providers.ProviderForm("Panel", "panel", "https://panel.example/api/v2", "stored-key")
        provider_id = providers.create_provider(db, form, actor=audit.Actor.cli()).id
    before = _provider_rows()
    path, params = f"/admin/providers/{provider_id}", {"provider_id": str(provider_id)}
    # when an operator points it at loopback, gives it a new key, or imports services into it
    for handler, data in [
        (ProviderDetailState.save, _provider_form(base_url="http://127.0.0.1:9/steal")),
        (ProviderDetailState.save, _provider_form(api_key="attacker-key")),
        (ProviderDetailState.import_file, {"services_text": "service,name\n1,Likes", "services_format": "csv"}),
    ]:
        state = await state_for(ProviderDetailState, operator, path, params)
        with counting_writes() as writes:
            answer = handler.fn(state, data)
        # then each is refused with a clear message, and the URL, key and services are as they were
        assert permissions.refusal_message(Permission.MANAGE_PROVIDERS) in str(answer)
        assert writes == [] and state.notice == "" and state.form_error == ""
    assert _provider_rows() == before
    with session_scope() as db:
        assert db.execute(select(func.count()).select_from(Provider)).scalar_one() == 1
    # when an admin changes the base URL and the key
    state = await state_for(ProviderDetailState, admin, path, params)
    assert (
        ProviderDetailState.save.fn(
            state, _provider_form(base_url="https://new-panel.example/api/v2", api_key="new-key")
        )
        is None
    )
    # then both changed
    assert state.notice == "Provider saved." and state.form_error == ""
    ((slug, url, key),) = _provider_rows()
    assert (slug, url) == ("panel", "https://new-panel.example/api/v2") and key != before[0][2]
