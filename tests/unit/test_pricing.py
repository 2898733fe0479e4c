"""The pricing service: every add-on mode, plans, experiments, rounding, currencies; and the
validation and visibility rules of configurations. Products are built in memory."""

from __future__ import annotations

from decimal import Decimal

import pytest

from smplat.models.catalog import (
    ProductCustomField,
    ProductPlan,
)
from smplat.services import pricing
from smplat.services.pricing import Configuration, ConfigurationInvalid, VariantPrice
from tests.catalog_factory import make_detail

pytestmark = pytest.mark.unit


def config(**overrides) -> dict:
    base = {
        "options": {"package": "1000", "speed": "standard"},
        "add_ons": [],
        "plan": None,
        "fields": {"username": "@brand"},
    }
    base.update(overrides)
    return base


# --- pricing -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "overrides", "quantity", "unit", "total"),
    [
        ("base only", {}, 1, 1200, 1200),
        ("option delta", {"options": {"package": "2500", "speed": "standard"}}, 1, 2900, 2900),
        ("two option deltas", {"options": {"package": "2500", "speed": "express"}}, 1, 3290, 3290),
        ("flat add-on", {"add_ons": ["priority"]}, 1, 1490, 1490),
        ("percentage add-on 15% of 1200", {"add_ons": ["refill"]}, 1, 1380, 1380),
        ("service override adds its amount", {"add_ons": ["premium"]}, 1, 1690, 1690),
        (
            "percentage is of the configured price, not of other add-ons",
            {"add_ons": ["priority", "refill"]},
            1,
            1670,
            1670,
        ),
        ("add-on order does not matter", {"add_ons": ["refill", "priority"]}, 1, 1670, 1670),
        ("quantity multiplies the unit", {"add_ons": ["refill"]}, 3, 1380, 4140),
    ],
)
def test_prices_every_mode(label: str, overrides: dict, quantity: int, unit: int, total: int) -> None:
    # given the product / when a configuration is quoted
    quote = pricing.quote(make_detail(), config(**overrides), quantity=quantity)
    # then unit and total are exact minor units
    assert (quote.unit_price_minor, quote.total_minor) == (unit, total)


def test_breakdown_lists_every_part_and_sums_to_the_unit_price() -> None:
    # given express speed, a flat and a percentage add-on
    quote = pricing.quote(
        make_detail(), config(options={"package": "2500", "speed": "express"}, add_ons=["priority", "refill"])
    )
    # then the breakdown names each part, and adds up
    assert quote.breakdown_dicts() == [
        {"kind": "base", "label": "Base price", "amount_minor": 1200},
        {"kind": "option", "label": "Package size: 2,500 followers", "amount_minor": 1700},
        {"kind": "option", "label": "Delivery speed: Express", "amount_minor": 390},
        {"kind": "add_on", "label": "Priority start", "amount_minor": 290},
        {"kind": "add_on", "label": "Refill guarantee", "amount_minor": 494},  # 15 % of 3290 = 493.5 -> 494
    ]
    assert sum(line.amount_minor for line in quote.breakdown) == quote.unit_price_minor == 4074


def test_service_override_routes_the_line_to_its_provider_service() -> None:
    quote = pricing.quote(make_detail(), config(add_ons=["premium"]))
    assert quote.override_service_id == 77
    assert pricing.quote(make_detail(), config()).override_service_id is None


@pytest.mark.parametrize(
    ("label", "amount", "bps", "expected"),
    [
        ("exact", 1000, 1500, 150),
        ("half rounds up", 1, 5000, 1),  # 0.5 -> 1
        ("below half rounds down", 1, 4999, 0),  # 0.4999 -> 0
        ("493.5 -> 494", 3290, 1500, 494),
        ("493.35 -> 493", 3289, 1500, 493),
        ("negative half rounds away from zero", -1, 5000, -1),
        ("zero bps", 9999, 0, 0),
        ("over 100 %", 1000, 25000, 2500),
    ],
)
def test_percentage_rounding_is_half_up_per_percentage(label: str, amount: int, bps: int, expected: int) -> None:
    assert pricing.percentage_of(amount, bps) == expected


