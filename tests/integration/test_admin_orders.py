"""The admin queue and home (smplat/services/admin_orders.py) on constructed histories: figures
against hand-computed values, filters, keyset pages with one statement each, exports, actions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from smplat.db import session_scope
from smplat.models.audit import AuditLog
from smplat.models.fulfillment import FulfillmentTask, TaskStatus
from smplat.models.invoices import Invoice
from smplat.models.orders import Order, OrderEvent, OrderItem, OrderStatus, PaymentStatus
from smplat.services import admin_orders, audit, operations
from smplat.services.admin_orders import QueueFilters
from smplat.services.money import format_money
from smplat.ui.pages.admin.order import OrderDetailState  # imported at collection: registers the state

pytestmark = pytest.mark.integration

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
OPERATOR = audit.Actor.staff(None, "ops@smplat.local", "operator", "198.51.100.4")
SUPPORT_ROLE_ACTOR = audit.Actor.staff(None, "viewer@smplat.local", "customer", "198.51.100.5")


def order(
    db,
    *,
    placed: datetime,
    charged: int,
    refunded: int = 0,
    status: str = OrderStatus.PROCESSING.value,
    payment: str = PaymentStatus.PAID.value,
    email: str = "a@example.com",
    item_status: str = OrderStatus.PROCESSING.value,
    currency: str = "EUR",
) -> Order:
    row = Order(
        customer_email=email,
        status=status,
        payment_status=payment,
        currency=currency,
        subtotal_minor=charged,
        total_minor=charged,
        charged_minor=charged if payment != PaymentStatus.UNPAID.value else 0,
        refunded_minor=refunded,
        placed_at=placed,
        created_at=placed,
    )
    db.add(row)
    db.flush()
    db.add(
        OrderItem(
            order_id=row.id,
            product_title="Followers",
            total_minor=charged,
            unit_price_minor=charged,
            status=item_status,
            snapshot={},
            created_at=placed,  # lines are created when the order is paid, as placement does
        )
    )
    db.flush()
    return row


def test_home_figures_equal_hand_computed_values(db_url):
    with session_scope() as db:
        # today (since midnight): 1000 + (2500 - 500 refunded) = 3000 over 2 orders
        order(db, placed=NOW - timedelta(hours=1), charged=1000)
        order(db, placed=NOW - timedelta(hours=11), charged=2500, refunded=500, payment="partially_refunded")
        # yesterday up to the same time: one order of 1500; after that time one of 9999 (not compared)
        order(db, placed=NOW - timedelta(days=1, hours=2), charged=1500)
        order(db, placed=NOW - timedelta(hours=13), charged=9999)
        # unpaid and other currencies never count
        order(db, placed=NOW - timedelta(hours=2), charged=7777, payment="unpaid", status="pending")
        order(db, placed=NOW - timedelta(hours=2), charged=5555, currency="USD")
        # the previous 30-day period: 2 orders, 4000 + 2000
        order(db, placed=NOW - timedelta(days=31), charged=4000)
        order(db, placed=NOW - timedelta(days=59), charged=2000)
        # older than both periods
        order(db, placed=NOW - timedelta(days=61), charged=100000)
    with session_scope() as db:
        home = admin_orders.home(db, NOW)
    # this period: 3000 + 1500 + 9999 = 14499 over 4 orders, AOV 3624 (integer division)
    assert home["period"] == {
        "revenue": "€144.99",
        "revenue_change": "+141.7% vs previous",  # (14499 - 6000) / 6000
        "orders": "4",
        "orders_change": "+100.0% vs previous",
        "aov": "€36.24",
        "aov_change": "+20.8% vs previous",  # (3624 - 3000) / 3000
    }
    assert home["today"] == {
        "revenue": "€30.00",
        "revenue_change": "+100.0% vs previous",  # 3000 vs 1500
        "orders": "2",
        "orders_change": "+100.0% vs previous",
        "aov": "€15.00",
        "aov_change": "+0.0% vs previous",
    }
    assert admin_orders.change_percent(5, 0) is None


def test_tiles_count_the_work(db_url):
    with session_scope() as db:
        awaiting = order(db, placed=NOW - timedelta(minutes=5), charged=100, item_status="pending")
        order(db, placed=NOW - timedelta(hours=30), charged=100)  # stuck (24 h)
        order(db, placed=NOW - timedelta(hours=30), charged=100, status="completed", item_status="completed")
        dead = order(db, placed=NOW - timedelta(hours=1), charged=100)
        item = db.execute(select(OrderItem).where(OrderItem.order_id == dead.id)).scalar_one()
        db.add(FulfillmentTask(order_item_id=item.id, status=TaskStatus.DEAD_LETTER.value, idempotency_key="k1"))
    with session_scope() as db:
        tiles = admin_orders.tiles(db, NOW)
        assert tiles == {
            "awaiting": 1,
            "stuck": 1,
            "refills": 0,
            "dead_letters": 1,
            "providers": 0,
            "failed_payments": 0,
            "failed_webhooks": 0,
        }
        # the tiles' queue filters find exactly those orders
        found = admin_orders.queue_page(db, QueueFilters.from_query({"awaiting": "1"}), now=NOW).rows
        assert [r["number"] for r in found] == [awaiting.number]
        found = admin_orders.queue_page(db, QueueFilters.from_query({"dead": "1"}), now=NOW).rows
        assert [r["number"] for r in found] == [dead.number]
        assert len(admin_orders.queue_page(db, QueueFilters(stuck=True), now=NOW).rows) == 1


def test_stuck_means_later_than_the_service_promises(db_url):
    from smplat.models.catalog import Category, Product

    with session_scope() as db:
        category = Category(slug="c", name="C")
        db.add(category)
        db.flush()
        fast = Product(category_id=category.id, slug="fast", title="Fast", delivery_estimate_hours=2)
        slow = Product(category_id=category.id, slug="slow", title="Slow", delivery_estimate_hours=72)
        unpromised = Product(category_id=category.id, slug="open", title="Open", delivery_estimate_hours=0)
        db.add_all([fast, slow, unpromised])
        db.flush()
        late, on_time, no_product, no_promise = (
            order(db, placed=NOW - timedelta(hours=3), charged=100),
            order(db, placed=NOW - timedelta(hours=30), charged=100),
            order(db, placed=NOW - timedelta(hours=25), charged=100),  # the 24 h fallback
            order(db, placed=NOW - timedelta(days=40), charged=100),  # no promise: never late
        )
        for o, p in ((late, fast), (on_time, slow), (no_promise, unpromised)):
            item = db.execute(select(OrderItem).where(OrderItem.order_id == o.id)).scalar_one()
            item.product_id = p.id
        # a second late line of the late order: the order is counted once
        db.add(
            OrderItem(
                order_id=late.id,
                product_id=fast.id,
                product_title="Fast",
                total_minor=50,
                unit_price_minor=50,
                status=OrderStatus.PENDING.value,
                snapshot={},
                created_at=NOW - timedelta(hours=4),
            )
        )
    with session_scope() as db:
        found = admin_orders.queue_page(db, QueueFilters(stuck=True), now=NOW).rows
        assert sorted(r["number"] for r in found) == sorted([late.number, no_product.number])
        assert admin_orders.tiles(db, NOW)["stuck"] == 2


def test_queue_filters_and_search(db_url):
    with session_scope() as db:
        a = order(db, placed=NOW - timedelta(days=3), charged=100, email="ann@example.com")
        b = order(db, placed=NOW - timedelta(days=2), charged=200, email="bob@example.com", payment="refunded")
        c = order(db, placed=NOW - timedelta(days=1), charged=300, email="bob@example.com", status="completed")
    with session_scope() as db:

        def numbers(**query) -> list[str]:
            return [r["number"] for r in admin_orders.queue_page(db, QueueFilters.from_query(query), now=NOW).rows]

        assert numbers() == [c.number, b.number, a.number]
        assert numbers(customer="BOB@example.com") == [c.number, b.number]
        assert numbers(payment="refunded") == [b.number]
        assert numbers(status="completed") == [c.number]
        assert numbers(q=a.number.lower()) == [a.number]
        assert numbers(q="ann@") == [a.number]
        day = (NOW - timedelta(days=2)).date().isoformat()
        assert numbers(**{"from": day, "to": day}) == [b.number]
        assert numbers(sort="total", dir="asc") == [a.number, b.number, c.number]
        assert numbers(status="nonsense") == [c.number, b.number, a.number]  # unknown values dropped


@pytest.mark.parametrize("sort", ["created", "total"])
def test_keyset_pages_cover_every_order_once_with_one_statement_each(db_url, count_queries, sort):
    with session_scope() as db:
        made = [order(db, placed=NOW - timedelta(minutes=i), charged=100 + i % 4).number for i in range(23)]
    filters = QueueFilters(sort=sort)
    seen: list[str] = []
    cursor = ""
    with session_scope() as db:
        for _ in range(3):
            with count_queries(db) as q:
                page = admin_orders.queue_page(db, filters, cursor, limit=10, now=NOW)
            assert q.count == 1, q
            seen += [r["number"] for r in page.rows]
            cursor = page.next_cursor
        assert cursor == ""
    assert sorted(seen) == sorted(made) and len(seen) == 23


def test_export_is_formula_safe_and_audited(db_url):
    with session_scope() as db:
        order(db, placed=NOW - timedelta(hours=1), charged=100, email="=cmd@example.com")
    with session_scope() as db:
        text = admin_orders.export_csv(db, OPERATOR, QueueFilters(), now=NOW)
    assert "'=cmd@example.com" in text
    with session_scope() as db:
        (row,) = db.execute(select(AuditLog).where(AuditLog.action == "orders.export")).scalars()
    assert row.data["data"]["rows"] == 1 and row.actor_label == OPERATOR.label


def test_actions_are_audited_and_bad_input_changes_nothing(db_url):
    with session_scope() as db:
        o = order(db, placed=NOW - timedelta(hours=1), charged=100)
    with session_scope() as db:
        assert admin_orders.change_status(db, OPERATOR, o.number, "on_hold", "customer asked to wait") == 1
        admin_orders.add_note(db, OPERATOR, o.number, "called the customer")
    with pytest.raises(admin_orders.AdminOrderError), session_scope() as db:
        admin_orders.change_status(db, OPERATOR, o.number, "completed", "skip ahead")  # on_hold -> completed
    with pytest.raises(admin_orders.AdminOrderError), session_scope() as db:
        admin_orders.add_note(db, OPERATOR, o.number, "   ")
    with session_scope() as db:
        assert db.get(Order, o.id).status == "on_hold"
        actions = list(db.execute(select(AuditLog.action).order_by(AuditLog.id)).scalars())
        notes = list(db.execute(select(OrderEvent.message).where(OrderEvent.kind == "note")).scalars())
    assert actions == ["order.status", "order.note"]
    assert notes == ["called the customer"]


def test_a_customer_role_is_refused_and_the_refusal_logged(db_url):
    with session_scope() as db:
        o = order(db, placed=NOW - timedelta(hours=1), charged=100)
    from smplat.services.permissions import PermissionDenied

    with pytest.raises(PermissionDenied), session_scope() as db:
        admin_orders.add_note(db, SUPPORT_ROLE_ACTOR, o.number, "hello")
    with session_scope() as db:
        assert list(db.execute(select(AuditLog.action)).scalars()) == [audit.DENIED]
        assert db.execute(select(OrderEvent).where(OrderEvent.kind == "note")).first() is None


# --- the order page's handlers, through the Stripe sandbox ----------------------------------------


@pytest.fixture
def paid_by_card(stripe_shop, monkeypatch):
    """A guest order paid on the Stripe sandbox's hosted page (a real card payment to refund)."""
    import httpx

    from smplat.services.checkout import placement
    from tests.checkout_factory import start_guest_checkout
    from tests.security.helpers import configure

    configure(monkeypatch, operator_refund_limit_minor=1_000_000)
    cs = start_guest_checkout()
    assert httpx.post(f"{stripe_shop.sandbox.base_url}/pay/{cs.stripe_session_id}/pay").status_code in (200, 303)
    with session_scope() as db:
        placement.confirm_from_success_page(db, cs.stripe_session_id)
        return db.execute(select(Order)).scalar_one()


