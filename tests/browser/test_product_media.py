"""The media gallery in a real browser: an admin uploads two pictures at once, writes alt text,
chooses the primary; the storefront card and product page then show the padded card variant;
the live app serves sitemap, robots and favicon; the admin manages categories."""

from __future__ import annotations

import io
import re
from pathlib import Path

import httpx
from PIL import Image, ImageDraw
from playwright.sync_api import expect
from sqlalchemy import select

from smplat.models.catalog import Category, Product, ProductMedia
from smplat.settings import PROJECT_ROOT

ADMIN, PASSWORD = "admin@smplat.local", "admin-demo-pass"


def _artwork(path: Path, size: tuple[int, int], colour: tuple[int, int, int], text: str) -> Path:
    image = Image.new("RGB", size, colour)
    draw = ImageDraw.Draw(image)
    draw.text((size[0] // 2, size[1] // 2), text, fill="white", font_size=size[1] // 4, anchor="mm")
    image.save(path)
    return path


def test_admin_uploads_two_pictures_sets_alt_text_and_primary_then_orders_categories(
    page, live_shop, db_session, tmp_path, output_dir, sign_in, wait_for_app
):
    product = db_session.execute(select(Product).where(Product.slug == "instagram-poll-votes")).scalar_one()
    seeded = db_session.execute(select(ProductMedia).where(ProductMedia.product_id == product.id)).scalars().all()
    wide = _artwork(tmp_path / "poll-votes-banner.png", (1200, 400), (91, 70, 190), "Poll votes")
    square = _artwork(tmp_path / "happy-customer.png", (600, 600), (20, 140, 110), "5 stars")

    # a published product's media tab opens its draft: the shop keeps the published pictures
    sign_in(page, ADMIN, PASSWORD, f"/admin/products/{product.id}/media")
    page.wait_for_url(re.compile(rf"/admin/products/(?!{product.id}/)\d+/media$"))
    wait_for_app(page)
    draft_id = int(page.url.rstrip("/").split("/")[-2])
    assert db_session.get(Product, draft_id).draft_of_id == product.id
    expect(page.locator("#editor-tab-media")).to_be_visible()
    page.locator("#media-upload input[type=file]").set_input_files([str(wide), str(square)])
    expect(page.locator("#media-selected")).to_contain_text("poll-votes-banner.png")
    page.locator("#media-upload-button").click()
    expect(page.locator("#media-notice")).to_contain_text("Uploaded 2 images")

    db_session.expire_all()
    rows = (
        db_session.execute(
            select(ProductMedia).where(ProductMedia.product_id == draft_id).order_by(ProductMedia.sort_order)
        )
        .scalars()
        .all()
    )
    assert [r.label for r in rows] == [*(m.label for m in seeded), "poll votes banner", "happy customer"]
    banner, customer = rows[-2], rows[-1]

    page.locator(f"#media-alt-{banner.id}").fill("Purple banner reading Poll votes")
    page.locator(f"#media-hero-{banner.id}").check()
    page.locator(f"#media-save-{banner.id}").click()
    expect(page.locator("#media-notice")).to_contain_text("Saved the image details")
    page.locator(f"#media-primary-{banner.id}").click()
    expect(page.locator(f"#media-primary-badge-{banner.id}")).to_be_visible()
    page.locator(f"#media-alt-{customer.id}").fill("Five-star review card")
    page.locator(f"#media-save-{customer.id}").click()
    expect(page.locator(f"#media-alt-{customer.id}")).to_have_value("Five-star review card")
    page.screenshot(path=str(output_dir / "screenshots" / "admin_product_media.png"), full_page=True)

    db_session.expire_all()
    banner, customer = db_session.get(ProductMedia, banner.id), db_session.get(ProductMedia, customer.id)
    assert (banner.alt_text, banner.usage_tags, banner.is_primary) == (
        "Purple banner reading Poll votes",
        ["hero", "detail"],
        True,
    )
    assert (customer.alt_text, customer.is_primary) == ("Five-star review card", False)
    card = httpx.get(live_shop.path(banner.card_url), timeout=10)
    assert card.status_code == 200 and Image.open(io.BytesIO(card.content)).size == (640, 480)

    # published from the editor's last tab; the live product now carries the pictures
    banner_url = banner.url
    page.locator("#editor-tab-preview").click()
    page.wait_for_url(f"**/admin/products/{draft_id}/preview")
    expect(page.locator("#publish-ready")).to_be_visible(timeout=30_000)
    page.locator("#publish").click()
    page.wait_for_url(f"**/services/{product.slug}")
    db_session.expire_all()
    banner = db_session.execute(
        select(ProductMedia).where(ProductMedia.product_id == product.id, ProductMedia.url == banner_url)
    ).scalar_one()
    assert banner.is_primary and banner.alt_text == "Purple banner reading Poll votes"

    # the catalog card shows the primary picture's padded card variant, whole
    page.goto(f"/services?q={product.title.replace(' ', '+')}")
    wait_for_app(page)
    card_image = page.locator(f'img[alt="{product.title}"]').first
    expect(card_image).to_have_attribute("src", banner.card_url)
    assert card_image.evaluate("e => getComputedStyle(e).objectFit") == "contain"
    page.screenshot(path=str(output_dir / "screenshots" / "catalog_card_variant.png"))
    # the product page's head follows the product (no SEO title set: the product title)
    page.goto(f"/services/{product.slug}")
    wait_for_app(page)
    expect(page).to_have_title(f"{product.title} · SMPLAT")

    # the live app answers /sitemap.xml, /robots.txt and /favicon.ico itself (before Reflex's files)
    sitemap = httpx.get(live_shop.path("/sitemap.xml"), timeout=10)
    assert sitemap.status_code == 200 and f"{live_shop.url}/services/{product.slug}</loc>" in sitemap.text
    assert f"Sitemap: {live_shop.url}/sitemap.xml" in httpx.get(live_shop.path("/robots.txt"), timeout=10).text
    favicon = httpx.get(live_shop.path("/favicon.ico"), timeout=10)
    assert favicon.content == (PROJECT_ROOT / "assets" / "favicon.ico").read_bytes()

    _categories(page, db_session, output_dir, wait_for_app)


def _categories(page, db_session, output_dir, wait_for_app) -> None:
    """The same admin (one sign-in per test module: a second two-factor sign-in in a loaded
    machine races the sign-in page's hydration) creates, orders and deletes a category."""
    page.goto("/admin/categories")
    wait_for_app(page)
    expect(page.locator("#category-list")).to_contain_text("Instagram")
    page.locator("#category-new-name").fill("Threads")
    page.locator("#category-new-description").fill("Followers and likes on Threads.")
    page.locator("#category-create").click()
    expect(page.locator("#categories-notice")).to_contain_text("Created “Threads”")
    threads = db_session.execute(select(Category).where(Category.slug == "threads")).scalar_one()
    page.locator(f"#category-up-{threads.id}").click()
    expect(page.locator("#categories-notice")).to_contain_text("Order saved")
    instagram = db_session.execute(select(Category).where(Category.slug == "instagram")).scalar_one()
    page.locator(f"#category-delete-{instagram.id}").click()
    expect(page.locator("#categories-error")).to_contain_text("still holds")
    page.screenshot(path=str(output_dir / "screenshots" / "admin_categories.png"), full_page=True)

    db_session.expire_all()
    slugs = db_session.execute(select(Category.slug).order_by(Category.sort_order, Category.name)).scalars().all()
    assert slugs[-2:] == ["threads", slugs[-1]] and slugs[-1] != "threads"
    # leave the shared shop as it was: the empty category goes
    page.locator(f"#category-delete-{threads.id}").click()
    expect(page.locator("#categories-notice")).to_contain_text("Category deleted")
    db_session.expunge_all()
    assert db_session.execute(select(Category.id).where(Category.slug == "threads")).first() is None
