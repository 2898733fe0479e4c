"""A customer subscribes to Growth Autopilot (paid on the Stripe sandbox, webhooks delivered
over HTTP), cancels at period end from My account → Subscriptions, resumes, and downloads a
copy of their data from My account → Privacy."""

from __future__ import annotations

import json
import zipfile

import pytest
from playwright.sync_api import expect

from smplat.services import accounts

pytestmark = [pytest.mark.browser, pytest.mark.places_orders]

EMAIL = "autopilot.client@example.test"
PASSWORD = "violet-harbour-42"


@pytest.fixture
def tab(page):
    page.set_default_timeout(30_000)
    return page


def _shot(tab, output_dir, name: str) -> None:
    shots = output_dir / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(shots / f"{name}.png"), full_page=True)


def test_client_cancels_at_period_end_resumes_and_exports_their_data(
    tab, live_shop, db_session, sign_in, wait_for_app, output_dir
) -> None:
    accounts.sign_up(db_session, email=EMAIL, password=PASSWORD, full_name="Autopilot Client")
    db_session.commit()
    sign_in(tab, EMAIL, PASSWORD, next_path="/services/instagram-growth-autopilot")
    expect(tab.locator("#product-title")).to_have_text("Instagram Growth Autopilot", timeout=60_000)
    wait_for_app(tab)
    if tab.locator("#consent-accept").is_visible():
        tab.locator("#consent-accept").click()
    # the product's promise "Cancel any time from your dashboard" leads somewhere
    expect(tab.locator("#manage-subscriptions")).to_have_attribute("href", "/account/subscriptions")
    expect(tab.locator("#price-total")).to_have_text("€59.00")  # the featured preset: 2,500 a month
    tab.locator("#field-username").fill("@autopilotbrand")
    tab.locator("#add-to-cart").click()
    tab.locator("#view-cart").click()
    tab.locator("#checkout-button").click()
    tab.locator("#pay-button").click()
    expect(tab.locator("#success-title")).to_be_visible(timeout=60_000)

    tab.goto("/account/subscriptions")
    wait_for_app(tab)
    expect(tab.locator(".subscription-card")).to_have_count(1, timeout=30_000)
    expect(tab.locator("#subscription-amount")).to_have_text("€59.00 / month")
    tab.locator("#cancel-subscription").click()
    expect(tab.locator("#form-notice")).to_contain_text("Renewals stopped")
    expect(tab.locator(".subscription-card")).to_contain_text("Ends at period end")
    expect(tab.locator("#resume-subscription")).to_be_visible()
    _shot(tab, output_dir, "subscription_set_to_end")
    tab.locator("#resume-subscription").click()
    expect(tab.locator("#form-notice")).to_contain_text("renews as before")
    expect(tab.locator("#cancel-subscription")).to_be_visible()
    expect(tab.locator(".subscription-card")).to_contain_text("Active")
    _shot(tab, output_dir, "subscription_resumed")

    tab.goto("/account/privacy")
    wait_for_app(tab)
    with tab.expect_download() as download_info:
        tab.locator("#export-data").click()
    download = download_info.value
    assert download.suggested_filename == "smplat-my-data.zip"
    with zipfile.ZipFile(download.path()) as archive:
        account = json.loads(archive.read("account.json"))
        orders = json.loads(archive.read("data/orders.json"))
        subscriptions = json.loads(archive.read("data/subscriptions.json"))
        assert "README.txt" in archive.namelist()
    assert account["email"] == EMAIL
    assert len(orders) == 1 and orders[0]["total_minor"] == 5900
    assert [(s["status"], s["cancel_at_period_end"]) for s in subscriptions] == [("active", False)]
    expect(tab.locator("#delete-account")).to_be_visible()
    _shot(tab, output_dir, "privacy_page")