async def operator_page(number: str):
    from smplat.models.accounts import Role
    from tests.security.helpers import make_user, session_cookie, tab

    cookie = session_cookie(make_user("ops@smplat.local", Role.OPERATOR))
    root = tab(cookie, path=f"/admin/orders/{number}", ip="198.51.100.4", query={"number": number})
    state = await root.get_state(OrderDetailState)
    state.load()
    return state


async def test_operator_refunds_half_through_the_sandbox_then_messages_the_customer(paid_by_card, stripe_shop):
    order0 = paid_by_card
    state = await operator_page(order0.number)
    assert state.order["number"] == order0.number
    assert state.order["items"][0]["fields"] == "Instagram username: @brand"  # as bought, by its label
    half = order0.charged_minor // 2
    # when the operator refunds half (typed in major units)
    amount = f"{half // 100}.{half % 100:02d}"
    assert state.refund({"amount": amount}) is not None
    assert state.error == ""
    with session_scope() as db:
        paid = db.get(Order, order0.id)
        (entry,) = db.execute(select(AuditLog).where(AuditLog.action == "order.refund")).scalars()
    assert (paid.refunded_minor, paid.payment_status) == (half, PaymentStatus.PARTIALLY_REFUNDED.value)
    assert entry.data["data"]["amount_minor"] == half and entry.actor_label == "ops@smplat.local"
    assert [r["params"].get("amount") for r in stripe_shop.sandbox.refund_requests] == [str(half)]
    # the order page lists the invoice and the credit note for exactly the refunded amount
    with session_scope() as db:
        notes = db.execute(select(Invoice).where(Invoice.order_id == order0.id).order_by(Invoice.id)).scalars().all()
    assert [(n.kind, n.gross_minor) for n in notes] == [("invoice", order0.charged_minor), ("credit_note", -half)]
    assert [(i["kind"], i["number"]) for i in state.order["invoices"]] == [
        ("Invoice", notes[0].number),
        ("Credit note", notes[1].number),
    ]
    assert state.order["invoices"][1]["gross"] == format_money(-half, order0.currency)
    # a bad amount changes nothing
    state.refund({"amount": "12,5x"})
    assert state.error.startswith("Write the amount")
    with session_scope() as db:
        assert db.get(Order, order0.id).refunded_minor == half
    # the rest: an empty amount refunds all that is left
    state.refund({"amount": ""})
    with session_scope() as db:
        paid = db.get(Order, order0.id)
    assert (paid.refunded_minor, paid.payment_status) == (order0.charged_minor, PaymentStatus.REFUNDED.value)
    assert [i["gross"] for i in state.order["invoices"][1:]] == [
        format_money(-half, order0.currency),
        format_money(-(order0.charged_minor - half), order0.currency),
    ]
    # a message reaches the customer's mailbox and their order page's timeline
    state.message_customer({"message": "Your refund is on its way."})
    assert state.error == ""
    from smplat.services import client_orders

    with session_scope() as db:
        detail = client_orders.order_detail(db, db.get(Order, order0.id))
    assert any(row.get("text") == "Message from us: Your refund is on its way." for row in detail["timeline"]), detail[
        "timeline"
    ]
    assert [m["text"] for m in detail["messages"]] == ["Your refund is on its way."]
    from smplat.sandbox.smtp_sink import latest_message_to

    mail = latest_message_to(stripe_shop.sink.mailbox_dir, order0.customer_email)
    assert mail is not None and "Your refund is on its way." in mail.text
    assert mail.subject == f"About your order {order0.number}"


