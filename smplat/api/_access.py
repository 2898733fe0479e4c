"""How every API route declares who may call it: `protected(requirement)` or `public(reason)`.

`protected` resolves the session cookie before the endpoint runs (nothing is read or written
for a refused caller) and hands the endpoint the caller as `request.state.user`; `public`
only records why anyone may call the route. `tests/security/test_permissions.py` enumerates
`build_api()` and fails for a route that declares neither.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from smplat.db import session_scope
from smplat.services import accounts, permissions, two_factor
from smplat.services.errors import ErrorCode, ServiceError, http_status
from smplat.services.permissions import Permission
from smplat.settings import get_settings

# Same marker name as the event-handler guard, so one test reads both.
PERMISSION_MARKER = "__smplat_permission__"
PUBLIC_REASON_MARKER = "__smplat_public_reason__"
PUBLIC = "public"

Endpoint = Callable[[Request], Response | Awaitable[Response]]


@dataclass(frozen=True)
class ApiUser:
    """The caller of a protected route (plain values, no ORM object)."""

    id: int
    email: str
    role: str
    # required to enrol two-factor sign-in and not enrolled: only "signed_in" routes answer
    must_enrol_two_factor: bool = False


def _caller(request: Request) -> ApiUser | None:
    token = request.cookies.get(get_settings().session_cookie_name)
    if not token:
        return None
    with session_scope() as db:
        user = accounts.resolve_session(db, token)
        if user is None:
            return None
        return ApiUser(user.id, user.email, user.role, two_factor.must_enrol(user.role, user.two_factor_enabled_at))


def _record_refusal(request: Request, user: ApiUser, requirement: Permission) -> None:
    from smplat.services import audit

    actor = audit.Actor.staff(user.id, user.email, user.role, request.client.host if request.client else "")
    route = f"{request.method} {request.url.path}"
    audit.record_refusal(
        actor,
        requirement,
        action=route,
        target_type="api",
        target_id=route,
        message=permissions.refusal_message(requirement),
    )


def _refuse(error: ServiceError) -> JSONResponse:
    return JSONResponse(error.as_json(), status_code=http_status(error))


def protected(requirement: str | Permission) -> Callable[[Endpoint], Endpoint]:
    """Guard a Starlette endpoint: "signed_in" or a Permission from the role table.

    A visitor gets 401, a signed-in user without the permission 403, before the endpoint
    reads the body or touches the database."""
    if requirement != "signed_in" and not isinstance(requirement, Permission):
        raise ValueError(f"unknown requirement {requirement!r}; use 'signed_in' or a Permission")

    def decorate(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def guarded(request: Request) -> Response:
            user = await run_in_threadpool(_caller, request)
            if user is None:
                return _refuse(ServiceError("sign in first", code=ErrorCode.UNAUTHENTICATED))
            if requirement != "signed_in" and not permissions.has_permission(user.role, requirement):
                if accounts.is_staff(user.role):  # a refused staff member is in the audit log
                    await run_in_threadpool(_record_refusal, request, user, requirement)
                return _refuse(permissions.PermissionDenied(permissions.refusal_message(requirement)))
            if requirement != "signed_in" and user.must_enrol_two_factor:
                return _refuse(permissions.PermissionDenied("Set up two-factor sign-in first (My account → Security)."))
            request.state.user = user
            if inspect.iscoroutinefunction(endpoint):
                return await endpoint(request)
            return await run_in_threadpool(endpoint, request)

        setattr(guarded, PERMISSION_MARKER, requirement)
        return guarded

    return decorate


def public(reason: str) -> Callable[[Endpoint], Endpoint]:
    """Mark an endpoint anyone may call, with the reason (checked by the permission test)."""
    if not reason.strip():
        raise ValueError("a public route needs its reason")

    def decorate(endpoint: Endpoint) -> Endpoint:
        setattr(endpoint, PERMISSION_MARKER, PUBLIC)
        setattr(endpoint, PUBLIC_REASON_MARKER, reason)
        return endpoint

    return decorate
