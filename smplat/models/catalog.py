"""Catalog: categories, products and everything a customer configures before buying one."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from smplat.models.base import (
    StrEnum,
    created_at_field,
    currency_field,
    json_field,
    updated_at_field,
    utc_field,
)


class Platform(StrEnum):
    INSTAGRAM = "instagram"
    TIKTOK = "tiktok"
    YOUTUBE = "youtube"
    FACEBOOK = "facebook"
    X = "x"
    OTHER = "other"


class ProductKind(StrEnum):
    FOLLOWERS = "followers"
    LIKES = "likes"
    VIEWS = "views"
    COMMENTS = "comments"
    SUBSCRIBERS = "subscribers"
    SUBSCRIPTION = "subscription"  # recurring growth plan, billed per interval
    OTHER = "other"


class ProductStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    ARCHIVED = "archived"  # kept for order history and old links, hidden from the shop


class OptionSelection(StrEnum):
    SINGLE = "single"
    MULTI = "multi"


class AddOnPricingMode(StrEnum):
    FLAT = "flat"  # amount_minor added once per line
    PERCENTAGE = "percentage"  # percentage_bps of the configured line price
    SERVICE_OVERRIDE = "service_override"  # fulfil with provider_service_id instead; may also cost amount_minor


class PlanBilling(StrEnum):
    ONE_TIME = "one_time"
    SUBSCRIPTION = "subscription"


class PlanInterval(StrEnum):
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"


class CustomFieldType(StrEnum):
    TEXT = "text"
    TEXTAREA = "textarea"
    URL = "url"
    NUMBER = "number"  # any decimal number (Decimal)
    INTEGER = "integer"  # a whole number, e.g. days of a drip-feed: consumers read it with int()
    HANDLE = "handle"  # a social account name, e.g. @brand
    EMAIL = "email"
    CHOICE = "choice"  # one of the field's own `choices` (their `value` is what is stored)


class Category(SQLModel, table=True):
    __tablename__ = "categories"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=80, unique=True, index=True, nullable=False)
    name: str = Field(max_length=120, nullable=False)
    description: str = Field(default="", sa_type=sa.Text)
    platform: str = Field(default=Platform.OTHER.value, max_length=20, index=True)
    sort_order: int = Field(default=0)
    is_active: bool = Field(default=True)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class Product(SQLModel, table=True):
    """A service the shop sells. The price a customer pays is computed by the pricing
    service from the plan (or base price), option deltas and add-ons; what was paid is
    frozen in OrderItem.snapshot, so editing a product never rewrites history."""

    __tablename__ = "products"
    __table_args__ = (
        # storefront listings: active products of a category, most popular first
        sa.Index("ix_products_category_status_popularity", "category_id", "status", "popularity_score"),
        sa.Index("ix_products_status_featured", "status", "is_featured"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # RESTRICT: a category that still holds products cannot disappear from under them
    category_id: int = Field(foreign_key="categories.id", index=True, nullable=False, ondelete="RESTRICT")
    slug: str = Field(max_length=120, unique=True, index=True, nullable=False)
    title: str = Field(max_length=200, nullable=False)
    tagline: str = Field(default="", max_length=300)
    description: str = Field(default="", sa_type=sa.Text)
    platform: str = Field(default=Platform.OTHER.value, max_length=20, index=True)
    kind: str = Field(default=ProductKind.OTHER.value, max_length=20, index=True)
    status: str = Field(default=ProductStatus.DRAFT.value, max_length=20)
    # the price of the smallest configuration; option deltas and add-ons add to it
    base_price_minor: int = Field(default=0, nullable=False)
    currency: str = currency_field()
    unit_label: str = Field(default="units", max_length=40)  # "followers", "views"
    min_quantity: int = Field(default=1, nullable=False)
    max_quantity: int = Field(default=1_000_000, nullable=False)
    delivery_estimate_hours: int = Field(default=24, nullable=False)
    popularity_score: int = Field(default=0, nullable=False)
    is_featured: bool = Field(default=False)
    # Editing: every save of the product or of anything it owns bumps `version`; a save that
    # names an older version is refused (services/catalog_drafts.py), never merged silently.
    version: int = Field(default=1, nullable=False)
    # A draft of a published product is a separate, never-listed row pointing at it; publishing
    # copies the draft onto the published row (ids and slug of the published product stay).
    draft_of_id: int | None = Field(
        default=None, foreign_key="products.id", index=True, nullable=True, ondelete="CASCADE"
    )
    published_at: datetime | None = utc_field()
    # SEO: empty means "derive from title / tagline / primary image"
    seo_title: str = Field(default="", max_length=200)
    meta_description: str = Field(default="", max_length=300)
    social_image_url: str = Field(default="", max_length=1000)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class ProductOptionGroup(SQLModel, table=True):
    """A question the configurator asks, e.g. "Package size" or "Delivery speed"."""

    __tablename__ = "product_option_groups"
    __table_args__ = (sa.UniqueConstraint("product_id", "key", name="uq_product_option_groups_product_key"),)

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="products.id", index=True, nullable=False, ondelete="CASCADE")
    key: str = Field(max_length=60, nullable=False)
    name: str = Field(max_length=120, nullable=False)
    description: str = Field(default="", max_length=500)
    selection: str = Field(default=OptionSelection.SINGLE.value, max_length=10)
    required: bool = Field(default=True)
    sort_order: int = Field(default=0)


class ProductOption(SQLModel, table=True):
    """One answer of an option group.

    `quantity` is set on amount options ("1,000 followers") and is the number of service
    units the choice delivers. `blueprint` is what the configurator shows and computes:
    {"tagline": str, "delivery_sla": str, "hero_image": str,
     "calculator": {"expression": "amount / days", "sample_inputs": {"amount": 1000, "days": 5}}}
    The calculator expression is evaluated by the safe evaluator, never `eval`.
    """

    __tablename__ = "product_options"
    __table_args__ = (sa.UniqueConstraint("group_id", "key", name="uq_product_options_group_key"),)

    id: int | None = Field(default=None, primary_key=True)
    group_id: int = Field(foreign_key="product_option_groups.id", index=True, nullable=False, ondelete="CASCADE")
    key: str = Field(max_length=60, nullable=False)
    label: str = Field(max_length=200, nullable=False)
    description: str = Field(default="", max_length=500)
    price_delta_minor: int = Field(default=0, nullable=False)
    quantity: int | None = Field(default=None)
    blueprint: dict[str, Any] = json_field()
    sort_order: int = Field(default=0)
    is_active: bool = Field(default=True)


class ProductAddOn(SQLModel, table=True):
    """An extra on top of the configured line: flat fee, percentage, or a different
    provider service (e.g. premium accounts) that replaces the routed one."""

    __tablename__ = "product_add_ons"
    __table_args__ = (sa.UniqueConstraint("product_id", "key", name="uq_product_add_ons_product_key"),)

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="products.id", index=True, nullable=False, ondelete="CASCADE")
    key: str = Field(max_length=60, nullable=False)
    label: str = Field(max_length=200, nullable=False)
    description: str = Field(default="", max_length=500)
    pricing_mode: str = Field(default=AddOnPricingMode.FLAT.value, max_length=20)
    amount_minor: int = Field(default=0, nullable=False)
    percentage_bps: int = Field(default=0, nullable=False)  # 1500 = +15 %
    # SET NULL: a removed provider service leaves the add-on to fall back to normal routing
    provider_service_id: int | None = Field(
        default=None, foreign_key="provider_services.id", index=True, nullable=True, ondelete="SET NULL"
    )
    is_active: bool = Field(default=True)
    sort_order: int = Field(default=0)


class ProductPlan(SQLModel, table=True):
    """How a product is billed. When a plan is chosen its price_minor replaces the
    product's base price; a subscription plan charges it every interval."""

    __tablename__ = "product_plans"
    __table_args__ = (sa.UniqueConstraint("product_id", "key", name="uq_product_plans_product_key"),)

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="products.id", index=True, nullable=False, ondelete="CASCADE")
    key: str = Field(max_length=60, nullable=False)
    name: str = Field(max_length=120, nullable=False)
    billing: str = Field(default=PlanBilling.ONE_TIME.value, max_length=20)
    interval: str | None = Field(default=None, max_length=10)  # only for subscriptions
    interval_count: int = Field(default=1, nullable=False)
    price_minor: int = Field(default=0, nullable=False)
    currency: str = currency_field()
    stripe_price_id: str | None = Field(default=None, max_length=120, index=True)
    is_active: bool = Field(default=True)
    sort_order: int = Field(default=0)


