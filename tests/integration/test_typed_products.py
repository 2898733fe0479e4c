"""Every order type can be sold: a seeded storefront product of each type goes cart →
checkout (Stripe sandbox, signed webhook) → fulfilment engine → the panel sandbox over HTTP,
which receives that type's own parameters; the status sync tracks it to its end. Bad input
is refused by pricing with words a customer can act on, and nothing is stored. Gradual
delivery is offered only where a routed service drip-feeds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from smplat.api.app import build_api
from smplat.db import session_scope
from smplat.integrations.dialects import PanelDialect
from smplat.models.base import utcnow
from smplat.models.carts import CartItem
from smplat.models.orders import Order, OrderItem
from smplat.models.providers import ProviderOrder, ProviderService
from smplat.services import carts, catalog, client_orders
from smplat.services.fulfillment import engine, status_sync
from smplat.services.pricing import ConfigurationInvalid
from tests.checkout_factory import GUEST_TOKEN, start_guest_checkout
from tests.fulfillment_factory import seed_with_panel

pytestmark = pytest.mark.integration

POST = "https://www.instagram.com/p/Cx1AbC2dEf/"
LIKED_POST = "https://www.instagram.com/p/Zz9YyX8wVu/"
HUNDRED = "\n".join(f"@friend_{n}" for n in range(100))
TEN_COMMENTS = "\n".join(f"Love this {n}!" for n in range(10))


def _config(options: dict, fields: dict) -> dict:
    return {"options": options, "add_ons": [], "plan": "one-time", "fields": fields}


# (slug, configuration, panel order type, what the panel order must hold)
CASES = [
    (
        "instagram-auto-likes",
        _config(
            {"package": "250", "posts": "10", "delay": "15", "expiry_days": "30"},
            {"username": "@brand"},
        ),
        "Subscriptions",
        {"link": "brand", "quantity": 250, "min": 250, "max": 250, "posts": 10, "delay": 15},
    ),
    (
        "instagram-poll-votes",
        _config({"package": "250", "speed": "standard"}, {"post_link": POST, "answer_number": "2"}),
        "Poll",
        {"link": POST, "quantity": 250, "answer_number": "2"},
    ),
    (
        "instagram-starter-package",
        _config({"package": "1", "speed": "standard"}, {"username": "@newbrand"}),
        "Package",
        {"link": "https://www.instagram.com/newbrand/", "quantity": 1},
    ),
    (
        "instagram-comments",
        _config(
            {"package": "10", "speed": "standard", "style": "custom"},
            {"post_link": POST, "custom_comments": TEN_COMMENTS},
        ),
        "Custom Comments",
        {"link": POST, "quantity": 10, "comments": TEN_COMMENTS.splitlines()},
    ),
    (
        "instagram-mentions",
        _config(
            {"package": "100", "speed": "standard", "audience": "followers"},
            {"post_link": POST, "username": "@similar"},
        ),
        "Mentions User Followers",
        {"link": POST, "quantity": 100, "username": "similar"},
    ),
    (
        "instagram-mentions",
        _config(
            {"package": "250", "speed": "express", "audience": "hashtag"}, {"post_link": POST, "hashtag": "#travel"}
        ),
        "Mentions Hashtag",
        {"link": POST, "quantity": 250, "hashtag": "travel"},
    ),
    (
        "instagram-mentions",
        _config(
            {"package": "100", "speed": "standard", "audience": "likers"}, {"post_link": POST, "media": LIKED_POST}
        ),
        "Mentions Media Likers",
        {"link": POST, "quantity": 100, "media": LIKED_POST},
    ),
    (
        "instagram-mentions",
        _config(
            {"package": "100", "speed": "standard", "audience": "custom"}, {"post_link": POST, "usernames": HUNDRED}
        ),
        "Mentions Custom List",
        {"link": POST, "quantity": 100, "usernames": [f"friend_{n}" for n in range(100)]},
    ),
]


def _buy(shop, slug: str, configuration: dict) -> None:
    """A guest's cart → checkout session → paid at the Stripe sandbox → signed webhook."""
    cs = start_guest_checkout(configuration=configuration, slug=slug)
    assert shop.pay(cs).status_code == 303
    (completed,) = shop.events("checkout.session.completed")
    with TestClient(build_api()) as client:
        assert shop.post(client, completed).status_code == 200


