"""Catalog categories as operators manage them: create, rename, describe, order, (de)activate.

The storefront lists active categories (and their products) in `sort_order`; an inactive
category hides its products from the shop and the sitemap. A category that still holds
products cannot be deleted (the foreign key is RESTRICT as well). Every change is audited.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from smplat.models.base import utcnow
from smplat.models.catalog import Category, Platform, Product
from smplat.services import audit
from smplat.services.audit import Actor
from smplat.services.errors import ErrorCode, ServiceError
from smplat.services.permissions import Permission

AUDITED_FIELDS = ("slug", "name", "description", "platform", "sort_order", "is_active")
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
NAME_MAX, DESCRIPTION_MAX = 120, 2000


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", (text or "").lower()).strip("-")[:80]


def _ordered(session: Session) -> list[Category]:
    return list(session.execute(select(Category).order_by(Category.sort_order, Category.name, Category.id)).scalars())


def admin_rows(session: Session) -> list[dict[str, Any]]:
    """Every category in storefront order with its product count (two queries)."""
    counts = dict(session.execute(select(Product.category_id, func.count()).group_by(Product.category_id)).all())
    rows = _ordered(session)
    return [
        {
            "id": c.id,
            "slug": c.slug,
            "name": c.name,
            "description": c.description,
            "platform": c.platform,
            "is_active": bool(c.is_active),
            "products": int(counts.get(c.id, 0)),
            "position": index + 1,
            "is_first": index == 0,
            "is_last": index == len(rows) - 1,
        }
        for index, c in enumerate(rows)
    ]


def _clean(name: str, description: str, platform: str) -> tuple[str, str, str]:
    name = " ".join((name or "").split())
    description = (description or "").strip()
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = "Give the category a name."
    elif len(name) > NAME_MAX:
        errors["name"] = f"Keep the name under {NAME_MAX} characters."
    if len(description) > DESCRIPTION_MAX:
        errors["description"] = f"Keep the description under {DESCRIPTION_MAX} characters."
    platform = platform or Platform.OTHER.value
    if platform not in {p.value for p in Platform}:
        errors["platform"] = "Choose one of the listed platforms."
    if errors:
        field, message = next(iter(errors.items()))
        raise ServiceError(message, code=ErrorCode.INVALID, field=field, errors=errors)
    return name, description, platform


def _get(session: Session, category_id: int) -> Category:
    category = session.get(Category, category_id)
    if category is None:
        raise ServiceError("This category no longer exists.", code=ErrorCode.NOT_FOUND)
    return category


def create(
    session: Session, actor: Actor, *, name: str, description: str = "", platform: str = "", slug: str = ""
) -> Category:
    """A new active category placed last."""
    audit.require(actor, Permission.EDIT_CATALOG, "category.create", "category")
    name, description, platform = _clean(name, description, platform)
    slug = (slug or "").strip().lower() or slugify(name)
    if not SLUG.match(slug):
        raise ServiceError(
            "Use lowercase letters, digits and single dashes in the address name.", code=ErrorCode.INVALID, field="slug"
        )
    taken = session.execute(select(Category.id).where(Category.slug == slug)).scalar_one_or_none()
    if taken is not None:
        raise ServiceError(f"A category called “{slug}” already exists.", code=ErrorCode.CONFLICT, field="slug")
    last = session.execute(select(func.max(Category.sort_order))).scalar_one_or_none()
    category = Category(
        slug=slug,
        name=name,
        description=description,
        platform=platform,
        sort_order=(int(last) + 1) if last is not None else 0,
        is_active=True,
    )
    session.add(category)
    session.flush()
    audit.record(
        session, actor, "category.create", "category", category.id, after=audit.snapshot(category, AUDITED_FIELDS)
    )
    return category


def update(
    session: Session,
    actor: Actor,
    category_id: int,
    *,
    name: str,
    description: str,
    platform: str,
    is_active: bool,
) -> Category:
    """Rename, describe, change the platform, activate or deactivate."""
    audit.require(actor, Permission.EDIT_CATALOG, "category.update", "category", category_id)
    name, description, platform = _clean(name, description, platform)
    category = _get(session, category_id)
    before = audit.snapshot(category, AUDITED_FIELDS)
    category.name, category.description, category.platform = name, description, platform
    category.is_active = bool(is_active)
    category.updated_at = utcnow()
    session.add(category)
    session.flush()
    audit.record(
        session,
        actor,
        "category.update",
        "category",
        category.id,
        before=before,
        after=audit.snapshot(category, AUDITED_FIELDS),
    )
    return category


def reorder(session: Session, actor: Actor, ordered_ids: Sequence[int]) -> None:
    """Put every category in `ordered_ids` order (the storefront order)."""
    audit.require(actor, Permission.EDIT_CATALOG, "category.reorder", "category")
    rows = _ordered(session)
    by_id = {c.id: c for c in rows}
    wanted = [int(i) for i in ordered_ids]
    if sorted(wanted) != sorted(by_id):
        raise ServiceError(
            "The categories changed while you were ordering them; reload and try again.",
            code=ErrorCode.CONFLICT,
            field="order",
        )
    before = [c.id for c in rows]
    for position, category_id in enumerate(wanted):
        by_id[category_id].sort_order = position
        session.add(by_id[category_id])
    session.flush()
    audit.record(session, actor, "category.reorder", "category", "", before={"order": before}, after={"order": wanted})


def move(session: Session, actor: Actor, category_id: int, step: int) -> None:
    """One place earlier (step < 0) or later."""
    ids = [c.id for c in _ordered(session)]
    if category_id not in ids:
        raise ServiceError("This category no longer exists.", code=ErrorCode.NOT_FOUND)
    i = ids.index(category_id)
    j = max(0, min(len(ids) - 1, i + (1 if step > 0 else -1)))
    ids[i], ids[j] = ids[j], ids[i]
    reorder(session, actor, ids)


def delete(session: Session, actor: Actor, category_id: int) -> None:
    """Remove an empty category; one that holds products (even drafts or archived ones) is refused."""
    audit.require(actor, Permission.EDIT_CATALOG, "category.delete", "category", category_id)
    category = _get(session, category_id)
    held = session.execute(
        select(func.count()).select_from(Product).where(Product.category_id == category_id)
    ).scalar_one()
    if held:
        raise ServiceError(
            f"“{category.name}” still holds {held} product{'s' if held != 1 else ''}; move them to another "
            "category, or hide it instead (Edit → Shown in the shop).",
            code=ErrorCode.NOT_ALLOWED,
            field="category",
        )
    before = audit.snapshot(category, AUDITED_FIELDS)
    session.delete(category)
    session.flush()
    audit.record(session, actor, "category.delete", "category", category_id, before=before, after=None)
