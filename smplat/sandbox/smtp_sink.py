"""Local SMTP sink: accepts every message on loopback and keeps it as an .eml file to read back.

The sink speaks real SMTP (aiosmtpd), so the production mailer and its tests run the
same code path as against a real server. Each accepted message becomes one file in the
mailbox directory, named `<received ns since epoch>-<random>.eml` so that a plain sort
is a time sort; the envelope (MAIL FROM / RCPT TO) is kept in two `X-Sink-*` headers
put before the message's own headers, like an MTA adds `Return-Path`.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

logger = logging.getLogger(__name__)

ENVELOPE_FROM_HEADER = "X-Sink-Envelope-From"
ENVELOPE_TO_HEADER = "X-Sink-Envelope-To"
_SUFFIX = ".eml"


@dataclass(frozen=True)
class StoredMessage:
    """One message as the sink received it."""

    id: str  # the file name without .eml; sortable by reception time
    received_at: datetime  # aware UTC
    mail_from: str  # envelope sender
    to: list[str]  # envelope recipients (includes Bcc)
    subject: str
    text: str  # text/plain body, "" when absent
    html: str  # text/html body, "" when absent
    path: Path = field(repr=False, compare=False, default=Path())
    headers: dict[str, str] = field(repr=False, compare=False, default_factory=dict)


# --- the mailbox on disk -----------------------------------------------------------


def _mailbox(mailbox_dir: str | os.PathLike[str] | None) -> Path:
    if mailbox_dir is None:
        from smplat.settings import get_settings

        return Path(get_settings().sandbox_mailbox_dir)
    return Path(mailbox_dir)


def store_message(mailbox_dir: str | os.PathLike[str], mail_from: str, rcpt_tos: list[str], content: bytes) -> Path:
    """Write one received message atomically (temp file, then rename) and return its path."""
    directory = Path(mailbox_dir)
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{time.time_ns():020d}-{secrets.token_hex(4)}"
    envelope = (
        f"{ENVELOPE_FROM_HEADER}: {_one_line(mail_from)}\r\n"
        f"{ENVELOPE_TO_HEADER}: {', '.join(_one_line(r) for r in rcpt_tos)}\r\n"
    ).encode()
    tmp = directory / f".{name}.tmp"  # dot-prefixed and not .eml: never listed half-written
    with open(tmp, "wb") as fh:
        fh.write(envelope)
        fh.write(content)
        fh.flush()
        os.fsync(fh.fileno())
    final = directory / f"{name}{_SUFFIX}"
    os.replace(tmp, final)
    return final


def _one_line(value: str) -> str:
    return value.replace("\r", " ").replace("\n", " ").strip()


def _body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_subtype() != subtype:
        return ""
    return part.get_content()


def read_message(path: Path) -> StoredMessage:
    with open(path, "rb") as fh:
        message: EmailMessage = BytesParser(policy=policy.default).parse(fh)  # type: ignore[assignment]
    stem = path.name[: -len(_SUFFIX)]
    received_ns = int(stem.split("-", 1)[0])
    recipients = [r.strip() for r in str(message.get(ENVELOPE_TO_HEADER, "")).split(",") if r.strip()]
    return StoredMessage(
        id=stem,
        received_at=datetime.fromtimestamp(received_ns / 1e9, tz=UTC),
        mail_from=str(message.get(ENVELOPE_FROM_HEADER, "")),
        to=recipients,
        subject=str(message.get("Subject", "")),
        text=_body(message, "plain"),
        html=_body(message, "html"),
        path=path,
        headers={k: str(v) for k, v in message.items()},
    )


def list_messages(mailbox_dir: str | os.PathLike[str] | None = None) -> list[StoredMessage]:
    """Every stored message, newest first (default mailbox: settings.sandbox_mailbox_dir)."""
    directory = _mailbox(mailbox_dir)
    if not directory.is_dir():
        return []
    messages = []
    for path in sorted(directory.glob(f"*{_SUFFIX}"), key=lambda p: p.name, reverse=True):
        try:
            messages.append(read_message(path))
        except FileNotFoundError:  # cleared while we listed
            continue
    return messages


def latest_message_to(mailbox_dir: str | os.PathLike[str] | None, address: str) -> StoredMessage | None:
    """The newest message whose envelope recipients include `address` (case-insensitive)."""
    wanted = address.strip().lower()
    for message in list_messages(mailbox_dir):
        if any(r.lower() == wanted for r in message.to):
            return message
    return None


def clear(mailbox_dir: str | os.PathLike[str] | None = None) -> int:
    """Delete every stored message; returns how many were deleted."""
    directory = _mailbox(mailbox_dir)
    if not directory.is_dir():
        return 0
    deleted = 0
    for path in directory.glob(f"*{_SUFFIX}"):
        try:
            path.unlink()
            deleted += 1
        except FileNotFoundError:
            continue
    return deleted


# --- the SMTP server ------------------------------------------------------------------


class _MailboxHandler:
    def __init__(self, mailbox_dir: Path) -> None:
        self.mailbox_dir = mailbox_dir

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode("utf-8")
        path = store_message(self.mailbox_dir, envelope.mail_from or "", list(envelope.rcpt_tos), content)
        logger.info("SMTP sink stored %s for %s", path.name, ", ".join(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


class _Authenticator:
    """Accepts exactly one username/password (so tests can exercise SMTP AUTH)."""

    def __init__(self, username: str, password: str) -> None:
        self.username = username.encode()
        self.password = password.encode()

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and secrets.compare_digest(auth_data.login, self.username)
            and secrets.compare_digest(auth_data.password, self.password)
        )
        return AuthResult(success=ok, handled=False)


class _Controller(Controller):
    """aiosmtpd's Controller, plus port 0 (let the OS choose a free port)."""

    def _trigger_server(self) -> None:
        if self.port == 0 and self.server is not None:
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()

    def factory(self) -> SMTP:
        with warnings.catch_warnings():
            # AUTH without TLS is deliberate here: loopback only, test credentials.
            warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
            return super().factory()


