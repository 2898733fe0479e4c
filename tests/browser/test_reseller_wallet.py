"""A reseller in a browser: "Reseller" is in their account navigation, the page shows their
price list, they top up the wallet by card on the Stripe sandbox's hosted page and come back to
a credited wallet (the sandbox posts the signed webhook to the live shop). A customer who is
not a reseller has no "Reseller" link and the page invites them properly."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from smplat.db import session_scope
from smplat.models.accounts import Role, User
from smplat.models.resellers import ResellerLedgerEntry
from smplat.services import accounts, audit, resellers

pytestmark = [pytest.mark.browser]

RESELLER, CUSTOMER, PASSWORD = "wallet-reseller@example.test", "not-a-reseller@example.test", "violet-harbour-42"


def _shot(tab, output_dir, name: str) -> None:
    (output_dir / "screenshots").mkdir(parents=True, exist_ok=True)
    tab.evaluate("window.scrollTo(0, 0)")
    tab.screenshot(path=str(output_dir / "screenshots" / f"{name}.png"), full_page=True)


@pytest.fixture
def people(live_shop):
    with session_scope(live_shop.database_url) as db:
        for email in (RESELLER, CUSTOMER):
            if db.execute(select(User.id).where(User.email == email)).first() is None:
                accounts.sign_up(db, email=email, password=PASSWORD, role=Role.CUSTOMER)
    with session_scope(live_shop.database_url) as db:
        resellers.enable(db, audit.Actor.cli(), RESELLER)


def _top_ups(live_shop) -> list[int]:
    with session_scope(live_shop.database_url) as db:
        return list(
            db.execute(select(ResellerLedgerEntry.amount_minor).where(ResellerLedgerEntry.kind == "topup")).scalars()
        )


def test_a_reseller_tops_up_by_card_and_a_customer_is_invited(
    page, browser, live_shop, people, output_dir, sign_in, wait_for_app, wait_until
) -> None:
    tab = page
    tab.set_default_timeout(30_000)
    sign_in(tab, RESELLER, PASSWORD, next_path="/account/reseller")
    expect(tab.locator("#wallet-balance")).to_be_visible()
    expect(tab.locator("#account-nav-reseller")).to_be_visible()
    expect(tab.locator("#price-list")).to_contain_text("Instagram Followers")
    expect(tab.locator("#price-list")).to_contain_text("EUR per 1000")
    # an amount below the minimum is refused on the page
    tab.locator("#topup_amount").fill("2")
    tab.locator("#topup").click()
    expect(tab.locator("#topup-error")).to_contain_text("Top up between 10.00 and 5000.00 EUR.")
    _shot(tab, output_dir, "reseller_wallet_before")
    # when they top up 50 and pay on Stripe's (the sandbox's) page
    tab.locator("#topup_amount").fill("50")
    tab.locator("#topup").click()
    expect(tab.locator("#pay-button")).to_contain_text("50.00")
    tab.locator("#pay-button").click()
    # then they are back on the page, and the webhook credits the wallet once
    expect(tab).to_have_url(re.compile(r"/account/reseller/?\?topup=paid"))
    expect(tab.locator("#topup-notice")).to_contain_text("Thank you")
    wait_until(lambda: _top_ups(live_shop) == [5000], 30, "the top-up webhook to credit the wallet")
    tab.reload()
    wait_for_app(tab)
    expect(tab.locator("#wallet-balance")).to_contain_text("50.00")
    expect(tab.locator("#wallet-ledger")).to_contain_text("Top-up paid through Stripe Checkout")
    _shot(tab, output_dir, "reseller_wallet_after_topup")
    assert _top_ups(live_shop) == [5000]

    # a customer who is not a reseller: no link, and the page says what reselling offers
    other = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_shop.url)
    try:
        them = other.new_page()
        them.set_default_timeout(30_000)
        sign_in(them, CUSTOMER, PASSWORD, next_path="/account/reseller")
        expect(them.locator("#not-reseller")).to_contain_text("Resell our services under your own brand")
        expect(them.locator("#account-nav")).to_be_visible()
        expect(them.locator("#account-nav-reseller")).to_have_count(0)
        _shot(them, output_dir, "reseller_page_for_a_customer")
    finally:
        other.close()