# --- superseded provider orders, the live home and the queue page ---------------------------------


def test_superseded_provider_orders_are_history_without_actions(db_url):
    from smplat.models.fulfillment import FulfillmentAttempt
    from smplat.models.providers import Provider, ProviderOrder, ProviderService

    with session_scope() as db:
        o = order(db, placed=NOW - timedelta(hours=1), charged=100)
        item = db.execute(select(OrderItem).where(OrderItem.order_id == o.id)).scalar_one()
        provider = Provider(name="Panel", slug="panel", base_url="http://panel.test/api/v2")
        db.add(provider)
        db.flush()
        service = ProviderService(provider_id=provider.id, external_service_id="1", name="Followers")
        db.add(service)
        db.flush()
        ids = []
        for n, status in enumerate(("failed", "in_progress")):
            task = FulfillmentTask(order_item_id=item.id, idempotency_key=f"t{n}", status="completed")
            db.add(task)
            db.flush()
            db.add(
                FulfillmentAttempt(
                    task_id=task.id, provider_id=provider.id, task_kind="submit", outcome="ok", latency_ms=12
                )
            )
            po = ProviderOrder(
                fulfillment_task_id=task.id,
                order_item_id=item.id,
                provider_id=provider.id,
                provider_service_id=service.id,
                submission_key=f"s{n}",
                status=status,
                external_order_id=None if status == "failed" else "77",
            )
            db.add(po)
            db.flush()
            ids.append(po.id)
    with session_scope() as db:
        detail = operations.order_detail(db, o.number)
    assert [(p["id"], p["current"]) for p in detail["provider_orders"]] == [(ids[0], False), (ids[1], True)]
    attempts = [e["message"] for e in detail["events"] if e["kind"] == "provider submit"]
    assert attempts == ["Followers: submit → ok in 12 ms"] * 2


