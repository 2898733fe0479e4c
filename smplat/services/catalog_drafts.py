"""The one rule for concurrent catalog edits: every save names the version it started from.

Two operators open the same product; the first save bumps `products.version`; the second
save still names the old version and is refused with a clear message instead of silently
overwriting the first. Every editor service (details, options, add-ons, plans, fields,
presets, media, bundles) calls `claim_version` inside the transaction that writes its rows,
so the check and the bump commit or roll back together with the change.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session

from smplat.models.base import utcnow
from smplat.models.catalog import Product
from smplat.services.errors import ErrorCode, ServiceError


class StaleEdit(ServiceError):
    """Somebody else saved this product after the editor was opened."""

    default_code = ErrorCode.CONFLICT


STALE_MESSAGE = (
    "Someone else saved this product after you opened it (now at version {current}, you edited "
    "version {expected}). Reload to see their changes; nothing of yours was saved."
)


def get_product(session: Session, product_id: int | str) -> Product:
    """The product row an editor page works on; NOT_FOUND when it is gone (or the id is junk)."""
    product = session.get(Product, int(product_id)) if str(product_id).strip().isdigit() else None
    if product is None:
        raise ServiceError("This product no longer exists.", code=ErrorCode.NOT_FOUND)
    return product


def claim_version(session: Session, product_id: int, expected_version: int) -> int:
    """Bump the product's version if it is still `expected_version`; return the new version.

    One conditional UPDATE, so two concurrent saves cannot both pass (the second matches no
    row). Raises `StaleEdit` (409) when the version moved on, `ServiceError(NOT_FOUND)` when
    the product does not exist.
    """
    table = Product.__table__
    result = session.execute(
        sa.update(table)
        .where(table.c.id == product_id, table.c.version == int(expected_version))
        .values(version=table.c.version + 1, updated_at=utcnow())
    )
    if result.rowcount == 1:
        return int(expected_version) + 1
    current = session.execute(sa.select(table.c.version).where(table.c.id == product_id)).scalar_one_or_none()
    if current is None:
        raise ServiceError("This product no longer exists.", code=ErrorCode.NOT_FOUND)
    raise StaleEdit(STALE_MESSAGE.format(current=current, expected=expected_version), field="version")
