"""Start and stop every local sandbox: `python -m smplat.sandbox`, or in-process from `smplat run`.

A sandbox is registered as one `SandboxEntry` in `SANDBOXES`: a name and a `start(settings)`
that returns something running with a `description` (logged) and a `stop()`. The
Stripe-compatible sandbox, the SMM panel sandbox and the Instagram sandbox are added the same way.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from smplat.settings import Settings, get_settings

logger = logging.getLogger("smplat.sandbox")

SANDBOX_HOST = "127.0.0.1"  # sandboxes are never reachable from outside this machine


class RunningSandbox(Protocol):
    @property
    def description(self) -> str: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class SandboxEntry:
    name: str
    description: str
    start: Callable[[Settings], RunningSandbox]


def _start_smtp_sink(settings: Settings) -> RunningSandbox:
    from smplat.sandbox.smtp_sink import SmtpSink

    return SmtpSink(SANDBOX_HOST, settings.sandbox_smtp_port, settings.sandbox_mailbox_dir).start()


def _start_panel(settings: Settings) -> RunningSandbox:
    from smplat.sandbox.panel import PanelKnobs, PanelSandbox

    knobs = PanelKnobs(
        latency_ms=settings.sandbox_panel_latency_ms,
        error_rate=settings.sandbox_panel_error_rate,
        partial_rate=settings.sandbox_panel_partial_rate,
        lookup_by_ref=settings.sandbox_panel_lookup,
        extra_types=True,  # the demo catalog sells every order type (seed.SANDBOX_TYPED_SERVICES)
    )
    return PanelSandbox(SANDBOX_HOST, settings.sandbox_panel_port, knobs=knobs).start()


def _start_instagram(settings: Settings) -> RunningSandbox:
    from smplat.sandbox.instagram import InstagramSandbox

    # Its numbers follow what the panel sandbox delivered (read over loopback HTTP).
    panel_orders = f"http://{SANDBOX_HOST}:{settings.sandbox_panel_port}/sandbox/orders"
    return InstagramSandbox(SANDBOX_HOST, settings.sandbox_instagram_port, panel_orders_url=panel_orders).start()


def _start_webhook_sink(settings: Settings) -> RunningSandbox:
    from smplat.sandbox.webhook_sink import WebhookSink

    return WebhookSink(SANDBOX_HOST, settings.sandbox_webhook_port, settings.sandbox_webhook_dir).start()


def _start_stripe(settings: Settings) -> RunningSandbox:
    from smplat.sandbox.stripe_sandbox import StripeSandbox

    return StripeSandbox(
        SANDBOX_HOST,
        settings.sandbox_stripe_port,
        secret_key=settings.stripe_secret_key.get_secret_value(),
        webhook_url=settings.effective_stripe_webhook_url,
        webhook_secret=settings.stripe_webhook_secret.get_secret_value(),
    ).start()


SANDBOXES: list[SandboxEntry] = [
    SandboxEntry("smtp", "SMTP sink storing every email under the mailbox dir", _start_smtp_sink),
    SandboxEntry(
        "panel", "SMM panel speaking panel API v2 (services, add, status, refill, cancel, balance)", _start_panel
    ),
    SandboxEntry(
        "instagram",
        "Instagram Graph API business discovery; numbers follow what the panel sandbox delivered",
        _start_instagram,
    ),
    SandboxEntry("webhook", "Slack-compatible webhook sink storing every alert it receives", _start_webhook_sink),
    SandboxEntry("stripe", "Stripe-compatible checkout sessions, hosted pay page and signed webhooks", _start_stripe),
]


class SandboxStartError(RuntimeError):
    """A sandbox could not start (port taken, ...); the message is one line."""


def start_sandboxes(settings: Settings | None = None, names: Iterable[str] | None = None) -> list[RunningSandbox]:
    """Start the registered sandboxes (all, or those named); on a failure stop what started."""
    settings = settings or get_settings()
    wanted = set(names) if names is not None else None
    unknown = (wanted or set()) - {entry.name for entry in SANDBOXES}
    if unknown:
        raise SandboxStartError(f"unknown sandbox: {', '.join(sorted(unknown))}")
    running: list[RunningSandbox] = []
    for entry in SANDBOXES:
        if wanted is not None and entry.name not in wanted:
            continue
        try:
            sandbox = entry.start(settings)
        except Exception as exc:
            stop_sandboxes(running)
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SandboxStartError(f"the {entry.name} sandbox could not start: {reason}") from None
        logger.info("%s", sandbox.description)
        running.append(sandbox)
    return running


def stop_sandboxes(running: list[RunningSandbox]) -> None:
    """Stop in reverse start order; a failing stop is logged and does not block the others."""
    while running:
        sandbox = running.pop()
        try:
            sandbox.stop()
        except Exception:
            logger.exception("stopping %s failed", sandbox.description)


def main(argv: list[str] | None = None) -> int:
    settings = get_settings()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stdout,
    )
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-command chatter
    # Handlers first: a signal that arrives while the sandboxes are still starting stops them cleanly.
    stop_requested = threading.Event()

    def _on_signal(signum: int, _frame: object) -> None:
        logger.info("received %s, stopping", signal.Signals(signum).name)
        stop_requested.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    try:
        running = start_sandboxes(settings, names=argv or None)
    except SandboxStartError as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 2
    try:
        while not stop_requested.wait(1.0):
            pass
    finally:
        stop_sandboxes(running)
    logger.info("sandboxes stopped")
    return 0
