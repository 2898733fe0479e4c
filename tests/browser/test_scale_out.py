"""The scale-out path on real servers: PostgreSQL for data, Redis for Reflex state, two
web workers. A customer signs in and an admin reaches the admin; the page state lives in
Redis, not in a worker's memory."""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import text

from smplat.db import get_engine

REDIS_URL = os.environ.get("SMPLAT_TEST_REDIS_URL", "").strip()
PG_URL = os.environ.get("SMPLAT_TEST_POSTGRES_URL", "").strip()

pytestmark = pytest.mark.skipif(not (REDIS_URL and PG_URL),
                                reason="set SMPLAT_TEST_REDIS_URL and SMPLAT_TEST_POSTGRES_URL")


def test_postgres_redis_and_two_workers(tmp_path, browser, output_dir, serve_shop, sign_in):
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()  # the test's own Redis database number
    with get_engine(PG_URL).begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))

    env = {"REDIS_URL": REDIS_URL, "GRANIAN_WORKERS": "2"}
    with serve_shop(PG_URL, tmp_path, ".web-scale-test", env) as shop:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=shop.url)
        page = context.new_page()
        try:
            sign_in(page, "admin@smplat.local", "admin-demo-pass", next_path="/admin")
            expect(page).to_have_url(re.compile(r"/admin/?$"))
            expect(page.locator("#admin-kpis")).to_contain_text("Live products")
            page.locator("#admin-nav-customers").click()
            expect(page.locator("#admin-customers-table")).to_contain_text("client@smplat.local")
            assert client.dbsize() > 0, "Reflex kept no state in Redis"
        finally:
            page.screenshot(path=str(output_dir / "screenshots" / "test_postgres_redis_and_two_workers.png"),
                            full_page=True)
            context.close()
