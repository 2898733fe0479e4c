"""Pages that don't jump: the cumulative layout shift (CLS) of the pages people land on,
measured in Chromium while the page hydrates and its content arrives over the websocket.

A PerformanceObserver for 'layout-shift' entries is installed before any script of the page
runs (`add_init_script`, `buffered: true`); entries caused by recent input are ignored. The
figure is the PLAIN SUM of every shift from navigation until the content is really there
(stricter than web-vitals' largest 5-second session window, which can only be smaller or
equal). Each page must stay at or below 0.1 ("good"); the assertion message names the figure
and the elements that moved most. Every case leaves a screenshot in test-output/screenshots/.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

CLS_BUDGET = 0.1

OBSERVER = """
(() => {
  window.__cls = {sum: 0, entries: []};
  const describe = (node) => {
    if (!node || !node.tagName) return String(node && node.nodeName);
    const id = node.id ? '#' + node.id : '';
    const cls = (typeof node.className === 'string' && node.className)
      ? '.' + node.className.trim().split(/\\s+/).slice(0, 3).join('.') : '';
    const text = (node.innerText || '').trim().slice(0, 40).replace(/\\s+/g, ' ');
    return node.tagName.toLowerCase() + id + cls + (text ? ' "' + text + '"' : '');
  };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if (entry.hadRecentInput) continue;
      window.__cls.sum += entry.value;
      window.__cls.entries.push({
        value: entry.value,
        time: Math.round(entry.startTime),
        sources: (entry.sources || []).map((s) => describe(s.node) + ' '
          + JSON.stringify([Math.round(s.previousRect.y), Math.round(s.previousRect.height)]) + '->'
          + JSON.stringify([Math.round(s.currentRect.y), Math.round(s.currentRect.height)])),
      });
    }
  }).observe({type: 'layout-shift', buffered: true});
  // which of the header's sign-in states this document ever showed
  window.__headerSeen = [];
  const watched = ['nav-sign-in', 'account-menu', 'nav-auth-pending'];
  new MutationObserver(() => {
    for (const id of watched) {
      if (!window.__headerSeen.includes(id) && document.getElementById(id)) window.__headerSeen.push(id);
    }
  }).observe(document, {childList: true, subtree: true});
})();
"""

# Read after two animation frames, so shifts of the last render are reported too.
READ_CLS = """
() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(
  () => setTimeout(() => resolve(window.__cls), 200))))
