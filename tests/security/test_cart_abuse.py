"""Findings: "the 20-line cart cap is bypassed by rotating the cart cookie value" (every made-up
cookie value became a fresh cart with a fresh cap), and checkout creation, cart lines, search and
analytics events had no rate limits. Replayed through the pages' handlers as a crafted websocket
client calls them, on SQLite and PostgreSQL; refused requests store nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from smplat.db import session_scope
from smplat.models.analytics import SearchRecord
from smplat.models.carts import Cart, CartItem
from smplat.models.checkout import CheckoutSession
from smplat.models.merchandising import PresetEvent
from smplat.services import carts, catalog
from smplat.services.accounts import hash_token
from smplat.services.seed import seed_demo
from smplat.ui.components.consent import ConsentState
from smplat.ui.pages.storefront.cart import CartState
from smplat.ui.pages.storefront.catalog import ServicesState
from smplat.ui.pages.storefront.product import ProductState
from tests.security.helpers import THROTTLED, configure, count, tab

pytestmark = pytest.mark.integration

SLUG = "instagram-followers"
ATTACKER = "203.0.113.80"


@pytest.fixture
def shop(db_url: str) -> str:
    with session_scope() as db:
        seed_demo(db)
    return db_url


async def product_page(cart_token: str, ip: str = ATTACKER, query: dict | None = None, consent: str = ""):
    """The product page of one tab whose browser sends `cart_token` as its cart cookie."""
    root = tab(path=f"/services/{SLUG}", ip=ip, query={"slug": SLUG, **(query or {})})
    state = await root.get_state(ProductState)
    state.cart_token, state.consent_choice = cart_token, consent
    state.load_product()
    return state


async def test_rotating_the_cart_cookie_cannot_make_unbounded_carts(shop, monkeypatch):
    # given at most 3 new carts an hour from one IP
    configure(monkeypatch, rate_limit_cart_create_ip="3/hour")

    # when one client adds a line 8 times, each time with a new made-up cart cookie value
    states = []
    for i in range(8):
        state = await product_page(f"made-up-cart-{i}")
        state.add_to_cart({"field:username": "@brand"})
        states.append(state)

    # then 3 carts with one line each exist, the other 5 tries were refused and stored nothing
    assert count(Cart) == 3 and count(CartItem) == 3
    assert [s.added for s in states] == [True] * 3 + [False] * 5
    assert all(THROTTLED.match(s.form_error) for s in states[3:]), [s.form_error for s in states[3:]]
    # no made-up value became a cart: each tab got a cookie the shop issued instead
    made_up = {hash_token(f"made-up-cart-{i}") for i in range(8)}
    with session_scope() as db:
        assert not set(db.execute(select(Cart.guest_token_hash)).scalars()) & made_up
    assert all(carts.is_issued_guest_token(s.cart_token) for s in states)
    # and a shopper on another network is not affected
    other = await product_page("", ip="192.0.2.40")
    other.add_to_cart({"field:username": "@brand"})
    assert other.added is True and count(Cart) == 4


def test_the_cart_service_refuses_to_make_a_cart_for_a_cookie_it_did_not_issue(shop):
    with pytest.raises(carts.CartError), session_scope() as db:
        carts.get_or_create_cart(db, user_id=None, guest_token="made-up-cart")
    assert count(Cart) == 0


async def test_lines_added_to_one_cart_are_rate_limited(shop, monkeypatch):
    # given at most 4 lines a minute into one cart
    configure(monkeypatch, rate_limit_cart_add_cart="4/minute")
    state = await product_page(carts.new_guest_token())

    # when one tab adds 6 lines quickly
    shown = []
    for _ in range(6):
        state.form_error, state.added = "", False
        state.add_to_cart({"field:username": "@brand"})
        shown.append(state.added)

    # then 4 lines are in the cart and the 2 later tries were refused with the wait
    assert shown == [True] * 4 + [False] * 2
    assert THROTTLED.match(state.form_error)
    assert count(CartItem) == 4


async def test_checkouts_are_rate_limited_per_ip_and_per_visitor(shop, monkeypatch):
    # given at most 2 checkouts a minute per IP and 1 per visitor
    configure(monkeypatch, rate_limit_checkout_ip="2/minute", rate_limit_checkout_visitor="1/minute")

    async def checkout(cart_token: str, ip: str = ATTACKER) -> str:
        state = await tab(path="/cart", ip=ip).get_state(CartState)
        state.cart_token = cart_token
        state.start_checkout({"email": "buyer@example.com"})
        return state.checkout_error

    # when one visitor tries twice, and two more visitors try from the same IP
    first_visitor = carts.new_guest_token()
    answers = [
        await checkout(first_visitor),
        await checkout(first_visitor),
        await checkout(carts.new_guest_token()),
        await checkout(carts.new_guest_token()),
    ]

    # then the 2nd (same visitor) and the 4th (IP spent) were refused before any work; the others
    # reached the checkout rules (their carts are empty); no checkout session exists
    assert answers[0] == answers[2] == "Your cart is empty."
    assert THROTTLED.match(answers[1]) and THROTTLED.match(answers[3])
    assert count(CheckoutSession) == 0


async def test_searches_from_one_ip_are_rate_limited_and_the_page_says_so(shop, monkeypatch):
    # given at most 3 searches a minute per IP, and a visitor who allowed analytics
    configure(monkeypatch, rate_limit_search_ip="3/minute")

    async def search(ip: str = ATTACKER) -> ServicesState:
        root = tab(path="/services", ip=ip, query={"q": "followers"})
        (await root.get_state(ConsentState)).choice = "all"
        state = await root.get_state(ServicesState)
        await state.load_services()
        return state

    # when one IP searches 5 times
    results = [await search() for _ in range(5)]

    # then 3 searches were answered and recorded; the 2 refused ones list nothing and say why
    assert [bool(r.products) for r in results] == [True] * 3 + [False] * 2
    assert [r.notice for r in results[3:]] == ["Too many searches from your network. Try again in 1 minute."] * 2
    assert count(SearchRecord) == 3
    # another IP searches as usual
    assert (await search("192.0.2.41")).products and count(SearchRecord) == 4


async def test_analytics_events_beyond_the_limit_are_dropped_and_the_page_works(shop, monkeypatch):
    # given at most 2 analytics events a minute per browser, and a marketing card's preset link
    configure(monkeypatch, rate_limit_analytics_visitor="2/minute")
    with session_scope() as db:
        preset = catalog.get_product_detail(db, SLUG).presets[0].key
    browser = carts.new_guest_token()

    # when the same browser opens the card's link 4 times, with analytics consent
    pages = [await product_page(browser, query={"preset": preset}, consent="all") for _ in range(4)]

    # then 2 preset events were recorded, and every page loaded with the preset applied
    assert count(PresetEvent) == 2
    assert all(p.product and p.config.get("preset") == preset for p in pages)
