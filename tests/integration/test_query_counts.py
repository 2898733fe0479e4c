"""Every page loader and every handler that reads the database, called the way the websocket
calls it, against the seeded demo shop with real orders (paid through checkout's placement
function, sent to the panel sandbox, one dead-lettered): each sends an exact number of SQL
statements (counted with the shared `count_queries`), and the same number again once the
shop holds twice the orders (a per-row query would grow it)."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import pkgutil
from dataclasses import dataclass, field
from typing import Any

import pytest
import reflex as rx
from sqlalchemy import select

import smplat.ui.pages
from smplat.db import session_scope
from smplat.models.accounts import Role, User
from smplat.models.fulfillment import FulfillmentTask, TaskStatus
from smplat.models.orders import OrderItem
from smplat.models.providers import Provider
from smplat.services import carts, fulfillment
from tests.fulfillment_factory import paid_order, product, seed_with_panel

pytestmark = pytest.mark.integration

SLUG = "instagram-followers"
GUEST = carts.sign_guest_token("query-count-guest")


# every page module, imported when this module is (Reflex registers states at import time)
for _module in pkgutil.walk_packages(smplat.ui.pages.__path__, "smplat.ui.pages."):
    importlib.import_module(_module.name)


def _state_class(name: str) -> type[rx.State]:
    """A page state by class name, wherever its module lives under smplat.ui.pages."""
    todo, seen = [rx.State], set()
    while todo:
        cls = todo.pop()
        if cls.__name__ == name and cls.__module__.startswith("smplat.ui"):
            return cls
        for sub in cls.__subclasses__():
            if sub not in seen:
                seen.add(sub)
                todo.append(sub)
    raise LookupError(f"no page state called {name}")


@dataclass(frozen=True)
class Case:
    state: str
    handler: str
    path: str
    who: str = "guest"  # guest, customer (client@smplat.local), admin (admin@smplat.local)
    params: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    args: tuple = ()
    first: str = ""  # a handler run before counting (the page's loader, for an event on a loaded page)


# label -> (case, exact statement count, or (on SQLite, on PostgreSQL))
CASES: dict[str, tuple[Case, int | tuple[int, int]]] = {
    # storefront
    # storefront loads count the tab's visit of the day (one upsert); the product page also its
    # product view (the same statement) and reads the service's average time (one statement)
    "home page": (Case("HomeState", "load_home", "/"), 10),
    "catalog page": (Case("ServicesState", "load_services", "/services"), 6),
    "catalog search": (Case("ServicesState", "load_services", "/services", query={"q": "likes"}), 6),
    "product page": (Case("ProductState", "load_product", "/services/[slug]", params={"slug": SLUG}), 12),
    "product page, signed in": (
        Case("ProductState", "load_product", "/services/[slug]", who="customer", params={"slug": SLUG}),
        16,  # + the customer's linked profiles offered in the account field
    ),
    "product option chosen": (
        Case(
            "ProductState",
            "choose_option",
            "/services/[slug]",
            params={"slug": SLUG},
            args=("package", "2500"),
            first="load_product",
        ),
        9,
    ),
    "product detail typed": (
        Case(
            "ProductState",
            "set_field",
            "/services/[slug]",
            params={"slug": SLUG},
            args=("username", "@brand"),
            first="load_product",
        ),
        9,
    ),
    "product preset applied": (
        Case(
            "ProductState",
            "apply_preset",
            "/services/[slug]",
            params={"slug": SLUG},
            args=("popular",),
            first="load_product",
        ),
        9,
    ),
    "product bundles": (Case("BundlesState", "load_bundles", "/services/[slug]", params={"slug": SLUG}), 2),
    "legal page": (Case("LegalState", "load_legal", "/terms"), 1),
    "cart page, two lines": (Case("CartState", "load_cart", "/cart"), 13),
    "cart line quantity changed": (
        Case("CartState", "change_quantity", "/cart", args=("<cart line>", 1), first="load_cart"),
        26,
    ),
    "checkout cancelled page": (Case("CheckoutResultState", "load_cancel", "/checkout/cancel"), 0),
    "sign-in form": (Case("AuthFormState", "open_form", "/signin"), 0),
    # account
    # the session (2), the page of orders (count, page, units, running progress: 4), the live version (1)
    "account orders": (Case("AccountState", "load_orders", "/account/orders", who="customer"), 7),
    "account orders filtered": (
        Case("AccountState", "load_orders", "/account/orders", who="customer", query={"status": "completed", "q": "a"}),
        7,
    ),
    # session (2), figures, activity, verified?, the open orders (count, page; none open here, so no aggregates), version
    "account overview": (Case("AccountState", "load_overview", "/account", who="customer"), 8),
    "account order page": (Case("ClientOrderState", "load", "/account/orders/[number]", who="customer"), 11),
    # the cost of an open page per tick: one statement (nothing changed, so no reload)
    "account order live tick": (
        Case("ClientOrderState", "live_tick", "/account/orders/[number]", who="customer", first="load"),
        1,
    ),
    "account orders live tick": (
        Case("AccountState", "live_tick", "/account/orders", who="customer", first="load_orders"),
        1,
    ),
    # admin
    # session (1); the version, the rolled run and the stuck rule's promises; the sales of today,
    # yesterday and both periods, the tiles, the alerts and the newest orders (two round trips on
    # PostgreSQL, where a page's independent reads go as one statement: `db.fetch_many`)
    "admin dashboard": (Case("AdminHomeState", "load", "/admin", who="admin"), (8, 3)),
    # session (1), the filters' providers and products (one round trip on PostgreSQL), the page, the version
    "admin orders": (Case("OrderQueueState", "load", "/admin/orders", who="admin"), (5, 4)),
    "admin catalog": (Case("AdminState", "load_catalog", "/admin/catalog", who="admin"), 5),
    "admin customers": (Case("AdminState", "load_customers", "/admin/customers", who="admin"), 2),
    # session (1), the page of accounts (1), their orders and spend grouped (1)
    "admin customers search": (
        Case("CustomersState", "load", "/admin/customers", who="admin", query={"q": "smplat"}),
        4,  # + the live version
    ),
    # the demo client (id 3): session, user, totals, orders, last order, notes, sessions, profiles
    "admin customer page": (
        Case("CustomerState", "load", "/admin/customers/[user_id]", who="admin", params={"user_id": "3"}),
        9,  # + the live version
    ),
    "admin routing preview": (
        Case("RoutingPreviewState", "load", "/admin/catalog/[slug]", who="admin", params={"slug": SLUG}),
        25,
    ),
    "admin jobs": (Case("JobsState", "load_jobs", "/admin/jobs", who="admin"), 4),
    "admin content": (Case("ContentAdminState", "load_content", "/admin/content", who="admin"), 2),
    "admin content block chosen": (
        Case(
            "ContentAdminState", "select_block", "/admin/content", who="admin", args=("home.faq",), first="load_content"
        ),
        2,
    ),
    # session, version, the four insights (one round trip on PostgreSQL)
    "admin search insights": (
        Case("SearchInsightsState", "load_insights", "/admin/search-insights", who="admin"),
        (6, 3),
    ),
    "admin search window chosen": (
        Case(
            "SearchInsightsState",
            "choose_window",
            "/admin/search-insights",
            who="admin",
            args=("7",),
            first="load_insights",
        ),
        (6, 3),
    ),
    "admin sales": (Case("SalesState", "load_sales", "/admin/sales", who="admin"), 7),
    "admin order detail": (Case("OrderDetailState", "load", "/admin/orders/[number]", who="admin"), 8),
    "admin providers": (Case("ProvidersState", "load", "/admin/providers", who="admin"), 6),
    "admin provider detail": (Case("ProviderDetailState", "load", "/admin/providers/[provider_id]", who="admin"), 5),
    "admin dead letters": (Case("DeadLettersState", "load", "/admin/dead-letters", who="admin"), 3),
    "admin fulfilment": (Case("FulfilmentState", "load", "/admin/fulfilment", who="admin"), 6),
    # the cost of an open admin page per tick (LiveState): one statement when nothing changed
    **{
        f"{label} live tick": (
            Case(state, "live_tick", path, who="admin", first=loader, query=query, params=params),
            1,
        )
        for label, state, path, loader, query, params in (
            ("admin dashboard", "AdminHomeState", "/admin", "load", {}, {}),
            ("admin orders", "OrderQueueState", "/admin/orders", "load", {}, {}),
            ("admin analytics", "AnalyticsState", "/admin/analytics", "load_analytics", {}, {}),
            ("admin order detail", "OrderDetailState", "/admin/orders/[number]", "load", {}, {}),
            ("admin jobs", "JobsState", "/admin/jobs", "load_jobs", {}, {}),
            ("admin sales", "SalesState", "/admin/sales", "load_sales", {}, {}),
            ("admin fulfilment", "FulfilmentState", "/admin/fulfilment", "load", {}, {}),
            ("admin dead letters", "DeadLettersState", "/admin/dead-letters", "load", {}, {}),
            ("admin search insights", "SearchInsightsState", "/admin/search-insights", "load_insights", {}, {}),
            ("admin merchandising", "MerchandisingState", "/admin/merchandising", "load_merchandising", {}, {}),
            ("admin invoices", "AdminInvoicesState", "/admin/invoices", "load", {}, {}),
            ("admin customers", "CustomersState", "/admin/customers", "load", {"q": "smplat"}, {}),
            ("admin customer page", "CustomerState", "/admin/customers/[user_id]", "load", {}, {"user_id": "3"}),
        )
    },
}


def _add_orders(tag: str) -> str:
    """Two paid orders of the demo customer (one of two lines) delivered through the panel
    sandbox, and a third whose line is dead-lettered; returns the first order's number."""
    with session_scope() as session:
        return _add_orders_in(session, tag)


