"""Browser tests: the production build served on a free port against a fresh, seeded
SQLite database, driven by Playwright in Debian's Chromium. Every test leaves a
screenshot in test-output/screenshots/."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pyotp
import pytest
from sqlalchemy import select

from smplat import cli
from smplat.db import dispose_engines, session_scope
from smplat.migrate import upgrade_to_head
from smplat.models.accounts import User
from smplat.sandbox.smtp_sink import SmtpSink
from smplat.services import two_factor
from smplat.services.seed import seed_demo
from smplat.settings import PROJECT_ROOT, reset_settings_cache

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


# Admins must have two-factor before the admin answers them (as in production, where the demo
# admin enrols at first sign-in): the test shops give the seeded admin this known secret, and
# `sign_in` answers the code step for it.
DEMO_ADMIN_EMAIL = "admin@smplat.local"
DEMO_ADMIN_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
_TOTP_SECRETS = {DEMO_ADMIN_EMAIL: DEMO_ADMIN_TOTP_SECRET}
_last_totp_step: dict[str, int] = {}


def _totp_code(email: str, secret: str) -> str:
    """A code for `email` the server has not seen yet: each 30-second step is accepted once,
    so a second sign-in inside the same step waits for the next one."""
    while int(time.time()) // two_factor.STEP_SECONDS <= _last_totp_step.get(email, -1):
        time.sleep(0.5)
    step = int(time.time()) // two_factor.STEP_SECONDS
    _last_totp_step[email] = step
    return pyotp.TOTP(secret).at(step * two_factor.STEP_SECONDS)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def _wait_until(predicate, timeout: float, what: str, interval: float = 0.1) -> None:
    """Poll `predicate` until it is true; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


@dataclass
class LiveShop:
    url: str
    database_url: str
    mailbox: Path

    def path(self, path: str) -> str:
        return self.url.rstrip("/") + path


@contextmanager
def _serve_shop(
    database_url: str, workdir: Path, build_dir: str, extra_env: dict[str, str] | None = None, port: int | None = None
) -> Iterator[LiveShop]:
    """Migrate and seed `database_url`, start an SMTP sink and the production web app on a
    free port, and stop both afterwards."""
    mailbox = workdir / "mailbox"
    upgrade_to_head(database_url)
    with session_scope(database_url) as db:
        seed_demo(db)
    with session_scope(database_url) as db:
        admin = db.execute(select(User).where(User.email == DEMO_ADMIN_EMAIL)).scalars().one()
        two_factor.enable_with_secret(db, admin.id, DEMO_ADMIN_TOTP_SECRET)
    dispose_engines()

    sink = SmtpSink("127.0.0.1", 0, mailbox)
    sink.start()
    port = port or _free_port()
    env = {
        "DATABASE_URL": database_url,
        "SMPLAT_SMTP_PORT": str(sink.port),
        "SMPLAT_SANDBOX_MAILBOX_DIR": str(mailbox),
        "SMPLAT_MEDIA_DIR": str(workdir / "media"),  # uploaded product pictures of this shop only
        "SMPLAT_INVOICE_DIR": str(workdir / "invoices"),  # invoice PDFs of this shop only
        "SMPLAT_PUBLIC_BASE_URL": f"http://localhost:{port}",
        # A build folder of its own, so a developer's running `make run` is left alone.
        "REFLEX_WEB_WORKDIR": str(PROJECT_ROOT / build_dir),
        "SMPLAT_ENV": "test",
        # Every browser test is the same client IP (127.0.0.1) playing many shoppers in one
        # session: the per-IP storefront limits are raised (they are tested in tests/security).
        "SMPLAT_RATE_LIMIT_CART_CREATE_IP": "1000/hour",
        "SMPLAT_RATE_LIMIT_CART_ADD_IP": "1000/minute",
        "SMPLAT_RATE_LIMIT_CHECKOUT_IP": "1000/minute",
        "SMPLAT_RATE_LIMIT_SEARCH_IP": "1000/minute",
        "SMPLAT_RATE_LIMIT_ANALYTICS_IP": "1000/minute",
        **(extra_env or {}),
    }
    web = cli.web_child(port, env)
    web.start(quiet=True)
    try:
        if not cli.wait_until_healthy(f"http://127.0.0.1:{port}/api/health", [web], timeout=900):
            pytest.fail(f"the web app did not start on port {port} (exit {web.process.poll()})")
        # The health route can answer before the page bundle is served on a cold start.
        _wait_until(lambda: _answers(f"http://127.0.0.1:{port}/"), 120, "the page bundle to be served")
        yield LiveShop(f"http://localhost:{port}", database_url, mailbox)
    finally:
        web.stop()
        sink.stop()
        reset_settings_cache()


