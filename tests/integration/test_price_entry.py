"""One price entry point (`pricing.price_for`) carrying the experiment variant, on SQLite and
PostgreSQL: a regenerated payment link keeps the experiment price and its conversion is
counted; every price is computed once per event (add to cart: one computation; reading the
cart writes nothing)."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select
from starlette.testclient import TestClient

from smplat.api.app import build_api
from smplat.db import get_engine, session_scope
from smplat.models.accounts import Role
from smplat.models.carts import CartItem
from smplat.models.checkout import CheckoutSession
from smplat.models.merchandising import PriceExperimentVariant
from smplat.models.orders import Order
from smplat.services import carts, catalog, experiments, pricing
from smplat.ui.pages.admin.sales import SalesState
from smplat.ui.pages.storefront.cart import CartState
from smplat.ui.pages.storefront.product import ProductState
from tests.checkout_factory import POPULAR
from tests.checkout_factory import start_guest_checkout as _start

pytestmark = pytest.mark.integration

SLUG = "instagram-followers"


def _lower_price_experiment() -> None:
    """Both variants at 90 %: whichever the visitor lands on, the list price €12.00 becomes €10.80."""
    with session_scope() as db:
        product_id = catalog.get_product_detail(db, SLUG).product.id
        experiments.create_experiment(
            db,
            product_id=product_id,
            key="ig-price",
            name="IG price",
            variants=[("lower", "Lower", 9000, 1), ("lower2", "Lower too", 9000, 1)],
        )


def _variant_rows() -> list[tuple[str, int, int]]:
    with session_scope() as db:
        return sorted(
            db.execute(
                select(
                    PriceExperimentVariant.key, PriceExperimentVariant.conversions, PriceExperimentVariant.revenue_minor
                )
            ).all()
        )


# --- the entry point ---------------------------------------------------------------------------


def test_price_for_carries_the_visitors_variant_or_a_recorded_one(stripe_shop) -> None:
    _lower_price_experiment()
    with session_scope() as db:
        detail = catalog.get_product_detail(db, SLUG)
        visitor = carts.visitor_key("guest-token-1")
        assigned = pricing.price_for(db, detail, POPULAR, visitor=visitor)
        recorded = pricing.price_for(
            db, detail, POPULAR, variant=experiments.recorded_variant(assigned.price_record()["experiment"])
        )
        listed = pricing.price_for(db, detail, POPULAR)
        with pytest.raises(TypeError):
            pricing.price_for(db, detail, POPULAR, visitor=visitor, variant=assigned.experiment)
    assert (assigned.total_minor, recorded.total_minor, listed.total_minor) == (1080, 1080, 1200)
    assert recorded.experiment == assigned.experiment and assigned.experiment.experiment_key == "ig-price"
    assert listed.experiment is None


@pytest.mark.parametrize(
    "record",
    [
        None,
        {},
        {"experiment": "x", "variant": "y"},
        {"experiment": "x", "variant": "y", "price_bps": "9000"},
        {"experiment": "x", "variant": "y", "price_bps": 1},
    ],
)
def test_a_malformed_recorded_variant_prices_at_list_price(record) -> None:
    assert experiments.recorded_variant(record) is None


# --- regenerating a link keeps the experiment price -------------------------------------------


async def test_a_regenerated_link_keeps_the_experiment_price_and_counts_the_conversion(
    stripe_shop, shopper_state, session_cookie_for
):
    sandbox = stripe_shop.sandbox
    # given a guest priced by the experiment whose checkout was abandoned
    _lower_price_experiment()
    old = _start()
    assert old.amount_total_minor == 1080
    # when an operator regenerates the link on the Sales page
    sales = await shopper_state(SalesState, "/admin/sales", session=session_cookie_for(Role.ADMIN))
    sales.regenerate(old.id)
    # then the new session charges the experiment price and records the same variant
    with session_scope() as db:
        new = db.execute(select(CheckoutSession).where(CheckoutSession.replaces_session_id == old.id)).scalars().one()
    assert (new.amount_total_minor, sales.regenerated_link) == (1080, new.payment_url)
    assert new.lines[0]["price"]["experiment"] == old.lines[0]["price"]["experiment"]
    assert sandbox.sessions[new.stripe_session_id]["session"]["amount_total"] == 1080
    variant = new.lines[0]["price"]["experiment"]["variant"]
    # when the customer pays the new link
    stripe_shop.pay(new)
    with TestClient(build_api()) as client:
        completed = [
            e
            for e in stripe_shop.events("checkout.session.completed")
            if e["data"]["object"]["id"] == new.stripe_session_id
        ]
        stripe_shop.post(client, completed[0])
    # then the order is at the experiment price and the conversion counts for that variant
    with session_scope() as db:
        assert db.execute(select(Order.total_minor)).scalars().all() == [1080]
    other = "lower2" if variant == "lower" else "lower"
    assert _variant_rows() == sorted([(variant, 1, 1080), (other, 0, 0)])


# --- each price computed once per event --------------------------------------------------------


@pytest.fixture
def computations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every pricing computation (`pricing.price`, which `price_for` calls), by product slug."""
    calls: list[str] = []
    original = pricing.price

    def counted(detail, *args, **kwargs):
        calls.append(detail.product.slug)
        return original(detail, *args, **kwargs)

    monkeypatch.setattr(pricing, "price", counted)
    return calls


