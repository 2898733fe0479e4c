"""Catalog search: parameters from the URL, one SQL query for a page of results, and the
search records behind Admin → Search insights (written only with analytics consent).

The listing is URL-driven (`/services?q=likes&category=tiktok&sort=price_asc&page=2`), so
links are shareable and the back button works. Matching is case-insensitive on title,
tagline, description and category name; every word of the query must match somewhere.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlmodel import Session

from smplat import db as smplat_db
from smplat.models.analytics import SearchRecord
from smplat.models.base import UTCDateTime, utcnow
from smplat.models.catalog import Category, Product, ProductOption, ProductOptionGroup, ProductStatus
from smplat.services import rate_limits
from smplat.services.catalog import ProductCard, featured_presets, primary_images
from smplat.services.consent import allows_analytics

PAGE_SIZE = 9
QUERY_MAX = 100
MAX_TERMS = 8
_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")

SORTS: dict[str, str] = {
    "popular": "Most popular",
    "price_asc": "Price: low to high",
    "price_desc": "Price: high to low",
    "title": "Name: A to Z",
}
DEFAULT_SORT = "popular"


@dataclass(frozen=True)
class SearchParams:
    q: str = ""
    category: str = ""
    sort: str = DEFAULT_SORT
    page: int = 1

    @property
    def terms(self) -> list[str]:
        return self.q.lower().split()[:MAX_TERMS]

    @property
    def is_search(self) -> bool:
        """A visitor searched or filtered (a plain visit or a sort change alone is not a search)."""
        return bool(self.q or self.category)

    def query_string(self, **changes: Any) -> str:
        """`?q=…&category=…` for these parameters with `changes` applied; defaults are left out."""
        values = {"q": self.q, "category": self.category, "sort": self.sort, "page": self.page, **changes}
        pairs = [
            (k, str(v))
            for k, v in values.items()
            if v and not (k == "sort" and v == DEFAULT_SORT) and not (k == "page" and int(v) <= 1)
        ]
        return ("?" + urlencode(pairs)) if pairs else ""


def parse_params(query: dict[str, Any]) -> SearchParams:
    """Read the listing's URL parameters; anything malformed falls back to its default."""

    def first(name: str) -> str:
        value = query.get(name, "")
        if isinstance(value, list | tuple):
            value = value[0] if value else ""
        return str(value or "")

    q = " ".join(first("q").split())[:QUERY_MAX].strip()
    category = first("category").strip().lower()
    if not _SLUG_RE.match(category):
        category = ""
    sort = first("sort")
    if sort not in SORTS:
        sort = DEFAULT_SORT
    try:
        page = int(first("page"))
    except ValueError:
        page = 1
    return SearchParams(q=q, category=category, sort=sort, page=min(max(page, 1), 10_000))


@dataclass(frozen=True)
class Pagination:
    page: int  # clamped into 1..pages
    pages: int
    total: int
    first_index: int  # 1-based position of the first card on this page; 0 when there are none
    last_index: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * PAGE_SIZE


def paginate(total: int, requested_page: int, page_size: int = PAGE_SIZE) -> Pagination:
    pages = max(1, math.ceil(total / page_size))
    page = min(max(requested_page, 1), pages)
    first = (page - 1) * page_size + 1 if total else 0
    last = min(page * page_size, total)
    return Pagination(page=page, pages=pages, total=total, first_index=first, last_index=last)


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _term_matches(term: str) -> ColumnElement[bool]:
    pattern = _like(term)
    return or_(
        *[
            func.lower(column).like(pattern, escape="\\")
            for column in (Product.title, Product.tagline, Product.description, Category.name)
        ]
    )