@pytest.fixture(scope="session")
def live_shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveShop]:
    """The shop on a fresh SQLite file, as a first-time user runs it."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing at /usr/bin/chromium: run `make test`, which installs it")
    from smplat.sandbox.instagram import InstagramSandbox
    from smplat.sandbox.stripe_sandbox import StripeSandbox
    from smplat.settings import SANDBOX_STRIPE_SECRET_KEY, SANDBOX_STRIPE_WEBHOOK_SECRET

    workdir = tmp_path_factory.mktemp("live-shop")
    port = _free_port()
    # the Stripe sandbox posts its signed webhooks to this shop
    stripe_sandbox = StripeSandbox(
        "127.0.0.1",
        0,
        secret_key=SANDBOX_STRIPE_SECRET_KEY,
        webhook_url=f"http://127.0.0.1:{port}/api/stripe/webhook",
        webhook_secret=SANDBOX_STRIPE_WEBHOOK_SECRET,
    ).start()
    instagram_sandbox = InstagramSandbox("127.0.0.1", 0).start()  # linked profiles' numbers
    try:
        with _serve_shop(
            f"sqlite:///{workdir / 'shop.db'}",
            workdir,
            ".web-test",
            {
                "SMPLAT_STRIPE_API_BASE": stripe_sandbox.base_url,
                "SMPLAT_INSTAGRAM_GRAPH_BASE_URL": instagram_sandbox.base_url,
            },
            port=port,
        ) as shop:
            yield shop
    finally:
        instagram_sandbox.stop()
        stripe_sandbox.stop()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import expect, sync_playwright

    # Assertions wait up to 15 s (Playwright's default is 5): on two busy cores the shop, its jobs
    # process, the browser and the test share the machine, and an answer can take seconds.
    expect.set_options(timeout=15_000)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_shop: LiveShop, request: pytest.FixtureRequest, output_dir: Path):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_shop.url)
    context.set_default_timeout(20_000)
    tab = context.new_page()
    yield tab
    shots = output_dir / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    try:
        tab.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    finally:
        context.close()


def _wait_for_app(tab) -> None:
    """Reflex pages hydrate over a websocket; wait until the page's state has arrived (the
    header's `#app-hydrated` marker), or text typed now would be cleared."""
    tab.wait_for_load_state("networkidle")
    tab.locator("#app-hydrated").wait_for(state="attached", timeout=30_000)


def _sign_in(tab, email: str, password: str, next_path: str = "") -> None:
    tab.goto("/signin" + (f"?next={next_path}" if next_path else ""))
    _wait_for_app(tab)  # typed before hydration, the inputs would be cleared and nothing sent
    tab.locator("#email").fill(email)
    tab.locator("#password").fill(password)
    tab.locator("#signin-submit").click()
    secret = _TOTP_SECRETS.get(email)
    if secret is not None:  # the second step, for an account the test shops gave two-factor
        tab.locator("#code").fill(_totp_code(email, secret))
        tab.locator("#signin-code-submit").click()


@pytest.fixture
def db_session(live_shop: LiveShop):
    from sqlmodel import Session

    from smplat.db import get_engine

    with Session(get_engine(live_shop.database_url)) as s:
        yield s


# --- helpers as fixtures (test modules never import this file) ------------------------------


@pytest.fixture(scope="session")
def free_port():
    """`free_port()`: a TCP port free on loopback right now."""
    return _free_port


@pytest.fixture(scope="session")
def serve_shop():
    """`with serve_shop(database_url, workdir, build_dir, extra_env, port) as shop:` the production
    app on its own port against a migrated, seeded database (see `_serve_shop`)."""
    return _serve_shop


@pytest.fixture(scope="session")
def sign_in():
    """`sign_in(tab, email, password, next_path)`: fill and submit the sign-in form."""
    return _sign_in


@pytest.fixture(scope="session")
def totp_code():
    """`totp_code(email, secret)`: the current code of `secret`, never one already used for `email`."""
    return _totp_code


@pytest.fixture(scope="session")
def wait_for_app():
    """`wait_for_app(tab)`: wait until the Reflex page is hydrated."""
    return _wait_for_app


@pytest.fixture(scope="session")
def wait_until():
    """`wait_until(predicate, timeout, what)`: poll a condition outside the page (a database row,
    a process) until it holds; fail with `what` when it does not within `timeout` seconds."""
    return _wait_until
