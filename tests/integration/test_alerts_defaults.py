"""Alerts reach the local sinks by default in development; a stuck-order alert per service."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from smplat.db import session_scope
from smplat.models.base import utcnow
from smplat.models.orders import Order, OrderItem
from smplat.sandbox.smtp_sink import SmtpSink, list_messages
from smplat.sandbox.webhook_sink import WebhookSink
from smplat.services import alerts
from smplat.settings import Settings, reset_settings_cache
from tests.fulfillment_factory import product, seed_with_panel

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("env", "email", "hook", "recipients", "url"),
    [
        ("dev", "", "", ["ops@smplat.local"], "http://127.0.0.1:8093/hooks/alerts"),
        ("dev", "off", "off", [], ""),
        ("dev", "a@x.test, b@x.test", "https://hooks.example/x", ["a@x.test", "b@x.test"], "https://hooks.example/x"),
        ("test", "", "", [], ""),
        ("prod", "", "", [], ""),
    ],
)
def test_alert_channels_default_to_the_local_sinks_in_dev(env, email, hook, recipients, url) -> None:
    settings = Settings(env=env, alert_email_to=email, alert_webhook_url=hook, _env_file=None)
    assert (settings.alert_email_recipients, settings.effective_alert_webhook_url) == (recipients, url)


def test_no_sandboxes_no_default_channels() -> None:
    settings = Settings(env="dev", sandbox_enabled=False, _env_file=None)
    assert (settings.alert_email_recipients, settings.effective_alert_webhook_url) == ([], "")


def _lines(session, now):
    """Constructed history: product A (24 h estimate) has one line waiting 30 h, one 10 h, one done
    after 40 h, one unpaid waiting 50 h; product B (72 h) has a line waiting 30 h."""
    seed_with_panel(session, "http://127.0.0.1:9/api/v2")
    a, b = product(session, "instagram-followers"), product(session, "instagram-likes")
    a.delivery_estimate_hours, b.delivery_estimate_hours = 24, 72
    paid = Order(status="processing", payment_status="paid", customer_email="x@example.test")
    unpaid = Order(status="pending", payment_status="unpaid", customer_email="y@example.test")
    session.add_all([a, b, paid, unpaid])
    session.flush()

    def line(order, prod, hours_ago, status="processing"):
        return OrderItem(
            order_id=order.id,
            product_id=prod.id,
            product_title=prod.title,
            status=status,
            created_at=now - timedelta(hours=hours_ago),
        )

    session.add_all(
        [
            line(paid, a, 30),
            line(paid, a, 10),
            line(paid, a, 40, "completed"),
            line(unpaid, a, 50, "pending"),
            line(paid, b, 30),
        ]
    )
    session.commit()
    return a, b


def test_stuck_lines_per_service_use_each_services_estimate(session, count_queries) -> None:
    now = utcnow()
    a, _b = _lines(session, now)
    with count_queries(session) as q:
        stuck = alerts.stuck_lines_per_product(session, now)
    assert stuck == [(a.id, a.title, 24, 1)]
    assert q.count == 2


def test_dev_alerts_reach_the_local_sinks(session, tmp_path, monkeypatch) -> None:
    now = utcnow()
    a, _b = _lines(session, now)
    with (
        SmtpSink("127.0.0.1", 0, tmp_path / "mailbox") as smtp,
        WebhookSink("127.0.0.1", 0, tmp_path / "hooks") as hooks,
    ):
        # a developer's defaults: nothing about alerts configured
        monkeypatch.setenv("SMPLAT_ENV", "dev")
        monkeypatch.delenv("SMPLAT_ALERT_EMAIL_TO", raising=False)
        monkeypatch.delenv("SMPLAT_ALERT_WEBHOOK_URL", raising=False)
        monkeypatch.setenv("SMPLAT_SMTP_PORT", str(smtp.port))
        monkeypatch.setenv("SMPLAT_SMTP_STARTTLS", "false")
        monkeypatch.setenv("SMPLAT_SANDBOX_WEBHOOK_PORT", str(urlsplit(hooks.url).port))
        reset_settings_cache()
        counts = alerts.run_alerts(session_scope, now)
        posts = hooks.posts()
    reset_settings_cache()
    assert counts["emailed"] == 1 and counts["webhooks"] == 1 and counts["send_errors"] == 0
    expected = f"1 order line(s) of {a.title} waiting longer than 24 h (its delivery estimate)"
    [mail] = list_messages(tmp_path / "mailbox")
    assert mail.to == ["ops@smplat.local"]
    assert expected in mail.subject
    [post] = posts
    assert f"[stuck_orders] {expected}" in post["body"]["text"]
