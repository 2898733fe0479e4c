"""The marketing storefront in a real browser: content from the database and from the admin's
Content page, the consent banner and the search records it allows, catalog search, filters,
sort and pagination in the URL, legal pages, bundles, search insights, and phone widths."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import func, select

from smplat.models.analytics import SearchRecord
from smplat.models.content import ContentBlock
from smplat.services import content


def count(db, model, *where) -> int:
    db.expire_all()
    return db.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def consent_cookie(page) -> str | None:
    return next((c["value"] for c in page.context.cookies() if c["name"] == "smplat_consent"), None)


def choose_consent(page, button_id: str) -> None:
    expect(page.locator("#consent-banner")).to_be_visible()
    page.locator(button_id).click()
    expect(page.locator("#consent-banner")).to_have_count(0)


def keep_essential_only(page, live_shop) -> None:
    """A visitor who chose before (the banner itself is tested above and below)."""
    page.context.add_cookies([{"name": "smplat_consent", "value": "essential", "url": live_shop.url}])


def test_home_renders_content_from_the_database(page, db_session):
    # given figures the owner saved, and the other blocks on their defaults
    content.save_block(
        db_session,
        "home.metrics",
        title="The shop in numbers",
        items_text="4,200 | orders delivered since 2024\n98 % | delivered on time",
    )
    db_session.commit()

    # when a visitor opens the home page
    page.goto("/")

    # then every section shows, the figures from the database, prices from the catalog
    expect(page.locator("#hero-title")).to_have_text("Grow your audience. Watch every order deliver.")
    expect(page.locator("#home-metrics")).to_contain_text("The shop in numbers")
    expect(page.locator("#home-metrics")).to_contain_text("4,200")
    expect(page.locator("#home-metrics")).to_contain_text("orders delivered since 2024")
    expect(page.locator("#services-title")).to_have_text("Popular services")
    expect(page.locator("#home-pricing")).to_contain_text("Instagram Followers")
    expect(page.locator("#home-pricing")).to_contain_text("€6.90")
    expect(page.locator("#case-study-title")).to_have_text("A launch week on Instagram")
    expect(page.locator("#home-faq")).to_contain_text("Do you need my password?")
    expect(page.locator("#home-testimonials")).to_have_count(0)  # no invented quotes
    choose_consent(page, "#consent-essential")
    page.get_by_text("Do you need my password?").click()
    expect(page.get_by_text("We only ask for the public username")).to_be_visible()


def test_admin_edits_a_testimonial_and_the_home_page_shows_it(page, db_session, live_shop, sign_in):
    before = count(db_session, ContentBlock)
    keep_essential_only(page, live_shop)
    sign_in(page, "admin@smplat.local", "admin-demo-pass", next_path="/admin/content")
    expect(page).to_have_url(re.compile(r"/admin/content/?$"))
    page.locator("#content-block-home-testimonials").click()
    expect(page.locator("#content-help")).to_contain_text("Quotes from real customers")

    # bad input: a quote without name and role is refused next to the field, nothing stored
    page.locator("#content-items").fill("Fast and friendly.")
    page.locator("#content-save").click()
    expect(page.locator("#content-items-error")).to_have_text(
        "Line 1: write it as “quote | name | role or company” (found 1 part)."
    )
    assert count(db_session, ContentBlock) == before

    page.locator("#content-title").fill("Customers on SMPLAT")
    page.locator("#content-items").fill("Delivery started within minutes. | Mara K. | Ceramics studio")
    page.locator("#content-save").click()
    expect(page.locator("#content-notice")).to_contain_text("Saved.")
    expect(page.locator("#content-block-home-testimonials")).to_contain_text("Edited")
    assert count(db_session, ContentBlock, ContentBlock.key == "home.testimonials") == 1

    page.goto("/")
    expect(page.locator("#testimonials-title")).to_have_text("Customers on SMPLAT")
    expect(page.locator("#home-testimonials")).to_contain_text("Delivery started within minutes.")
    expect(page.locator("#home-testimonials")).to_contain_text("Mara K.")


def test_consent_choice_is_stored_and_respected_by_search_records(page, db_session, wait_for_app):
    before = count(db_session, SearchRecord)

    # given a first-time visitor who searches before choosing
    page.goto("/services?q=likes")
    expect(page.locator("#result-count")).to_have_text("4 services")
    expect(page.locator("#consent-banner")).to_be_visible()
    assert consent_cookie(page) is None
    assert count(db_session, SearchRecord) == before

    # when they accept all
    choose_consent(page, "#consent-accept")
    assert consent_cookie(page) == "all"

    # then the banner stays away after a reload, which runs the search again, now recorded
    page.reload()
    wait_for_app(page)
    expect(page.locator("#result-count")).to_have_text("4 services")
    expect(page.locator("#consent-banner")).to_have_count(0)
    assert count(db_session, SearchRecord) == before + 1

    # and so is their next search, with its filter, sort and result count
    page.locator("#catalog-search").fill("story views")
    page.locator("#catalog-search-submit").click()
    expect(page).to_have_url(re.compile(r"/services/?\?q=story\+views$"))
    expect(page.locator("#result-count")).to_have_text("2 services")
    assert count(db_session, SearchRecord) == before + 2
    rows = db_session.execute(
        select(SearchRecord.query, SearchRecord.category, SearchRecord.sort, SearchRecord.result_count)
        .order_by(SearchRecord.id.desc())
        .limit(2)
    ).all()
    assert rows == [("story views", "", "popular", 2), ("likes", "", "popular", 4)]

    # when they reopen the choice from the footer and keep essential cookies only
    page.locator("#footer-cookie-settings").click()
    choose_consent(page, "#consent-essential")
    assert consent_cookie(page) == "essential"

    # then further searches are not recorded
    page.locator("#catalog-search").fill("followers")
    page.locator("#catalog-search-submit").click()
    expect(page.locator("#result-count")).to_have_text("5 services")
    assert count(db_session, SearchRecord) == before + 2


def test_search_filter_sort_and_pagination_live_in_the_url(page):
    page.goto("/services")
    choose_consent(page, "#consent-essential")
    expect(page.locator("#result-count")).to_have_text("1–9 of 14")

    page.locator("#catalog-search").fill("likes")
    page.locator("#catalog-search-submit").click()
    expect(page).to_have_url(re.compile(r"/services/?\?q=likes$"))
    expect(page.get_by_test_id("product-card")).to_have_count(4)

    page.locator("#category-filter").get_by_role("button", name="TikTok", exact=True).click()
    expect(page).to_have_url(re.compile(r"/services/?\?q=likes&category=tiktok$"))
    expect(page.get_by_test_id("product-card")).to_have_count(1)
    expect(page.get_by_test_id("product-card")).to_contain_text("TikTok Likes")

    page.locator("#catalog-search").fill("snapchat")
    page.locator("#catalog-search-submit").click()
    expect(page.locator("#no-results")).to_contain_text("No services match “snapchat”")
    page.locator("#clear-search").click()
    expect(page).to_have_url(re.compile(r"/services/?$"))

    page.locator("#sort-select").click()
    page.get_by_role("option", name="Price: high to low").click()
    expect(page).to_have_url(re.compile(r"/services/?\?sort=price_desc$"))
    expect(page.get_by_test_id("product-card").first).to_contain_text("Instagram Growth Autopilot")
    expect(page.locator("#page-status")).to_have_text("Page 1 of 2")

    page.locator("#page-next").click()
    expect(page).to_have_url(re.compile(r"/services/?\?sort=price_desc&page=2$"))
    expect(page.get_by_test_id("product-card")).to_have_count(5)
    expect(page.get_by_test_id("product-card").last).to_contain_text("TikTok Views")
    expect(page.locator("#result-count")).to_have_text("10–14 of 14")

    page.go_back()
    expect(page).to_have_url(re.compile(r"/services/?\?sort=price_desc$"))
    expect(page.get_by_test_id("product-card")).to_have_count(9)

    # a shared link opens the same listing
    page.goto("/services?q=views&category=tiktok")
    expect(page.get_by_test_id("product-card")).to_have_count(1)
    expect(page.locator("#catalog-search")).to_have_value("views")


def test_legal_pages_from_the_content_system(page):
    page.goto("/")
    choose_consent(page, "#consent-essential")
    page.locator("#footer-privacy").click()
    expect(page).to_have_url(re.compile(r"/privacy/?$"))
    expect(page.locator("#legal-title")).to_have_text("Privacy policy")
    expect(page.locator("#legal-body")).to_contain_text("smplat_consent")
    expect(page.get_by_role("heading", name="Analytics, only with your consent")).to_be_visible()
    page.locator("#footer-terms").click()
    expect(page.locator("#legal-title")).to_have_text("Terms of service")
    page.goto("/imprint")
    expect(page.locator("#legal-title")).to_have_text("Imprint")


def test_bundles_on_the_catalog_and_the_product_page(page):
    page.goto("/services")
    choose_consent(page, "#consent-essential")
    expect(page.get_by_test_id("bundle-card")).to_have_count(2)
    expect(page.get_by_test_id("bundle-card").first).to_contain_text("Instagram starter kit")
    expect(page.get_by_test_id("bundle-card").first).to_contain_text("10 % off the extras")

    page.goto("/services/youtube-views")  # in no bundle: no section
    expect(page.locator("#product-title")).to_have_text("YouTube Views")
    expect(page.get_by_test_id("bundle-card")).to_have_count(0)

    page.goto("/services/tiktok-views")
    expect(page.locator("#product-title")).to_have_text("TikTok Views")
    expect(page.get_by_test_id("bundle-card")).to_have_count(1)
    expect(page.get_by_test_id("bundle-card")).to_contain_text("TikTok viral pack")
    page.get_by_test_id("bundle-card").get_by_role("link", name="Start with TikTok Followers").click()
    expect(page).to_have_url(re.compile(r"/services/tiktok-followers/?$"))
    expect(page.locator("#product-title")).to_have_text("TikTok Followers")
    expect(page.get_by_test_id("bundle-card")).to_contain_text("10,000 views / €4.90")


def test_admin_sees_trending_and_zero_result_searches(page, db_session, live_shop, sign_in):
    from smplat.services.search import SearchParams, record_search

    for query, results in [("reels boost", 0), ("reels boost", 0), ("likes", 2)]:
        record_search(db_session, SearchParams(q=query), results, "all")
    db_session.commit()
    total = count(db_session, SearchRecord)
    zero = count(db_session, SearchRecord, SearchRecord.result_count == 0)

    keep_essential_only(page, live_shop)
    sign_in(page, "admin@smplat.local", "admin-demo-pass", next_path="/admin/search-insights")
    expect(page.locator("#kpi-searches")).to_contain_text(str(total))
    expect(page.locator("#kpi-zero")).to_contain_text(str(zero))
    expect(page.locator("#zero-results-table")).to_contain_text("reels boost")
    expect(page.locator("#trending-table")).to_contain_text("likes")


def test_storefront_pages_fit_a_phone(browser, live_shop, output_dir, sign_in):
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, base_url=live_shop.url
    )
    phone = context.new_page()
    shots = output_dir / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    try:
        phone.goto("/")
        expect(phone.locator("#consent-banner")).to_be_visible()
        phone.screenshot(path=str(shots / "phone_consent_banner.png"))
        phone.locator("#consent-essential").click()
        sign_in(phone, "admin@smplat.local", "admin-demo-pass", next_path="/admin/content")
        expect(phone.locator("#content-form")).to_be_visible()
        for path, ready in [
            ("/", "#home-faq"),
            ("/services?q=instagram", "#product-grid"),
            ("/privacy", "#legal-body"),
            ("/admin/content", "#content-form"),
            ("/admin/search-insights", "#kpi-searches"),
        ]:
            phone.goto(path)
            expect(phone.locator(ready)).to_be_visible()
            width, viewport = phone.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            name = re.sub(r"[^a-z0-9]+", "_", path.strip("/")) or "home"
            phone.screenshot(path=str(shots / f"phone_storefront_{name}.png"), full_page=True)
            assert width <= viewport, f"{path} scrolls sideways on a phone ({width}px > {viewport}px)"
    finally:
        context.close()
