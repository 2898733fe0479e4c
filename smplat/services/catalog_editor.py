"""The catalog editor: create, edit, duplicate, archive and publish products.

Every editor page works on the product ROW in its URL:

- a never-published product (status draft, `draft_of_id` NULL) is edited in place;
- opening the editor of a published (or archived) product creates, or reuses, its draft: a
  copy of the product row (status draft, `draft_of_id` = the published id, an internal slug)
  and of ALL its children (`CHILD_MODELS`: option groups and their options, add-ons, plans,
  custom fields, presets, media). The storefront keeps showing the published row, since
  every storefront query reads status "active" only.
- publishing validates the draft (`validate_for_publish`), then makes the published row's
  children equal to the draft's and copies the product columns (the published id stays; the
  slug stays unless it was edited), sets `published_at` and deletes the draft, in one
  transaction. Children are matched by their key (media by URL) and updated in place, so the
  ids that routes (`service_routes.add_on_id`) and subscriptions (`plan_id`) point at survive.

Children are copied GENERICALLY (every table column except id / product_id / group_id), so a
column another module adds to a child table is carried without touching this file; a new child
table is added to `CHILD_MODELS`.

Each save names the version the editor was opened at and calls
`catalog_drafts.claim_version` in its transaction (a stale save is refused, 409), requires
`Permission.EDIT_CATALOG` and writes an audit row with the values before and after.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from smplat.models.base import utcnow
from smplat.models.catalog import (
    AddOnPricingMode,
    Category,
    OptionSelection,
    Platform,
    Product,
    ProductAddOn,
    ProductCustomField,
    ProductKind,
    ProductMedia,
    ProductOption,
    ProductOptionGroup,
    ProductPlan,
    ProductPreset,
    ProductStatus,
)
from smplat.models.providers import ProviderService, ServiceRoute
from smplat.services import audit, catalog, pricing, routing
from smplat.services.audit import Actor
from smplat.services.catalog_drafts import claim_version
from smplat.services.delivery import DeliverySpec, names_delivery_target
from smplat.services.errors import ErrorCode, ServiceError
from smplat.services.expressions import ExpressionError, evaluate
from smplat.services.money import format_money
from smplat.services.permissions import Permission

TARGET = "product"
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
KEY_RE = re.compile(r"^[a-z0-9_]+$")
DRAFT_SLUG = "{slug}--draft-{id}"
PREVIEW_LINK = "https://preview.invalid/account"  # routing never looks at the link

# The product columns the details form edits (and the audit shows).
DETAIL_FIELDS = (
    "category_id",
    "title",
    "slug",
    "tagline",
    "description",
    "platform",
    "kind",
    "unit_label",
    "min_quantity",
    "max_quantity",
    "base_price_minor",
    "delivery_estimate_hours",
    "is_featured",
    "seo_title",
    "meta_description",
    "social_image_url",
)
# Product columns publishing never copies from the draft onto the published row.
_KEEP_ON_PUBLISH = {"id", "slug", "status", "draft_of_id", "published_at", "created_at", "version", "popularity_score"}

# Tables owned by a product through `product_id`, and the column that identifies a row across
# a draft and its published product (matched on publish so ids survive).
CHILD_MODELS: list[tuple[type, str]] = [
    (ProductAddOn, "key"),
    (ProductPlan, "key"),
    (ProductCustomField, "key"),
    (ProductPreset, "key"),
    (ProductMedia, "url"),
]


class EditorError(ServiceError):
    """A value the editor refuses (code INVALID); `field` names the form field."""


@dataclass(frozen=True)
class Problem:
    """Why a product cannot be published, and where to fix it."""

    message: str
    tab: str  # editor tab: "details", "options", "fields", "presets", "plans", "media"
    field: str = ""  # the id of the form field on that tab ("" = the tab itself)

    def href(self, product_id: int) -> str:
        suffix = "" if self.tab == "details" else f"/{self.tab}"
        return f"/admin/products/{product_id}{suffix}" + (f"#{self.field}" if self.field else "")

    def as_row(self, product_id: int) -> dict[str, str]:
        return {"message": self.message, "tab": self.tab, "field": self.field, "href": self.href(product_id)}


class PublishRefused(ServiceError):
    """Publishing found problems; `problems` lists each with the tab and field to fix."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(
            f"This product cannot be published yet: {len(problems)} problem(s) to fix.",
            code=ErrorCode.INVALID,
            errors={f"{p.tab}.{p.field or i}": p.message for i, p in enumerate(problems)},
        )
        self.problems = list(problems)


# --- rows ---------------------------------------------------------------------------------


def _get(session: Session, product_id: Any) -> Product:
    try:
        pid = int(product_id)
    except (TypeError, ValueError):
        pid = 0
    product = session.get(Product, pid) if pid > 0 else None
    if product is None:
        raise ServiceError(
            "This product does not exist (it may have been published or discarded).", code=ErrorCode.NOT_FOUND
        )
    return product


def get_product(session: Session, product_id: Any) -> Product:
    """The product row of an editor URL (NOT_FOUND when missing)."""
    return _get(session, product_id)


def _columns(model: type, *skip: str) -> list[str]:
    return [c.name for c in model.__table__.columns if c.name not in skip]


def _copy(row: Any, skip: tuple[str, ...] = ("id",), **overrides: Any) -> Any:
    """A new row of the same table holding every column of `row` except `skip` (JSON deep-copied)."""
    values = {name: copy.deepcopy(getattr(row, name)) for name in _columns(type(row), *skip)}
    values.update(overrides)
    return type(row)(**values)


def _assign(target: Any, source: Any, skip: tuple[str, ...]) -> None:
    for name in _columns(type(source), *skip):
        setattr(target, name, copy.deepcopy(getattr(source, name)))


def children(session: Session, model: type, product_id: int) -> list[Any]:
    return list(session.execute(select(model).where(model.product_id == product_id).order_by(model.id)).scalars())


def option_groups(session: Session, product_id: int) -> list[tuple[ProductOptionGroup, list[ProductOption]]]:
    groups = children(session, ProductOptionGroup, product_id)
    options = (
        list(
            session.execute(
                select(ProductOption)
                .where(ProductOption.group_id.in_([g.id for g in groups]))
                .order_by(ProductOption.id)
            ).scalars()
        )
        if groups
        else []
    )
    return [(g, [o for o in options if o.group_id == g.id]) for g in groups]


