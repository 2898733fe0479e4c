"""The client dashboard's page states, called the way the websocket calls them: another
customer's order number or line in a URL or an event finds nothing and writes nothing; the
refill action; "order again" pre-fills the product page for the owner only; the live tick;
the guest tracking page."""

import asyncio

import pytest
from sqlalchemy import func, select

from smplat.db import session_scope
from smplat.models.accounts import Role, User
from smplat.models.orders import OrderEvent, OrderItem
from smplat.models.providers import Refill
from smplat.services import order_tracking
from smplat.services.fulfillment import engine, status_sync
from smplat.ui.pages.account._state import AccountState
from smplat.ui.pages.account.order import ClientOrderState
from smplat.ui.pages.storefront.product import ProductState
from smplat.ui.pages.storefront.track_order import TrackOrderState
from tests.fulfillment_factory import paid_order, product, seed_with_panel

pytestmark = pytest.mark.integration

ORDER_PATH = "/account/orders/[number]"


@pytest.fixture
def delivered(session, panel):
    """The demo client's order, delivered; its line id and number."""
    seed_with_panel(session, panel.base_url)
    client = session.execute(select(User).where(User.email == "client@smplat.local")).scalars().one()
    order = paid_order(
        session, [(product(session, "instagram-followers"), "https://instagram.com/pages", 500, 690)], user_id=client.id
    )
    engine.run_fulfillment(session_scope)
    status_sync.sync_statuses(session_scope)
    item_id = session.execute(select(OrderItem.id).where(OrderItem.order_id == order.id)).scalar_one()
    return {"number": order.number, "item_id": item_id, "order_id": order.id}


def _written(session) -> tuple[int, int]:
    session.expire_all()
    return (
        session.execute(select(func.count()).select_from(Refill)).scalar_one(),
        session.execute(select(func.count()).select_from(OrderEvent)).scalar_one(),
    )


async def test_the_owner_sees_the_order_and_a_stranger_sees_not_found(delivered, root_state, session_cookie_for):
    owner = await root_state(
        ClientOrderState,
        ORDER_PATH,
        params={"number": delivered["number"]},
        cookie=session_cookie_for(Role.CUSTOMER, "client@smplat.local"),
    )
    assert owner.load() is None
    assert owner.order["number"] == delivered["number"]
    assert owner.order["lines"][0]["percent"] == 100
    stranger = await root_state(
        ClientOrderState,
        ORDER_PATH,
        params={"number": delivered["number"]},
        cookie=session_cookie_for(Role.CUSTOMER, "stranger@example.test"),
    )
    assert stranger.load() is None
    assert (stranger.order, stranger.loaded) == ({}, True)  # the "No such order" page: same as a typo
    # nothing of the order reached the stranger's state, and their tick watches nothing
    assert delivered["number"] not in str(stranger.dict())
    assert stranger.live_tick() is None


async def test_refill_from_the_order_page_and_a_foreign_line_in_the_event(
    session, delivered, root_state, session_cookie_for
):
    # given a stranger's own order page, and the client's
    stranger_order = paid_order(
        session,
        [(product(session, "instagram-followers"), "https://instagram.com/stranger", 100, 500)],
        email="stranger@example.test",
    )
    stranger_cookie = session_cookie_for(Role.CUSTOMER, "stranger@example.test")
    stranger_id = session.execute(select(User.id).where(User.email == "stranger@example.test")).scalar_one()
    stranger_order.user_id = stranger_id
    session.add(stranger_order)
    session.commit()
    stranger = await root_state(
        ClientOrderState, ORDER_PATH, params={"number": stranger_order.number}, cookie=stranger_cookie
    )
    stranger.load()
    before = _written(session)
    # when the stranger sends the client's line id in the refill event
    stranger.ask_refill({"item_id": str(delivered["item_id"]), "reason": "mine now"})
    # then it is not found and nothing is written
    assert stranger.error == "That line is not part of this order."
    assert _written(session) == before
    # and the owner's request is accepted and shown in the line's history
    owner = await root_state(
        ClientOrderState,
        ORDER_PATH,
        params={"number": delivered["number"]},
        cookie=session_cookie_for(Role.CUSTOMER, "client@smplat.local"),
    )
    owner.load()
    assert owner.order["lines"][0]["can_refill"] is True
    result = owner.ask_refill({"item_id": str(delivered["item_id"]), "reason": ""})
    assert "Refill requested" in str(result) and owner.error == ""
    assert _written(session) == (before[0] + 1, before[1] + 1)
    line = owner.order["lines"][0]
    assert (line["can_refill"], line["refill_note"]) == (False, "A refill of this line is already under way.")
    assert line["history"][0]["text"] == "Refill requested"
    # a second request is refused with the reason, and writes nothing
    owner.ask_refill({"item_id": str(delivered["item_id"]), "reason": "again"})
    assert owner.error == "A refill of this line is already under way."
    assert _written(session) == (before[0] + 1, before[1] + 1)