@pytest.mark.parametrize(
    ("label", "currency", "base", "unit", "display"),
    [
        ("EUR, 2 decimals: 15 % of €11.99 = 179.85 -> 180 cents", "EUR", 1199, 1379, "€13.79"),
        ("JPY, no decimals: 15 % of ¥1,199 = 179.85 -> ¥180", "JPY", 1199, 1379, "¥1,379"),
        ("BHD, 3 decimals: 15 % of 1.199 BHD -> 0.180", "BHD", 1199, 1379, "1.379 BHD"),
    ],
)
def test_currencies_with_different_minor_units(label: str, currency: str, base: int, unit: int, display: str) -> None:
    from smplat.services.money import format_money

    # given a product priced in that currency / when a percentage add-on is quoted
    quote = pricing.quote(make_detail(currency=currency, base=base), config(add_ons=["refill"]))
    # then the integer minor-unit rule is the same, and display uses the currency's exponent
    assert quote.currency == currency
    assert quote.unit_price_minor == unit
    assert format_money(quote.unit_price_minor, currency) == display


def test_one_time_plan_replaces_the_base_price() -> None:
    plans = [
        ProductPlan(id=500, product_id=1, key="one-time", name="Single month", billing="one_time", price_minor=3400),
        ProductPlan(
            id=501,
            product_id=1,
            key="monthly",
            name="Monthly",
            billing="subscription",
            interval="month",
            interval_count=1,
            price_minor=2900,
        ),
    ]
    quote = pricing.quote(make_detail(plans=plans), config(plan="one-time", add_ons=["refill"]))
    assert (quote.unit_price_minor, quote.billing, quote.interval) == (3400 + 510, "one_time", None)


def test_subscription_plan_is_billed_per_interval() -> None:
    plans = [
        ProductPlan(
            id=501,
            product_id=1,
            key="monthly",
            name="Monthly",
            billing="subscription",
            interval="month",
            interval_count=1,
            price_minor=2900,
        )
    ]
    quote = pricing.quote(
        make_detail(plans=plans), config(plan="monthly", options={"package": "2500", "speed": "standard"})
    )
    assert (quote.unit_price_minor, quote.billing, quote.interval, quote.interval_count) == (
        4600,
        "subscription",
        "month",
        1,
    )
    assert quote.breakdown[0].as_dict() == {"kind": "plan", "label": "Monthly", "amount_minor": 2900}


def test_plan_in_another_currency_is_a_catalog_error() -> None:
    plans = [
        ProductPlan(
            id=501, product_id=1, key="monthly", name="Monthly", billing="one_time", price_minor=2900, currency="USD"
        )
    ]
    with pytest.raises(pricing.PricingError):
        pricing.quote(make_detail(plans=plans), config(plan="monthly"))


def test_experiment_variant_scales_the_configured_price_before_add_ons() -> None:
    # given a variant at 90 % / when quoted with the percentage add-on
    variant = VariantPrice("ig-price", "lower", 9000)
    quote = pricing.quote(make_detail(), config(add_ons=["refill"]), variant=variant)
    # then 1200 -> 1080, and 15 % of 1080 = 162
    assert quote.unit_price_minor == 1242
    assert quote.breakdown_dicts()[1] == {"kind": "experiment", "label": "Special price", "amount_minor": -120}
    assert quote.price_record()["experiment"] == {"experiment": "ig-price", "variant": "lower", "price_bps": 9000}


def test_control_variant_changes_nothing() -> None:
    quote = pricing.quote(make_detail(), config(), variant=VariantPrice("ig-price", "control", 10000))
    assert quote.unit_price_minor == 1200 and [line.kind for line in quote.breakdown] == ["base"]


