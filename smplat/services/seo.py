"""What search engines and link previews read: a product's head tags, the sitemap, robots.txt.

A product's SEO fields are optional: an empty title falls back to the product title, an empty
meta description to the tagline (then the description), an empty social image to the primary
picture's card variant. Every URL handed out is absolute, built from `public_base_url`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from xml.sax.saxutils import escape

from sqlalchemy import select
from sqlmodel import Session

from smplat.models.catalog import Category, Product, ProductMedia, ProductStatus
from smplat.services.media import card_url
from smplat.settings import get_settings

# The public pages a visitor can open without signing in (the same paths as smplat/ui/routes.py;
# services never import the web layer, tests/integration/test_seo.py checks they agree).
HOME, SERVICES = "/", "/services"
STATIC_PAGES: tuple[str, ...] = (HOME, SERVICES, "/terms", "/privacy", "/imprint")


def product_path(slug: str) -> str:
    return f"{SERVICES}/{slug}"


DESCRIPTION_LIMIT = 160


def absolute(path: str) -> str:
    """`path` on the shop's public address; absolute URLs are returned as they are."""
    if not path or path.startswith(("http://", "https://")):
        return path
    return get_settings().public_base_url.rstrip("/") + "/" + path.lstrip("/")


def _shorten(text: str, limit: int = DESCRIPTION_LIMIT) -> str:
    text = " ".join((text or "").split())
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(",.;:") + "…"


@dataclass(frozen=True)
class HeadTags:
    title: str
    description: str
    image: str  # absolute URL, or "" when the product has no picture
    url: str  # canonical, absolute


def product_head(product: Product, media: list[ProductMedia]) -> HeadTags:
    """The head tags of a product page, from its SEO fields with the documented fallbacks."""
    brand = get_settings().brand_name
    title = (product.seo_title or "").strip() or f"{product.title} · {brand}"
    description = (product.meta_description or "").strip() or _shorten(product.tagline or product.description)
    image = (product.social_image_url or "").strip()
    if not image:
        primary = next((m for m in media if m.is_primary), media[0] if media else None)
        image = card_url(primary) if primary is not None else ""
    return HeadTags(
        title=title, description=description, image=absolute(image), url=absolute(product_path(product.slug))
    )


@dataclass(frozen=True)
class SitemapEntry:
    loc: str
    lastmod: datetime | None = None


def sitemap_entries(session: Session) -> list[SitemapEntry]:
    """Static pages, every active category and every published product (never a draft, an
    archived product or a product of an inactive category). Two queries."""
    entries = [SitemapEntry(absolute(path)) for path in STATIC_PAGES]
    categories = session.execute(
        select(Category.slug, Category.updated_at)
        .where(Category.is_active.is_(True))
        .order_by(Category.sort_order, Category.name)
    ).all()
    entries += [SitemapEntry(absolute(f"{SERVICES}?category={slug}"), updated) for slug, updated in categories]
    products = session.execute(
        select(Product.slug, Product.updated_at)
        .join(Category, Category.id == Product.category_id)
        .where(
            Product.status == ProductStatus.ACTIVE.value,
            Product.draft_of_id.is_(None),
            Category.is_active.is_(True),
        )
        .order_by(Category.sort_order, Product.title)
    ).all()
    entries += [SitemapEntry(absolute(product_path(slug)), updated) for slug, updated in products]
    return entries


def sitemap_xml(session: Session) -> str:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
    for entry in sitemap_entries(session):
        lastmod = f"<lastmod>{entry.lastmod.date().isoformat()}</lastmod>" if entry.lastmod else ""
        lines.append(f"  <url><loc>{escape(entry.loc)}</loc>{lastmod}</url>")
    lines.append("</urlset>")
    return "\n".join(lines) + "\n"


# Private areas: nothing there is for a search engine (they also need a session).
DISALLOWED = ("/admin", "/account", "/cart", "/checkout", "/api/", "/track/", "/_event", "/_upload")


def robots_txt() -> str:
    lines = ["User-agent: *", *(f"Disallow: {path}" for path in DISALLOWED), "", f"Sitemap: {absolute('/sitemap.xml')}"]
    return "\n".join(lines) + "\n"