def test_an_order_line_shows_its_link_once(db_url):
    link = "https://instagram.com/p/once"
    snapshots = [
        {"summary": "500 likes", "delivery": {"link": link}},  # shown beside the fields
        {
            "summary": "500 likes",
            "delivery": {"link": link},
            "fields": {"link": link},
            "field_labels": {"link": "Post link"},
        },
        {"summary": f"500 on {link}", "delivery": {"link": link}},
    ]
    with session_scope() as db:
        o = order(db, placed=NOW, charged=300)  # its line holds no snapshot: nothing to show
        for snapshot in snapshots:
            db.add(
                OrderItem(
                    order_id=o.id, product_title="Likes", total_minor=100, unit_price_minor=100, snapshot=snapshot
                )
            )
    with session_scope() as db:
        items = operations.order_detail(db, o.number)["items"]
    assert [(i["link"], i["fields"]) for i in items] == [("", ""), (link, ""), ("", f"Post link: {link}"), ("", "")]


async def test_the_queue_filters_providers_and_products_by_name(db_url):
    from smplat.models.accounts import Role
    from smplat.models.catalog import Category, Product, ProductStatus
    from smplat.models.providers import Provider
    from smplat.ui.pages.admin.orders import OrderQueueState
    from tests.security.helpers import make_user, session_cookie, tab

    with session_scope() as db:
        category = Category(slug="c", name="C")
        db.add_all([category, Provider(name="Zeta Panel", slug="zeta", base_url="http://zeta.test/api/v2")])
        db.add(Provider(name="Alpha Panel", slug="alpha", base_url="http://alpha.test/api/v2"))
        db.flush()
        likes = Product(category_id=category.id, slug="likes", title="Likes", status=ProductStatus.ACTIVE.value)
        old = Product(category_id=category.id, slug="old", title="Archived views", status=ProductStatus.ARCHIVED.value)
        db.add_all([likes, old])
        db.flush()
        # an editor's working copy of Likes (a draft): never ordered, not offered twice
        db.add(Product(category_id=category.id, slug="likes-draft", title="Likes", draft_of_id=likes.id))
        mine, _other = order(db, placed=NOW, charged=100), order(db, placed=NOW, charged=200)
        db.execute(sa.update(OrderItem).where(OrderItem.order_id == mine.id).values(product_id=likes.id))
    cookie = session_cookie(make_user("ops@smplat.local", Role.OPERATOR))
    queue = await tab(cookie, path="/admin/orders", query={"product": str(likes.id)}).get_state(OrderQueueState)
    queue.load()
    # the names an operator knows, sorted; an archived product's orders can still be found, a
    # draft has none
    assert [p["label"] for p in queue.providers] == ["Alpha Panel", "Zeta Panel"]
    assert queue.products == [
        {"value": str(old.id), "label": "Archived views"},
        {"value": str(likes.id), "label": "Likes"},
    ]
    assert [r["number"] for r in queue.rows] == [mine.number]  # not the other order's