def _add_orders_in(session, tag: str) -> str:
    client = session.execute(select(User).where(User.email == "client@smplat.local")).scalars().one()
    followers, likes = product(session, "instagram-followers"), product(session, "instagram-likes")
    first = paid_order(
        session,
        [
            (followers, f"https://instagram.com/{tag}a", 1000, 1200),
            (likes, f"https://instagram.com/p/{tag}b", 500, 390),
        ],
        user_id=client.id,
    )
    paid_order(session, [(likes, f"https://instagram.com/p/{tag}c", 250, 290)], user_id=client.id)
    fulfillment.run_fulfillment(session_scope)
    fulfillment.sync_statuses(session_scope)
    stuck = paid_order(session, [(likes, f"https://instagram.com/p/{tag}d", 250, 290)], email=f"{tag}@example.com")
    item_id = session.execute(select(OrderItem.id).where(OrderItem.order_id == stuck.id)).scalar_one()
    task = session.execute(select(FulfillmentTask).where(FulfillmentTask.order_item_id == item_id)).scalars().one()
    task.status, task.attempts, task.last_error = TaskStatus.DEAD_LETTER.value, 5, "panel answered: no funds"
    session.commit()
    return first.number


@pytest.fixture
def shop(session, panel):
    """The demo shop on the panel sandbox, with orders and a guest cart of two lines."""
    seed_with_panel(session, panel.base_url)
    number = _add_orders("one")
    with session_scope() as db:
        cart = carts.get_or_create_cart(db, user_id=None, guest_token=GUEST)
        for package in ("1000", "2500"):
            line = carts.add_item(
                db,
                cart,
                SLUG,
                {
                    "options": {"package": package, "speed": "standard"},
                    "add_ons": [],
                    "plan": "one-time",
                    "fields": {"username": "@brand"},
                },
                1,
                visitor=None,
            )
        line_id = line.id
    provider_id = session.execute(select(Provider.id)).scalars().first()
    return {"number": number, "provider_id": str(provider_id), "<cart line>": line_id}