class ProductCustomField(SQLModel, table=True):
    """Something the customer types in: the account handle, a post link, a number.

    `visibility_rules` decides when the field is shown (and therefore required); empty
    means always. Shape: {"match": "all" | "any", "conditions": [
        {"option": "<group key>:<option key>"} | {"add_on": "<key>"} |
        {"plan": "<key>"} | {"channel": ["storefront", "api", ...]}]}

    `choices` (choice fields only): [{"value": "<stored>", "label": "<shown>"}, ...].
    `sample_values`: examples the builder checked against the field's own rules (shown as hints).
    `min_value`/`max_value` bound number and integer fields. Everything here is written by
    `services.catalog_fields` and enforced by `services.pricing` exactly as saved.
    """

    __tablename__ = "product_custom_fields"
    __table_args__ = (sa.UniqueConstraint("product_id", "key", name="uq_product_custom_fields_product_key"),)

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="products.id", index=True, nullable=False, ondelete="CASCADE")
    key: str = Field(max_length=60, nullable=False)
    label: str = Field(max_length=200, nullable=False)
    field_type: str = Field(default=CustomFieldType.TEXT.value, max_length=20)
    required: bool = Field(default=False)
    placeholder: str = Field(default="", max_length=200)
    help_text: str = Field(default="", max_length=500)
    default_value: str = Field(default="", max_length=500)
    min_value: Decimal | None = Field(default=None, sa_type=sa.Numeric(18, 4))
    max_value: Decimal | None = Field(default=None, sa_type=sa.Numeric(18, 4))
    regex_pattern: str = Field(default="", max_length=500)
    regex_message: str = Field(default="", max_length=300)
    choices: list[dict[str, Any]] = json_field(list)
    sample_values: list[str] = json_field(list)
    visibility_rules: dict[str, Any] = json_field()
    sort_order: int = Field(default=0)