def test_multi_choice_group_adds_every_chosen_option() -> None:
    quote = pricing.quote(
        make_detail(multi=True), config(options={"package": "1000", "speed": "standard", "targeting": ["eu", "us"]})
    )
    assert quote.unit_price_minor == 1200 + 150 + 250


# --- validation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "overrides", "quantity", "errors"),
    [
        (
            "unknown option key",
            {"options": {"package": "999999", "speed": "standard"}},
            1,
            {"options.package": "'999999' is not a package size of this product."},
        ),
        (
            "unknown group",
            {"options": {"package": "1000", "speed": "standard", "colour": "red"}},
            1,
            {"options.colour": "This product has no such choice."},
        ),
        (
            "two options in a single-choice group",
            {"options": {"package": ["1000", "2500"], "speed": "standard"}},
            1,
            {"options.package": "Choose one package size."},
        ),
        ("required group missing", {"options": {"package": "1000"}}, 1, {"options.speed": "Choose a delivery speed."}),
        (
            "unknown add-on",
            {"add_ons": ["free-money"]},
            1,
            {"add_ons": "'free-money' is not an add-on of this product."},
        ),
        ("unknown plan", {"plan": "lifetime"}, 1, {"plan": "This plan is not available for this product."}),
        ("unknown preset", {"preset": "secret"}, 1, {"preset": "This preset does not exist for this product."}),
        (
            "unknown field",
            {"fields": {"username": "@brand", "price": "0"}},
            1,
            {"fields.price": "This product has no such field."},
        ),
        ("required field empty", {"fields": {}}, 1, {"fields.username": "Instagram username is required."}),
        (
            "regex fails",
            {"fields": {"username": "bad handle!"}},
            1,
            {"fields.username": "Use 1–30 letters, numbers, dots or underscores."},
        ),
        ("quantity zero", {}, 0, {"quantity": "Choose a quantity from 1 to 100."}),
        ("quantity too large", {}, 101, {"quantity": "Choose a quantity from 1 to 100."}),
    ],
)
def test_invalid_configurations_are_refused(label: str, overrides: dict, quantity: int, errors: dict) -> None:
    with pytest.raises(ConfigurationInvalid) as excinfo:
        pricing.quote(make_detail(), config(**overrides), quantity=quantity)
    assert excinfo.value.errors == errors


@pytest.mark.parametrize(
    ("label", "raw", "errors"),
    [
        ("not an object", "package=1000", {"configuration": "must be an object"}),
        (
            "a price smuggled in",
            {"options": {}, "unit_price_minor": 1},
            {"configuration": "unknown part: unit_price_minor"},
        ),
        ("options not a mapping", {"options": ["1000"]}, {"options": "must map option groups to option keys"}),
        (
            "option id as a number",
            {"options": {"package": 100}},
            {"options.package": "must be an option key or a list of option keys"},
        ),
        ("add-ons not a list", {"add_ons": "priority"}, {"add_ons": "must be a list of add-on keys"}),
        (
            "field value an object",
            {"fields": {"username": {"$ne": ""}}},
            {"fields.username": "must be text or a number"},
        ),
        (
            "field value too long",
            {"fields": {"username": "a" * 2001}},
            {"fields.username": "must be at most 2000 characters"},
        ),
    ],
)
def test_tampered_shapes_are_refused(label: str, raw, errors: dict) -> None:
    with pytest.raises(ConfigurationInvalid) as excinfo:
        pricing.normalize(raw)
    assert excinfo.value.errors == errors


def test_quantity_must_be_an_integer() -> None:
    with pytest.raises(ConfigurationInvalid) as excinfo:
        pricing.quote(make_detail(), config(), quantity="2")  # type: ignore[arg-type]
    assert excinfo.value.errors == {"quantity": "Choose a quantity from 1 to 100."}