def _from_price():
    """base price + the cheapest option of every required group, as a SQL expression."""
    per_group = (
        select(
            ProductOptionGroup.product_id.label("product_id"),
            func.min(ProductOption.price_delta_minor).label("minimum"),
        )
        .join(ProductOption, ProductOption.group_id == ProductOptionGroup.id)
        .where(ProductOptionGroup.required.is_(True), ProductOption.is_active.is_(True))
        .group_by(ProductOptionGroup.product_id, ProductOptionGroup.id)
        .subquery()
    )
    per_product = (
        select(per_group.c.product_id, func.sum(per_group.c.minimum).label("extra"))
        .group_by(per_group.c.product_id)
        .subquery()
    )
    return per_product, (Product.base_price_minor + func.coalesce(per_product.c.extra, 0)).label("from_price")


@dataclass
class SearchResult:
    params: SearchParams
    cards: list[ProductCard] = field(default_factory=list)
    pagination: Pagination = field(default_factory=lambda: paginate(0, 1))


def _filters(params: SearchParams) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [Product.status == ProductStatus.ACTIVE.value, Category.is_active.is_(True)]
    if params.category:
        where.append(Category.slug == params.category)
    where.extend(_term_matches(term) for term in params.terms)
    return where


def _cards(
    session: Session, where: list[ColumnElement[bool]], sort: str, offset: int = 0, limit: int | None = None
) -> list[ProductCard]:
    per_product, from_price = _from_price()
    title = func.lower(Product.title)
    order = {
        "popular": [Product.popularity_score.desc(), title],
        "price_asc": [from_price.asc(), title],
        "price_desc": [from_price.desc(), title],
        "title": [title],
    }[sort]
    query = (
        select(Product, Category.slug, Category.name, from_price)
        .join(Category, Category.id == Product.category_id)
        .outerjoin(per_product, per_product.c.product_id == Product.id)
        .where(and_(*where))
        .order_by(*order, Product.id)
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    rows = session.execute(query).all()
    images = primary_images(session, [product.id for product, *_ in rows])
    presets = featured_presets(session, [product.id for product, *_ in rows])
    return [
        ProductCard(
            id=product.id,
            slug=product.slug,
            title=product.title,
            tagline=product.tagline,
            platform=product.platform,
            kind=product.kind,
            category_slug=cat_slug,
            category_name=cat_name,
            from_price_minor=int(price),
            currency=product.currency,
            image_url=images.get(product.id, ""),
            delivery_estimate_hours=product.delivery_estimate_hours,
            min_quantity=product.min_quantity,
            unit_label=product.unit_label,
            is_featured=product.is_featured,
            preset_key=presets.get(product.id, ("", ""))[0],
            preset_label=presets.get(product.id, ("", ""))[1],
        )
        for product, cat_slug, cat_name, price in rows
    ]


def search_catalog(session: Session, params: SearchParams) -> SearchResult:
    """One page of matching live services: a count, the page, and their images (three queries;
    two when nothing matches)."""
    where = _filters(params)
    total = session.execute(
        select(func.count(Product.id)).join(Category, Category.id == Product.category_id).where(and_(*where))
    ).scalar_one()
    pagination = paginate(total, params.page)
    if total == 0:
        return SearchResult(params=params, pagination=pagination)
    cards = _cards(session, where, params.sort, offset=pagination.offset, limit=PAGE_SIZE)
    return SearchResult(params=params, cards=cards, pagination=pagination)


def cards_for_slugs(session: Session, slugs: list[str]) -> list[ProductCard]:
    """Live services by address, in the order given (two queries)."""
    if not slugs:
        return []
    cards = _cards(
        session,
        [Product.slug.in_(slugs), Product.status == ProductStatus.ACTIVE.value, Category.is_active.is_(True)],
        "title",
    )
    by_slug = {card.slug: card for card in cards}
    return [by_slug[slug] for slug in slugs if slug in by_slug]


# --- search records --------------------------------------------------------------------------


def guard_search(params: SearchParams, client_ip: str | None) -> None:
    """Count a real search (a query or a filter) against `search_ip`; RateLimited when spent."""
    if params.is_search:
        rate_limits.hit("search_ip", client_ip)


def record_search(
    session: Session,
    params: SearchParams,
    result_count: int,
    consent: str | None,
    now: datetime | None = None,
    *,
    client_ip: str | None = None,
    visitor: str | None = None,
) -> SearchRecord | None:
    """Store one search, only with analytics consent and only for a real search (page 1 of a
    query or a category filter; paging through results is not a new search), within the
    analytics rate limits."""
    if not allows_analytics(consent) or not params.is_search or params.page != 1:
        return None
    if not rate_limits.analytics_event(client_ip, visitor):
        return None
    record = SearchRecord(
        query=params.q.lower(),
        category=params.category,
        sort=params.sort,
        page=params.page,
        result_count=result_count,
        created_at=now or utcnow(),
    )
    session.add(record)
    session.flush()
    return record


@dataclass(frozen=True)
class QueryStat:
    query: str
    searches: int
    average_results: float
    last_searched: datetime


@dataclass
class SearchInsights:
    days: int
    searches: int
    zero_result_searches: int
    trending: list[QueryStat]
    zero_results: list[QueryStat]
    categories: list[tuple[str, int]]  # (category slug, searches filtered by it)


@functools.cache
def insight_statements(limit: int = 10) -> dict[str, Any]:
    """The selects behind `search_insights` (by name, built once per `limit`; their parameter
    from `insight_params`), for a page that runs them with its other reads in one round trip
    (`db.fetch_many`); `insights_from` reads their rows."""
    recent = SearchRecord.created_at >= sa.bindparam("search_since", type_=UTCDateTime())

    def by_query(*extra: ColumnElement[bool]) -> Any:
        count = func.count(SearchRecord.id)
        return (
            select(SearchRecord.query, count, func.avg(SearchRecord.result_count), func.max(SearchRecord.created_at))
            .where(recent, SearchRecord.query != "", *extra)
            .group_by(SearchRecord.query)
            .order_by(count.desc(), func.max(SearchRecord.created_at).desc(), SearchRecord.query)
            .limit(limit)
        )

    category_count = func.count(SearchRecord.id)
    return {
        "search_totals": select(
            func.count(SearchRecord.id), func.coalesce(func.sum(case((SearchRecord.result_count == 0, 1), else_=0)), 0)
        ).where(recent),
        "search_trending": by_query(),
        "search_zero": by_query(SearchRecord.result_count == 0),
        "search_categories": select(SearchRecord.category, category_count)
        .where(recent, SearchRecord.category != "")
        .group_by(SearchRecord.category)
        .order_by(category_count.desc(), SearchRecord.category)
        .limit(limit),
    }


def insight_params(days: int, now: datetime | None = None) -> dict[str, Any]:
    """The searches counted: the last `days` days."""
    return {"search_since": (now or utcnow()) - timedelta(days=days)}


def insights_from(rows: dict[str, list[Any]], days: int) -> SearchInsights:
    """`search_insights` from the rows of `insight_statements`."""

    def stats(found: list[Any]) -> list[QueryStat]:
        return [QueryStat(q, int(n), round(float(avg or 0), 1), _as_utc(last)) for q, n, avg, last in found]

    searches, zero = rows["search_totals"][0]
    return SearchInsights(
        days=days,
        searches=int(searches),
        zero_result_searches=int(zero or 0),
        trending=stats(rows["search_trending"]),
        zero_results=stats(rows["search_zero"]),
        categories=[(slug, int(n)) for slug, n in rows["search_categories"]],
    )


def search_insights(session: Session, days: int = 30, limit: int = 10, now: datetime | None = None) -> SearchInsights:
    """What visitors searched in the last `days` days: totals, the most searched queries, the
    queries that found nothing, and the category filters used. Four selects, one round trip."""
    rows = smplat_db.fetch_many(session, insight_statements(limit), insight_params(days, now))
    return insights_from(rows, days)


def _as_utc(value: Any) -> datetime:
    """MAX() over a UTC column comes back naive (SQLite) or as a string on some drivers."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
