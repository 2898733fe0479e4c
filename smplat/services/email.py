"""Email transport helpers: build a multipart message, and send it through the configured mailer.

Customer messages are rendered by `services.notifications` (Jinja2 templates, one layout) and
logged there; `send_password_reset` and its siblings are thin wrappers over
`notifications.deliver_now` for the messages with a one-time link. `send_email` stays for
free-form staff mail (alerts). The configured `SmtpMailer` (settings.smtp_*) does the sending, so
dev and tests deliver into the local SMTP sink and production into a real relay with no
code change.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from sqlmodel import Session

from smplat.integrations.smtp import EmailDeliveryError, Mailer, SmtpMailer, SmtpUnreachable
from smplat.settings import Settings, get_settings

__all__ = [
    "EmailDeliveryError",
    "SmtpUnreachable",
    "build_message",
    "compose_email",
    "get_mailer",
    "render_html",
    "send_email",
    "send_message",
    "send_password_reset",
]

_URL_RE = re.compile(r"https?://[^\s<>\"']+")
_ADDRESS_RE = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")


def get_mailer(settings: Settings | None = None) -> Mailer:
    """The mailer for the current settings (SMTP: the local sink unless configured otherwise)."""
    return SmtpMailer.from_settings(settings)


def _check_address(address: str) -> str:
    address = (address or "").strip()
    if not _ADDRESS_RE.match(address):
        raise ValueError(f"not an email address: {address!r}")
    return address


def _one_line(value: str, what: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError(f"{what} must be one line")
    return value.strip()


def render_html(body_html: str, *, settings: Settings | None = None, title: str = "") -> str:
    """Wrap an HTML fragment in the brand's email layout (the notifications' Jinja2 layout)."""
    from smplat.services.notifications import render_layout

    return render_layout(body_html, title=title or (settings or get_settings()).brand_name, settings=settings)


def text_to_html(text: str) -> str:
    """Paragraphs of escaped text with links made clickable (the default HTML alternative)."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    rendered = []
    for paragraph in paragraphs:
        parts, last = [], 0
        for match in _URL_RE.finditer(paragraph):
            parts.append(html_lib.escape(paragraph[last : match.start()]))
            url = html_lib.escape(match.group(0), quote=True)
            parts.append(f'<a href="{url}" style="color:#4f46e5;">{url}</a>')
            last = match.end()
        parts.append(html_lib.escape(paragraph[last:]))
        rendered.append('<p style="margin:0 0 14px;">' + "".join(parts).replace("\n", "<br>\n") + "</p>")
    return "\n".join(rendered)


def build_message(
    to: str | Sequence[str],
    subject: str,
    text: str,
    html_document: str,
    *,
    headers: Mapping[str, str] | None = None,
    settings: Settings | None = None,
) -> EmailMessage:
    """A multipart/alternative message from a finished text and HTML document (what the
    notification templates render). Raises ValueError on a bad address, subject or header."""
    settings = settings or get_settings()
    recipients = [to] if isinstance(to, str) else list(to)
    if not recipients:
        raise ValueError("an email needs at least one recipient")
    recipients = [_check_address(r) for r in recipients]
    subject = _one_line(subject, "subject")
    if not subject:
        raise ValueError("an email needs a subject")

    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    sender_domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "smplat.local"
    message["Message-ID"] = make_msgid(domain=sender_domain)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to transactional mail
    for name, value in (headers or {}).items():
        message[_one_line(name, "header name")] = _one_line(str(value), "header value")
    message.set_content(text if text.endswith("\n") else text + "\n")
    message.add_alternative(html_document, subtype="html")
    return message


def compose_email(
    to: str | Sequence[str],
    subject: str,
    text: str,
    html: str | None = None,
    *,
    settings: Settings | None = None,
) -> EmailMessage:
    """A multipart/alternative message: `text`, and `html` (a body fragment; default: the
    text rendered) inside the branded layout. Raises ValueError on a bad address or subject.
    For free-form mails (staff alerts); customer messages go through `services.notifications`."""
    settings = settings or get_settings()
    body_html = html if html is not None else text_to_html(text)
    document = render_html(body_html, settings=settings, title=_one_line(subject, "subject"))
    return build_message(to, subject, text, document, settings=settings)


def send_message(message: EmailMessage, *, mailer: Mailer | None = None) -> None:
    """Send a composed message; raises EmailDeliveryError when the server cannot take it."""
    (mailer or get_mailer()).send(message)


def send_email(to: str | Sequence[str], subject: str, text: str, html: str | None = None) -> None:
    """Compose and send one transactional email (raises EmailDeliveryError, ValueError)."""
    send_message(compose_email(to, subject, text, html))


# --- messages with a one-time link (rendered by services.notifications, sent at once) ---------


def send_email_verification(
    to_email: str, verify_url: str, ttl_hours: int, *, session: Session | None = None, user_id: int | None = None
) -> None:
    """Email the link that proves the customer owns the address (the accounts service calls this)."""
    from smplat.services.notifications import deliver_now

    _one_line(verify_url, "verify_url")
    deliver_now(
        "email_verification",
        to_email,
        {"email": to_email, "verify_url": verify_url, "ttl_hours": ttl_hours},
        session=session,
        user_id=user_id,
    )


def send_password_reset(
    to_email: str, reset_url: str, ttl_minutes: int, *, session: Session | None = None, user_id: int | None = None
) -> None:
    """Email the one-time password reset link (the accounts service calls this)."""
    from smplat.services.notifications import deliver_now

    _one_line(reset_url, "reset_url")
    deliver_now(
        "password_reset",
        to_email,
        {"email": to_email, "reset_url": reset_url, "ttl_minutes": ttl_minutes},
        session=session,
        user_id=user_id,
    )


def send_email_change_link(
    to_email: str,
    current_email: str,
    confirm_url: str,
    ttl_minutes: int,
    *,
    session: Session | None = None,
    user_id: int | None = None,
) -> None:
    """Email the link that confirms a new address (sent to the NEW address; the account_settings
    service calls this)."""
    from smplat.services.notifications import deliver_now

    _one_line(confirm_url, "confirm_url")
    deliver_now(
        "email_change",
        to_email,
        {"current_email": current_email, "confirm_url": confirm_url, "ttl_minutes": ttl_minutes},
        session=session,
        user_id=user_id,
    )


def send_email_changed_notice(
    old_email: str, new_email: str, *, session: Session | None = None, user_id: int | None = None
) -> None:
    """Tell the previous address that the account now signs in with another one."""
    from smplat.services.notifications import deliver_now

    deliver_now(
        "email_changed",
        old_email,
        {"old_email": old_email, "new_email": new_email},
        session=session,
        user_id=user_id,
    )
