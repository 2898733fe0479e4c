"""Notifications end to end: templates rendered into real emails read back from the SMTP sink,
the delivery log (one row per event, nothing for a rolled-back event), preferences enforced,
retry with backoff after the sink was down, concurrent senders, the one-click unsubscribe, and
the events emitted where they happen (sign-up, status sync, the operator's message, Stripe's
payment failures). Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import socket
import threading
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from jobs.definitions import JOBS
from smplat.api.app import build_api
from smplat.db import session_scope
from smplat.models.accounts import User
from smplat.models.base import utcnow
from smplat.models.notifications import NotificationMessage, NotificationPreference, NotificationStatus
from smplat.models.orders import OrderItem
from smplat.sandbox.smtp_sink import SmtpSink, list_messages
from smplat.services import accounts, admin_orders, audit, notifications, order_tracking
from smplat.services.checkout import payment_events
from smplat.services.fulfillment import engine, status_sync
from smplat.services.notifications import NotificationError
from smplat.services.notifications import NotificationKind as K
from smplat.settings import reset_settings_cache
from tests.fulfillment_factory import paid_order, product, seed_with_panel

pytestmark = pytest.mark.integration

BASE = "https://shop.example"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed on exit: nothing listens there until a sink does


def _point_at(monkeypatch: pytest.MonkeyPatch, port: int, **extra: str) -> None:
    monkeypatch.setenv("SMPLAT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMPLAT_SMTP_PORT", str(port))
    monkeypatch.setenv("SMPLAT_SMTP_STARTTLS", "false")
    monkeypatch.delenv("SMPLAT_SMTP_USERNAME", raising=False)
    monkeypatch.delenv("SMPLAT_SMTP_PASSWORD", raising=False)
    monkeypatch.setenv("SMPLAT_MAIL_FROM", "Test Shop <no-reply@shop.example>")
    monkeypatch.setenv("SMPLAT_BRAND_NAME", "Test Shop")
    monkeypatch.setenv("SMPLAT_PUBLIC_BASE_URL", BASE)
    for name, value in extra.items():
        monkeypatch.setenv(f"SMPLAT_{name.upper()}", value)
    reset_settings_cache()


@pytest.fixture
def sink(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A running sink; only the jobs process's sender sends (no prompt send after commit), so
    each test decides when sending happens."""
    with SmtpSink("127.0.0.1", 0, tmp_path / "mailbox") as running:
        _point_at(monkeypatch, running.port, notifications_send_on_commit="false")
        yield running
    reset_settings_cache()


def _send(now=None) -> dict:
    """One run of the jobs process's `send_notifications` job (the function the scheduler calls)."""
    return dict(JOBS["send_notifications"].func(session_scope, now or utcnow()))


def _customer(db, email: str = "mia@example.test", name: str = "Mia") -> User:
    user = accounts.sign_up(db, email=email, password="violet-harbour-42", full_name=name)
    db.flush()
    return user


def _rows(db, **where) -> list[NotificationMessage]:
    db.expire_all()
    query = select(NotificationMessage).order_by(NotificationMessage.id)
    for name, value in where.items():
        query = query.where(getattr(NotificationMessage, name) == value)
    return list(db.execute(query).scalars())


# --- rendering -----------------------------------------------------------------------------