class ProductPreset(SQLModel, table=True):
    """A one-click configuration, e.g. "1,000 followers / €12".

    `selection`: {"options": {"<group key>": "<option key>" | [keys]}, "add_ons": [keys],
    "plan": "<key>" | null, "fields": {"<field key>": value}}. The price is always
    recomputed; price_hint_minor is only what the card shows.
    """

    __tablename__ = "product_presets"
    __table_args__ = (sa.UniqueConstraint("product_id", "key", name="uq_product_presets_product_key"),)

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="products.id", index=True, nullable=False, ondelete="CASCADE")
    key: str = Field(max_length=60, nullable=False)
    label: str = Field(max_length=200, nullable=False)
    description: str = Field(default="", max_length=500)
    selection: dict[str, Any] = json_field()
    price_hint_minor: int | None = Field(default=None)
    badge: str = Field(default="", max_length=40)  # e.g. "Most chosen", shown on the preset button
    image_url: str = Field(default="", max_length=1000)
    is_featured: bool = Field(default=False)
    sort_order: int = Field(default=0)


class MediaUsage(StrEnum):
    HERO = "hero"
    DETAIL = "detail"
    SOCIAL_PROOF = "social_proof"


class ProductMedia(SQLModel, table=True):
    """One picture of a product. Uploaded pictures (services/media.py) are re-encoded without
    metadata into the media directory with two padded variants: `card_url` (the storefront
    card and product page) and `thumb_url` (cart and admin thumbnails). Seeded pictures are
    plain asset URLs whose variants are empty (the original is used)."""

    __tablename__ = "product_media"

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="products.id", index=True, nullable=False, ondelete="CASCADE")
    url: str = Field(max_length=1000, nullable=False)
    alt_text: str = Field(default="", max_length=300)
    label: str = Field(default="", max_length=120)
    usage_tags: list[str] = json_field(list)  # MediaUsage values: "hero", "detail", "social_proof"
    is_primary: bool = Field(default=False)
    sort_order: int = Field(default=0)
    checksum: str = Field(default="", max_length=64)  # sha256 hex of the uploaded bytes; spots duplicates
    card_url: str = Field(default="", max_length=1000)
    thumb_url: str = Field(default="", max_length=1000)
    content_type: str = Field(default="", max_length=40)  # decoded type, e.g. image/png
    width: int = Field(default=0, nullable=False)
    height: int = Field(default=0, nullable=False)
    byte_size: int = Field(default=0, nullable=False)  # of the stored original
    created_at: datetime = created_at_field()


class ProductBundle(SQLModel, table=True):
    """A cross-sell offer shown on the primary product: buy it with the bundled
    products and get discount_bps off the bundled lines."""

    __tablename__ = "product_bundles"

    id: int | None = Field(default=None, primary_key=True)
    primary_product_id: int = Field(foreign_key="products.id", index=True, nullable=False, ondelete="CASCADE")
    slug: str = Field(max_length=120, unique=True, index=True, nullable=False)
    title: str = Field(max_length=200, nullable=False)
    description: str = Field(default="", max_length=500)
    discount_bps: int = Field(default=0, nullable=False)
    is_active: bool = Field(default=True)
    sort_order: int = Field(default=0)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class ProductBundleItem(SQLModel, table=True):
    __tablename__ = "product_bundle_items"
    __table_args__ = (sa.UniqueConstraint("bundle_id", "product_id", name="uq_product_bundle_items_bundle_product"),)

    id: int | None = Field(default=None, primary_key=True)
    bundle_id: int = Field(foreign_key="product_bundles.id", index=True, nullable=False, ondelete="CASCADE")
    product_id: int = Field(foreign_key="products.id", index=True, nullable=False, ondelete="CASCADE")
    preset_key: str = Field(default="", max_length=60)  # which preset of the bundled product is offered
    sort_order: int = Field(default=0)
