"""Admin → Customers: search (email, name, order number) in keyset pages, a customer's page
(orders, net spend, notes, sessions, linked profiles), notes audited, roles changed by admins
only, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from smplat.db import session_scope
from smplat.models.accounts import Role, User, UserSession
from smplat.models.audit import AuditLog
from smplat.models.profiles import LinkedProfile
from smplat.services import accounts, customers
from smplat.services.audit import Actor
from smplat.services.errors import ErrorCode, ServiceError
from smplat.services.permissions import PermissionDenied
from smplat.services.seed import seed_demo
from smplat.ui.pages.admin.customers import CustomersState, CustomerState
from tests.fulfillment_factory import paid_order, product

pytestmark = pytest.mark.integration


@pytest.fixture
def shop(db_url: str) -> dict:
    """The demo shop; the demo client with two paid orders (one half refunded), a linked
    profile and two sessions (one signed out); a guest order that is nobody's."""
    with session_scope() as db:
        seed_demo(db)
        client = db.execute(select(User).where(User.email == "client@smplat.local")).scalar_one()
        client.full_name = "Casey Client"
        likes = product(db, "instagram-likes")
        first = paid_order(db, [(likes, "https://instagram.com/p/aaa", 500, 1000)], user_id=client.id)
        second = paid_order(db, [(likes, "https://instagram.com/p/bbb", 250, 600)], user_id=client.id)
        second.refunded_minor = 300
        paid_order(db, [(likes, "https://instagram.com/p/ccc", 250, 700)], email="guest@example.com")
        db.add(LinkedProfile(user_id=client.id, handle="casey.grows", status="active"))
        db.flush()
        live = accounts.redeem_signin_ticket(db, accounts.issue_signin_ticket(db, client))
        ended = accounts.redeem_signin_ticket(db, accounts.issue_signin_ticket(db, client))
        row = db.execute(
            select(UserSession).where(UserSession.token_hash == accounts.hash_token(ended.token))
        ).scalar_one()
        row.revoked_at = row.created_at
        admin = db.execute(select(User).where(User.email == "admin@smplat.local")).scalar_one()
        return {
            "client": client.id,
            "first": first.number,
            "charged": first.charged_minor + second.charged_minor,
            "admin": Actor.staff(admin.id, admin.email, admin.role),
            "live": live.token,
        }


def test_search_by_email_name_or_order_number_with_orders_and_net_spend(shop) -> None:
    with session_scope() as db:
        for query in ("client@", "CASEY", shop["first"], shop["first"].lower()):
            rows = customers.search(db, query)["rows"]
            assert [r["email"] for r in rows] == ["client@smplat.local"], query
        row = customers.search(db, "client@")["rows"][0]
        assert row["orders"] == 2
        assert row["spend"] == f"€{(shop['charged'] - 300) / 100:.2f}"
        assert customers.search(db, "nobody-like-this")["rows"] == []


def test_keyset_pages_walk_every_account_once_newest_first(shop) -> None:
    with session_scope() as db:
        everyone = [r["id"] for r in customers.search(db, "", limit=1000)["rows"]]
        seen: list[int] = []
        before = None
        while True:
            found = customers.search(db, "", before_id=before, limit=2)
            seen += [r["id"] for r in found["rows"]]
            before = found["next_before"]
            if before is None:
                break
    assert seen == everyone == sorted(everyone, reverse=True) and len(everyone) >= 3


def test_customer_page_shows_orders_spend_sessions_and_profiles(shop) -> None:
    with session_scope() as db:
        page = customers.detail(db, shop["client"])
    assert (page["email"], page["full_name"], page["orders_count"]) == ("client@smplat.local", "Casey Client", 2)
    assert page["spend"] == f"€{(shop['charged'] - 300) / 100:.2f}"
    assert page["average_order"] == f"€{(shop['charged'] - 300) // 2 / 100:.2f}"
    assert {o["number"] for o in page["orders"]} >= {shop["first"]} and len(page["orders"]) == 2
    assert sorted(s["state"] for s in page["sessions"]) == ["active", "signed out"]
    assert page["profiles"] == [
        {"platform": "instagram", "handle": "@casey.grows", "status": "active", "last_refreshed": "—"}
    ]


def test_notes_are_kept_newest_first_audited_and_empty_ones_refused(shop) -> None:
    with session_scope() as db:
        customers.add_note(db, shop["admin"], shop["client"], "Asked for an invoice by phone")
        customers.add_note(db, shop["admin"], shop["client"], "  VIP: answer within the hour  ")
    with session_scope() as db:
        notes = customers.detail(db, shop["client"])["notes"]
        assert [n["body"] for n in notes] == ["VIP: answer within the hour", "Asked for an invoice by phone"]
        assert notes[0]["author"] == "admin@smplat.local"
        entries = db.execute(select(AuditLog).where(AuditLog.action == "customer.note")).scalars().all()
        assert len(entries) == 2 and entries[0].entity_id == str(shop["client"])
    with session_scope() as db, pytest.raises(ServiceError) as empty:
        customers.add_note(db, shop["admin"], shop["client"], "   ")
    assert empty.value.code is ErrorCode.REQUIRED
    with session_scope() as db, pytest.raises(ServiceError) as missing:
        customers.detail(db, 999_999)
    assert missing.value.code is ErrorCode.NOT_FOUND
    with session_scope() as db, pytest.raises(PermissionDenied):
        customers.add_note(db, Actor.staff(shop["client"], "client@smplat.local", "customer"), shop["client"], "hi")


async def test_pages_search_through_the_url_and_only_admins_change_roles(shop, root_state, session_cookie_for) -> None:
    operator = session_cookie_for(Role.OPERATOR)
    listing = await root_state(CustomersState, "/admin/customers", query={"q": "casey"}, cookie=operator)
    listing.load()
    assert [r["email"] for r in listing.rows] == ["client@smplat.local"]

    path = f"/admin/customers/{shop['client']}"
    page = await root_state(CustomerState, path, params={"user_id": str(shop["client"])}, cookie=operator)
    page.load()
    assert page.customer["email"] == "client@smplat.local"
    # an operator's role change is refused on the server, whatever the page shows
    page.set_role({"action": "operator"})
    with session_scope() as db:
        assert db.get(User, shop["client"]).role == "customer"

    admin = session_cookie_for(Role.ADMIN)
    as_admin = await root_state(CustomerState, path, params={"user_id": str(shop["client"])}, cookie=admin)
    as_admin.load()
    as_admin.set_role({"action": "operator"})
    with session_scope() as db:
        assert db.get(User, shop["client"]).role == "operator"
        # their sessions ended with the change
        assert accounts.resolve_session(db, shop["live"]) is None
