"""The pages work under the Content-Security-Policy, carry the hardening headers, and a page
on another origin (another port of the same host) can neither open the shop's `/_event`
websocket nor frame its sign-in page."""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def _csp_violations(tab) -> list[str]:
    found: list[str] = []
    tab.on("console", lambda msg: found.append(msg.text) if "Content Security Policy" in msg.text else None)
    return found


def test_home_and_sign_in_work_under_the_policy(page, live_shop, sign_in, wait_for_app):
    # given the console watched for policy violations
    violations = _csp_violations(page)

    # when a visitor opens home
    answer = page.goto("/")
    wait_for_app(page)

    # then the page answers with every hardening header and renders its content
    headers = answer.headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert (headers["x-frame-options"], headers["x-content-type-options"], headers["referrer-policy"]) == (
        "DENY",
        "nosniff",
        "strict-origin-when-cross-origin",
    )
    expect(page.locator("#home-services")).to_be_visible()

    # and signing in (websocket event, ticket redirect through the API, cookie) still works
    sign_in(page, "client@smplat.local", "client-demo-pass")
    expect(page).to_have_url(re.compile(r"/account/?$"))
    expect(page.locator("#account-email")).to_have_text(re.compile("client@smplat.local"))
    assert violations == []


def _foreign_page(html: str) -> HTTPServer:
    body = html.encode()

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


SOCKET_PROBE = """
new Promise((resolve) => {
  const ws = new WebSocket(%r);
  ws.onopen = () => { ws.close(); resolve("open"); };
  ws.onerror = () => resolve("refused");
  setTimeout(() => resolve("timeout"), 8000);
})
"""


def test_another_origin_cannot_open_the_event_socket_or_frame_sign_in(page, live_shop, wait_for_app):
    socket_url = live_shop.url.replace("http://", "ws://").rstrip("/") + "/_event/?EIO=4&transport=websocket"
    # given the shop's own page can open its websocket
    page.goto("/")
    wait_for_app(page)
    assert page.evaluate(SOCKET_PROBE % socket_url) == "open"

    # when a page on another port of the same host tries, and frames the sign-in page
    server = _foreign_page(f'<html><body><iframe id="framed" src="{live_shop.path("/signin")}"></iframe></body></html>')
    try:
        page.goto(f"http://localhost:{server.server_port}/")
        from_foreign = page.evaluate(SOCKET_PROBE % socket_url)
        page.wait_for_timeout(1500)
        framed = page.frame_locator("#framed")
        framed_form = framed.locator("#signin-form")
        # then the websocket is refused and the sign-in form never renders in the frame
        assert from_foreign == "refused"
        expect(framed_form).to_have_count(0)
    finally:
        server.shutdown()
        server.server_close()
