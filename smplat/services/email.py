"""Transactional email: compose a text body with a simple branded HTML alternative, and send it.

Callers (accounts, orders, digests) use `send_email` or a specific function such as
`send_password_reset`; the configured `SmtpMailer` (settings.smtp_*) does the sending, so
dev and tests deliver into the local SMTP sink and production into a real relay with no
code change.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from smplat.integrations.smtp import EmailDeliveryError, Mailer, SmtpMailer
from smplat.settings import Settings, get_settings

__all__ = [
    "EmailDeliveryError",
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
    """Wrap an HTML fragment in the brand's simple, inline-styled email layout."""
    settings = settings or get_settings()
    brand = html_lib.escape(settings.brand_name)
    home = html_lib.escape(settings.public_base_url, quote=True)
    return (
        "<!DOCTYPE html>\n"
        '<html><head><meta charset="utf-8">'
        f"<title>{html_lib.escape(title or settings.brand_name)}</title></head>\n"
        '<body style="margin:0;padding:0;background:#f4f5f7;'
        'font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;color:#1f2430;">\n'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0"><tr><td align="center" style="padding:24px 12px;">\n'
        '<table role="presentation" width="560" cellpadding="0" cellspacing="0" '
        'style="max-width:560px;width:100%;background:#ffffff;border-radius:8px;">\n'
        f'<tr><td style="padding:20px 28px;border-bottom:1px solid #e6e8ec;font-size:20px;font-weight:700;">'
        f'<a href="{home}" style="color:#4f46e5;text-decoration:none;">{brand}</a></td></tr>\n'
        f'<tr><td style="padding:24px 28px;font-size:15px;line-height:1.55;">{body_html}</td></tr>\n'
        f'<tr><td style="padding:16px 28px;border-top:1px solid #e6e8ec;font-size:12px;color:#6b7280;">'
        f"This email was sent by {brand}.</td></tr>\n"
        "</table>\n</td></tr></table>\n</body></html>\n"
    )


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


def compose_email(
    to: str | Sequence[str],
    subject: str,
    text: str,
    html: str | None = None,
    *,
    settings: Settings | None = None,
) -> EmailMessage:
    """A multipart/alternative message: `text`, and `html` (a body fragment; default: the
    text rendered) inside the branded layout. Raises ValueError on a bad address or subject."""
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
    message.set_content(text if text.endswith("\n") else text + "\n")
    body_html = html if html is not None else text_to_html(text)
    message.add_alternative(render_html(body_html, settings=settings, title=subject), subtype="html")
    return message


def send_message(message: EmailMessage, *, mailer: Mailer | None = None) -> None:
    """Send a composed message; raises EmailDeliveryError when the server cannot take it."""
    (mailer or get_mailer()).send(message)


def send_email(to: str | Sequence[str], subject: str, text: str, html: str | None = None) -> None:
    """Compose and send one transactional email (raises EmailDeliveryError, ValueError)."""
    send_message(compose_email(to, subject, text, html))


def send_email_verification(to_email: str, verify_url: str, ttl_hours: int) -> None:
    """Email the link that proves the customer owns the address (the accounts service calls this)."""
    brand = get_settings().brand_name
    _one_line(verify_url, "verify_url")
    text = (
        f"Hello,\n\n"
        f"Please confirm that {to_email} is your address by opening this link within {ttl_hours} hours:\n\n"
        f"{verify_url}\n\n"
        f"Once it is confirmed, any order you paid for as a guest with this address appears in your account.\n"
        f"If you did not create a {brand} account, ignore this email.\n\n"
        f"The {brand} team\n"
    )
    send_email(to_email, f"Confirm your email for {brand}", text)


def send_password_reset(to_email: str, reset_url: str, ttl_minutes: int) -> None:
    """Email the one-time password reset link (the accounts service calls this)."""
    settings = get_settings()
    brand = settings.brand_name
    _one_line(reset_url, "reset_url")
    subject = f"Reset your {brand} password"
    text = (
        f"Hello,\n\n"
        f"Someone asked to reset the password of your {brand} account ({to_email}).\n"
        f"To choose a new password, open this link within {ttl_minutes} minutes:\n\n"
        f"{reset_url}\n\n"
        f"The link works once. If you did not ask for this, ignore this email: "
        f"your password stays as it is.\n\n"
        f"The {brand} team\n"
    )
    url = html_lib.escape(reset_url, quote=True)
    body_html = (
        f'<p style="margin:0 0 14px;">Hello,</p>\n'
        f'<p style="margin:0 0 14px;">Someone asked to reset the password of your {html_lib.escape(brand)} '
        f"account ({html_lib.escape(to_email)}).</p>\n"
        f'<p style="margin:24px 0;"><a href="{url}" style="background:#4f46e5;color:#ffffff;'
        f'padding:12px 20px;border-radius:6px;text-decoration:none;font-weight:600;">Choose a new password</a></p>\n'
        f'<p style="margin:0 0 14px;">The link works once and expires in {ttl_minutes} minutes. '
        f"If the button does not work, copy this address into your browser:<br>"
        f'<a href="{url}" style="color:#4f46e5;word-break:break-all;">{url}</a></p>\n'
        f'<p style="margin:0 0 14px;color:#6b7280;">If you did not ask for this, ignore this email: '
        f"your password stays as it is.</p>"
    )
    send_message(compose_email(to_email, subject, text, body_html, settings=settings))


def send_email_change_link(to_email: str, current_email: str, confirm_url: str, ttl_minutes: int) -> None:
    """Email the link that confirms a new address (sent to the NEW address; the account_settings
    service calls this)."""
    brand = get_settings().brand_name
    _one_line(confirm_url, "confirm_url")
    text = (
        f"Hello,\n\n"
        f"Someone signed in to the {brand} account {current_email} asked to use this address instead.\n"
        f"To confirm, open this link within {ttl_minutes} minutes:\n\n"
        f"{confirm_url}\n\n"
        f"Nothing changes until the link is opened. If you did not ask for this, ignore this email.\n\n"
        f"The {brand} team\n"
    )
    send_email(to_email, f"Confirm your new {brand} email address", text)


def send_email_changed_notice(old_email: str, new_email: str) -> None:
    """Tell the previous address that the account now signs in with another one."""
    brand = get_settings().brand_name
    text = (
        f"Hello,\n\n"
        f"The email address of your {brand} account was changed from {old_email} to {new_email}.\n"
        f"From now on, sign in with {new_email}.\n\n"
        f"If you did not do this, reply to this email at once so we can lock the account.\n\n"
        f"The {brand} team\n"
    )
    send_email(old_email, f"Your {brand} email address was changed", text)
