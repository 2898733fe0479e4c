"""SMTP adapter: sends an `EmailMessage` over a real SMTP conversation (smtplib).

The host is a setting: the local SMTP sink by default, a real relay in production. Every
failure surfaces as `EmailDeliveryError` with a one-line message that names the server and
the reason, never the password.
"""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
import time
from email.message import EmailMessage
from typing import Protocol

from pydantic import SecretStr

from smplat.settings import Settings, get_settings

logger = logging.getLogger(__name__)


class EmailDeliveryError(RuntimeError):
    """An email could not be handed to the SMTP server; the message is one line, secret-free."""


class SmtpUnreachable(EmailDeliveryError):
    """The SMTP server could not be reached at all (refused, timed out, host not found): no
    other message will get through either until it is back."""


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None: ...


class SmtpMailer:
    """Hands messages to one SMTP server.

    A connection failure (refused, timeout, DNS) is retried `connect_retries` times with a
    short backoff; anything after the server accepted the connection is not retried, so a
    message is never sent twice by us.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: SecretStr | None = None,
        starttls: bool = False,
        timeout: float = 10.0,
        connect_retries: int = 1,
        retry_backoff_seconds: float = 0.5,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username or None
        self._password = password
        self.starttls = starttls
        self.timeout = timeout
        self.connect_retries = max(0, connect_retries)
        self.retry_backoff_seconds = retry_backoff_seconds

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> SmtpMailer:
        settings = settings or get_settings()
        return cls(
            settings.smtp_host,
            settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            timeout=settings.smtp_timeout_seconds,
            connect_retries=settings.smtp_connect_retries,
        )

    @property
    def server(self) -> str:
        return f"{self.host}:{self.port}"

    def __repr__(self) -> str:  # no password, ever
        return f"SmtpMailer({self.server!r}, username={self.username!r}, starttls={self.starttls})"

    def send(self, message: EmailMessage) -> None:
        started = time.monotonic()
        client = self._connect()
        try:
            try:
                if self.starttls:
                    client.starttls(context=ssl.create_default_context())
                    client.ehlo()
                if self.username:
                    password = self._password.get_secret_value() if self._password else ""
                    client.login(self.username, password)
                refused = client.send_message(message)
            except (smtplib.SMTPException, OSError) as exc:
                raise EmailDeliveryError(self._describe(exc)) from None
            if refused:
                # Some recipients were accepted: the message is out, say who was refused.
                logger.warning("SMTP %s refused recipients %s", self.server, ", ".join(sorted(refused)))
        finally:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()
        logger.info(
            "email %s to %s sent via %s in %d ms",
            message.get("Message-ID", ""),
            message.get("To", ""),
            self.server,
            (time.monotonic() - started) * 1000,
        )

    def _connect(self) -> smtplib.SMTP:
        attempt = 0
        while True:
            try:
                return smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            except (OSError, smtplib.SMTPConnectError, smtplib.SMTPServerDisconnected) as exc:
                if attempt >= self.connect_retries:
                    raise SmtpUnreachable(self._describe(exc)) from None
                attempt += 1
                logger.warning(
                    "SMTP %s: %s; retrying (%d/%d)", self.server, _reason(exc), attempt, self.connect_retries
                )
                time.sleep(self.retry_backoff_seconds * attempt)

    def _describe(self, exc: BaseException) -> str:
        text = f"could not send email via SMTP {self.server}: {_reason(exc)}"
        secret = self._password.get_secret_value() if self._password else ""
        if secret:
            text = text.replace(secret, "***")
        return text


def _reason(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        detail = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        reason = f"{exc.smtp_code} {detail}"
    elif isinstance(exc, smtplib.SMTPRecipientsRefused):
        reason = "all recipients refused: " + ", ".join(sorted(exc.recipients))
    elif isinstance(exc, ConnectionRefusedError):
        reason = "connection refused"
    elif isinstance(exc, (socket.timeout, TimeoutError)):
        reason = "timed out"
    elif isinstance(exc, socket.gaierror):
        reason = f"host not found ({exc.strerror})"
    else:
        reason = str(exc) or type(exc).__name__
    return " ".join(reason.split())  # one line
