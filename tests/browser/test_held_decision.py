"""A task held because the outcome of its add is unknown (docs/providers.md, "Reconcile
without lookup"), decided in a real browser: the operator enters the panel's order id."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from smplat.db import session_scope
from smplat.models.fulfillment import FulfillmentTask, TaskStatus
from smplat.models.orders import OrderItem
from smplat.models.providers import ProviderOrder, ProviderService
from smplat.sandbox.panel import PanelSandbox
from tests.fulfillment_factory import paid_order, product, seed_with_panel

pytestmark = pytest.mark.places_orders

LINK = "https://instagram.com/p/held.demo"


def test_operator_confirms_a_held_task_with_the_panel_order_id(page, live_shop, output_dir, sign_in):
    # given a line whose add went unanswered on a panel that cannot look orders up: its
    # intent is open and the task is held with the evidence (as the engine leaves it)
    with PanelSandbox(port=0) as panel, session_scope(live_shop.database_url) as db:
        provider = seed_with_panel(db, panel.base_url)
        likes = product(db, "instagram-likes")
        order = paid_order(db, [(likes, LINK, 250, 290)], email="held@example.com")
        task = (
            db.execute(
                select(FulfillmentTask)
                .join(OrderItem, OrderItem.id == FulfillmentTask.order_item_id)
                .where(OrderItem.order_id == order.id)
            )
            .scalars()
            .one()
        )
        service = db.execute(
            select(ProviderService).where(
                ProviderService.provider_id == provider.id, ProviderService.external_service_id == "103"
            )
        ).scalar_one()
        po = ProviderOrder(
            fulfillment_task_id=task.id,
            order_item_id=task.order_item_id,
            provider_id=provider.id,
            provider_service_id=service.id,
            submission_key=f"task:{task.id}:1:browser",
            link=LINK,
            quantity=250,
        )
        db.add(po)
        db.flush()
        finding = "the panel refused the same order sent again because it has an active order on this link"
        task.status, task.attempts = TaskStatus.DEAD_LETTER.value, 1
        task.payload = {"held": {"provider_order_id": po.id, "link": LINK, "finding": finding}}
        task.last_error = f"held for an operator: {finding}. Check Sandbox Panel for an order on {LINK}"
        task_id, po_id = task.id, po.id
    # when the admin opens the dead letters, picks "it reached the panel" and enters its id
    sign_in(page, "admin@smplat.local", "admin-demo-pass", next_path="/admin/dead-letters")
    expect(page.locator("#dead-letters-table")).to_contain_text("held for an operator")
    page.locator(f"#action-{task_id}").select_option("reached")
    page.locator(f"#panel-order-{task_id}").fill("4242")
    page.locator(f"#reason-{task_id}").fill("Order 4242 on the panel, same link and quantity")
    page.screenshot(path=str(output_dir / "screenshots" / "admin_held_decision.png"), full_page=True)
    page.locator(f"#apply-{task_id}").click()
    # then the panel's order is adopted and the task is done
    expect(page.get_by_text(f"Task {task_id} completed with the panel's order.")).to_be_visible()
    with session_scope(live_shop.database_url) as db:
        assert db.get(ProviderOrder, po_id).external_order_id == "4242"
        assert db.get(FulfillmentTask, task_id).status == TaskStatus.COMPLETED.value