"""


def _measure(page: Page, path: str, content_ready) -> tuple[float, list[dict], list[str]]:
    page.goto(path)
    content_ready(page)
    page.wait_for_load_state("networkidle")
    result = page.evaluate(READ_CLS)
    return result["sum"], result["entries"], page.evaluate("window.__headerSeen")


def _report(path: str, cls: float, entries: list[dict]) -> str:
    worst = sorted(entries, key=lambda e: -e["value"])[:6]
    lines = [f"  {e['value']:.4f} at {e['time']} ms: " + "; ".join(e["sources"]) for e in worst]
    return f"CLS on {path} is {cls:.4f} (budget {CLS_BUDGET}); largest shifts:\n" + "\n".join(lines)


def _home_ready(page: Page) -> None:
    expect(page.locator("#hero-title")).to_be_visible()
    expect(page.get_by_test_id("product-card").first).to_be_visible()
    expect(page.locator("#home-pricing")).to_contain_text("€")
    expect(page.locator("#nav-sign-in")).to_be_visible()


def _catalog_ready(page: Page) -> None:
    expect(page.get_by_test_id("product-card").first).to_be_visible()
    expect(page.locator("#result-count")).to_have_text(re.compile(r"\d"))
    expect(page.locator("#nav-sign-in")).to_be_visible()


def _product_ready(page: Page) -> None:
    expect(page.locator("#product-title")).to_have_text("Instagram Followers")
    expect(page.locator("#price-total")).to_have_text(re.compile(r"€\d"))
    expect(page.locator("#add-to-cart")).to_be_visible()
    expect(page.locator("#nav-sign-in")).to_be_visible()


def _cart_ready(page: Page) -> None:
    expect(page.locator("#cart-total")).to_have_text("€12.00")
    expect(page.locator("#nav-sign-in")).to_be_visible()


def _account_ready(page: Page) -> None:
    expect(page.locator("#account-welcome")).to_contain_text("Clara Client")
    expect(page.locator("#orders-table").or_(page.locator("#orders-empty"))).to_be_visible()
    expect(page.locator("#account-menu")).to_be_visible()


def _admin_ready(page: Page) -> None:
    expect(page.locator("#admin-kpis")).to_be_visible()
    expect(page.locator("#orders-table").or_(page.locator("#admin-orders-empty"))).to_be_visible()
    expect(page.locator("#account-menu")).to_be_visible()


def _put_one_line_in_the_cart(page: Page, _sign_in) -> None:
    page.goto("/services/instagram-followers")
    expect(page.locator("#price-total")).to_have_text(re.compile(r"€\d"))
    page.locator("#preset-popular").click()
    expect(page.locator("#price-total")).to_have_text("€12.00")
    page.locator("#field-username").fill("@steadypage")
    page.locator("#add-to-cart").click()
    expect(page.locator("#view-cart")).to_be_visible()


def _signed_in_as(email: str, password: str, landing: str):
    def given(page: Page, sign_in) -> None:
        sign_in(page, email, password, next_path=landing)
        expect(page).to_have_url(re.compile(re.escape(landing) + "/?$"))
        expect(page.locator("#account-menu")).to_be_visible()

    return given


SIGNED_OUT = {"nav-sign-in"}
SIGNED_IN = {"account-menu"}
CASES = {
    "home": (None, "/", _home_ready, SIGNED_OUT),
    "catalog": (None, "/services", _catalog_ready, SIGNED_OUT),
    "product": (None, "/services/instagram-followers", _product_ready, SIGNED_OUT),
    "cart": (_put_one_line_in_the_cart, "/cart", _cart_ready, SIGNED_OUT),
    "account": (
        _signed_in_as("client@smplat.local", "client-demo-pass", "/account"),
        "/account",
        _account_ready,
        SIGNED_IN,
    ),
    "admin_home": (_signed_in_as("admin@smplat.local", "admin-demo-pass", "/admin"), "/admin", _admin_ready, SIGNED_IN),
}


@pytest.mark.parametrize("name", list(CASES))
def test_page_does_not_jump_while_its_content_arrives(page: Page, name: str, sign_in) -> None:
    given, path, content_ready, header_state = CASES[name]
    # given the visitor in the right shape (signed out, with a cart line, signed in), the
    # observer installed for every document this tab loads from now on
    page.add_init_script(OBSERVER)
    if given is not None:
        given(page, sign_in)

    # when the page is loaded afresh and its content has arrived
    cls, entries, header_seen = _measure(page, path, content_ready)

    # then it moved by at most the budget on the way
    print(_report(path, cls, entries))
    assert cls <= CLS_BUDGET, _report(path, cls, entries)
    # and the header went from neutral straight to the visitor's own state, never the other one
    assert set(header_seen) - {"nav-auth-pending"} == header_state, header_seen
    page.evaluate("window.scrollTo(0, 0)")


SKELETONS = {
    "home": "#home-skeleton",
    "catalog": "#results-skeleton",
    "product": "#product-skeleton",
    "cart": "#cart-skeleton",
    "account": "#page-skeleton",  # the area's body until the session check has passed
    "admin_home": "#page-skeleton",
}


@pytest.mark.parametrize("name", list(SKELETONS))
def test_until_the_state_arrives_the_page_shows_its_skeleton_and_a_neutral_header(
    page: Page, name: str, sign_in
) -> None:
    given, path, _content_ready, _header_state = CASES[name]
    if given is not None:
        given(page, sign_in)
    # given a page whose state never arrives: the event websocket is held open and silent
    page.route_web_socket(re.compile(r"/_event"), lambda _ws: None)
    page.route(re.compile(r"/_event"), lambda route: route.abort())

    # when it is loaded
    page.goto(path)

    # then the space is held by its skeleton and the header claims neither state
    expect(page.locator(SKELETONS[name])).to_be_visible()
    expect(page.locator("#nav-auth-pending")).to_be_visible()
    expect(page.locator("#nav-sign-in")).to_have_count(0)
    expect(page.locator("#account-menu")).to_have_count(0)
    # the skeleton reaches past the fold, so nothing below it can move into view later
    box = page.locator(SKELETONS[name]).bounding_box()
    viewport = page.viewport_size
    if name in ("home", "catalog", "product"):
        assert box["y"] + box["height"] >= viewport["height"], (box, viewport)
