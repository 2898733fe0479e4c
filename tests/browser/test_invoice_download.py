"""A customer without billing details is asked for them at checkout, pays on the Stripe
sandbox, then downloads the invoice PDF from My account → Billing (its text read back)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader
from sqlalchemy import select
from sqlmodel import Session

from smplat.db import get_engine
from smplat.models.invoices import Invoice
from smplat.services import accounts

EMAIL = "invoice.buyer@example.com"
PASSWORD = "violet-harbour-42"

pytestmark = [pytest.mark.browser, pytest.mark.places_orders]


def _invoices(shop, email: str | None = None) -> list[tuple[str, int, bool]]:
    """Invoices issued in the shared shop (other tests place orders too), or one customer's."""
    with Session(get_engine(shop.database_url)) as db:
        query = select(Invoice.number, Invoice.gross_minor, Invoice.reverse_charge).order_by(Invoice.id)
        if email:
            query = query.where(Invoice.customer_email == email)
        return [tuple(r) for r in db.execute(query).all()]


def test_customer_gives_billing_details_at_checkout_and_downloads_the_invoice(
    page, live_shop, output_dir, sign_in, wait_for_app, wait_until
) -> None:
    tab = page
    tab.set_default_timeout(30_000)
    shots = output_dir / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    with Session(get_engine(live_shop.database_url)) as db:
        accounts.sign_up(db, email=EMAIL, password=PASSWORD, full_name="Ada Lovelace")
        db.commit()
    # given a signed-in customer with 1,000 followers in the cart
    sign_in(tab, EMAIL, PASSWORD, next_path="/services/instagram-followers")
    expect(tab.locator("#product-title")).to_have_text("Instagram Followers", timeout=30_000)
    wait_for_app(tab)
    tab.locator("#preset-popular").click()
    expect(tab.locator("#price-total")).to_have_text("€12.00")
    tab.locator("#field-username").fill("@engines")
    tab.locator("#add-to-cart").click()
    tab.locator("#view-cart").click()
    expect(tab.locator("#cart-total")).to_have_text("€12.00")
    # the checkout form asks for billing details (none saved yet); a bad VAT number is refused
    expect(tab.locator("#checkout-billing")).to_be_visible()
    tab.locator("#name").fill("Ada Lovelace")
    tab.locator("#company").fill("Engines GmbH")
    tab.locator("#address").fill("Hauptstr. 1\n10115 Berlin")
    tab.locator("#country").select_option("DE")
    tab.locator("#vat_id").fill("DE12")
    tab.locator("#checkout-button").click()
    expect(tab.locator("#vat_id-error")).to_contain_text("not a Germany VAT number")
    tab.locator("#vat_id").fill("DE 123 456 789")
    tab.locator("#checkout-button").click()
    # when they pay on the sandbox
    expect(tab.locator("#pay-total")).to_have_text("€12.00")
    tab.locator("#pay-button").click()
    expect(tab.locator("#success-title")).to_be_visible(timeout=30_000)
    wait_until(lambda: len(_invoices(live_shop, EMAIL)) == 1, 30, "the invoice to be issued")
    ((number, gross, reverse),) = _invoices(live_shop, EMAIL)
    assert (gross, reverse) == (1200, True)
    # then the billing page lists the invoice, and its PDF downloads
    tab.goto("/account/billing")
    row = tab.locator("#invoices-table tbody tr").first
    expect(row).to_contain_text(number, timeout=30_000)
    expect(row).to_contain_text("Reverse charge")
    expect(tab.locator("#vat_id")).to_have_value("DE123456789")
    tab.evaluate("window.scrollTo(0, 0)")
    tab.screenshot(path=str(shots / "account_billing.png"), full_page=True)
    link = tab.locator(f"#invoice-pdf-{number}")
    with tab.expect_download() as info:
        link.click()
    download = info.value
    assert download.suggested_filename == f"{number}.pdf"
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(Path(download.path()).read_bytes())).pages)
    for expected in (
        number,
        "Engines GmbH",
        "VAT ID: DE123456789",
        "Instagram Followers",
        "12.00 EUR",
        "Reverse charge: VAT to be accounted for by the recipient",
    ):
        assert expected in text, (expected, text)


def test_staff_find_an_invoice_in_admin_and_download_it(browser, live_shop, output_dir, sign_in) -> None:
    # given at least one issued invoice (the customer test above places one; order is not assumed)
    rows = _invoices(live_shop, EMAIL)
    if not rows:
        pytest.skip("no invoice issued in this shop yet (run with the customer test)")
    number = rows[0][0]
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_shop.url)
    context.set_default_timeout(30_000)
    tab = context.new_page()
    try:
        # when an admin opens Sales → Invoices and filters by the number
        sign_in(tab, "admin@smplat.local", "admin-demo-pass", "/admin/invoices")
        table = tab.locator("#admin-invoices-table")
        expect(table).to_contain_text(number, timeout=30_000)
        tab.locator("#invoices-number").fill(number)
        tab.locator("#invoices-filter").click()
        expect(table.locator("tbody tr")).to_have_count(1)
        expect(table).to_contain_text("Engines GmbH")
        tab.screenshot(path=str(output_dir / "screenshots" / "admin_invoices.png"), full_page=True)
        # then staff download the same PDF the customer gets
        with tab.expect_download() as info:
            table.locator("a[download]").first.click()
        assert info.value.suggested_filename == f"{number}.pdf"
    finally:
        context.close()