ORDER = {
    "number": "SMP-1001",
    "url": f"{BASE}/account/orders/SMP-1001",
    "total": "€12.00",
    "email": "mia@example.test",
    "user_id": 1,
    "items": [
        {
            "title": "Instagram Followers",
            "package": "1,000 followers",
            "quantity": 1,
            "unit": "followers",
            "ordered": "1,000",
            "delivered": "750",
            "fields": [{"label": "Profile link", "value": "https://instagram.com/<mia>"}],
            "total": "€12.00",
            "billing": "",
            "blueprint": [],
        }
    ],
}
CONTEXTS = {
    K.WELCOME: {"name": "Mia"},
    K.EMAIL_VERIFICATION: {"email": "mia@example.test", "verify_url": f"{BASE}/verify-email?token=t", "ttl_hours": 48},
    K.PASSWORD_RESET: {"email": "mia@example.test", "reset_url": f"{BASE}/reset-password?token=t", "ttl_minutes": 60},
    K.EMAIL_CHANGE: {"current_email": "old@example.test", "confirm_url": f"{BASE}/confirm-email?t=1", "ttl_minutes": 60},
    K.EMAIL_CHANGED: {"old_email": "old@example.test", "new_email": "mia@example.test"},
    K.ACCOUNT_EXPORTED: {"size": "12 KB"},
    K.PAYMENT_RECEIPT: {"order": ORDER},
    K.ORDER_STARTED: {"order": ORDER},
    K.ORDER_PARTIALLY_DELIVERED: {"order": ORDER, "refunded": "€3.00"},
    K.ORDER_COMPLETED: {"order": ORDER},
    K.REFILL_DONE: {"order": ORDER, "item_title": "Instagram Followers", "package": "1,000 followers"},
    K.PAYMENT_FAILED: {"renewal": True, "amount": "€9.00", "reason": "card declined", "product": "Autopilot", "action_url": f"{BASE}/account"},
    K.INVOICE_ISSUED: {"invoice_number": "2026-000001", "document": "invoice", "amount": "€12.00", "order_number": "SMP-1001", "download_url": f"{BASE}/api/invoices/1"},
    K.SHOP_MESSAGE: {"order": ORDER, "message": "Your order <b>is</b> late & we're on it."},
    K.WEEKLY_DIGEST: {"name": "Mia", "week_label": "2026-W48", "orders_placed": 2, "orders_completed": 1, "delivered_units": "1,500", "refills_done": 0, "profiles": []},
}  # fmt: skip


@pytest.mark.parametrize("kind", list(K), ids=[k.value for k in K])
def test_every_kind_renders_a_subject_a_text_and_a_branded_html_part(kind, monkeypatch):
    _point_at(monkeypatch, 1)

    rendered = notifications.render(kind, CONTEXTS[kind])

    assert rendered.subject and "\n" not in rendered.subject
    assert rendered.text.endswith("The Test Shop team\n")
    assert rendered.html.startswith("<!DOCTYPE html>") and f'<a href="{BASE}/"' in rendered.html
    assert "{{" not in rendered.text + rendered.html and "{%" not in rendered.text + rendered.html


def test_html_escapes_what_the_text_part_keeps_as_written(monkeypatch):
    _point_at(monkeypatch, 1)

    rendered = notifications.render(K.SHOP_MESSAGE, CONTEXTS[K.SHOP_MESSAGE])

    assert "Your order <b>is</b> late & we're on it." in rendered.text
    assert "Your order &lt;b&gt;is&lt;/b&gt; late &amp; we&#39;re on it." in rendered.html
    assert "<b>is</b>" not in rendered.html
    assert rendered.subject == "About your order SMP-1001"


def test_an_unknown_kind_is_refused_and_queues_nothing(sink, session):
    with pytest.raises(NotificationError):
        notifications.notify(session, "coupon_blast", recipient="a@example.test", event_key="x:1")
    assert _rows(session) == []


# --- the customer's order in their words, from the database to the mailbox ---------------------


