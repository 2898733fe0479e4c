"""The order -> fulfilment hand-off: one submit task per line, created once."""

import pytest
from sqlalchemy import func, select

from smplat.models.fulfillment import FulfillmentTask
from smplat.models.orders import Order, OrderItem
from smplat.services.delivery import DeliverySpec, InvalidDeliverySpec, enqueue_delivery, submit_key

pytestmark = pytest.mark.integration


def spec(**overrides) -> DeliverySpec:
    values = {"link": "https://instagram.com/alex", "quantity": 1000, "channel": "instagram"}
    return DeliverySpec(**{**values, **overrides})


def make_order(session, *lines: dict) -> Order:
    order = Order(customer_email="alex@example.com", total_minor=1200)
    session.add(order)
    session.flush()
    for snapshot in lines:
        session.add(
            OrderItem(
                order_id=order.id,
                product_title="Instagram Followers",
                quantity=1,
                unit_price_minor=1200,
                total_minor=1200,
                service_quantity=1000,
                snapshot=snapshot,
            )
        )
    session.flush()
    return order


def test_spec_round_trips_through_the_snapshot():
    original = spec(
        country="DE",
        dripfeed_runs=5,
        dripfeed_interval_minutes=60,
        comments=["Nice!"],
        option_keys={"package": ["1000"]},
        add_on_keys=["refill-30"],
        plan_key="one-time",
    )
    assert DeliverySpec.from_snapshot({"delivery": original.to_snapshot()}) == original
    assert original.is_dripfeed


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"link": ""}, "link"),
        ({"quantity": 0}, "quantity"),
        ({"channel": ""}, "channel"),
        ({"dripfeed_runs": 5}, "both"),
        ({"dripfeed_runs": 1, "dripfeed_interval_minutes": 5}, "at least 2"),
    ],
    ids=["no-link", "zero-quantity", "no-channel", "half-dripfeed", "one-run"],
)
def test_bad_specs_are_refused(overrides, message):
    with pytest.raises(InvalidDeliverySpec, match=message):
        spec(**overrides)


def test_each_line_gets_one_task_however_often_it_is_queued(session):
    order = make_order(session, {"delivery": spec().to_snapshot()}, {"delivery": spec(quantity=500).to_snapshot()})
    first = enqueue_delivery(session, order)
    again = enqueue_delivery(session, order)
    session.commit()
    assert [t.id for t in first] == [t.id for t in again]
    assert session.execute(select(func.count()).select_from(FulfillmentTask)).scalar_one() == 2
    items = session.execute(select(OrderItem.id).order_by(OrderItem.id)).scalars().all()
    assert [t.idempotency_key for t in first] == [submit_key(i) for i in items]
    assert {t.status for t in first} == {"pending"} and {t.kind for t in first} == {"submit"}


def test_a_line_without_a_delivery_spec_queues_nothing(session):
    order = make_order(session, {"product": "no delivery part"})
    with pytest.raises(InvalidDeliverySpec):
        enqueue_delivery(session, order)
    session.rollback()
    assert session.execute(select(func.count()).select_from(FulfillmentTask)).scalar_one() == 0
