"""Cross-sell bundles for the storefront: the catalog shows every live bundle, a product page
the bundles that product belongs to. Fixed query count (bundles, then their items), no N+1.

Amounts are list prices from the presets' price hints, for display; the pricing service
prices what is actually bought.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from smplat.models.catalog import Product, ProductBundle, ProductBundleItem, ProductPreset, ProductStatus
from smplat.services.money import format_money


@dataclass(frozen=True)
class BundleItemView:
    product_slug: str
    product_title: str
    preset_label: str  # "1,000 likes / €4.90", or the product's unit when no preset is named
    price_minor: int | None  # list price of the offered preset, None when unknown


@dataclass
class BundleView:
    slug: str
    title: str
    description: str
    discount_bps: int
    primary_slug: str
    primary_title: str
    currency: str
    items: list[BundleItemView] = field(default_factory=list)

    @property
    def discount_label(self) -> str:
        return f"{self.discount_bps / 100:g} % off the extras" if self.discount_bps else ""

    def as_row(self) -> dict[str, object]:
        return {
            "slug": self.slug,
            "title": self.title,
            "description": self.description,
            "discount": self.discount_label,
            "primary_slug": self.primary_slug,
            "primary_title": self.primary_title,
            "items": [
                {
                    "slug": i.product_slug,
                    "title": i.product_title,
                    "offer": i.preset_label,
                    "price": format_money(i.price_minor, self.currency) if i.price_minor is not None else "",
                }
                for i in self.items
            ],
        }


def list_bundles(session: Session, *, product_slug: str | None = None, limit: int = 6) -> list[BundleView]:
    """Live bundles (active, primary product live), ordered by sort order. With `product_slug`,
    only bundles whose primary product or one of whose items is that product. Two queries."""
    primary = aliased(Product)
    query = (
        select(ProductBundle, primary.slug, primary.title, primary.currency)
        .join(primary, primary.id == ProductBundle.primary_product_id)
        .where(ProductBundle.is_active.is_(True), primary.status == ProductStatus.ACTIVE.value)
        .order_by(ProductBundle.sort_order, ProductBundle.id)
        .limit(limit)
    )
    if product_slug:
        member = aliased(Product)
        in_items = exists(
            select(ProductBundleItem.id)
            .join(member, member.id == ProductBundleItem.product_id)
            .where(ProductBundleItem.bundle_id == ProductBundle.id, member.slug == product_slug)
        )
        query = query.where(or_(primary.slug == product_slug, in_items))
    bundles = session.execute(query).all()
    if not bundles:
        return []
    ids = [bundle.id for bundle, *_ in bundles]
    item_rows = session.execute(
        select(
            ProductBundleItem.bundle_id,
            Product.slug,
            Product.title,
            Product.unit_label,
            ProductPreset.label,
            ProductPreset.price_hint_minor,
        )
        .join(Product, Product.id == ProductBundleItem.product_id)
        .outerjoin(
            ProductPreset,
            and_(ProductPreset.product_id == Product.id, ProductPreset.key == ProductBundleItem.preset_key),
        )
        .where(ProductBundleItem.bundle_id.in_(ids), Product.status == ProductStatus.ACTIVE.value)
        .order_by(ProductBundleItem.bundle_id, ProductBundleItem.sort_order, ProductBundleItem.id)
    ).all()
    items: dict[int, list[BundleItemView]] = defaultdict(list)
    for bundle_id, slug, title, unit, preset_label, price_hint in item_rows:
        items[bundle_id].append(BundleItemView(slug, title, preset_label or f"Any amount of {unit}", price_hint))
    return [
        BundleView(
            slug=bundle.slug,
            title=bundle.title,
            description=bundle.description,
            discount_bps=bundle.discount_bps,
            primary_slug=p_slug,
            primary_title=p_title,
            currency=currency,
            items=items.get(bundle.id, []),
        )
        for bundle, p_slug, p_title, currency in bundles
        if items.get(bundle.id)  # a bundle whose extras are all retired offers nothing
    ]
