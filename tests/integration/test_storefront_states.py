"""Storefront and admin handlers called directly, the way the websocket calls them: the
catalog records a search only with consent, and the admin content and insights handlers
refuse anyone but staff."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from smplat.db import session_scope
from smplat.models.accounts import Role
from smplat.models.analytics import SearchRecord
from smplat.models.content import ContentBlock
from smplat.services import search
from smplat.services.seed import seed_demo
from smplat.ui.components.bundles import BundlesState
from smplat.ui.components.consent import ConsentState
from smplat.ui.pages.admin.content import ContentAdminState
from smplat.ui.pages.admin.search_insights import SearchInsightsState
from smplat.ui.pages.storefront.catalog import ServicesState
from smplat.ui.state.auth import STAFF_ONLY_MESSAGE

pytestmark = pytest.mark.integration


@pytest.fixture
def state_for(root_state):
    """`await state_for(cls, path, query, cookie, consent, params)`: the state as the websocket
    builds it, with the visitor's cookie-banner choice."""

    def make(
        cls,
        path: str,
        query: dict | None = None,
        cookie: str | None = None,
        consent: str = "",
        params: dict | None = None,
    ):
        return root_state(cls, path, query=query, params=params, cookie=cookie, consent=consent)

    return make


def count(model) -> int:
    with session_scope() as db:
        return db.execute(select(func.count()).select_from(model)).scalar_one()


@pytest.fixture
def shop(sqlite_url: str) -> str:
    with session_scope() as db:
        seed_demo(db)
    return sqlite_url


@pytest.mark.parametrize("consent", ["", "essential", "bogus"], ids=["no-choice", "essential", "tampered"])
async def test_catalog_search_without_consent_records_nothing(shop, consent, state_for):
    # given a visitor without analytics consent / when they search for likes on TikTok
    state = await state_for(ServicesState, "/services", {"q": "likes", "category": "tiktok"}, consent=consent)
    await state.load_services()

    # then they see the result and nothing is recorded
    assert [p["slug"] for p in state.products] == ["tiktok-likes"]
    assert (state.total, state.range_label) == (1, "1 service")
    assert count(SearchRecord) == 0


async def test_catalog_search_with_consent_records_it(shop, state_for):
    # given a visitor who accepted all cookies / when they search, sorted by price
    state = await state_for(ServicesState, "/services", {"q": "Likes", "sort": "price_asc"}, consent="all")
    await state.load_services()

    # then the page shows the matching services and one record holds the search
    assert [p["slug"] for p in state.products] == [
        "tiktok-likes",
        "instagram-likes",
        "instagram-auto-likes",
        "instagram-starter-package",  # "likes on recent posts" in its description
    ]
    with session_scope() as db:
        rows = db.execute(
            select(SearchRecord.query, SearchRecord.category, SearchRecord.sort, SearchRecord.result_count)
        ).all()
    assert rows == [("likes", "", "price_asc", 4)]


async def test_catalog_pages_have_shareable_links(shop, state_for):
    state = await state_for(ServicesState, "/services", {"sort": "title", "page": "2"}, consent="all")
    await state.load_services()
    assert [p["slug"] for p in state.products] == [
        "tiktok-followers",
        "tiktok-likes",
        "tiktok-views",
        "youtube-subscribers",
        "youtube-views",
    ]
    assert (state.page, state.pages, state.range_label) == (2, 2, "10–14 of 14")
    assert (state.prev_href, state.next_href) == ("/services?sort=title", "")
    assert count(SearchRecord) == 0  # paging and sorting are not searches
    redirect = state.choose_category("tiktok")
    assert "/services?category=tiktok&sort=title" in str(redirect)


async def test_consent_handler_accepts_only_known_choices(sqlite_url, root_state):
    consent = await root_state(ConsentState, "/")
    consent.choose("everything")
    assert (consent.choice, consent.needs_choice) == ("", True)
    consent.choose("all")
    assert (consent.choice, consent.needs_choice) == ("all", False)
    consent.reopen()
    assert consent.needs_choice is True