@pytest.mark.parametrize(
    ("label", "value", "error"),
    [
        ("below minimum", "0", "Days must be at least 1."),
        ("negative", "-2", "Days must be at least 1."),
        ("above maximum", "31", "Days must be at most 30."),
        ("huge", str(10**12), "Days must be at most 30."),
        ("a decimal", "2.5", "Days must be a whole number, e.g. 3."),
        ("a whole decimal", "3.0", "Days must be a whole number, e.g. 3."),
        ("an exponent", "1e1", "Days must be a whole number, e.g. 3."),
        ("not a number", "abc", "Days must be a whole number, e.g. 3."),
        ("infinity", "Infinity", "Days must be a whole number, e.g. 3."),
    ],
)
def test_integer_field_refuses_what_is_not_a_whole_number_in_range(label: str, value: str, error: str) -> None:
    with pytest.raises(ConfigurationInvalid) as excinfo:
        pricing.quote(
            make_detail(),
            config(options={"package": "1000", "speed": "gradual"}, fields={"username": "@brand", "drip_days": value}),
        )
    assert excinfo.value.errors == {"fields.drip_days": error}


@pytest.mark.parametrize(("typed", "stored"), [("5", "5"), (" 05 ", "5"), ("+7", "7")])
def test_integer_field_is_stored_in_its_canonical_form(typed: str, stored: str) -> None:
    quote = pricing.quote(
        make_detail(),
        config(options={"package": "1000", "speed": "gradual"}, fields={"username": "@brand", "drip_days": typed}),
    )
    assert quote.configuration.fields == {"username": "@brand", "drip_days": stored}


def test_integer_field_without_a_maximum_is_still_bounded() -> None:
    extra = [ProductCustomField(id=305, product_id=1, key="runs", label="Runs", field_type="integer", required=True)]
    with pytest.raises(ConfigurationInvalid) as excinfo:
        pricing.quote(make_detail(extra_fields=extra), config(fields={"username": "@b", "runs": str(10**12)}))
    assert excinfo.value.errors == {"fields.runs": "Runs must be at most 1,000,000,000."}


@pytest.mark.parametrize(
    ("label", "value", "error"),
    [
        ("below minimum", "0.5", "Budget must be at least 1."),
        ("above maximum", "10.01", "Budget must be at most 10."),
        ("not a number", "three", "Budget must be a number."),
        ("infinity", "Infinity", "Budget must be a number."),
    ],
)
def test_number_field_ranges(label: str, value: str, error: str) -> None:
    extra = [
        ProductCustomField(
            id=306,
            product_id=1,
            key="budget",
            label="Budget",
            field_type="number",
            required=True,
            min_value=Decimal("1"),
            max_value=Decimal("10"),
        )
    ]
    with pytest.raises(ConfigurationInvalid) as excinfo:
        pricing.quote(make_detail(extra_fields=extra), config(fields={"username": "@b", "budget": value}))
    assert excinfo.value.errors == {"fields.budget": error}


def test_number_field_keeps_a_decimal() -> None:
    extra = [
        ProductCustomField(
            id=306,
            product_id=1,
            key="budget",
            label="Budget",
            field_type="number",
            required=True,
            min_value=Decimal("1"),
            max_value=Decimal("10"),
        )
    ]
    quote = pricing.quote(make_detail(extra_fields=extra), config(fields={"username": "@b", "budget": "2.5"}))
    assert quote.configuration.fields == {"username": "@b", "budget": "2.5"}


def test_visible_optional_field_gets_its_default() -> None:
    quote = pricing.quote(make_detail(), config(options={"package": "1000", "speed": "gradual"}))
    assert quote.configuration.fields == {"username": "@brand", "drip_days": "3"}


def test_hidden_field_is_neither_required_nor_kept() -> None:
    # given drip days typed in, but standard speed (the field is hidden) / when quoted
    quote = pricing.quote(make_detail(), config(fields={"username": "@brand", "drip_days": "99"}))
    # then the out-of-range hidden value is dropped, not an error
    assert quote.configuration.fields == {"username": "@brand"}