def test_a_receipt_reaches_the_customer_with_both_parts_and_a_link_to_their_order(sink, session, panel):
    # given a signed-up customer who pays an order
    seed_with_panel(session, panel.base_url)
    user = _customer(session)
    session.commit()
    order = paid_order(
        session,
        [(product(session, "instagram-followers"), "https://instagram.com/mia", 1000, 1200)],
        user_id=user.id,
        email=user.email,
    )
    # the receipt is queued with the order, not sent yet
    (receipt,) = _rows(session, kind=K.PAYMENT_RECEIPT.value)
    assert (receipt.status, receipt.event_key, receipt.user_id) == (
        "queued",
        f"payment_receipt:order:{order.id}",
        user.id,
    )
    assert list_messages(sink.mailbox_dir) == []

    # when the jobs process sends
    counts = _send()

    # then one email each (receipt, invoice, welcome), logged as sent with the server's message id
    assert counts == {"sent": 3, "retry": 0, "failed": 0, "claimed_elsewhere": 0, "deferred": 0}
    [mail] = [m for m in list_messages(sink.mailbox_dir) if "receipt" in m.subject]
    assert mail.subject == f"Your Test Shop receipt for order {order.number}"
    assert mail.to == [user.email] and mail.headers["From"] == "Test Shop <no-reply@shop.example>"
    assert "Instagram Followers" in mail.text and "1000 on https://instagram.com/mia" in mail.text
    assert "Link: https://instagram.com/mia" in mail.text  # the field's label, never the key alone
    assert "Total paid: €12.00" in mail.text and "<strong>Total paid: €12.00</strong>" in mail.html
    link = f"{BASE}/account/orders/{order.number}"
    assert link in mail.text and f'href="{link}"' in mail.html
    (receipt,) = _rows(session, kind=K.PAYMENT_RECEIPT.value)
    assert (receipt.status, receipt.attempts, receipt.provider_message_id) == ("sent", 1, mail.headers["Message-ID"])
    # and a second run sends nothing again
    assert _send()["sent"] == 0
    assert len(list_messages(sink.mailbox_dir)) == 3


def test_a_guests_receipt_links_to_a_tracking_page_that_opens_their_order(sink, session, panel):
    seed_with_panel(session, panel.base_url)
    order = paid_order(
        session,
        [(product(session, "instagram-followers"), "https://instagram.com/g", 500, 690)],
        email="g@example.test",
    )

    _send()

    [mail] = [m for m in list_messages(sink.mailbox_dir) if "receipt" in m.subject]
    link = next(w for w in mail.text.split() if w.startswith(f"{BASE}/track/"))
    assert order_tracking.order_for_token(session, link.removeprefix(f"{BASE}/track/")).id == order.id
    assert f'href="{link}"' in mail.html and "/account/orders" not in mail.text


# --- one row per event; nothing for a rolled-back event ---------------------------------------


def test_notifying_the_same_event_twice_queues_and_sends_one_email(sink, session):
    user = _customer(session)
    for _ in range(2):
        notifications.notify(session, K.WELCOME, user=user, context={"name": "Mia"}, event_key="campaign:welcome:1")
    session.commit()

    _send()

    assert len(_rows(session, event_key="campaign:welcome:1")) == 1
    assert [m.subject for m in list_messages(sink.mailbox_dir)].count("Welcome to Test Shop") == 2  # sign-up's + this


def test_a_rolled_back_event_leaves_no_row_and_sends_nothing(sink, session):
    user = _customer(session)
    session.commit()
    notifications.notify(
        session, K.ORDER_STARTED, user=user, context={"order": ORDER}, event_key="order_started:order:9"
    )
    session.rollback()

    _send()

    assert _rows(session, kind=K.ORDER_STARTED.value) == []
    assert [m.subject for m in list_messages(sink.mailbox_dir)] == ["Welcome to Test Shop"]


# --- preferences ------------------------------------------------------------------------------


def test_an_opted_out_kind_is_logged_as_skipped_and_sends_nothing(sink, session):
    user = _customer(session)
    notifications.set_preference(session, user.id, K.ORDER_COMPLETED, "email", False)
    session.commit()

    row = notifications.notify(session, K.ORDER_COMPLETED, user=user, context={"order": ORDER}, event_key="oc:1")
    session.commit()
    counts = _send()

    assert (row.status, row.last_error) == ("skipped", "turned off by the customer")
    assert counts["sent"] == 1  # the welcome only
    assert [m.subject for m in list_messages(sink.mailbox_dir)] == ["Welcome to Test Shop"]