def _copychildren(session: Session, source_id: int, target_id: int) -> None:
    for group, options in option_groups(session, source_id):
        new_group = _copy(group, ("id", "product_id"), product_id=target_id)
        session.add(new_group)
        session.flush()
        for option in options:
            session.add(_copy(option, ("id", "group_id"), group_id=new_group.id))
    for model, _key in CHILD_MODELS:
        for row in children(session, model, source_id):
            session.add(_copy(row, ("id", "product_id"), product_id=target_id))
    session.flush()


def _sync(session: Session, model: type, key: str, sources: list[Any], targets: list[Any], parent: dict[str, Any]):
    """Make `targets` equal to `sources`, matched by `key`: update, insert, delete. Returns
    (source row, target row) pairs."""
    skip = ("id", *parent)
    by_key = {getattr(t, key): t for t in targets}
    pairs = []
    for source in sources:
        target = by_key.pop(getattr(source, key), None)
        if target is None:
            target = _copy(source, skip, **parent)
            session.add(target)
        else:
            _assign(target, source, skip)
        pairs.append((source, target))
    for leftover in by_key.values():
        session.delete(leftover)
    session.flush()
    return pairs


def _replacechildren(session: Session, draft_id: int, published_id: int) -> None:
    published_groups = option_groups(session, published_id)
    options_of = {g.id: opts for g, opts in published_groups}
    draft_groups = option_groups(session, draft_id)
    pairs = _sync(
        session,
        ProductOptionGroup,
        "key",
        [g for g, _ in draft_groups],
        [g for g, _ in published_groups],
        {"product_id": published_id},
    )
    draft_options = {g.id: opts for g, opts in draft_groups}
    for source, target in pairs:
        _sync(
            session,
            ProductOption,
            "key",
            draft_options[source.id],
            options_of.get(target.id, []),
            {"group_id": target.id},
        )
    for model, key in CHILD_MODELS:
        _sync(
            session,
            model,
            key,
            children(session, model, draft_id),
            children(session, model, published_id),
            {"product_id": published_id},
        )


def _details(product: Product) -> dict[str, Any]:
    return audit.snapshot(product, (*DETAIL_FIELDS, "status", "version"))


def _require(actor: Actor, action: str, target_id: Any = "") -> None:
    audit.require(actor, Permission.EDIT_CATALOG, action, TARGET, target_id)


# --- validating the details form -----------------------------------------------------------


def _int(values: dict[str, Any], name: str, label: str, *, minimum: int = 0, default: int | None = None) -> int:
    raw = values.get(name)
    if default is not None and str(raw if raw is not None else "").strip() == "":
        return default
    try:
        number = int(str(raw).strip().replace(",", "")) if not isinstance(raw, int) else raw
    except (TypeError, ValueError):
        raise EditorError(f"{label} must be a whole number.", field=name) from None
    if isinstance(number, bool) or number < minimum:
        raise EditorError(f"{label} must be at least {minimum}.", field=name)
    return number


def parse_price(raw: Any, label: str = "Price", field: str = "base_price") -> int:
    """ "12.50" or "12" (major units, the product currency) -> 1250 minor units."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    text = str(raw or "").strip().replace("€", "").replace(",", "")
    if not re.fullmatch(r"-?[0-9]+(\.[0-9]{1,2})?", text):
        raise EditorError(f"{label}: enter an amount like 12.50.", field=field)
    whole, _, cents = text.lstrip("-").partition(".")
    minor = int(whole) * 100 + int((cents + "00")[:2])
    return -minor if text.startswith("-") else minor


def _clean_details(session: Session, values: dict[str, Any], product: Product | None) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    title = str(values.get("title", "")).strip()
    if not title:
        raise EditorError("Give the product a title.", field="title")
    if len(title) > 200:
        raise EditorError("The title can be at most 200 characters.", field="title")
    clean["title"] = title
    slug = str(values.get("slug", "")).strip().lower()
    if not SLUG_RE.fullmatch(slug) or len(slug) > 100:
        raise EditorError(
            "The address may hold only lowercase letters, digits and single dashes (e.g. ig-followers).", field="slug"
        )
    clean["slug"] = slug
    try:
        category_id = int(values.get("category_id") or 0)
    except (TypeError, ValueError):
        category_id = 0
    if category_id <= 0 or session.get(Category, category_id) is None:
        raise EditorError("Choose a category.", field="category_id")
    clean["category_id"] = category_id
    platform = str(values.get("platform", Platform.OTHER.value))
    if platform not in {p.value for p in Platform}:
        raise EditorError("Choose a platform.", field="platform")
    clean["platform"] = platform
    kind = str(values.get("kind", ProductKind.OTHER.value))
    if kind not in {k.value for k in ProductKind}:
        raise EditorError("Choose what the product delivers.", field="kind")
    clean["kind"] = kind
    clean["unit_label"] = str(values.get("unit_label", "units")).strip()[:40] or "units"
    clean["min_quantity"] = _int(
        values, "min_quantity", "The minimum quantity", minimum=1, default=product.min_quantity if product else 1
    )
    clean["max_quantity"] = _int(
        values,
        "max_quantity",
        "The maximum quantity",
        minimum=1,
        default=product.max_quantity if product else 1_000_000,
    )
    if clean["max_quantity"] < clean["min_quantity"]:
        raise EditorError("The maximum quantity must be at least the minimum.", field="max_quantity")
    clean["base_price_minor"] = parse_price(values.get("base_price", "0"), "Base price")
    if clean["base_price_minor"] < 0:
        raise EditorError("The base price cannot be negative.", field="base_price")
    for name, limit in (("tagline", 300), ("seo_title", 200), ("meta_description", 300), ("social_image_url", 1000)):
        text = str(values.get(name, "") if name in values else (getattr(product, name) if product else "")).strip()
        if len(text) > limit:
            raise EditorError(f"At most {limit} characters.", field=name)
        clean[name] = text
    if "description" in values or product is None:
        clean["description"] = str(values.get("description", "")).strip()
    if "delivery_estimate_hours" in values:
        clean["delivery_estimate_hours"] = _int(values, "delivery_estimate_hours", "The delivery estimate", minimum=1)
    if "is_featured" in values:
        clean["is_featured"] = str(values.get("is_featured")).lower() in ("1", "true", "on", "yes")
    return clean


def _slug_free(session: Session, slug: str, *allowed_ids: int | None) -> None:
    owner = session.execute(select(Product.id).where(Product.slug == slug)).scalar_one_or_none()
    if owner is not None and owner not in allowed_ids:
        raise EditorError("Another product already uses this address; choose another.", field="slug")


# --- products --------------------------------------------------------------------------------


def create_product(session: Session, actor: Actor, values: dict[str, Any]) -> Product:
    """A new never-published product (status draft); returns it."""
    _require(actor, "catalog.product_create")
    clean = _clean_details(session, values, None)
    _slug_free(session, clean["slug"])
    product = Product(**clean, status=ProductStatus.DRAFT.value, currency=str(values.get("currency") or "EUR"))
    session.add(product)
    session.flush()
    audit.record(session, actor, "catalog.product_create", TARGET, product.id, before={}, after=_details(product))
    return product


def public_slug(session: Session, product: Product) -> str:
    """The address customers will see: a draft's internal slug stands for its published one."""
    if product.draft_of_id and product.slug.endswith(f"--draft-{product.draft_of_id}"):
        published = session.get(Product, product.draft_of_id)
        return published.slug if published else product.slug
    return product.slug


