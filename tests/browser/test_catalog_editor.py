"""The catalog editor in a real browser, end to end: an operator creates a product, gives it an
option group with a package and an add-on fulfilled by another provider service (the picker shows
its cost, margin and guardrail verdict), a field with a regex (checked in the tester), a preset
and two pictures with alt text, previews the configurator with margins per route and channel and
publishes it; then a customer finds it in /services, configures it through the preset and the
field, and pays for it on the Stripe sandbox."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import expect
from sqlalchemy import select

from smplat.models.accounts import Role, User
from smplat.models.catalog import ProductMedia
from smplat.models.orders import Order
from smplat.models.providers import ProviderService, ServiceRoute
from smplat.services import accounts

pytestmark = [pytest.mark.browser, pytest.mark.places_orders]

PASSWORD = "violet-harbour-42"
# the field that says where to deliver (a key ending in _link), checked by the operator's regex
LINK_PATTERN = r"https://(www\.)?instagram\.com/stories/[A-Za-z0-9_.]+/[0-9]+/?"
LINK_MESSAGE = "Paste the story's link, like https://www.instagram.com/stories/brand/3141592653/"
STORY = "https://www.instagram.com/stories/brand/3141592653/"
OPERATOR = "catalog.editor@example.com"
TITLE = "Instagram Story Views Plus"
SLUG = "ig-story-views-plus"


def _operator(db) -> None:
    if db.execute(select(User).where(User.email == OPERATOR)).scalars().first() is None:
        accounts.sign_up(db, email=OPERATOR, password=PASSWORD, role=Role.OPERATOR)
        db.commit()


def _service(db, external_id: str) -> ProviderService:
    return (
        db.execute(select(ProviderService).where(ProviderService.external_service_id == external_id)).scalars().first()
    )


def _picture(path: Path, size: tuple[int, int], colour: tuple[int, int, int], text: str) -> Path:
    image = Image.new("RGB", size, colour)
    ImageDraw.Draw(image).text((size[0] // 2, size[1] // 2), text, fill="white", font_size=size[1] // 5, anchor="mm")
    image.save(path)
    return path


def test_operator_builds_previews_and_publishes_a_product_and_a_customer_pays_for_it(
    page, browser, live_shop, db_session, output_dir, sign_in, wait_for_app, wait_until, tmp_path
):
    _operator(db_session)
    standard, premium = _service(db_session, "101"), _service(db_session, "102")
    shots = output_dir / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)

    sign_in(page, OPERATOR, PASSWORD, "/admin/catalog")
    page.wait_for_url("**/admin/catalog**")
    wait_for_app(page)
    expect(page.locator("#admin-catalog-table")).to_contain_text("published", timeout=30_000)
    page.locator("#create-product").click()
    page.wait_for_url("**/admin/products/new")
    expect(page.locator("#min_quantity")).to_have_value("100")  # the form is loaded and hydrated
    page.locator("#title").fill(TITLE)
    page.locator("#slug").fill(SLUG)
    page.locator("#kind").select_option("views")
    page.locator("#unit_label").fill("views")
    page.locator("#tagline").fill("Story views that start within the hour")
    page.screenshot(path=str(shots / "catalog_editor_new.png"), full_page=True)
    page.locator("#save-details").click()

    # --- the option matrix and an add-on with its own provider service ---
    page.wait_for_url(re.compile(r".*/admin/products/\d+/options$"))
    product_id = int(re.search(r"/admin/products/(\d+)/options", page.url).group(1))
    # the options tab has loaded this product (its title replaces the create form's)
    expect(page.get_by_role("heading", name=TITLE)).to_be_visible()
    expect(page.locator("#no-groups")).to_be_visible()
    page.locator("#group-key").fill("package")
    page.locator("#group-name").fill("Package size")
    page.locator("#group-required").check()
    page.locator("#save-group").click()
    group = page.locator("#group-package")
    expect(group).to_contain_text("Package size")
    group.get_by_role("button", name="Add option").click()
    expect(page.locator("#option-form")).to_be_visible()
    page.locator("#option-key").fill("1000")
    page.locator("#option-label").fill("1,000 views")
    page.locator("#option-quantity").fill("1000")
    page.locator("#option-price").fill("9.00")
    page.locator("#option-calculator").fill("amount / days")
    page.locator("#option-sample_inputs").fill("amount=1000, days=4")
    page.locator("#option-label").click()  # leaves the sample inputs: the calculator is checked
    expect(page.locator("#calc-sample")).to_have_text("Sample output: 250")
    page.locator("#save-option").click()
    expect(group).to_contain_text("1,000 views")
    expect(group).to_contain_text("€9.00")

    page.locator("#new-add-on").click()
    page.locator("#addon-key").fill("premium")
    page.locator("#addon-label").fill("Premium viewers")
    page.locator("#addon-pricing_mode").select_option("service_override")
    page.locator("#addon-amount").fill("3.00")
    page.locator("#addon-amount").press("Tab")  # leaving the field re-prices the verdict
    page.locator("#addon-provider_service_id").select_option(str(premium.id))
    verdict = page.locator("#service-verdict")
    expect(verdict).to_contain_text("Guardrail: ok")
    # the default selection (€9.00) plus the add-on's €3.00, against the premium service's cost
    expect(verdict).to_contain_text("Customer pays €12.00")
    expect(verdict).to_contain_text("margin 80.0 %")
    page.screenshot(path=str(shots / "catalog_editor_options.png"), full_page=True)
    page.locator("#save-add-on").click()
    expect(page.locator("#add-ons-table")).to_contain_text("Premium viewers")

    # routes are set on the routing page; the product's first route goes to the standard service
    db_session.add(ServiceRoute(product_id=product_id, provider_service_id=standard.id))
    db_session.commit()

    # --- a field with a regex, tried in the tester first ---
    page.locator("#editor-tab-fields").click()
    page.wait_for_url(f"**/admin/products/{product_id}/fields")
    expect(page.locator("#fields-empty")).to_be_visible()
    page.locator("#form-label").fill("Story link")
    page.locator("#form-key").fill("story_link")
    page.locator("#form-required").check()
    page.locator("#form-regex_pattern").fill(LINK_PATTERN)
    page.locator("#form-regex_message").fill(LINK_MESSAGE)
    tester = page.locator("#regex-tester input")
    tester.fill("https://www.instagram.com/brand/")
    expect(page.locator("#regex-tester-result")).to_contain_text(LINK_MESSAGE)
    tester.fill(STORY)
    expect(page.locator("#regex-tester-result")).to_contain_text("Passes")
    page.locator("#save-field").click()
    expect(page.locator("#fields-table")).to_contain_text("Story link")

    # --- a preset ---
    page.locator("#editor-tab-presets").click()
    page.wait_for_url(f"**/admin/products/{product_id}/presets")
    page.locator("#preset-label").fill("Premium pack")
    page.locator("#preset-key").fill("premium-pack")
    page.locator("#preset-badge").fill("Best results")
    page.locator("#preset-opt-package").select_option("1000")
    page.locator('input[name="addon:premium"]').check()
    page.locator("#save-preset").click()
    expect(page.locator("#presets-table")).to_contain_text("Premium pack")
    expect(page.locator("#presets-table")).to_contain_text("€12.00")

    # --- two pictures at once, each with its alt text (publishing refuses a picture without) ---
    page.locator("#editor-tab-media").click()
    page.wait_for_url(f"**/admin/products/{product_id}/media")
    wait_for_app(page)
    pictures = [
        _picture(tmp_path / "story-views.png", (1200, 900), (91, 70, 190), "Story views"),
        _picture(tmp_path / "story-proof.png", (800, 800), (20, 140, 110), "Seen by 1,000"),
    ]
    page.locator("#media-upload input[type=file]").set_input_files([str(p) for p in pictures])
    page.locator("#media-upload-button").click()
    expect(page.locator("#media-notice")).to_contain_text("Uploaded 2 images")
    db_session.expire_all()
    media = (
        db_session.execute(
            select(ProductMedia).where(ProductMedia.product_id == product_id).order_by(ProductMedia.sort_order)
        )
        .scalars()
        .all()
    )
    assert len(media) == 2
    for row, alt in zip(media, ("Story views, purple artwork", "Seen by 1,000 badge"), strict=True):
        page.locator(f"#media-alt-{row.id}").fill(alt)
        page.locator(f"#media-save-{row.id}").click()
        expect(page.locator("#media-notice")).to_contain_text("Saved the image details")

    # --- preview with margins, then publish ---
    page.locator("#editor-tab-preview").click()
    page.wait_for_url(f"**/admin/products/{product_id}/preview")
    expect(page.locator("#preview-configurator")).to_contain_text(TITLE)
    expect(page.locator("#price-total")).to_have_text("€9.00")
    margins = page.locator("#preview-margins")
    expect(margins).to_contain_text("Storefront")
    expect(margins).to_contain_text("#101")
    expect(margins).to_contain_text("Reseller API")
    page.locator("#addon-premium").click()
    expect(page.locator("#price-total")).to_have_text("€12.00")
    expect(margins).to_contain_text("#102")
    expect(page.locator("#publish-ready")).to_be_visible()
    page.screenshot(path=str(shots / "catalog_editor_preview.png"), full_page=True)
    page.locator("#publish").click()
    page.wait_for_url(f"**/services/{SLUG}")
    expect(page.locator("#product-title")).to_have_text(TITLE)

    # --- customers find it in the catalog ---
    page.goto("/services?q=story+views+plus")
    wait_for_app(page)
    expect(page.get_by_text(TITLE).first).to_be_visible(timeout=15_000)
    page.goto("/admin/catalog")
    wait_for_app(page)
    expect(page.locator("#admin-catalog-table")).to_contain_text(TITLE)
    page.screenshot(path=str(shots / "catalog_editor_list.png"), full_page=True)

    # --- a customer (another browser) finds it, configures it through the preset and the
    # field the operator built, and pays on the Stripe sandbox ---
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_shop.url)
    context.set_default_timeout(20_000)
    tab = context.new_page()
    try:
        tab.goto("/services?q=story+views+plus")
        wait_for_app(tab)
        card = tab.locator("[data-testid=product-card]", has_text=TITLE).first
        card.locator(".product-card-link").click()
        expect(tab.locator("#product-title")).to_have_text(TITLE)
        tab.locator("#preset-premium-pack").click()
        expect(tab.locator("#price-total")).to_have_text("€12.00")
        tab.locator("#field-story_link").fill("https://www.instagram.com/brand/")
        tab.locator("#add-to-cart").click()
        expect(tab.locator("#error-story_link")).to_contain_text(LINK_MESSAGE)
        tab.locator("#field-story_link").fill(STORY)
        tab.locator("#add-to-cart").click()
        tab.locator("#view-cart").click()
        expect(tab.locator("#cart-total")).to_have_text("€12.00")
        tab.locator("#checkout-email").fill("story.buyer@example.test")
        tab.locator("#checkout-button").click()
        expect(tab.locator("#pay-total")).to_have_text("€12.00")
        tab.locator("#pay-button").click()
        expect(tab.locator("#success-title")).to_be_visible()
        tab.screenshot(path=str(shots / "catalog_editor_customer_paid.png"), full_page=True)
    finally:
        context.close()
    wait_until(
        lambda: _paid_orders(db_session, "story.buyer@example.test") == [1200],
        30,
        "the customer's order of the new product",
    )


def _paid_orders(db, email: str) -> list[int]:
    db.expire_all()
    return list(
        db.execute(
            select(Order.total_minor).where(Order.customer_email == email, Order.placed_at.is_not(None))
        ).scalars()
    )
