"""Catalog search, search records and insights, and bundles, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from smplat.models.analytics import SearchRecord
from smplat.models.catalog import Product, ProductBundle
from smplat.services import bundles, search
from smplat.services.search import (
    SearchParams,
    parse_params,
    record_search,
    search_catalog,
    search_insights,
)
from smplat.services.seed import seed_demo

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def shop(session: Session) -> Session:
    seed_demo(session)
    session.commit()
    return session


def slugs(result: search.SearchResult) -> list[str]:
    return [card.slug for card in result.cards]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # auto likes by its title, the starter package by its description ("likes on recent posts")
        ({"q": "LIKES"}, ["instagram-likes", "tiktok-likes", "instagram-auto-likes", "instagram-starter-package"]),
        ({"q": "tiktok likes"}, ["tiktok-likes"]),
        ({"q": "youtube"}, ["youtube-views", "youtube-subscribers"]),  # matched by the category name
        ({"q": "milestone"}, ["youtube-subscribers"]),  # matched in the tagline only
        ({"q": "no login required"}, ["tiktok-followers"]),  # matched in the description only
        (
            {"q": "likes", "category": "instagram"},
            ["instagram-likes", "instagram-auto-likes", "instagram-starter-package"],
        ),
        ({"q": "100%"}, []),  # % is a character, not a wildcard
        ({"q": "_"}, []),
        ({"category": "no-such-category"}, []),
    ],
    ids=[
        "case-insensitive",
        "all-words",
        "category-name",
        "tagline",
        "description",
        "with-filter",
        "percent-literal",
        "underscore-literal",
        "unknown-category",
    ],
)
def test_search_matches_title_tagline_description_and_category(shop: Session, query, expected):
    # given the demo catalog / when it is searched
    result = search_catalog(shop, parse_params(query))

    # then exactly the expected services come back, most popular first, with the total
    assert slugs(result) == expected
    assert result.pagination.total == len(expected)


@pytest.mark.parametrize(
    ("sort", "page", "expected"),
    [
        (
            "price_asc",
            1,
            [
                ("instagram-poll-votes", 290),
                ("instagram-story-views", 290),
                ("tiktok-likes", 290),
                ("tiktok-views", 290),
                ("instagram-likes", 390),
                ("youtube-views", 390),
                ("instagram-comments", 490),
                ("instagram-mentions", 490),
                ("youtube-subscribers", 490),
            ],
        ),
        (
            "price_asc",
            2,
            [
                ("tiktok-followers", 590),
                ("instagram-followers", 690),
                ("instagram-auto-likes", 990),
                ("instagram-starter-package", 1490),
                ("instagram-growth-autopilot", 2900),
            ],
        ),
        (
            "price_desc",
            1,
            [
                ("instagram-growth-autopilot", 2900),
                ("instagram-starter-package", 1490),
                ("instagram-auto-likes", 990),
                ("instagram-followers", 690),
                ("tiktok-followers", 590),
                ("instagram-comments", 490),
                ("instagram-mentions", 490),
                ("youtube-subscribers", 490),
                ("instagram-likes", 390),
            ],
        ),
        (
            "title",
            2,
            [
                ("tiktok-followers", 590),
                ("tiktok-likes", 290),
                ("tiktok-views", 290),
                ("youtube-subscribers", 490),
                ("youtube-views", 390),
            ],
        ),
        (
            "popular",
            2,
            [
                ("instagram-auto-likes", 990),
                ("instagram-story-views", 290),
                ("instagram-mentions", 490),
                ("instagram-poll-votes", 290),
                ("instagram-starter-package", 1490),
            ],
        ),
    ],
    ids=["price-low-page-1", "price-low-page-2", "price-high", "title-page-2", "popular-page-2"],
)
def test_sort_and_pagination(shop: Session, sort, page, expected):
    result = search_catalog(shop, SearchParams(sort=sort, page=page))
    assert [(c.slug, c.from_price_minor) for c in result.cards] == expected
    assert (result.pagination.total, result.pagination.pages, result.pagination.page) == (14, 2, page)


def test_popular_sort_follows_popularity_score(shop: Session):
    result = search_catalog(shop, SearchParams(sort="popular"))
    scores = dict(shop.execute(select(Product.slug, Product.popularity_score)).all())
    assert [scores[s] for s in slugs(result)] == sorted(scores.values(), reverse=True)[:9]


def test_search_price_matches_the_catalog_cards(shop: Session):
    # the SQL "from" price equals the card price the catalog service computes
    from smplat.services.catalog import list_product_cards

    cards = {c.slug: c.from_price_minor for c in list_product_cards(shop)}
    found = {c.slug: c.from_price_minor for c in search_catalog(shop, SearchParams(sort="title")).cards}
    found.update({c.slug: c.from_price_minor for c in search_catalog(shop, SearchParams(sort="title", page=2)).cards})
    assert found == cards


def test_search_runs_a_fixed_number_of_queries(shop: Session, count_queries):
    # given the seeded catalog
    # when a page of results is read, and a search that finds nothing
    with count_queries(shop) as page_queries:
        full = search_catalog(shop, SearchParams(q="instagram", sort="price_asc"))
    with count_queries(shop) as empty_queries:
        search_catalog(shop, SearchParams(q="snapchat"))

    # then it is a count, the page, its images and its featured presets, whatever the number of results
    assert len(full.cards) == 9
    assert page_queries.count == 4
    assert empty_queries.count == 1


def test_a_page_past_the_end_shows_the_last_page(shop: Session):
    result = search_catalog(shop, SearchParams(page=50))
    assert (result.pagination.page, slugs(result)) == (
        2,
        [
            "instagram-auto-likes",
            "instagram-story-views",
            "instagram-mentions",
            "instagram-poll-votes",
            "instagram-starter-package",
        ],
    )


def test_archived_products_are_not_found(shop: Session):
    product = shop.execute(select(Product).where(Product.slug == "tiktok-likes")).scalar_one()
    product.status = "archived"
    shop.commit()
    assert slugs(search_catalog(shop, SearchParams(q="likes"))) == [
        "instagram-likes",
        "instagram-auto-likes",
        "instagram-starter-package",
    ]


# --- search records ---------------------------------------------------------------------------


def records(session: Session) -> int:
    return session.execute(select(func.count()).select_from(SearchRecord)).scalar_one()


def test_a_search_is_recorded_with_consent(session: Session):
    # given a visitor who accepted analytics
    # when they search
    record = record_search(
        session, SearchParams(q="TikTok Likes", category="tiktok", sort="price_asc"), 1, "all", now=NOW
    )
    session.commit()

    # then one row holds the query (lower case), filter, sort and result count
    stored = session.execute(select(SearchRecord)).scalar_one()
    assert record is not None and stored.id == record.id
    assert (stored.query, stored.category, stored.sort, stored.page, stored.result_count, stored.created_at) == (
        "tiktok likes",
        "tiktok",
        "price_asc",
        1,
        1,
        NOW,
    )


@pytest.mark.parametrize(
    "consent",
    [None, "", "essential", "ALL", "all; x=1"],
    ids=["no-choice", "empty", "essential", "wrong-case", "tampered"],
)
def test_no_record_without_an_explicit_yes(session: Session, consent):
    assert record_search(session, SearchParams(q="likes"), 2, consent) is None
    session.commit()
    assert records(session) == 0


@pytest.mark.parametrize(
    "params",
    [SearchParams(), SearchParams(sort="price_asc"), SearchParams(q="likes", page=2)],
    ids=["plain-visit", "sort-only", "next-page"],
)
def test_browsing_is_not_a_search(session: Session, params):
    assert record_search(session, params, 10, "all") is None
    session.commit()
    assert records(session) == 0


def _searched(session: Session, query: str, results: int, hours_ago: float, category: str = "") -> None:
    record_search(
        session, SearchParams(q=query, category=category), results, "all", now=NOW - timedelta(hours=hours_ago)
    )


def test_insights_count_trending_and_zero_result_searches(session: Session, count_queries):
    # given searches over the last days, and one older than the window
    _searched(session, "likes", 2, 1)
    _searched(session, "likes", 4, 2)
    _searched(session, "likes", 3, 30)
    _searched(session, "snapchat", 0, 3)
    _searched(session, "snapchat", 0, 5)
    _searched(session, "views", 5, 4, category="tiktok")
    _searched(session, "pinterest", 0, 6)
    _searched(session, "", 3, 7, category="tiktok")
    _searched(session, "threads", 0, 24 * 31)  # outside the 30-day window
    session.commit()

    # when the insights of the last 30 days are read
    with count_queries(session) as queries:
        insights = search_insights(session, days=30, now=NOW)

    # then totals, trending and zero-result queries are exact, in four queries (one round trip
    # on PostgreSQL)
    assert queries.count == (1 if session.get_bind().dialect.name == "postgresql" else 4)
    assert (insights.searches, insights.zero_result_searches) == (8, 3)
    assert [(s.query, s.searches, s.average_results) for s in insights.trending] == [
        ("likes", 3, 3.0),
        ("snapchat", 2, 0.0),
        ("views", 1, 5.0),
        ("pinterest", 1, 0.0),
    ]
    assert insights.trending[0].last_searched == NOW - timedelta(hours=1)
    assert [(s.query, s.searches) for s in insights.zero_results] == [("snapchat", 2), ("pinterest", 1)]
    assert insights.zero_results[0].last_searched == NOW - timedelta(hours=3)
    assert insights.categories == [("tiktok", 2)]


def test_insights_of_a_shop_without_searches(session: Session):
    insights = search_insights(session, days=7, now=NOW)
    assert (
        insights.searches,
        insights.zero_result_searches,
        insights.trending,
        insights.zero_results,
        insights.categories,
    ) == (0, 0, [], [], [])


# --- bundles ------------------------------------------------------------------------------------


def test_catalog_bundles_in_two_queries(shop: Session, count_queries):
    with count_queries(shop) as queries:
        found = bundles.list_bundles(shop)
    assert queries.count == 2
    rows = [b.as_row() for b in found]
    # each card names the presets its "Add bundle" button puts in the cart
    for row in rows:
        assert row.pop("primary_preset")
        assert all(item.pop("preset") for item in row["items"])
    assert rows == [
        {
            "slug": "instagram-starter-kit",
            "title": "Instagram starter kit",
            "description": "Followers plus likes and story views so the new audience sees activity. 10 % off the extras.",
            "discount": "10 % off the extras",
            "primary_slug": "instagram-followers",
            "primary_title": "Instagram Followers",
            "items": [
                {"slug": "instagram-likes", "title": "Instagram Likes", "offer": "500 likes / €5.90", "price": "€5.90"},
                {
                    "slug": "instagram-story-views",
                    "title": "Instagram Story Views",
                    "offer": "1,000 story views / €4.90",
                    "price": "€4.90",
                },
            ],
        },
        {
            "slug": "tiktok-viral-pack",
            "title": "TikTok viral pack",
            "description": "Followers plus views on your latest video. 15 % off the views.",
            "discount": "15 % off the extras",
            "primary_slug": "tiktok-followers",
            "primary_title": "TikTok Followers",
            "items": [
                {"slug": "tiktok-views", "title": "TikTok Views", "offer": "10,000 views / €4.90", "price": "€4.90"}
            ],
        },
    ]


@pytest.mark.parametrize(
    ("product_slug", "expected"),
    [
        ("tiktok-followers", ["tiktok-viral-pack"]),
        ("tiktok-views", ["tiktok-viral-pack"]),
        ("instagram-story-views", ["instagram-starter-kit"]),
        ("youtube-views", []),
    ],
    ids=["primary", "as-item", "second-item", "in-no-bundle"],
)
def test_product_page_bundles(shop: Session, product_slug, expected):
    assert [b.slug for b in bundles.list_bundles(shop, product_slug=product_slug)] == expected


def test_inactive_bundles_and_retired_extras_are_hidden(shop: Session):
    # given the TikTok bundle switched off and the Instagram bundle's likes retired
    shop.execute(select(ProductBundle).where(ProductBundle.slug == "tiktok-viral-pack")).scalar_one().is_active = False
    shop.execute(select(Product).where(Product.slug == "instagram-likes")).scalar_one().status = "archived"
    shop.commit()

    # when the catalog's bundles are listed
    found = bundles.list_bundles(shop)

    # then only the Instagram kit is left, offering the story views alone
    assert [(b.slug, [i.product_slug for i in b.items]) for b in found] == [
        ("instagram-starter-kit", ["instagram-story-views"])
    ]
