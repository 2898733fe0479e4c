"""The storefront's side of bundles and of the one delivery promise, through the page states
the websocket drives: the bundle card's one click, the cart's discount line, the same promise
on the product page and in the cart, plan cards that agree with the total, labels not keys."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from smplat.db import session_scope
from smplat.models.carts import Cart, CartItem
from smplat.services.seed import seed_demo
from smplat.ui.components.bundles import BundlesState
from smplat.ui.pages.storefront.cart import CartState
from smplat.ui.pages.storefront.product import ProductState

pytestmark = pytest.mark.integration


@pytest.fixture
def seeded(db_url: str) -> str:
    with session_scope() as db:
        seed_demo(db)
    return db_url


def _count(model) -> int:
    with session_scope() as db:
        return db.execute(select(func.count()).select_from(model)).scalar_one()


async def _bundles_on(shopper_state, slug: str = "instagram-followers"):
    state = await shopper_state(BundlesState, f"/services/{slug}", params={"slug": slug})
    state.load_bundles()
    return state


async def test_add_bundle_puts_every_item_in_the_cart_and_the_cart_shows_the_discount(
    seeded, shopper_state, handler_events
) -> None:
    # given the starter kit card on the followers page
    bundles = await _bundles_on(shopper_state)
    assert [b["slug"] for b in bundles.bundles] == ["instagram-starter-kit"]
    # when the visitor presses "Add bundle"
    events = handler_events(bundles.add_bundle("instagram-starter-kit"))
    # then they land in the cart, which holds the three items with the discount on the extras
    assert any("/cart" in str(e) for e in events)
    cart = await shopper_state(CartState, "/cart")
    cart.load_cart()
    assert [(r["title"], r["total"], r["discount"]) for r in cart.rows] == [
        ("Instagram Followers", "€12.00", ""),
        ("Instagram Likes", "€5.31", "Instagram starter kit bundle (10 % off): -€0.59"),
        ("Instagram Story Views", "€4.41", "Instagram starter kit bundle (10 % off): -€0.49"),
    ]
    assert cart.savings == [{"label": "Instagram starter kit bundle (10 % off)", "amount": "-€1.08"}]
    assert cart.total == "€21.72"
    # and each line asks, in the customer's words, for the link only they can give; no checkout yet
    assert [r["error"] for r in cart.rows] == [
        "Instagram username is required.",
        "Post or reel link is required.",
        "Instagram username is required.",
    ]
    assert cart.can_checkout is False


async def test_a_bundle_not_on_the_page_adds_nothing(seeded, shopper_state, handler_events, is_toast_error) -> None:
    bundles = await _bundles_on(shopper_state)
    events = handler_events(bundles.add_bundle("tiktok-viral-pack"))  # not offered on this page
    assert any(is_toast_error(e, "This bundle is not available any more.") for e in events)
    assert (_count(Cart), _count(CartItem)) == (0, 0)


async def test_product_page_and_cart_show_the_same_delivery_promise(seeded, shopper_state) -> None:
    # given the followers page with 2,500 followers chosen, two packages
    product = await shopper_state(ProductState, "/services/instagram-followers", params={"slug": "instagram-followers"})
    product.load_product()
    product.choose_option("package", "2500")
    product.set_quantity("2")
    # then the page promises one time and pace (5,000 followers: 48 h + 2 days)
    promise = "Delivered in about 4 days · about 1,250 followers a day"
    assert product.estimate == promise
    assert product.calculator == ""  # no second, contradicting pace
    # when added to the cart, the cart line says the same
    product.add_to_cart({"field:username": "@brand", "quantity": "2"})
    cart = await shopper_state(CartState, "/cart")
    cart.load_cart()
    assert [(r["delivery"], r["fields"]) for r in cart.rows] == [(promise, "Instagram username: @brand")]


async def test_plan_cards_price_the_chosen_package(seeded, shopper_state) -> None:
    # given Growth Autopilot opened on its popular preset, 2,500 followers a month
    product = await shopper_state(
        ProductState, "/services/instagram-growth-autopilot", params={"slug": "instagram-growth-autopilot"}
    )
    product.load_product()
    assert product.total == "€59.00"
    # then each plan card prices that package on its plan, the chosen one equal to the total
    assert {p["key"]: p["price"] for p in product.plans} == {"monthly": "€59.00", "one-time": "€64.00"}
    # when the package changes, the cards follow
    product.choose_option("package", "1000")
    assert {p["key"]: p["price"] for p in product.plans} == {"monthly": "€29.00", "one-time": "€34.00"}
    assert product.total == "€29.00"


async def test_instagram_comments_opens_ready_to_buy(seeded, shopper_state) -> None:
    # given the first product of the catalog, opened as a new visitor
    product = await shopper_state(ProductState, "/services/instagram-comments", params={"slug": "instagram-comments"})
    product.load_product()
    # then the "Most chosen" preset is priced, a comment style is chosen, nothing to fix yet
    assert product.total == "€9.90"
    assert product.form_error == ""
    assert product.config["options"]["style"] == ["random"]