def test_a_receipt_goes_even_when_a_stored_preference_says_off(sink, session):
    # given a preference row that says off for receipts (written around the service, which refuses it)
    user = _customer(session)
    session.add(NotificationPreference(user_id=user.id, kind=K.PAYMENT_RECEIPT.value, channel="email", enabled=False))
    session.commit()
    with pytest.raises(NotificationError, match="Receipts always go"):
        notifications.set_preference(session, user.id, K.PAYMENT_RECEIPT, "email", False)

    notifications.notify(session, K.PAYMENT_RECEIPT, user=user, context={"order": ORDER}, event_key="r:1")
    session.commit()
    _send()

    assert "Your Test Shop receipt for order SMP-1001" in [m.subject for m in list_messages(sink.mailbox_dir)]


def test_the_preferences_list_shows_locked_kinds_with_their_reason(sink, session):
    user = _customer(session)
    notifications.set_preference(session, user.id, K.WEEKLY_DIGEST, "email", False)
    session.commit()

    rows = {r["kind"]: r for r in notifications.preferences(session, user.id)}

    assert rows["weekly_digest"]["channels"][0] == {
        "channel": "email",
        "enabled": False,
        "locked": False,
        "available": True,
    }
    assert rows["order_completed"]["channels"][0]["enabled"] is True
    assert rows["payment_receipt"]["always_reason"] == "Receipts always go."
    assert rows["payment_receipt"]["channels"][0] == {
        "channel": "email",
        "enabled": True,
        "locked": True,
        "available": True,
    }
    assert rows["order_completed"]["channels"][1] == {
        "channel": "webhook",
        "enabled": False,
        "locked": True,
        "available": False,
    }
    assert "password_reset" not in rows


# --- retries and concurrent senders ------------------------------------------------------------


def test_a_message_is_retried_with_backoff_after_the_sink_was_down_and_sent_once(
    db_url, tmp_path, monkeypatch, session
):
    # given the SMTP server is down
    port = _free_port()
    _point_at(monkeypatch, port, notifications_send_on_commit="false")
    user = _customer(session)
    session.commit()
    now = utcnow()

    # when the sender runs: the attempt fails, the row waits 60 s, then 120 s
    assert _send(now)["retry"] == 1
    (row,) = _rows(session)
    assert (row.status, row.attempts) == ("queued", 1)
    assert row.next_attempt_at == now + timedelta(seconds=60)
    assert "connection refused" in row.last_error
    assert _send(now + timedelta(seconds=30)) == {
        "sent": 0,
        "retry": 0,
        "failed": 0,
        "claimed_elsewhere": 0,
        "deferred": 0,
    }
    assert _send(now + timedelta(seconds=61))["retry"] == 1
    (row,) = _rows(session)
    assert (row.attempts, row.next_attempt_at) == (2, now + timedelta(seconds=61 + 120))

    # then the server is back: the next due run sends it, once
    with SmtpSink("127.0.0.1", port, tmp_path / "mailbox") as back:
        assert _send(now + timedelta(seconds=182))["sent"] == 1
        assert _send(now + timedelta(hours=5))["sent"] == 0
        mails = list_messages(back.mailbox_dir)
    assert [(m.to, m.subject) for m in mails] == [([user.email], "Welcome to Test Shop")]
    (row,) = _rows(session)
    assert (row.status, row.attempts, row.last_error) == ("sent", 3, "")


def _shop_messages(db, user: User, count: int) -> None:
    """Queue `count` messages from the shop to `user`: "m0", "m1", … (one event each)."""
    for n in range(count):
        notifications.notify(
            db, K.SHOP_MESSAGE, user=user, context={"order": ORDER, "message": f"m{n}"}, event_key=f"m:{n}"
        )


