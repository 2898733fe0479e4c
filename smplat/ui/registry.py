"""Every page in one place: route, title, guard, loaders and its navigation entry.

A page module declares itself with one decorator beside its component::

    @page(route=routes.ADMIN_PROVIDERS, title="Providers", guard=Permission.VIEW_PROVIDERS,
          on_load=[ProvidersState.load],
          nav=NavEntry(group="Operations", label="Providers", icon="server", order=10))
    def admin_providers_page() -> rx.Component: ...

`smplat/smplat.py` adds every registered page to the app (`discover()` imports the
`smplat.ui.pages` package so the decorators run), and the account and admin side
navigation are built from the registered `NavEntry`s, so a new page is one module and
one registration. The guard decides the first `on_load` event (the server-side check
of the session cookie) and the area the navigation entry belongs to:

- ``public``: anyone; the page's loaders run as given.
- ``signed_in``: `AuthState.require_signed_in` first (visitors go to sign-in); account area.
- a `Permission` (from `smplat.services.permissions`, the role table): an admin page that
  needs it; ``guard="staff"`` means `Permission.VIEW_ADMIN`. The first event is
  `AuthState.require_staff` when operators hold the permission, `AuthState.require_admin`
  when only admins do (visitors go to sign-in, customers away); admin area.

Page guards only hide UI: every loader and handler still checks on the server with
`@requires(...)` naming the same permission (`@requires("signed_in")` for account pages);
`tests/security/test_permissions.py` enumerates every page, handler and API route.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import reflex as rx

from smplat.models.accounts import Role
from smplat.services.permissions import Permission, least_role_with
from smplat.settings import get_settings
from smplat.ui.state.auth import AuthState

Guard = Literal["public", "signed_in", "staff"] | Permission
GUARDS: tuple[str, ...] = ("public", "signed_in", "staff")
PAGE_PACKAGE = "smplat.ui.pages"

# The admin side navigation, top to bottom; a group without pages is not shown.
ADMIN_GROUPS: tuple[str, ...] = ("Sales", "Catalog", "Operations", "Settings")
AREA_OF_GUARD = {"public": "storefront", "signed_in": "account", "staff": "admin"}


@dataclass(frozen=True)
class NavEntry:
    """A link in the account or admin side navigation (the area follows from the guard)."""

    label: str
    icon: str
    group: str = ""
    order: int = 0
    reseller_only: bool = False  # account area: shown to reseller accounts only (AuthState.is_reseller)


@dataclass(frozen=True)
class PageSpec:
    route: str
    title: str
    component: Callable[[], rx.Component]
    guard: str
    on_load: tuple[Any, ...]
    nav: NavEntry | None = None
    description: str | None = None
    module: str = ""
    # the permission a staff page needs (None for public and account pages)
    permission: Permission | None = None
    # per-visit head tags from the page's state: {"title": Var, "description": Var, "image": Var}
    # (the product page: SEO title, meta description, og:image); `title` stays the static name
    head: Mapping[str, Any] | None = None

    @property
    def area(self) -> str:
        return AREA_OF_GUARD[self.guard]

    def full_title(self, brand: str | None = None) -> str:
        """`{brand}` in the title places the brand; otherwise "Title · Admin · Brand"."""
        brand = brand or get_settings().brand_name
        if "{brand}" in self.title:
            return self.title.format(brand=brand)
        return f"{self.title} · Admin · {brand}" if self.area == "admin" else f"{self.title} · {brand}"

    def guard_event(self) -> Any | None:
        if self.guard == "staff" and self.permission is not None and least_role_with(self.permission) == Role.ADMIN:
            return AuthState.require_admin
        return {"public": None, "signed_in": AuthState.require_signed_in, "staff": AuthState.require_staff}[self.guard]

    def events(self) -> list[Any]:
        """The page's on_load: the guard's server-side check first, then its loaders."""
        first = self.guard_event()
        return [*([first] if first is not None else []), *self.on_load]


_PAGES: dict[str, PageSpec] = {}


def register(
    component: Callable[[], rx.Component],
    *,
    route: str,
    title: str,
    guard: Guard = "public",
    on_load: Any | Sequence[Any] = (),
    nav: NavEntry | None = None,
    description: str | None = None,
    head: Mapping[str, Any] | None = None,
) -> PageSpec:
    """Register one route (a component may serve several routes, e.g. the legal pages)."""
    permission: Permission | None = None
    if isinstance(guard, Permission):
        if least_role_with(guard) == Role.CUSTOMER:
            raise ValueError(f"{route}: {guard.name} is a customer's permission; use guard='signed_in'")
        guard, permission = "staff", guard
    elif guard == "staff":
        permission = Permission.VIEW_ADMIN
    if guard not in GUARDS:
        raise ValueError(f"unknown guard {guard!r} for {route}; use one of {', '.join(GUARDS)}")
    if nav is not None and guard == "public":
        raise ValueError(f"{route}: only account (signed_in) and admin (staff) pages have a side navigation entry")
    if nav is not None and guard == "staff" and nav.group not in ADMIN_GROUPS:
        raise ValueError(f"{route}: admin navigation group {nav.group!r} is not one of {', '.join(ADMIN_GROUPS)}")
    if nav is not None and guard == "signed_in" and nav.group:
        raise ValueError(f"{route}: the account navigation has no groups")
    loaders = tuple(on_load) if isinstance(on_load, list | tuple) else (on_load,)
    spec = PageSpec(
        route=route,
        title=title,
        component=component,
        guard=guard,
        on_load=loaders,
        nav=nav,
        description=description,
        module=getattr(component, "__module__", ""),
        permission=permission,
        head=head,
    )
    existing = _PAGES.get(route)
    if existing is not None and existing.module != spec.module:
        raise ValueError(f"route {route} is registered twice ({existing.module} and {spec.module})")
    _PAGES[route] = spec
    return spec


def page(
    *,
    route: str,
    title: str,
    guard: Guard = "public",
    on_load: Any | Sequence[Any] = (),
    nav: NavEntry | None = None,
    description: str | None = None,
    head: Mapping[str, Any] | None = None,
) -> Callable[[Callable[[], rx.Component]], Callable[[], rx.Component]]:
    """Decorator form of `register`: returns the component unchanged."""

    def decorate(component: Callable[[], rx.Component]) -> Callable[[], rx.Component]:
        register(
            component,
            route=route,
            title=title,
            guard=guard,
            on_load=on_load,
            nav=nav,
            description=description,
            head=head,
        )
        return component

    return decorate


def discover(package: str = PAGE_PACKAGE) -> list[PageSpec]:
    """Import every module under the pages package (so registrations run); all pages, by route."""
    root = importlib.import_module(package)
    for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
        importlib.import_module(info.name)
    return registered()


def registered() -> list[PageSpec]:
    return sorted(_PAGES.values(), key=lambda spec: spec.route)


def add_pages(app: rx.App, specs: Iterable[PageSpec] | None = None) -> None:
    for spec in discover() if specs is None else specs:
        kwargs: dict[str, Any] = {"route": spec.route, "title": spec.full_title()}
        if spec.description:
            kwargs["description"] = spec.description
        if spec.head:
            # state vars: the browser's title and meta tags follow what the page loaded
            kwargs.update({k: v for k, v in spec.head.items() if k in ("title", "description", "image")})
        events = spec.events()
        if events:
            kwargs["on_load"] = events
        app.add_page(spec.component, **kwargs)


@dataclass(frozen=True)
class NavLink:
    label: str
    href: str
    icon: str
    admin_only: bool = False  # only admins hold the page's permission: shown to admins only
    reseller_only: bool = False  # shown to reseller accounts only


def _admin_only(spec: PageSpec) -> bool:
    return spec.permission is not None and least_role_with(spec.permission) == Role.ADMIN


def nav_groups(area: str) -> list[tuple[str, list[NavLink]]]:
    """The side navigation of an area ("account" or "admin"): (group heading, links) in order.

    Groups without a page are left out, so an empty group never shows a heading."""
    specs = [s for s in discover() if s.nav is not None and s.area == area]
    groups = ADMIN_GROUPS if area == "admin" else ("",)
    out: list[tuple[str, list[NavLink]]] = []
    for group in groups:
        members = sorted((s for s in specs if s.nav.group == group), key=lambda s: (s.nav.order, s.nav.label))
        if members:
            out.append(
                (
                    group,
                    [NavLink(s.nav.label, s.route, s.nav.icon, _admin_only(s), s.nav.reseller_only) for s in members],
                )
            )
    return out
