"""The demo seed builds a complete, realistic shop once, and a second run creates nothing."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from smplat.models.accounts import User
from smplat.models.catalog import (
    Product,
    ProductAddOn,
    ProductCustomField,
    ProductMedia,
    ProductOption,
    ProductOptionGroup,
    ProductPlan,
    ProductPreset,
)
from smplat.models.providers import Provider, ProviderService, ServiceRoute
from smplat.services.accounts import verify_password
from smplat.services.secrets_box import decrypt
from smplat.services.seed import DEMO_ACCOUNTS, SANDBOX_API_KEY, SEEDED_TABLES, seed_demo
from smplat.settings import PROJECT_ROOT

pytestmark = pytest.mark.integration

EXPECTED_CREATED = {
    "users": 3,
    "categories": 3,
    "products": 14,  # 10 of the Default type, then auto likes, poll votes, starter package, mentions
    # package + speed on each product but auto likes; comment style; auto likes' posts, delay and
    # length; mentions' audience
    "product_option_groups": 32,
    # 9 x 4 packages + 3 autopilot tiers, 13 x 3 speeds, 2 comment styles; auto likes 4 + 3 + 3 + 2,
    # poll votes 4, starter package 1, mentions 4 + 4 audiences
    "product_options": 105,
    "product_add_ons": 25,
    # target + drip days on each (auto likes: no drip days), custom comments, answer number,
    # mentions' username, hashtag, media, usernames
    "product_custom_fields": 33,
    "product_presets": 27,  # popular + best value, the starter package has one package
    "product_plans": 15,  # one-time on each product, plus the autopilot's monthly subscription
    "product_media": 14,
    "product_bundles": 2,
    "product_bundle_items": 3,
    "providers": 1,
    "provider_services": 20,  # 11 Default / Custom Comments, 9 of the other order types
    "service_routes": 18,  # one per product, two for comments, four for mentions (one per audience)
}


def _row_counts(session: Session) -> dict[str, int]:
    return {m.__tablename__: session.exec(select(func.count()).select_from(m)).one() for m in SEEDED_TABLES}


def test_seed_creates_exact_rows_then_nothing(session: Session) -> None:
    # given an empty, migrated database
    # when the seed runs
    first = seed_demo(session)
    session.commit()

    # then it reports and stores exactly the expected rows
    assert first == EXPECTED_CREATED
    assert _row_counts(session) == EXPECTED_CREATED

    # when it runs again
    second = seed_demo(session)
    session.commit()

    # then nothing new is created
    assert second == {table: 0 for table in EXPECTED_CREATED}
    assert _row_counts(session) == EXPECTED_CREATED


def test_every_product_is_fully_configurable(session: Session) -> None:
    # given the seeded shop
    seed_demo(session)
    session.commit()

    products = session.exec(select(Product).order_by(Product.id)).all()
    assert len(products) == 14
    for product in products:
        # when its configurator pieces are listed
        groups = session.exec(select(ProductOptionGroup).where(ProductOptionGroup.product_id == product.id)).all()
        package = next(g for g in groups if g.key == "package")
        package_options = session.exec(select(ProductOption).where(ProductOption.group_id == package.id)).all()
        add_ons = session.exec(select(ProductAddOn).where(ProductAddOn.product_id == product.id)).all()
        fields = session.exec(select(ProductCustomField).where(ProductCustomField.product_id == product.id)).all()
        presets = session.exec(select(ProductPreset).where(ProductPreset.product_id == product.id)).all()
        plans = session.exec(select(ProductPlan).where(ProductPlan.product_id == product.id)).all()
        media = session.exec(select(ProductMedia).where(ProductMedia.product_id == product.id)).all()
        routes = session.exec(select(ServiceRoute).where(ServiceRoute.product_id == product.id)).all()

        # then every piece is there, priced and consistent
        assert product.status == "active", product.slug
        assert product.currency == "EUR"
        # a subscription order (auto likes) has no delivery speed; every other product has one
        speeds = {"speed"} if product.slug != "instagram-auto-likes" else set()
        assert {g.key for g in groups} >= {"package"} | speeds, product.slug
        assert len(package_options) in ((1,) if product.slug == "instagram-starter-package" else (3, 4)), product.slug
        assert min(o.price_delta_minor for o in package_options) == 0  # base price is the smallest package
        for option in package_options:
            assert option.quantity is not None and option.quantity > 0
            if product.slug in ("instagram-auto-likes", "instagram-starter-package"):  # no "a day" figure
                assert set(option.blueprint) == {"tagline", "delivery_sla", "hero_image"}
                continue
            assert set(option.blueprint) == {"tagline", "delivery_sla", "hero_image", "calculator"}
            assert option.blueprint["calculator"]["expression"] == "amount / days"
        assert len(add_ons) in (1, 2, 3), product.slug
        assert ("drip_days" in {f.key for f in fields}) == bool(speeds), product.slug
        assert any(f.required and f.regex_pattern for f in fields), product.slug
        assert len(presets) == min(2, len(package_options)) and sum(p.is_featured for p in presets) == 1
        assert "one-time" in {p.key for p in plans}
        assert len(media) == 1 and media[0].is_primary and media[0].url == f"/products/{product.slug}.svg"
        assert len(routes) in (1, 2, 4)


def test_add_on_modes_plans_and_visibility_rules(session: Session) -> None:
    # given the seeded shop
    seed_demo(session)
    session.commit()

    # when add-ons, plans and conditional fields are read
    modes = {a.pricing_mode for a in session.exec(select(ProductAddOn)).all()}
    override = session.exec(select(ProductAddOn).where(ProductAddOn.pricing_mode == "service_override")).one()
    premium = session.get(ProviderService, override.provider_service_id)
    subscription_plans = session.exec(select(ProductPlan).where(ProductPlan.billing == "subscription")).all()
    conditional = {
        f.key: f.visibility_rules for f in session.exec(select(ProductCustomField)).all() if f.visibility_rules
    }

    # then all three pricing modes are demonstrated, the override points at a real service
    assert modes == {"flat", "percentage", "service_override"}
    assert premium is not None and premium.external_service_id == "102"
    assert [(p.key, p.interval, p.price_minor) for p in subscription_plans] == [("monthly", "month", 2900)]
    assert conditional["custom_comments"] == {"match": "all", "conditions": [{"option": "style:custom"}]}
    assert conditional["drip_days"] == {"match": "all", "conditions": [{"option": "speed:gradual"}]}


@pytest.mark.parametrize(
    ("product_slug", "field_key", "good", "bad"),
    [
        pytest.param("instagram-followers", "username", "@my.brand_01", "my brand!", id="instagram-handle"),
        pytest.param(
            "instagram-likes",
            "post_link",
            "https://www.instagram.com/p/Cx1AbC2dEf/",
            "https://example.com/p/x",
            id="instagram-post",
        ),
        pytest.param("tiktok-followers", "username", "@creator.daily", "@x", id="tiktok-handle"),
        pytest.param(
            "tiktok-views",
            "video_link",
            "https://www.tiktok.com/@you/video/7301234567890",
            "https://tiktok.com/",
            id="tiktok-video",
        ),
        pytest.param(
            "youtube-views", "video_link", "https://youtu.be/dQw4w9WgXcQ", "https://vimeo.com/123", id="youtube-video"
        ),
        pytest.param(
            "youtube-subscribers",
            "channel_link",
            "https://www.youtube.com/@mychannel",
            "https://www.youtube.com/",
            id="youtube-channel",
        ),
    ],
)
def test_field_regexes_compile_and_discriminate(
    session: Session, product_slug: str, field_key: str, good: str, bad: str
) -> None:
    # given the seeded field
    seed_demo(session)
    session.commit()
    product = session.exec(select(Product).where(Product.slug == product_slug)).one()
    field = session.exec(
        select(ProductCustomField).where(
            ProductCustomField.product_id == product.id, ProductCustomField.key == field_key
        )
    ).one()

    # when its pattern is compiled / then it accepts the good value and refuses the bad one
    pattern = re.compile(field.regex_pattern)
    assert pattern.fullmatch(good) is not None
    assert pattern.fullmatch(bad) is None
    assert field.regex_message != ""


def test_all_seeded_patterns_compile(session: Session) -> None:
    seed_demo(session)
    session.commit()
    patterns = [f.regex_pattern for f in session.exec(select(ProductCustomField)).all() if f.regex_pattern]
    assert len(patterns) == 18  # a target on each of the 14 products, four mention fields
    for pattern in patterns:
        re.compile(pattern)


def test_demo_accounts_roles_and_passwords(session: Session) -> None:
    # given the seeded accounts
    seed_demo(session)
    session.commit()

    # when they are read back
    users = {u.email: u for u in session.exec(select(User)).all()}

    # then each has its role, its name and a hash (not the password) that verifies
    assert set(users) == {email for email, *_ in DEMO_ACCOUNTS}
    for email, password, role, full_name in DEMO_ACCOUNTS:
        user = users[email]
        assert (user.role, user.full_name, user.is_active) == (role, full_name, True)
        assert user.password_hash.startswith("$argon2id$")
        assert verify_password(user.password_hash, password) is True
    assert [users[e].role for e in ("admin@smplat.local", "operator@smplat.local", "client@smplat.local")] == [
        "admin",
        "operator",
        "customer",
    ]


def test_sandbox_provider_key_is_encrypted_and_services_route(session: Session) -> None:
    # given the seeded provider
    seed_demo(session)
    session.commit()
    provider = session.exec(select(Provider).where(Provider.slug == "sandbox-panel")).one()

    # then the key is stored encrypted and decrypts with the app secret
    assert SANDBOX_API_KEY not in provider.api_key_encrypted
    assert decrypt(provider.api_key_encrypted) == SANDBOX_API_KEY
    assert provider.base_url == "http://127.0.0.1:8091/api/v2"

    # and every route points at an active service of that provider
    routes = session.exec(select(ServiceRoute)).all()
    services = {s.id: s for s in session.exec(select(ProviderService)).all()}
    assert len(routes) == 18
    assert all(services[r.provider_service_id].provider_id == provider.id for r in routes)
    default_ids = {"101", "102", "103", "104", "105", "106", "201", "202", "203", "301", "302"}
    typed_ids = {str(n) for n in range(401, 410)}  # one service of each other order type
    assert {s.external_service_id for s in services.values()} == default_ids | typed_ids
    routed_types = {services[r.provider_service_id].type for r in routes}
    assert routed_types == {
        "Default",
        "Custom Comments",
        "Subscriptions",
        "Poll",
        "Package",
        "Mentions User Followers",
        "Mentions Hashtag",
        "Mentions Media Likers",
        "Mentions Custom List",
    }


def test_media_files_exist_and_are_small() -> None:
    # the seed points media rows at these files; the storefront serves them from assets/
    from smplat.services.seed import PRODUCTS

    for spec in PRODUCTS:
        path = PROJECT_ROOT / "assets" / "products" / f"{spec.slug}.svg"
        assert path.exists(), path
        assert path.stat().st_size < 2048, path
        assert path.read_text().startswith("<svg ")
