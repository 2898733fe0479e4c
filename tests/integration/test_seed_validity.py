"""Every seeded product opens in a valid state: its default configuration, every preset and
every plan is a configuration the pricing service accepts and prices (only the details a
customer must type themselves, such as their link, may still be missing)."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from smplat.models.catalog import Product
from smplat.services import catalog, pricing
from smplat.services.seed import PRODUCTS, seed_demo

pytestmark = pytest.mark.integration


def _typed_by_customer(detail: catalog.ProductDetail) -> set[str]:
    """Fields a customer fills in (required, no default): the only problems a fresh page may show."""
    return {f"fields.{f.key}" for f in detail.fields if f.required and not f.default_value}


def _configurations(detail: catalog.ProductDetail) -> list[tuple[str, pricing.Configuration]]:
    default = pricing.default_configuration(detail)
    out = [("default", default)]
    out += [(f"preset {p.key}", pricing.from_preset(detail, p.key)) for p in detail.presets]
    out += [
        (f"plan {plan.key}", pricing.Configuration(options=default.options, plan=plan.key, fields=default.fields))
        for plan in detail.plans
    ]
    return out


def test_every_seeded_default_preset_and_plan_prices(session: Session) -> None:
    # given the demo shop
    seed_demo(session)
    slugs = list(session.exec(select(Product.slug).order_by(Product.id)).all())
    assert len(slugs) == len(PRODUCTS)
    problems: dict[str, object] = {}
    priced = expected = 0
    # when every product's default, presets and plans are priced as the product page prices them
    for slug in slugs:
        detail = catalog.get_product_detail(session, slug)
        assert detail is not None, slug
        expected += 1 + len(detail.presets) + len(detail.plans)
        for name, config in _configurations(detail):
            try:
                quote = pricing.price_for(session, detail, config, fields=pricing.FIELDS_COLLECT)
            except pricing.ConfigurationInvalid as exc:
                problems[f"{slug} {name}"] = exc.errors
                continue
            unexpected = set(quote.field_errors) - _typed_by_customer(detail)
            if unexpected or quote.total_minor <= 0:
                problems[f"{slug} {name}"] = {k: quote.field_errors[k] for k in unexpected} or quote.total_minor
                continue
            priced += 1
    # then each one prices, with nothing to fix but what the customer types
    assert problems == {}
    assert priced == expected


def test_instagram_comments_popular_preset_prices_with_a_comment_style(session: Session) -> None:
    # given the demo shop's first product
    seed_demo(session)
    detail = catalog.get_product_detail(session, "instagram-comments")
    # when its "Most chosen" preset is applied
    config = pricing.from_preset(detail, "popular")
    quote = pricing.price_for(session, detail, config, fields=pricing.FIELDS_COLLECT)
    # then a comment style is chosen and the only thing to fix is the post link the customer types
    assert config.options["style"] == ["random"]
    assert set(quote.field_errors) == {"fields.post_link"}
    assert quote.total_minor == next(p.price_hint_minor for p in detail.presets if p.key == "popular")
