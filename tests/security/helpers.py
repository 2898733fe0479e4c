"""Shared pieces of the security tests: real users and sessions, a tab's root state."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pyotp
import reflex as rx
from reflex.istate.data import RouterData
from sqlalchemy import func, select

from smplat.db import session_scope
from smplat.models.accounts import Role
from smplat.services import accounts, two_factor
from smplat.settings import reset_settings_cache

PASSWORD = "violet-harbour-42"
THROTTLED = re.compile(r"^Too many attempts\. Try again in \d+ minutes?\.$")


def configure(monkeypatch, **values) -> None:
    """Settings for one test, through the environment as an operator would set them."""
    for name, value in values.items():
        monkeypatch.setenv(f"SMPLAT_{name.upper()}", str(value))
    reset_settings_cache()


def make_user(email: str, role: Role = Role.CUSTOMER, password: str = PASSWORD, *, two_factor_secret: str = "") -> int:
    """A user; one whose role requires two-factor gets it (with `two_factor_secret` or a random
    one) unless `two_factor_secret="none"`, so admin tests reach the admin."""
    with session_scope() as db:
        user = accounts.sign_up(db, email=email, password=password, role=role)
        if two_factor_secret != "none" and (two_factor_secret or two_factor.is_required(user.role)):
            two_factor.enable_with_secret(db, user.id, two_factor_secret or pyotp.random_base32())
        return user.id


def session_cookie(user_id: int) -> str:
    """A real signed-in session (ticket redeemed), as the cookie route creates it."""
    with session_scope() as db:
        user = db.get(accounts.User, user_id)
        return accounts.redeem_signin_ticket(db, accounts.issue_signin_ticket(db, user)).token


def tab(
    cookie: str | None = None, path: str = "/signin", ip: str = "203.0.113.7", query: dict | None = None
) -> rx.State:
    """The root state of one browser tab, as the websocket would give it to a handler."""
    root = rx.State(_reflex_internal_init=True)
    set_request(root, cookie, path, ip, query)
    return root


def set_request(
    root: rx.State, cookie: str | None, path: str = "/signin", ip: str = "203.0.113.7", query: dict | None = None
) -> None:
    """What the next event of the tab carries: its cookie, page and client IP."""
    headers = {"cookie": f"smplat_session={cookie}"} if cookie else {}
    as_path = path + ("?" + urlencode(query) if query else "")
    root.router = RouterData.from_router_data(
        {"headers": headers, "pathname": path, "asPath": as_path, "query": query or {}, "ip": ip}
    )


def count(model, *where) -> int:
    with session_scope() as db:
        return db.execute(select(func.count()).select_from(model).where(*where)).scalar_one()
