"""The editor's Fields, Presets and Plans pages called as the websocket calls them, on both
databases: a choice field saved on the Fields page is shown and enforced on the product page;
the tester answers as the storefront; a stale page's save is refused with the version message;
a preset refused by pricing shows its words; an operator's plan reaches the Stripe sandbox."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from smplat.db import session_scope
from smplat.models.accounts import Role, User
from smplat.models.carts import CartItem
from smplat.models.catalog import Product, ProductCustomField, ProductPlan
from smplat.services import catalog_editor
from smplat.services.audit import Actor
from smplat.services.seed import seed_demo
from smplat.ui.pages.admin.product_fields import FieldsEditorState
from smplat.ui.pages.admin.product_plans import PlansEditorState
from smplat.ui.pages.admin.product_presets import PresetsEditorState

pytestmark = pytest.mark.integration

SLUG = "instagram-followers"  # the product_state fixture's product


@pytest.fixture
def seeded(db_url: str) -> int:
    with session_scope() as db:
        seed_demo(db)
        return db.execute(select(Product.id).where(Product.slug == SLUG)).scalar_one()


async def _editor(root_state, session_cookie_for, cls, product_id: int, tab: str):
    """The tab as the operator gets it: a published product's tab moves to its draft."""
    cookie = session_cookie_for(Role.OPERATOR)
    state = await root_state(
        cls, f"/admin/products/{product_id}/{tab}", params={"product_id": str(product_id)}, cookie=cookie
    )
    moved = state.load()
    if moved is not None:
        draft_id = _draft_of(product_id)
        assert f"/admin/products/{draft_id}/{tab}" in str(moved)
        state = await root_state(
            cls, f"/admin/products/{draft_id}/{tab}", params={"product_id": str(draft_id)}, cookie=cookie
        )
        assert state.load() is None
    return state


def _draft_of(product_id: int) -> int:
    with session_scope() as db:
        return db.execute(select(Product.id).where(Product.draft_of_id == product_id)).scalar_one()


def _publish(product_id: int) -> None:
    """Publish the product's draft, as the editor's Publish button does."""
    with session_scope() as db:
        admin = db.execute(select(User).where(User.email == "admin@smplat.local")).scalar_one()
        draft = db.get(Product, _draft_of(product_id))
        catalog_editor.publish(db, Actor.staff(admin.id, admin.email, admin.role), draft.id, draft.version)


STYLE = {
    "key": "style",
    "label": "Comment style",
    "field_type": "choice",
    "required": "on",
    "choices": "positive | Positive\nemoji | Emoji only",
}


async def test_a_choice_field_saved_on_the_page_is_shown_and_enforced_on_the_product_page(
    seeded, root_state, session_cookie_for, product_state
) -> None:
    editor = await _editor(root_state, session_cookie_for, FieldsEditorState, seeded, "fields")
    assert editor.product["title"] and editor.errors == {}
    before = len(editor.rows)
    # the tester, with the rules as typed so far
    editor.set_form_value("field_type", "choice")
    editor.set_form_value("label", "Comment style")
    editor.set_form_value("choices", STYLE["choices"])
    editor.set_sample("Positive")
    assert (editor.tester_ok, editor.tester_message) == (False, "Comment style: choose one of Positive, Emoji only.")
    editor.set_sample("emoji")
    assert editor.tester_ok and editor.tester_message == "Passes — stored as 'emoji'."
    # saved with an unknown form key along (ignored: only the whitelist is read)
    editor.save({**STYLE, "product_id": "1", "sort_order": "-5"})
    assert editor.error == "" and len(editor.rows) == before + 1
    assert editor.rows[-1]["label"] == "Comment style" and editor.rows[-1]["type"] == "Choice"

    # the storefront shows a choice field with its choices once the draft is published
    shop = await product_state()
    assert not any(f["key"] == "style" for f in shop.fields)
    _publish(seeded)
    shop = await product_state()
    style = next(f for f in shop.fields if f["key"] == "style")
    assert style["choice"] and style["choices"] == [
        {"value": "positive", "label": "Positive"},
        {"value": "emoji", "label": "Emoji only"},
    ]
    # and enforces it exactly: a label is not a value
    shop.add_to_cart({"field:username": "@brand", "field:style": "Emoji only"})
    style = next(f for f in shop.fields if f["key"] == "style")
    assert style["error"] == "Comment style: choose one of Positive, Emoji only."
    with session_scope() as db:
        assert db.execute(select(func.count()).select_from(CartItem)).scalar_one() == 0
    shop.add_to_cart({"field:username": "@brand", "field:style": "emoji"})
    with session_scope() as db:
        (line,) = db.execute(select(CartItem)).scalars().all()
    assert line.configuration["fields"]["style"] == "emoji"


