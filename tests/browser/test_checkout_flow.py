"""A guest configures, pays on the Stripe sandbox's page and gets exactly one order; a
declined card shows an honest failure and creates no order."""

from __future__ import annotations

import re
import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from smplat.models.orders import Order
from tests.browser.conftest import LiveShop, wait_for_app

pytestmark = [pytest.mark.browser, pytest.mark.places_orders]


@pytest.fixture
def tab(page):  # noqa: ANN001
    page.set_default_timeout(30_000)
    return page


def _orders(shop: LiveShop) -> list[tuple[str, int]]:
    from sqlmodel import Session

    from smplat.db import get_engine

    with Session(get_engine(shop.database_url)) as db:
        return [tuple(r) for r in db.execute(select(Order.customer_email, Order.total_minor)).all()]


def _configure_and_add(tab, output_dir) -> None:  # noqa: ANN001
    tab.goto("/services")
    wait_for_app(tab)
    tab.locator("[data-testid=product-card]", has_text="Instagram Followers").first.click()
    expect(tab.locator("#product-title")).to_have_text("Instagram Followers")
    # the best-value preset, then back to the popular one in one click
    tab.locator("#preset-best-value").click()
    expect(tab.locator("#price-total")).to_have_text("€55.00")
    tab.locator("#preset-popular").click()
    expect(tab.locator("#price-total")).to_have_text("€12.00")
    # a handle that breaks the rule is refused next to the field
    tab.locator("#field-username").fill("not a handle!")
    tab.locator("#add-to-cart").click()
    expect(tab.locator("#error-username")).to_contain_text("Use 1–30 letters")
    tab.screenshot(path=str(output_dir / "screenshots" / "configurator_field_error.png"), full_page=True)
    tab.locator("#field-username").fill("@brandnew")
    tab.locator("#add-to-cart").click()
    expect(tab.locator("#view-cart")).to_be_visible()
    tab.locator("#view-cart").click()
    expect(tab.locator("#cart-total")).to_have_text("€12.00")


def test_guest_pays_on_the_sandbox_and_gets_one_order(tab, live_shop, output_dir) -> None:  # noqa: ANN001
    shop = live_shop
    _configure_and_add(tab, output_dir)
    tab.locator("#checkout-email").fill("guest.buyer@example.test")
    tab.locator("#checkout-button").click()
    expect(tab.locator("#pay-total")).to_have_text("€12.00")
    tab.screenshot(path=str(output_dir / "screenshots" / "sandbox_pay_page.png"), full_page=True)
    tab.locator("#pay-button").click()
    expect(tab.locator("#success-title")).to_be_visible()
    expect(tab.locator("#order-total")).to_have_text("€12.00")
    expect(tab.get_by_text(re.compile("1,000 followers for €12"))).to_be_visible()
    number = tab.locator("#order-number").inner_text()
    # then exactly one order, whatever the webhook and the success page did
    tab.wait_for_timeout(1500)
    assert _orders(shop) == [("guest.buyer@example.test", 1200)]
    assert number.startswith("SMP-")


def test_declined_card_shows_an_honest_failure_and_creates_no_order(tab, live_shop, output_dir) -> None:  # noqa: ANN001
    shop = live_shop
    before = _orders(shop)
    _configure_and_add(tab, output_dir)
    tab.locator("#checkout-email").fill("declined@example.test")
    tab.locator("#checkout-button").click()
    tab.locator("#decline-button").click()
    expect(tab.locator("#declined-message")).to_contain_text("declined")
    tab.locator("#back-to-shop").click()
    expect(tab.locator("#checkout-failed")).to_contain_text("no order was placed")
    tab.wait_for_timeout(1500)
    assert _orders(shop) == before