def save_details(
    session: Session, actor: Actor, product_id: Any, expected_version: Any, values: dict[str, Any]
) -> Product:
    """Save the details form of a product row (a draft or a never-published product; a
    published product is edited through its draft). Returns the row at its new version."""
    product = _get(session, product_id)
    _require(actor, "catalog.product_save", product.id)
    _must_be_editable(product)
    before = _details(product)
    clean = _clean_details(session, values, product)
    if product.draft_of_id:
        published = session.get(Product, product.draft_of_id)
        if published is not None and clean["slug"] == published.slug:
            clean["slug"] = product.slug  # unchanged: keep the internal draft slug
        else:
            _slug_free(session, clean["slug"], product.id)
    else:
        _slug_free(session, clean["slug"], product.id)
    claim_version(session, product.id, _version(expected_version))
    session.refresh(product)
    for name, value in clean.items():
        setattr(product, name, value)
    session.add(product)
    session.flush()
    audit.record(session, actor, "catalog.product_save", TARGET, product.id, before=before, after=_details(product))
    return product


def _version(expected_version: Any) -> int:
    try:
        return int(expected_version)
    except (TypeError, ValueError):
        raise EditorError("Reload the editor: the version it was opened at is missing.", field="version") from None


def _must_be_editable(product: Product) -> None:
    if product.status != ProductStatus.DRAFT.value:
        raise EditorError(
            "A published product is edited through its draft: open it from the catalog.", code=ErrorCode.CONFLICT
        )


def open_draft(session: Session, actor: Actor, product_id: Any) -> Product:
    """The row the editor works on for `product_id`: the product itself when it is a draft,
    else the (reused or new) draft of the published or archived product."""
    product = _get(session, product_id)
    if product.status == ProductStatus.DRAFT.value:
        return product
    _require(actor, "catalog.draft_open", product.id)
    existing = session.execute(select(Product).where(Product.draft_of_id == product.id)).scalars().first()
    if existing is not None:
        return existing
    draft = _copy(
        product,
        ("id", "version", "published_at", "created_at", "updated_at"),
        slug=DRAFT_SLUG.format(slug=product.slug[:100], id=product.id),
        status=ProductStatus.DRAFT.value,
        draft_of_id=product.id,
        popularity_score=product.popularity_score,
    )
    session.add(draft)
    session.flush()
    _copychildren(session, product.id, draft.id)
    audit.record(session, actor, "catalog.draft_open", TARGET, draft.id, data={"draft_of": product.id})
    return draft


def draft_of(session: Session, product_id: int) -> Product | None:
    """The open draft of a published product, if any."""
    return session.execute(select(Product).where(Product.draft_of_id == product_id)).scalars().first()


def discard_draft(session: Session, actor: Actor, product_id: Any, expected_version: Any) -> int:
    """Delete a draft of a published product (its children go with it); returns the
    published product's id. The storefront never saw the draft."""
    product = _get(session, product_id)
    _require(actor, "catalog.draft_discard", product.id)
    if not product.draft_of_id:
        raise EditorError("Only the draft of a published product can be discarded; archive a product instead.")
    claim_version(session, product.id, _version(expected_version))
    published_id = product.draft_of_id
    audit.record(
        session,
        actor,
        "catalog.draft_discard",
        TARGET,
        product.id,
        before=_details(product),
        after={},
        data={"draft_of": published_id},
    )
    session.delete(product)
    session.flush()
    return published_id


def duplicate(session: Session, actor: Actor, product_id: Any) -> Product:
    """A never-published copy with "(copy)" in its title, a new slug and every child."""
    source = _get(session, product_id)
    _require(actor, "catalog.product_duplicate", source.id)
    base = public_slug(session, source)[:100]
    slug, n = f"{base}-copy", 2
    while session.execute(select(Product.id).where(Product.slug == slug)).first() is not None:
        slug, n = f"{base}-copy-{n}", n + 1
    copy_row = _copy(
        source,
        ("id", "version", "published_at", "created_at", "updated_at", "draft_of_id"),
        slug=slug,
        title=f"{source.title} (copy)"[:200],
        status=ProductStatus.DRAFT.value,
        popularity_score=0,
        is_featured=False,
    )
    session.add(copy_row)
    session.flush()
    _copychildren(session, source.id, copy_row.id)
    audit.record(
        session,
        actor,
        "catalog.product_duplicate",
        TARGET,
        copy_row.id,
        before={},
        after=_details(copy_row),
        data={"copy_of": source.id},
    )
    return copy_row


