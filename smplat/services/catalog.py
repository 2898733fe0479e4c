"""Catalog reads for the storefront and the admin: fixed query counts, no N+1.

Prices shown here are catalog list prices ("from" the cheapest required choice);
the pricing service that prices a configuration lands with the configurator.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import exists, func, select
from sqlmodel import Session

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
from smplat.models.providers import ProviderService, RouteStep, ServiceRoute
from smplat.services import delivery_promise
from smplat.services.money import format_money

# The speed option that spreads a package over days (a drip-feed at the provider).
GRADUAL_SPEED = ("speed", "gradual")


@dataclass(frozen=True)
class ProductCard:
    id: int
    slug: str
    title: str
    tagline: str
    platform: str
    kind: str
    category_slug: str
    category_name: str
    from_price_minor: int
    currency: str
    image_url: str
    delivery_estimate_hours: int
    is_featured: bool
    # the product's featured preset, offered as a one-click button on the card
    preset_key: str = ""
    preset_label: str = ""
    min_quantity: int = 0  # the smallest package: what "from" the card's price delivers
    unit_label: str = ""

    def as_row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "slug": self.slug,
            "title": self.title,
            "tagline": self.tagline,
            "platform": self.platform,
            "kind": self.kind,
            "category_slug": self.category_slug,
            "category_name": self.category_name,
            "from_price": format_money(self.from_price_minor, self.currency),
            "image_url": self.image_url,
            "delivery": delivery_promise.card_text(self.delivery_estimate_hours, self.min_quantity, self.unit_label),
            "is_featured": self.is_featured,
            "preset_key": self.preset_key,
            "preset_label": self.preset_label,
        }


def delivery_label(hours: int) -> str:
    """The delivery promise's words for `hours` (`services.delivery_promise`, the one rule)."""
    return delivery_promise.promise(hours, units=0, unit_label="").time_text


def _required_minimums(session: Session, product_ids: list[int]) -> dict[int, int]:
    """Sum, per product, of the cheapest option of each required single-choice group."""
    if not product_ids:
        return {}
    rows = session.execute(
        select(ProductOptionGroup.product_id, ProductOptionGroup.id, func.min(ProductOption.price_delta_minor))
        .join(ProductOption, ProductOption.group_id == ProductOptionGroup.id)
        .where(
            ProductOptionGroup.product_id.in_(product_ids),
            ProductOptionGroup.required.is_(True),
            ProductOption.is_active.is_(True),
        )
        .group_by(ProductOptionGroup.product_id, ProductOptionGroup.id)
    ).all()
    totals: dict[int, int] = defaultdict(int)
    for product_id, _group_id, minimum in rows:
        totals[product_id] += int(minimum or 0)
    return totals


def primary_images(session: Session, product_ids: list[int]) -> dict[int, str]:
    if not product_ids:
        return {}
    rows = session.execute(
        select(ProductMedia.product_id, ProductMedia.card_url, ProductMedia.url)
        .where(ProductMedia.product_id.in_(product_ids))
        .order_by(ProductMedia.product_id, ProductMedia.is_primary.desc(), ProductMedia.sort_order)
    ).all()
    images: dict[int, str] = {}
    for product_id, card, url in rows:
        # the padded card variant of an uploaded picture; a seeded asset is its own card
        images.setdefault(product_id, card or url)
    return images


def featured_presets(session: Session, product_ids: list[int]) -> dict[int, tuple[str, str]]:
    """Per product, the first featured preset as (key, label), for one-click card buttons (one query)."""
    if not product_ids:
        return {}
    rows = session.execute(
        select(ProductPreset.product_id, ProductPreset.key, ProductPreset.label)
        .where(ProductPreset.product_id.in_(product_ids), ProductPreset.is_featured.is_(True))
        .order_by(ProductPreset.product_id, ProductPreset.sort_order, ProductPreset.id)
    ).all()
    presets: dict[int, tuple[str, str]] = {}
    for product_id, key, label in rows:
        presets.setdefault(product_id, (key, label))
    return presets


def list_categories(session: Session) -> list[Category]:
    return list(
        session.execute(
            select(Category).where(Category.is_active.is_(True)).order_by(Category.sort_order, Category.name)
        )
        .scalars()
        .all()
    )


