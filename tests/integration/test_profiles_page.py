"""Account → Profiles, called the way the websocket calls it: linking, isolation between
customers, and the loader's exact query count (the same with twice the data)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from smplat.db import session_scope
from smplat.models.accounts import Role, User
from smplat.models.base import utcnow
from smplat.models.profiles import LinkedProfile, ProfileSnapshot
from smplat.services import profiles
from smplat.ui.pages.account.profiles import ProfilesState
from tests.fulfillment_factory import paid_order, product, seed_with_panel

pytestmark = pytest.mark.integration
PATH = "/account/profiles"


def _user_id(email: str) -> int:
    with session_scope() as db:
        return db.execute(select(User.id).where(User.email == email)).scalar_one()


def _profile_count() -> int:
    with session_scope() as db:
        return db.execute(select(func.count()).select_from(LinkedProfile)).scalar_one()


async def test_a_customer_links_a_profile_and_sees_its_charts(sqlite_url, instagram, root_state, session_cookie_for):
    cookie = session_cookie_for(Role.CUSTOMER, "ada@example.com")
    state = await root_state(ProfilesState, PATH, cookie=cookie)
    state.load_profiles()
    assert state.loaded and state.profiles == []
    # when the form is sent (with a key the page does not read)
    await ProfilesState.link_profile.fn(state, {"platform": "instagram", "handle": "@Violet.Bakery", "user_id": "1"})
    # then the profile is listed, selected, and its first snapshot charted
    assert state.link_error == ""
    assert [(p["handle"], p["status"]) for p in state.profiles] == [("@violet.bakery", "Up to date")]
    assert state.selected_handle == "@violet.bakery"
    assert state.snapshot_count == 1
    assert state.followers_chart.data[0].y[0] > 0
    assert state.profiles[0]["order"] == f"/services/instagram-followers?profile={state.selected_id}"


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"platform": "instagram", "handle": "two words"}, "Enter an Instagram username"),
        ({"platform": "tiktok", "handle": "violet"}, "TikTok profiles can't be followed yet"),
    ],
)
async def test_a_bad_link_shows_why_and_stores_nothing(
    sqlite_url, instagram, root_state, session_cookie_for, form, message
):
    state = await root_state(ProfilesState, PATH, cookie=session_cookie_for(Role.CUSTOMER, "ada@example.com"))
    state.load_profiles()
    await ProfilesState.link_profile.fn(state, form)
    assert message in state.link_error
    assert state.profiles == []
    assert _profile_count() == 0


async def test_an_unknown_profile_is_linked_with_a_clear_message(sqlite_url, instagram, root_state, session_cookie_for):
    state = await root_state(ProfilesState, PATH, cookie=session_cookie_for(Role.CUSTOMER, "ada@example.com"))
    await ProfilesState.link_profile.fn(state, {"platform": "instagram", "handle": "unknown.shop"})
    assert "found no public Instagram business or creator account @unknown.shop" in state.link_notice
    assert state.profiles[0]["status"] == "Account not found"
    assert state.snapshot_count == 0


async def test_another_customers_profile_is_not_found(
    sqlite_url, instagram, root_state, session_cookie_for, handler_events, is_toast_error
):
    # given Ada's linked profile
    session_cookie_for(Role.CUSTOMER, "ada@example.com")
    with session_scope() as db:
        theirs = profiles.link_profile(db, _user_id("ada@example.com"), "instagram", "violet.bakery", utcnow()).id
    stranger = session_cookie_for(Role.CUSTOMER, "eve@example.com")
    # when another customer opens it by id, asks for its charts, or unlinks it
    state = await root_state(ProfilesState, PATH, query={"profile": str(theirs)}, cookie=stranger)
    opened = handler_events(state.load_profiles())
    shown = handler_events(state.show_profile(str(theirs)))
    unlinked = handler_events(state.unlink_profile(str(theirs)))
    # then each answers "not found", shows nothing of it, and changes nothing
    for events in (opened, shown, unlinked):
        assert any(is_toast_error(e, "That profile was not found.") for e in events)
    assert (state.selected_id, state.selected_handle, state.snapshot_count, state.profiles) == ("", "", 0, [])
    assert _profile_count() == 1


async def test_a_visitor_is_sent_to_sign_in_and_nothing_is_linked(sqlite_url, instagram, root_state, handler_events):
    state = await root_state(ProfilesState, PATH)
    events = handler_events(
        await ProfilesState.link_profile.fn(state, {"platform": "instagram", "handle": "violet.bakery"})
    )
    assert any("signin" in str(e) for e in events)
    assert _profile_count() == 0


def _add_history(db, user_id: int, tag: str) -> None:
    """A linked profile with 24 snapshots and two followers orders on it, one more elsewhere."""
    now = utcnow()
    profile = profiles.link_profile(db, user_id, "instagram", f"brand.{tag}", now)
    for hour in range(24):
        db.add(ProfileSnapshot(profile_id=profile.id, taken_at=now - timedelta(hours=hour + 1), followers=900 + hour))
    db.commit()
    followers = product(db, "instagram-followers")
    for link in (f"https://www.instagram.com/brand.{tag}/", f"@brand.{tag}", "https://instagram.com/other"):
        paid_order(db, [(followers, link, 500, 690)], user_id=user_id)


async def test_the_profiles_page_sends_a_fixed_number_of_queries(
    session, panel, instagram, root_state, session_cookie_for, count_queries
):
    seed_with_panel(session, panel.base_url)
    cookie = session_cookie_for(Role.CUSTOMER, "ada@example.com")
    user_id = _user_id("ada@example.com")
    _add_history(session, user_id, "one")
    selected = session.execute(select(LinkedProfile.id).order_by(LinkedProfile.id)).scalars().first()

    async def measure():
        state = await root_state(ProfilesState, PATH, query={"profile": str(selected)}, cookie=cookie)
        with count_queries() as q:
            state.load_profiles()
        assert state.selected_id == str(selected)
        return q, state

    first, state = await measure()
    assert len(state.orders) == 2
    assert len(state.followers_chart.data[1].x) == 2  # both orders marked on the chart
    assert first.count == 7, first
    # twice the profiles, snapshots and orders: the same number of statements
    _add_history(session, user_id, "two")
    again, state = await measure()
    assert len(state.profiles) == 2
    assert again.count == 7, again


# --- the product page: saved profiles offered, "order for this profile" pre-fills --------------


async def _product_page(root_state, slug: str, cookie: str | None, profile_id=None):
    from smplat.ui.pages.storefront.product import ProductState

    query = {"profile": str(profile_id)} if profile_id is not None else None
    return await root_state(ProductState, "/services/[slug]", params={"slug": slug}, query=query, cookie=cookie)


async def test_order_for_a_profile_prefills_the_product_page(
    session, instagram, root_state, session_cookie_for, handler_events
):
    from smplat.services.seed import seed_demo

    seed_demo(session)
    session.commit()
    cookie = session_cookie_for(Role.CUSTOMER, "ada@example.com")
    with session_scope() as db:
        profile = profiles.link_profile(db, _user_id("ada@example.com"), "instagram", "violet.bakery", utcnow())
    state = await _product_page(root_state, "instagram-followers", cookie, profile.id)
    events = handler_events(state.load_product())
    assert not any("toast" in str(e) for e in events)
    assert state.config["fields"]["username"] == "@violet.bakery"
    assert state.profile_handles == ["@violet.bakery"]
    username = next(f for f in state.fields if f["key"] == "username")
    assert (username["value"], username["handle"], username["error"]) == ("@violet.bakery", True, "")


@pytest.mark.parametrize(
    ("who", "slug", "message"),
    [
        pytest.param("eve@example.com", "instagram-followers", "That profile was not found.", id="another-customer"),
        pytest.param(None, "instagram-followers", "Sign in to order for one of your profiles.", id="visitor"),
        pytest.param("ada@example.com", "tiktok-followers", "is not for your Instagram profile", id="other-platform"),
    ],
)
async def test_a_profile_that_does_not_fit_prefills_nothing(
    session, instagram, root_state, session_cookie_for, handler_events, is_toast_error, who, slug, message
):
    from smplat.services.seed import seed_demo

    seed_demo(session)
    session.commit()
    session_cookie_for(Role.CUSTOMER, "ada@example.com")
    with session_scope() as db:
        profile = profiles.link_profile(db, _user_id("ada@example.com"), "instagram", "violet.bakery", utcnow())
    cookie = session_cookie_for(Role.CUSTOMER, who) if who else None
    state = await _product_page(root_state, slug, cookie, profile.id)
    events = handler_events(state.load_product())
    assert any(is_toast_error(e, message) for e in events)
    assert state.config["fields"].get("username", "") == ""
    assert state.profile_handles == []


async def test_picking_a_linked_profile_fills_the_account_field(
    session, instagram, root_state, session_cookie_for, handler_events, is_toast_error
):
    from smplat.services.seed import seed_demo

    seed_demo(session)
    session.commit()
    cookie = session_cookie_for(Role.CUSTOMER, "ada@example.com")
    with session_scope() as db:
        profiles.link_profile(db, _user_id("ada@example.com"), "instagram", "violet.bakery", utcnow())
    state = await _product_page(root_state, "instagram-followers", cookie)
    state.load_product()
    assert state.profile_handles == ["@violet.bakery"]
    before = state.fields_round
    # a handle that is not one of the customer's profiles changes nothing
    refused = handler_events(state.choose_profile_handle("username", "@someone.else"))
    assert any(is_toast_error(e, "That profile is not linked to your account.") for e in refused)
    assert (state.config["fields"].get("username", ""), state.fields_round) == ("", before)
    # the customer's own profile fills the field and re-mounts the input
    state.choose_profile_handle("username", "@violet.bakery")
    assert state.config["fields"]["username"] == "@violet.bakery"
    assert state.fields_round == before + 1