def set_archived(session: Session, actor: Actor, product_id: Any, expected_version: Any, archived: bool) -> Product:
    """Archive (hidden from the shop, kept for orders and old links) or bring back a
    published product; archiving a draft's product archives the published row."""
    product = _get(session, product_id)
    if product.draft_of_id:
        product = _get(session, product.draft_of_id)
        expected_version = product.version
    action = "catalog.product_archive" if archived else "catalog.product_unarchive"
    _require(actor, action, product.id)
    if archived and product.status == ProductStatus.ARCHIVED.value:
        raise EditorError("This product is already archived.")
    if not archived and product.status != ProductStatus.ARCHIVED.value:
        raise EditorError("Only an archived product can be brought back.")
    before = _details(product)
    claim_version(session, product.id, _version(expected_version))
    session.refresh(product)
    if archived:
        product.status = ProductStatus.ARCHIVED.value
    else:
        product.status = ProductStatus.ACTIVE.value if product.published_at else ProductStatus.DRAFT.value
    session.add(product)
    session.flush()
    audit.record(session, actor, action, TARGET, product.id, before=before, after=_details(product))
    return product


def publish(session: Session, actor: Actor, product_id: Any, expected_version: Any) -> Product:
    """Validate, then publish: a never-published product goes live; a draft is copied onto
    its published product (one transaction) and deleted. Returns the live row. Raises
    `PublishRefused` listing every problem."""
    product = _get(session, product_id)
    _require(actor, "catalog.product_publish", product.id)
    if product.status != ProductStatus.DRAFT.value:
        raise EditorError("Only a draft can be published.", code=ErrorCode.CONFLICT)
    problems = validate_for_publish(session, product.id)
    if problems:
        raise PublishRefused(problems)
    claim_version(session, product.id, _version(expected_version))
    session.refresh(product)
    now = utcnow()
    if not product.draft_of_id:
        before = _details(product)
        product.status = ProductStatus.ACTIVE.value
        product.published_at = now
        session.add(product)
        session.flush()
        audit.record(
            session, actor, "catalog.product_publish", TARGET, product.id, before=before, after=_details(product)
        )
        return product
    published = _get(session, product.draft_of_id)
    before = _details(published)
    _replacechildren(session, product.id, published.id)
    new_slug = None if product.slug.endswith(f"--draft-{published.id}") else product.slug
    _assign(published, product, tuple(_KEEP_ON_PUBLISH))
    published.published_at = now
    published.version = published.version + 1
    published.updated_at = now
    if published.status == ProductStatus.DRAFT.value:
        published.status = ProductStatus.ACTIVE.value
    draft_id = product.id
    session.delete(product)
    session.flush()
    if new_slug:
        published.slug = new_slug
    session.add(published)
    session.flush()
    audit.record(
        session,
        actor,
        "catalog.product_publish",
        TARGET,
        published.id,
        before=before,
        after=_details(published),
        data={"draft": draft_id},
    )
    return published


# --- option groups, options and add-ons -----------------------------------------------------


def _key(values: dict[str, Any], field: str) -> str:
    key = str(values.get("key", "")).strip().lower()
    if not KEY_RE.fullmatch(key) or len(key) > 60:
        raise EditorError("Keys hold lowercase letters, digits and underscores (e.g. package).", field=field)
    return key


def _editable(session: Session, actor: Actor, product_id: Any, expected_version: Any, action: str) -> Product:
    product = _get(session, product_id)
    _require(actor, action, product.id)
    _must_be_editable(product)
    claim_version(session, product.id, _version(expected_version))
    session.refresh(product)
    return product


def _own_group(session: Session, product: Product, group_id: Any) -> ProductOptionGroup:
    group = session.get(ProductOptionGroup, int(group_id)) if str(group_id).isdigit() else None
    if group is None or group.product_id != product.id:
        raise EditorError("That option group is not part of this product.", code=ErrorCode.NOT_FOUND)
    return group


GROUP_FIELDS = ("key", "name", "description", "selection", "required", "sort_order")
OPTION_FIELDS = ("key", "label", "description", "price_delta_minor", "quantity", "blueprint", "sort_order", "is_active")
ADD_ON_FIELDS = (
    "key",
    "label",
    "description",
    "pricing_mode",
    "amount_minor",
    "percentage_bps",
    "provider_service_id",
    "is_active",
    "sort_order",
)


def _flag(value: Any) -> bool:
    return str(value).lower() in ("1", "true", "on", "yes")


def save_group(
    session: Session, actor: Actor, product_id: Any, expected_version: Any, values: dict[str, Any], group_id: Any = None
) -> ProductOptionGroup:
    """Add (group_id None) or change an option group."""
    product = _editable(session, actor, product_id, expected_version, "catalog.group_save")
    key = _key(values, "group-key")
    name = str(values.get("name", "")).strip()
    if not name:
        raise EditorError("Name the choice customers make (e.g. Package size).", field="group-name")
    selection = str(values.get("selection", OptionSelection.SINGLE.value))
    if selection not in (OptionSelection.SINGLE.value, OptionSelection.MULTI.value):
        raise EditorError("Choose single or multiple choice.", field="group-selection")
    group = (
        _own_group(session, product, group_id)
        if group_id not in (None, "")
        else ProductOptionGroup(product_id=product.id, key=key, name=name)
    )
    clash = session.execute(
        select(ProductOptionGroup.id).where(ProductOptionGroup.product_id == product.id, ProductOptionGroup.key == key)
    ).scalar_one_or_none()
    if clash is not None and clash != group.id:
        raise EditorError("Another group of this product already has this key.", field="group-key")
    before = audit.snapshot(group, GROUP_FIELDS) if group.id else {}
    group.key, group.name = key, name
    group.description = str(values.get("description", "")).strip()[:500]
    group.selection = selection
    group.required = _flag(values.get("required", ""))
    group.sort_order = (
        _int(values, "sort_order", "The order", minimum=0)
        if str(values.get("sort_order", "")).strip()
        else group.sort_order or 0
    )
    session.add(group)
    session.flush()
    audit.record(
        session,
        actor,
        "catalog.group_save",
        "product_option_group",
        group.id,
        before=before,
        after=audit.snapshot(group, GROUP_FIELDS),
        data={"product": product.id},
    )
    return group