def _panel_ready(panel) -> None:
    with session_scope() as db:
        seed_with_panel(db, panel.base_url)
    panel.state.set_knobs(extra_types=True, polls_to_complete=2)


@pytest.mark.parametrize(
    "slug,configuration,order_type,expected",
    CASES,
    ids=["subscription", "poll", "package", "custom-comments", "mentions-followers", "mentions-hashtag",
         "mentions-likers", "mentions-custom-list"],
)  # fmt: skip
def test_each_order_type_is_bought_end_to_end(stripe_shop, panel, slug, configuration, order_type, expected):
    # given the seeded shop, its sandbox provider pointed at the panel sandbox listing every type
    _panel_ready(panel)
    before = utcnow()
    # when a guest buys the product and the engine runs
    _buy(stripe_shop, slug, configuration)
    assert engine.run_fulfillment(session_scope)["submitted"] == 1
    # then the panel got one order of that type with its own parameters, and only those
    [order] = panel.state.orders.values()
    assert order.kind == order_type
    add = next(r for r in panel.state.requests if "service" in r["params"])
    allowed = set(PanelDialect.from_stored({"lookup_by_ref": True}).params_for(order_type))
    assert set(add["params"]) - {"key", "action", "service", "ref"} <= allowed
    for name, value in expected.items():
        actual = getattr(order, name) if name in ("link", "quantity") else order.extra[name]
        assert actual == value, name
    if order_type == "Subscriptions":
        # 30 days from the checkout, as the panel's dd/mm/yyyy
        assert order.extra["expiry"] in {
            (moment + timedelta(days=30)).strftime("%d/%m/%Y") for moment in (before, utcnow())
        }
    # and the status sync follows it to its end: a subscription runs as "active"
    status_sync.sync_statuses(session_scope)
    with session_scope() as db:
        item = db.execute(select(OrderItem)).scalars().one()
        assert item.status == ("active" if order_type == "Subscriptions" else "processing")
        if order_type == "Subscriptions":
            order_row = db.execute(select(Order)).scalars().one()
            line = client_orders.order_detail(db, order_row)["lines"][0]
            assert (line["status"], line["status_label"]) == ("active", "Active subscription")
    status_sync.sync_statuses(session_scope)
    with session_scope() as db:
        item = db.execute(select(OrderItem)).scalars().one()
        po = db.execute(select(ProviderOrder)).scalars().one()
        assert (po.status, po.flagged_at) == ("completed", None)
        assert (item.status, item.delivered_quantity) == ("completed", expected["quantity"])


def test_drip_feed_is_tracked_run_by_run_to_its_end(stripe_shop, panel):
    # given a gradual order over 5 days of a product whose service drip-feeds
    _panel_ready(panel)
    _buy(
        stripe_shop,
        "instagram-followers",
        _config({"package": "1000", "speed": "gradual"}, {"username": "@brand", "drip_days": "5"}),
    )
    # when the engine sends it
    assert engine.run_fulfillment(session_scope)["submitted"] == 1
    [order] = panel.state.orders.values()
    assert (order.quantity, order.runs, order.interval) == (1000, 5, 1440)  # 200 a day, 5 days
    status_sync.sync_statuses(session_scope)
    with session_scope() as db:
        order_row = db.execute(select(Order)).scalars().one()
        po = db.execute(select(ProviderOrder)).scalars().one()
        started = po.submitted_at
        # then the customer sees it delivering step by step, and the runs done by the clock
        line = client_orders.order_detail(db, order_row, now=started + timedelta(days=2, minutes=1))["lines"][0]
        assert (line["status"], line["runs"]) == ("active", "3 of 5 runs (one every 24 h)")
        line = client_orders.order_detail(db, order_row, now=started + timedelta(days=9))["lines"][0]
        assert line["runs"] == "5 of 5 runs (one every 24 h)"
    # and it ends completed with every run done
    status_sync.sync_statuses(session_scope)
    with session_scope() as db:
        order_row = db.execute(select(Order)).scalars().one()
        line = client_orders.order_detail(db, order_row, now=started)["lines"][0]
        assert (line["status"], line["runs"], line["delivered"]) == ("completed", "5 of 5 runs (one every 24 h)", 1000)


# --- bad input: a clear error, nothing stored -------------------------------------------------