class SmtpSink:
    """The sink as an object: start()/stop(), or `with SmtpSink(...) as sink:`.

    `port=0` picks a free port; read the actual one from `sink.port` after start().
    With `auth=(username, password)` the sink requires SMTP AUTH (over plain text: it is
    loopback-only) and refuses other credentials.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8025,
        mailbox_dir: str | os.PathLike[str] | None = None,
        *,
        auth: tuple[str, str] | None = None,
    ) -> None:
        self.host = host
        self._port = port
        self.mailbox_dir = _mailbox(mailbox_dir)
        self._auth = auth
        self._controller: _Controller | None = None

    @property
    def port(self) -> int:
        return self._controller.port if self._controller is not None else self._port

    @property
    def name(self) -> str:
        return "smtp"

    @property
    def description(self) -> str:
        return f"SMTP sink listening on {self.host}:{self.port}, mailbox {_display_path(self.mailbox_dir)}"

    def start(self) -> SmtpSink:
        if self._controller is not None:
            raise RuntimeError("SMTP sink already started")
        self.mailbox_dir.mkdir(parents=True, exist_ok=True)
        kwargs: dict[str, Any] = {"enable_SMTPUTF8": True}
        if self._auth is not None:
            kwargs.update(authenticator=_Authenticator(*self._auth), auth_required=True, auth_require_tls=False)
        controller = _Controller(_MailboxHandler(self.mailbox_dir), hostname=self.host, port=self._port, **kwargs)
        controller.start()
        self._controller = controller
        return self

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            self._port = controller.port
            controller.stop()

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # Read-back helpers bound to this sink's mailbox.
    def messages(self) -> list[StoredMessage]:
        return list_messages(self.mailbox_dir)

    def latest_message_to(self, address: str) -> StoredMessage | None:
        return latest_message_to(self.mailbox_dir, address)

    def clear(self) -> int:
        return clear(self.mailbox_dir)


def _display_path(path: Path) -> str:
    """The mailbox relative to the project root when inside it (shorter log lines)."""
    from smplat.settings import PROJECT_ROOT

    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)