def test_url_and_email_fields() -> None:
    extra = [
        ProductCustomField(id=302, product_id=1, key="post", label="Post link", field_type="url", required=True),
        ProductCustomField(id=303, product_id=1, key="contact", label="Contact", field_type="email", required=False),
    ]
    with pytest.raises(ConfigurationInvalid) as excinfo:
        pricing.quote(
            make_detail(extra_fields=extra),
            config(fields={"username": "@b", "post": "javascript:alert(1)", "contact": "nope"}),
        )
    assert excinfo.value.errors == {
        "fields.post": "Post link: Use a link starting with https://.",
        "fields.contact": "Contact must be an email address.",
    }


def test_preset_configuration_validates() -> None:
    preset = pricing.from_preset(make_detail(), "popular")
    assert preset.options == {"package": ["1000"], "speed": ["standard"]}
    assert preset.preset == "popular"
    with pytest.raises(ConfigurationInvalid):
        pricing.from_preset(make_detail(), "nope")


# --- visibility --------------------------------------------------------------------------

CFG = Configuration(options={"speed": ["gradual"], "style": ["custom"]}, add_ons=["refill"], plan="monthly")


@pytest.mark.parametrize(
    ("label", "rules", "channel", "visible"),
    [
        ("no rules", {}, "storefront", True),
        ("empty conditions", {"match": "all", "conditions": []}, "storefront", True),
        ("option met", {"match": "all", "conditions": [{"option": "style:custom"}]}, "storefront", True),
        ("option unmet", {"match": "all", "conditions": [{"option": "style:random"}]}, "storefront", False),
        ("add-on met", {"conditions": [{"add_on": "refill"}]}, "storefront", True),
        ("add-on unmet", {"conditions": [{"add_on": "priority"}]}, "storefront", False),
        ("plan met", {"conditions": [{"plan": "monthly"}]}, "storefront", True),
        ("plan unmet", {"conditions": [{"plan": "one-time"}]}, "storefront", False),
        ("channel met", {"conditions": [{"channel": ["api", "storefront"]}]}, "storefront", True),
        ("channel unmet", {"conditions": [{"channel": ["api"]}]}, "storefront", False),
        (
            "all: one unmet",
            {"match": "all", "conditions": [{"option": "speed:gradual"}, {"plan": "one-time"}]},
            "storefront",
            False,
        ),
        (
            "any: one met",
            {"match": "any", "conditions": [{"option": "speed:express"}, {"plan": "monthly"}]},
            "storefront",
            True,
        ),
        (
            "any: none met",
            {"match": "any", "conditions": [{"option": "speed:express"}, {"plan": "one-time"}]},
            "storefront",
            False,
        ),
        ("unknown condition kind hides", {"conditions": [{"weather": "sunny"}]}, "storefront", False),
        ("malformed condition hides", {"conditions": ["speed:gradual"]}, "storefront", False),
    ],
)
def test_visibility_rules(label: str, rules: dict, channel: str, visible: bool) -> None:
    assert pricing.is_visible(rules, CFG, channel) is visible


def test_field_visible_on_a_channel_only_is_required_there() -> None:
    extra = [
        ProductCustomField(
            id=304,
            product_id=1,
            key="api_ref",
            label="Reference",
            required=True,
            visibility_rules={"conditions": [{"channel": ["api"]}]},
        )
    ]
    detail = make_detail(extra_fields=extra)
    assert pricing.quote(detail, config(), channel="storefront").configuration.fields == {"username": "@brand"}
    with pytest.raises(ConfigurationInvalid) as excinfo:
        pricing.quote(detail, config(), channel="api")
    assert excinfo.value.errors == {"fields.api_ref": "Reference is required."}


# --- what the configurator shows ----------------------------------------------------------


