"""The one payment-status rule: an order's payment status from what was charged and refunded."""

from __future__ import annotations

import pytest

from smplat.services.checkout.payments import payment_status_for


@pytest.mark.parametrize(
    ("charged", "refunded", "expected"),
    [
        pytest.param(0, 0, "unpaid", id="nothing charged"),
        pytest.param(1200, 0, "paid", id="charged, nothing back"),
        pytest.param(1200, 1, "partially_refunded", id="one cent back"),
        pytest.param(1200, 1199, "partially_refunded", id="all but one cent back"),
        pytest.param(1200, 1200, "refunded", id="all back"),
        pytest.param(1200, 1500, "refunded", id="more than charged is still refunded"),
    ],
)
def test_payment_status_follows_the_amounts(charged: int, refunded: int, expected: str) -> None:
    # given amounts / when the status is derived / then
    assert payment_status_for(charged, refunded) == expected
