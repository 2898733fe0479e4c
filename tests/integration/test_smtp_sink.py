"""The local SMTP sink over real SMTP: storage, read-back helpers, ordering, the CLI."""

from __future__ import annotations

import os
import signal
import smtplib
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from smplat.sandbox.smtp_sink import SmtpSink, clear, latest_message_to, list_messages
from smplat.settings import PROJECT_ROOT

pytestmark = pytest.mark.integration


def _message(to: str, subject: str, text: str = "hello", html: str | None = None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Shop <shop@example.test>"
    message["To"] = to
    message["Subject"] = subject
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


@pytest.fixture
def sink(tmp_path: Path):
    with SmtpSink("127.0.0.1", 0, tmp_path / "mailbox") as running:
        yield running


def test_sink_stores_one_eml_per_message_with_envelope_and_bodies(sink: SmtpSink) -> None:
    # given a running sink; when a multipart message with a Bcc recipient is sent
    before = datetime.now(UTC)
    with smtplib.SMTP(sink.host, sink.port, timeout=5) as client:
        client.send_message(
            _message("ana@example.test", "Your order ✓", "plain body\n", "<p>html body</p>"),
            to_addrs=["ana@example.test", "audit@example.test"],
        )

    # then one .eml file exists and reads back exactly
    files = sorted(p.name for p in sink.mailbox_dir.iterdir())
    assert len(files) == 1 and files[0].endswith(".eml")
    [stored] = list_messages(sink.mailbox_dir)
    assert stored.id == files[0][:-4]
    assert stored.mail_from == "shop@example.test"
    assert stored.to == ["ana@example.test", "audit@example.test"]
    assert stored.subject == "Your order ✓"
    assert stored.text == "plain body\n"
    assert stored.html == "<p>html body</p>\n"
    assert stored.received_at.tzinfo == UTC
    assert before - timedelta(seconds=1) <= stored.received_at <= datetime.now(UTC)


def test_list_is_newest_first_and_latest_message_to_matches_recipient(sink: SmtpSink) -> None:
    with smtplib.SMTP(sink.host, sink.port, timeout=5) as client:
        for subject, to in [("first", "a@example.test"), ("second", "b@example.test"), ("third", "A@Example.test")]:
            client.send_message(_message(to, subject))

    assert [m.subject for m in list_messages(sink.mailbox_dir)] == ["third", "second", "first"]
    assert latest_message_to(sink.mailbox_dir, "a@example.test").subject == "third"
    assert latest_message_to(sink.mailbox_dir, "b@example.test").subject == "second"
    assert latest_message_to(sink.mailbox_dir, "nobody@example.test") is None


def test_clear_empties_the_mailbox(sink: SmtpSink) -> None:
    with smtplib.SMTP(sink.host, sink.port, timeout=5) as client:
        client.send_message(_message("a@example.test", "one"))
        client.send_message(_message("a@example.test", "two"))

    assert clear(sink.mailbox_dir) == 2
    assert list_messages(sink.mailbox_dir) == []
    assert list(sink.mailbox_dir.iterdir()) == []


def test_helpers_on_a_missing_mailbox_return_empty(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    assert list_messages(missing) == []
    assert latest_message_to(missing, "a@example.test") is None
    assert clear(missing) == 0


def test_stopped_sink_refuses_connections(tmp_path: Path) -> None:
    sink = SmtpSink("127.0.0.1", 0, tmp_path / "mailbox").start()
    port = sink.port
    sink.stop()
    with pytest.raises(ConnectionRefusedError):
        smtplib.SMTP("127.0.0.1", port, timeout=2)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_sandbox_command_serves_smtp_and_stops_cleanly(tmp_path: Path, stop_signal: signal.Signals) -> None:
    # given `python -m smplat.sandbox` on a free port with a tmp mailbox
    port = _free_port()
    mailbox = tmp_path / "mailbox"
    env = {
        **os.environ,
        "SMPLAT_SANDBOX_SMTP_PORT": str(port),
        "SMPLAT_SANDBOX_MAILBOX_DIR": str(mailbox),
        # the panel, Instagram and webhook sandboxes start too: free ports, so a running dev shop does not collide
        "SMPLAT_SANDBOX_PANEL_PORT": str(_free_port()),
        "SMPLAT_SANDBOX_INSTAGRAM_PORT": str(_free_port()),
        "SMPLAT_SANDBOX_WEBHOOK_PORT": str(_free_port()),
        "SMPLAT_SANDBOX_WEBHOOK_DIR": str(tmp_path / "webhooks"),
        "SMPLAT_SANDBOX_STRIPE_PORT": "0",
        "PYTHONUNBUFFERED": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "smplat.sandbox"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        first_line = proc.stdout.readline()
        assert f"SMTP sink listening on 127.0.0.1:{port}, mailbox {mailbox}" in first_line

        # when a message is sent to it
        with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
            client.send_message(_message("cli@example.test", "via the command"))
        deadline = time.monotonic() + 5
        while latest_message_to(mailbox, "cli@example.test") is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert latest_message_to(mailbox, "cli@example.test").subject == "via the command"

        # then a signal stops it with exit code 0 and no traceback
        proc.send_signal(stop_signal)
        output, _ = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert "Traceback" not in output
    assert "sandboxes stopped" in output


def test_sandbox_command_reports_a_taken_port_in_one_line(tmp_path: Path, sink: SmtpSink) -> None:
    env = {**os.environ, "SMPLAT_SANDBOX_SMTP_PORT": str(sink.port), "SMPLAT_SANDBOX_MAILBOX_DIR": str(tmp_path / "m2")}
    result = subprocess.run(
        [sys.executable, "-m", "smplat.sandbox"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("sandbox: the smtp sandbox could not start:")
    assert "address already in use" in result.stderr
