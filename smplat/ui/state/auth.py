"""The signed-in user as the pages see it, and the server-side checks every guarded handler runs.

The session cookie is HttpOnly, so state reads it from the request headers of the
page's websocket connection; every protected handler resolves it again against the
database instead of trusting a variable the page holds.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
from collections.abc import Callable
from http.cookies import CookieError, SimpleCookie
from typing import Any, Literal
from urllib.parse import quote

import reflex as rx

from smplat.db import session_scope
from smplat.services import accounts, permissions, two_factor
from smplat.services.permissions import Permission
from smplat.settings import get_settings
from smplat.ui import routes


class CurrentUser:
    """A detached view of the signed-in user (plain values, no ORM object)."""

    __slots__ = ("email", "full_name", "id", "must_enrol_two_factor", "role")

    def __init__(self, id: int, email: str, full_name: str, role: str, must_enrol_two_factor: bool = False) -> None:
        self.id = id
        self.email = email
        self.full_name = full_name
        self.role = role
        # two-factor is required for the role and not set up: only the account pages answer
        self.must_enrol_two_factor = must_enrol_two_factor

    @property
    def is_staff(self) -> bool:
        return accounts.is_staff(self.role)


STAFF_ONLY_MESSAGE = "That area is for SMPLAT staff only."


def navigate_hard(path: str) -> rx.event.EventSpec:
    """A full page load (not client-side routing), so HTTP routes and fresh cookies apply."""
    return rx.call_script(f"window.location.assign({json.dumps(path)})")


def signin_redirect(next_path: str) -> rx.event.EventSpec:
    return rx.redirect(f"{routes.SIGN_IN}?next={quote(next_path, safe='/')}", replace=True)


def _tab_state_classes(cls: type[rx.State] = rx.State) -> list[type[rx.State]]:
    """Every state class below `cls`, parents before children, shared states left out.

    Shared states hold data common to many tabs; a sign-out must not wipe them for everyone.
    """
    from reflex.istate.shared import SharedStateBaseInternal

    found: list[type[rx.State]] = []
    for sub in sorted(cls.get_substates(), key=lambda c: c.get_full_name()):
        if issubclass(sub, SharedStateBaseInternal):
            continue
        found.append(sub)
        found.extend(_tab_state_classes(sub))
    return found


async def reset_tab_state(state: rx.State, *, keep_visitor: bool = False) -> None:
    """Put EVERY state of this browser tab back to its defaults (sign-out, another user signs in).

    A tab keeps one state tree for as long as it lives, across sign-outs and full page
    loads; whatever the previous user's pages loaded (admin lists, payment links, counters)
    would otherwise be sent to the next one. Each substate is loaded first (with Redis,
    substates the tab has not used yet live only there), then the root's children are reset,
    which resets their descendants. The root's own framework vars (hydration) are kept.

    `keep_visitor` (signing in) keeps the browser's own cookies: the guest cart token, so the
    sign-in route can move the guest's cart into the account, and the cookie-banner choice of
    the person at the keyboard. Signing out drops them too.
    """
    root = state._get_root_state()
    classes = _tab_state_classes()
    for cls in classes:
        await root.get_state(cls)
    # the browser's cookies, by state: ShopperState (cart, consent) and ConsentState (consent)
    visitor = {
        cls: {name: getattr(await root.get_state(cls), name) for name in _VISITOR_COOKIES[cls.__name__]}
        for cls in classes
        if cls.__name__ in _VISITOR_COOKIES
    }
    _reset_loaded_tab_state(root)
    if keep_visitor:
        for cls, values in visitor.items():
            substate = await root.get_state(cls)
            for name, value in values.items():
                setattr(substate, name, value)


# Cookie vars that belong to the browser, not to the signed-in user (kept at sign-in).
_VISITOR_COOKIES = {"ShopperState": ("cart_token", "consent_choice"), "ConsentState": ("choice",)}


def _reset_loaded_tab_state(root: rx.State) -> None:
    """Reset every substate the tree holds in memory (all of them with the memory manager)."""
    tab_level = {cls.get_name() for cls in _tab_state_classes() if cls.get_parent_state() is rx.State}
    for name, substate in root.substates.items():
        if name in tab_level:
            substate.reset()  # recursive: every descendant too


class AuthState(rx.State):
    """Display values of the signed-in user; empty when signed out."""

    user_id: int = 0
    user_email: str = ""
    user_name: str = ""
    user_role: str = ""
    # False until a loader (load_user, require_*, a guarded handler) has resolved the cookie:
    # the header stays neutral until then instead of showing "Sign in" to a signed-in user.
    session_known: bool = False
    # the signed-in user has an enabled reseller account (shows Reseller in the account nav);
    # refreshed by the account area's guard and the Reseller page
    is_reseller: bool = False
    # the UTC day this tab was last counted as a storefront visit (anonymous daily counter)
    _visit_day: str = ""

    def _note_visit(self, db: Any, product_view: bool = False) -> None:
        """Count this tab once a day as a visit, and a product page load as a product view
        (anonymous daily counters for Admin → Analytics' funnel; no visitor id is stored)."""
        from smplat.services import analytics

        today = analytics.utcnow().date().isoformat()
        names = [analytics.PRODUCT_VIEWS] if product_view else []
        if self._visit_day != today:
            self._visit_day = today
            names.append(analytics.VISITS)
        analytics.record_daily(db, *names)  # one statement, or none

    @rx.var
    def signed_in(self) -> bool:
        return self.user_id > 0

    @rx.var
    def is_staff(self) -> bool:
        return accounts.is_staff(self.user_role)

    @rx.var
    def is_admin(self) -> bool:
        return accounts.is_admin(self.user_role)

    @rx.var
    def display_name(self) -> str:
        return self.user_name or self.user_email.split("@")[0]

    @rx.var
    def initials(self) -> str:
        source = self.user_name or self.user_email
        parts = [p for p in source.replace("@", " ").replace(".", " ").split() if p]
        return "".join(p[0] for p in parts[:2]).upper() or "?"

    # --- server-side helpers (not events) --------------------------------------

    def _session_token(self) -> str | None:
        raw = self.router.headers.raw_headers.get("cookie", "")
        if not raw:
            return None
        jar = SimpleCookie()
        try:
            jar.load(raw)
        except CookieError:
            return None
        morsel = jar.get(get_settings().session_cookie_name)
        return morsel.value if morsel else None

    def _current_user(self) -> CurrentUser | None:
        token = self._session_token()
        if not token:
            return None
        with session_scope() as db:
            user = accounts.resolve_session(db, token)
            if user is None:
                return None
            return CurrentUser(
                user.id,
                user.email,
                user.full_name,
                user.role,
                two_factor.must_enrol(user.role, user.two_factor_enabled_at),
            )

    def _apply(self, user: CurrentUser | None) -> None:
        if self.user_id and (user is None or user.id != self.user_id):
            # The cookie now names someone else, or nobody (signed out or in from another tab,
            # session expired or idle): nothing of the previous user may stay in this tab.
            _reset_loaded_tab_state(self._get_root_state())
        self.user_id = user.id if user else 0
        self.user_email = user.email if user else ""
        self.user_name = user.full_name if user else ""
        self.user_role = user.role if user else ""
        if user is None:
            self.is_reseller = False
        self.session_known = True

    def _current_path(self) -> str:
        return self.router.url.path or "/"

    def _client_ip(self) -> str:
        """The visitor's IP as the websocket sees it (see docs/security.md on proxies): the key
        of the per-IP rate limits and the audit log."""
        return client_ip(self)

    # --- events --------------------------------------------------------------------

    @rx.event
    def load_user(self) -> None:
        """on_load of every page: refresh who is signed in (or nobody)."""
        self._apply(self._current_user())

    @rx.event
    def require_signed_in(self):
        user = self._current_user()
        self._apply(user)
        if user is None:
            return signin_redirect(self._current_path())
        from smplat.services import resellers

        with session_scope() as db:
            self.is_reseller = resellers.is_reseller(db, user.id)

    @rx.event
    def require_staff(self):
        user = self._current_user()
        self._apply(user)
        if user is None:
            return signin_redirect(self._current_path())
        if not user.is_staff:
            # The page's staff-only loader says why; this only moves the visitor somewhere useful.
            return rx.redirect(routes.ACCOUNT, replace=True)
        if user.must_enrol_two_factor:
            return rx.redirect(routes.ACCOUNT_SECURITY, replace=True)

    @rx.event
    def require_admin(self):
        """The guard of a page whose permission only admins hold (the registry picks it)."""
        user = self._current_user()
        self._apply(user)
        if user is None:
            return signin_redirect(self._current_path())
        if not accounts.is_admin(user.role):
            return rx.redirect(routes.ADMIN if user.is_staff else routes.ACCOUNT, replace=True)
        if user.must_enrol_two_factor:
            return rx.redirect(routes.ACCOUNT_SECURITY, replace=True)

    @rx.event
    async def sign_out(self):
        """End the session and reset every state of this tab, so the next user gets none of it."""
        token = self._session_token()
        if token:
            # Ended here too, not only by the route the script calls: the server decides.
            with session_scope() as db:
                accounts.revoke_session(db, token)
        await reset_tab_state(self)
        self._apply(None)
        return rx.call_script(
            f"fetch({json.dumps(routes.API_SIGNOUT)}, {{method: 'POST', credentials: 'same-origin'}})"
            ".finally(() => window.location.assign('/'))"
        )


# --- server-side guards for event handlers --------------------------------------------

# A handler needs either a signed-in user of any role ("signed_in": the customer's own things)
# or a named permission from the role table in `smplat.services.permissions`.
Requirement = Literal["signed_in", "staff"] | Permission
# The attribute `requires` sets on the guarded function, read by the permission tests.
PERMISSION_MARKER = "__smplat_permission__"


def _as_requirement(requirement: Any) -> str | Permission:
    if requirement == "signed_in":
        return "signed_in"
    if requirement == "staff":  # the admin area as a whole
        return Permission.VIEW_ADMIN
    if isinstance(requirement, Permission):
        return requirement
    raise ValueError(f"unknown requirement {requirement!r}; use 'signed_in' or a Permission")


def _refusal(state: AuthState, user: CurrentUser | None, requirement: str | Permission) -> Any | None:
    """What the browser gets instead of the handler's work, or None when the user may go on."""
    if user is None:
        return signin_redirect(state._current_path())
    if requirement == "signed_in":
        return None
    if permissions.has_permission(user.role, requirement):
        # Staff who must set up two-factor first reach nothing else (the server refuses, too).
        return rx.redirect(routes.ACCOUNT_SECURITY, replace=True) if user.must_enrol_two_factor else None
    if not user.is_staff:
        return rx.toast.error(STAFF_ONLY_MESSAGE)
    return rx.toast.error(permissions.refusal_message(requirement))


def client_ip(state: rx.State) -> str:
    """The IP of the browser behind this event (as sign-in reads it), for the audit log."""
    return state.router.session.client_ip or ""


def _record_refusal(state: AuthState, user: CurrentUser | None, requirement: str | Permission, name: str) -> None:
    """A staff member refused by a handler's guard: an audit row in its own transaction
    (customers and visitors are not staff; their refusals are not logged)."""
    if user is None or not user.is_staff or not isinstance(requirement, Permission):
        return
    from smplat.services import audit

    actor = audit.Actor.staff(user.id, user.email, user.role, client_ip(state))
    audit.record_refusal(
        actor,
        requirement,
        action=name,
        target_type="handler",
        target_id=name,
        message=permissions.refusal_message(requirement),
    )


def requires(requirement: Requirement) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Guard an event handler on the server: re-resolve the session cookie, check the permission.

    ``requires("signed_in")`` for a customer's own things, ``requires(Permission.X)`` for
    everything staff do (``"staff"`` is ``Permission.VIEW_ADMIN``). The guarded function
    carries its requirement as ``__smplat_permission__`` so tests can enumerate every handler.

    Works for plain handlers and for background ones (``@rx.event(background=True)`` above
    ``@requires("staff")``): a background handler resolves the user before doing any work,
    outside the state lock, then applies it inside ``async with self``; a refused call
    changes nothing and returns the refusal (sign-in redirect, a staff-only toast for a
    customer, or "Only an admin can …" for an operator)."""
    requirement = _as_requirement(requirement)

    def decorate(handler: Callable[..., Any]) -> Callable[..., Any]:
        guarded = _guard(handler, requirement)
        setattr(guarded, PERMISSION_MARKER, requirement)
        return guarded

    return decorate


def _guard(handler: Callable[..., Any], requirement: str | Permission) -> Callable[..., Any]:
    """The wrapper that resolves the user and refuses before the handler runs (a refused
    staff member is recorded in the audit log)."""
    name = handler.__qualname__
    if inspect.isasyncgenfunction(handler):

        @functools.wraps(handler)
        async def guarded_stream(self: AuthState, *args: Any, **kwargs: Any):
            user = await asyncio.to_thread(self._current_user)
            async with self:
                self._apply(user)
            refusal = _refusal(self, user, requirement)
            if refusal is not None:
                await asyncio.to_thread(_record_refusal, self, user, requirement, name)
                yield refusal
                return
            async for update in handler(self, *args, **kwargs):
                yield update

        return guarded_stream

    if inspect.iscoroutinefunction(handler):

        @functools.wraps(handler)
        async def guarded_async(self: AuthState, *args: Any, **kwargs: Any):
            user = await asyncio.to_thread(self._current_user)
            async with self:
                self._apply(user)
            refusal = _refusal(self, user, requirement)
            if refusal is not None:
                await asyncio.to_thread(_record_refusal, self, user, requirement, name)
                return refusal
            return await handler(self, *args, **kwargs)

        return guarded_async

    @functools.wraps(handler)
    def guarded(self: AuthState, *args: Any, **kwargs: Any):
        user = self._current_user()
        self._apply(user)
        refusal = _refusal(self, user, requirement)
        if refusal is not None:
            _record_refusal(self, user, requirement, name)
            return refusal
        return handler(self, *args, **kwargs)

    return guarded


# Shorthands; `requires(...)` is the general form and a staff handler names its permission.
staff_only = requires(Permission.VIEW_ADMIN)
signed_in_only = requires("signed_in")
