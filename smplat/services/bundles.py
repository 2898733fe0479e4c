"""Cross-sell bundles: the storefront's bundle cards (the catalog shows every live bundle, a
product page the bundles that product belongs to), the discount a cart earns
(`discounts_for`, applied by `pricing.with_bundle_discounts`) and the operators' editor
(`save_bundle`, audited). Fixed query counts (bundles, then their items), no N+1.

Amounts on the cards are list prices from the presets' price hints, for display; the pricing
service prices what is actually bought.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from smplat.models.base import utcnow
from smplat.models.catalog import Product, ProductBundle, ProductBundleItem, ProductPreset, ProductStatus
from smplat.services import audit
from smplat.services.errors import ErrorCode, ServiceError
from smplat.services.money import format_money
from smplat.services.permissions import Permission


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
    # the primary product's featured preset (else its first): what "Add bundle" adds of it
    primary_preset = (
        select(ProductPreset.key)
        .where(ProductPreset.product_id == primary.id)
        .order_by(ProductPreset.is_featured.desc(), ProductPreset.sort_order, ProductPreset.id)
        .limit(1)
        .correlate(primary)
        .scalar_subquery()
    )
    query = (
        select(ProductBundle, primary.slug, primary.title, primary.currency, primary_preset)
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
            primary_preset=preset or "",
        )
        for bundle, p_slug, p_title, currency, preset in bundles
        if items.get(bundle.id)  # a bundle whose extras are all retired offers nothing
    ]


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


# --- the operators' editor (/admin/bundles) --------------------------------------------------

MAX_BUNDLE_ITEMS = 5
MAX_DISCOUNT_BPS = 9000  # 90 %: a bundle discounts, it does not give away
_SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class BundleInvalid(ServiceError):
    """The bundle form breaks a rule; `errors` maps each field to what to fix. Nothing is stored."""

    default_code = ErrorCode.INVALID


def admin_rows(session: Session) -> list[dict[str, Any]]:
    """Every bundle, live or not, for the list: three queries whatever the count."""
    rows = session.execute(
        select(ProductBundle, Product.title)
        .join(Product, Product.id == ProductBundle.primary_product_id)
        .order_by(ProductBundle.sort_order, ProductBundle.id)
    ).all()
    items = _items_by_bundle(session, [bundle.id for bundle, _ in rows])
    return [
        {
            "id": bundle.id,
            "slug": bundle.slug,
            "title": bundle.title,
            "primary": primary_title,
            "items": ", ".join(f"{title} ({preset or 'default'})" for _, title, preset in items.get(bundle.id, [])),
            "discount": f"{bundle.discount_bps / 100:g} %",
            "active": bundle.is_active,
            "status": "active" if bundle.is_active else "paused",
        }
        for bundle, primary_title in rows
    ]


def _items_by_bundle(session: Session, bundle_ids: list[int]) -> dict[int, list[tuple[str, str, str]]]:
    """Bundle id -> [(product slug, product title, preset key)] in the bundle's order."""
    if not bundle_ids:
        return {}
    out: dict[int, list[tuple[str, str, str]]] = defaultdict(list)
    for bundle_id, slug, title, preset in session.execute(
        select(ProductBundleItem.bundle_id, Product.slug, Product.title, ProductBundleItem.preset_key)
        .join(Product, Product.id == ProductBundleItem.product_id)
        .where(ProductBundleItem.bundle_id.in_(bundle_ids))
        .order_by(ProductBundleItem.bundle_id, ProductBundleItem.sort_order, ProductBundleItem.id)
    ).all():
        out[bundle_id].append((slug, title, preset))
    return out


def product_choices(session: Session) -> list[dict[str, str]]:
    """Products a bundle may hold (not archived), each with its preset keys, for the form's help."""
    rows = session.execute(
        select(Product.id, Product.slug, Product.title)
        .where(Product.status != ProductStatus.ARCHIVED.value)
        .order_by(Product.title)
    ).all()
    presets: dict[int, list[str]] = defaultdict(list)
    for product_id, key in session.execute(
        select(ProductPreset.product_id, ProductPreset.key).order_by(ProductPreset.sort_order, ProductPreset.id)
    ).all():
        presets[product_id].append(key)
    return [{"slug": slug, "title": title, "presets": ", ".join(presets.get(pid, []))} for pid, slug, title in rows]


def form_values(session: Session, bundle_id: int | None) -> dict[str, str]:
    """The edit form's values for a bundle (empty for a new one); items one "product-slug preset" a line."""
    bundle = session.get(ProductBundle, bundle_id) if bundle_id else None
    if bundle is None:
        return {"slug": "", "title": "", "description": "", "primary": "", "discount": "", "items": "", "active": "on"}
    primary = session.get(Product, bundle.primary_product_id)
    items = _items_by_bundle(session, [bundle.id]).get(bundle.id, [])
    return {
        "slug": bundle.slug,
        "title": bundle.title,
        "description": bundle.description,
        "primary": primary.slug if primary else "",
        "discount": f"{bundle.discount_bps / 100:g}",
        "items": "\n".join(f"{slug} {preset}".strip() for slug, _, preset in items),
        "active": "on" if bundle.is_active else "",
    }


def _snapshot(bundle: ProductBundle, items: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "slug": bundle.slug,
        "title": bundle.title,
        "description": bundle.description,
        "primary_product_id": bundle.primary_product_id,
        "discount_bps": bundle.discount_bps,
        "is_active": bundle.is_active,
        "items": [f"{slug}:{preset}" for slug, preset in items],
    }