async def test_bundles_follow_the_product_page(shop, state_for):
    state = await state_for(BundlesState, "/services/[slug]", params={"slug": "tiktok-views"})
    state.load_bundles()
    assert [b["slug"] for b in state.bundles] == ["tiktok-viral-pack"]
    catalog_state = await state_for(BundlesState, "/services")
    catalog_state.load_bundles()
    assert [b["slug"] for b in catalog_state.bundles] == ["instagram-starter-kit", "tiktok-viral-pack"]


@pytest.mark.parametrize("cookie_kind", ["none", "customer"])
async def test_content_handlers_refuse_non_staff(
    sqlite_url, cookie_kind, handler_events, is_toast_error, session_cookie_for, state_for
):
    cookie = session_cookie_for(Role.CUSTOMER) if cookie_kind == "customer" else None
    state = await state_for(ContentAdminState, "/admin/content", cookie=cookie)
    for events in (
        state.load_content(),
        state.save({"title": "Hacked", "body": "x"}),
        state.select_block("home.hero"),
        state.reset_to_default(),
    ):
        if cookie_kind == "customer":
            assert any(is_toast_error(e, STAFF_ONLY_MESSAGE) for e in handler_events(events))
        else:
            assert any("/signin?next=/admin/content" in str(e) for e in handler_events(events))
    state.selected = "home.hero"  # even with a block chosen by a crafted event
    state.save({"title": "Hacked", "body": "x"})
    assert count(ContentBlock) == 0 and state.loaded is False


async def test_insights_handlers_refuse_a_customer(
    sqlite_url, handler_events, is_toast_error, session_cookie_for, state_for
):
    state = await state_for(SearchInsightsState, "/admin/search-insights", cookie=session_cookie_for(Role.CUSTOMER))
    assert any(is_toast_error(e, STAFF_ONLY_MESSAGE) for e in handler_events(state.load_insights()))
    assert any(is_toast_error(e, STAFF_ONLY_MESSAGE) for e in handler_events(state.choose_window("7")))
    assert (state.loaded, state.trending, state.window) == (False, [], "30")


async def test_admin_saves_content_and_bad_input_changes_nothing(shop, session_cookie_for, state_for):
    # given an admin on the Content page
    state = await state_for(
        ContentAdminState, "/admin/content", {"block": "home.faq"}, cookie=session_cookie_for(Role.ADMIN)
    )
    assert state.load_content() is None
    assert (state.selected, state.spec["is_default"]) == ("home.faq", True)

    # when they save a broken line
    assert state.save({"title": "Questions", "items": "Only a question"}) is None

    # then the error is next to the list and nothing is stored
    assert state.errors == {
        "title": "",
        "subtitle": "",
        "body": "",
        "items": "Line 1: write it as “question | answer” (found 1 part).",
    }
    assert count(ContentBlock) == 0

    # when they fix it
    state.save({"title": "Questions", "items": "Is it safe? | Yes."})

    # then it is stored with the admin as author and the form shows it saved
    with session_scope() as db:
        row = db.execute(select(ContentBlock)).scalar_one()
        assert (row.key, row.items, row.updated_by_id) == (
            "home.faq",
            [{"question": "Is it safe?", "answer": "Yes."}],
            state.user_id,
        )
    assert state.notice.startswith("Saved.")
    assert next(b for b in state.blocks if b["key"] == "home.faq")["status"] == "Edited"


async def test_insights_page_shows_exact_rows(shop, session_cookie_for, state_for):
    with session_scope() as db:
        for q, n in [("likes", 2), ("likes", 2), ("snapchat", 0)]:
            search.record_search(db, search.SearchParams(q=q), n, "all")
    state = await state_for(SearchInsightsState, "/admin/search-insights", cookie=session_cookie_for(Role.OPERATOR))
    state.load_insights()
    assert state.kpis == {"searches": "3", "zero": "1", "share": "33 %"}
    assert [(r["query"], r["searches"], r["average"], r["href"]) for r in state.trending] == [
        ("likes", 2, "2", "/services?q=likes"),
        ("snapchat", 1, "0", "/services?q=snapchat"),
    ]
    assert [r["query"] for r in state.zero_results] == ["snapchat"]
