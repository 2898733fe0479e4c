"""Progress and estimated completion of an order line, and the customer's refill rule."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from smplat.services.client_orders import LineProgress, estimate_completion, in_flight_delivered, line_progress
from smplat.services.errors import ErrorCode
from smplat.services.fulfillment.operator_actions import refill_refusal

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("ordered", "delivered", "in_flight", "expected"),
    [
        (1000, 0, 0, LineProgress(1000, 0, 1000, 0, 0)),
        (1000, 0, 250, LineProgress(1000, 250, 750, 25, 0)),  # running: from the panel's remains
        (1000, 400, 0, LineProgress(1000, 400, 600, 40, 0)),  # partial delivery
        (1000, 400, 300, LineProgress(1000, 700, 300, 70, 0)),  # partial, then the rest re-routed and running
        (1000, 1000, 0, LineProgress(1000, 1000, 0, 100, 0)),
        (1000, 1120, 0, LineProgress(1000, 1120, 0, 100, 120)),  # over-delivery: 100 %, the extra shown
        (3, 1, 0, LineProgress(3, 1, 2, 33, 0)),  # rounded down, never claims more than delivered
        (0, 0, 0, LineProgress(0, 0, 0, 0, 0)),
    ],
    ids=["not-started", "running", "partial", "partial-and-rerouted", "done", "over-delivered", "rounding", "empty"],
)
def test_line_progress(ordered, delivered, in_flight, expected):
    assert line_progress(ordered, delivered, in_flight) == expected


@pytest.mark.parametrize(
    ("quantity", "remains", "expected"),
    [(1000, None, 0), (1000, 1000, 0), (1000, 600, 400), (1000, 0, 1000), (1000, -50, 1050)],
    ids=["unknown", "nothing-yet", "some", "all", "over"],
)
def test_in_flight_delivered_from_the_panels_remains(quantity, remains, expected):
    assert in_flight_delivered(quantity, remains) == expected


def test_estimate_uses_the_measured_average_before_the_promise():
    assert estimate_completion(T0, measured_seconds=5400, promised_hours=24) == T0 + timedelta(minutes=90)


def test_estimate_falls_back_to_the_products_promise():
    assert estimate_completion(T0, measured_seconds=None, promised_hours=24) == T0 + timedelta(hours=24)


def test_estimate_of_a_dripfeed_lasts_at_least_its_runs():
    # 5 runs every 60 minutes: the last run starts 4 h after the first
    assert estimate_completion(
        T0, measured_seconds=600, promised_hours=None, dripfeed_runs=5, dripfeed_interval_minutes=60
    ) == T0 + timedelta(hours=4)
    # a slow service measured beyond the drip span keeps its measure
    assert estimate_completion(
        T0, measured_seconds=8 * 3600, promised_hours=None, dripfeed_runs=5, dripfeed_interval_minutes=60
    ) == T0 + timedelta(hours=8)


def test_no_estimate_before_the_start_or_without_any_measure():
    assert estimate_completion(None, measured_seconds=60, promised_hours=24) is None
    assert estimate_completion(T0, measured_seconds=None, promised_hours=None) is None


def _po(status="completed", completed_at=T0, submitted_at=T0 - timedelta(hours=1)):
    return SimpleNamespace(status=status, completed_at=completed_at, submitted_at=submitted_at)


def _service(refill=True, window=30):
    return SimpleNamespace(refill=refill, refill_window_days=window)


@pytest.mark.parametrize(
    ("po", "service", "busy", "now", "code", "message"),
    [
        (None, None, False, T0, ErrorCode.CONFLICT, "this line has not been delivered yet"),
        (_po("in_progress"), _service(), False, T0, ErrorCode.CONFLICT, "this line has not been delivered yet"),
        (_po(), _service(refill=False), False, T0, ErrorCode.NOT_ALLOWED, "this service has no refill guarantee"),
        (
            _po(),
            _service(window=30),
            False,
            T0 + timedelta(days=30, seconds=1),
            ErrorCode.NOT_ALLOWED,
            "the refill window of 30 days has passed",
        ),
        (_po(), _service(), True, T0, ErrorCode.CONFLICT, "a refill of this line is already under way"),
    ],
    ids=["never-sent", "still-running", "no-guarantee", "window-passed", "refill-under-way"],
)
def test_refill_refusals(po, service, busy, now, code, message):
    refusal = refill_refusal(po, service, busy, now, by_customer=True)
    assert (refusal.code, refusal.message) == (code, message)


def test_refill_allowed_inside_the_window_and_on_the_last_second():
    assert refill_refusal(_po(), _service(), False, T0 + timedelta(days=30), by_customer=True) is None
    assert refill_refusal(_po("partial"), _service(), False, T0, by_customer=True) is None
    # an operator is not bound by the window
    assert refill_refusal(_po(), _service(), False, T0 + timedelta(days=90), by_customer=False) is None
