"""Typed configurator fields end to end, on SQLite and PostgreSQL: the seeded drip-feed days
field is a whole-number field, and a value that is not a whole number in range ("2.5",
negative, huge, "abc") is shown beside the field on the product page and refused at every
door, through the same handlers the pages call: add to cart, editing a cart line, and
starting checkout. Nothing is stored: no cart, no cart line change, no checkout session."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import func, select, update

from smplat.db import get_engine, session_scope
from smplat.migrate import alembic_config
from smplat.models.carts import Cart, CartItem
from smplat.models.catalog import ProductCustomField
from smplat.models.checkout import CheckoutSession
from smplat.models.orders import Order
from smplat.services.seed import seed_demo
from smplat.ui.pages.storefront.cart import CartState

pytestmark = pytest.mark.integration


def count(model) -> int:
    with session_scope() as db:
        return db.execute(select(func.count()).select_from(model)).scalar_one()


LABEL = "Spread delivery over (days)"
BAD_DAYS = [
    pytest.param("2.5", f"{LABEL} must be a whole number, e.g. 3.", id="decimal"),
    pytest.param("-3", f"{LABEL} must be at least 1.", id="negative"),
    pytest.param(str(10**12), f"{LABEL} must be at most 30.", id="huge"),
    pytest.param("abc", f"{LABEL} must be a whole number, e.g. 3.", id="not-a-number"),
]
GRADUAL_FORM = {"field:username": "@brand", "field:drip_days": "5"}


def _field(state, key: str) -> dict:
    return next(f for f in state.fields if f["key"] == key)


def _lines() -> list[tuple[int, int, dict]]:
    with session_scope() as db:
        return [
            (i.quantity, i.line_total_minor, i.configuration["fields"])
            for i in db.execute(select(CartItem).order_by(CartItem.id)).scalars()
        ]


async def _gradual_product_page(product_state, **kw):
    state = await product_state(**kw)
    state.choose_option("speed", "gradual")
    assert _field(state, "drip_days")["visible"] is True
    return state


def test_the_seeded_drip_days_field_is_a_whole_number_field(stripe_shop) -> None:
    with session_scope() as db:
        types = set(
            db.execute(select(ProductCustomField.field_type).where(ProductCustomField.key == "drip_days")).scalars()
        )
    assert types == {"integer"}


@pytest.mark.parametrize(("value", "message"), BAD_DAYS)
async def test_a_bad_value_is_shown_beside_the_field_and_never_reaches_the_cart(
    stripe_shop, value, message, product_state
):
    # given a guest on the product page who chose gradual delivery
    state = await _gradual_product_page(product_state)
    # when they type the value (on blur) / then the page says why beside the field
    state.set_field("drip_days", value)
    assert _field(state, "drip_days")["error"] == message
    # when they add it to the cart anyway
    state.add_to_cart({"field:username": "@brand", "field:drip_days": value})
    # then the same words beside the field, a form message, and no cart or cart line
    assert _field(state, "drip_days")["error"] == message
    assert state.form_error == "Some details need your attention before this can go in your cart."
    assert (count(Cart), count(CartItem)) == (0, 0)


@pytest.mark.parametrize(("value", "message"), BAD_DAYS)
async def test_a_bad_value_cannot_replace_a_good_one_when_a_cart_line_is_edited(
    stripe_shop, value, message, product_state
):
    # given a cart line for gradual delivery over 5 days
    state = await _gradual_product_page(product_state)
    state.add_to_cart(GRADUAL_FORM)
    assert _lines() == [(1, 1200, {"username": "@brand", "drip_days": "5"})]
    with session_scope() as db:
        item_id = db.execute(select(CartItem.id)).scalar_one()
    # when the line is opened from /cart and sent back with the bad value
    editor = await product_state({"edit": str(item_id)})
    assert editor.editing_item_id == item_id
    editor.add_to_cart({"field:username": "@brand", "field:drip_days": value})
    # then refused beside the field, still editing, and the line is exactly as it was
    assert _field(editor, "drip_days")["error"] == message
    assert editor.editing_item_id == item_id
    assert _lines() == [(1, 1200, {"username": "@brand", "drip_days": "5"})]


@pytest.mark.parametrize(("value", "message"), BAD_DAYS)
async def test_a_line_holding_a_bad_value_cannot_start_checkout(
    stripe_shop, value, message, shopper_state, product_state
):
    sandbox = stripe_shop.sandbox
    # given a cart line whose stored value is bad (written before the rule, or by hand)
    state = await _gradual_product_page(product_state)
    state.add_to_cart(GRADUAL_FORM)
    with session_scope() as db:
        item = db.execute(select(CartItem)).scalars().one()
        db.execute(
            update(CartItem)
            .where(CartItem.id == item.id)
            .values(configuration={**item.configuration, "fields": {"username": "@brand", "drip_days": value}})
        )
    # when the cart page loads / then the line says what is wrong and checkout is not offered
    cart = await shopper_state(CartState, "/cart")
    cart.load_cart()
    assert (cart.rows[0]["error"], cart.can_checkout) == (message, False)
    # when checkout is started anyway (a crafted event)
    cart.start_checkout({"email": "typed@example.test"})
    # then refused with a message: no checkout session here or at Stripe, no order, the line kept
    assert cart.checkout_error == "Some items need your attention before you can pay."
    assert (count(CheckoutSession), count(Order), count(CartItem)) == (0, 0, 1)
    assert sandbox.sessions == {}


def test_the_migration_retypes_an_existing_shops_drip_days_field(db_url: str) -> None:
    # given a shop at the previous revision whose drip_days fields are plain numbers
    cfg = alembic_config(db_url)
    with session_scope() as db:  # the demo shop is seeded with today's models, then taken back
        seed_demo(db)
    command.downgrade(cfg, "0005_money")
    try:
        with session_scope() as db:
            db.execute(
                update(ProductCustomField).where(ProductCustomField.key == "drip_days").values(field_type="number")
            )
        # when it is migrated / then they are whole-number fields, and nothing else changed type
        command.upgrade(cfg, "head")
        with session_scope() as db:
            types = db.execute(select(ProductCustomField.key, ProductCustomField.field_type)).all()
        assert {t for k, t in types if k == "drip_days"} == {"integer"}
        # (answer_number is seeded as a whole number today; the downgrade turned it into a number)
        assert "integer" not in {t for k, t in types if k not in ("drip_days", "answer_number")}
        # and the downgrade gives them back their old type
        command.downgrade(cfg, "0005_money")
        with session_scope() as db:
            assert set(
                db.execute(select(ProductCustomField.field_type).where(ProductCustomField.key == "drip_days")).scalars()
            ) == {"number"}
    finally:
        command.upgrade(cfg, "head")
        get_engine(db_url).dispose()
