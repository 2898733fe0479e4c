"""A client's whole account journey for issue 13: they subscribe to Growth Autopilot (paid on the
Stripe sandbox, webhooks over HTTP, billing details asked at checkout), download the invoice PDF
from My account → Billing, turn a notification off, cancel the subscription at period end (and
see it can be resumed), and download a copy of their data from My account → Privacy."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

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


def test_client_downloads_an_invoice_toggles_a_notification_cancels_at_period_end_and_exports(
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
    # a new account has no billing details yet: the checkout asks for them
    expect(tab.locator("#checkout-billing")).to_be_visible()
    tab.locator("#name").fill("Autopilot Client")
    tab.locator("#address").fill("Rue de la Loi 1\n1000 Brussels")
    tab.locator("#country").select_option("BE")
    tab.locator("#checkout-button").click()
    tab.locator("#pay-button").click()
    expect(tab.locator("#success-title")).to_be_visible(timeout=60_000)

    # the invoice: listed on the billing page beside the subscription, its PDF downloads
    tab.goto("/account/billing")
    wait_for_app(tab)
    row = tab.locator("#invoices-table tbody tr").first
    expect(row).to_contain_text("INV-", timeout=60_000)
    expect(tab.locator("#billing-subscriptions")).to_contain_text("€59.00 / month")
    number = row.locator("td, th").first.inner_text().split()[0]
    with tab.expect_download() as info:
        tab.locator(f"#invoice-pdf-{number}").click()
    pdf = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(Path(info.value.path()).read_bytes())).pages)
    assert number in pdf and "Instagram Growth Autopilot" in pdf and "59.00 EUR" in pdf and "21" in pdf
    _shot(tab, output_dir, "billing_with_subscription")

    # a notification turned off (order updates), a receipt stays locked on
    tab.goto("/account/notifications")
    wait_for_app(tab)
    started = tab.locator("#pref-email-order_started")
    expect(started).to_have_attribute("data-state", "checked")
    started.click()
    expect(started).to_have_attribute("data-state", "unchecked")
    expect(tab.locator("#pref-email-payment_receipt")).to_be_disabled()

    tab.goto("/account/subscriptions")
    wait_for_app(tab)
    expect(tab.locator(".subscription-card")).to_have_count(1, timeout=30_000)
    expect(tab.locator("#subscription-amount")).to_have_text("€59.00 / month")
    tab.locator("#cancel-subscription").click()
    expect(tab.locator("#form-notice")).to_contain_text("Renewals stopped")
    expect(tab.locator(".subscription-card")).to_contain_text("Ends at period end")
    expect(tab.locator("#resume-subscription")).to_be_visible()
    _shot(tab, output_dir, "subscription_set_to_end")
    # it can be resumed before the period ends; then stopped again for good
    tab.locator("#resume-subscription").click()
    expect(tab.locator("#form-notice")).to_contain_text("renews as before")
    expect(tab.locator("#cancel-subscription")).to_be_visible()
    expect(tab.locator(".subscription-card")).to_contain_text("Active")
    _shot(tab, output_dir, "subscription_resumed")
    tab.locator("#cancel-subscription").click()
    expect(tab.locator(".subscription-card")).to_contain_text("Ends at period end")

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
        invoices = json.loads(archive.read("data/invoices.json"))
        preferences = json.loads(archive.read("data/notification_preferences.json"))
        assert "README.txt" in archive.namelist()
    assert account["email"] == EMAIL
    assert len(orders) == 1 and orders[0]["total_minor"] == 5900
    assert [(s["status"], s["cancel_at_period_end"]) for s in subscriptions] == [("active", True)]
    assert [i["number"] for i in invoices] == [number]
    assert [(p["kind"], p["enabled"]) for p in preferences] == [("order_started", False)]
    expect(tab.locator("#delete-account")).to_be_visible()
    _shot(tab, output_dir, "privacy_page")
