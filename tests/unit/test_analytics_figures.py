"""Analytics' Plotly figures: the funnel's shares of the first stage (never a share of nothing),
and a chart with nothing to draw says so instead of showing empty axes."""

import pytest

from smplat.ui.pages.admin.analytics import (
    funnel_figure,
    margin_figure,
    providers_figure,
    searches_figure,
    share_figure,
)

pytestmark = pytest.mark.unit


def _message(fig) -> str | None:
    notes = fig.layout.annotations
    return notes[0].text if notes else None


def test_the_funnel_shows_each_stage_as_a_share_of_the_visits():
    fig = funnel_figure([("Visits", 200), ("Product views", 80), ("Carts", 20), ("Checkouts", 10), ("Paid orders", 5)])
    assert list(fig.data[0].text) == ["200 · 100%", "80 · 40%", "20 · 10%", "10 · 5%", "5 · 2%"]
    assert fig.data[0].textinfo == "text" and _message(fig) is None


def test_without_visits_the_funnel_shows_counts_never_infinite_shares():
    # orders can come without recorded visits (no analytics consent, the API)
    fig = funnel_figure([("Visits", 0), ("Product views", 0), ("Carts", 0), ("Checkouts", 6), ("Paid orders", 6)])
    assert list(fig.data[0].text) == ["0", "0", "0", "6", "6"]
    assert "Infinity" not in fig.to_json()
    empty = funnel_figure([("Visits", 0), ("Paid orders", 0)])
    assert _message(empty) == "No visits or orders in this period"


@pytest.mark.parametrize(
    ("figure", "message"),
    [
        (lambda: searches_figure([]), "No searches in this period"),
        (lambda: providers_figure([]), "No provider calls in this period"),
        (lambda: share_figure([]), "No orders placed with providers in this period"),
        (lambda: margin_figure([], "service"), "No sales in this period"),
        (lambda: margin_figure([], "provider"), "No orders placed with providers in this period"),
    ],
)
def test_an_empty_chart_says_so_and_hides_its_axes(figure, message):
    fig = figure()
    assert _message(fig) == message
    assert fig.layout.xaxis.visible is False and fig.layout.yaxis.visible is False


def test_a_chart_with_data_has_no_empty_message():
    assert _message(searches_figure([{"query": "likes", "count": 3}])) is None
    assert _message(share_figure([{"provider": "p", "orders": 2}])) is None