def _discount_bps(text: str) -> int | None:
    try:
        value = Decimal(text.strip().rstrip("%").strip())
    except InvalidOperation:
        return None
    if not value.is_finite():
        return None
    bps = value * 100
    return int(bps) if bps == bps.to_integral_value() else None


def save_bundle(
    session: Session,
    actor: audit.Actor,
    bundle_id: int | None,
    *,
    slug: str,
    title: str,
    description: str,
    primary: str,
    discount: str,
    items_text: str,
    active: bool,
) -> ProductBundle:
    """Create (`bundle_id` None) or change a bundle, audited. Refused with every problem at once
    (BundleInvalid, nothing stored): a slug in use or malformed, an unknown or archived product,
    the primary product among the items, a preset the product does not have or that does not
    price, a discount outside 0.01-90 %, none or too many items."""
    audit.require(actor, Permission.EDIT_CATALOG, "bundle.save", "product_bundle", bundle_id or "")
    from smplat.services import catalog, pricing  # pricing reads this module lazily too

    bundle = session.get(ProductBundle, bundle_id) if bundle_id else None
    if bundle_id and bundle is None:
        raise ServiceError("That bundle does not exist.", code=ErrorCode.NOT_FOUND)
    errors: dict[str, str] = {}
    slug, title, description = (slug or "").strip().lower(), (title or "").strip(), (description or "").strip()
    if not _SLUG_RE.match(slug) or len(slug) > 120:
        errors["slug"] = "Use lowercase letters, digits and dashes, e.g. instagram-starter-kit."
    elif session.execute(
        select(ProductBundle.id).where(ProductBundle.slug == slug, ProductBundle.id != (bundle_id or 0))
    ).first():
        errors["slug"] = "Another bundle uses this address; choose another."
    if not 1 <= len(title) <= 200:
        errors["title"] = "Give the bundle a title of 1 to 200 characters."
    if len(description) > 500:
        errors["description"] = "Keep the description under 500 characters."
    bps = _discount_bps(discount or "")
    if bps is None or not 1 <= bps <= MAX_DISCOUNT_BPS:
        errors["discount"] = "Enter a discount from 0.01 to 90 (percent), e.g. 10."
    live = ProductStatus.ARCHIVED.value
    primary_row = session.execute(
        select(Product).where(Product.slug == (primary or "").strip(), Product.status != live)
    ).scalar_one_or_none()
    if primary_row is None:
        errors["primary"] = "Choose a product of the catalog as the primary product."
    wanted: list[tuple[str, str]] = []
    item_problems: list[str] = []
    for number, line in enumerate((items_text or "").splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2:
            item_problems.append(
                f"Line {number}: write the product's address and a preset, e.g. instagram-likes popular."
            )
            continue
        wanted.append((parts[0], parts[1]))
    if not wanted and not item_problems:
        item_problems.append("Add at least one product to the bundle.")
    if len(wanted) > MAX_BUNDLE_ITEMS:
        item_problems.append(f"A bundle holds at most {MAX_BUNDLE_ITEMS} products.")
    if len({s for s, _ in wanted}) != len(wanted):
        item_problems.append("Each product can be in the bundle once.")
    item_ids: list[int] = []
    for product_slug, preset_key in wanted:
        if primary_row is not None and product_slug == primary_row.slug:
            item_problems.append(f"{product_slug}: the primary product is not discounted; list the extras only.")
            continue
        detail = catalog.get_product_detail(session, product_slug, include_inactive=True)
        if detail is None or detail.product.status == live:
            item_problems.append(f"{product_slug}: no such product in the catalog.")
            continue
        if preset_key not in {p.key for p in detail.presets}:
            item_problems.append(f"{product_slug}: it has no preset {preset_key!r}.")
            continue
        try:
            pricing.price_for(session, detail, pricing.from_preset(detail, preset_key), fields=pricing.FIELDS_SKIP)
        except pricing.ConfigurationInvalid as exc:
            item_problems.append(f"{product_slug}: preset {preset_key!r} is not a valid configuration ({exc.message}).")
            continue
        item_ids.append(detail.product.id)
    if item_problems:
        errors["items"] = " ".join(item_problems)
    if errors:
        raise BundleInvalid("Some details of the bundle need fixing.", errors=errors)

    before = None
    if bundle is None:
        last = session.execute(select(func.max(ProductBundle.sort_order))).scalar() or 0
        bundle = ProductBundle(primary_product_id=primary_row.id, slug=slug, title=title, sort_order=last + 10)
        session.add(bundle)
        session.flush()
    else:
        old_items = [(s, p) for s, _, p in _items_by_bundle(session, [bundle.id]).get(bundle.id, [])]
        before = _snapshot(bundle, old_items)
        session.execute(ProductBundleItem.__table__.delete().where(ProductBundleItem.bundle_id == bundle.id))
    bundle.slug, bundle.title, bundle.description = slug, title, description
    bundle.primary_product_id = primary_row.id
    bundle.discount_bps, bundle.is_active = bps, bool(active)
    bundle.updated_at = utcnow()
    for position, (product_id, (_, preset_key)) in enumerate(zip(item_ids, wanted, strict=True)):
        session.add(
            ProductBundleItem(
                bundle_id=bundle.id, product_id=product_id, preset_key=preset_key, sort_order=position * 10
            )
        )
    session.flush()
    audit.record(
        session,
        actor,
        "bundle.create" if before is None else "bundle.update",
        "product_bundle",
        bundle.id,
        before=before or {},
        after=_snapshot(bundle, wanted),
    )
    return bundle
