"""Catalog URL parameters and pagination maths."""

import pytest

from smplat.services.search import PAGE_SIZE, SearchParams, paginate, parse_params

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, SearchParams("", "", "popular", 1)),
        (
            {"q": "  TikTok   likes ", "category": "TikTok", "sort": "price_asc", "page": "3"},
            SearchParams("TikTok likes", "tiktok", "price_asc", 3),
        ),
        ({"q": "x" * 150}, SearchParams("x" * 100, "", "popular", 1)),
        ({"category": "../etc", "sort": "drop table", "page": "two"}, SearchParams("", "", "popular", 1)),
        ({"page": "-4"}, SearchParams("", "", "popular", 1)),
        ({"page": "999999"}, SearchParams("", "", "popular", 10_000)),
        ({"q": ["views", "ignored"], "sort": "title"}, SearchParams("views", "", "title", 1)),
    ],
    ids=["empty", "normalised", "long-query-cut", "malformed", "negative-page", "huge-page", "repeated"],
)
def test_parse_params(query, expected):
    assert parse_params(query) == expected


@pytest.mark.parametrize(
    ("params", "changes", "expected"),
    [
        (SearchParams(), {}, ""),
        (SearchParams(category="tiktok"), {}, "?category=tiktok"),
        (SearchParams(q="likes & views", sort="price_desc", page=2), {}, "?q=likes+%26+views&sort=price_desc&page=2"),
        (SearchParams(q="likes", page=3), {"page": 1}, "?q=likes"),
        (SearchParams(q="likes", category="tiktok"), {"category": ""}, "?q=likes"),
        (SearchParams(sort="title"), {"sort": "popular"}, ""),
    ],
    ids=["defaults", "category", "escaped", "back-to-page-1", "drop-filter", "default-sort-omitted"],
)
def test_query_string_leaves_defaults_out(params, changes, expected):
    assert params.query_string(**changes) == expected


@pytest.mark.parametrize(
    ("total", "requested", "page", "pages", "first", "last", "offset"),
    [
        (0, 1, 1, 1, 0, 0, 0),
        (9, 1, 1, 1, 1, 9, 0),
        (10, 1, 1, 2, 1, 9, 0),
        (10, 2, 2, 2, 10, 10, 9),
        (10, 7, 2, 2, 10, 10, 9),
        (27, 3, 3, 3, 19, 27, 18),
    ],
    ids=["none", "exactly-one-page", "first-of-two", "last-partial", "past-the-end-clamped", "full-last"],
)
def test_pagination(total, requested, page, pages, first, last, offset):
    p = paginate(total, requested)
    assert (p.page, p.pages, p.first_index, p.last_index, p.offset) == (page, pages, first, last, offset)
    assert PAGE_SIZE == 9


def test_a_search_is_a_query_or_a_filter():
    assert SearchParams(q="likes").is_search is True
    assert SearchParams(category="tiktok").is_search is True
    assert SearchParams(sort="price_asc").is_search is False
    assert SearchParams(q="Likes  Views").terms == ["likes", "views"]
