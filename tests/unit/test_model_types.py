"""Column types and model guards: UTC-only datetimes, immutable purchase snapshots, append-only events."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.orm.attributes import flag_modified
from sqlmodel import Session, SQLModel, select

import smplat.models  # noqa: F401
from smplat.models.audit import AppendOnly
from smplat.models.base import UTCDateTime
from smplat.models.catalog import Category, Product
from smplat.models.orders import Order, OrderEvent, OrderItem, SnapshotImmutable, new_order_number

pytestmark = pytest.mark.unit

_clock = sa.Table("clock", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), sa.Column("at", UTCDateTime))


@pytest.fixture
def memory_engine() -> Iterator[sa.Engine]:
    engine = sa.create_engine("sqlite://")
    SQLModel.metadata.create_all(engine)
    _clock.metadata.create_all(engine)
    yield engine
    engine.dispose()


def test_utc_datetime_refuses_naive(memory_engine: sa.Engine) -> None:
    # given a naive datetime / when it is written / then the write fails and stores nothing
    with memory_engine.connect() as conn:
        with pytest.raises(sa.exc.StatementError, match="naive datetime"):
            conn.execute(_clock.insert().values(id=1, at=datetime(2025, 1, 1, 12, 0)))
        assert conn.execute(sa.select(sa.func.count()).select_from(_clock)).scalar_one() == 0


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        pytest.param(datetime(2025, 3, 30, 1, 30, tzinfo=UTC), datetime(2025, 3, 30, 1, 30, tzinfo=UTC), id="utc"),
        pytest.param(
            datetime(2025, 3, 30, 3, 30, tzinfo=timezone(timedelta(hours=2))),
            datetime(2025, 3, 30, 1, 30, tzinfo=UTC),
            id="cest-converted",
        ),
        pytest.param(
            datetime(2025, 1, 1, 0, 0, 0, 123456, tzinfo=timezone(timedelta(hours=-5))),
            datetime(2025, 1, 1, 5, 0, 0, 123456, tzinfo=UTC),
            id="microseconds-kept",
        ),
    ],
)
def test_utc_datetime_round_trip_on_sqlite(memory_engine: sa.Engine, written: datetime, expected: datetime) -> None:
    # given an aware datetime in any zone / when written and read back from SQLite
    with memory_engine.begin() as conn:
        conn.execute(_clock.insert().values(id=1, at=written))
        stored = conn.execute(sa.select(_clock.c.at)).scalar_one()

    # then it comes back aware, in UTC, the same instant
    assert stored == expected
    assert stored.tzinfo == UTC


def _order_item(session: Session) -> OrderItem:
    category = Category(slug="instagram", name="Instagram")
    session.add(category)
    session.flush()
    product = Product(category_id=category.id, slug="instagram-followers", title="Instagram Followers")
    order = Order(customer_email="client@example.com", total_minor=1200)
    session.add_all([product, order])
    session.flush()
    item = OrderItem(
        order_id=order.id,
        product_id=product.id,
        product_title=product.title,
        unit_price_minor=1200,
        total_minor=1200,
        snapshot={"product": {"slug": product.slug}, "price_breakdown": {"total_minor": 1200}},
    )
    session.add(item)
    session.commit()
    return item


def test_snapshot_can_be_built_before_insert() -> None:
    # given a new, unsaved item / when its snapshot is set twice / then that is allowed
    item = OrderItem(order_id=1, product_title="x", snapshot={"a": 1})
    item.snapshot = {"a": 2}
    assert item.snapshot == {"a": 2}


def test_snapshot_reassignment_is_refused(memory_engine: sa.Engine) -> None:
    with Session(memory_engine) as session:
        # given a stored order item
        item = _order_item(session)

        # when code assigns a new snapshot / then it is refused at once
        with pytest.raises(SnapshotImmutable):
            item.snapshot = {"product": {"slug": "tampered"}}

        # and other columns still update normally
        item.delivered_quantity = 500
        session.commit()

    with Session(memory_engine) as session:
        stored = session.exec(select(OrderItem)).one()
        assert stored.snapshot == {"product": {"slug": "instagram-followers"}, "price_breakdown": {"total_minor": 1200}}
        assert stored.delivered_quantity == 500


def test_snapshot_in_place_edit_is_refused_at_flush(memory_engine: sa.Engine) -> None:
    with Session(memory_engine) as session:
        # given a stored order item whose snapshot dict is edited in place and flagged
        item = _order_item(session)
        item.snapshot["price_breakdown"]["total_minor"] = 1
        flag_modified(item, "snapshot")

        # when the session flushes / then the update is refused and nothing is written
        with pytest.raises(SnapshotImmutable):
            session.commit()
        session.rollback()

    with Session(memory_engine) as session:
        assert session.exec(select(OrderItem)).one().snapshot["price_breakdown"] == {"total_minor": 1200}


def test_snapshot_survives_reload_and_refuses_after_expiry(memory_engine: sa.Engine) -> None:
    with Session(memory_engine) as session:
        _order_item(session)  # commit expires the instance
    with Session(memory_engine) as session:
        # given an item loaded fresh from the database
        item = session.exec(select(OrderItem)).one()
        session.expire(item)

        # when the snapshot of the expired instance is replaced / then it is refused
        with pytest.raises(SnapshotImmutable):
            item.snapshot = {}


def test_order_events_are_append_only(memory_engine: sa.Engine) -> None:
    with Session(memory_engine) as session:
        # given a stored timeline event
        order = Order(customer_email="client@example.com")
        session.add(order)
        session.flush()
        event = OrderEvent(order_id=order.id, kind="note", message="called the customer")
        session.add(event)
        session.commit()

        # when it is edited / then the flush is refused
        event.message = "rewritten history"
        with pytest.raises(AppendOnly):
            session.commit()
        session.rollback()
        assert session.exec(select(OrderEvent)).one().message == "called the customer"


def test_order_numbers_are_short_unambiguous_and_distinct() -> None:
    numbers = {new_order_number() for _ in range(2000)}
    assert len(numbers) == 2000
    for number in list(numbers)[:50]:
        assert len(number) == 13 and number.startswith("SMP-") and number[8] == "-"
        assert not set(number[4:].replace("-", "")) & set("01ILOU")