BAD = [
    (
        "instagram-mentions",
        _config(
            {"package": "100", "speed": "standard", "audience": "custom"},
            {"post_link": POST, "usernames": "@a\n@b\n@c"},
        ),
        "fields.usernames",
        "Give 100 usernames, one per line (you gave 3).",
    ),
    (
        "instagram-mentions",
        _config(
            {"package": "100", "speed": "standard", "audience": "custom"},
            {"post_link": POST, "usernames": HUNDRED.replace("@friend_7\n", "not a name!\n")},
        ),
        "fields.usernames",
        "Put one Instagram username per line, e.g. @friend_one.",
    ),
    (
        "instagram-mentions",
        _config(
            {"package": "100", "speed": "standard", "audience": "hashtag"}, {"post_link": POST, "hashtag": "two words"}
        ),
        "fields.hashtag",
        "Use one hashtag of letters, numbers or underscores, e.g. #travel.",
    ),
    (
        "instagram-poll-votes",
        _config({"package": "100", "speed": "standard"}, {"post_link": POST, "answer_number": "7"}),
        "fields.answer_number",
        "Answer to vote for must be at most 4.",
    ),
    (
        "instagram-auto-likes",
        _config({"package": "100", "posts": "10", "delay": "7", "expiry_days": "30"}, {"username": "@brand"}),
        "options.delay",
        "'7' is not a when likes start of this product.",
    ),
    (
        "instagram-comments",
        _config(
            {"package": "25", "speed": "standard", "style": "custom"},
            {"post_link": POST, "custom_comments": TEN_COMMENTS},
        ),
        "fields.custom_comments",
        "Give 25 comments, one per line (you gave 10).",
    ),
    (
        "instagram-likes",  # forced through the API/cart path: no route of likes drip-feeds
        _config({"package": "1000", "speed": "gradual"}, {"post_link": POST}),
        "options.speed",
        "Gradual delivery is not available for this product.",
    ),
]


@pytest.mark.parametrize(
    "slug,configuration,where,message",
    BAD,
    ids=["too-few-usernames", "bad-username", "bad-hashtag", "answer-out-of-range", "bad-delay",
         "comments-not-the-package", "gradual-without-drip-feed"],
)  # fmt: skip
def test_bad_input_is_refused_with_clear_words_and_nothing_stored(stripe_shop, slug, configuration, where, message):
    with session_scope() as db:
        cart = carts.get_or_create_cart(db, user_id=None, guest_token=GUEST_TOKEN)
        cart_id = cart.id
    with pytest.raises(ConfigurationInvalid) as refused, session_scope() as db:
        cart = carts.get_or_create_cart(db, user_id=None, guest_token=GUEST_TOKEN)
        carts.add_item(db, cart, slug, configuration, 1, visitor=carts.visitor_key(GUEST_TOKEN))
    assert refused.value.errors.get(where) == message, refused.value.errors
    with session_scope() as db:
        assert (
            db.execute(select(func.count()).select_from(CartItem).where(CartItem.cart_id == cart_id)).scalar_one() == 0
        )


def test_gradual_delivery_is_offered_only_where_a_routed_service_drip_feeds(stripe_shop):
    with session_scope() as db:
        speeds = {
            slug: [o.key for g, opts in catalog.get_product_detail(db, slug).groups if g.key == "speed" for o in opts]
            for slug in ("instagram-followers", "instagram-likes", "tiktok-views", "instagram-poll-votes")
        }
        assert speeds == {
            "instagram-followers": ["standard", "express", "gradual"],  # service 101 drip-feeds
            "instagram-likes": ["standard", "express"],  # service 103 does not
            "tiktok-views": ["standard", "express", "gradual"],
            "instagram-poll-votes": ["standard", "express"],
        }
        # the admin still sees (and may edit) the option; pricing refuses it all the same
        admin = catalog.get_product_detail(db, "instagram-likes", include_inactive=True)
        assert [o.key for g, opts in admin.groups if g.key == "speed" for o in opts][-1] == "gradual"
        # when an operator routes likes to a service with drip-feed, gradual is offered
        likes_service = (
            db.execute(select(ProviderService).where(ProviderService.external_service_id == "103")).scalars().one()
        )
        likes_service.dripfeed = True
        db.add(likes_service)
    with session_scope() as db:
        detail = catalog.get_product_detail(db, "instagram-likes")
        assert detail.dripfeed_available and "gradual" in [
            o.key for g, opts in detail.groups if g.key == "speed" for o in opts
        ]