async def _run(state, name: str, args: tuple) -> Any:
    result = getattr(state, name)(*args)
    if inspect.isawaitable(result):
        result = await result
    if inspect.isgenerator(result):
        result = list(result)
    return result


async def test_page_loaders_and_handlers_send_a_fixed_number_of_queries(
    session, shop, root_state, session_cookie_for, count_queries
):
    """All cases against one shop per backend (building the shop, with its panel deliveries,
    is what takes the time): each counted once, then again after the shop doubled."""
    cookies = {
        "guest": None,
        "customer": session_cookie_for(Role.CUSTOMER, "client@smplat.local"),
        "admin": session_cookie_for(Role.ADMIN, "admin@smplat.local"),
    }

    async def measure(label: str):
        case = CASES[label][0]
        params = {
            **case.params,
            **({"number": shop["number"]} if "[number]" in case.path else {}),
            **({"provider_id": shop["provider_id"]} if "[provider_id]" in case.path else {}),
        }
        state = await root_state(
            _state_class(case.state), case.path, query=case.query, params=params, cookie=cookies[case.who], consent=""
        )
        if hasattr(state, "cart_token"):
            state.cart_token = GUEST
        if case.first:
            await _run(state, case.first, ())
        args = tuple(shop.get(a, a) if isinstance(a, str) else a for a in case.args)
        with count_queries() as q:
            result = await _run(state, case.handler, args)
        refused = "toast" in str(result) or getattr(state, "loaded", True) is False
        return q, f"the handler refused or did not load its page: {result}" if refused else ""

    wrong: list[str] = []

    postgres = session.get_bind().dialect.name == "postgresql"

    async def check(when: str) -> None:
        for label, (_case, counts) in CASES.items():
            expected = counts if isinstance(counts, int) else counts[1 if postgres else 0]
            q, problem = await measure(label)
            print(f"QUERYCOUNT {when} {label!r}: {q.count}")
            if problem or q.count != expected:
                wrong.append(f"{label!r} {when}: expected {expected}, sent {problem or q!r}")

    # given the shop with orders / when each handler runs / then its exact number
    await check("first")
    # and with twice the orders, customers' orders and dead letters, the same number
    await asyncio.to_thread(_add_orders, "two")  # (the engine runs its own event loop)
    await check("doubled")
    assert not wrong, "\n".join(wrong)
