"""Concurrent catalog edits: a save that names an older version is refused, on both databases."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select
from sqlmodel import Session

from smplat import db as smplat_db
from smplat.models.catalog import Category, Product
from smplat.services.catalog_drafts import StaleEdit, claim_version
from smplat.services.errors import ErrorCode, ServiceError

pytestmark = pytest.mark.integration


def _product(session: Session) -> int:
    category = Category(slug="ig", name="Instagram")
    session.add(category)
    session.flush()
    product = Product(category_id=category.id, slug="ig-followers", title="Instagram Followers")
    session.add(product)
    session.commit()
    return int(product.id)


def test_first_save_wins_and_the_stale_one_is_refused(session: Session) -> None:
    product_id = _product(session)
    assert claim_version(session, product_id, 1) == 2
    session.commit()
    with pytest.raises(StaleEdit) as refused:
        claim_version(session, product_id, 1)
    assert refused.value.code is ErrorCode.CONFLICT
    assert "version 2" in refused.value.message and "version 1" in refused.value.message
    session.rollback()
    assert session.execute(select(Product.version).where(Product.id == product_id)).scalar_one() == 2


def test_missing_product_is_not_found(session: Session) -> None:
    with pytest.raises(ServiceError) as missing:
        claim_version(session, 999_999, 1)
    assert missing.value.code is ErrorCode.NOT_FOUND


def test_two_concurrent_saves_of_the_same_version_one_wins(db_url: str, session: Session) -> None:
    product_id = _product(session)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def save() -> None:
        with Session(smplat_db.get_engine(db_url)) as own:
            barrier.wait()
            try:
                claim_version(own, product_id, 1)
                own.commit()
                outcomes.append("saved")
            except StaleEdit:
                own.rollback()
                outcomes.append("stale")

    threads = [threading.Thread(target=save) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["saved", "stale"]
    session.expire_all()
    assert session.execute(select(Product.version).where(Product.id == product_id)).scalar_one() == 2
