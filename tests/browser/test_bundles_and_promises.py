"""A new visitor's first steps: Instagram Comments (the first product) opens ready to buy,
a bundle card adds every item in one click and the cart shows the bundle's discount, and an
operator sees the bundles on Admin → Bundles. Screenshots in the output folder."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser]


def _shot(tab, output_dir, name: str) -> None:
    tab.evaluate("window.scrollTo(0, 0)")
    tab.screenshot(path=str(output_dir / "screenshots" / f"{name}.png"), full_page=True)


def test_instagram_comments_opens_without_errors(page, output_dir, wait_for_app) -> None:
    page.goto("/services/instagram-comments")
    wait_for_app(page)
    # the "Most chosen" preset is priced and nothing asks to be fixed
    expect(page.locator("#price-total")).to_have_text("€9.90")
    expect(page.locator("#form-error")).to_have_count(0)
    expect(page.get_by_text("Please fix the highlighted choices")).to_have_count(0)
    expect(page.locator("#delivery-estimate")).to_have_text("Delivered in about 1 day")
    (output_dir / "screenshots").mkdir(parents=True, exist_ok=True)
    _shot(page, output_dir, "bundles-instagram-comments")


def test_bundle_card_adds_every_item_and_the_cart_shows_the_discount(page, output_dir, wait_for_app) -> None:
    page.goto("/services/instagram-followers")
    wait_for_app(page)
    button = page.locator("#add-bundle-instagram-starter-kit")
    button.scroll_into_view_if_needed()
    button.click()
    page.wait_for_url("**/cart")
    wait_for_app(page)
    expect(page.locator(".cart-line")).to_have_count(3)
    expect(page.locator(".cart-line-discount")).to_have_count(2)
    expect(page.locator(".cart-bundle-saving")).to_contain_text("Instagram starter kit bundle (10 % off)")
    expect(page.locator(".cart-bundle-saving")).to_contain_text("-€1.08")
    expect(page.locator("#cart-total")).to_have_text("€21.72")
    # each line asks, in the customer's words, for what only they can give
    expect(page.get_by_text("Post or reel link is required.")).to_have_count(1)
    expect(page.locator("#checkout-button")).to_be_disabled()
    (output_dir / "screenshots").mkdir(parents=True, exist_ok=True)
    _shot(page, output_dir, "bundles-cart")


def test_operator_sees_the_bundles_page(page, output_dir, wait_for_app, sign_in) -> None:
    sign_in(page, "operator@smplat.local", "operator-demo-pass", "/admin/bundles")
    page.wait_for_url("**/admin/bundles")
    wait_for_app(page)
    expect(page.locator("#admin-bundles-table")).to_contain_text("Instagram starter kit")
    page.locator("#edit-bundle-instagram-starter-kit").click()
    expect(page.locator("#bundle-items")).to_have_value("instagram-likes popular\ninstagram-story-views popular")
    (output_dir / "screenshots").mkdir(parents=True, exist_ok=True)
    _shot(page, output_dir, "bundles-admin")