async def test_the_home_ticks_and_reloads_only_when_an_order_arrives(db_url):
    from smplat.models.accounts import Role
    from smplat.ui.pages.admin.dashboard import AdminHomeState
    from tests.security.helpers import make_user, session_cookie, tab

    cookie = session_cookie(make_user("admin@smplat.local", Role.ADMIN))
    home = await tab(cookie, path="/admin").get_state(AdminHomeState)
    home.load()
    assert (home.tiles["awaiting"], home.today["orders"]) == ("0", "0")
    assert home.live_tick() is None  # nothing changed: no reload
    with session_scope() as db:
        order(db, placed=datetime.now(UTC), charged=4200, item_status="pending")
    assert home.live_tick() is AdminHomeState.live_reload
    home.live_reload()
    assert (home.tiles["awaiting"], home.today["orders"], home.today["revenue"]) == ("1", "1", "€42.00")
    assert home.live_tick() is None


async def test_the_queue_page_reads_the_url_pages_forward_and_back_and_retries_in_bulk(db_url, handler_events):
    from smplat.models.accounts import Role
    from smplat.ui.pages.admin.orders import OrderQueueState
    from tests.security.helpers import make_user, session_cookie, tab

    with session_scope() as db:
        made = [order(db, placed=NOW - timedelta(minutes=i), charged=100, email="q@example.com") for i in range(53)]
        item = db.execute(select(OrderItem).where(OrderItem.order_id == made[0].id)).scalar_one()
        db.add(FulfillmentTask(order_item_id=item.id, status=TaskStatus.DEAD_LETTER.value, idempotency_key="dl"))
    cookie = session_cookie(make_user("ops@smplat.local", Role.OPERATOR))
    queue = await tab(cookie, path="/admin/orders", query={"customer": "q@example.com"}).get_state(OrderQueueState)
    queue.load()
    assert queue.query == {"customer": "q@example.com"}
    assert [r["number"] for r in queue.rows] == [o.number for o in made[:50]]
    queue.next_page()
    assert [r["number"] for r in queue.rows] == [o.number for o in made[50:]] and queue.next_cursor == ""
    queue.previous_page()
    assert queue.rows[0]["number"] == made[0].number
    # a filter form submission becomes the URL (the tiles link to the same URLs)
    (redirect,) = handler_events(queue.apply_filters({"status": "all", "dead": "1", "q": ""}))
    assert "/admin/orders?dead=1" in str(redirect)
    # bulk retry: without a reason nothing moves; with one the ticked order's dead letter is queued
    first = f"pick-{made[0].id}"
    queue.bulk_retry({first: "on", "reason": " "})
    with session_scope() as db:
        assert db.execute(select(FulfillmentTask.status)).scalar_one() == TaskStatus.DEAD_LETTER.value
    queue.bulk_retry({first: "on", "reason": "provider is back"})
    with session_scope() as db:
        assert db.execute(select(FulfillmentTask.status)).scalar_one() == TaskStatus.PENDING.value
        (entry,) = db.execute(select(AuditLog).where(AuditLog.action == "dead_letter.retry")).scalars()
    assert entry.actor_label == "ops@smplat.local" and entry.data["data"]["reason"] == "provider is back"


def test_a_message_while_the_mail_server_is_down_is_recorded_and_queued_for_retry(db_url, monkeypatch):
    from smplat.models.notifications import NotificationMessage
    from tests.security.helpers import configure

    configure(monkeypatch, smtp_port=9)  # nothing listens there
    with session_scope() as db:
        o = order(db, placed=NOW - timedelta(hours=1), charged=100)
    with session_scope() as db:
        admin_orders.message_customer(db, OPERATOR, o.number, "Your order is late.")
    # the message is on the timeline and in the delivery log; the jobs process retries the email
    with session_scope() as db:
        assert db.execute(select(OrderEvent).where(OrderEvent.kind == "customer_message")).first() is not None
        (row,) = db.execute(select(NotificationMessage).where(NotificationMessage.kind == "shop_message")).scalars()
        assert (row.status, row.attempts) == ("queued", 1) and "connection refused" in row.last_error
