"""Operator pages in a real browser, fed by the real engine: two paid orders go through
the panel sandbox (run_fulfillment + sync_statuses against the live shop's database), a
third line is dead-lettered; the admin reads providers, fulfilment metrics, dead letters
and an order's provider orders, retries the dead letter and requests a refill."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from smplat.db import session_scope
from smplat.models.fulfillment import FulfillmentTask, TaskStatus
from smplat.models.orders import OrderEvent, OrderItem
from smplat.sandbox.panel import PanelSandbox
from smplat.services.fulfillment import engine, status_sync
from smplat.settings import reset_settings_cache
from tests.fulfillment_factory import paid_order, product, seed_with_panel

pytestmark = pytest.mark.places_orders


@contextmanager
def _shop_db(url: str):
    with session_scope(url) as db:
        yield db


def _fits_phone(page, output_dir, name: str) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    width, viewport = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    page.screenshot(path=str(output_dir / "screenshots" / f"phone_{name}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    assert width <= viewport, f"{name} scrolls sideways on a phone ({width}px > {viewport}px)"


def test_operator_pages_show_the_engine_at_work(page, live_shop, output_dir, monkeypatch, sign_in, wait_for_app):
    # given: the seeded provider pointed at a panel sandbox, two lines delivered, one dead letter
    monkeypatch.setenv("SMPLAT_FULFILLMENT_RECONCILE_DELAY_SECONDS", "1")
    reset_settings_cache()
    shop = lambda: _shop_db(live_shop.database_url)  # noqa: E731
    (output_dir / "screenshots").mkdir(parents=True, exist_ok=True)
    with PanelSandbox(port=0) as panel:
        with shop() as db:
            seed_with_panel(db, panel.base_url)
            followers, likes = product(db, "instagram-followers"), product(db, "instagram-likes")
            delivered = paid_order(
                db,
                [
                    (followers, "https://instagram.com/ops.demo", 1000, 1200),
                    (likes, "https://instagram.com/p/ops1", 500, 390),
                ],
                email="ops.buyer@example.com",
            )
            stuck = paid_order(db, [(likes, "https://instagram.com/p/ops2", 250, 290)], email="stuck@example.com")
        with shop() as db:
            stuck_task = (
                db.execute(
                    select(FulfillmentTask)
                    .join(OrderItem, OrderItem.id == FulfillmentTask.order_item_id)
                    .where(OrderItem.order_id == stuck.id)
                )
                .scalars()
                .one()
            )
            stuck_task_id = stuck_task.id
            stuck_task.status, stuck_task.attempts = TaskStatus.DEAD_LETTER.value, 5
            stuck_task.last_error = "panel answered: Not enough funds on balance"
        # the stuck task is dead-lettered, so the delivered order's two lines go out (a line an
        # earlier browser test may have left queued in this shared shop goes out too; nothing
        # below counts on there being one or none)
        mine = ["https://instagram.com/ops.demo", "https://instagram.com/p/ops1"]
        # (in a worker thread: sync Playwright keeps an event loop running in this one)
        with ThreadPoolExecutor(1) as worker:
            ran = worker.submit(engine.run_fulfillment, shop).result()
            synced = worker.submit(status_sync.sync_statuses, shop).result()
        assert ran["processed"] == ran["submitted"] >= 2 and synced["completed"] >= 2
        by_link = panel.state.orders_by_link()
        assert [len(by_link.get(link, [])) for link in mine] == [1, 1]
        assert "https://instagram.com/p/ops2" not in by_link
        with shop() as db:
            items = db.execute(select(OrderItem.status).where(OrderItem.order_id == delivered.id)).scalars().all()
            assert items == ["completed", "completed"]
            assert db.get(FulfillmentTask, stuck_task_id).status == TaskStatus.DEAD_LETTER.value

        # when the admin opens the operator pages
        sign_in(page, "admin@smplat.local", "admin-demo-pass", next_path="/admin/providers")
        expect(page).to_have_url(re.compile(r"/admin/providers/?$"))
        expect(page.locator("#provider-link-sandbox-panel")).to_be_visible()
        page.screenshot(path=str(output_dir / "screenshots" / "admin_providers.png"), full_page=True)
        _fits_phone(page, output_dir, "admin_providers")

        page.locator("#provider-link-sandbox-panel").click()
        expect(page.get_by_text("Instagram Followers").first).to_be_visible()
        expect(page.locator("#api-key-hint")).to_be_visible()
        assert "sandbox-demo-key" not in page.content()  # the key is never shown back
        page.screenshot(path=str(output_dir / "screenshots" / "admin_provider_detail.png"), full_page=True)
        # the admin tests the connection (services + balance in the provider's dialect) and sees the dialect
        page.get_by_role("button", name="Test connection").click()
        expect(page.locator("#provider-connection")).to_contain_text("Connected: 11 services listed")
        expect(page.locator("#dialect_text")).to_have_value(re.compile(r'"transport": "form"'))
        page.screenshot(path=str(output_dir / "screenshots" / "admin_provider_dialect.png"), full_page=True)

        page.goto("/admin/catalog")
        wait_for_app(page)
        page.locator("#routing-instagram-followers").click()
        expect(page.locator("#routing-preview-table")).to_contain_text("1,000 followers")
        expect(page.locator("#routing-preview-table")).to_contain_text("92.1 %")
        page.screenshot(path=str(output_dir / "screenshots" / "admin_routing_preview.png"), full_page=True)

        page.goto("/admin/fulfilment")
        expect(page.locator("#fulfilment-chart .main-svg").first).to_be_visible(timeout=30_000)  # Plotly drew it
        expect(page.locator("#fulfilment-chart .legendtext", has_text="Succeeded")).to_have_count(1)
        expect(page.locator("#fulfilment-metrics-table")).to_contain_text("Sandbox Panel")
        page.screenshot(path=str(output_dir / "screenshots" / "admin_fulfilment.png"), full_page=True)
        _fits_phone(page, output_dir, "admin_fulfilment")

        page.goto("/admin/dead-letters")
        expect(page.locator("#dead-letters-table")).to_contain_text("Not enough funds on balance")
        page.screenshot(path=str(output_dir / "screenshots" / "admin_dead_letters.png"), full_page=True)
        page.locator(f"#action-{stuck_task_id}").select_option("retry")
        page.locator(f"#reason-{stuck_task_id}").fill("Balance topped up")
        page.locator(f"#apply-{stuck_task_id}").click()
        expect(page.get_by_text(f"Task {stuck_task_id} queued again.")).to_be_visible()
        with shop() as db:
            assert db.get(FulfillmentTask, stuck_task_id).status == TaskStatus.PENDING.value
            retried = (
                db.execute(select(OrderEvent).where(OrderEvent.order_id == stuck.id).order_by(OrderEvent.id.desc()))
                .scalars()
                .first()
            )
            assert retried.actor_label == "admin@smplat.local" and "Balance topped up" in retried.message

        page.goto(f"/admin/orders/{delivered.number}")
        expect(page.locator("#order-items-table")).to_contain_text("Instagram Followers")
        expect(page.locator("#order-timeline")).to_contain_text("Order processing → completed")
        page.screenshot(path=str(output_dir / "screenshots" / "admin_order_detail.png"), full_page=True)
        page.locator("[id^=action-po-]").first.select_option("refill")
        page.locator("[id^=reason-po-]").first.fill("Customer reports a drop")
        page.locator("[id^=apply-po-]").first.click()
        expect(page.get_by_text("Refill queued.")).to_be_visible()
        expect(page.locator("#order-timeline")).to_contain_text("Customer reports a drop")
        _fits_phone(page, output_dir, "admin_order_detail")
