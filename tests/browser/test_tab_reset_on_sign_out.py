"""The security finding replayed in a real browser: an admin signs out and a customer signs
in in the same tab; nothing the admin's pages loaded may reach the customer's browser over
the websocket (the tab keeps one Reflex state tree across full page loads)."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import sign_in


def test_the_next_user_of_a_tab_receives_nothing_of_the_admin(page):
    # given an admin who opened the customers list (every user's email) in this tab
    sign_in(page, "admin@smplat.local", "admin-demo-pass", next_path="/admin/customers")
    expect(page).to_have_url(re.compile(r"/admin/customers/?$"))
    expect(page.locator("#admin-customers-table")).to_contain_text("operator@smplat.local")

    # when the admin signs out and a customer signs in, in the same tab
    page.locator("#account-menu").click()
    with page.expect_navigation(url=re.compile(r"/$")):
        page.locator("#menu-sign-out").click()
    received: list[str] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda frame: received.append(str(frame))))
    sign_in(page, "client@smplat.local", "client-demo-pass")
    expect(page).to_have_url(re.compile(r"/account/?$"))
    expect(page.locator("#account-email")).to_have_text("client@smplat.local")
    page.goto("/")  # one more full load: a hydrate sends the whole state tree
    expect(page.locator("#account-menu")).to_be_visible()

    # then the customer's browser received the customer's own data and none of the admin's
    frames = "\n".join(received)
    assert "client@smplat.local" in frames
    assert "operator@smplat.local" not in frames and "admin@smplat.local" not in frames
