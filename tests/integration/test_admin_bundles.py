"""Admin → Bundles: operators compose bundles through `services.bundles.save_bundle` (every
rule checked, nothing stored when one breaks, every save audited with before and after),
and what they save is what the cart discounts. Both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from smplat.db import session_scope
from smplat.models.accounts import Role
from smplat.models.audit import AuditLog
from smplat.models.catalog import ProductBundle, ProductBundleItem
from smplat.services import audit, bundles, carts
from smplat.services.permissions import PermissionDenied
from smplat.services.seed import seed_demo
from smplat.ui.pages.admin.bundles import BundlesAdminState

pytestmark = pytest.mark.integration

OPERATOR = audit.Actor.staff(1, "op@bundles.test", Role.OPERATOR.value, "198.51.100.9")
CUSTOMER = audit.Actor.staff(2, "me@bundles.test", Role.CUSTOMER.value, "198.51.100.10")
VALID = {
    "slug": "tiktok-duo",
    "title": "TikTok duo",
    "description": "Followers plus likes.",
    "primary": "tiktok-followers",
    "discount": "12.5",
    "items_text": "tiktok-views popular",
    "active": True,
}


@pytest.fixture
def seeded(db_url: str) -> str:
    with session_scope() as db:
        seed_demo(db)
    return db_url


def _count(model) -> int:
    with session_scope() as db:
        return db.execute(select(func.count()).select_from(model)).scalar_one()


def test_an_operator_creates_a_bundle_and_the_cart_discounts_it(seeded) -> None:
    # when an operator creates a bundle
    with session_scope() as db:
        created = bundles.save_bundle(db, OPERATOR, None, **VALID)
        bundle_id = created.id
    # then it is stored with its item and preset, and audited with what it holds
    with session_scope() as db:
        bundle = db.get(ProductBundle, bundle_id)
        assert (bundle.slug, bundle.discount_bps, bundle.is_active) == ("tiktok-duo", 1250, True)
        items = db.execute(select(ProductBundleItem).where(ProductBundleItem.bundle_id == bundle_id)).scalars().all()
        assert [i.preset_key for i in items] == ["popular"]
        log = db.execute(select(AuditLog).where(AuditLog.action == "bundle.create")).scalars().one()
        assert (log.entity_type, log.entity_id, log.actor_label) == ("product_bundle", str(bundle_id), OPERATOR.label)
        assert log.data["after"]["items"] == ["tiktok-views:popular"]
        assert log.data["after"]["discount_bps"] == 1250
        assert bundles.form_values(db, bundle_id)["items"] == "tiktok-views popular"
        # and a cart holding both products gets 12.5 % off the views, half up per package
        cart = carts.get_or_create_cart(db, user_id=None, guest_token=carts.sign_guest_token("duo"))
        carts.add_bundle(db, cart, "tiktok-duo", visitor=None)
        priced = carts.price_cart(db, cart, visitor=None)
        views = next(line.quote for line in priced.lines if line.detail.product.slug == "tiktok-views")
        # the seeded viral pack (15 %) holds the same two products: the larger discount wins, none stacks
        assert (views.bundle["slug"], views.bundle["discount_bps"]) == ("tiktok-viral-pack", 1500)


def test_editing_replaces_the_items_and_logs_before_and_after(seeded) -> None:
    with session_scope() as db:
        kit = db.execute(select(ProductBundle).where(ProductBundle.slug == "instagram-starter-kit")).scalar_one()
        kit_id = kit.id
        values = bundles.form_values(db, kit_id)
    assert values["items"] == "instagram-likes popular\ninstagram-story-views popular"
    # when the operator drops story views, changes the discount and pauses it
    with session_scope() as db:
        bundles.save_bundle(
            db,
            OPERATOR,
            kit_id,
            slug=values["slug"],
            title=values["title"],
            description=values["description"],
            primary=values["primary"],
            discount="15",
            items_text="instagram-likes best-value",
            active=False,
        )
    with session_scope() as db:
        rows = (
            db.execute(select(ProductBundleItem.preset_key).where(ProductBundleItem.bundle_id == kit_id))
            .scalars()
            .all()
        )
        assert rows == ["best-value"]
        log = db.execute(select(AuditLog).where(AuditLog.action == "bundle.update")).scalars().one()
        assert log.data["before"] == {
            "discount_bps": 1000,
            "is_active": True,
            "items": ["instagram-likes:popular", "instagram-story-views:popular"],
        }
        assert log.data["after"] == {"discount_bps": 1500, "is_active": False, "items": ["instagram-likes:best-value"]}
        # a paused bundle is off the storefront
        assert [b.slug for b in bundles.list_bundles(db)] == ["tiktok-viral-pack"]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        pytest.param({"slug": "Bad Slug"}, "slug", "Use lowercase letters", id="malformed slug"),
        pytest.param({"slug": "instagram-starter-kit"}, "slug", "Another bundle uses", id="slug in use"),
        pytest.param({"title": ""}, "title", "Give the bundle a title", id="no title"),
        pytest.param({"discount": "0"}, "discount", "from 0.01 to 90", id="no discount"),
        pytest.param({"discount": "95"}, "discount", "from 0.01 to 90", id="too much"),
        pytest.param({"discount": "ten"}, "discount", "from 0.01 to 90", id="not a number"),
        pytest.param({"primary": "no-such-product"}, "primary", "Choose a product", id="unknown primary"),
        pytest.param({"items_text": ""}, "items", "at least one product", id="no items"),
        pytest.param({"items_text": "nope popular"}, "items", "nope: no such product", id="unknown item"),
        pytest.param({"items_text": "tiktok-views huge"}, "items", "no preset 'huge'", id="unknown preset"),
        pytest.param({"items_text": "tiktok-followers popular"}, "items", "primary product is not", id="primary"),
        pytest.param({"items_text": "tiktok-views"}, "items", "Line 1", id="no preset named"),
        pytest.param({"items_text": "tiktok-views popular\ntiktok-views best-value"}, "items", "once", id="twice"),
    ],
)
def test_a_broken_rule_is_shown_beside_its_field_and_nothing_changes(seeded, change, field, message) -> None:
    before = (_count(ProductBundle), _count(ProductBundleItem), _count(AuditLog))
    with session_scope() as db, pytest.raises(bundles.BundleInvalid) as refused:
        bundles.save_bundle(db, OPERATOR, None, **{**VALID, **change})
    assert message in refused.value.errors[field]
    assert (_count(ProductBundle), _count(ProductBundleItem), _count(AuditLog)) == before


def test_a_preset_that_no_longer_prices_is_refused(seeded) -> None:
    from smplat.models.catalog import Product, ProductPreset

    with session_scope() as db:
        views_id = db.execute(select(Product.id).where(Product.slug == "tiktok-views")).scalar_one()
        preset = db.execute(
            select(ProductPreset).where(ProductPreset.product_id == views_id, ProductPreset.key == "popular")
        ).scalar_one()
        preset.selection = {**preset.selection, "options": {"package": "999999"}}
    with session_scope() as db, pytest.raises(bundles.BundleInvalid) as refused:
        bundles.save_bundle(db, OPERATOR, None, **VALID)
    assert "is not a valid configuration" in refused.value.errors["items"]
    assert _count(ProductBundle) == 2


def test_a_customer_cannot_save_a_bundle_and_the_refusal_is_logged(seeded) -> None:
    with session_scope() as db, pytest.raises(PermissionDenied):
        bundles.save_bundle(db, CUSTOMER, None, **VALID)
    assert _count(ProductBundle) == 2
    with session_scope() as db:
        denied = db.execute(select(AuditLog).where(AuditLog.action == audit.DENIED)).scalars().one()
        assert (denied.entity_type, denied.actor_label) == ("product_bundle", CUSTOMER.label)


async def test_the_admin_page_lists_creates_and_shows_errors(seeded, root_state, session_cookie_for) -> None:
    # given an operator on /admin/bundles
    state = await root_state(BundlesAdminState, "/admin/bundles", cookie=session_cookie_for(Role.OPERATOR))
    state.load_bundles()
    assert [(r["title"], r["discount"], r["status"]) for r in state.rows] == [
        ("Instagram starter kit", "10 %", "active"),
        ("TikTok viral pack", "15 %", "active"),
    ]
    assert state.rows[0]["items"] == "Instagram Likes (popular), Instagram Story Views (popular)"
    # when a new bundle is sent with a broken item, the error shows beside it and nothing is stored
    state.new_bundle()
    form = {"slug": "tiktok-duo", "title": "TikTok duo", "description": "", "primary": "tiktok-followers"}
    state.save({**form, "discount": "10", "items": "tiktok-views huge", "active": "on"})
    assert "no preset 'huge'" in state.errors["items"]
    assert _count(ProductBundle) == 2
    # when fixed and sent again, it is saved, listed, and the editor stays on it
    state.save({**form, "discount": "10", "items": "tiktok-views popular", "active": "on"})
    assert state.errors["items"] == "" and "Saved TikTok duo" in state.notice
    assert [r["slug"] for r in state.rows] == ["instagram-starter-kit", "tiktok-viral-pack", "tiktok-duo"]
    assert state.values["items"] == "tiktok-views popular"