def list_product_cards(
    session: Session, *, category_slug: str | None = None, featured_only: bool = False, limit: int | None = None
) -> list[ProductCard]:
    """Active products for the storefront, most popular first. Three queries in all."""
    query = (
        select(Product, Category.slug, Category.name)
        .join(Category, Category.id == Product.category_id)
        .where(Product.status == ProductStatus.ACTIVE.value, Category.is_active.is_(True))
        .order_by(Category.sort_order, Product.popularity_score.desc(), Product.title)
    )
    if category_slug:
        query = query.where(Category.slug == category_slug)
    if featured_only:
        query = query.where(Product.is_featured.is_(True))
    if limit:
        query = query.limit(limit)
    rows = session.execute(query).all()
    ids = [product.id for product, _, _ in rows]
    minimums = _required_minimums(session, ids)
    images = primary_images(session, ids)
    presets = featured_presets(session, ids)
    return [
        ProductCard(
            id=product.id,
            slug=product.slug,
            title=product.title,
            tagline=product.tagline,
            platform=product.platform,
            kind=product.kind,
            category_slug=cat_slug,
            category_name=cat_name,
            from_price_minor=product.base_price_minor + minimums.get(product.id, 0),
            currency=product.currency,
            image_url=images.get(product.id, ""),
            delivery_estimate_hours=product.delivery_estimate_hours,
            min_quantity=product.min_quantity,
            unit_label=product.unit_label,
            is_featured=product.is_featured,
            preset_key=presets.get(product.id, ("", ""))[0],
            preset_label=presets.get(product.id, ("", ""))[1],
        )
        for product, cat_slug, cat_name in rows
    ]


@dataclass
class ProductDetail:
    product: Product
    category: Category
    groups: list[tuple[ProductOptionGroup, list[ProductOption]]] = field(default_factory=list)
    add_ons: list[ProductAddOn] = field(default_factory=list)
    plans: list[ProductPlan] = field(default_factory=list)
    fields: list[ProductCustomField] = field(default_factory=list)
    presets: list[ProductPreset] = field(default_factory=list)
    media: list[ProductMedia] = field(default_factory=list)
    # an active first-step route of this product goes to a service with drip-feed: only then
    # is gradual delivery offered (see `get_product_detail`)
    dripfeed_available: bool = True


def _dripfeed_route_exists(product_id: Any) -> Any:
    return (
        exists()
        .where(
            ServiceRoute.product_id == product_id,
            ServiceRoute.is_active.is_(True),
            ServiceRoute.step == RouteStep.INITIAL.value,
            ProviderService.id == ServiceRoute.provider_service_id,
            ProviderService.dripfeed.is_(True),
        )
        .correlate(Product)
        .label("dripfeed_available")
    )


def get_product_detail(session: Session, slug: str, *, include_inactive: bool = False) -> ProductDetail | None:
    """Everything the product page shows, in one query per table.

    The drip-feed rule lives here, so the product page, the cart, the checkout and the API
    read the same detail: gradual delivery (option `speed:gradual`) is offered only when an
    active first-step route goes to a provider service with drip-feed. Otherwise the option
    is left out of the detail (not shown; choosing it anyway is refused by pricing as an
    option the product does not have). The admin (`include_inactive`) sees every option."""
    query = (
        select(Product, Category, _dripfeed_route_exists(Product.id))
        .join(Category, Category.id == Product.category_id)
        .where(Product.slug == slug)
    )
    if not include_inactive:
        query = query.where(Product.status == ProductStatus.ACTIVE.value)
    row = session.execute(query).first()
    if row is None:
        return None
    product, category, dripfeed_available = row
    dripfeed_available = bool(dripfeed_available)
    pid = product.id

    def rows(model, *order):
        return list(session.execute(select(model).where(model.product_id == pid).order_by(*order)).scalars().all())

    groups = rows(ProductOptionGroup, ProductOptionGroup.sort_order, ProductOptionGroup.id)
    options = (
        session.execute(
            select(ProductOption)
            .join(ProductOptionGroup, ProductOptionGroup.id == ProductOption.group_id)
            .where(ProductOptionGroup.product_id == pid, ProductOption.is_active.is_(True))
            .order_by(ProductOption.sort_order, ProductOption.id)
        )
        .scalars()
        .all()
    )
    by_group: dict[int, list[ProductOption]] = defaultdict(list)
    speed_group = next((g.id for g in groups if g.key == GRADUAL_SPEED[0]), None)
    for option in options:
        if (
            not dripfeed_available
            and not include_inactive
            and option.group_id == speed_group
            and option.key == GRADUAL_SPEED[1]
        ):
            continue  # no routed service can drip-feed: gradual delivery is not offered
        by_group[option.group_id].append(option)
    return ProductDetail(
        product=product,
        category=category,
        groups=[(group, by_group.get(group.id, [])) for group in groups],
        add_ons=[a for a in rows(ProductAddOn, ProductAddOn.sort_order, ProductAddOn.id) if a.is_active],
        plans=[p for p in rows(ProductPlan, ProductPlan.sort_order, ProductPlan.id) if p.is_active],
        fields=rows(ProductCustomField, ProductCustomField.sort_order, ProductCustomField.id),
        presets=rows(ProductPreset, ProductPreset.sort_order, ProductPreset.id),
        media=rows(ProductMedia, ProductMedia.is_primary.desc(), ProductMedia.sort_order, ProductMedia.id),
        dripfeed_available=dripfeed_available,
    )
