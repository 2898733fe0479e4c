"""Cross-sell bundles: the storefront's bundle cards (the catalog shows every live bundle, a
product page the bundles that product belongs to), the discount a cart earns
(`discounts_for`, applied by `pricing.with_bundle_discounts`) and the operators' editor
(`save_bundle`, audited). Fixed query counts (bundles, then their items), no N+1.

Amounts on the cards are list prices from the presets' price hints, for display; the pricing
service prices what is actually bought.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
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
    preset_key: str = ""


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
    primary_preset: str = ""  # the primary product's featured preset, added with the bundle

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
            "primary_preset": self.primary_preset,
            "items": [
                {
                    "slug": i.product_slug,
                    "title": i.product_title,
                    "offer": i.preset_label,
                    "price": format_money(i.price_minor, self.currency) if i.price_minor is not None else "",
                    "preset": i.preset_key,
                }
                for i in self.items
            ],
        }


def list_bundles(
    session: Session, *, product_slug: str | None = None, limit: int = 6, bundle_slug: str | None = None
) -> list[BundleView]:
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
    if bundle_slug is not None:
        query = query.where(ProductBundle.slug == bundle_slug)
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
            ProductBundleItem.preset_key,
        )
        .join(Product, Product.id == ProductBundleItem.product_id)
        .outerjoin(
            ProductPreset,
            and_(ProductPreset.product_id == Product.id, ProductPreset.key == ProductBundleItem.preset_key),
        )
        .where(ProductBundleItem.bundle_id.in_(ids), Product.status == ProductStatus.ACTIVE.value)
        .order_by(ProductBundleItem.bundle_id, ProductBundleItem.sort_order, ProductBundleItem.id)
    ).all()
    featured = _featured_presets(session, {bundle.primary_product_id for bundle, *_ in bundles})
    items: dict[int, list[BundleItemView]] = defaultdict(list)
    for bundle_id, slug, title, unit, preset_label, price_hint, preset_key in item_rows:
        items[bundle_id].append(
            BundleItemView(slug, title, preset_label or f"Any amount of {unit}", price_hint, preset_key)
        )
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
            primary_preset=featured.get(bundle.primary_product_id, ""),
        )
        for bundle, p_slug, p_title, currency in bundles
        if items.get(bundle.id)  # a bundle whose extras are all retired offers nothing
    ]


def _featured_presets(session: Session, product_ids: Collection[int]) -> dict[int, str]:
    """Each product's featured preset key (else its first): what a bundle adds of its primary product."""
    rows = session.execute(
        select(ProductPreset.product_id, ProductPreset.key)
        .where(ProductPreset.product_id.in_(list(product_ids)))
        .order_by(
            ProductPreset.product_id, ProductPreset.is_featured.desc(), ProductPreset.sort_order, ProductPreset.id
        )
    ).all()
    out: dict[int, str] = {}
    for product_id, key in rows:
        out.setdefault(product_id, key)
    return out


# --- the discount a cart earns ------------------------------------------------------------------


@dataclass(frozen=True)
class BundleOffer:
    slug: str
    title: str
    discount_bps: int


def discounts_for(session: Session, product_ids: Collection[int]) -> dict[int, BundleOffer]:
    """Product id -> the bundle discount its lines get, for a cart holding `product_ids`.

    A bundle applies when the cart holds its primary product and every product it lists
    (active bundle; lines of retired products are never priced, so never count). Its listed
    products are discounted, never the primary one; a product two bundles could discount
    gets the larger discount (ties: the first bundle by sort order). No query for fewer than
    two products, else at most two."""
    ids = set(product_ids)
    if len(ids) < 2:
        return {}
    bundles = (
        session.execute(
            select(ProductBundle)
            .where(ProductBundle.is_active.is_(True), ProductBundle.primary_product_id.in_(list(ids)))
            .order_by(ProductBundle.sort_order, ProductBundle.id)
        )
        .scalars()
        .all()
    )
    if not bundles:
        return {}
    members: dict[int, set[int]] = defaultdict(set)
    for bundle_id, product_id in session.execute(
        select(ProductBundleItem.bundle_id, ProductBundleItem.product_id).where(
            ProductBundleItem.bundle_id.in_([b.id for b in bundles])
        )
    ).all():
        members[bundle_id].add(product_id)
    out: dict[int, BundleOffer] = {}
    for bundle in bundles:
        listed = members.get(bundle.id, set()) - {bundle.primary_product_id}
        if not listed or not listed <= ids or bundle.discount_bps <= 0:
            continue
        for product_id in listed:
            current = out.get(product_id)
            if current is None or bundle.discount_bps > current.discount_bps:
                out[product_id] = BundleOffer(bundle.slug, bundle.title, bundle.discount_bps)
    return out
