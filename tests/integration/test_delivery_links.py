"""Delivery links and handles through the configurator and the cart (the product page's real
handler): what the customer typed is stored in the platform's canonical form, and what the
provider would receive (the checkout's delivery spec) is that form; a link of another site is
refused and stores nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from smplat.db import session_scope
from smplat.models.carts import CartItem
from smplat.services import carts, pricing
from smplat.services.checkout import placement
from smplat.services.seed import seed_demo
from smplat.ui.pages.storefront.product import ProductState

pytestmark = pytest.mark.integration

# the catalog's own words for these fields (seed), shown beside the field
IG_POST_HELP = "Paste the link of a public post or reel, e.g. https://www.instagram.com/p/Cx1AbC2dEf/."
YT_VIDEO_HELP = "Paste the link of a public video or short, e.g. https://youtu.be/dQw4w9WgXcQ."


@pytest.fixture
def seeded(db_url: str) -> str:
    with session_scope() as db:
        seed_demo(db)
    return db_url


async def page_of(shopper_state, slug: str) -> ProductState:
    state = await shopper_state(
        ProductState, f"/services/{slug}", params={"slug": slug}, cart_token=carts.new_guest_token()
    )
    state.load_product()
    return state


def stored_lines() -> list[tuple[dict, str]]:
    """(typed fields as stored, delivery link a provider would get) of every cart line."""
    with session_scope() as db:
        result = []
        for item in db.execute(select(CartItem).order_by(CartItem.id)).scalars():
            detail = carts.DetailCache(db).get(item.product_id)
            quote = pricing.price_for(db, detail, item.configuration, quantity=item.quantity)
            result.append((dict(item.configuration["fields"]), placement.delivery_spec(detail, quote).link))
        return result


@pytest.mark.parametrize(
    ("slug", "key", "typed", "stored", "delivered"),
    [
        (
            "instagram-followers",
            "username",
            "https://www.instagram.com/your.brand/?hl=en",
            "@your.brand",
            "https://www.instagram.com/your.brand/",
        ),
        (
            "tiktok-followers",
            "username",
            "http://m.tiktok.com/@brand_shop",
            "@brand_shop",
            "https://www.tiktok.com/@brand_shop",
        ),
        (
            "instagram-likes",
            "post_link",
            "instagram.com/p/Cx1AbC2dEf?igsh=MXQ2&utm_source=ig",
            "https://www.instagram.com/p/Cx1AbC2dEf/",
            "https://www.instagram.com/p/Cx1AbC2dEf/",
        ),
        (
            "youtube-views",
            "video_link",
            "https://youtu.be/dQw4w9WgXcQ?si=tracking",
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        ),
    ],
    ids=["profile link for a handle", "tiktok m. host", "post link with tracking", "youtu.be short link"],
)
async def test_a_typed_link_is_stored_and_delivered_in_canonical_form(
    seeded, shopper_state, slug, key, typed, stored, delivered
):
    state = await page_of(shopper_state, slug)

    state.add_to_cart({f"field:{key}": typed})

    assert state.added is True, state.form_error
    assert stored_lines() == [({key: stored}, delivered)]


@pytest.mark.parametrize(
    ("slug", "key", "typed", "message"),
    [
        (
            "instagram-followers",
            "username",
            "https://www.tiktok.com/@brand",
            "Instagram username: Use a link to Instagram (instagram.com).",
        ),
        ("instagram-likes", "post_link", "https://instagram.com.evil.example/p/Cx1AbC2dEf/", IG_POST_HELP),
        ("instagram-likes", "post_link", "https://www.instagram.com/yourbrand/", IG_POST_HELP),
        ("youtube-views", "video_link", "javascript:alert(1)", YT_VIDEO_HELP),
    ],
    ids=["another platform's profile", "look-alike host", "profile where a post is asked", "script link"],
)
async def test_a_link_of_another_site_or_shape_is_refused_and_nothing_is_stored(
    seeded, shopper_state, slug, key, typed, message
):
    state = await page_of(shopper_state, slug)

    state.add_to_cart({f"field:{key}": typed})

    assert state.added is False
    assert next(f for f in state.fields if f["key"] == key)["error"] == message
    with session_scope() as db:
        assert db.execute(select(CartItem.id)).first() is None