def _statements_of(action) -> list[str]:
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(" ".join(statement.split()))

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", record)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return statements


async def test_adding_to_the_cart_computes_the_price_once(stripe_shop, computations, shopper_state):
    # given a guest on the product page (its own load priced the preset)
    state = await shopper_state(ProductState, f"/services/{SLUG}", params={"slug": SLUG})
    state.load_product()
    computations.clear()
    # when the package is added to the cart
    state.add_to_cart({"field:username": "@brand", "quantity": "2"})
    # then one computation priced both the stored line and what the page shows
    assert computations == [SLUG]
    assert (state.added, state.total) == (True, "€24.00")
    # and editing the line from the cart is one computation too
    with session_scope() as db:
        item_id = db.execute(select(CartItem.id)).scalar_one()
    editor = await shopper_state(ProductState, f"/services/{SLUG}", query={"edit": str(item_id)}, params={"slug": SLUG})
    editor.load_product()
    computations.clear()
    editor.add_to_cart({"field:username": "@brand", "quantity": "3"})
    assert computations == [SLUG]
    with session_scope() as db:
        assert db.execute(select(CartItem.quantity, CartItem.line_total_minor)).all() == [(3, 3600)]


async def test_a_refused_add_to_cart_computes_only_the_price_it_shows(stripe_shop, computations, shopper_state):
    state = await shopper_state(ProductState, f"/services/{SLUG}", params={"slug": SLUG})
    state.load_product()
    computations.clear()
    state.add_to_cart({"field:username": "not a handle!"})
    assert (computations, state.total) == ([SLUG], "€12.00")
    assert _count_items() == 0


async def test_changing_a_cart_quantity_prices_each_line_once(stripe_shop, computations, shopper_state):
    # given a cart of two lines
    state = await shopper_state(ProductState, f"/services/{SLUG}", params={"slug": SLUG})
    state.load_product()
    state.add_to_cart({"field:username": "@one"})
    state.add_to_cart({"field:username": "@two"})
    cart = await shopper_state(CartState, "/cart")
    cart.load_cart()
    computations.clear()
    # when one line goes up by a package
    cart.change_quantity(cart.rows[0]["id"], 1)
    # then each line was priced once (the changed one when stored, the other for the page)
    assert computations == [SLUG, SLUG]
    assert ([r["total"] for r in cart.rows], cart.total) == (["€24.00", "€12.00"], "€36.00")


async def test_reading_the_cart_writes_nothing(stripe_shop, shopper_state, session_cookie_for):
    # given two lines stored at the list price, then an experiment that lowers it
    state = await shopper_state(ProductState, f"/services/{SLUG}", params={"slug": SLUG})
    state.load_product()
    state.add_to_cart({"field:username": "@one"})
    state.add_to_cart({"field:username": "@two", "quantity": "2"})
    _lower_price_experiment()
    # when the cart page loads
    cart = await shopper_state(CartState, "/cart")
    statements = _statements_of(cart.load_cart)
    # then it only read: every statement is a SELECT, no UPDATE of cart_items
    assert statements and {s.split()[0].upper() for s in statements} == {"SELECT"}
    # and it shows today's price while the stored lines keep the price they were added at
    assert ([r["total"] for r in cart.rows], cart.total) == (["€10.80", "€21.60"], "€32.40")
    with session_scope() as db:
        assert db.execute(select(CartItem.line_total_minor).order_by(CartItem.id)).scalars().all() == [1200, 2400]


def _count_items() -> int:
    with session_scope() as db:
        return len(db.execute(select(CartItem.id)).all())
