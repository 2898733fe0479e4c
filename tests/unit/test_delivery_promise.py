"""The one delivery promise: time and pace from quantity, speed (or drip-feed days) and the
product's estimate, and the same words wherever a customer reads them."""

from __future__ import annotations

import pytest

from smplat.services import delivery_promise, pricing
from tests.catalog_factory import make_detail


@pytest.mark.parametrize(
    ("estimate", "units", "speed", "drip", "hours", "text"),
    [
        pytest.param(48, 1000, "standard", None, 48, "Delivered in about 2 days · about 500 followers a day", id="std"),
        pytest.param(
            48, 2500, "standard", None, 72, "Delivered in about 3 days · about 833 followers a day", id="2500"
        ),
        pytest.param(
            48, 5000, "standard", None, 96, "Delivered in about 4 days · about 1,250 followers a day", id="5k"
        ),
        pytest.param(48, 1000, "express", None, 24, "Delivered in about 1 day", id="express halves"),
        pytest.param(48, 1000, "gradual", 5, 120, "Spread evenly over 5 days · about 200 followers a day", id="drip"),
        pytest.param(6, 500, "standard", None, 6, "Delivered in about 6 h", id="hours"),
        pytest.param(1, 500, "express", None, 1, "Delivered within 1 hour", id="at least an hour"),
        pytest.param(
            36, 1000, "standard", None, 36, "Delivered in about 2 days · about 500 followers a day", id="1.5d"
        ),
    ],
)
def test_the_rule(estimate, units, speed, drip, hours, text) -> None:
    promise = delivery_promise.promise(estimate, units=units, unit_label="followers", speed=speed, drip_days=drip)
    assert (promise.hours, promise.text) == (hours, text)


def test_quantity_counts_every_package() -> None:
    # given 1,000 followers bought three times (3,000 units: one full 2,500 adds a day)
    detail = make_detail()
    config = pricing.normalize(
        {
            "options": {"package": "1000", "speed": "standard"},
        }
    )
    assert pricing.delivery_promise(detail, config, quantity=1).text == (
        "Delivered in about 2 days · about 500 followers a day"
    )
    assert pricing.delivery_promise(detail, config, quantity=3).text == (
        "Delivered in about 3 days · about 1,000 followers a day"
    )
    assert pricing.delivery_estimate_hours(detail, config, quantity=3) == 72


def test_the_card_says_what_the_smallest_standard_package_promises() -> None:
    assert delivery_promise.card_text(48, 500, "followers") == "Delivered in about 2 days"
    assert delivery_promise.card_text(4, 500, "story views") == "Delivered in about 4 h"
