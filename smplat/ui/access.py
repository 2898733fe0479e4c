"""What each event handler needs, in one place to read: its `requires(...)` marker, or a reason it is public.

Every handler on every state under `smplat.ui` either carries `@requires("signed_in")` /
`@requires(Permission.X)` (the marker `__smplat_permission__`) or is listed here with the
reason anyone may call it. `tests/security/test_permissions.py` enumerates every state of the
app and fails for a handler that is neither, so a new handler cannot be left unguarded.
"""

from __future__ import annotations

from typing import Any

from smplat.services.permissions import Permission
from smplat.ui.state.auth import PERMISSION_MARKER

PUBLIC = "public"

_GUEST_SHOP = "the storefront works for guests; it touches only the caller's own cart (cookie or session)"
_PAGE_DATA = "loads public storefront data for anyone"
_SEARCH = "changes the catalog's own search, filter or sort (display only)"
_CONFIGURE = "changes the product configurator's display values; prices are computed by the service"
_OWN_SESSION = "checks the session itself: a guest is told to sign in, a user sees only their own rows"
_LIVE_TICK = (
    "a live page's heartbeat: compares a version over the ids its guarded loader stored server-side "
    "and only then sends the guarded reload; it shows nothing itself"
)
_ADMIN_LIVE_TICK = (
    "an admin page's heartbeat (ui/state/live.py): silent unless the page's guarded loader armed it; "
    "compares one version statement and only then sends live_reload, guarded by the page's permission"
)
_TRACKING = "shows one order, read-only, only for a valid signed tracking link in the URL (the link is the proof)"
_SIGNIN = "the sign-in/sign-up/reset forms are for visitors; throttled and validated in services.accounts"

# "State.handler" -> why anyone may call it.
PUBLIC_HANDLERS: dict[str, str] = {
    "AuthState.load_user": "resolves who is signed in (or nobody) for the header",
    "AuthState.require_signed_in": "a page guard: it is the check itself",
    "AuthState.require_staff": "a page guard: it is the check itself",
    "AuthState.require_admin": "a page guard: it is the check itself",
    "AuthState.sign_out": "ends the caller's own session (the cookie is cleared by the API route)",
    "AuthFormState.open_form": _SIGNIN,
    "AuthFormState.sign_in": _SIGNIN,
    "AuthFormState.verify_code": "the second sign-in step: only for the user whose password this tab just checked",
    "AuthFormState.restart_sign_in": _SIGNIN,
    "AuthFormState.sign_up": _SIGNIN,
    "AuthFormState.request_reset": _SIGNIN,
    "AuthFormState.reset_password": _SIGNIN,
    "BundlesState.load_bundles": _PAGE_DATA,
    "BundlesState.add_bundle": _GUEST_SHOP,
    "ConfirmEmailState.open_confirm": "shows the email-change confirmation button (nothing changes)",
    "ConfirmEmailState.confirm": "the one-time link's token is the proof (services.account_settings); signed-out works",
    "ConsentState.choose": "the visitor's own cookie-consent choice",
    "ConsentState.reopen": "the visitor's own cookie-consent choice",
    "HomeState.load_home": _PAGE_DATA,
    "LegalState.load_legal": _PAGE_DATA,
    "ServicesState.load_services": _PAGE_DATA,
    "ServicesState.submit_search": _SEARCH,
    "ServicesState.choose_category": _SEARCH,
    "ServicesState.choose_sort": _SEARCH,
    "ServicesState.clear_search": _SEARCH,
    "CartState.load_cart": _GUEST_SHOP,
    "CartState.change_quantity": _GUEST_SHOP,
    "CartState.remove": _GUEST_SHOP,
    "CartState.start_checkout": "guest checkout: the caller's own cart, priced by services.checkout",
    "CheckoutResultState.load_success": "confirms the Stripe session named in the URL with Stripe itself",
    "CheckoutResultState.load_cancel": _PAGE_DATA,
    "ProductState.load_product": _PAGE_DATA,
    "ProductState.choose_option": _CONFIGURE,
    "ProductState.toggle_add_on": _CONFIGURE,
    "ProductState.choose_plan": _CONFIGURE,
    "ProductState.set_field": _CONFIGURE,
    "ProductState.set_quantity": _CONFIGURE,
    "ProductState.apply_preset": _CONFIGURE,
    "ProductState.clear_preset": _CONFIGURE,
    "ProductState.add_to_cart": _GUEST_SHOP,
    "ProductState.save_configuration": _OWN_SESSION,
    "ProductState.apply_saved": _OWN_SESSION,
    "ProductState.delete_saved": _OWN_SESSION,
    "AccountState.live_tick": _LIVE_TICK,
    "ClientOrderState.live_tick": _LIVE_TICK,
    "OrderQueueState.live_tick": _ADMIN_LIVE_TICK,
    "AdminHomeState.live_tick": _ADMIN_LIVE_TICK,
    "AnalyticsState.live_tick": _ADMIN_LIVE_TICK,
    "OrderDetailState.live_tick": _ADMIN_LIVE_TICK,
    "JobsState.live_tick": _ADMIN_LIVE_TICK,
    "SalesState.live_tick": _ADMIN_LIVE_TICK,
    "FulfilmentState.live_tick": _ADMIN_LIVE_TICK,
    "SearchInsightsState.live_tick": _ADMIN_LIVE_TICK,
    "MerchandisingState.live_tick": _ADMIN_LIVE_TICK,
    "DeadLettersState.live_tick": _ADMIN_LIVE_TICK,
    "AdminInvoicesState.live_tick": _ADMIN_LIVE_TICK,
    "CustomersState.live_tick": _ADMIN_LIVE_TICK,
    "CustomerState.live_tick": _ADMIN_LIVE_TICK,
    "TrackOrderState.load": _TRACKING,
    "TrackOrderState.live_tick": _LIVE_TICK,
    "TrackOrderState.live_reload": _TRACKING,
    "VerifyEmailState.verify": "redeems the one-time verification link in the URL (the token is the proof)",
}

# Handlers Reflex adds to every state: they set a field of the caller's own page state, which
# no guarded handler trusts (each re-resolves the session and re-reads the database).
BUILTIN_HANDLERS: dict[str, str] = {
    "setvar": "Reflex's own setter of the caller's page state; guarded handlers trust no state field",
}


def declared_permission(state_cls: Any, name: str) -> str | Permission | None:
    """The handler's requirement ("signed_in" or a Permission), `PUBLIC`, or None when undeclared."""
    handler = state_cls.event_handlers[name]
    marker = getattr(handler.fn, PERMISSION_MARKER, None)
    if marker is not None:
        return marker
    if name in BUILTIN_HANDLERS or f"{state_cls.__name__}.{name}" in PUBLIC_HANDLERS:
        return PUBLIC
    return None
