"""Email over real SMTP into the local sink: composition, password reset, delivery errors."""

from __future__ import annotations

import socket
from email.message import EmailMessage
from pathlib import Path

import pytest
from pydantic import SecretStr

from smplat.integrations.smtp import SmtpMailer
from smplat.sandbox.smtp_sink import SmtpSink, latest_message_to, list_messages
from smplat.services.email import EmailDeliveryError, compose_email, send_email, send_password_reset
from smplat.settings import reset_settings_cache

pytestmark = pytest.mark.integration


@pytest.fixture
def sink(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A running sink, and settings pointing the mailer at it."""
    with SmtpSink("127.0.0.1", 0, tmp_path / "mailbox") as running:
        monkeypatch.setenv("SMPLAT_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("SMPLAT_SMTP_PORT", str(running.port))
        monkeypatch.setenv("SMPLAT_SMTP_STARTTLS", "false")
        monkeypatch.delenv("SMPLAT_SMTP_USERNAME", raising=False)
        monkeypatch.delenv("SMPLAT_SMTP_PASSWORD", raising=False)
        monkeypatch.setenv("SMPLAT_MAIL_FROM", "Test Shop <no-reply@shop.example>")
        monkeypatch.setenv("SMPLAT_BRAND_NAME", "Test Shop")
        reset_settings_cache()
        yield running
    reset_settings_cache()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed on exit: nothing listens there


def test_password_reset_email_arrives_with_subject_recipient_and_link(sink: SmtpSink) -> None:
    url = "http://localhost:3000/reset-password?token=AbC-123_xyz"

    send_password_reset("ana@example.test", url, 60)

    [message] = list_messages(sink.mailbox_dir)
    assert message.subject == "Reset your Test Shop password"
    assert message.to == ["ana@example.test"]
    assert message.mail_from == "no-reply@shop.example"
    assert message.headers["To"] == "ana@example.test"
    assert message.headers["From"] == "Test Shop <no-reply@shop.example>"
    assert message.headers["Message-ID"].endswith("@shop.example>")
    assert f"\n{url}\n" in message.text
    assert "within 60 minutes" in message.text
    assert f'href="{url}"' in message.html
    assert "expires in 60 minutes" in message.html


def test_send_email_renders_text_as_branded_html_when_no_html_given(sink: SmtpSink) -> None:
    send_email(
        "bo@example.test", "Order #42 delivered", "Your order is complete.\n\nTrack it: https://x.test/o/42?a=1&b=2"
    )

    message = latest_message_to(sink.mailbox_dir, "bo@example.test")
    assert message.subject == "Order #42 delivered"
    assert message.text == "Your order is complete.\n\nTrack it: https://x.test/o/42?a=1&b=2\n"
    assert '<a href="https://x.test/o/42?a=1&amp;b=2"' in message.html
    assert "Test Shop" in message.html
    assert "<p" in message.html and "Your order is complete." in message.html


def test_send_email_to_several_recipients(sink: SmtpSink) -> None:
    send_email(["a@example.test", "b@example.test"], "Digest", "numbers", html="<b>numbers</b>")

    [message] = list_messages(sink.mailbox_dir)
    assert message.to == ["a@example.test", "b@example.test"]
    assert "<b>numbers</b>" in message.html


@pytest.mark.parametrize(
    ("to", "subject"),
    [
        pytest.param("not-an-address", "Hi", id="bad-address"),
        pytest.param("a@example.test\r\nBcc: evil@example.test", "Hi", id="header-injection-in-address"),
        pytest.param("a@example.test", "Hi\r\nBcc: evil@example.test", id="header-injection-in-subject"),
        pytest.param([], "Hi", id="no-recipient"),
        pytest.param("a@example.test", "  ", id="empty-subject"),
    ],
)
def test_bad_input_raises_value_error_and_sends_nothing(sink: SmtpSink, to, subject: str) -> None:
    with pytest.raises(ValueError):
        send_email(to, subject, "body")
    assert list_messages(sink.mailbox_dir) == []


def test_smtp_mailer_sends_a_prepared_message(sink: SmtpSink) -> None:
    message = compose_email("cy@example.test", "Direct", "direct body")
    SmtpMailer("127.0.0.1", sink.port, timeout=5).send(message)

    stored = latest_message_to(sink.mailbox_dir, "cy@example.test")
    assert stored.subject == "Direct"
    assert stored.headers["Message-ID"] == message["Message-ID"]


def test_smtp_mailer_logs_in_when_credentials_are_set(tmp_path: Path) -> None:
    with SmtpSink("127.0.0.1", 0, tmp_path / "mb", auth=("mailer", "s3cret-pass")) as sink:
        SmtpMailer("127.0.0.1", sink.port, username="mailer", password=SecretStr("s3cret-pass")).send(
            compose_email("dee@example.test", "Authed", "hi")
        )
        assert [m.subject for m in list_messages(sink.mailbox_dir)] == ["Authed"]


def test_wrong_password_raises_one_line_error_without_the_password(tmp_path: Path) -> None:
    with SmtpSink("127.0.0.1", 0, tmp_path / "mb", auth=("mailer", "right-pass")) as sink:
        mailer = SmtpMailer("127.0.0.1", sink.port, username="mailer", password=SecretStr("wrong-pass-XYZ"))
        with pytest.raises(EmailDeliveryError) as excinfo:
            mailer.send(compose_email("dee@example.test", "Authed", "hi"))
        assert list_messages(sink.mailbox_dir) == []
    text = str(excinfo.value)
    assert text.startswith(f"could not send email via SMTP 127.0.0.1:{sink.port}: 535")
    assert "\n" not in text
    assert "wrong-pass-XYZ" not in text and "wrong-pass-XYZ" not in repr(mailer)


def test_unreachable_smtp_raises_email_delivery_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = _closed_port()
    monkeypatch.setenv("SMPLAT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMPLAT_SMTP_PORT", str(port))
    monkeypatch.setenv("SMPLAT_SMTP_USERNAME", "mailer")
    monkeypatch.setenv("SMPLAT_SMTP_PASSWORD", "hunter2-secret")
    reset_settings_cache()
    try:
        with pytest.raises(EmailDeliveryError) as excinfo:
            send_password_reset("ana@example.test", "http://localhost:3000/reset-password?token=t", 60)
    finally:
        reset_settings_cache()

    assert str(excinfo.value) == f"could not send email via SMTP 127.0.0.1:{port}: connection refused"
    assert "hunter2-secret" not in caplog.text


def test_smtp_timeout_raises_email_delivery_error() -> None:
    # a listening socket that never answers the greeting
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        mailer = SmtpMailer("127.0.0.1", port, timeout=0.3, connect_retries=0)
        with pytest.raises(EmailDeliveryError) as excinfo:
            mailer.send(EmailMessage())
    text = str(excinfo.value)
    assert text.startswith(f"could not send email via SMTP 127.0.0.1:{port}: ")
    assert text.endswith("timed out")
