"""Account → Notifications in a real browser: the customer turns the weekly digest off, the
switch and the database agree after a reload, and the kinds that always go are shown locked
with their reason."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlmodel import Session

from smplat.db import get_engine
from smplat.services import accounts, notifications

EMAIL = "prefs.person@example.com"
PASSWORD = "violet-harbour-42"


def test_a_customer_turns_the_digest_off_and_receipts_stay_locked(browser, live_shop, output_dir, sign_in):
    # given a customer with no preferences stored (everything on)
    with Session(get_engine(live_shop.database_url)) as db:
        user = accounts.sign_up(db, email=EMAIL, password=PASSWORD, full_name="Prefs Person")
        db.commit()
        user_id = user.id
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_shop.url)
    tab = context.new_page()
    shots = output_dir / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    try:
        # when they open Notifications from the account navigation
        sign_in(tab, EMAIL, PASSWORD, next_path="/account")
        tab.get_by_role("link", name="Notifications").first.click()
        expect(tab).to_have_url(live_shop.path("/account/notifications"))
        digest = tab.locator("#pref-email-weekly_digest")
        expect(digest).to_be_visible()
        expect(digest).to_have_attribute("data-state", "checked")
        # receipts always go: on, and not switchable
        receipt = tab.locator("#pref-email-payment_receipt")
        expect(receipt).to_be_disabled()
        expect(receipt).to_have_attribute("data-state", "checked")
        expect(tab.locator("#pref-row-payment_receipt")).to_contain_text("Receipts always go.")
        # webhook / Telegram are in the model, not sent yet
        expect(tab.locator("#pref-webhook-weekly_digest")).to_be_disabled()
        tab.screenshot(path=str(shots / "account_notifications.png"), full_page=True)

        # and turn the weekly digest off
        digest.click()
        expect(tab.locator("#prefs-notice")).to_have_text("Weekly digest: off by email.")
        expect(digest).to_have_attribute("data-state", "unchecked")
        tab.screenshot(path=str(shots / "account_notifications_digest_off.png"), full_page=True)

        # then the service enforces it, and a reload shows the stored choice
        with Session(get_engine(live_shop.database_url)) as db:
            assert not notifications.is_enabled(db, user_id, "weekly_digest")
            assert notifications.is_enabled(db, user_id, "order_completed")
        tab.reload()
        expect(tab.locator("#pref-email-weekly_digest")).to_have_attribute("data-state", "unchecked")
        expect(tab.locator("#pref-email-order_completed")).to_have_attribute("data-state", "checked")
    finally:
        context.close()
