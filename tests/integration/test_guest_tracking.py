"""Guest orders: the signed tracking link (valid, expired, tampered, another order, revoked),
the receipt that carries it, and attaching guest orders to an account only after its email
is verified."""

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from smplat.db import session_scope
from smplat.models.base import utcnow
from smplat.models.orders import Order
from smplat.sandbox.smtp_sink import SmtpSink, list_messages
from smplat.services import accounts, order_tracking
from smplat.services.checkout.receipts import queue_receipt
from smplat.services.notifications import send_due
from smplat.settings import reset_settings_cache
from tests.fulfillment_factory import paid_order, product, seed_with_panel

pytestmark = pytest.mark.integration


@pytest.fixture
def guest_order(session, panel):
    seed_with_panel(session, panel.base_url)
    followers = product(session, "instagram-followers")
    return paid_order(session, [(followers, "https://instagram.com/guest", 500, 690)], email="guest@example.test")


@pytest.fixture
def sink(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    with SmtpSink("127.0.0.1", 0, tmp_path / "mailbox") as running:
        monkeypatch.setenv("SMPLAT_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("SMPLAT_SMTP_PORT", str(running.port))
        monkeypatch.setenv("SMPLAT_SMTP_STARTTLS", "false")
        monkeypatch.setenv("SMPLAT_PUBLIC_BASE_URL", "https://shop.example")
        reset_settings_cache()
        yield running
    reset_settings_cache()


def test_a_valid_link_opens_its_order_only(session, guest_order):
    token = order_tracking.tracking_token(guest_order)
    assert order_tracking.order_for_token(session, token).id == guest_order.id


def test_an_expired_link_opens_nothing(session, guest_order):
    issued = utcnow() - timedelta(days=91)
    token = order_tracking.tracking_token(guest_order, issued)  # valid for 90 days (the default)
    assert order_tracking.order_for_token(session, token, issued + timedelta(days=89)).id == guest_order.id
    assert order_tracking.order_for_token(session, token) is None


@pytest.mark.parametrize(
    "tamper",
    [
        lambda n, e, s: f"{n}.{int(e) + 86400}.{s}",  # a longer life
        lambda n, e, s: f"{n}.{e}.{s[:-2]}xx",  # a changed signature
        lambda n, e, s: f"{n}.{e}.",  # no signature
        lambda n, e, s: f"{n}.{e}",  # a part missing
        lambda n, e, s: f"{n}.{e}.{s}.{s}",  # an extra part
        lambda n, e, s: f"{n}.{e}.{s}" + "A" * 200,  # too long
        lambda n, e, s: "",
    ],
    ids=["expiry", "signature", "no-signature", "missing-part", "extra-part", "too-long", "empty"],
)
def test_a_tampered_link_opens_nothing(session, guest_order, tamper):
    number, expires, signature = order_tracking.tracking_token(guest_order).split(".")
    assert order_tracking.order_for_token(session, tamper(number, expires, signature)) is None


def test_a_link_signed_for_another_order_does_not_open_this_one(session, guest_order):
    followers = product(session, "instagram-followers")
    other = paid_order(session, [(followers, "https://instagram.com/other", 500, 690)], email="other@example.test")
    _, expires, signature = order_tracking.tracking_token(other).split(".")
    assert order_tracking.order_for_token(session, f"{guest_order.number}.{expires}.{signature}") is None


def test_revoking_invalidates_the_links_sent_so_far(session, guest_order):
    old = order_tracking.tracking_token(guest_order)
    order_tracking.revoke_tracking_links(session, guest_order)
    session.commit()
    assert order_tracking.order_for_token(session, old) is None
    assert order_tracking.order_for_token(session, order_tracking.tracking_token(guest_order)).id == guest_order.id


def test_the_guest_receipt_carries_a_working_tracking_link(sink, session, guest_order):
    # the receipt was queued with the order and sent after its commit; asking again sends no second one
    queue_receipt(session, guest_order.id)
    session.commit()
    send_due(session_scope, utcnow() + timedelta(hours=1))
    [message] = [m for m in list_messages(sink.mailbox_dir) if "receipt" in m.subject]
    link = next(w for w in message.text.split() if w.startswith("https://shop.example/track/"))
    token = link.removeprefix("https://shop.example/track/")
    assert order_tracking.order_for_token(session, token).id == guest_order.id
    assert "/account/orders" not in message.text  # a guest has no account to follow it in


def _owned(session, user_id: int) -> int:
    session.expire_all()
    return session.execute(select(func.count()).select_from(Order).where(Order.user_id == user_id)).scalar_one()


def test_guest_orders_attach_only_after_the_email_is_verified(session, guest_order, sink):
    # given a customer who signs up and in with the guest's email, not yet verified
    user = accounts.sign_up(session, email="guest@example.test", password="violet-harbour-42")
    session.commit()
    accounts.authenticate(session, email="guest@example.test", password="violet-harbour-42")
    session.commit()
    assert order_tracking.attach_guest_orders(session, user) == 0
    assert _owned(session, user.id) == 0
    # a wrong or reused link verifies nothing
    assert accounts.verify_email(session, "not-a-token") is None
    assert _owned(session, user.id) == 0
    # when they open the verification link from their mailbox
    raw = accounts.send_email_verification(session, user)
    [message] = [m for m in list_messages(sink.mailbox_dir) if m.subject.startswith("Confirm your email")]
    assert f"https://shop.example/verify-email?token={raw}" in message.text
    assert accounts.verify_email(session, raw).id == user.id
    session.commit()
    # then the guest order is theirs, and a second use of the link does nothing
    assert _owned(session, user.id) == 1
    assert accounts.verify_email(session, raw) is None
    # and a guest order placed later with that address attaches at the next sign-in
    followers = product(session, "instagram-followers")
    paid_order(session, [(followers, "https://instagram.com/later", 100, 500)], email="guest@example.test")
    accounts.authenticate(session, email="guest@example.test", password="violet-harbour-42")
    session.commit()
    assert _owned(session, user.id) == 2


def test_another_accounts_verification_attaches_nothing_of_this_email(session, guest_order, sink):
    other = accounts.sign_up(session, email="someone@example.test", password="violet-harbour-42")
    session.commit()
    raw = accounts.send_email_verification(session, other)
    accounts.verify_email(session, raw)
    session.commit()
    assert _owned(session, other.id) == 0
    session.expire_all()
    assert session.get(Order, guest_order.id).user_id is None


def test_a_confirmed_email_change_verifies_the_new_address_and_attaches_its_guest_orders(session, guest_order, sink):
    from smplat.services import account_settings

    # given a verified customer with another address
    user = accounts.sign_up(session, email="owner@example.test", password="violet-harbour-42")
    session.commit()
    accounts.verify_email(session, accounts.send_email_verification(session, user))
    session.commit()
    # when they ask to move to the guest's address, nothing attaches before the link is opened
    raw = account_settings.request_email_change(
        session, user_id=user.id, new_email="guest@example.test", current_password="violet-harbour-42"
    )
    session.commit()
    assert _owned(session, user.id) == 0
    # then opening the link (it proves the mailbox) verifies the address and attaches its guest orders
    account_settings.confirm_email_change(session, raw)
    session.expire_all()
    assert session.get(type(user), user.id).email_verified_at is not None
    assert _owned(session, user.id) == 1
