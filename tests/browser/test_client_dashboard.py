"""The client dashboard in a browser: a client buys, opens the order page and watches the
progress move while the jobs (run_fulfillment + sync_statuses against the live shop's
database, the panel sandbox over HTTP) deliver, with no reload; requests a refill; uses
"order again"; cancels a running order (refunded); the account pages fit a phone. A guest pays and follows the order from the
receipt's tracking link."""

from __future__ import annotations

import random
import re
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
from playwright.sync_api import expect

from smplat.db import session_scope
from smplat.sandbox.panel import PanelSandbox
from smplat.sandbox.smtp_sink import latest_message_to
from smplat.services.fulfillment import engine, status_sync
from smplat.settings import reset_settings_cache
from tests.fulfillment_factory import seed_with_panel

pytestmark = [pytest.mark.browser, pytest.mark.places_orders]

LIVE = 8_000  # ms: the page must change within 5 s of the job (2 s ticks), with slack for a loaded machine


def _shot(tab, output_dir, name: str) -> None:
    (output_dir / "screenshots").mkdir(parents=True, exist_ok=True)
    tab.evaluate("window.scrollTo(0, 0)")
    tab.screenshot(path=str(output_dir / "screenshots" / f"{name}.png"), full_page=True)


def _fits_phone(tab, output_dir, name: str) -> None:
    tab.set_viewport_size({"width": 390, "height": 844})
    tab.wait_for_timeout(300)
    width, viewport = tab.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    tab.screenshot(path=str(output_dir / "screenshots" / f"phone_{name}.png"), full_page=True)
    tab.set_viewport_size({"width": 1280, "height": 900})
    assert width <= viewport, f"{name} scrolls sideways on a phone ({width}px > {viewport}px)"


def _buy(tab, wait_for_app, username: str, email: str | None) -> str:
    """Buy 1,000 followers for `username` (a guest gives `email`; an account's cart may hold
    lines an earlier test left, so the order page is read through this line only)."""
    tab.goto("/services/instagram-followers")
    wait_for_app(tab)  # typed before hydration, the field would be cleared
    tab.locator("#field-username").fill(username)
    tab.locator("#add-to-cart").click()
    expect(tab.locator("#view-cart")).to_be_visible()
    tab.locator("#view-cart").click()
    if email:
        tab.locator("#checkout-email").fill(email)
    expect(tab.locator("#checkout-button")).to_be_visible()
    if tab.locator("#checkout-billing").is_visible():  # an account without billing details is asked once
        tab.locator("#name").fill("Demo Client")
        tab.locator("#address").fill("Rue de la Loi 1\n1000 Brussels")
        tab.locator("#country").select_option("BE")
    tab.locator("#checkout-button").click()
    tab.locator("#pay-button").click()
    expect(tab.locator("#success-title")).to_be_visible()
    return tab.locator("#order-number").inner_text()


@pytest.fixture
def jobs(live_shop, monkeypatch):
    """`jobs(name)`: run one job function of the jobs process against the live shop's database
    (in a worker thread: sync Playwright keeps an event loop in this one), the provider pointed
    at a panel sandbox that completes an order at its second status poll."""
    monkeypatch.setenv("SMPLAT_FULFILLMENT_RECONCILE_DELAY_SECONDS", "1")
    reset_settings_cache()

    @contextmanager
    def shop():
        with session_scope(live_shop.database_url) as db:
            yield db

    with PanelSandbox(port=0) as panel:
        panel.state.set_knobs(polls_to_complete=2)
        # panel order ids of their own: the shared shop may hold another sandbox's (ids from 1000)
        panel.state.next_id = random.randint(10**6, 10**9)
        panel.state.next_refill = random.randint(10**6, 10**9)
        with shop() as db:
            seed_with_panel(db, panel.base_url)
        with ThreadPoolExecutor(1) as worker:

            def run(name: str) -> dict:
                job = {"deliver": engine.run_fulfillment, "sync": status_sync.sync_statuses}[name]
                return worker.submit(job, shop).result()

            yield run
    reset_settings_cache()