def test_delivery_estimate_and_calculator_follow_the_configuration() -> None:
    detail = make_detail()
    standard = pricing.validate(detail, pricing.normalize(config()))
    express = pricing.validate(detail, pricing.normalize(config(options={"package": "1000", "speed": "express"})))
    gradual = pricing.validate(
        detail,
        pricing.normalize(
            config(options={"package": "1000", "speed": "gradual"}, fields={"username": "@b", "drip_days": "5"})
        ),
    )
    assert [pricing.delivery_estimate_hours(detail, c) for c in (standard, express, gradual)] == [48, 24, 120]
    assert pricing.calculator_text(detail, standard) == "about 500 followers a day over 2 days"
    assert pricing.calculator_text(detail, gradual) == "about 200 followers a day over 5 days"
    # express (one day) has no daily pace: nothing is said rather than "over 1 day(s)"
    assert pricing.calculator_text(detail, express) == ""


def test_receipt_names_what_is_bought_then_add_ons_then_the_total() -> None:
    # given 2,500 followers, express, a flat and a percentage add-on, two packages
    detail = make_detail()
    quote = pricing.quote(
        detail, config(options={"package": "2500", "speed": "express"}, add_ons=["priority", "refill"]), quantity=2
    )
    # when shown to the customer
    rows = pricing.format_breakdown(quote, detail)
    # then the package reads as one line at its price, then each add-on, then the total
    assert rows == [
        {"kind": "item", "label": "2,500 followers · Express", "amount": "€32.90"},
        {"kind": "add_on", "label": "+ Priority start", "amount": "€2.90"},
        {"kind": "add_on", "label": "+ Refill guarantee", "amount": "€4.94"},
        {"kind": "total", "label": "Total (2 packages)", "amount": "€81.48"},
    ]


def test_receipt_shows_a_special_price_as_its_own_line() -> None:
    detail = make_detail()
    quote = pricing.quote(detail, config(), variant=VariantPrice("ig-price", "lower", 9000))
    assert pricing.format_breakdown(quote, detail) == [
        {"kind": "item", "label": "1,000 followers · Standard", "amount": "€12.00"},
        {"kind": "adjustment", "label": "Special price", "amount": "-€1.20"},
        {"kind": "total", "label": "Total (1 package)", "amount": "€10.80"},
    ]


# --- the one drip-feed rule ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "speed", "days", "hours", "runs", "interval"),
    [
        ("standard speed", "standard", None, 48, None, None),
        ("express", "express", None, 24, None, None),
        ("gradual, default days", "gradual", None, 72, 3, 1440),
        ("gradual over one day", "gradual", "1", 24, None, None),
        ("gradual over two days", "gradual", "2", 48, 2, 1440),
        ("gradual over thirty days", "gradual", "30", 720, 30, 1440),
    ],
)
def test_delivery_estimate_and_delivery_spec_follow_one_drip_feed_rule(label, speed, days, hours, runs, interval):
    from smplat.services.checkout.placement import delivery_spec

    # given a validated configuration
    detail = make_detail()
    fields = {"username": "@brand", **({"drip_days": days} if days else {})}
    quote = pricing.quote(detail, config(options={"package": "1000", "speed": speed}, fields=fields))
    # when the page's estimate and the checkout's delivery spec are read
    spec = delivery_spec(detail, quote)
    # then both say the same: the estimate's days are the provider's runs, one a day
    assert pricing.delivery_estimate_hours(detail, quote.configuration) == hours
    assert (spec.dripfeed_runs, spec.dripfeed_interval_minutes) == (runs, interval)


@pytest.mark.parametrize("typed", ["2.5", "-1", "abc", str(10**12)])
def test_the_drip_feed_rule_reads_a_value_its_field_refuses_as_the_default(typed: str) -> None:
    # given the product page while the customer is still typing (not validated yet)
    detail = make_detail()
    unvalidated = pricing.normalize(
        config(options={"package": "1000", "speed": "gradual"}, fields={"username": "@brand", "drip_days": typed})
    )
    # then the estimate shows the default days instead of failing or inventing a number
    assert pricing.drip_feed(detail, unvalidated) == pricing.DripFeed(days=3)
    assert pricing.delivery_estimate_hours(detail, unvalidated) == 72
