"""A bundle's discount through every step: the cart (a discount line naming the bundle), the
Stripe checkout session over HTTP (the sandbox totals the discounted lines), the order
snapshot and the receipt email; a removed item removes the discount. Both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from smplat.api.app import build_api
from smplat.db import session_scope
from smplat.models.catalog import ProductBundle
from smplat.models.orders import Order, OrderItem
from smplat.sandbox.smtp_sink import list_messages
from smplat.services import carts, pricing
from smplat.services.checkout import placement
from smplat.services.checkout import sessions as checkout_sessions

pytestmark = pytest.mark.integration

TOKEN = carts.sign_guest_token("bundle-cart")
FOLLOWERS = {"options": {"package": "1000", "speed": "standard"}, "plan": "one-time", "fields": {"username": "brand"}}
LIKES = {
    "options": {"package": "500", "speed": "standard"},
    "plan": "one-time",
    "fields": {"post_link": "https://www.instagram.com/p/bundle1/"},
}
STORY_VIEWS = {"options": {"package": "1000", "speed": "standard"}, "plan": "one-time", "fields": {"username": "brand"}}


def _fill_starter_kit(db, likes_quantity: int = 1) -> carts.Cart:
    cart = carts.get_or_create_cart(db, user_id=None, guest_token=TOKEN)
    carts.add_item(db, cart, "instagram-followers", FOLLOWERS, 1, visitor=None)
    carts.add_item(db, cart, "instagram-likes", LIKES, likes_quantity, visitor=None)
    carts.add_item(db, cart, "instagram-story-views", STORY_VIEWS, 1, visitor=None)
    return cart


def test_cart_discounts_the_bundled_lines_not_the_primary(stripe_shop) -> None:
    # given the starter kit (10 % off likes and story views) bought together, likes x 3
    with session_scope() as db:
        cart = _fill_starter_kit(db, likes_quantity=3)
        # when the cart is priced
        priced = carts.price_cart(db, cart, visitor=None)
    # then followers (the primary product) keep €12.00; likes €5.90 -> €5.31 each, story views €4.90 -> €4.41
    by_slug = {line.detail.product.slug: line.quote for line in priced.lines}
    assert {slug: (q.unit_price_minor, q.quantity, q.total_minor) for slug, q in by_slug.items()} == {
        "instagram-followers": (1200, 1, 1200),
        "instagram-likes": (531, 3, 1593),
        "instagram-story-views": (441, 1, 441),
    }
    assert priced.total_minor == 1200 + 1593 + 441
    assert by_slug["instagram-followers"].bundle is None
    assert by_slug["instagram-likes"].breakdown[-1].as_dict() == {
        "kind": "bundle",
        "label": "Instagram starter kit bundle (10 % off)",
        "amount_minor": -59,
    }
    assert priced.bundle_savings == [{"label": "Instagram starter kit bundle (10 % off)", "amount": "-€2.26"}]
    rows = {row["slug"]: row for row in (line.row() for line in priced.lines)}
    assert rows["instagram-likes"]["discount"] == "Instagram starter kit bundle (10 % off): -€1.77"
    assert rows["instagram-followers"]["discount"] == ""
    assert rows["instagram-likes"]["total"] == "€15.93"


def test_removing_an_item_removes_the_discount(stripe_shop) -> None:
    with session_scope() as db:
        cart = _fill_starter_kit(db)
        story = carts.list_items(db, cart)[2]
        # when the story views line is removed
        carts.remove_item(db, cart, story.id)
        priced = carts.price_cart(db, cart, visitor=None)
    # then likes are back at their list price and nothing is discounted
    assert [(line.quote.unit_price_minor, line.quote.bundle) for line in priced.lines] == [(1200, None), (590, None)]
    assert priced.bundle_savings == []
    assert priced.total_minor == 1790


def test_an_inactive_bundle_discounts_nothing(stripe_shop) -> None:
    with session_scope() as db:
        db.execute(select(ProductBundle)).scalars().first().is_active = False
    with session_scope() as db:
        priced = carts.price_cart(db, _fill_starter_kit(db), visitor=None)
    assert priced.total_minor == 1200 + 590 + 490
    assert all(line.quote.bundle is None for line in priced.lines)


def test_checkout_snapshot_and_receipt_carry_the_discount(stripe_shop) -> None:
    sandbox, sink = stripe_shop
    # given the starter kit in a guest's cart
    with session_scope() as db:
        cart = _fill_starter_kit(db)
        # when the guest checks out
        cs = placement.start_checkout(
            db, cart, customer_email="kit@example.test", user_id=None, visitor=None, base_url="http://shop.test"
        )
        cs_id = cs.id
    # then our row and the Stripe session (over HTTP) total the discounted lines: 1200 + 531 + 441
    with session_scope() as db:
        cs = db.get(type(cs), cs_id)
        assert cs.amount_total_minor == 2172
        remote = sandbox.sessions[cs.stripe_session_id]
        assert remote["session"]["amount_total"] == 2172
        assert [(line["name"], line["unit_amount"], line["quantity"]) for line in remote["lines"]] == [
            ("Instagram Followers", 1200, 1),
            ("Instagram Likes", 531, 1),
            ("Instagram Story Views", 441, 1),
        ]
        assert cs.lines[1]["bundle"]["discount_minor"] == 59
    # when it is paid and the webhook arrives
    assert stripe_shop.pay(cs).status_code == 303
    (completed,) = stripe_shop.events("checkout.session.completed")
    with TestClient(build_api()) as client:
        assert stripe_shop.post(client, completed).status_code == 200
    # then the order and its snapshot keep the discount
    with session_scope() as db:
        order = db.execute(select(Order)).scalars().one()
        assert (order.total_minor, order.charged_minor) == (2172, 2172)
        items = db.execute(select(OrderItem).order_by(OrderItem.id)).scalars().all()
        assert [i.total_minor for i in items] == [1200, 531, 441]
        likes = items[1].snapshot
        assert likes["bundle"] == {
            "slug": "instagram-starter-kit",
            "title": "Instagram starter kit",
            "discount_bps": 1000,
            "unit_discount_minor": 59,
            "discount_minor": 59,
        }
        assert likes["price_breakdown"][-1] == {
            "kind": "bundle",
            "label": "Instagram starter kit bundle (10 % off)",
            "amount_minor": -59,
        }
    # and the receipt names the bundle, its discount, and the labels the customer typed into
    (mail,) = [m for m in list_messages(sink.mailbox_dir) if "receipt" in m.subject]
    assert "Instagram starter kit bundle (10 % off): -€0.59" in mail.text
    assert "Instagram starter kit bundle (10 % off): -€0.49" in mail.text
    assert "Total paid: €21.72" in mail.text
    assert "Post or reel link: https://www.instagram.com/p/bundle1/" in mail.text and "post_link" not in mail.text
    assert "post_link" not in mail.text and "For: username:" not in mail.text


def test_regenerated_link_keeps_the_bundle_discount(stripe_shop) -> None:
    sandbox, _ = stripe_shop
    with session_scope() as db:
        cs = placement.start_checkout(
            db,
            _fill_starter_kit(db),
            customer_email="kit@example.test",
            user_id=None,
            visitor=None,
            base_url="http://shop.test",
        )
        cs_id = cs.id
    with session_scope() as db:
        new = checkout_sessions.regenerate_link(db, cs_id, base_url="http://shop.test")
        assert new.amount_total_minor == 2172
        assert sandbox.sessions[new.stripe_session_id]["session"]["amount_total"] == 2172


def test_add_bundle_adds_every_item_with_its_preset_in_one_call(stripe_shop) -> None:
    # when a guest presses "Add bundle" on the starter kit card
    with session_scope() as db:
        cart = carts.get_or_create_cart(db, user_id=None, guest_token=TOKEN)
        stored = carts.add_bundle(db, cart, "instagram-starter-kit", visitor=None)
        priced = carts.price_cart(db, cart, visitor=None)
    # then the primary product (its featured preset) and both extras (their presets) are in the cart,
    assert [(s.item.configuration["preset"], s.item.configuration["options"]["package"]) for s in stored] == [
        ("popular", ["1000"]),
        ("popular", ["500"]),
        ("popular", ["1000"]),
    ]
    # discounted at once, each waiting for the link only the customer can type
    assert [line.quote.total_minor for line in priced.lines] == [1200, 531, 441]
    assert [sorted(line.errors) for line in priced.lines] == [
        ["fields.username"],
        ["fields.post_link"],
        ["fields.username"],
    ]
    assert not priced.ok


def test_add_bundle_of_an_unknown_bundle_adds_nothing(stripe_shop) -> None:
    with session_scope() as db:
        cart = carts.get_or_create_cart(db, user_id=None, guest_token=TOKEN)
        with pytest.raises(carts.CartError):
            carts.add_bundle(db, cart, "no-such-bundle", visitor=None)
        assert carts.list_items(db, cart) == []


@pytest.mark.parametrize(
    ("unit", "quantity", "bps", "unit_off", "total"),
    [
        pytest.param(495, 3, 1000, 50, 1335, id="49.5 rounds up to 50, per package"),
        pytest.param(494, 1, 1000, 49, 445, id="49.4 rounds down"),
        pytest.param(390, 2, 1500, 59, 662, id="58.5 at 15 % rounds up"),
        pytest.param(1, 1, 1000, 0, 1, id="0.1 of a cent takes nothing off"),
    ],
)
def test_bundle_discount_arithmetic_is_half_up_per_package(unit, quantity, bps, unit_off, total) -> None:
    quote = pricing.Quote(
        product_id=1,
        currency="EUR",
        configuration=pricing.Configuration(),
        quantity=quantity,
        unit_price_minor=unit,
        total_minor=unit * quantity,
        breakdown=[pricing.BreakdownLine("base", "Base price", unit)],
        billing="one_time",
        interval=None,
        interval_count=1,
        service_units=100,
        override_service_id=None,
        experiment=None,
    )
    discounted = pricing.apply_bundle(quote, slug="kit", title="Kit", discount_bps=bps)
    assert (discounted.unit_price_minor, discounted.total_minor) == (unit - unit_off, total)
    assert discounted.total_minor == discounted.unit_price_minor * quantity
    assert (discounted.bundle or {}).get("discount_minor", 0) == unit_off * quantity


def test_a_subscription_line_is_never_discounted() -> None:
    quote = pricing.Quote(
        product_id=1,
        currency="EUR",
        configuration=pricing.Configuration(),
        quantity=1,
        unit_price_minor=2900,
        total_minor=2900,
        breakdown=[],
        billing="subscription",
        interval="month",
        interval_count=1,
        service_units=100,
        override_service_id=None,
        experiment=None,
    )
    assert pricing.apply_bundle(quote, slug="kit", title="Kit", discount_bps=1000) is quote
