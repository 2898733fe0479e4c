"""An operator has Analytics open: its figures, Plotly charts and tables are drawn, a chart or
table with nothing in the period says so, and a newly paid order appears in the paid orders,
revenue and the charts within seconds, without a reload."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.fulfillment_factory import paid_order, product

pytestmark = [pytest.mark.browser, pytest.mark.places_orders]


def _count(tab, tile: str) -> int:
    """The figure of a tile ("<label> <value> <hint>")."""
    text = tab.locator(f"#{tile}").inner_text()
    found = re.search(r"Paid orders\s+([\d,]+)", text)
    assert found, text
    return int(found.group(1).replace(",", ""))


def test_analytics_draws_the_period_and_counts_a_new_paid_order_live(
    page, live_shop, db_session, output_dir, sign_in, wait_until
) -> None:
    page.set_default_timeout(30_000)
    # given Analytics open in the operator's browser
    sign_in(page, "admin@smplat.local", "admin-demo-pass", next_path="/admin/analytics")
    expect(page.locator("#kpi-orders")).to_be_visible()
    for chart in ("analytics-revenue", "analytics-funnel", "analytics-share", "analytics-providers"):
        expect(page.locator(f"#{chart} .main-svg").first).to_be_visible()
    assert "Infinity" not in page.locator("#analytics-funnel").inner_text()
    before = _count(page, "kpi-orders")

    # when a customer's order is paid (another process: the shop's database)
    likes = product(db_session, "instagram-likes")
    paid_order(
        db_session, [(likes, "https://instagram.com/p/analytics-live", 500, 580)], email="analytics@example.test"
    )

    # then the paid orders count it without a reload
    wait_until(lambda: _count(page, "kpi-orders") == before + 1, 20, "the new paid order on Analytics")
    expect(page.locator("#analytics-margins")).to_contain_text("Instagram Likes")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(output_dir / "screenshots" / "admin_analytics.png"), full_page=True)
