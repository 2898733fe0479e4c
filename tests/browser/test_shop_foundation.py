"""The foundation walked through in a real browser: visitor, new customer, refused
customer, admin, password reset, 404."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import func, select

from smplat.models.accounts import User, UserSession
from smplat.models.catalog import Product, ProductStatus
from smplat.sandbox.smtp_sink import latest_message_to
from smplat.services.search import PAGE_SIZE

NEW_PASSWORD = "violet-harbour-42"


def count(db, model, *where) -> int:
    db.rollback()  # end the read transaction: the next one sees what the shop wrote since
    return db.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def test_visitor_browses_home_services_and_a_product(page, db_session):
    active = count(db_session, Product, Product.status == ProductStatus.ACTIVE.value)

    page.goto("/")
    expect(page.get_by_role("heading", name="Grow your audience. Watch every order deliver.")).to_be_visible()
    expect(page.get_by_test_id("product-card").first).to_be_visible()

    page.locator("#nav-services").click()
    expect(page).to_have_url(re.compile(r"/services/?$"))
    expect(page.get_by_test_id("product-card")).to_have_count(min(active, PAGE_SIZE))

    page.get_by_role("button", name="TikTok").click()
    expect(page).to_have_url(re.compile(r"/services/?\?category=tiktok$"))
    tiktok = count(db_session, Product, Product.status == ProductStatus.ACTIVE.value, Product.platform == "tiktok")
    expect(page.get_by_test_id("product-card")).to_have_count(tiktok)

    page.get_by_test_id("product-card").first.click()
    expect(page).to_have_url(re.compile(r"/services/tiktok-"))
    expect(page.locator("#product-title")).to_contain_text("TikTok")
    expect(page.get_by_role("heading", name="Package size")).to_be_visible()


def test_new_customer_signs_up_signs_out_and_signs_in(page, db_session, sign_in, wait_for_app):
    page.goto("/signup")
    wait_for_app(page)
    page.locator("#full_name").fill("Robin Example")
    page.locator("#email").fill("robin@example.com")
    page.locator("#password").fill(NEW_PASSWORD)
    page.locator("#signup-submit").click()

    expect(page).to_have_url(re.compile(r"/account/?$"))
    expect(page.locator("#account-welcome")).to_contain_text("Robin Example")
    expect(page.locator("#orders-empty")).to_contain_text("No orders yet")
    cookie = next(c for c in page.context.cookies() if c["name"] == "smplat_session")
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax"
    assert page.evaluate("document.cookie").find("smplat_session") == -1  # invisible to scripts
    assert count(db_session, User, User.email == "robin@example.com") == 1

    page.locator("#account-menu").click()
    with page.expect_navigation(url=re.compile(r"/$")):
        page.locator("#menu-sign-out").click()
    expect(page.locator("#nav-sign-in")).to_be_visible()
    assert not [c for c in page.context.cookies() if c["name"] == "smplat_session"]
    user_id = db_session.execute(select(User.id).where(User.email == "robin@example.com")).scalar_one()
    assert count(db_session, UserSession, UserSession.user_id == user_id, UserSession.revoked_at.is_(None)) == 0

    sign_in(page, "robin@example.com", NEW_PASSWORD)
    expect(page).to_have_url(re.compile(r"/account/?$"))
    expect(page.locator("#account-email")).to_have_text("robin@example.com")


def test_sign_up_with_bad_input_shows_errors_and_creates_nothing(page, db_session, wait_for_app):
    before = count(db_session, User)
    page.goto("/signup")
    wait_for_app(page)
    page.locator("#email").fill("client@smplat.local")
    page.locator("#password").fill(NEW_PASSWORD)
    page.locator("#signup-submit").click()
    expect(page.locator("#email-error")).to_have_text("An account with this email already exists. Sign in instead.")

    page.locator("#email").fill("new-person@example.com")
    page.locator("#password").fill("short")
    page.locator("#signup-submit").click()
    expect(page.locator("#password-error")).to_contain_text("at least 10 characters")

    page.locator("#email").fill("not-an-email")
    page.locator("#password").fill(NEW_PASSWORD)
    page.locator("#email").evaluate("el => el.setAttribute('type', 'text')")  # get past the browser's own check
    page.locator("#signup-submit").click()
    expect(page.locator("#email-error")).to_contain_text("valid email address")
    assert count(db_session, User) == before


def test_wrong_password_is_explained_on_the_form(page, sign_in):
    sign_in(page, "client@smplat.local", "not-the-password-1")
    expect(page.locator("#password-error")).to_have_text("That email and password don't match an account.")
    expect(page).to_have_url(re.compile(r"/signin"))


def test_signed_out_visitor_is_sent_to_sign_in_and_back(page):
    page.goto("/account/orders")
    expect(page).to_have_url(re.compile(r"/signin/?\?next=/account/orders/?$"))
    sign_in_form = page.locator("#signin-form")
    expect(sign_in_form).to_be_visible()
    page.locator("#email").fill("client@smplat.local")
    page.locator("#password").fill("client-demo-pass")
    page.locator("#signin-submit").click()
    expect(page).to_have_url(re.compile(r"/account/orders/?$"))


def test_forged_session_cookie_counts_as_signed_out(page, live_shop):
    page.context.add_cookies([{"name": "smplat_session", "value": "forged-value-123", "url": live_shop.url}])
    page.goto("/account")
    expect(page).to_have_url(re.compile(r"/signin/?\?next=/account/?$"))


def test_customer_is_refused_the_admin(page, sign_in):
    sign_in(page, "client@smplat.local", "client-demo-pass")
    expect(page).to_have_url(re.compile(r"/account/?$"))
    page.goto("/admin")
    expect(page).to_have_url(re.compile(r"/account/?$"))
    expect(page.get_by_text("That area is for SMPLAT staff only.")).to_be_visible()
    expect(page.locator("#admin-kpis")).to_have_count(0)


def test_admin_signs_in_and_reaches_the_admin(page, sign_in):
    sign_in(page, "admin@smplat.local", "admin-demo-pass", next_path="/admin")
    expect(page).to_have_url(re.compile(r"/admin/?$"))
    expect(page.locator("#admin-kpis")).to_be_visible()
    expect(page.locator("#admin-orders-empty")).to_contain_text("No orders yet")

    page.locator("#admin-nav-catalog").click()
    expect(page.locator("#admin-catalog-table")).to_contain_text("Instagram Followers")

    page.locator("#admin-nav-jobs").click()
    page.locator("#run-now-purge_sessions").click()
    expect(page.get_by_text(re.compile(r"purge_sessions succeeded in \d+ ms"))).to_be_visible()
    expect(page.locator("#job-runs-table")).to_contain_text("manual")


def test_password_reset_by_emailed_link(page, live_shop, sign_in, wait_for_app):
    page.goto("/forgot-password")
    wait_for_app(page)
    page.locator("#email").fill("operator@smplat.local")
    page.locator("#forgot-submit").click()
    expect(page.locator("#form-notice")).to_contain_text("a reset link is on its way")

    message = latest_message_to(live_shop.mailbox, "operator@smplat.local")
    assert message is not None and "reset" in message.subject.lower()
    link = re.search(r"https?://\S+/reset-password\?token=[\w-]+", message.text).group(0)

    page.goto(link)
    wait_for_app(page)
    page.locator("#password").fill("fresh-harbour-pass-9")
    page.locator("#password_confirm").fill("fresh-harbour-pass-9")
    page.locator("#reset-submit").click()
    expect(page.locator("#form-notice")).to_contain_text("Your password is changed")

    sign_in(page, "operator@smplat.local", "fresh-harbour-pass-9", next_path="/admin")
    expect(page).to_have_url(re.compile(r"/admin/?$"))


def test_unknown_page_shows_the_styled_404(page):
    page.goto("/this/does/not/exist")
    expect(page.locator("#not-found-title")).to_have_text("We couldn't find that page")
    expect(page.get_by_role("link", name="Browse services")).to_be_visible()


def test_pages_fit_a_phone_screen(browser, live_shop, output_dir, sign_in):
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, base_url=live_shop.url
    )
    phone = context.new_page()
    shots = output_dir / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    try:
        sign_in(phone, "admin@smplat.local", "admin-demo-pass", next_path="/admin")
        expect(phone.locator("#admin-kpis")).to_be_visible()
        for path, ready in [
            ("/", "#product-grid"),
            ("/services/instagram-followers", "#product-title"),
            ("/admin", "#admin-kpis"),
            ("/admin/catalog", "#admin-catalog-table"),
        ]:
            phone.goto(path)
            expect(phone.locator(ready)).to_be_visible()
            width, viewport = phone.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            name = path.strip("/").replace("/", "_") or "home"
            phone.screenshot(path=str(shots / f"phone_{name}.png"), full_page=True)
            assert width <= viewport, f"{path} scrolls sideways on a phone ({width}px > {viewport}px)"
    finally:
        context.close()
