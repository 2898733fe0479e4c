"""The client dashboard's reads: the orders list (filters, search, pages), one order in the
customer's words, the live version a page polls, "order again", and isolation between customers."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from smplat.db import session_scope
from smplat.models.accounts import User
from smplat.models.orders import Order, OrderItem
from smplat.models.providers import ProviderOrder
from smplat.services import accounts
from smplat.services import client_orders as co
from smplat.services.fulfillment import engine, status_sync
from tests.fulfillment_factory import paid_order, product, seed_with_panel

pytestmark = pytest.mark.integration


def _client(session) -> User:
    return session.execute(select(User).where(User.email == "client@smplat.local")).scalars().one()


@pytest.fixture
def shop(session, panel):
    seed_with_panel(session, panel.base_url)
    return _client(session), product(session, "instagram-followers")


def test_list_filters_search_and_pages_in_four_statements(session, shop, count_queries):
    client, followers = shop
    orders = [
        paid_order(session, [(followers, f"https://instagram.com/list-{n}", 100, 500)], user_id=client.id)
        for n in range(3)
    ]
    stranger = accounts.sign_up(session, email="stranger@example.test", password="violet-harbour-42")
    session.commit()
    paid_order(session, [(followers, "https://instagram.com/list-0-stranger", 100, 500)], user_id=stranger.id)
    # when the client lists every order
    with count_queries(session) as q:
        rows, total = co.list_orders(session, client.id, co.OrderFilters())
    assert q.count == 4, q
    assert total == 3
    assert [r["number"] for r in rows] == [o.number for o in reversed(orders)]  # newest first, only theirs
    assert {r["status_label"] for r in rows} == {"In progress"}
    assert {r["items_label"] for r in rows} == {"1 item"}
    # search by part of the link or the order number
    rows, total = co.list_orders(session, client.id, co.OrderFilters(search="list-1"))
    assert ([r["number"] for r in rows], total) == ([orders[1].number], 1)
    rows, total = co.list_orders(session, client.id, co.OrderFilters(search=orders[2].number[-4:].lower()))
    assert [r["number"] for r in rows] == [orders[2].number]
    # a wildcard typed by the customer is a plain character
    assert co.list_orders(session, client.id, co.OrderFilters(search="%"))[1] == 0
    # status and dates
    assert co.list_orders(session, client.id, co.OrderFilters(status="completed"))[1] == 0
    assert co.list_orders(session, client.id, co.OrderFilters(status="open"))[1] == 3
    today = orders[0].created_at.date()
    assert co.list_orders(session, client.id, co.OrderFilters(since=today, until=today))[1] == 3
    assert co.list_orders(session, client.id, co.OrderFilters(until=today - timedelta(days=1)))[1] == 0
    # pages
    co_page_size = co.PAGE_SIZE
    try:
        co.PAGE_SIZE = 2
        first, _ = co.list_orders(session, client.id, co.OrderFilters(page=1))
        second, _ = co.list_orders(session, client.id, co.OrderFilters(page=2))
    finally:
        co.PAGE_SIZE = co_page_size
    assert [r["number"] for r in first + second] == [o.number for o in reversed(orders)]


def test_order_page_in_customer_words_progress_and_refill(session, shop, count_queries):
    client, followers = shop
    order = paid_order(session, [(followers, "https://instagram.com/detail", 500, 690)], user_id=client.id)
    # before anything is sent
    view = co.order_detail(session, co.find_order(session, order.number, client.id))
    (line,) = view["lines"]
    assert (line["ordered"], line["delivered"], line["remains"], line["percent"]) == (500, 0, 500, 0)
    assert line["status_label"] == "Waiting to start"
    assert line["fields"] == [{"label": "Link", "value": "https://instagram.com/detail"}]
    assert (line["can_refill"], line["refill_note"]) == (False, "This line has not been delivered yet.")
    assert view["timeline"][-1]["text"] == "Order placed and paid"
    assert "job:" not in str(view) and "status_changed" not in str(view)  # nothing internal leaks
    # when the jobs process sends and the panel delivers
    engine.run_fulfillment(session_scope)
    status_sync.sync_statuses(session_scope)
    number, client_id = order.number, client.id
    session.expire_all()
    with count_queries(session) as q:
        view = co.order_detail(session, co.find_order(session, number, client_id))
    assert q.count == 8, q  # the order, then a fixed number whatever the lines
    (line,) = view["lines"]
    assert (line["delivered"], line["remains"], line["percent"], line["status_label"]) == (500, 0, 100, "Delivered")
    assert line["started_at"] and line["eta"] == ""
    assert line["can_refill"] is True
    assert "Order: Delivered" in [t["text"] for t in view["timeline"]]


def test_another_customers_order_and_line_are_not_found(session, shop):
    client, followers = shop
    order = paid_order(session, [(followers, "https://instagram.com/mine", 500, 690)], user_id=client.id)
    item = session.execute(select(OrderItem).where(OrderItem.order_id == order.id)).scalars().one()
    stranger = accounts.sign_up(session, email="stranger@example.test", password="violet-harbour-42")
    session.commit()
    assert co.find_order(session, order.number, stranger.id) is None
    assert co.find_order(session, "SMP-NOPE-NOPE", client.id) is None
    assert co.reorder_source(session, stranger.id, item.id) is None
    assert co.list_orders(session, stranger.id, co.OrderFilters(search=order.number)) == ([], 0)
    mine = co.reorder_source(session, client.id, item.id)
    assert (mine.product_id, mine.configuration["fields"], mine.quantity) == (
        followers.id,
        {"link": "https://instagram.com/mine"},
        1,
    )


def test_live_version_is_one_statement_and_moves_with_the_jobs(session, shop, count_queries):
    client, followers = shop
    order = paid_order(session, [(followers, "https://instagram.com/live", 500, 690)], user_id=client.id)
    with count_queries(session) as q:
        before = co.live_version(session, [order.id])
    assert q.count == 1, q
    assert co.live_version(session, [order.id]) == before  # nothing happened: same version
    engine.run_fulfillment(session_scope)
    sent = co.live_version(session, [order.id])
    assert sent != before
    # a running provider order reporting progress (remains) moves it too
    session.execute(
        ProviderOrder.__table__.update()
        .where(ProviderOrder.order_item_id.in_(select(OrderItem.id).where(OrderItem.order_id == order.id)))
        .values(remains=200)
    )
    session.commit()
    assert co.live_version(session, [order.id]) != sent
    # the list's version also moves when a new order is placed
    with count_queries(session) as q:
        listed = co.live_version(session, [order.id], client.id)
    assert q.count == 1, q
    paid_order(session, [(followers, "https://instagram.com/live-2", 100, 500)], user_id=client.id)
    assert co.live_version(session, [order.id], client.id) != listed


def test_overview_figures(session, shop):
    client, followers = shop
    assert co.overview(session, client.id)["orders"] == 0
    paid_order(session, [(followers, "https://instagram.com/ov-1", 500, 690)], user_id=client.id)
    done = paid_order(session, [(followers, "https://instagram.com/ov-2", 500, 1000)], user_id=client.id)
    engine.run_fulfillment(session_scope)
    status_sync.sync_statuses(session_scope)
    paid_order(session, [(followers, "https://instagram.com/ov-3", 500, 690)], user_id=client.id)
    session.expire_all()
    assert session.get(Order, done.id).status == "completed"
    figures = co.overview(session, client.id)
    assert (figures["active"], figures["delivered_month"], figures["orders"]) == (1, 2, 3)
    assert figures["spend"] == "€23.80"
    activity = co.latest_activity(session, client.id)
    assert activity[0]["text"] == "Order placed and paid"
