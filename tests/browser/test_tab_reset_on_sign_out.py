"""The security finding replayed in a real browser: an admin signs out and a customer signs
in in the same tab; nothing the admin's pages loaded may reach the customer's browser over
the websocket (the tab keeps one Reflex state tree across full page loads)."""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import text

from smplat.db import get_engine

REDIS_URL = os.environ.get("SMPLAT_TEST_REDIS_URL", "").strip()
PG_URL = os.environ.get("SMPLAT_TEST_POSTGRES_URL", "").strip()


def test_the_next_user_of_a_tab_receives_nothing_of_the_admin(page, sign_in):
    admin_signs_out_and_a_customer_signs_in(page, sign_in)


@pytest.mark.skipif(not (REDIS_URL and PG_URL), reason="set SMPLAT_TEST_REDIS_URL and SMPLAT_TEST_POSTGRES_URL")
def test_with_state_in_redis_and_two_workers_too(tmp_path, browser, serve_shop, sign_in):
    # given the scale-out setup: every substate of the tab lives in Redis, two web workers
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()  # the test's own Redis database number
    with get_engine(PG_URL).begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    with serve_shop(PG_URL, tmp_path, ".web-scale-test", {"REDIS_URL": REDIS_URL, "GRANIAN_WORKERS": "2"}) as shop:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=shop.url)
        context.set_default_timeout(20_000)
        try:
            admin_signs_out_and_a_customer_signs_in(context.new_page(), sign_in)
        finally:
            context.close()


def admin_signs_out_and_a_customer_signs_in(page, sign_in) -> None:
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
