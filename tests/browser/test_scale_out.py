"""The scale-out path on real servers: PostgreSQL for data, Redis for Reflex state, and two
web processes that really share one browser session.

How the two workers are told apart, honestly: Granian's workers share one listening socket
and the kernel picks the one that accepts a connection, so a test cannot choose a worker or
see which one answered. Instead this test runs two separate web processes on two ports,
both on the same PostgreSQL database and the same Redis (REDIS_URL):

- worker A: the production app (pages and backend) on its own port, built with its backend
  address (API_URL) pointing at a small TCP proxy owned by the test;
- worker B: a second backend process of the same app (`reflex run --backend-only`).

The page is always served by A; its websocket (the Reflex event channel) goes through the
proxy, and the test decides whether the proxy forwards new connections to A or to B and
records which one got each websocket. The browser keeps its one session token
(sessionStorage, kept across a reload in the same tab).

Then: an event handled by A sets page state (Admin → Search insights: the 7-day window);
the tab reloads with the proxy pointing at B, and the page-load event handled by B reads
that state (it shows, and loads, the 7-day window). A fresh session on B shows the default
30-day window, so the 7 can only have come from the state A wrote to Redis.
"""

from __future__ import annotations

import os
import re
import socket
import sys
import threading
from collections import Counter

import pytest
from playwright.sync_api import expect
from sqlalchemy import text

from smplat import cli
from smplat.db import get_engine

REDIS_URL = os.environ.get("SMPLAT_TEST_REDIS_URL", "").strip()
PG_URL = os.environ.get("SMPLAT_TEST_POSTGRES_URL", "").strip()

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (REDIS_URL and PG_URL), reason="set SMPLAT_TEST_REDIS_URL and SMPLAT_TEST_POSTGRES_URL"),
]


class SwitchingProxy:
    """A TCP proxy on loopback that sends each new connection to the current upstream port,
    and counts the websocket upgrades (`GET /_event...`) each upstream received."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.upstream: tuple[str, int] | None = None  # (name, port)
        self.websockets: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            name, port = self.upstream  # type: ignore[misc]
            try:
                server = socket.create_connection(("127.0.0.1", port))
            except OSError:
                client.close()
                continue
            threading.Thread(target=self._pump, args=(client, server, name), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, None), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, name: str | None) -> None:
        first = True
        try:
            while data := src.recv(65536):
                if first and name is not None and data.startswith(b"GET /_event") and b"Upgrade: websocket" in data:
                    with self._lock:
                        self.websockets[name] += 1
                first = False
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self._closed = True
        self._listener.close()


def _insights(context, sign_in):
    page = context.new_page()
    sign_in(page, "admin@smplat.local", "admin-demo-pass", next_path="/admin/search-insights")
    expect(page).to_have_url(re.compile(r"/admin/search-insights/?$"))
    expect(page.locator("#kpi-searches")).to_be_visible()
    return page


def test_two_web_processes_share_one_session_through_redis(
    tmp_path, browser, output_dir, serve_shop, sign_in, free_port
):
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()  # the test's own Redis database number
    with get_engine(PG_URL).begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))

    proxy = SwitchingProxy()
    api_url = f"http://localhost:{proxy.port}"
    env = {"REDIS_URL": REDIS_URL, "API_URL": api_url, "REFLEX_API_URL": api_url, "GRANIAN_WORKERS": "1"}
    shots = output_dir / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    try:
        with serve_shop(PG_URL, tmp_path, ".web-scale-test", env) as shop:
            port_a = int(shop.url.rsplit(":", 1)[1])
            proxy.upstream = ("A", port_a)
            port_b = free_port()
            worker_b = cli.Child(
                "web-b",
                [
                    os.path.join(os.path.dirname(sys.executable), "reflex"),
                    "run",
                    "--env",
                    "prod",
                    "--backend-only",
                    "--backend-port",
                    str(port_b),
                    "--loglevel",
                    "warning",
                ],
                {
                    "DATABASE_URL": PG_URL,
                    "REDIS_URL": REDIS_URL,
                    "SMPLAT_ENV": "test",
                    # the pages come from A's origin: B must accept that origin on /_event
                    "SMPLAT_ALLOWED_ORIGINS": shop.url.rstrip("/"),
                    # no frontend port (reflex refuses one with --backend-only)
                    "SMPLAT_PORT": "0",
                    "GRANIAN_WORKERS": "1",
                    # B builds no pages: its compile output goes to a scratch folder
                    "REFLEX_WEB_WORKDIR": str(tmp_path / "web-b"),
                },
            )
            worker_b.start(quiet=True)
            context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=shop.url)
            context.set_default_timeout(30_000)
            fresh = None
            try:
                assert cli.wait_until_healthy(f"http://127.0.0.1:{port_b}/api/health", [worker_b], timeout=600), (
                    "worker B did not start"
                )

                # given an admin on Search insights, served through worker A
                page = _insights(context, sign_in)
                trigger = page.locator("#insights-window")
                expect(trigger).to_contain_text("Last 30 days")
                # (the page's event channel runs through the proxy, to A)
                assert proxy.websockets["A"] >= 1 and proxy.websockets["B"] == 0
                token = page.evaluate("window.sessionStorage.getItem('token')")

                # when an event handled by A chooses the 7-day window
                trigger.click()
                page.get_by_role("option", name="Last 7 days").click()
                expect(trigger).to_contain_text("Last 7 days")
                on_a = proxy.websockets["A"]

                # and the tab reloads with new connections going to worker B
                proxy.upstream = ("B", port_b)
                page.reload()
                expect(page.locator("#kpi-searches")).to_be_visible()

                # then B's page-load event read the window A wrote, for the same session token
                expect(trigger).to_contain_text("Last 7 days")
                assert page.evaluate("window.sessionStorage.getItem('token')") == token
                assert proxy.websockets["B"] >= 1 and proxy.websockets["A"] == on_a
                page.screenshot(path=str(shots / "scale_out_worker_b_same_session.png"), full_page=True)

                # and a new session on B starts from the default: the 7 came from the shared state
                fresh = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=shop.url)
                fresh.set_default_timeout(30_000)
                other = _insights(fresh, sign_in)
                expect(other.locator("#insights-window")).to_contain_text("Last 30 days")
                assert other.evaluate("window.sessionStorage.getItem('token')") != token
                assert proxy.websockets["A"] == on_a
                assert client.dbsize() > 0, "Reflex kept no state in Redis"
            finally:
                context.close()
                if fresh is not None:
                    fresh.close()
                worker_b.stop()
    finally:
        proxy.close()