def test_while_the_server_is_down_a_run_tries_once_and_leaves_the_rest_queued(db_url, tmp_path, monkeypatch, session):
    # given five messages queued and the SMTP server down
    port = _free_port()
    _point_at(monkeypatch, port, notifications_send_on_commit="false")
    _shop_messages(session, _customer(session), 4)
    session.commit()
    now = utcnow()

    # when the sender runs: one connection attempt, the others untouched (a stop is not held up)
    started = time.monotonic()
    assert _send(now) == {"sent": 0, "retry": 1, "failed": 0, "claimed_elsewhere": 0, "deferred": 4}
    assert time.monotonic() - started < 5
    rows = _rows(session)
    assert [(r.status, r.attempts) for r in rows] == [("queued", 1)] + [("queued", 0)] * 4
    assert "connection refused" in rows[0].last_error and not any(r.last_error for r in rows[1:])

    # then the server is back: every message goes out once, the first after its backoff
    with SmtpSink("127.0.0.1", port, tmp_path / "mailbox") as back:
        assert _send(now + timedelta(seconds=1))["sent"] == 4
        assert _send(now + timedelta(seconds=61))["sent"] == 1
        assert _send(now + timedelta(hours=5))["sent"] == 0
        assert len(list_messages(back.mailbox_dir)) == 5
    assert {r.status for r in _rows(session)} == {"sent"}


def test_a_message_is_marked_failed_after_the_last_attempt(db_url, monkeypatch, session):
    _point_at(monkeypatch, _free_port(), notifications_send_on_commit="false", notifications_max_attempts="2")
    _customer(session)
    session.commit()
    now = utcnow()

    _send(now)
    counts = _send(now + timedelta(hours=1))

    assert counts["failed"] == 1
    (row,) = _rows(session)
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", 2, None)


def test_the_job_records_a_run_that_gave_up_as_failed(db_url, monkeypatch, session):
    from jobs.definitions import run_job

    _point_at(monkeypatch, _free_port(), notifications_send_on_commit="false", notifications_max_attempts="1")
    _customer(session)
    session.commit()

    run = run_job("send_notifications")

    assert (run.outcome, run.counts) == (
        "failed",
        {"sent": 0, "retry": 0, "failed": 1, "claimed_elsewhere": 0, "deferred": 0},
    )
    (row,) = _rows(session)
    assert row.status == "failed" and "connection refused" in row.last_error