async def test_order_again_prefills_the_product_page_for_the_owner_only(delivered, root_state, session_cookie_for):
    query = {"reorder": str(delivered["item_id"])}
    params = {"slug": "instagram-followers"}
    owner = await root_state(
        ProductState,
        "/services/[slug]",
        query=query,
        params=params,
        cookie=session_cookie_for(Role.CUSTOMER, "client@smplat.local"),
    )
    assert owner.load_product() is None
    assert owner.config["fields"] == {"link": "https://instagram.com/pages"}
    for who in ("stranger@example.test", None):
        other = await root_state(
            ProductState,
            "/services/[slug]",
            query=query,
            params=params,
            cookie=session_cookie_for(Role.CUSTOMER, who) if who else None,
        )
        notice = other.load_product()
        assert "That order line was not found" in str(notice)
        assert "https://instagram.com/pages" not in str(other.config)


async def test_the_live_tick_reloads_only_when_the_order_moved(session, panel, root_state, session_cookie_for):
    seed_with_panel(session, panel.base_url)
    client = session.execute(select(User).where(User.email == "client@smplat.local")).scalars().one()
    order = paid_order(
        session, [(product(session, "instagram-followers"), "https://instagram.com/tick", 500, 690)], user_id=client.id
    )
    cookie = session_cookie_for(Role.CUSTOMER, "client@smplat.local")
    page = await root_state(ClientOrderState, ORDER_PATH, params={"number": order.number}, cookie=cookie)
    listing = await root_state(AccountState, "/account/orders", cookie=cookie)
    page.load()
    listing.load_orders()
    assert page.live_tick() is None and listing.live_tick() is None
    assert page.order["lines"][0]["status_label"] == "Waiting to start"
    # when the jobs process sends the order and the panel delivers it (in threads: they run their own loop)
    await asyncio.to_thread(engine.run_fulfillment, session_scope)
    await asyncio.to_thread(status_sync.sync_statuses, session_scope)
    # then the next tick asks for the (guarded) reload, which shows the delivery
    assert "live_reload" in str(page.live_tick())
    assert "live_reload" in str(listing.live_tick())
    page.live_reload()
    listing.live_reload()
    assert page.order["lines"][0]["status_label"] == "Delivered"
    assert listing.orders[0]["percent"] == 100
    assert page.live_tick() is None


async def test_the_guest_tracking_page_shows_the_order_read_only_for_a_valid_link(session, panel, root_state):
    seed_with_panel(session, panel.base_url)
    order = paid_order(
        session,
        [(product(session, "instagram-followers"), "https://instagram.com/guest-page", 500, 690)],
        email="guest@example.test",
    )
    token = order_tracking.tracking_token(order)
    page = await root_state(TrackOrderState, "/track/[token]", params={"token": token})
    page.load()
    assert page.order["number"] == order.number
    assert page.order["lines"][0]["fields"] == [{"label": "Link", "value": "https://instagram.com/guest-page"}]
    bad = await root_state(TrackOrderState, "/track/[token]", params={"token": token[:-3] + "abc"})
    bad.load()
    assert (bad.order, bad.loaded) == ({}, True)
    # revoked: the open page's next reload stops showing it
    order_tracking.revoke_tracking_links(session, order)
    session.commit()
    page.live_reload()
    assert page.order == {}
