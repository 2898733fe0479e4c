"""The catalog editor service, on both databases: what the editor saves is what the storefront
reads and prices once published; drafts stay invisible; publishing validates; stale saves are
refused; every change is audited; only staff holding EDIT_CATALOG may edit."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from smplat import db as smplat_db
from smplat.models.audit import AuditLog
from smplat.models.catalog import (
    Category,
    Product,
    ProductAddOn,
    ProductCustomField,
    ProductMedia,
    ProductOption,
    ProductOptionGroup,
    ProductPlan,
    ProductPreset,
    ProductStatus,
)
from smplat.models.providers import Provider, ProviderService, ServiceRoute
from smplat.services import catalog, catalog_editor, pricing, search
from smplat.services.audit import Actor
from smplat.services.catalog_drafts import StaleEdit
from smplat.services.catalog_editor import EditorError, PublishRefused
from smplat.services.errors import ErrorCode
from smplat.services.permissions import PermissionDenied

pytestmark = pytest.mark.integration

OPERATOR = Actor(None, "ops@example.com", "operator")
CUSTOMER = Actor(None, "someone@example.com", "customer")


def _shop(session: Session) -> tuple[Category, ProviderService, ProviderService]:
    category = Category(slug="instagram", name="Instagram", platform="instagram")
    provider = Provider(name="Panel A", slug="panel-a", base_url="https://panel.invalid/api/v2", is_active=True)
    session.add_all([category, provider])
    session.flush()
    cheap = ProviderService(
        provider_id=provider.id, external_service_id="101", name="IG followers", rate_per_1000=Decimal("2.00")
    )
    premium = ProviderService(
        provider_id=provider.id,
        external_service_id="202",
        name="IG followers premium",
        rate_per_1000=Decimal("4.00"),
    )
    session.add_all([cheap, premium])
    session.commit()
    return category, cheap, premium


def _build(session: Session, category: Category, premium: ProviderService, slug: str = "ig-growth") -> Product:
    """Create a product through the editor: a package group, a speed group and three add-ons."""
    product = catalog_editor.create_product(
        session,
        OPERATOR,
        {
            "category_id": category.id,
            "title": "Instagram Growth",
            "slug": slug,
            "kind": "followers",
            "platform": "instagram",
            "unit_label": "followers",
            "min_quantity": "1000",
            "max_quantity": "5000",
            "base_price": "0",
            "tagline": "Real growth",
        },
    )
    v = product.version
    package = catalog_editor.save_group(
        session,
        OPERATOR,
        product.id,
        v,
        {"key": "package", "name": "Package size", "selection": "single", "required": "on"},
    )
    v += 1
    catalog_editor.save_option(
        session,
        OPERATOR,
        product.id,
        v,
        package.id,
        {
            "key": "1000",
            "label": "1,000 followers",
            "price": "10.00",
            "quantity": "1000",
            "sort_order": "1",
            "tagline": "A solid start",
            "delivery_sla": "2 days",
            "calculator": "amount / days",
            "sample_inputs": "amount=1000, days=4",
        },
    )
    v += 1
    catalog_editor.save_option(
        session,
        OPERATOR,
        product.id,
        v,
        package.id,
        {"key": "5000", "label": "5,000 followers", "price": "40.00", "quantity": "5000", "sort_order": "2"},
    )
    v += 1
    speed = catalog_editor.save_group(
        session, OPERATOR, product.id, v, {"key": "extras", "name": "Extras", "selection": "multi", "required": ""}
    )
    v += 1
    catalog_editor.save_option(
        session, OPERATOR, product.id, v, speed.id, {"key": "story", "label": "Story mention", "price": "2.50"}
    )
    v += 1
    catalog_editor.save_add_on(
        session,
        OPERATOR,
        product.id,
        v,
        {"key": "priority", "label": "Priority start", "pricing_mode": "flat", "amount": "3"},
    )
    v += 1
    catalog_editor.save_add_on(
        session,
        OPERATOR,
        product.id,
        v,
        {"key": "retention", "label": "Retention guard", "pricing_mode": "percentage", "percent": "15"},
    )
    v += 1
    catalog_editor.save_add_on(
        session,
        OPERATOR,
        product.id,
        v,
        {
            "key": "premium",
            "label": "Premium accounts",
            "pricing_mode": "service_override",
            "amount": "5",
            "provider_service_id": str(premium.id),
        },
    )
    # where to deliver: the account handle (the Fields tab's builder is tested on its own)
    session.add(
        ProductCustomField(
            product_id=product.id, key="username", label="Instagram account", field_type="handle", required=True
        )
    )
    session.commit()
    session.refresh(product)
    assert product.version == v + 1
    return product


def _route(session: Session, product_id: int, service: ProviderService, **extra) -> ServiceRoute:
    route = ServiceRoute(product_id=product_id, provider_service_id=service.id, **extra)
    session.add(route)
    session.commit()
    return route


def _live(session: Session, slug: str) -> catalog.ProductDetail | None:
    session.expire_all()
    return catalog.get_product_detail(session, slug)


def test_round_trip_what_the_editor_saves_is_what_the_storefront_sells(session: Session) -> None:
    category, cheap, premium = _shop(session)
    product = _build(session, category, premium)
    _route(session, product.id, cheap)
    assert _live(session, "ig-growth") is None  # a draft is not for sale

    live = catalog_editor.publish(session, OPERATOR, product.id, product.version)
    session.commit()
    assert live.id == product.id and live.status == ProductStatus.ACTIVE.value and live.published_at is not None

    detail = _live(session, "ig-growth")
    assert detail is not None
    assert [(g.key, g.name, g.selection, g.required) for g, _ in detail.groups] == [
        ("package", "Package size", "single", True),
        ("extras", "Extras", "multi", False),
    ]
    assert [(o.key, o.label, o.price_delta_minor, o.quantity) for o in detail.groups[0][1]] == [
        ("1000", "1,000 followers", 1000, 1000),
        ("5000", "5,000 followers", 4000, 5000),
    ]
    assert detail.groups[0][1][0].blueprint == {
        "tagline": "A solid start",
        "delivery_sla": "2 days",
        "calculator": {"expression": "amount / days", "sample_inputs": {"amount": 1000, "days": 4}},
    }
    assert [
        (a.key, a.pricing_mode, a.amount_minor, a.percentage_bps, a.provider_service_id) for a in detail.add_ons
    ] == [
        ("priority", "flat", 300, 0, None),
        ("retention", "percentage", 0, 1500, None),
        ("premium", "service_override", 500, 0, premium.id),
    ]
    quote = pricing.price_for(
        session,
        detail,
        {
            "options": {"package": "5000", "extras": ["story"]},
            "add_ons": ["priority", "retention", "premium"],
            "fields": {"username": "@brand"},
        },
        quantity=2,
    )
    # 40.00 + 2.50 = 42.50; + 3.00 flat + 15 % of 42.50 (6.38 rounded half up) + 5.00 override
    assert quote.unit_price_minor == 4250 + 300 + 638 + 500
    assert quote.total_minor == 2 * quote.unit_price_minor
    assert quote.override_service_id == premium.id and quote.service_units == 5000
    assert "ig-growth" in {c.slug for c in catalog.list_product_cards(session)}


def test_a_draft_of_a_published_product_leaves_the_storefront_alone_until_published(session: Session) -> None:
    category, cheap, premium = _shop(session)
    product = _build(session, category, premium)
    _route(session, product.id, cheap)
    published = catalog_editor.publish(session, OPERATOR, product.id, product.version)
    session.commit()
    premium_add_on_id = session.execute(select(ProductAddOn.id).where(ProductAddOn.key == "premium")).scalar_one()
    addon_route = _route(session, published.id, premium, add_on_id=premium_add_on_id, priority=50)

    draft = catalog_editor.open_draft(session, OPERATOR, published.id)
    session.commit()
    assert draft.id != published.id and draft.draft_of_id == published.id and draft.status == "draft"
    assert catalog_editor.open_draft(session, OPERATOR, published.id).id == draft.id  # reused, not copied twice
    # every child was copied
    assert (
        session.execute(
            select(func.count()).select_from(ProductAddOn).where(ProductAddOn.product_id == draft.id)
        ).scalar_one()
        == 3
    )

    # edit the draft: a new price, a new option, one add-on less, a new title
    group = session.execute(
        select(ProductOptionGroup).where(ProductOptionGroup.product_id == draft.id, ProductOptionGroup.key == "package")
    ).scalar_one()
    option = session.execute(
        select(ProductOption).where(ProductOption.group_id == group.id, ProductOption.key == "1000")
    ).scalar_one()
    v = draft.version
    catalog_editor.save_option(
        session,
        OPERATOR,
        draft.id,
        v,
        group.id,
        {"key": "1000", "label": "1,000 followers", "price": "12", "quantity": "1000"},
        option.id,
    )
    catalog_editor.save_option(
        session,
        OPERATOR,
        draft.id,
        v + 1,
        group.id,
        {"key": "2500", "label": "2,500 followers", "price": "25", "quantity": "2500", "sort_order": "3"},
    )
    retention = session.execute(
        select(ProductAddOn.id).where(ProductAddOn.product_id == draft.id, ProductAddOn.key == "retention")
    ).scalar_one()
    catalog_editor.delete_add_on(session, OPERATOR, draft.id, v + 2, retention)
    values = {
        "category_id": category.id,
        "title": "Instagram Growth Pro",
        "slug": "ig-growth",
        "kind": "followers",
        "platform": "instagram",
        "unit_label": "followers",
        "min_quantity": "1000",
        "max_quantity": "5000",
        "base_price": "0",
        "seo_title": "Buy Instagram followers that stay",
        "meta_description": "Real-looking followers, delivered gradually.",
        "social_image_url": "/media/growth-social.png",
    }
    catalog_editor.save_details(session, OPERATOR, draft.id, v + 3, values)
    session.commit()

    # the storefront still sells the published version, and the draft is nowhere to be found
    live = _live(session, "ig-growth")
    assert live.product.title == "Instagram Growth" and live.product.id == published.id
    assert [o.price_delta_minor for o in live.groups[0][1]] == [1000, 4000]
    assert {a.key for a in live.add_ons} == {"priority", "retention", "premium"}
    cards = catalog.list_product_cards(session)
    assert [c.id for c in cards] == [published.id]
    found = search.search_catalog(session, search.parse_params({"q": "growth"}))
    assert draft.id not in {c.id for c in found.cards} and published.id in {c.id for c in found.cards}
    assert catalog.get_product_detail(session, draft.slug) is None

    session.refresh(draft)
    live_row = catalog_editor.publish(session, OPERATOR, draft.id, draft.version)
    session.commit()
    assert live_row.id == published.id and live_row.slug == "ig-growth"
    assert session.get(Product, draft.id) is None  # the draft is gone
    # the SEO fields the details form saved are the live product's now
    assert (live_row.seo_title, live_row.meta_description, live_row.social_image_url) == (
        "Buy Instagram followers that stay",
        "Real-looking followers, delivered gradually.",
        "/media/growth-social.png",
    )
    live = _live(session, "ig-growth")
    assert live.product.title == "Instagram Growth Pro"
    assert [(o.key, o.price_delta_minor) for o in live.groups[0][1]] == [("1000", 1200), ("5000", 4000), ("2500", 2500)]
    assert {a.key for a in live.add_ons} == {"priority", "premium"}
    # the add-on the route points at kept its id: the route survives the publish
    assert session.get(ServiceRoute, addon_route.id) is not None
    assert (
        session.execute(select(ProductAddOn.id).where(ProductAddOn.key == "premium")).scalar_one() == premium_add_on_id
    )
    assert [c.id for c in catalog.list_product_cards(session)] == [published.id]


def test_discard_draft_and_edited_slug_is_published(session: Session) -> None:
    category, cheap, premium = _shop(session)
    product = _build(session, category, premium)
    _route(session, product.id, cheap)
    published = catalog_editor.publish(session, OPERATOR, product.id, product.version)
    session.commit()
    draft = catalog_editor.open_draft(session, OPERATOR, published.id)
    session.commit()
    catalog_editor.discard_draft(session, OPERATOR, draft.id, draft.version)
    session.commit()
    assert session.get(Product, draft.id) is None and _live(session, "ig-growth") is not None

    draft = catalog_editor.open_draft(session, OPERATOR, published.id)
    values = {
        "category_id": category.id,
        "title": "Instagram Growth",
        "slug": "instagram-growth",
        "min_quantity": "1000",
        "max_quantity": "5000",
        "base_price": "0",
        "platform": "instagram",
        "kind": "followers",
    }
    catalog_editor.save_details(session, OPERATOR, draft.id, draft.version, values)
    session.commit()
    session.refresh(draft)
    catalog_editor.publish(session, OPERATOR, draft.id, draft.version)
    session.commit()
    assert _live(session, "ig-growth") is None
    assert _live(session, "instagram-growth").product.id == published.id


def test_duplicate_and_archive(session: Session) -> None:
    category, cheap, premium = _shop(session)
    product = _build(session, category, premium)
    _route(session, product.id, cheap)
    published = catalog_editor.publish(session, OPERATOR, product.id, product.version)
    session.commit()
    copy_ = catalog_editor.duplicate(session, OPERATOR, published.id)
    session.commit()
    assert copy_.title == "Instagram Growth (copy)" and copy_.slug == "ig-growth-copy" and copy_.status == "draft"
    assert copy_.draft_of_id is None and copy_.published_at is None
    assert (
        session.execute(
            select(func.count()).select_from(ProductAddOn).where(ProductAddOn.product_id == copy_.id)
        ).scalar_one()
        == 3
    )
    assert catalog_editor.duplicate(session, OPERATOR, published.id).slug == "ig-growth-copy-2"
    session.commit()

    session.refresh(published)
    catalog_editor.set_archived(session, OPERATOR, published.id, published.version, True)
    session.commit()
    assert _live(session, "ig-growth") is None
    rows = {r["id"]: r for r in catalog_editor.catalog_rows(session)}
    assert rows[published.id]["state"] == "archived" and rows[copy_.id]["state"] == "draft"
    session.refresh(published)
    catalog_editor.set_archived(session, OPERATOR, published.id, published.version, False)
    session.commit()
    assert _live(session, "ig-growth") is not None
    draft = catalog_editor.open_draft(session, OPERATOR, published.id)
    session.commit()
    rows = {r["id"]: r for r in catalog_editor.catalog_rows(session)}
    assert rows[published.id]["changes"] == "has unpublished changes"
    assert rows[published.id]["edit_href"] == f"/admin/products/{draft.id}"
    assert draft.id not in rows


def _problems(session: Session, product_id: int) -> list[tuple[str, str, str]]:
    return [(p.tab, p.field, p.message) for p in catalog_editor.validate_for_publish(session, product_id)]


def test_publish_validation_lists_every_kind_of_problem(session: Session) -> None:
    category, cheap, premium = _shop(session)
    # nothing to sell: no option group and no base price, no route
    empty = catalog_editor.create_product(
        session,
        OPERATOR,
        {
            "category_id": category.id,
            "title": "Empty",
            "slug": "empty",
            "min_quantity": "1",
            "max_quantity": "10",
            "base_price": "0",
        },
    )
    session.commit()
    problems = _problems(session, empty.id)
    assert ("options", "options", "Add an option group with options, or set a base price.") in problems
    assert (
        "fields",
        "fields",
        "Customers are never asked where to deliver: add a required field with the key "
        "“username” (an account) or one ending in “_link” (a post, video or story link).",
    ) in problems
    assert any("no provider route" in m for _, _, m in problems)
    with pytest.raises(PublishRefused) as refused:
        catalog_editor.publish(session, OPERATOR, empty.id, empty.version)
    session.rollback()
    assert refused.value.problems and session.get(Product, empty.id).status == "draft"

    product = _build(session, category, premium)
    _route(session, product.id, cheap)
    assert _problems(session, product.id) == []  # a good product has none

    pid = product.id
    # an image without alt text
    session.add(ProductMedia(product_id=pid, url="/media/hero.png", label="Hero", alt_text=""))
    # a preset that chooses an option the product does not have
    session.add(ProductPreset(product_id=pid, key="broken", label="Broken", selection={"options": {"package": "999"}}))
    # a preset whose field value the product refuses
    session.add(
        ProductPreset(
            product_id=pid, key="odd", label="Odd", selection={"options": {"package": "1000"}, "fields": {"nope": "x"}}
        )
    )
    # a plan in another currency cannot be priced
    session.add(ProductPlan(product_id=pid, key="monthly", name="Monthly", price_minor=900, currency="USD"))
    # a required group with no active option: the default selection is incomplete
    session.add(ProductOptionGroup(product_id=pid, key="speed", name="Delivery speed", required=True, sort_order=9))
    session.commit()
    problems = _problems(session, pid)
    tabs = {(tab, field) for tab, field, _ in problems}
    assert ("media", f"media-{session.execute(select(ProductMedia.id)).scalar_one()}-alt") in tabs
    assert ("presets", "preset-broken") in tabs and ("presets", "preset-odd") in tabs
    assert ("plans", "plan-monthly") in tabs
    assert ("options", "group-speed") in tabs
    assert any(m == "Image “Hero” needs alt text." for _, _, m in problems)

    # routing problems: the route's service disabled, and a margin under the floor
    session.execute(ProductMedia.__table__.delete())
    session.execute(ProductPreset.__table__.delete())
    session.execute(ProductPlan.__table__.delete())
    session.execute(ProductOptionGroup.__table__.delete().where(ProductOptionGroup.key == "speed"))
    cheap.status = "disabled"
    premium.rate_per_1000 = Decimal("9.80")  # 1,000 units cost 9.80 for 10.00 + 5.00: still fine
    session.add_all([cheap, premium])
    session.commit()
    problems = _problems(session, pid)
    assert any("service #101 IG followers: service 101 is disabled" in m for _, _, m in problems)
    premium.rate_per_1000 = Decimal("14.50")  # 14.50 cost for 15.00 paid: 3.3 % margin
    session.add(premium)
    session.commit()
    problems = _problems(session, pid)
    assert any(field == "addon-premium" and "below the floor" in m for _, field, m in problems)

    # an override add-on whose service was removed
    session.delete(premium)
    session.commit()
    session.expire_all()
    problems = _problems(session, pid)
    assert any(field == "addon-premium" and "no longer exists" in m for _, field, m in problems)

    # title and slug
    row = session.get(Product, pid)
    row.title = " "
    session.add(row)
    session.commit()
    assert ("details", "title", "Give the product a title.") in _problems(session, pid)


def test_form_values_are_checked_and_nothing_is_saved(session: Session) -> None:
    category, _cheap, premium = _shop(session)
    product = _build(session, category, premium)
    group = session.execute(select(ProductOptionGroup).where(ProductOptionGroup.key == "package")).scalar_one()
    with pytest.raises(EditorError) as bad:
        catalog_editor.save_option(
            session,
            OPERATOR,
            product.id,
            product.version,
            group.id,
            {"key": "x", "label": "X", "calculator": "__import__('os')"},
        )
    assert bad.value.field == "option-calculator"
    session.rollback()
    with pytest.raises(EditorError) as bad:
        catalog_editor.save_add_on(
            session,
            OPERATOR,
            product.id,
            product.version,
            {"key": "o", "label": "O", "pricing_mode": "service_override"},
        )
    assert bad.value.field == "addon-provider_service_id"
    session.rollback()
    with pytest.raises(EditorError) as bad:
        catalog_editor.create_product(
            session, OPERATOR, {"category_id": category.id, "title": "T", "slug": "ig-growth", "base_price": "1"}
        )
    assert bad.value.field == "slug"
    session.rollback()
    session.refresh(product)
    assert (
        product.version == product.version
        and session.execute(select(func.count()).select_from(ProductOption)).scalar_one() == 3
    )
    blueprint, sample = catalog_editor.check_blueprint(
        {"calculator": "amount / days", "sample_inputs": "amount=1000, days=4"}
    )
    assert sample == "250" and blueprint["calculator"]["sample_inputs"] == {"amount": 1000, "days": 4}


def test_stale_save_from_a_second_editor_is_refused(db_url: str, session: Session) -> None:
    category, _cheap, premium = _shop(session)
    product = _build(session, category, premium)
    opened_at = product.version
    values = {
        "category_id": category.id,
        "title": "First",
        "slug": "ig-growth",
        "min_quantity": "1",
        "max_quantity": "9",
        "base_price": "1",
    }
    with Session(smplat_db.get_engine(db_url)) as first, Session(smplat_db.get_engine(db_url)) as second:
        catalog_editor.save_details(first, OPERATOR, product.id, opened_at, values)
        first.commit()
        with pytest.raises(StaleEdit) as stale:
            catalog_editor.save_details(second, OPERATOR, product.id, opened_at, {**values, "title": "Second"})
        second.rollback()
    assert stale.value.code is ErrorCode.CONFLICT and "Reload" in stale.value.message
    session.expire_all()
    row = session.get(Product, product.id)
    assert row.title == "First" and row.version == opened_at + 1


def test_every_save_and_publish_is_audited_with_before_and_after(session: Session) -> None:
    category, cheap, premium = _shop(session)
    product = _build(session, category, premium)
    _route(session, product.id, cheap)
    catalog_editor.publish(session, OPERATOR, product.id, product.version)
    session.commit()
    rows = session.execute(select(AuditLog).order_by(AuditLog.id)).scalars().all()
    actions = [r.action for r in rows]
    assert actions[0] == "catalog.product_create" and actions[-1] == "catalog.product_publish"
    assert actions.count("catalog.option_save") == 3 and actions.count("catalog.add_on_save") == 3
    publish_row = rows[-1]
    assert publish_row.data["before"]["status"] == "draft" and publish_row.data["after"]["status"] == "active"
    assert publish_row.actor_label == "ops@example.com" and publish_row.entity_id == str(product.id)
    addon_row = next(r for r in rows if r.action == "catalog.add_on_save" and r.data["after"].get("key") == "premium")
    assert addon_row.data["before"] == {} and addon_row.data["after"]["provider_service_id"] == premium.id


def test_staff_without_edit_catalog_is_refused_at_the_server(session: Session) -> None:
    category, _cheap, premium = _shop(session)
    product = _build(session, category, premium)
    for call in (
        lambda: catalog_editor.create_product(
            session, CUSTOMER, {"category_id": category.id, "title": "X", "slug": "x"}
        ),
        lambda: catalog_editor.save_details(session, CUSTOMER, product.id, product.version, {}),
        lambda: catalog_editor.publish(session, CUSTOMER, product.id, product.version),
        lambda: catalog_editor.duplicate(session, CUSTOMER, product.id),
        lambda: catalog_editor.save_add_on(session, CUSTOMER, product.id, product.version, {}),
    ):
        with pytest.raises(PermissionDenied):
            call()
        session.rollback()
    session.expire_all()
    assert session.get(Product, product.id).status == "draft"
    denied = session.execute(select(AuditLog).where(AuditLog.action == "permission.denied")).scalars().all()
    assert len(denied) == 5 and {r.actor_label for r in denied} == {"someone@example.com"}


def test_preview_margins_per_channel(session: Session) -> None:
    category, cheap, premium = _shop(session)
    product = _build(session, category, premium)
    _route(session, product.id, cheap)
    detail = catalog_editor.detail(session, product)
    quote = pricing.price_for(session, detail, {"options": {"package": "1000"}}, fields=pricing.FIELDS_SKIP)
    rows = catalog_editor.margin_rows(session, product, detail, quote)
    storefront = next(r for r in rows if r["channel"] == "Storefront")
    assert storefront["cost"] == "€2.00" and storefront["margin"] == "80.0 %" and storefront["verdict"] == "ok"
    assert any(r["channel"].startswith("Reseller API") for r in rows)
    verdict = catalog_editor.service_verdict(session, premium.id, 1500, 1000)
    assert verdict["cost"] == "€4.00" and verdict["margin"] == "73.3 %" and verdict["verdict"] == "ok"