def test_a_client_watches_an_order_deliver_live_refills_and_orders_again(
    page, live_shop, output_dir, sign_in, wait_for_app, jobs
) -> None:
    tab = page
    tab.set_default_timeout(30_000)
    # given the demo client, signed in, buys 1,000 followers for @dashlive
    sign_in(tab, "client@smplat.local", "client-demo-pass", next_path="/services/instagram-followers")
    expect(tab.locator("#product-title")).to_have_text("Instagram Followers")
    number = _buy(tab, wait_for_app, "@dashlive", None)
    # the success page links the account holder to the order page
    tab.get_by_role("link", name="Follow my order").click()
    expect(tab).to_have_url(re.compile(rf"/account/orders/{number}$"))
    line = tab.locator(".order-line", has_text="@dashlive")
    status = line.locator("[id^=line-status-]")
    expect(status).to_have_text("Waiting to start")
    expect(tab.locator("#order-status")).to_have_text("In progress")
    _shot(tab, output_dir, "client_order_waiting")
    url_before = tab.url
    tab.evaluate("window.__no_reload = 1")  # gone if the page reloads

    # when the jobs process sends the line to the panel and polls it twice
    jobs("deliver")
    expect(line.locator("[id^=started-]")).not_to_have_text("not yet", timeout=LIVE)
    jobs("sync")  # the panel answers "In progress"
    jobs("sync")  # and then "Completed"
    # then the page shows the delivery without a reload
    expect(status).to_have_text("Delivered", timeout=LIVE)
    expect(line.locator("[id^=line-progress-]")).to_contain_text("100%")
    expect(line.locator("[id^=delivered-]")).to_have_text("1,000")
    expect(tab.locator("#order-timeline")).to_contain_text("delivery finished")
    assert tab.evaluate("window.__no_reload") == 1 and tab.url == url_before
    _shot(tab, output_dir, "client_order_delivered")

    # the client asks for a refill: accepted once, then the reason is shown instead of the button
    line.get_by_role("button", name="Request refill").click()
    expect(tab.get_by_text("Refill requested").first).to_be_visible()
    expect(line.locator("[id^=history-]")).to_contain_text("Refill requested")
    expect(line.locator("[id^=refill-note-]")).to_have_text("A refill of this line is already under way.")
    _shot(tab, output_dir, "client_order_refill")
    _fits_phone(tab, output_dir, "account_order")

    # the orders list shows it delivered, and the row opens it
    tab.goto("/account/orders")
    wait_for_app(tab)
    card = tab.locator(f"#order-{number}")
    expect(card).to_contain_text("100%")
    _shot(tab, output_dir, "client_orders_list")
    _fits_phone(tab, output_dir, "account_orders")
    tab.goto("/account")
    wait_for_app(tab)
    expect(tab.locator("#account-welcome")).to_contain_text("Welcome back")
    _fits_phone(tab, output_dir, "account_overview")
    tab.goto(f"/account/orders/{number}")
    wait_for_app(tab)

    # "order again" opens the product page with the same configuration and handle
    tab.locator(".order-line", has_text="@dashlive").get_by_role("link", name="Order again").click()
    expect(tab.locator("#product-title")).to_have_text("Instagram Followers")
    expect(tab.locator("#field-username")).to_have_value("@dashlive")
    _shot(tab, output_dir, "client_order_again")


def test_a_client_cancels_a_running_order_and_the_rest_is_refunded(
    page, live_shop, output_dir, sign_in, wait_for_app, jobs
) -> None:
    tab = page
    tab.set_default_timeout(30_000)
    sign_in(tab, "client@smplat.local", "client-demo-pass", next_path="/services/instagram-followers")
    expect(tab.locator("#product-title")).to_have_text("Instagram Followers")
    number = _buy(tab, wait_for_app, "@dashcancel", None)
    tab.get_by_role("link", name="Follow my order").click()
    expect(tab).to_have_url(re.compile(rf"/account/orders/{number}$"))
    line = tab.locator(".order-line", has_text="@dashcancel")
    # sent to the panel, still running: "Cancel" asks for confirmation first
    jobs("deliver")
    expect(line.locator("[id^=started-]")).not_to_have_text("not yet", timeout=LIVE)
    line.get_by_role("button", name="Cancel", exact=True).click()
    expect(line.get_by_role("button", name="Yes, cancel it")).to_be_visible()
    _shot(tab, output_dir, "client_order_cancel_confirm")
    line.get_by_role("button", name="Yes, cancel it").click()
    expect(tab.get_by_text("Cancel requested").first).to_be_visible()
    expect(line.locator("[id^=cancel-note-]")).to_have_text("A cancel of this line is already under way.")
    # the jobs send the cancel and see the order end: the line is canceled and refunded, live
    jobs("deliver")
    jobs("sync")
    expect(line.locator("[id^=line-status-]")).to_have_text("Canceled", timeout=LIVE)
    expect(tab.locator("#order-timeline")).to_contain_text("undelivered units refunded")
    _shot(tab, output_dir, "client_order_canceled")


def test_a_guest_follows_the_order_from_the_receipts_link(browser, live_shop, output_dir, wait_for_app, jobs) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_shop.url)
    context.set_default_timeout(30_000)
    tab = context.new_page()
    try:
        # given a guest who pays
        number = _buy(tab, wait_for_app, "@guestlive", "guest.tracker@example.test")
        # the success page's button opens the tracking page (not the sign-in form)
        tab.get_by_role("link", name="Follow my order").click()
        expect(tab).to_have_url(re.compile(r"/track/SMP-"))
        expect(tab.get_by_role("heading", name=f"Order {number}")).to_be_visible()
        # and the receipt's link opens it too, in a fresh browser with no cookie at all
        receipt = latest_message_to(live_shop.mailbox, "guest.tracker@example.test")
        link = next(w for w in receipt.text.split() if "/track/" in w)
        assert number in receipt.text and "/account/orders" not in receipt.text
        other = browser.new_context(viewport={"width": 390, "height": 844})
        try:
            phone = other.new_page()
            phone.goto(link)
            expect(phone.get_by_role("heading", name=f"Order {number}")).to_be_visible()
            expect(phone.locator("[id^=line-status-]")).to_have_text("Waiting to start")
            # when the jobs deliver, the guest's page follows live
            jobs("deliver")
            jobs("sync")
            jobs("sync")
            expect(phone.locator("[id^=line-status-]")).to_have_text("Delivered", timeout=LIVE)
            assert phone.get_by_role("button", name="Request refill").count() == 0  # read-only
            width, viewport = phone.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            _shot(phone, output_dir, "guest_tracking_phone")
            assert width <= viewport
            # a tampered link shows nothing of the order
            phone.goto(link[:-4] + "AAAA")
            expect(phone.locator("#track-invalid")).to_be_visible()
            assert number not in phone.content()
        finally:
            other.close()
    finally:
        context.close()
