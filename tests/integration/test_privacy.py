"""The customer's data (GDPR): the export holds every kind of data (asserted per kind) and is
served only to its owner; deletion anonymises, ends every session, cancels the subscription at
Stripe and keeps orders and payments; the purge job removes them once past retention. Real
Stripe sandbox over HTTP, real SMTP sink, both databases."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from jobs.definitions import run_job
from smplat.api.app import build_api
from smplat.db import session_scope
from smplat.models.accounts import LoginAttempt, User, UserSession
from smplat.models.audit import AuditLog
from smplat.models.base import utcnow
from smplat.models.merchandising import SavedConfiguration
from smplat.models.notifications import NotificationMessage
from smplat.models.orders import Order, OrderItem
from smplat.models.payments import Payment, Subscription
from smplat.models.profiles import LinkedProfile, ProfileSnapshot
from smplat.sandbox.smtp_sink import list_messages
from smplat.services import accounts, carts, privacy, two_factor
from smplat.services.checkout import placement
from smplat.services.errors import ServiceError
from smplat.settings import get_settings
from tests.checkout_factory import POPULAR

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery staple"
AUTOPILOT = {
    "options": {"package": "1000", "speed": "standard"},
    "add_ons": [],
    "plan": "monthly",
    "fields": {"username": "@brand"},
}


def _count(model, *where) -> int:
    with session_scope() as db:
        return db.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def _buy(shop, client, user_id: int, email: str, slug: str, configuration: dict) -> None:
    with session_scope() as db:
        cart = carts.get_or_create_cart(db, user_id=user_id, guest_token=None)
        carts.add_item(db, cart, slug, configuration, 1, visitor=f"user:{user_id}")
        cs = placement.start_checkout(
            db, cart, customer_email=email, user_id=user_id, visitor=f"user:{user_id}", base_url="http://shop.test"
        )
    seen = len(shop.sandbox.events)
    shop.pay(cs)
    for event in list(shop.sandbox.events)[seen:]:
        assert shop.post(client, event).status_code == 200


def _customer_with_everything(shop, client, email: str = "alex@example.test") -> tuple[int, str]:
    """A customer with an order, a subscription, a linked profile with a snapshot, a saved
    configuration, a sign-in attempt, an audit entry about them and a session. Returns (id, cookie)."""
    with session_scope() as db:
        user = accounts.sign_up(db, email=email, password=PASSWORD, full_name="Alex Example")
        user_id = user.id
        token = accounts.redeem_signin_ticket(db, accounts.issue_signin_ticket(db, user)).token
        profile = LinkedProfile(user_id=user_id, handle="alexphotos", display_name="Alex Photos")
        db.add(profile)
        db.flush()
        db.add(ProfileSnapshot(profile_id=profile.id, taken_at=utcnow(), followers=1234, following=56, posts=7))
        from smplat.models.catalog import Product

        product_id = db.execute(select(Product.id).where(Product.slug == "instagram-followers")).scalar_one()
        db.add(SavedConfiguration(user_id=user_id, product_id=product_id, name="My usual", configuration=POPULAR))
        db.add(AuditLog(action="user.role_change", entity_type="user", entity_id=str(user_id), data={"by": "admin"}))
    with session_scope() as db:  # written in its own transaction
        accounts.record_attempt(db, email=email, ip_address="127.0.0.1", succeeded=True)
    _buy(shop, client, user_id, email, "instagram-followers", POPULAR)
    _buy(shop, client, user_id, email, "instagram-growth-autopilot", AUTOPILOT)
    return user_id, token


def _export(client, token: str) -> zipfile.ZipFile:
    answer = client.get("/api/account/export", cookies={get_settings().session_cookie_name: token})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    assert answer.headers["cache-control"] == "no-store"
    return zipfile.ZipFile(io.BytesIO(answer.content))


def test_export_contains_every_kind_of_data_and_no_secret(stripe_shop) -> None:
    shop = stripe_shop
    with TestClient(build_api()) as client:
        user_id, token = _customer_with_everything(shop, client)
        archive = _export(client, token)
    names = set(archive.namelist())
    data = {n[len("data/") : -len(".json")]: json.loads(archive.read(n)) for n in names if n.startswith("data/")}
    account = json.loads(archive.read("account.json"))
    assert (account["email"], account["full_name"]) == ("alex@example.test", "Alex Example")
    assert "password_hash" not in account and "two_factor_secret" not in account
    # per kind of data
    assert len(data["orders"]) == 2 and {o["user_id"] for o in data["orders"]} == {user_id}
    assert sorted(i["product_title"] for i in data["order_items"]) == [
        "Instagram Followers",
        "Instagram Growth Autopilot",
    ]
    assert all(i["snapshot"]["fields"] for i in data["order_items"])  # what they typed, as bought
    assert sorted(p["amount_minor"] for p in data["payments"]) == sorted(o["charged_minor"] for o in data["orders"])
    assert len(data["payment_events"]) == 2
    assert len(data["fulfillment_tasks"]) == 2
    assert len(data["order_events"]) >= 2
    assert len(data["checkout_sessions"]) == 2
    assert [s["status"] for s in data["subscriptions"]] == ["active"]
    assert [p["handle"] for p in data["linked_profiles"]] == ["alexphotos"]
    assert [s["followers"] for s in data["profile_snapshots"]] == [1234]
    assert [c["name"] for c in data["saved_configurations"]] == ["My usual"]
    assert len(data["user_sessions"]) == 1 and "token_hash" not in data["user_sessions"][0]
    assert [a["email"] for a in data["login_attempts"]] == ["alex@example.test"]
    assert "user.role_change" in {a["action"] for a in data["audit_logs"]}
    readme = archive.read("README.txt").decode()
    assert "data/orders.json  2 rows" in readme and "alex@example.test" in readme
    for rows in data.values():  # no secret anywhere
        for row in rows:
            assert not any(k.endswith("_hash") or "secret" in k or "token" in k for k in row)
    # recorded and confirmed
    with session_scope() as db:
        assert db.execute(select(AuditLog).where(AuditLog.action == "account.export")).scalars().one().entity_id == str(
            user_id
        )
    assert any(m.subject.endswith("data export") for m in list_messages(shop.sink.mailbox_dir))


def test_export_is_served_only_to_its_owner(stripe_shop) -> None:
    shop = stripe_shop
    with TestClient(build_api()) as client:
        _customer_with_everything(shop, client)
        with session_scope() as db:
            other = accounts.sign_up(db, email="other@example.test", password=PASSWORD)
            other_token = accounts.redeem_signin_ticket(db, accounts.issue_signin_ticket(db, other)).token
        assert client.get("/api/account/export").status_code == 401  # a visitor
        archive = _export(client, other_token)  # the other customer gets theirs, nothing of Alex's
        everything = b"".join(archive.read(n) for n in archive.namelist())
        assert b"alex@example.test" not in everything and b"alexphotos" not in everything
        orders = json.loads(archive.read("data/orders.json")) if "data/orders.json" in archive.namelist() else []
        assert orders == []
        # the owner asking with a forged query for another id still gets only their own
        assert (
            client.get(
                f"/api/account/export?user_id={1}", cookies={get_settings().session_cookie_name: other_token}
            ).status_code
            == 200
        )


def test_delete_anonymises_ends_sessions_cancels_the_subscription_and_keeps_bookkeeping(stripe_shop) -> None:
    shop = stripe_shop
    with TestClient(build_api()) as client:
        user_id, token = _customer_with_everything(shop, client)
        orders_before = _count(Order)
        with session_scope() as db:
            second = accounts.redeem_signin_ticket(db, accounts.issue_signin_ticket(db, db.get(User, user_id))).token
            with pytest.raises(ServiceError) as wrong:
                privacy.delete_account(db, user_id, "not my password")
            assert wrong.value.field == "password"
        assert _count(LinkedProfile) == 1  # bad input changed nothing
        with session_scope() as db:
            result = privacy.delete_account(db, user_id, PASSWORD, ip_address="127.0.0.1")
        assert result.sessions_ended == 2
        # signed out everywhere
        with session_scope() as db:
            assert accounts.resolve_session(db, token) is None and accounts.resolve_session(db, second) is None
        assert client.get("/api/account/export", cookies={get_settings().session_cookie_name: token}).status_code == 401
        # the subscription was cancelled at Stripe
        (sub_id,) = list(shop.sandbox.subscriptions)
        assert shop.sandbox.subscriptions[sub_id]["status"] == "canceled"
    with session_scope() as db:
        user = db.get(User, user_id)
        assert (user.email, user.full_name, user.is_active) == (privacy.placeholder_email(user_id), "", False)
        assert user.deleted_at is not None and not accounts.verify_password(user.password_hash, PASSWORD)
        assert _count(UserSession, UserSession.user_id == user_id) == 0
        assert _count(LinkedProfile) == _count(ProfileSnapshot) == _count(SavedConfiguration) == 0
        assert _count(LoginAttempt, LoginAttempt.email == "alex@example.test") == 0
        # bookkeeping kept, without the person
        orders = db.execute(select(Order).where(Order.user_id == user_id)).scalars().all()
        assert len(orders) == orders_before == 2
        assert {o.customer_email for o in orders} == {privacy.placeholder_email(user_id)}
        assert _count(Payment) == 2
        items = db.execute(select(OrderItem)).scalars().all()
        assert {i.snapshot["fields"].get("username") for i in items} == {privacy.PLACEHOLDER}
        assert all(i.snapshot["delivery"]["link"] == privacy.PLACEHOLDER for i in items)
        assert db.execute(select(Subscription.status)).scalar_one() == "canceled"
        entry = db.execute(select(AuditLog).where(AuditLog.action == "account.delete")).scalars().one()
        assert entry.entity_id == str(user_id) and entry.data["data"]["kept"]["orders"] == 2
    everything = json.dumps([list(r) for r in _all_rows_mentioning("alex@example.test")])
    assert everything == "[]", everything
    (confirmation,) = [m for m in list_messages(shop.sink.mailbox_dir) if "account is deleted" in m.subject]
    assert confirmation.to == ["alex@example.test"]


def _all_rows_mentioning(needle: str) -> list:
    """Rows of the account's kept tables (and the delivery log) that still contain the customer's email."""
    with session_scope() as db:
        found = []
        for model in (User, Order, OrderItem, Payment, Subscription, NotificationMessage):
            for row in db.execute(select(model)).scalars():
                if needle in json.dumps(row.model_dump(), default=str):
                    found.append((model.__tablename__, row.id))
        return found


def test_delete_with_two_factor_needs_a_current_code(stripe_shop) -> None:
    with session_scope() as db:
        user = accounts.sign_up(db, email="safe@example.test", password=PASSWORD)
        secret = pyotp.random_base32()
        two_factor.enable_with_secret(db, user.id, secret)
        user_id = user.id
    with session_scope() as db, pytest.raises(ServiceError) as missing:
        privacy.delete_account(db, user_id, PASSWORD, "")
    assert missing.value.field == "code"
    with session_scope() as db:
        assert db.get(User, user_id).deleted_at is None
        privacy.delete_account(db, user_id, PASSWORD, pyotp.TOTP(secret).now())
    with session_scope() as db:
        deleted = db.get(User, user_id)
        assert deleted.deleted_at is not None
        assert (deleted.two_factor_secret, deleted.two_factor_enabled_at) == ("", None)


def test_staff_accounts_cannot_delete_themselves_here(stripe_shop) -> None:
    from smplat.models.accounts import Role

    with session_scope() as db:
        staff = accounts.sign_up(db, email="op@example.test", password=PASSWORD, role=Role.OPERATOR)
        with pytest.raises(ServiceError) as refused:
            privacy.delete_account(db, staff.id, PASSWORD)
        assert refused.value.code == "not_allowed"


def test_purge_job_removes_bookkeeping_past_retention_only(stripe_shop) -> None:
    shop = stripe_shop
    with TestClient(build_api()) as client:
        old_id, _ = _customer_with_everything(shop, client, email="old@example.test")
        with session_scope() as db:
            recent = accounts.sign_up(db, email="recent@example.test", password=PASSWORD)
            recent_id = recent.id
        _buy(shop, client, recent_id, "recent@example.test", "instagram-followers", POPULAR)
    retention = get_settings().account_data_retention_days
    with session_scope() as db:
        privacy.delete_account(db, old_id, PASSWORD, now=utcnow() - timedelta(days=retention + 1))
        privacy.delete_account(db, recent_id, PASSWORD)
    assert _count(Order) == 3
    run = run_job("purge_deleted_accounts")
    assert run.outcome == "succeeded", run.counts
    assert run.counts["accounts"] == 1 and run.counts["orders"] == 2
    assert _count(User, User.id == old_id) == 0
    assert _count(Order, Order.user_id == recent_id) == 1 and _count(User, User.id == recent_id) == 1
    assert _count(Order) == 1 and _count(Payment) == 1 and _count(Subscription) == 0
    # the audit trail stays, no longer pointing at the removed account
    with session_scope() as db:
        entry = (
            db.execute(select(AuditLog).where(AuditLog.action == "account.delete", AuditLog.entity_id == str(old_id)))
            .scalars()
            .one()
        )
        assert entry.actor_user_id is None
