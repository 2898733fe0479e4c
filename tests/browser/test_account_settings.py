"""Account → Settings in a real browser on a phone-sized screen: the page fits 390 px, lists the
signed-in devices, signs another device out, and saves the name."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlmodel import Session

from smplat.db import get_engine
from smplat.services import accounts

EMAIL = "settings.phone@example.com"
PASSWORD = "violet-harbour-42"
TABLET_UA = "Mozilla/5.0 (iPad; CPU OS 17_1 like Mac OS X) AppleWebKit/605.1.15 Version/17.1 Safari/604.1"


def test_settings_page_on_a_phone(browser, live_shop, output_dir, sign_in):
    # given a customer who is also signed in on a tablet
    with Session(get_engine(live_shop.database_url)) as db:
        user = accounts.sign_up(db, email=EMAIL, password=PASSWORD, full_name="Phone Person")
        tablet = accounts.redeem_signin_ticket(
            db, accounts.issue_signin_ticket(db, user), ip_address="203.0.113.44", user_agent=TABLET_UA
        ).token
        db.commit()
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, base_url=live_shop.url
    )
    phone = context.new_page()
    shots = output_dir / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    try:
        # when they sign in on the phone and open Settings from the account navigation
        sign_in(phone, EMAIL, PASSWORD, next_path="/account/settings")
        expect(phone.locator("#settings-sessions")).to_be_visible()
        rows = phone.locator("#sessions-list .session-row")
        expect(rows).to_have_count(2)
        expect(rows.first).to_contain_text("This device")
        expect(rows.nth(1)).to_contain_text("Safari on iPad")
        for section in ("#settings-name", "#settings-email-section", "#settings-password", "#settings-links"):
            expect(phone.locator(section)).to_be_visible()
        expect(phone.locator("#link-2fa")).to_have_attribute("href", "/account/security")
        expect(phone.locator("#link-profiles")).to_have_attribute("href", "/account/profiles")
        phone.screenshot(path=str(shots / "phone_account_settings.png"), full_page=True)
        width, viewport = phone.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width <= viewport, f"/account/settings scrolls sideways on a phone ({width}px > {viewport}px)"

        # then the tablet can be signed out from the phone
        rows.nth(1).get_by_role("button", name="Sign out").click()
        expect(phone.locator("#sessions-notice")).to_have_text("That device is signed out.")
        expect(rows).to_have_count(1)
        with Session(get_engine(live_shop.database_url)) as db:
            assert accounts.resolve_session(db, tablet) is None

        # and the name is saved
        phone.locator("#full_name").fill("Phone Person Renamed")
        phone.get_by_role("button", name="Save name").click()
        expect(phone.locator("#name-notice")).to_have_text("Your name is saved.")
        phone.screenshot(path=str(shots / "phone_account_settings_after.png"), full_page=True)
    finally:
        context.close()
