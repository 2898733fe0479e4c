"""An operator has the admin home, the order queue and Sales open; a customer pays in another
browser; the home's figures and latest orders, the queue and Sales' completed checkouts update
without a reload; the operator opens the order and refunds half of it through the Stripe
sandbox (the credit note for that half is listed under the invoice), and a note another
operator adds appears on the open order page without a reload."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from smplat.models.orders import Order

pytestmark = [pytest.mark.browser, pytest.mark.places_orders]

BUYER = "live.buyer@example.test"


def _shot(tab, output_dir, name: str) -> None:
    tab.evaluate("window.scrollTo(0, 0)")
    tab.screenshot(path=str(output_dir / "screenshots" / f"{name}.png"), full_page=True)


def _order(shop) -> Order | None:
    from sqlmodel import Session

    from smplat.db import get_engine

    with Session(get_engine(shop.database_url)) as db:
        return db.execute(select(Order).where(Order.customer_email == BUYER)).scalars().first()


def _invoice_totals(shop, order_id: int) -> list[tuple[str, int]]:
    from sqlmodel import Session

    from smplat.db import get_engine
    from smplat.models.invoices import Invoice

    with Session(get_engine(shop.database_url)) as db:
        rows = db.execute(select(Invoice.kind, Invoice.gross_minor).where(Invoice.order_id == order_id)).all()
    return [(kind, int(gross)) for kind, gross in rows]


def test_the_home_updates_when_a_customer_pays_and_the_operator_refunds_half(
    page, browser, live_shop, output_dir, sign_in, wait_for_app, wait_until
) -> None:
    page.set_default_timeout(30_000)
    # given the admin home open in the operator's browser
    sign_in(page, "admin@smplat.local", "admin-demo-pass", next_path="/admin")
    expect(page.locator("#admin-kpis")).to_be_visible()
    before = int(page.locator("#figures-today-orders").inner_text())
    _shot(page, output_dir, "admin_home_before")
    # and the order queue open in a second tab of the same browser
    queue = page.context.new_page()
    queue.set_default_timeout(30_000)
    queue.goto("/admin/orders")
    expect(queue.locator("#queue-filters")).to_be_visible()
    # and Sales open in a third
    sales = page.context.new_page()
    sales.set_default_timeout(30_000)
    sales.goto("/admin/sales")
    expect(sales.locator("#sales-completed")).to_be_visible()
    completed = int(re.search(r"\d+", sales.locator("#sales-completed").inner_text()).group())
    # when a customer pays in another browser
    customer = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_shop.url).new_page()
    customer.set_default_timeout(30_000)
    try:
        customer.goto("/services/instagram-followers")
        wait_for_app(customer)
        expect(customer.locator("#price-total")).to_have_text("€12.00")
        customer.locator("#field-username").fill("@livebuyer")
        customer.locator("#add-to-cart").click()
        customer.locator("#view-cart").click()
        expect(customer.locator("#cart-total")).to_have_text("€12.00")
        customer.locator("#checkout-email").fill(BUYER)
        customer.locator("#checkout-button").click()
        customer.locator("#pay-button").click()
        expect(customer.locator("#success-title")).to_be_visible()
    finally:
        customer.context.close()
    wait_until(lambda: _order(live_shop) is not None, 30, "the paid order")
    number = _order(live_shop).number
    # then, without a reload, the home counts it and lists it
    expect(page.locator("#figures-today-orders")).to_have_text(str(before + 1), timeout=20_000)
    expect(page.locator(f"#admin-order-{number}")).to_be_visible()
    _shot(page, output_dir, "admin_home_after_payment")
    expect(queue.locator(f"#admin-order-{number}")).to_be_visible(timeout=20_000)
    _shot(queue, output_dir, "admin_queue_after_payment")
    expect(sales.locator("#sales-completed")).to_have_text(
        re.compile(rf"Completed\s*{completed + 1}\b"), timeout=20_000
    )
    expect(sales.locator("#checkout-sessions")).to_contain_text(BUYER)
    _shot(sales, output_dir, "admin_sales_after_payment")
    sales.close()
    # the queue's filters go to the URL (what the home's tiles link to)
    queue.locator("#filter-customer").fill("nobody@example.test")
    queue.locator("#filter-submit").click()
    expect(queue).to_have_url(re.compile(r"customer=nobody%40example.test"))
    expect(queue.locator("#admin-orders-empty")).to_be_visible()
    queue.goto(f"/admin/orders?q={number}&awaiting=1")
    expect(queue.locator(f"#admin-order-{number}")).to_be_visible()
    expect(queue.locator("#filter-awaiting")).to_be_checked()
    # the product filter offers the services by name (the id goes to the URL) and keeps the choice
    queue.goto("/admin/orders")
    wait_for_app(queue)
    queue.locator("#filter-product").select_option(label="Instagram Followers")
    queue.locator("#filter-submit").click()
    expect(queue).to_have_url(re.compile(r"product=\d+"))
    expect(queue.locator(f"#admin-order-{number}")).to_be_visible()
    expect(queue.locator("#filter-product option:checked")).to_have_text("Instagram Followers")
    _shot(queue, output_dir, "admin_queue_by_product")
    queue.close()
    # when the operator opens it and refunds half (€6.00 of €12.00)
    page.locator(f"#admin-order-{number}").click()
    expect(page.locator("#order-money")).to_contain_text("charged €12.00")
    expect(page.locator("#status-select")).to_have_value(status := _order(live_shop).status)
    assert status == "processing"  # the status form starts at the order's status
    page.locator("#refund-amount").fill("6.00")
    page.get_by_role("button", name="Refund", exact=True).click()
    expect(page.locator("#order-money")).to_contain_text("refunded €6.00")
    expect(page.locator("#order-timeline")).to_contain_text("Refunded €6.00 in total")
    # and the credit note for exactly that half sits under the order's invoice
    invoices = page.locator("#order-invoices-table")
    expect(invoices).to_contain_text("Credit note")
    expect(invoices.locator("tr", has_text="Credit note")).to_contain_text("-€6.00")
    expect(invoices.locator("tr", has_text="Invoice")).to_contain_text("€12.00")
    _shot(page, output_dir, "admin_order_refunded_half")
    refunded = _order(live_shop)
    assert (refunded.refunded_minor, refunded.payment_status) == (600, "partially_refunded")
    assert sorted(_invoice_totals(live_shop, refunded.id)) == [("credit_note", -600), ("invoice", 1200)]
    # when another operator adds a note to the order while the page is open
    _note(live_shop, number, "Customer called: keep the rest on the order")
    # then the open order page shows it without a reload, and the refund form is still there
    expect(page.locator("#order-timeline")).to_contain_text("Customer called: keep the rest", timeout=20_000)
    expect(page.locator("#order-money")).to_contain_text("refunded €6.00")
    _shot(page, output_dir, "admin_order_note_from_another_operator")


def _note(shop, number: str, text: str) -> None:
    from sqlmodel import Session

    from smplat.db import get_engine
    from smplat.services import admin_orders, audit

    other = audit.Actor.staff(None, "other.operator@smplat.local", "operator", "198.51.100.9")
    with Session(get_engine(shop.database_url)) as db:
        admin_orders.add_note(db, other, number, text)
        db.commit()
