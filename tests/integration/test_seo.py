"""SEO: product head tags with their fallbacks, /sitemap.xml (published only, absolute URLs),
/robots.txt and /favicon.ico, over the real Starlette app."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select
from sqlmodel import Session
from starlette.testclient import TestClient

from smplat.api.app import build_api
from smplat.models.catalog import Category, Product, ProductMedia
from smplat.services import seo
from smplat.settings import reset_settings_cache
from smplat.ui import routes
from smplat.ui.pages.storefront.product import ProductState
from smplat.ui.registry import registered

pytestmark = pytest.mark.integration

BASE = "https://shop.example"
NS = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}


@pytest.fixture
def base_url(db_url: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SMPLAT_PUBLIC_BASE_URL", BASE + "/")
    reset_settings_cache()
    yield BASE
    reset_settings_cache()


def _catalog(session: Session) -> None:
    live = Category(slug="instagram", name="Instagram", sort_order=1)
    hidden = Category(slug="myspace", name="MySpace", sort_order=0, is_active=False)
    tiktok = Category(slug="tiktok", name="TikTok", sort_order=0)
    session.add_all([live, hidden, tiktok])
    session.flush()
    published = Product(category_id=live.id, slug="ig-followers", title="Followers", status="active")
    session.add(published)
    session.flush()
    session.add_all(
        [
            Product(category_id=tiktok.id, slug="tt-likes", title="Likes", status="active"),
            Product(category_id=live.id, slug="ig-new", title="New thing", status="draft"),
            Product(category_id=live.id, slug="ig-old", title="Old thing", status="archived"),
            Product(category_id=hidden.id, slug="ms-friends", title="Friends", status="active"),
            # the draft of a published product is never listed, even if its status says active
            Product(
                category_id=live.id,
                slug="ig-followers-draft",
                title="Followers",
                status="active",
                draft_of_id=published.id,
            ),
        ]
    )
    session.commit()


def test_the_sitemap_lists_static_pages_active_categories_and_published_products_only(
    session: Session, base_url: str
) -> None:
    _catalog(session)

    answer = TestClient(build_api()).get("/sitemap.xml")

    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/xml")
    locs = [loc.text for loc in ET.fromstring(answer.content).findall("s:url/s:loc", NS)]
    assert locs == [
        f"{BASE}/",
        f"{BASE}/services",
        f"{BASE}/terms",
        f"{BASE}/privacy",
        f"{BASE}/imprint",
        f"{BASE}/services?category=tiktok",
        f"{BASE}/services?category=instagram",
        f"{BASE}/services/tt-likes",
        f"{BASE}/services/ig-followers",
    ]


def test_static_paths_agree_with_the_page_routes() -> None:
    assert seo.STATIC_PAGES == (routes.HOME, routes.SERVICES, routes.TERMS, routes.PRIVACY, routes.IMPRINT)
    assert seo.product_path("x") == routes.product("x")


def test_robots_points_at_the_sitemap_and_keeps_private_areas_out(base_url: str) -> None:
    answer = TestClient(build_api()).get("/robots.txt")

    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    lines = answer.text.splitlines()
    assert lines[0] == "User-agent: *" and f"Sitemap: {BASE}/sitemap.xml" in lines
    assert {"Disallow: /admin", "Disallow: /account", "Disallow: /checkout"} <= set(lines)


def test_the_favicon_is_a_real_icon() -> None:
    answer = TestClient(build_api()).get("/favicon.ico")

    assert answer.status_code == 200 and answer.headers["content-type"] == "image/x-icon"
    icon = Image.open(io.BytesIO(answer.content))
    assert icon.format == "ICO" and (32, 32) in icon.info["sizes"]
    assert Path(__file__).resolve().parents[2].joinpath("assets", "favicon.ico").read_bytes() == answer.content


def test_product_head_tags_use_the_seo_fields_then_fall_back(session: Session, base_url: str) -> None:
    _catalog(session)
    product = session.execute(select(Product).where(Product.slug == "ig-followers")).scalar_one()
    product.tagline = "Real-looking followers, delivered gradually. " * 6
    media = [
        ProductMedia(product_id=product.id, url="/media/a.png", card_url="/media/a-card.webp", sort_order=0),
        ProductMedia(product_id=product.id, url="/media/b.png", card_url="/media/b-card.webp", is_primary=True),
    ]

    fallback = seo.product_head(product, media)
    product.seo_title, product.meta_description = "Buy Instagram followers", "Grow with real-looking followers."
    product.social_image_url = "https://cdn.example/og.png"
    chosen = seo.product_head(product, media)

    assert fallback.title == "Followers · SMPLAT"
    assert fallback.description.startswith("Real-looking followers, delivered gradually.")
    assert len(fallback.description) <= 160 and fallback.description.endswith("…")
    assert fallback.image == f"{BASE}/media/b-card.webp" and fallback.url == f"{BASE}/services/ig-followers"
    assert (chosen.title, chosen.description, chosen.image) == (
        "Buy Instagram followers",
        "Grow with real-looking followers.",
        "https://cdn.example/og.png",
    )
    assert seo.product_head(product.model_copy(update={"social_image_url": ""}), []).image == ""


async def test_the_product_page_state_carries_the_head_tags(session: Session, base_url: str, root_state) -> None:
    _catalog(session)
    product = session.execute(select(Product).where(Product.slug == "ig-followers")).scalar_one()
    product.meta_description = "Followers for your brand."
    session.add(ProductMedia(product_id=product.id, url="/media/p.png", card_url="/media/p-card.webp", is_primary=True))
    session.commit()

    state = await root_state(ProductState, "/services/ig-followers", params={"slug": "ig-followers"})
    state.load_product()

    assert (state.head_title, state.head_description, state.head_image) == (
        "Followers · SMPLAT",
        "Followers for your brand.",
        f"{BASE}/media/p-card.webp",
    )
    spec = next(s for s in registered() if s.route == routes.PRODUCT)
    assert {k: str(v) for k, v in spec.head.items()} == {
        "title": str(ProductState.head_title),
        "description": str(ProductState.head_description),
        "image": str(ProductState.head_image),
    }