def delete_group(session: Session, actor: Actor, product_id: Any, expected_version: Any, group_id: Any) -> None:
    product = _editable(session, actor, product_id, expected_version, "catalog.group_delete")
    group = _own_group(session, product, group_id)
    audit.record(
        session,
        actor,
        "catalog.group_delete",
        "product_option_group",
        group.id,
        before=audit.snapshot(group, GROUP_FIELDS),
        after={},
        data={"product": product.id},
    )
    for option in session.execute(select(ProductOption).where(ProductOption.group_id == group.id)).scalars():
        session.delete(option)
    session.delete(group)
    session.flush()


def check_blueprint(values: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The blueprint copy of an option from the form, and the calculator's sample output.
    The expression goes through the safe evaluator; a bad one is refused on its field."""
    blueprint: dict[str, Any] = {}
    for name, limit in (("tagline", 200), ("delivery_sla", 120), ("hero_image", 1000)):
        text = str(values.get(name, "")).strip()
        if len(text) > limit:
            raise EditorError(f"At most {limit} characters.", field=f"option-{name}")
        if text:
            blueprint[name] = text
    expression = str(values.get("calculator", "")).strip()
    sample = ""
    if expression:
        inputs: dict[str, Any] = {}
        for pair in str(values.get("sample_inputs", "")).split(","):
            if not pair.strip():
                continue
            name, _, number = pair.partition("=")
            try:
                inputs[name.strip()] = int(number.strip())
            except ValueError:
                raise EditorError(
                    "Sample inputs look like amount=1000, days=5.", field="option-sample_inputs"
                ) from None
        try:
            value = evaluate(expression, inputs)
        except ExpressionError as error:
            raise EditorError(f"The calculator cannot be computed: {error}", field="option-calculator") from None
        blueprint["calculator"] = {"expression": expression, "sample_inputs": inputs}
        sample = f"{value.normalize():f}"
    return blueprint, sample


def save_option(
    session: Session,
    actor: Actor,
    product_id: Any,
    expected_version: Any,
    group_id: Any,
    values: dict[str, Any],
    option_id: Any = None,
) -> ProductOption:
    product = _editable(session, actor, product_id, expected_version, "catalog.option_save")
    group = _own_group(session, product, group_id)
    key = _key(values, "option-key")
    label = str(values.get("label", "")).strip()
    if not label:
        raise EditorError("Give the option a label customers read (e.g. 1,000 followers).", field="option-label")
    if option_id not in (None, ""):
        option = session.get(ProductOption, int(option_id)) if str(option_id).isdigit() else None
        if option is None or option.group_id != group.id:
            raise EditorError("That option is not part of this group.", code=ErrorCode.NOT_FOUND)
    else:
        option = ProductOption(group_id=group.id, key=key, label=label)
    clash = session.execute(
        select(ProductOption.id).where(ProductOption.group_id == group.id, ProductOption.key == key)
    ).scalar_one_or_none()
    if clash is not None and clash != option.id:
        raise EditorError("Another option of this group already has this key.", field="option-key")
    quantity_text = str(values.get("quantity", "")).strip()
    quantity = _int(values, "quantity", "The package quantity", minimum=1) if quantity_text else None
    blueprint, _sample = check_blueprint(values)
    before = audit.snapshot(option, OPTION_FIELDS) if option.id else {}
    option.key, option.label = key, label
    option.description = str(values.get("description", "")).strip()[:500]
    option.price_delta_minor = parse_price(values.get("price", "0"), "Price", "option-price")
    option.quantity = quantity
    option.blueprint = blueprint
    option.sort_order = (
        _int(values, "sort_order", "The order") if str(values.get("sort_order", "")).strip() else option.sort_order or 0
    )
    option.is_active = _flag(values.get("is_active", "on"))
    session.add(option)
    session.flush()
    audit.record(
        session,
        actor,
        "catalog.option_save",
        "product_option",
        option.id,
        before=before,
        after=audit.snapshot(option, OPTION_FIELDS),
        data={"product": product.id},
    )
    return option


def delete_option(session: Session, actor: Actor, product_id: Any, expected_version: Any, option_id: Any) -> None:
    product = _editable(session, actor, product_id, expected_version, "catalog.option_delete")
    option = session.get(ProductOption, int(option_id)) if str(option_id).isdigit() else None
    if option is None:
        raise EditorError("That option is not part of this product.", code=ErrorCode.NOT_FOUND)
    _own_group(session, product, option.group_id)
    audit.record(
        session,
        actor,
        "catalog.option_delete",
        "product_option",
        option.id,
        before=audit.snapshot(option, OPTION_FIELDS),
        after={},
        data={"product": product.id},
    )
    session.delete(option)
    session.flush()


def save_add_on(
    session: Session,
    actor: Actor,
    product_id: Any,
    expected_version: Any,
    values: dict[str, Any],
    add_on_id: Any = None,
) -> ProductAddOn:
    product = _editable(session, actor, product_id, expected_version, "catalog.add_on_save")
    key = _key(values, "addon-key")
    label = str(values.get("label", "")).strip()
    if not label:
        raise EditorError("Give the add-on a label customers read.", field="addon-label")
    mode = str(values.get("pricing_mode", AddOnPricingMode.FLAT.value))
    if mode not in {m.value for m in AddOnPricingMode}:
        raise EditorError("Choose flat, percent or service override.", field="addon-pricing_mode")
    if add_on_id not in (None, ""):
        add_on = session.get(ProductAddOn, int(add_on_id)) if str(add_on_id).isdigit() else None
        if add_on is None or add_on.product_id != product.id:
            raise EditorError("That add-on is not part of this product.", code=ErrorCode.NOT_FOUND)
    else:
        add_on = ProductAddOn(product_id=product.id, key=key, label=label)
    clash = session.execute(
        select(ProductAddOn.id).where(ProductAddOn.product_id == product.id, ProductAddOn.key == key)
    ).scalar_one_or_none()
    if clash is not None and clash != add_on.id:
        raise EditorError("Another add-on of this product already has this key.", field="addon-key")
    amount = parse_price(values.get("amount", "0") or "0", "Amount", "addon-amount")
    percent_text = str(values.get("percent", "") or "0").strip().replace("%", "")
    try:
        bps = round(float(percent_text) * 100)
    except ValueError:
        raise EditorError("Enter a percentage like 15 or 7.5.", field="addon-percent") from None
    service_id = None
    if mode == AddOnPricingMode.SERVICE_OVERRIDE.value:
        raw = str(values.get("provider_service_id", "")).strip()
        service = session.get(ProviderService, int(raw)) if raw.isdigit() else None
        if service is None:
            raise EditorError(
                "Choose the provider service that fulfils this add-on.", field="addon-provider_service_id"
            )
        service_id = service.id
    elif mode == AddOnPricingMode.PERCENTAGE.value and bps <= 0:
        raise EditorError("A percent add-on needs a percentage above 0.", field="addon-percent")
    before = audit.snapshot(add_on, ADD_ON_FIELDS) if add_on.id else {}
    add_on.key, add_on.label, add_on.pricing_mode = key, label, mode
    add_on.description = str(values.get("description", "")).strip()[:500]
    add_on.amount_minor = amount if mode != AddOnPricingMode.PERCENTAGE.value else 0
    add_on.percentage_bps = bps if mode == AddOnPricingMode.PERCENTAGE.value else 0
    add_on.provider_service_id = service_id
    add_on.is_active = _flag(values.get("is_active", "on"))
    add_on.sort_order = (
        _int(values, "sort_order", "The order") if str(values.get("sort_order", "")).strip() else add_on.sort_order or 0
    )
    session.add(add_on)
    session.flush()
    audit.record(
        session,
        actor,
        "catalog.add_on_save",
        "product_add_on",
        add_on.id,
        before=before,
        after=audit.snapshot(add_on, ADD_ON_FIELDS),
        data={"product": product.id},
    )
    return add_on


def delete_add_on(session: Session, actor: Actor, product_id: Any, expected_version: Any, add_on_id: Any) -> None:
    product = _editable(session, actor, product_id, expected_version, "catalog.add_on_delete")
    add_on = session.get(ProductAddOn, int(add_on_id)) if str(add_on_id).isdigit() else None
    if add_on is None or add_on.product_id != product.id:
        raise EditorError("That add-on is not part of this product.", code=ErrorCode.NOT_FOUND)
    audit.record(
        session,
        actor,
        "catalog.add_on_delete",
        "product_add_on",
        add_on.id,
        before=audit.snapshot(add_on, ADD_ON_FIELDS),
        after={},
        data={"product": product.id},
    )
    session.delete(add_on)
    session.flush()


# --- reading the editor's product -----------------------------------------------------------


def detail(session: Session, product: Product) -> catalog.ProductDetail:
    """The product as the storefront will read it once published (every active option,
    add-on and plan); drip-feed availability comes from the published product's routes."""
    found = catalog.get_product_detail(session, product.slug, include_inactive=True)
    if found is None:  # pragma: no cover - the row was read just before
        raise ServiceError("This product does not exist.", code=ErrorCode.NOT_FOUND)
    if product.draft_of_id:
        published = session.get(Product, product.draft_of_id)
        live = catalog.get_product_detail(session, published.slug, include_inactive=True) if published else None
        found.dripfeed_available = bool(live and live.dripfeed_available)
    return found


def routing_context(session: Session, product: Product) -> routing.RoutingContext:
    """Routing as it will be once `product` is published: a draft's add-ons with the
    published product's routes (route add-on ids mapped to the draft's add-ons by key)."""
    ctx = routing.RoutingContext.load(session, [product.id])
    if not product.draft_of_id:
        return ctx
    live = routing.RoutingContext.load(session, [product.draft_of_id])
    published_keys = dict(
        session.execute(
            select(ProductAddOn.id, ProductAddOn.key).where(ProductAddOn.product_id == product.draft_of_id)
        ).all()
    )
    draft_by_key = dict(
        session.execute(select(ProductAddOn.key, ProductAddOn.id).where(ProductAddOn.product_id == product.id)).all()
    )
    routes: list[ServiceRoute] = []
    for route in live.routes.get(product.draft_of_id, []):
        values = {name: getattr(route, name) for name in _columns(ServiceRoute)}
        values["product_id"] = product.id
        if route.add_on_id is not None:
            mapped = draft_by_key.get(published_keys.get(route.add_on_id, ""))
            if mapped is None:
                continue  # its add-on is gone from the draft
            values["add_on_id"] = mapped
        routes.append(ServiceRoute(**values))
    return routing.RoutingContext(
        routes={product.id: routes},
        add_ons=ctx.add_ons,
        services={**live.services, **ctx.services},
        providers={**live.providers, **ctx.providers},
    )


def route_candidates(
    ctx: routing.RoutingContext, detail_: catalog.ProductDetail, quote: pricing.Quote, channel: str = "storefront"
) -> list[routing.RouteCandidate]:
    product = detail_.product
    drip = pricing.drip_feed(detail_, quote.configuration)
    runs = drip.runs if drip else None
    spec = DeliverySpec(
        link=PREVIEW_LINK,
        quantity=max(1, quote.service_units),
        channel=product.platform,
        dripfeed_runs=runs,
        dripfeed_interval_minutes=drip.interval_minutes if runs else None,
        option_keys=dict(quote.configuration.options),
        add_on_keys=list(quote.configuration.add_ons),
        plan_key=quote.configuration.plan or "",
    )
    return routing.candidates(ctx, product.id, spec, spec.quantity, quote.total_minor)


# Reasons a route is passed over that say something about the catalog (not about today's
# provider balance or health, which change by the minute).
_CATALOG_REASONS = ("service ", "margin ", "quantity ", "is inactive")


def _configurations(detail_: catalog.ProductDetail) -> tuple[list[tuple[str, str, str, Any]], list[Problem]]:
    """(label, tab, field, Configuration) for the default, every preset and every plan."""
    configs: list[tuple[str, str, str, Any]] = []
    problems: list[Problem] = []
    default = pricing.default_configuration(detail_)
    configs.append(("The default selection", "options", "options", default))
    for preset in detail_.presets:
        try:
            configs.append(
                (
                    f"Preset “{preset.label}”",
                    "presets",
                    f"preset-{preset.key}",
                    pricing.from_preset(detail_, preset.key),
                )
            )
        except pricing.ConfigurationInvalid as invalid:
            problems.append(Problem(f"Preset “{preset.label}”: {invalid.message}", "presets", f"preset-{preset.key}"))
    for plan in detail_.plans:
        configs.append(
            (
                f"Plan “{plan.name}”",
                "plans",
                f"plan-{plan.key}",
                pricing.Configuration(options=default.options, plan=plan.key, fields=default.fields),
            )
        )
    return configs, problems


def _config_problems(
    session: Session, detail_: catalog.ProductDetail, label: str, tab: str, field: str, config: Any
) -> tuple[pricing.Quote | None, list[Problem]]:
    try:
        quote = pricing.price_for(session, detail_, config, fields=pricing.FIELDS_COLLECT)
    except pricing.ConfigurationInvalid as invalid:
        return None, [
            Problem(f"{label} is not a valid choice: {message}", tab, field) for message in invalid.errors.values()
        ] or [Problem(f"{label} is not a valid choice: {invalid.message}", tab, field)]
    except pricing.PricingError as error:
        return None, [Problem(f"{label} cannot be priced: {error}", tab, field)]
    problems = [
        Problem(f"{label}: the value it sets for {key.split('.', 1)[1]} is refused: {message}", tab, field)
        for key, message in quote.field_errors.items()
        if config.fields.get(key.split(".", 1)[1])
    ]
    return quote, problems


def validate_for_publish(session: Session, product_id: Any) -> list[Problem]:
    """Every reason `product_id` cannot be published yet (empty: it can)."""
    product = _get(session, product_id)
    problems: list[Problem] = []
    if not product.title.strip():
        problems.append(Problem("Give the product a title.", "details", "title"))
    if not public_slug(session, product).strip():
        problems.append(Problem("Give the product an address (slug).", "details", "slug"))
    detail_ = detail(session, product)
    has_options = any(opts for _, opts in detail_.groups)
    if not has_options and product.base_price_minor <= 0:
        problems.append(Problem("Add an option group with options, or set a base price.", "options", "options"))
    for group, options in detail_.groups:
        if group.required and not options:
            problems.append(
                Problem(f"The required group “{group.name}” has no active option.", "options", f"group-{group.key}")
            )
    if not any(f.required and names_delivery_target(f.key) for f in detail_.fields):
        problems.append(
            Problem(
                "Customers are never asked where to deliver: add a required field with the key "
                "“username” (an account) or one ending in “_link” (a post, video or story link).",
                "fields",
                "fields",
            )
        )
    for media in detail_.media:
        if not media.alt_text.strip():
            problems.append(
                Problem(
                    f"Image “{media.label or media.url.rsplit('/', 1)[-1]}” needs alt text.",
                    "media",
                    f"media-{media.id}-alt",
                )
            )
    for add_on in detail_.add_ons:
        if add_on.pricing_mode == AddOnPricingMode.SERVICE_OVERRIDE.value and add_on.provider_service_id is None:
            problems.append(
                Problem(
                    f"Add-on “{add_on.label}”: its provider service no longer exists; choose another.",
                    "options",
                    f"addon-{add_on.key}",
                )
            )
    configs, config_problems = _configurations(detail_)
    problems += config_problems
    ctx = routing_context(session, product)
    quotes: list[tuple[str, str, str, pricing.Quote]] = []
    for label, tab, field, config in configs:
        quote, found = _config_problems(session, detail_, label, tab, field, config)
        problems += found
        if quote is not None:
            quotes.append((label, tab, field, quote))
    # each service-override add-on routes the default selection to its own service
    if quotes:
        _, _, _, default_quote = quotes[0]
        for add_on in detail_.add_ons:
            if add_on.pricing_mode == AddOnPricingMode.SERVICE_OVERRIDE.value and add_on.provider_service_id:
                config = pricing.Configuration(
                    options=default_quote.configuration.options,
                    add_ons=[add_on.key],
                    plan=default_quote.configuration.plan,
                )
                quote, found = _config_problems(
                    session, detail_, f"Add-on “{add_on.label}”", "options", f"addon-{add_on.key}", config
                )
                problems += found
                if quote is not None:
                    quotes.append((f"Add-on “{add_on.label}”", "options", f"addon-{add_on.key}", quote))
    seen: set[str] = set()
    for label, tab, field, quote in quotes:
        found = route_candidates(ctx, detail_, quote)
        if not found:
            problems.append(
                Problem(f"{label}: no provider route delivers it. Add a route for this product.", tab, field)
            )
            continue
        for candidate in found:
            catalog_reasons = [
                r for r in candidate.reasons if r.startswith(_CATALOG_REASONS) or r.endswith("is inactive")
            ]
            for reason in catalog_reasons:
                message = (
                    f"{label}: service #{candidate.service.external_service_id} {candidate.service.name}: {reason}."
                )
                if message not in seen:
                    seen.add(message)
                    problems.append(Problem(message, tab, field))
    return problems


# --- the preview's margin table ---------------------------------------------------------------


def channel_prices(
    session: Session, product: Product, detail_: catalog.ProductDetail, quote: pricing.Quote
) -> list[tuple[str, int]]:
    """What the current selection costs per sales channel: the storefront price, then the
    reseller API's (resellers pay per-service rates or a markup on provider cost, see
    `services.resellers.rate_per_1000`): the default markup and each reseller with its own
    prices for this product (at most `MAX_RESELLER_ROWS`)."""
    from dataclasses import replace

    from smplat.models.resellers import ResellerAccount
    from smplat.services import resellers

    live_id = product.draft_of_id or product.id
    # the reseller rules read the product id (own rates) and its routes (cost): the live product's
    as_live = replace(detail_, product=_copy(product, ("id",), id=live_id))
    units = max(1, quote.service_units) * quote.quantity
    prices = [("Storefront", quote.total_minor)]
    default_rate = resellers.rate_per_1000(session, ResellerAccount(markup_bps=None, rates={}), as_live)
    prices.append(("Reseller API (default markup)", resellers.charge_for(default_rate, units)))
    accounts = session.execute(select(ResellerAccount).order_by(ResellerAccount.id)).scalars().all()
    own = [a for a in accounts if a.markup_bps is not None or str(live_id) in (a.rates or {})]
    for account in own[:MAX_RESELLER_ROWS]:
        rate = resellers.rate_per_1000(session, account, as_live)
        name = getattr(account, "name", "") or f"reseller #{account.id}"
        prices.append((f"Reseller API ({name})", resellers.charge_for(rate, units)))
    return prices


MAX_RESELLER_ROWS = 5


def margin_rows(
    session: Session, product: Product, detail_: catalog.ProductDetail, quote: pricing.Quote
) -> list[dict[str, str]]:
    """Per channel and per route of the current selection: customer price, provider cost,
    margin and the guardrail verdict (the routing service's own rules)."""
    from dataclasses import replace

    ctx = routing_context(session, product)
    rows: list[dict[str, str]] = []
    for channel, price_minor in channel_prices(session, product, detail_, quote):
        priced = replace(quote, total_minor=price_minor)
        if channel != "Storefront":
            # a reseller order names the service and quantity only: no options, no add-ons
            priced = replace(priced, configuration=pricing.Configuration())
        found = route_candidates(ctx, detail_, priced)
        if not found:
            rows.append(
                {
                    "channel": channel,
                    "price": format_money(price_minor, quote.currency),
                    "service": "—",
                    "cost": "—",
                    "margin": "—",
                    "verdict": "blocked",
                    "note": "no route matches this selection",
                }
            )
        for c in found:
            rows.append(
                {
                    "channel": channel,
                    "price": format_money(price_minor, quote.currency),
                    "service": f"{c.provider.name} #{c.service.external_service_id} {c.service.name}",
                    "cost": format_money(c.cost_minor, quote.currency),
                    "margin": "—" if c.margin_bps is None else f"{c.margin_bps / 100:.1f} %",
                    "verdict": "blocked" if not c.eligible else ("warning" if c.warning else "ok"),
                    "note": "; ".join(c.reasons) if c.reasons else c.warning,
                }
            )
    return rows


def service_verdict(
    session: Session, service_id: Any, price_minor: int, units: int, currency: str = "EUR"
) -> dict[str, str]:
    """For the add-on service picker: the service's cost for `units`, the margin at
    `price_minor` and the guardrail verdict (the routing functions' own rules)."""
    from smplat.settings import get_settings

    service = session.get(ProviderService, int(service_id)) if str(service_id).isdigit() else None
    if service is None:
        return {}
    settings = get_settings()
    cost = routing.cost_minor(service.rate_per_1000, units * 1000 if service.type == "Package" else units)
    margin = routing.margin_bps(price_minor, cost)
    if service.status != "active":
        verdict = f"blocked: service is {service.status}"
    elif margin is None or margin < settings.routing_margin_floor_bps:
        verdict = f"blocked: below the {settings.routing_margin_floor_bps / 100:.1f} % floor"
    elif margin < settings.routing_margin_warn_bps:
        verdict = f"warning: below {settings.routing_margin_warn_bps / 100:.1f} %"
    else:
        verdict = "ok"
    return {
        "service": f"#{service.external_service_id} {service.name}",
        "rate": f"{service.rate_per_1000} per 1,000",
        "cost": format_money(cost, currency),
        "price": format_money(price_minor, currency),
        "margin": "—" if margin is None else f"{margin / 100:.1f} %",
        "verdict": verdict,
    }


def provider_service_choices(session: Session) -> list[dict[str, str]]:
    from smplat.models.providers import Provider

    rows = session.execute(
        select(ProviderService, Provider.name)
        .join(Provider, Provider.id == ProviderService.provider_id)
        .order_by(Provider.name, ProviderService.name)
    ).all()
    return [
        {"id": str(s.id), "label": f"{name} · #{s.external_service_id} {s.name} ({s.rate_per_1000}/1k, {s.status})"}
        for s, name in rows
    ]


# --- the catalog list -------------------------------------------------------------------------


def catalog_rows(session: Session) -> list[dict[str, Any]]:
    """/admin/catalog: every product that is not a draft of another, with its state
    (draft / published / archived, "has unpublished changes"); four queries."""
    products = session.execute(
        select(Product, Category.name)
        .join(Category, Category.id == Product.category_id)
        .where(Product.draft_of_id.is_(None))
        .order_by(Category.sort_order, Product.title)
    ).all()
    drafts = dict(
        session.execute(select(Product.draft_of_id, Product.id).where(Product.draft_of_id.is_not(None))).all()
    )
    option_counts = dict(
        session.execute(
            select(ProductOptionGroup.product_id, func.count(ProductOption.id))
            .join(ProductOption, ProductOption.group_id == ProductOptionGroup.id)
            .group_by(ProductOptionGroup.product_id)
        ).all()
    )
    addon_counts = dict(
        session.execute(select(ProductAddOn.product_id, func.count()).group_by(ProductAddOn.product_id)).all()
    )
    rows = []
    for product, category_name in products:
        state = {
            ProductStatus.DRAFT.value: "draft",
            ProductStatus.ACTIVE.value: "published",
            ProductStatus.ARCHIVED.value: "archived",
        }.get(product.status, product.status)
        rows.append(
            {
                "id": product.id,
                "slug": product.slug,
                "title": product.title,
                "category": category_name,
                "platform": product.platform,
                "state": state,
                "changes": "has unpublished changes" if product.id in drafts else "",
                "edit_href": f"/admin/products/{drafts.get(product.id, product.id)}",
                "base_price": format_money(product.base_price_minor, product.currency),
                "options": option_counts.get(product.id, 0),
                "add_ons": addon_counts.get(product.id, 0),
                "published": f"{product.published_at:%d %b %Y}" if product.published_at else "—",
                "is_live": product.status == ProductStatus.ACTIVE.value,
            }
        )
    return rows


def category_choices(session: Session) -> list[dict[str, str]]:
    return [
        {"id": str(c.id), "name": c.name}
        for c in session.execute(select(Category).order_by(Category.sort_order, Category.name)).scalars()
    ]
