"""In-memory products for the pricing and configurator unit tests: one Instagram followers
product with every option group kind, add-on mode, a typed field and a preset."""

from __future__ import annotations

from decimal import Decimal

from smplat.models.catalog import (
    Category,
    Product,
    ProductAddOn,
    ProductCustomField,
    ProductOption,
    ProductOptionGroup,
    ProductPlan,
    ProductPreset,
)
from smplat.services.catalog import ProductDetail


def make_detail(
    currency: str = "EUR",
    base: int = 1200,
    *,
    plans: list[ProductPlan] | None = None,
    extra_fields: list[ProductCustomField] | None = None,
    multi: bool = False,
) -> ProductDetail:
    product = Product(
        id=1,
        category_id=1,
        slug="ig-followers",
        title="Instagram Followers",
        base_price_minor=base,
        currency=currency,
        unit_label="followers",
        min_quantity=500,
        delivery_estimate_hours=48,
    )
    package = ProductOptionGroup(
        id=10, product_id=1, key="package", name="Package size", selection="single", required=True
    )
    speed = ProductOptionGroup(
        id=11, product_id=1, key="speed", name="Delivery speed", selection="single", required=True
    )
    extras = ProductOptionGroup(
        id=12, product_id=1, key="targeting", name="Targeting", required=False, selection="multi" if multi else "single"
    )
    groups = [
        (
            package,
            [
                ProductOption(
                    id=100,
                    group_id=10,
                    key="1000",
                    label="1,000 followers",
                    price_delta_minor=0,
                    quantity=1000,
                    blueprint={
                        "calculator": {"expression": "amount / days", "sample_inputs": {"amount": 1000, "days": 2}},
                        "tagline": "1,000 followers",
                        "delivery_sla": "2 days",
                    },
                ),
                ProductOption(
                    id=101, group_id=10, key="2500", label="2,500 followers", price_delta_minor=1700, quantity=2500
                ),
            ],
        ),
        (
            speed,
            [
                ProductOption(id=110, group_id=11, key="standard", label="Standard", price_delta_minor=0),
                ProductOption(id=111, group_id=11, key="express", label="Express", price_delta_minor=390),
                ProductOption(id=112, group_id=11, key="gradual", label="Gradual", price_delta_minor=0),
            ],
        ),
        (
            extras,
            [
                ProductOption(id=120, group_id=12, key="eu", label="EU audience", price_delta_minor=150),
                ProductOption(id=121, group_id=12, key="us", label="US audience", price_delta_minor=250),
            ],
        ),
    ]
    add_ons = [
        ProductAddOn(
            id=200, product_id=1, key="priority", label="Priority start", pricing_mode="flat", amount_minor=290
        ),
        ProductAddOn(
            id=201, product_id=1, key="refill", label="Refill guarantee", pricing_mode="percentage", percentage_bps=1500
        ),
        ProductAddOn(
            id=202,
            product_id=1,
            key="premium",
            label="Premium accounts",
            pricing_mode="service_override",
            amount_minor=490,
            provider_service_id=77,
        ),
    ]
    fields = [
        ProductCustomField(
            id=300,
            product_id=1,
            key="username",
            label="Instagram username",
            field_type="handle",
            required=True,
            regex_pattern=r"^@?[A-Za-z0-9._]{1,30}$",
            regex_message="Use 1–30 letters, numbers, dots or underscores.",
        ),
        ProductCustomField(
            id=301,
            product_id=1,
            key="drip_days",
            label="Days",
            field_type="integer",
            required=False,
            default_value="3",
            min_value=Decimal("1"),
            max_value=Decimal("30"),
            visibility_rules={"match": "all", "conditions": [{"option": "speed:gradual"}]},
        ),
        *(extra_fields or []),
    ]
    presets = [
        ProductPreset(
            id=400,
            product_id=1,
            key="popular",
            label="1,000 / €12",
            selection={"options": {"package": "1000", "speed": "standard"}, "add_ons": [], "plan": None, "fields": {}},
        )
    ]
    return ProductDetail(
        product=product,
        category=Category(id=1, slug="ig", name="Instagram"),
        groups=groups,
        add_ons=add_ons,
        plans=plans or [],
        fields=fields,
        presets=presets,
        media=[],
    )
