"""Two-factor sign-in in a real browser: an admin without it is sent to enrol, enrols with
the QR page, signs out, signs in with password and code, then with a backup code once (a
second use is refused). Codes are computed with pyotp, as the phone app would."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import expect

from smplat.db import session_scope
from smplat.models.accounts import Role
from smplat.services import accounts

EMAIL = "grace.admin@smplat.local"
PASSWORD = "lantern-orchid-57"
WRONG_CODE = "That code is not right (or was already used). Check your app and try again."


def _shot(page, output_dir: Path, name: str) -> None:
    shots = output_dir / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / f"two_factor_{name}.png"), full_page=True)


def _sign_out(page) -> None:
    page.locator("#account-menu").click()
    with page.expect_navigation(url=re.compile(r"/$")):
        page.locator("#menu-sign-out").click()


def _password_step(page, sign_in) -> None:
    sign_in(page, EMAIL, PASSWORD, next_path="/admin")
    expect(page.get_by_text("Two-factor sign-in", exact=True)).to_be_visible()


def test_admin_enrols_signs_in_with_a_code_and_uses_a_backup_code_once(page, live_shop, sign_in, totp_code, output_dir):
    # given a new admin without two-factor
    with session_scope(live_shop.database_url) as db:
        accounts.sign_up(db, email=EMAIL, password=PASSWORD, full_name="Grace Admin", role=Role.ADMIN)

    # when the admin signs in with the password, they land on the enrolment page
    sign_in(page, EMAIL, PASSWORD, next_path="/admin")
    expect(page).to_have_url(re.compile(r"/account/security/?$"))
    expect(page.locator("#two-factor-required")).to_be_visible()
    # and the admin stays closed until they enrol
    page.goto("/admin/customers")
    expect(page).to_have_url(re.compile(r"/account/security/?$"))
    expect(page.locator("#admin-customers-table")).to_have_count(0)

    # when they set it up: the QR code and the key, then a first code from the app
    page.get_by_role("button", name="Set up two-factor sign-in").click()
    expect(page.locator("#totp-qr")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text().strip()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret), secret
    _shot(page, output_dir, "enrolment")
    page.locator("#code").fill(totp_code(EMAIL, secret))
    page.get_by_role("button", name="Turn on").click()

    # then it is on, and ten backup codes are shown once
    expect(page.locator("#two-factor-status")).to_have_text("On")
    codes = [c.strip() for c in page.locator(".backup-code").all_inner_texts()]
    assert len(codes) == 10 and all(re.fullmatch(r"[a-z2-9]{5}-[a-z2-9]{5}", c) for c in codes), codes
    expect(page.get_by_role("button", name="Copy codes")).to_be_visible()
    expect(page.get_by_role("button", name="Download")).to_be_visible()
    _shot(page, output_dir, "backup_codes")
    page.get_by_role("button", name="I saved them").click()
    expect(page.locator("#backup-codes")).to_have_count(0)
    _sign_out(page)

    # when they sign in with password and a code from the app, they reach the admin
    _password_step(page, sign_in)
    _shot(page, output_dir, "code_step")
    page.locator("#code").fill(totp_code(EMAIL, secret))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/admin/?$"))
    expect(page.locator("#admin-kpis")).to_be_visible()
    _sign_out(page)

    # when they sign in with a backup code instead (the phone is lost), it works
    _password_step(page, sign_in)
    page.locator("#code").fill(codes[0])
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/admin/?$"))
    expect(page.locator("#admin-kpis")).to_be_visible()
    _sign_out(page)

    # and a second use of the same backup code is refused: no session, still the code step
    _password_step(page, sign_in)
    page.locator("#code").fill(codes[0])
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_text(WRONG_CODE)).to_be_visible()
    expect(page).to_have_url(re.compile(r"/signin"))
    _shot(page, output_dir, "backup_code_reused")
    page.goto("/admin")
    expect(page).to_have_url(re.compile(r"/signin"))
