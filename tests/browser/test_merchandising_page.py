"""Admin → Merchandising in a real browser: a preset cleared as often as it is applied is flagged
risky in the windows table, next to the rolling-average chart and the adoption table."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import expect
from sqlalchemy import select

from smplat.models.base import utcnow
from smplat.models.catalog import Product
from smplat.models.merchandising import PresetEvent


def _events(db, product_id: int, key: str, days_ago: int, applies: int, clears: int, source: str) -> None:
    at = utcnow() - timedelta(days=days_ago, minutes=5)
    for action, n in (("apply", applies), ("clear", clears)):
        db.add_all(
            PresetEvent(product_id=product_id, preset_key=key, action=action, source=source, created_at=at)
            for _ in range(n)
        )


def test_the_merchandising_page_flags_a_risky_preset(page, live_shop, db_session, sign_in, output_dir) -> None:
    followers = db_session.execute(select(Product).where(Product.slug == "instagram-followers")).scalars().one()
    for days_ago in range(0, 20, 2):
        _events(db_session, followers.id, "browser-steady", days_ago, 6, 1, "configurator")
    _events(db_session, followers.id, "browser-risky", 1, 12, 6, "marketing_card")
    db_session.commit()

    sign_in(page, "admin@smplat.local", "admin-demo-pass", next_path="/admin/merchandising")
    table = page.locator("#merch-presets")
    expect(table).to_be_visible()
    risky_row = table.locator("tr", has_text="browser-risky")
    expect(risky_row).to_contain_text("Risky")
    expect(risky_row).to_contain_text("12 applied · 6 cleared")
    expect(risky_row).to_contain_text("50.0 % cleared · net +6")
    expect(table.locator("tr", has_text="browser-steady")).not_to_contain_text("Risky")
    expect(page.locator("#merch-chart .js-plotly-plot")).to_be_visible()
    expect(page.locator("#merch-rule")).to_contain_text("at least 40 %")
    page.locator("#merch-period").click()
    page.get_by_role("option", name="90").click()
    expect(page.locator("#merch-period")).to_contain_text("90")
    (output_dir / "screenshots").mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(output_dir / "screenshots" / "admin_merchandising.png"), full_page=True)