def test_two_senders_at_once_send_each_message_exactly_once(sink, session):
    # given 30 queued messages
    _shop_messages(session, _customer(session), 30)
    session.commit()
    now = utcnow()
    results: list[dict] = []
    barrier = threading.Barrier(3)

    def sender() -> None:
        barrier.wait()
        results.append(notifications.send_due(session_scope, now))

    # when three senders run at the same moment
    threads = [threading.Thread(target=sender) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    # then every message went out exactly once
    assert sum(r["sent"] for r in results) == 31
    texts = [m.text.split("\n", 1)[0] for m in list_messages(sink.mailbox_dir) if m.subject.startswith("About")]
    assert sorted(texts) == sorted(f"m{n}" for n in range(30))
    assert {r.status for r in _rows(session)} == {"sent"}
    assert {r.attempts for r in _rows(session)} == {1}


def test_a_claim_held_by_a_sender_that_died_is_taken_over_after_the_lease(sink, session):
    user = _customer(session)
    session.commit()
    (row,) = _rows(session)
    now = utcnow()
    with session_scope() as db:
        assert notifications.claim(db, row.id, now)  # a sender claims it, then dies
    with session_scope() as db:
        assert not notifications.claim(db, row.id, now + timedelta(seconds=10))

    assert _send(now + timedelta(seconds=10))["sent"] == 0
    assert _send(now + timedelta(minutes=6))["sent"] == 1
    assert [m.to for m in list_messages(sink.mailbox_dir)] == [[user.email]]


# --- the one-click unsubscribe ------------------------------------------------------------------


def test_the_digest_carries_a_one_click_unsubscribe_link_and_headers_that_work(sink, session):
    user = _customer(session)
    session.commit()
    notifications.notify(session, K.WEEKLY_DIGEST, user=user, context=CONTEXTS[K.WEEKLY_DIGEST], event_key="d:1")
    session.commit()
    _send()
    [mail] = [m for m in list_messages(sink.mailbox_dir) if m.subject.startswith("Your week")]

    # the headers, and the same link in both parts
    assert mail.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = mail.headers["List-Unsubscribe"].strip("<>")
    assert url.startswith(f"{BASE}/api/notifications/unsubscribe?token=")
    assert f"Unsubscribe with one click: {url}" in mail.text and f'href="{url}"' in mail.html
    assert "- Units delivered: 1,500" in mail.text
    target = urlsplit(url)
    with TestClient(build_api()) as client:
        # a GET (a link scanner, a preview) only shows the button
        page = client.get(f"{target.path}?{target.query}")
        assert page.status_code == 200 and 'id="unsubscribe-confirm"' in page.text
        assert notifications.is_enabled(session, user.id, K.WEEKLY_DIGEST)
        # the mail provider's one-click POST (RFC 8058), no cookie, no sign-in
        done = client.post(
            f"{target.path}?{target.query}",
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert done.status_code == 200 and "You are unsubscribed" in done.text
        # a changed token does nothing
        bad = client.post(f"{target.path}?{target.query[:-2]}xx")
        assert bad.status_code == 400
    session.expire_all()
    assert not notifications.is_enabled(session, user.id, K.WEEKLY_DIGEST)
    assert notifications.is_enabled(session, user.id, K.ORDER_COMPLETED)
    # and next week's digest is logged as skipped, not sent
    row = notifications.notify(session, K.WEEKLY_DIGEST, user=user, context=CONTEXTS[K.WEEKLY_DIGEST], event_key="d:2")
    session.commit()
    assert row.status == "skipped" and _send()["sent"] == 0


def test_transactional_mail_has_no_unsubscribe_header(sink, session):
    _customer(session)
    session.commit()
    _send()
    [mail] = list_messages(sink.mailbox_dir)
    assert "List-Unsubscribe" not in mail.headers
    assert f"{BASE}/account/notifications" in mail.text  # where to choose, instead


# --- the events, where they happen ---------------------------------------------------------------


def test_sign_up_queues_a_welcome_with_the_account(sink, session):
    user = _customer(session, name="Mia Rossi")
    session.commit()
    _send()
    [mail] = list_messages(sink.mailbox_dir)
    assert (mail.to, mail.subject) == ([user.email], "Welcome to Test Shop")
    assert mail.text.startswith("Hello Mia Rossi,") and f"{BASE}/account" in mail.text


def test_status_sync_tells_the_customer_the_order_started_and_completed_once_each(sink, session, panel):
    # given a customer's order the panel delivers over two polls
    panel.state.set_knobs(polls_to_complete=2)
    seed_with_panel(session, panel.base_url)
    user = _customer(session)
    session.commit()
    order = paid_order(
        session, [(product(session, "instagram-followers"), "https://instagram.com/mia", 500, 690)], user_id=user.id
    )
    engine.run_fulfillment(session_scope)

    # when status sync polls three times (in progress, completed, nothing new)
    for _ in range(3):
        status_sync.sync_statuses(session_scope)
    _send()

    # then the customer got "started" and "completed", once each, in their words
    kinds = [r.kind for r in _rows(session, user_id=user.id)]
    assert sorted(kinds) == sorted(["welcome", "payment_receipt", "invoice_issued", "order_started", "order_completed"])
    mails = {m.subject: m for m in list_messages(sink.mailbox_dir)}
    started = mails[f"Your order {order.number} has started"]
    assert "Instagram Followers" in started.text and "Link: https://instagram.com/mia" in started.text
    done = mails[f"Your order {order.number} is complete"]
    assert "Delivered: 500 of 500 followers" in done.text
    assert f'href="{BASE}/account/orders/{order.number}"' in done.html


def test_a_partial_delivery_is_told_with_what_was_delivered(sink, session, panel, monkeypatch):
    monkeypatch.setenv("SMPLAT_FULFILLMENT_PARTIAL_POLICY", "refund")
    reset_settings_cache()
    panel.state.set_knobs(partial_links=["https://instagram.com/part"], partial_ratio=0.25)
    seed_with_panel(session, panel.base_url)
    order = paid_order(
        session,
        [(product(session, "instagram-followers"), "https://instagram.com/part", 400, 800)],
        email="p@example.test",
    )
    engine.run_fulfillment(session_scope)
    status_sync.sync_statuses(session_scope)
    _send()

    (row,) = _rows(session, kind=K.ORDER_PARTIALLY_DELIVERED.value)
    assert (row.recipient, row.event_key) == ("p@example.test", f"order_partially_delivered:order:{order.id}")
    mail = next(m for m in list_messages(sink.mailbox_dir) if "partly delivered" in m.subject)
    item = session.execute(select(OrderItem).where(OrderItem.order_id == order.id)).scalar_one()
    assert f"Delivered: {item.delivered_quantity:,} of 400 followers" in mail.text


def test_an_operators_message_is_logged_and_sent_after_commit(sink, session, panel):
    seed_with_panel(session, panel.base_url)
    order = paid_order(
        session,
        [(product(session, "instagram-followers"), "https://instagram.com/x", 500, 690)],
        email="x@example.test",
    )
    operator = audit.Actor.staff(None, "ops@smplat.local", "operator", "198.51.100.4")

    with session_scope() as db:
        admin_orders.message_customer(db, operator, order.number, "Your order is <late>, sorry.")
    _send()

    mail = next(m for m in list_messages(sink.mailbox_dir) if m.subject == f"About your order {order.number}")
    assert mail.to == ["x@example.test"] and mail.text.startswith("Your order is <late>, sorry.\n")
    assert "Your order is &lt;late&gt;, sorry." in mail.html


def test_a_message_while_smtp_is_down_is_recorded_and_goes_out_when_it_is_back(
    db_url, session, panel, monkeypatch, tmp_path
):
    port = _free_port()
    _point_at(monkeypatch, port)  # the prompt send after commit is on (the default)
    seed_with_panel(session, panel.base_url)
    order = paid_order(
        session,
        [(product(session, "instagram-followers"), "https://instagram.com/y", 500, 690)],
        email="y@example.test",
    )
    operator = audit.Actor.staff(None, "ops@smplat.local", "operator", "198.51.100.4")

    with session_scope() as db:
        admin_orders.message_customer(db, operator, order.number, "Late, sorry.")

    (row,) = _rows(session, kind=K.SHOP_MESSAGE.value)
    assert (row.status, row.attempts) == ("queued", 1) and "connection refused" in row.last_error
    with SmtpSink("127.0.0.1", port, tmp_path / "mailbox") as back:
        _send(utcnow() + timedelta(minutes=5))
        subjects = [m.subject for m in list_messages(back.mailbox_dir)]
    assert subjects.count(f"About your order {order.number}") == 1


def test_a_failed_renewal_and_a_failed_checkout_payment_tell_the_customer_once(sink, session):
    user = _customer(session)
    session.commit()
    invoice = {
        "id": "in_test_1",
        "subscription": "sub_unknown",
        "customer_email": user.email,
        "billing_reason": "subscription_cycle",
        "amount_due": 900,
        "currency": "eur",
        "attempt_count": 1,
        "last_finalization_error": {"message": "Your card was declined."},
    }
    payment_events.renewal_payment_failed(session, invoice)
    payment_events.renewal_payment_failed(session, invoice)  # the same event delivered again
    session.commit()
    _send()

    [mail] = [m for m in list_messages(sink.mailbox_dir) if "renew" in m.subject]
    assert mail.subject == "We could not renew your Test Shop subscription"
    assert "We could not charge €9.00" in mail.text and "Your card was declined." in mail.text
    assert len(_rows(session, kind=K.PAYMENT_FAILED.value)) == 1


def test_the_delivery_log_counts_one_row_per_message(sink, session):
    _customer(session, "a@example.test")
    _customer(session, "b@example.test")
    session.commit()
    _send()
    assert session.execute(select(func.count()).select_from(NotificationMessage)).scalar_one() == 2
    assert {r.status for r in _rows(session)} == {NotificationStatus.SENT.value}


# --- the weekly digest -----------------------------------------------------------------------------


def test_the_weekly_digest_counts_the_customers_week_exactly_and_is_sent_once(sink, session, panel):
    from smplat.models.orders import Order
    from smplat.models.profiles import LinkedProfile, ProfileSnapshot
    from smplat.services import digest

    # given the job runs early next Monday: the week being summarised is this one
    now = utcnow()
    week = digest.last_complete_week(now + timedelta(days=7))
    assert week.start <= now < week.end
    run_at = week.end + timedelta(hours=1)
    seed_with_panel(session, panel.base_url)
    followers = product(session, "instagram-followers")
    mia = _customer(session, "mia@example.test", "Mia")
    quiet = _customer(session, "quiet@example.test", "Quiet")
    away = _customer(session, "away@example.test", "Away")
    notifications.set_preference(session, away.id, K.WEEKLY_DIGEST, "email", False)
    session.commit()
    # Mia: two orders placed this week (500 + 300 followers), one placed last week (100); all delivered this week
    for link, units in (("https://instagram.com/mia", 500), ("https://instagram.com/mia2", 300)):
        paid_order(session, [(followers, link, units, 690)], user_id=mia.id, email=mia.email)
    old = paid_order(session, [(followers, "https://instagram.com/old", 100, 200)], user_id=mia.id, email=mia.email)
    session.get(Order, old.id).created_at = week.start - timedelta(days=2)
    paid_order(session, [(followers, "https://instagram.com/away", 100, 200)], user_id=away.id, email=away.email)
    session.commit()
    engine.run_fulfillment(session_scope)
    status_sync.sync_statuses(session_scope)
    # a linked profile: 1,000 followers before the week, 1,250 at its end
    profile = LinkedProfile(user_id=mia.id, handle="mia", status="ok")
    session.add(profile)
    session.flush()
    for taken_at, count in (
        (week.start - timedelta(days=1), 1000),
        (week.start + timedelta(days=2), 1100),
        (now, 1250),
    ):
        session.add(ProfileSnapshot(profile_id=profile.id, taken_at=taken_at, followers=count))
    session.commit()

    # when the digest job runs (twice: it runs hourly) and the sender sends
    first = dict(JOBS["weekly_digest"].func(session_scope, run_at))
    second = dict(JOBS["weekly_digest"].func(session_scope, run_at + timedelta(hours=1)))
    _send(run_at)

    # then Mia gets one digest with exact numbers; the quiet and the opted-out customer none
    customers = session.execute(select(func.count()).select_from(User).where(User.role == "customer")).scalar_one()
    quiet_ones = customers - 2  # `quiet` and the seed's demo customer: no order, no profile
    assert quiet_ones == 2
    assert first == {"queued": 1, "already_sent": 0, "opted_out": 1, "nothing_to_say": quiet_ones}
    assert second == {"queued": 0, "already_sent": 1, "opted_out": 1, "nothing_to_say": quiet_ones}
    digests = [m for m in list_messages(sink.mailbox_dir) if m.subject.startswith("Your week at Test Shop")]
    assert [m.to for m in digests] == [[mia.email]]
    text = digests[0].text
    dates = f"{week.start:%d %b} – {week.end - timedelta(days=1):%d %b %Y}"
    assert digests[0].subject == f"Your week at Test Shop: {dates}"
    assert f"Here is your week ({dates}):" in text
    assert "- Orders placed: 2\n" in text
    assert "- Orders completed: 3\n" in text
    assert "- Units delivered: 900\n" in text
    assert "- Refills done: 0\n" in text
    assert "- @mia (Instagram): 1,250 followers (+250 this week)\n" in text
    assert "<strong>1,250</strong> followers (+250)" in digests[0].html
    (row,) = _rows(session, kind=K.WEEKLY_DIGEST.value)
    assert row.event_key == f"weekly_digest:user:{mia.id}:{week.label}"
    assert quiet.id not in {r.user_id for r in _rows(session, kind=K.WEEKLY_DIGEST.value)}
