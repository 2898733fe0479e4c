"""Roles and permissions in one table: who may do what, asked by pages, handlers, API routes and jobs.

Every guarded page, event handler and API route names one `Permission`; `ROLE_PERMISSIONS`
is the only place that says which role holds it. Operators run orders, fulfilment, catalog
and content; admins also change provider connections (base URL, API key, imports), staff
accounts and roles, and refund above the operator limit (`operator_refund_limit_minor`).
"""

from __future__ import annotations

from enum import StrEnum

from smplat.models.accounts import Role
from smplat.services.errors import ErrorCode, ServiceError
from smplat.settings import get_settings


class Permission(StrEnum):
    # a customer's own things
    PLACE_ORDERS = "place_orders"
    VIEW_OWN_ORDERS = "view_own_orders"
    REQUEST_REFILLS = "request_refills"
    CANCEL_OWN_ORDERS = "cancel_own_orders"
    # the admin area (operators and admins)
    VIEW_ADMIN = "view_admin"
    VIEW_ANALYTICS = "view_analytics"
    VIEW_ORDERS = "view_orders"
    ACT_ON_ORDERS = "act_on_orders"
    REFUND = "refund"
    EDIT_CATALOG = "edit_catalog"
    EDIT_CONTENT = "edit_content"
    MANAGE_EXPERIMENTS = "manage_experiments"
    VIEW_CUSTOMERS = "view_customers"
    VIEW_PROVIDERS = "view_providers"
    SYNC_PROVIDERS = "sync_providers"
    VIEW_JOBS = "view_jobs"
    RUN_JOBS = "run_jobs"
    # admins only
    MANAGE_PROVIDERS = "manage_providers"
    MANAGE_STAFF = "manage_staff"
    VIEW_AUDIT_LOG = "view_audit_log"
    REFUND_ABOVE_LIMIT = "refund_above_limit"
    MANAGE_RESELLERS = "manage_resellers"


# What each permission lets someone do, in the words a refusal uses ("Only an admin can …").
DESCRIPTIONS: dict[Permission, str] = {
    Permission.PLACE_ORDERS: "place orders",
    Permission.VIEW_OWN_ORDERS: "see their own orders",
    Permission.REQUEST_REFILLS: "ask for a refill of their own order",
    Permission.CANCEL_OWN_ORDERS: "ask to cancel their own order at the supplier",
    Permission.VIEW_ADMIN: "open the admin area",
    Permission.VIEW_ANALYTICS: "see the dashboard, sales and search analytics",
    Permission.VIEW_ORDERS: "see all orders",
    Permission.ACT_ON_ORDERS: "act on orders and fulfilment (refill, replay, dead letters, payment links)",
    Permission.REFUND: "refund an order up to the operator refund limit",
    Permission.EDIT_CATALOG: "edit the catalog and product routing",
    Permission.EDIT_CONTENT: "edit storefront content",
    Permission.MANAGE_EXPERIMENTS: "start and stop price experiments",
    Permission.VIEW_CUSTOMERS: "see customer accounts",
    Permission.VIEW_PROVIDERS: "see providers, their health and services",
    Permission.SYNC_PROVIDERS: "re-sync a provider's services and check its health now",
    Permission.VIEW_JOBS: "see background jobs and their runs",
    Permission.RUN_JOBS: "run a background job now",
    Permission.MANAGE_PROVIDERS: "create a provider, change its base URL, API key or dialect, or import its services",
    Permission.MANAGE_STAFF: "manage staff accounts and roles",
    Permission.VIEW_AUDIT_LOG: "see and export the audit log",
    Permission.REFUND_ABOVE_LIMIT: "refund above the operator refund limit",
    Permission.MANAGE_RESELLERS: "make a customer a reseller, adjust a reseller wallet or set reseller prices",
}

_CUSTOMER = frozenset(
    {Permission.PLACE_ORDERS, Permission.VIEW_OWN_ORDERS, Permission.REQUEST_REFILLS, Permission.CANCEL_OWN_ORDERS}
)
_OPERATOR = _CUSTOMER | frozenset(
    {
        Permission.VIEW_ADMIN,
        Permission.VIEW_ANALYTICS,
        Permission.VIEW_ORDERS,
        Permission.ACT_ON_ORDERS,
        Permission.REFUND,
        Permission.EDIT_CATALOG,
        Permission.EDIT_CONTENT,
        Permission.MANAGE_EXPERIMENTS,
        Permission.VIEW_CUSTOMERS,
        Permission.VIEW_PROVIDERS,
        Permission.SYNC_PROVIDERS,
        Permission.VIEW_JOBS,
        Permission.RUN_JOBS,
    }
)
_ADMIN = frozenset(Permission)

# The table: the one place that says which role may do what.
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.CUSTOMER: _CUSTOMER,
    Role.OPERATOR: _OPERATOR,
    Role.ADMIN: _ADMIN,
}


class PermissionDenied(ServiceError):
    default_code = ErrorCode.FORBIDDEN


def _role(role: Role | str | None) -> Role | None:
    try:
        return Role(role) if role else None
    except ValueError:
        return None


def has_permission(role: Role | str | None, permission: Permission | str) -> bool:
    """Whether a role holds a permission; an unknown or empty role holds none."""
    known = _role(role)
    return known is not None and Permission(permission) in ROLE_PERMISSIONS[known]


def require_permission(role: Role | str | None, permission: Permission | str) -> None:
    """Raise `PermissionDenied` (code FORBIDDEN) unless the role holds the permission."""
    if not has_permission(role, permission):
        raise PermissionDenied(refusal_message(permission))


def least_role_with(permission: Permission | str) -> Role:
    """The lowest role (customer < operator < admin) that holds a permission."""
    for role in (Role.CUSTOMER, Role.OPERATOR, Role.ADMIN):
        if Permission(permission) in ROLE_PERMISSIONS[role]:
            return role
    raise ValueError(f"no role holds {permission!r}")  # pragma: no cover - the admin holds all


def refusal_message(permission: Permission | str) -> str:
    """What a refused staff member is told: who may do it instead."""
    who = {Role.CUSTOMER: "a signed-in customer", Role.OPERATOR: "SMPLAT staff", Role.ADMIN: "an admin"}[
        least_role_with(permission)
    ]
    return f"Only {who} can {DESCRIPTIONS[Permission(permission)]}."


def refund_limit_minor(currency: str) -> int:
    """The largest refund an operator may issue, in minor units of the refund's currency."""
    return get_settings().operator_refund_limit_minor


def can_refund(role: Role | str | None, amount_minor: int, currency: str) -> bool:
    """Operators refund up to `operator_refund_limit_minor`; above it only an admin may."""
    if not has_permission(role, Permission.REFUND):
        return False
    return amount_minor <= refund_limit_minor(currency) or has_permission(role, Permission.REFUND_ABOVE_LIMIT)


def require_refund(role: Role | str | None, amount_minor: int, currency: str) -> None:
    """Raise `PermissionDenied` unless `can_refund`."""
    if not can_refund(role, amount_minor, currency):
        permission = Permission.REFUND if not has_permission(role, Permission.REFUND) else Permission.REFUND_ABOVE_LIMIT
        raise PermissionDenied(refusal_message(permission))
