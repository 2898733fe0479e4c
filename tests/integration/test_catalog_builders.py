"""The field, preset/calculator and plan builders of the product editor, on both databases:
what they save is exactly what the storefront's configurator validates and prices; invalid
and stale saves change nothing; plans create Stripe prices over HTTP (sandbox); every save is
audited with before and after."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlmodel import Session

from smplat.db import session_scope
from smplat.models.accounts import Role
from smplat.models.audit import AuditLog
from smplat.models.catalog import (
    AddOnPricingMode,
    Category,
    Product,
    ProductAddOn,
    ProductCustomField,
    ProductOption,
    ProductOptionGroup,
    ProductPlan,
    ProductPreset,
    ProductStatus,
)
from smplat.services import catalog_fields, catalog_plans, catalog_presets, configurator, pricing
from smplat.services.audit import Actor
from smplat.services.catalog import get_product_detail
from smplat.services.catalog_drafts import StaleEdit
from smplat.services.errors import ErrorCode, ServiceError
from smplat.services.permissions import PermissionDenied

pytestmark = pytest.mark.integration

ADMIN = Actor(None, "editor@smplat.test", Role.ADMIN.value, "10.0.0.7")
CUSTOMER = Actor(None, "someone@example.com", Role.CUSTOMER.value, "10.0.0.8")
SLUG = "ig-likes-editor"


def _product(session: Session) -> int:
    category = Category(slug="ig", name="Instagram")
    session.add(category)
    session.flush()
    product = Product(
        category_id=category.id,
        slug=SLUG,
        title="Instagram Likes",
        platform="instagram",
        base_price_minor=500,
        unit_label="likes",
        status=ProductStatus.ACTIVE.value,
    )
    session.add(product)
    session.flush()
    package = ProductOptionGroup(product_id=product.id, key="package", name="Package", required=True)
    session.add(package)
    session.flush()
    session.add(ProductOption(group_id=package.id, key="p100", label="100 likes", quantity=100, sort_order=0))
    session.add(
        ProductOption(
            group_id=package.id,
            key="p1000",
            label="1,000 likes",
            quantity=1000,
            price_delta_minor=900,
            sort_order=1,
            blueprint={"tagline": "Most chosen"},
        )
    )
    session.add(
        ProductAddOn(
            product_id=product.id, key="priority", label="Priority start", pricing_mode=AddOnPricingMode.FLAT.value,
            amount_minor=300,
        )
    )  # fmt: skip
    session.commit()
    return int(product.id)


def _version(session: Session, product_id: int) -> int:
    session.expire_all()
    return session.get(Product, product_id).version


def _detail(session: Session):
    session.expire_all()
    return get_product_detail(session, SLUG)


def _audit(session: Session, action: str) -> list[AuditLog]:
    return list(session.execute(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)).scalars())


POST_LINK = {
    "key": "post_code",
    "label": "Post code",
    "field_type": "text",
    "required": "on",
    "regex_pattern": r"[A-Za-z0-9_-]{11}",
    "regex_message": "Paste the 11-character code of the post, e.g. CxYz123AbCd.",
    "help_text": "The part after /p/ in the post's link.",
    "sample_values": "CxYz123AbCd\nAAAAAAAAAAA",
}


# --- fields -------------------------------------------------------------------------------------


def test_saved_fields_are_exactly_what_the_storefront_enforces(session: Session) -> None:
    pid = _product(session)
    # given a regex field, a bounded integer, a choice and a field shown only for the big package
    _, v = catalog_fields.save_field(session, ADMIN, pid, 1, POST_LINK)
    _, v = catalog_fields.save_field(
        session, ADMIN, pid, v,
        {"key": "days", "label": "Days", "field_type": "integer", "min_value": "2", "max_value": "10",
         "default_value": "+03"},
    )  # fmt: skip
    _, v = catalog_fields.save_field(
        session, ADMIN, pid, v,
        {"key": "style", "label": "Comment style", "field_type": "choice", "required": True,
         "choices": "positive | Positive\nemoji | Emoji only"},
    )  # fmt: skip
    _, v = catalog_fields.save_field(
        session, ADMIN, pid, v,
        {"key": "note", "label": "Note for big orders", "field_type": "textarea", "required": True,
         "visibility_match": "any", "visibility_text": "option: package:p1000\nadd_on: priority"},
    )  # fmt: skip
    session.commit()
    assert v == 5

    detail = _detail(session)
    assert [f.key for f in detail.fields] == ["post_code", "days", "style", "note"]
    days = detail.fields[1]
    assert days.default_value == "3"  # the default is stored as the storefront keeps it
    assert detail.fields[2].choices == [
        {"value": "positive", "label": "Positive"},
        {"value": "emoji", "label": "Emoji only"},
    ]
    assert detail.fields[3].visibility_rules == {
        "match": "any",
        "conditions": [{"option": "package:p1000"}, {"add_on": "priority"}],
    }

    def problems(fields: dict, options: str = "p100", add_ons: list | None = None) -> dict[str, str]:
        config = {"options": {"package": options}, "fields": fields, "add_ons": add_ons or []}
        try:
            pricing.price_for(session, detail, config)
        except pricing.ConfigurationInvalid as exc:
            return exc.errors
        return {}

    good = {"post_code": "CxYz123AbCd", "style": "emoji"}
    assert problems(good) == {}
    quote = pricing.price_for(session, detail, {"options": {"package": "p100"}, "fields": good})
    assert quote.configuration.fields == {**good, "days": "3"} and quote.total_minor == 500
    # the regex, with the builder's own message
    assert problems({**good, "post_code": "short"}) == {"fields.post_code": POST_LINK["regex_message"]}
    # min and max
    assert problems({**good, "days": "1"}) == {"fields.days": "Days must be at least 2."}
    assert problems({**good, "days": "11"}) == {"fields.days": "Days must be at most 10."}
    assert problems({**good, "days": "2.5"}) == {"fields.days": "Days must be a whole number, e.g. 3."}
    # the choice type: only a saved value
    assert problems({**good, "style": "Positive"}) == {
        "fields.style": "Comment style: choose one of Positive, Emoji only."
    }
    assert problems({"post_code": "CxYz123AbCd"}) == {"fields.style": "Comment style is required."}
    # visibility: required only for the big package or with priority, dropped otherwise
    assert problems(good, options="p1000") == {"fields.note": "Note for big orders is required."}
    assert problems(good, add_ons=["priority"]) == {"fields.note": "Note for big orders is required."}
    hidden = pricing.price_for(session, detail, {"options": {"package": "p100"}, "fields": {**good, "note": "hi"}})
    assert "note" not in hidden.configuration.fields
    shown = pricing.price_for(session, detail, {"options": {"package": "p1000"}, "fields": {**good, "note": "hi"}})
    assert shown.configuration.fields["note"] == "hi" and shown.total_minor == 1400


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"regex_pattern": "[a-z"}, "regex_pattern", "does not compile"),
        ({"field_type": "number", "min_value": "10", "max_value": "2"}, "max_value", "below the minimum"),
        ({"field_type": "integer", "min_value": "1.5"}, "min_value", "whole-number limits"),
        ({"min_value": "3"}, "min_value", "number and whole-number fields only"),
        ({"default_value": "nope"}, "default_value", "does not pass this field's rules"),
        ({"sample_values": "CxYz123AbCd\nbad one"}, "sample_values", "'bad one' does not pass"),
        ({"field_type": "choice", "choices": ""}, "choices", "at least one choice"),
        ({"field_type": "choice", "choices": "a\na"}, "choices", "same value"),
        ({"choices": "a\nb"}, "choices", "Only choice fields"),
        ({"visibility_text": "option: package:p5000"}, "visibility_rules", "no option (group:option) 'package:p5000'"),
        ({"visibility_text": "plan: monthly"}, "visibility_rules", "no plan 'monthly'"),
        ({"visibility_text": "channel: fax"}, "visibility_rules", "Channels are storefront, api, admin"),
        ({"visibility_text": "weather: sunny"}, "visibility_rules", "Unknown condition"),
        ({"key": "Post Link"}, "key", "lower-case"),
        ({"label": ""}, "label", "label"),
        ({"field_type": "colour"}, "field_type", "Choose a type"),
    ],
)
def test_invalid_field_saves_are_refused_and_nothing_changes(session: Session, data, field, words) -> None:
    pid = _product(session)
    with pytest.raises(ServiceError) as refused:
        catalog_fields.save_field(session, ADMIN, pid, 1, {**POST_LINK, **data})
    session.rollback()
    assert refused.value.code is ErrorCode.INVALID
    assert words in refused.value.errors[field]
    assert _version(session, pid) == 1
    assert session.execute(select(ProductCustomField)).first() is None
    assert _audit(session, "catalog.field.create") == []


def test_field_edit_delete_reorder_are_versioned_and_audited(session: Session) -> None:
    pid = _product(session)
    first, v = catalog_fields.save_field(session, ADMIN, pid, 1, POST_LINK)
    second, v = catalog_fields.save_field(
        session, ADMIN, pid, v, {"key": "handle", "label": "Account", "field_type": "handle"}
    )
    session.commit()
    # a second operator who opened version 1 is refused, nothing changes
    with pytest.raises(StaleEdit):
        catalog_fields.save_field(session, ADMIN, pid, 1, {**POST_LINK, "label": "Stale label"}, field_id=first.id)
    session.rollback()
    assert session.get(ProductCustomField, first.id).label == "Post code"
    # a duplicate key is refused
    with pytest.raises(ServiceError) as duplicate:
        catalog_fields.save_field(session, ADMIN, pid, v, {**POST_LINK, "label": "Again"})
    session.rollback()
    assert "already has a field" in duplicate.value.errors["key"]

    _, v = catalog_fields.save_field(session, ADMIN, pid, v, {**POST_LINK, "required": False}, field_id=first.id)
    v = catalog_fields.move_field(session, ADMIN, pid, v, second.id, -1)
    session.commit()
    assert [f.key for f in _detail(session).fields] == ["handle", "post_code"]
    v = catalog_fields.delete_field(session, ADMIN, pid, v, second.id)
    session.commit()
    assert [f.key for f in _detail(session).fields] == ["post_code"] and v == 6

    (update,) = _audit(session, "catalog.field.update")
    assert update.data["before"] == {"required": True} and update.data["after"] == {"required": False}
    assert update.entity_id == str(pid) and update.actor_label == ADMIN.label and update.ip_address == "10.0.0.7"
    (reorder,) = _audit(session, "catalog.fields.reorder")
    assert reorder.data["after"] == {"order": ["handle", "post_code"]}
    (deleted,) = _audit(session, "catalog.field.delete")
    assert deleted.data["before"]["key"] == "handle" and deleted.data["after"] == {}


def test_someone_without_edit_catalog_is_refused(session: Session) -> None:
    pid = _product(session)
    with pytest.raises(PermissionDenied):
        catalog_fields.save_field(session, CUSTOMER, pid, 1, POST_LINK)
    session.rollback()
    assert _version(session, pid) == 1
    assert [r.data.get("action") or r.action for r in _audit(session, "permission.denied")]


def test_regex_tester_says_what_the_storefront_would(session: Session) -> None:
    pid = _product(session)
    form = {
        "label": "Post code",
        "regex_pattern": POST_LINK["regex_pattern"],
        "regex_message": "Use the 11-character code.",
    }
    assert catalog_fields.try_sample(session, pid, form, "CxYz123AbCd") == (True, "Passes — stored as 'CxYz123AbCd'.")
    assert catalog_fields.try_sample(session, pid, form, "CxYz") == (False, "Use the 11-character code.")
    assert catalog_fields.try_sample(session, pid, {**form, "regex_message": ""}, "CxYz") == (
        False,
        "Post code is not in the expected format.",
    )
    ok, message = catalog_fields.try_sample(session, pid, {**form, "regex_pattern": "(unclosed"}, "x")
    assert not ok and "does not compile" in message
    # the field's type counts too, exactly as on the storefront
    assert catalog_fields.try_sample(
        session, pid, {"label": "Days", "field_type": "integer", "max_value": "5"}, "9"
    ) == (
        False,
        "Days must be at most 5.",
    )
    ok, message = catalog_fields.try_sample(session, pid, {"label": "Account", "field_type": "handle"}, "@Brand.Name")
    assert ok and "'@Brand.Name'" in message


# --- presets and calculator ---------------------------------------------------------------------


def test_a_saved_preset_is_a_configuration_the_storefront_applies_and_prices(session: Session) -> None:
    pid = _product(session)
    _, v = catalog_fields.save_field(session, ADMIN, pid, 1, POST_LINK)
    _, v = catalog_fields.save_field(
        session, ADMIN, pid, v, {"key": "style", "label": "Style", "field_type": "choice", "choices": "a\nb"}
    )
    preset, v = catalog_presets.save_preset(
        session, ADMIN, pid, v,
        {"key": "big", "label": "1,000 likes + priority", "badge": "Most chosen", "image_url": "/media/big.png",
         "is_featured": "on",
         "selection": {"options": {"package": "p1000"}, "add_ons": ["priority"], "fields": {"style": "b"}}},
    )  # fmt: skip
    session.commit()
    assert preset.price_hint_minor == 1700 and preset.badge == "Most chosen" and preset.is_featured

    detail = _detail(session)
    config = configurator.apply_preset(detail, {}, "big")
    assert config["options"] == {"package": ["p1000"]} and config["add_ons"] == ["priority"]
    assert config["fields"] == {"style": "b"} and config["preset"] == "big"
    # the customer types the post code the preset leaves open; the price is the hint
    config["fields"]["post_code"] = "CxYz123AbCd"
    assert pricing.price_for(session, detail, config).total_minor == 1700
    (row,) = _audit(session, "catalog.preset.create")
    assert row.data["after"]["badge"] == "Most chosen" and row.data["after"]["price_hint_minor"] == 1700


@pytest.mark.parametrize(
    ("selection", "words"),
    [
        ({"options": {"package": "p5000"}}, "options.package"),
        ({"options": {}}, "options.package"),
        ({"options": {"package": "p100"}, "add_ons": ["gift-wrap"]}, "add_ons"),
        ({"options": {"package": "p100"}, "plan": "monthly"}, "plan"),
        ({"options": {"package": "p100"}, "fields": {"post_code": "short"}}, "fields.post_code"),
        ({"options": {"package": "p100"}, "fields": {"nope": "x"}}, "fields.nope"),
    ],
)
def test_an_invalid_preset_is_refused_with_pricing_errors(session: Session, selection, words) -> None:
    pid = _product(session)
    _, v = catalog_fields.save_field(session, ADMIN, pid, 1, POST_LINK)
    session.commit()
    with pytest.raises(ServiceError) as refused:
        catalog_presets.save_preset(session, ADMIN, pid, v, {"key": "x", "label": "X", "selection": selection})
    session.rollback()
    assert words in refused.value.errors
    assert _version(session, pid) == v
    assert session.execute(select(ProductPreset)).first() is None


def test_stale_preset_and_calculator_saves_are_refused(session: Session) -> None:
    pid = _product(session)
    _, v = catalog_presets.save_preset(
        session, ADMIN, pid, 1, {"key": "s", "label": "Small", "selection": {"options": {"package": "p100"}}}
    )
    session.commit()
    with pytest.raises(StaleEdit):
        catalog_presets.save_preset(
            session, ADMIN, pid, 1, {"key": "t", "label": "T", "selection": {"options": {"package": "p100"}}}
        )
    session.rollback()
    option_id = session.execute(select(ProductOption.id).where(ProductOption.key == "p1000")).scalar_one()
    with pytest.raises(StaleEdit):
        catalog_presets.save_calculator(
            session, ADMIN, pid, 1, {"option_id": option_id, "expression": "amount", "inputs": "amount = 1"}
        )
    session.rollback()
    assert [p.key for p in _detail(session).presets] == ["s"] and _version(session, pid) == v


def test_calculator_round_trip_and_refusals(session: Session) -> None:
    pid = _product(session)
    option_id = session.execute(select(ProductOption.id).where(ProductOption.key == "p1000")).scalar_one()
    assert catalog_presets.sample_output("amount / days", "amount = 1000\ndays = 3", "likes") == (
        "about 333 likes a day over 3 day(s)"
    )
    for expression, words in (
        ("amount / nope", "unknown name"),
        ("__import__('os')", "can be called"),
        ("amount / 0", ""),
    ):
        with pytest.raises(ServiceError) as refused:
            catalog_presets.save_calculator(
                session, ADMIN, pid, 1, {"option_id": option_id, "expression": expression, "inputs": "amount = 1000"}
            )
        session.rollback()
        assert refused.value.field == "expression" and words in refused.value.message
    assert _version(session, pid) == 1

    catalog_presets.save_calculator(
        session,
        ADMIN,
        pid,
        1,
        {"option_id": option_id, "expression": "amount / days", "inputs": "amount = 1000\ndays = 2"},
    )
    session.commit()
    detail = _detail(session)
    option = next(o for _, opts in detail.groups for o in opts if o.key == "p1000")
    # one place: the option's blueprint, the rest of it kept
    assert option.blueprint == {
        "tagline": "Most chosen",
        "calculator": {"expression": "amount / days", "sample_inputs": {"amount": 1000, "days": 2}},
    }
    # the storefront reads it over the delivery promise's days: none for a one-day delivery (24 h),
    # a daily pace once delivery takes longer (72 h -> 3 days)
    config = pricing.normalize({"options": {"package": "p1000"}})
    assert pricing.calculator_text(detail, config) == ""
    detail.product.delivery_estimate_hours = 72
    assert pricing.calculator_text(detail, config) == "about 333 likes a day over 3 days"
    (row,) = _audit(session, "catalog.calculator.update")
    assert row.data["after"]["expression"] == "amount / days"


# --- plans and Stripe ---------------------------------------------------------------------------


@pytest.fixture
def stripe_sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator:
    from smplat.sandbox.stripe_sandbox import StripeSandbox
    from smplat.settings import SANDBOX_STRIPE_SECRET_KEY, SANDBOX_STRIPE_WEBHOOK_SECRET, reset_settings_cache

    sandbox = StripeSandbox(
        "127.0.0.1",
        0,
        secret_key=SANDBOX_STRIPE_SECRET_KEY,
        webhook_url="http://127.0.0.1:9/unused",
        webhook_secret=SANDBOX_STRIPE_WEBHOOK_SECRET,
    ).start()
    monkeypatch.setenv("SMPLAT_STRIPE_API_BASE", sandbox.base_url)
    reset_settings_cache()
    try:
        yield sandbox
    finally:
        sandbox.stop()
        reset_settings_cache()


MONTHLY = {"key": "monthly", "name": "Monthly", "billing": "subscription", "interval": "month", "price": "29.90"}


def test_a_subscription_plan_gets_a_stripe_price_and_a_new_one_when_repriced(session: Session, stripe_sandbox) -> None:
    pid = _product(session)
    plan, v = catalog_plans.save_plan(session, ADMIN, pid, 1, MONTHLY)
    session.commit()
    first = stripe_sandbox.prices[plan.stripe_price_id]
    assert (first["unit_amount"], first["currency"], first["active"]) == (2990, "eur", True)
    assert first["recurring"]["interval"] == "month" and first["recurring"]["interval_count"] == 1
    assert first["metadata"] == {"product_id": str(pid), "plan_key": "monthly"}

    # a rename keeps the price; a new amount makes a new price and retires the old one
    plan, v = catalog_plans.save_plan(session, ADMIN, pid, v, {**MONTHLY, "name": "Every month"}, plan_id=plan.id)
    assert plan.stripe_price_id == first["id"]
    plan, v = catalog_plans.save_plan(
        session, ADMIN, pid, v, {**MONTHLY, "price": "34", "interval_count": "3"}, plan_id=plan.id
    )
    session.commit()
    second = stripe_sandbox.prices[plan.stripe_price_id]
    assert second["id"] != first["id"] and second["unit_amount"] == 3400
    assert second["recurring"]["interval_count"] == 3
    assert stripe_sandbox.prices[first["id"]]["active"] is False
    # a one-time plan has no Stripe price; the subscription's is retired
    plan, v = catalog_plans.save_plan(session, ADMIN, pid, v, {**MONTHLY, "billing": "one_time"}, plan_id=plan.id)
    session.commit()
    assert plan.stripe_price_id is None and plan.interval is None
    assert stripe_sandbox.prices[second["id"]]["active"] is False

    # the storefront prices exactly the plan saved
    plan, v = catalog_plans.save_plan(session, ADMIN, pid, v, MONTHLY, plan_id=plan.id)
    session.commit()
    quote = pricing.price_for(session, _detail(session), {"options": {"package": "p100"}, "plan": "monthly"})
    assert (quote.billing, quote.interval, quote.interval_count, quote.total_minor) == (
        "subscription",
        "month",
        1,
        2990,
    )

    updates = _audit(session, "catalog.plan.update")
    assert updates[1].data["before"]["price_minor"] == 2990 and updates[1].data["after"]["price_minor"] == 3400
    assert updates[1].data["data"]["stripe_price_created"] is True

    v = catalog_plans.delete_plan(session, ADMIN, pid, v, plan.id)
    session.commit()
    assert stripe_sandbox.prices[plan.stripe_price_id]["active"] is False
    assert _detail(session).plans == []


def test_stripe_unreachable_saves_nothing(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    from smplat.integrations.stripe_gateway import PaymentProviderUnavailable
    from smplat.settings import reset_settings_cache

    pid = _product(session)
    monkeypatch.setenv("SMPLAT_STRIPE_API_BASE", "http://127.0.0.1:9")
    reset_settings_cache()
    try:
        with pytest.raises(PaymentProviderUnavailable) as down:
            catalog_plans.save_plan(session, ADMIN, pid, 1, MONTHLY)
        session.rollback()
    finally:
        reset_settings_cache()
    assert "unavailable" in down.value.message.lower()
    assert session.execute(select(ProductPlan)).first() is None and _version(session, pid) == 1
    assert _audit(session, "catalog.plan.create") == []


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"interval": "decade"}, "interval"),
        ({"interval_count": "13"}, "interval_count"),
        ({"interval": "year", "interval_count": "2"}, "interval_count"),
        ({"price": "0"}, "price"),
        ({"price": "12.345"}, "price"),
        ({"price": "ten"}, "price"),
        ({"billing": "weekly"}, "billing"),
        ({"key": ""}, "key"),
    ],
)
def test_invalid_plans_are_refused_before_stripe_is_called(session: Session, stripe_sandbox, data, field) -> None:
    pid = _product(session)
    with pytest.raises(ServiceError) as refused:
        catalog_plans.save_plan(session, ADMIN, pid, 1, {**MONTHLY, **data})
    session.rollback()
    assert field in refused.value.errors
    assert stripe_sandbox.prices == {} and _version(session, pid) == 1


def test_a_plan_used_by_a_preset_cannot_be_deleted(session: Session, stripe_sandbox) -> None:
    pid = _product(session)
    plan, v = catalog_plans.save_plan(session, ADMIN, pid, 1, {**MONTHLY, "billing": "one_time"})
    _, v = catalog_presets.save_preset(
        session, ADMIN, pid, v,
        {"key": "m", "label": "Monthly 100", "selection": {"options": {"package": "p100"}, "plan": "monthly"}},
    )  # fmt: skip
    session.commit()
    with pytest.raises(ServiceError) as refused:
        catalog_plans.delete_plan(session, ADMIN, pid, v, plan.id)
    session.rollback()
    assert refused.value.code is ErrorCode.CONFLICT and "preset Monthly 100" in refused.value.message
    with session_scope() as db:
        assert db.get(ProductPlan, plan.id) is not None


def test_every_seeded_field_opens_and_saves_unchanged_in_the_builder(session: Session) -> None:
    from smplat.services.seed import seed_demo

    seed_demo(session)
    session.commit()
    fields = list(session.execute(select(ProductCustomField).order_by(ProductCustomField.id)).scalars())
    assert fields
    for spec in fields:
        before = catalog_fields.snapshot(spec)
        version = _version(session, spec.product_id)
        saved, _ = catalog_fields.save_field(session, ADMIN, spec.product_id, version, before, field_id=spec.id)
        session.commit()
        assert catalog_fields.snapshot(saved) == before, spec.key
