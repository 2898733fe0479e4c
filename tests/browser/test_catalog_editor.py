"""The catalog editor in a real browser: an operator creates a product, gives it an option group
with a package and an add-on fulfilled by another provider service (the picker shows its cost,
margin and guardrail verdict), previews the configurator with margins per route and channel,
publishes it, and customers find it in /services."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import select

from smplat.models.accounts import Role, User
from smplat.models.providers import ProviderService, ServiceRoute
from smplat.services import accounts

PASSWORD = "violet-harbour-42"
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


def test_operator_creates_previews_and_publishes_a_product(
    page, live_shop, db_session, output_dir, sign_in, wait_for_app
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
