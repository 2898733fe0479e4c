"""The profile charts' figures: orders marked with hover text naming them, a week before/after."""

from datetime import UTC, datetime, timedelta

import pytest

from smplat.models.profiles import LinkedProfile, ProfileSnapshot
from smplat.services.profiles import Comparison, OrderMark, ProfileChart, followers_at
from smplat.ui.pages.account.profiles import comparison_figure, engagement_figure, followers_figure

pytestmark = pytest.mark.unit
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _chart() -> ProfileChart:
    snaps = [
        ProfileSnapshot(profile_id=1, taken_at=T0 + timedelta(days=d), followers=f, engagement_rate_bps=e)
        for d, f, e in ((0, 1000, 250), (5, 1010, 240), (9, 1520, 310))
    ]
    order = OrderMark(
        "SMP-AAAA-BBBB", "instagram-followers", "Instagram Followers", 500, "completed", T0 + timedelta(days=6), True
    )
    return ProfileChart(
        LinkedProfile(user_id=1, handle="brand"),
        snaps,
        [order],
        [Comparison(order.number, order.title, 1000, 1010, 1520)],
    )


def test_followers_chart_marks_each_order_where_the_line_is_with_its_number_on_hover():
    fig = followers_figure(_chart())
    line, orders = fig.data
    assert list(line.y) == [1000, 1010, 1520]
    assert list(orders.y) == [1010]  # the followers of the last snapshot before the order
    assert list(orders.hovertext) == ["SMP-AAAA-BBBB · 500 × Instagram Followers · completed"]
    assert fig.layout.height == 260 and fig.layout.legend.orientation == "h"


def test_engagement_in_percent_and_comparison_bars():
    assert list(engagement_figure(_chart()).data[0].y) == [2.5, 2.4, 3.1]
    bars = comparison_figure(_chart()).data
    assert [(b.name, list(b.y)) for b in bars] == [
        ("7 days before", [1000]),
        ("At completion", [1010]),
        ("7 days after", [1520]),
    ]


def test_followers_at_takes_the_last_snapshot_not_after_the_moment():
    snaps = _chart().snapshots
    assert followers_at(snaps, T0 - timedelta(seconds=1)) is None
    assert followers_at(snaps, T0 + timedelta(days=5)) == 1010
    assert followers_at(snaps, T0 + timedelta(days=30)) == 1520