async def test_a_stale_page_is_refused_and_an_invalid_field_changes_nothing(
    seeded, root_state, session_cookie_for
) -> None:
    first = await _editor(root_state, session_cookie_for, FieldsEditorState, seeded, "fields")
    second = await _editor(root_state, session_cookie_for, FieldsEditorState, seeded, "fields")
    first.save({**STYLE})
    assert first.error == ""
    second.save({**STYLE, "key": "style2"})
    assert "Someone else saved this product" in second.error
    # the refused page reloaded: it now names the new version and shows the first save
    assert second.product["version"] == first.product["version"]
    second.save({"key": "days", "label": "Days", "field_type": "integer", "min_value": "5", "max_value": "1"})
    assert second.errors["max_value"].startswith("The maximum (1) is below the minimum (5)")
    with session_scope() as db:
        keys = (
            db.execute(select(ProductCustomField.key).where(ProductCustomField.product_id == _draft_of(seeded)))
            .scalars()
            .all()
        )
    assert "style" in keys and "style2" not in keys and "days" not in keys


async def test_presets_page_refuses_with_pricing_words_then_saves(
    seeded, root_state, session_cookie_for, product_state
) -> None:
    presets = await _editor(root_state, session_cookie_for, PresetsEditorState, seeded, "presets")
    assert presets.groups and presets.packages
    package = presets.groups[0]
    presets.save({"key": "weird", "label": "Weird", f"opt:{package['key']}": "nope"})
    assert "not a valid configuration" in presets.error
    assert "fields.username" not in presets.errors  # typed by the customer later, not the preset's
    count = len(presets.rows)
    # the first option of every required group, and the first plan
    form = {f"opt:{g['key']}": g["options"][0]["key"] for g in presets.groups if g["required"] and not g["multi"]}
    if presets.plans:
        form["plan"] = presets.plans[0]["key"]
    presets.save({"key": "tiny", "label": "Tiny", "badge": "Try it", **form})
    assert presets.error == "" and len(presets.rows) == count + 1
    assert presets.rows[-1]["badge"] == "Try it" and presets.rows[-1]["price"].startswith("€")
    # once published, the product page offers it with its badge, and applying it prices what
    # the editor showed
    _publish(seeded)
    shop = await product_state()
    tiny = next(p for p in shop.presets if p["key"] == "tiny")
    assert tiny["badge"] == "Try it" and tiny["label"] == "Tiny"
    shop.apply_preset("tiny")
    assert shop.config["preset"] == "tiny" and shop.unit_price == presets.rows[-1]["price"]
    # the calculator's sample output follows what is typed
    presets.set_calc("expression", "amount / days")
    presets.set_calc("inputs", "amount = 900\ndays = 3")
    assert presets.calc_output.startswith("about 300 ")
    presets.set_calc("expression", "amount ** 99")
    assert presets.calc_error.startswith("The expression is refused")


async def test_plans_page_creates_a_stripe_price(seeded, root_state, session_cookie_for, monkeypatch) -> None:
    from smplat.sandbox.stripe_sandbox import StripeSandbox
    from smplat.settings import SANDBOX_STRIPE_SECRET_KEY, SANDBOX_STRIPE_WEBHOOK_SECRET, reset_settings_cache

    sandbox = StripeSandbox(
        "127.0.0.1", 0, secret_key=SANDBOX_STRIPE_SECRET_KEY, webhook_url="http://127.0.0.1:9/x",
        webhook_secret=SANDBOX_STRIPE_WEBHOOK_SECRET,
    ).start()  # fmt: skip
    monkeypatch.setenv("SMPLAT_STRIPE_API_BASE", sandbox.base_url)
    reset_settings_cache()
    try:
        plans = await _editor(root_state, session_cookie_for, PlansEditorState, seeded, "plans")
        plans.save({"key": "quarterly", "name": "Quarterly", "billing": "subscription", "interval": "month",
                    "interval_count": "3", "price": "79"})  # fmt: skip
        assert plans.error == "", plans.error
        row = next(r for r in plans.rows if r["key"] == "quarterly")
        assert row["billing_label"] == "Every 3 months" and row["price"] == "€79.00"
        price = sandbox.prices[row["stripe_price_id"]]
        assert (price["unit_amount"], price["recurring"]["interval_count"]) == (7900, 3)
    finally:
        sandbox.stop()
        reset_settings_cache()
    # Stripe gone: a clear message and nothing saved
    monkeypatch.setenv("SMPLAT_STRIPE_API_BASE", "http://127.0.0.1:9")
    reset_settings_cache()
    try:
        plans.save({"key": "yearly", "name": "Yearly", "billing": "subscription", "interval": "year", "price": "500"})
    finally:
        reset_settings_cache()
    assert "Payments are unavailable" in plans.error
    with session_scope() as db:
        assert db.execute(select(ProductPlan).where(ProductPlan.key == "yearly")).first() is None
