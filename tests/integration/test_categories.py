"""Categories: operators create, rename, describe, order and hide them; the storefront follows
the order; a category holding products cannot be deleted. Both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from smplat.db import session_scope
from smplat.models.accounts import Role
from smplat.models.audit import AuditLog
from smplat.models.catalog import Category, Product
from smplat.services import catalog, categories
from smplat.services.audit import Actor
from smplat.services.errors import ErrorCode, ServiceError
from smplat.services.permissions import PermissionDenied
from smplat.ui.pages.admin.categories import CategoriesState
from smplat.ui.pages.storefront.catalog import ServicesState

pytestmark = pytest.mark.integration

OPERATOR = Actor.staff(None, "ops@categories.test", "operator", "198.51.100.9")


def _shop(session: Session) -> dict[str, int]:
    ids = {}
    for name in ("Instagram", "TikTok", "YouTube"):
        category = categories.create(session, OPERATOR, name=name, description=f"{name} growth")
        ids[category.slug] = category.id
    for slug, cat in (("ig-followers", "instagram"), ("tt-likes", "tiktok"), ("yt-views", "youtube")):
        session.add(Product(category_id=ids[cat], slug=slug, title=slug, status="active", popularity_score=10))
    session.commit()
    return ids


def _actions(session: Session) -> list[str]:
    return list(session.execute(select(AuditLog.action).order_by(AuditLog.id)).scalars())


def test_created_categories_are_listed_in_the_order_operators_set_and_the_shop_follows(session: Session) -> None:
    ids = _shop(session)
    assert [c.slug for c in catalog.list_categories(session)] == ["instagram", "tiktok", "youtube"]

    categories.reorder(session, OPERATOR, [ids["youtube"], ids["instagram"], ids["tiktok"]])
    categories.move(session, OPERATOR, ids["tiktok"], -1)
    session.commit()

    assert [r["slug"] for r in categories.admin_rows(session)] == ["youtube", "tiktok", "instagram"]
    assert [c.slug for c in catalog.list_categories(session)] == ["youtube", "tiktok", "instagram"]
    assert [c.slug for c in catalog.list_product_cards(session)] == ["yt-views", "tt-likes", "ig-followers"]
    assert _actions(session) == ["category.create"] * 3 + ["category.reorder"] * 2


async def test_the_catalog_page_shows_the_category_chips_in_that_order(session: Session, root_state) -> None:
    ids = _shop(session)
    categories.reorder(session, OPERATOR, [ids["tiktok"], ids["youtube"], ids["instagram"]])
    session.commit()

    state = await root_state(ServicesState, "/services", consent="necessary")
    await state.load_services()

    assert [c["slug"] for c in state.categories] == ["tiktok", "youtube", "instagram"]


def test_rename_describe_and_hide_a_category_hides_its_products(session: Session) -> None:
    ids = _shop(session)

    categories.update(
        session,
        OPERATOR,
        ids["tiktok"],
        name="  TikTok   growth ",
        description="Likes and views.",
        platform="tiktok",
        is_active=False,
    )
    session.commit()

    row = session.get(Category, ids["tiktok"])
    assert (row.name, row.description, row.platform, row.is_active) == (
        "TikTok growth",
        "Likes and views.",
        "tiktok",
        False,
    )
    assert [c.slug for c in catalog.list_categories(session)] == ["instagram", "youtube"]
    assert "tt-likes" not in [c.slug for c in catalog.list_product_cards(session)]
    log = session.execute(select(AuditLog).where(AuditLog.action == "category.update")).scalar_one()
    assert log.data["before"] == {
        "name": "TikTok",
        "description": "TikTok growth",
        "platform": "other",
        "is_active": True,
    }
    assert log.data["after"]["is_active"] is False


@pytest.mark.parametrize(
    ("case", "kwargs", "field", "code"),
    [
        ("no name", {"name": "  "}, "name", ErrorCode.INVALID),
        ("taken address", {"name": "Instagram"}, "slug", ErrorCode.CONFLICT),
        ("bad address", {"name": "Reels", "slug": "Reels & more"}, "slug", ErrorCode.INVALID),
        ("unknown platform", {"name": "Reels", "platform": "myspace"}, "platform", ErrorCode.INVALID),
    ],
)
def test_bad_input_is_refused_and_creates_nothing(session: Session, case: str, kwargs: dict, field: str, code) -> None:
    _shop(session)
    before = (session.execute(select(func.count()).select_from(Category)).scalar_one(), _actions(session))

    with pytest.raises(ServiceError) as refused:
        categories.create(session, OPERATOR, **kwargs)
    session.rollback()

    assert (refused.value.field, refused.value.code) == (field, code)
    assert (session.execute(select(func.count()).select_from(Category)).scalar_one(), _actions(session)) == before


def test_a_category_with_products_cannot_be_deleted_an_empty_one_can(session: Session) -> None:
    ids = _shop(session)
    empty = categories.create(session, OPERATOR, name="Threads")
    session.commit()

    with pytest.raises(ServiceError) as refused:
        categories.delete(session, OPERATOR, ids["instagram"])
    session.rollback()
    categories.delete(session, OPERATOR, empty.id)
    session.commit()

    assert refused.value.code is ErrorCode.NOT_ALLOWED
    assert "“Instagram” still holds 1 product;" in refused.value.message
    assert session.get(Category, ids["instagram"]) is not None
    assert session.get(Category, empty.id) is None
    assert _actions(session)[-1] == "category.delete"


def test_a_customer_cannot_change_categories(session: Session) -> None:
    ids = _shop(session)
    customer = Actor.staff(None, "eve@categories.test", Role.CUSTOMER.value)

    with pytest.raises(PermissionDenied):
        categories.move(session, customer, ids["youtube"], -1)
    session.rollback()

    assert [c.slug for c in catalog.list_categories(session)] == ["instagram", "tiktok", "youtube"]


async def test_the_admin_page_creates_edits_and_refuses_deleting_a_full_category(
    db_url: str, session: Session, root_state, session_cookie_for
) -> None:
    ids = _shop(session)
    cookie = session_cookie_for(Role.OPERATOR)
    state = await root_state(CategoriesState, "/admin/categories", cookie=cookie)

    state.load_categories()
    state.create({"name": "Threads", "description": "New network", "platform": "other", "slug": ""})
    state.delete(ids["instagram"])
    refused = state.error
    state.move(ids["youtube"], -1)

    assert [r["slug"] for r in state.rows] == ["instagram", "youtube", "tiktok", "threads"]
    assert refused.startswith("“Instagram” still holds 1 product")
    assert state.notice == "Order saved: the storefront lists categories in this order."
    with session_scope() as db:
        assert db.execute(select(Category.description).where(Category.slug == "threads")).scalar_one() == "New network"
