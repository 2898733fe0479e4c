"""The one pro-rata rule (`money.pro_rata`): integers in, rounded once and down."""

from __future__ import annotations

import pytest

from smplat.services.money import pro_rata

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("amount", "part", "whole", "expected"),
    [
        pytest.param(990, 1000, 1000, 990, id="the-whole-is-the-whole-amount"),
        pytest.param(990, 0, 1000, 0, id="no-part-is-worth-nothing"),
        pytest.param(990, 250, 1000, 247, id="quarter-of-990-is-247.5-floored"),
        pytest.param(990, 750, 1000, 742, id="three-quarters-of-990-is-742.5-floored"),
        pytest.param(1000, 1, 3, 333, id="a-third-floored"),
        pytest.param(1000, 2, 3, 666, id="two-thirds-floored-not-rounded-up"),
        pytest.param(100, 3, 6, 50, id="once-from-the-line-not-49-via-a-provider-order-of-4"),
        pytest.param(1, 1, 2, 0, id="half-a-cent-is-no-cent"),
        pytest.param(0, 5, 10, 0, id="free-line"),
        pytest.param(10**12, 999_999, 1_000_000, 999_999_000_000, id="large-amounts-stay-exact"),
    ],
)
def test_pro_rata_rounds_once_and_down(amount, part, whole, expected):
    assert pro_rata(amount, part, whole) == expected


def test_shares_of_a_split_never_add_up_to_more_than_the_amount():
    # a line of 1000 units priced 997 split into 333 + 333 + 334 units
    shares = [pro_rata(997, units, 1000) for units in (333, 333, 334)]
    assert shares == [332, 332, 332]
    assert sum(shares) <= 997


@pytest.mark.parametrize(
    ("amount", "part", "whole", "error"),
    [
        pytest.param(990, 10, 0, ValueError, id="no-whole"),
        pytest.param(990, 10, -5, ValueError, id="negative-whole"),
        pytest.param(990, -1, 10, ValueError, id="negative-part"),
        pytest.param(-990, 1, 10, ValueError, id="negative-amount"),
        pytest.param(9.9, 1, 10, TypeError, id="float-money"),
        pytest.param(990, 2.5, 10, TypeError, id="fractional-units"),
        pytest.param(True, 1, 10, TypeError, id="a-bool-is-not-money"),
    ],
)
def test_pro_rata_refuses_what_is_not_a_share(amount, part, whole, error):
    with pytest.raises(error):
        pro_rata(amount, part, whole)
