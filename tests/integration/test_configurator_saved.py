"""Saved configurations are their owner's only (services/configurator.py), on SQLite and
PostgreSQL: loading and deleting by anyone else, for another product, by id that does not
exist or without signing in is refused with a code and changes nothing; the product page's
handlers answer the same."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from smplat.db import session_scope
from smplat.models.accounts import Role, User
from smplat.models.merchandising import SavedConfiguration
from smplat.services import accounts, carts, catalog, configurator
from smplat.services.configurator import ConfiguratorError
from smplat.services.errors import ErrorCode
from smplat.services.seed import seed_demo

pytestmark = pytest.mark.integration

SLUG = "instagram-followers"
LAUNCH = {
    "options": {"package": "2500", "speed": "standard"},
    "add_ons": [],
    "plan": "one-time",
    "fields": {"username": "@launch"},
}


@pytest.fixture
def saved(db_url: str) -> dict[str, int]:
    """A seeded shop, two customers, and one configuration saved by the first."""
    with session_scope() as db:
        seed_demo(db)
        owner = accounts.sign_up(db, email="owner@saved.test", password="violet-harbour-42", role=Role.CUSTOMER)
        other = accounts.sign_up(db, email="other@saved.test", password="violet-harbour-42", role=Role.CUSTOMER)
        row = carts.save_configuration(
            db, user_id=owner.id, product_slug=SLUG, name="Launch week", raw_configuration=LAUNCH, quantity=2
        )
        return {
            "owner": owner.id,
            "other": other.id,
            "saved": row.id,
            "product": catalog.get_product_detail(db, SLUG).product.id,
            "other_product": catalog.get_product_detail(db, "tiktok-likes").product.id,
        }


def _saved_count() -> int:
    with session_scope() as db:
        return db.execute(select(func.count()).select_from(SavedConfiguration)).scalar_one()


def test_the_owner_loads_their_saved_configuration(saved) -> None:
    with session_scope() as db:
        row = configurator.load_saved(
            db, user_id=saved["owner"], saved_id=str(saved["saved"]), product_id=saved["product"]
        )
        assert (row.name, row.quantity, row.configuration["options"]["package"]) == ("Launch week", 2, ["2500"])


@pytest.mark.parametrize(
    ("label", "who", "which", "product", "code"),
    [
        ("someone else", "other", "saved", "product", ErrorCode.NOT_FOUND),
        ("an id that does not exist", "owner", "missing", "product", ErrorCode.NOT_FOUND),
        ("a crafted id", "owner", "crafted", "product", ErrorCode.NOT_FOUND),
        ("on another product's page", "owner", "saved", "other_product", ErrorCode.NOT_FOUND),
        ("nobody signed in", "nobody", "saved", "product", ErrorCode.UNAUTHENTICATED),
    ],
)
def test_only_the_owner_can_load_it(saved, label, who, which, product, code) -> None:
    user_id = None if who == "nobody" else saved[who]
    saved_id = {"saved": saved["saved"], "missing": saved["saved"] + 1000, "crafted": "1 OR 1=1"}[which]
    with pytest.raises(ConfiguratorError) as excinfo, session_scope() as db:
        configurator.load_saved(db, user_id=user_id, saved_id=saved_id, product_id=saved[product])
    assert excinfo.value.code == code
    if code == ErrorCode.NOT_FOUND:  # someone else's and missing read the same
        assert excinfo.value.message == "That saved configuration is not yours."


@pytest.mark.parametrize(("label", "who"), [("someone else", "other"), ("nobody signed in", "nobody")])
def test_only_the_owner_can_delete_it(saved, label, who) -> None:
    # when someone else (or nobody) deletes it / then refused and it stays
    with pytest.raises(ConfiguratorError), session_scope() as db:
        configurator.delete_saved(db, user_id=saved.get(who), saved_id=saved["saved"])
    assert _saved_count() == 1
    # when the owner deletes it / then it is gone
    with session_scope() as db:
        configurator.delete_saved(db, user_id=saved["owner"], saved_id=saved["saved"])
    assert _saved_count() == 0


async def test_the_product_page_refuses_someone_elses_saved_configuration(
    saved, handler_events, is_toast_error, product_state
) -> None:
    with session_scope() as db:
        other = db.get(User, saved["other"])
        cookie = accounts.redeem_signin_ticket(db, accounts.issue_signin_ticket(db, other)).token
    state = await product_state(session=cookie)
    before = (dict(state.config), state.quantity)
    apply_events = handler_events(state.apply_saved(str(saved["saved"])))
    delete_events = handler_events(state.delete_saved(str(saved["saved"])))
    assert any(is_toast_error(e, "That saved configuration is not yours.") for e in apply_events)
    assert any(is_toast_error(e, "That saved configuration is not yours.") for e in delete_events)
    assert ((dict(state.config), state.quantity), _saved_count()) == (before, 1)


async def test_the_owner_deletes_from_the_product_page(saved, product_state) -> None:
    with session_scope() as db:
        owner = db.get(User, saved["owner"])
        cookie = accounts.redeem_signin_ticket(db, accounts.issue_signin_ticket(db, owner)).token
    state = await product_state(session=cookie)
    assert [s["name"] for s in state.saved] == ["Launch week"]
    state.delete_saved(state.saved[0]["id"])
    assert (state.saved, state.save_message, _saved_count()) == ([], "Deleted.", 0)
