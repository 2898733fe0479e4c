"""The product editor's Fields and Presets tabs in a real browser: an operator adds a field with
a regex, tries values in the live tester, saves it, is refused an invalid preset with the
pricing service's words, then adds a valid one; the rows are in the database as typed."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import select

from smplat.db import session_scope
from smplat.models.catalog import (
    Category,
    Product,
    ProductCustomField,
    ProductOption,
    ProductOptionGroup,
    ProductPreset,
    ProductStatus,
)

PATTERN = r"[A-Za-z0-9_-]{11}"
MESSAGE = "Paste the 11-character code of the post, e.g. CxYz123AbCd."


def _draft_product(database_url: str) -> int:
    """A never-published product of its own (the shared test shop's catalog stays as seeded)."""
    with session_scope(database_url) as db:
        category = db.execute(select(Category).order_by(Category.id)).scalars().first()
        product = Product(
            category_id=category.id,
            slug="builder-test-likes",
            title="Builder test likes",
            platform="instagram",
            base_price_minor=490,
            unit_label="likes",
            status=ProductStatus.DRAFT.value,
        )
        db.add(product)
        db.flush()
        group = ProductOptionGroup(product_id=product.id, key="package", name="Package", required=True)
        db.add(group)
        db.flush()
        db.add(ProductOption(group_id=group.id, key="p250", label="250 likes", quantity=250, sort_order=0))
        db.add(
            ProductOption(
                group_id=group.id, key="p1000", label="1,000 likes", quantity=1000, price_delta_minor=1000, sort_order=1
            )
        )
        db.flush()
        return int(product.id)


def test_operator_builds_a_field_with_a_regex_and_a_preset(page, live_shop, output_dir, sign_in) -> None:
    product_id = _draft_product(live_shop.database_url)
    sign_in(page, "admin@smplat.local", "admin-demo-pass", f"/admin/products/{product_id}/fields")
    page.wait_for_url(f"**/admin/products/{product_id}/fields")
    expect(page.locator("#fields-empty")).to_be_visible()

    # the field: label, key, a regex and its message
    page.locator("#form-label").fill("Post code")
    page.locator("#form-key").fill("post_code")
    page.locator("#form-regex_pattern").fill(PATTERN)
    page.locator("#form-regex_message").fill(MESSAGE)
    page.locator("#form-help_text").fill("The part after /p/ in the post's link.")
    # the tester says what the storefront would say, live
    tester = page.locator("#regex-tester input")
    tester.fill("CxYz")
    expect(page.locator("#regex-tester-result")).to_contain_text(MESSAGE)
    tester.fill("CxYz123AbCd")
    expect(page.locator("#regex-tester-result")).to_contain_text("Passes")
    page.screenshot(path=str(output_dir / "screenshots" / "builder_field_tester.png"), full_page=True)
    page.locator("#save-field").click()
    expect(page.locator("#fields-table")).to_contain_text("Post code")
    expect(page.locator("#fields-table")).to_contain_text(PATTERN)
    expect(page.locator("#editor-version")).to_contain_text("version 2")

    # the preset tab: a selection without a package is refused with pricing's words
    page.locator("#editor-tab-presets").click()
    page.wait_for_url(f"**/admin/products/{product_id}/presets")
    expect(page.locator("#presets-empty")).to_be_visible()
    page.locator("#preset-label").fill("Most chosen pack")
    page.locator("#preset-key").fill("popular")
    page.locator("#preset-badge").fill("Most chosen")
    page.locator("#save-preset").click()
    expect(page.locator("#editor-error")).to_contain_text("Choose a package")
    # then with the package chosen it is saved and priced
    page.locator("#preset-opt-package").select_option("p1000")
    page.locator("#save-preset").click()
    expect(page.locator("#presets-table")).to_contain_text("Most chosen pack")
    expect(page.locator("#presets-table")).to_contain_text("€14.90")
    # the calculator shows its sample output as it is typed
    page.locator("#calc-expression").fill("amount / days")
    page.locator("#calc-inputs").fill("amount = 1000\ndays = 4")
    expect(page.locator("#calc-output")).to_contain_text("about 250 likes a day over 4 day(s)")
    page.locator("#calc-expression").fill("amount / nope")
    expect(page.locator("#calc-error")).to_contain_text("unknown name")
    page.screenshot(path=str(output_dir / "screenshots" / "builder_presets.png"), full_page=True)

    with session_scope(live_shop.database_url) as db:
        field = db.execute(select(ProductCustomField).where(ProductCustomField.product_id == product_id)).scalar_one()
        preset = db.execute(select(ProductPreset).where(ProductPreset.product_id == product_id)).scalar_one()
        assert (field.key, field.regex_pattern, field.regex_message) == ("post_code", PATTERN, MESSAGE)
        assert (preset.key, preset.badge, preset.price_hint_minor) == ("popular", "Most chosen", 1490)
        assert preset.selection == {"options": {"package": "p1000"}}
