"""Accounts: users with roles, server-side sessions, one-time tokens, sign-in attempts."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from smplat.models.base import StrEnum, UTCDateTime, created_at_field, updated_at_field, utc_field


class Role(StrEnum):
    CUSTOMER = "customer"
    OPERATOR = "operator"
    ADMIN = "admin"


class TokenPurpose(StrEnum):
    SIGNIN_TICKET = "signin_ticket"  # handed from a form handler to the cookie-setting route
    PASSWORD_RESET = "password_reset"
    EMAIL_CHANGE = "email_change"  # sent to a new address; the change happens when it is opened
    VERIFY_EMAIL = "verify_email"  # the link that proves the address (and attaches its guest orders)


class AttemptKind(StrEnum):
    """What a throttled attempt was: each kind is counted on its own."""

    PASSWORD = "password"  # a sign-in with a password (failures count)
    RESET = "reset"  # a password-reset email request (every request counts)
    TOTP = "totp"  # a second-factor code (failures count)


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True, index=True, nullable=False)  # stored lower-case
    password_hash: str = Field(max_length=255, nullable=False)
    full_name: str = Field(default="", max_length=200)
    role: str = Field(default=Role.CUSTOMER.value, max_length=20, index=True)
    is_active: bool = Field(default=True)
    timezone: str = Field(default="UTC", max_length=64)
    last_login_at: datetime | None = utc_field()
    # Two-factor sign-in (TOTP, smplat.services.two_factor): the secret is Fernet-encrypted;
    # it is active only once `two_factor_enabled_at` is set (a first code confirmed it).
    two_factor_secret: str = Field(default="", max_length=400, sa_column_kwargs={"server_default": ""})
    two_factor_enabled_at: datetime | None = utc_field()
    # The last 30-second time step whose code was accepted: the same code never works twice.
    two_factor_last_step: int | None = Field(default=None, sa_type=sa.BigInteger)
    # set when the owner opened the verification link sent to this address (guest orders attach then)
    email_verified_at: datetime | None = utc_field()
    # the customer deleted the account: personal data anonymised at that moment; bookkeeping
    # (orders, payments) kept until account_data_retention_days later, then purged
    deleted_at: datetime | None = utc_field(index=True)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class UserSession(SQLModel, table=True):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored."""

    __tablename__ = "user_sessions"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, nullable=False, ondelete="CASCADE")
    token_hash: str = Field(max_length=64, unique=True, nullable=False)
    created_at: datetime = created_at_field()
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)
    last_seen_at: datetime | None = utc_field()
    revoked_at: datetime | None = utc_field()
    ip_address: str = Field(default="", max_length=64)
    user_agent: str = Field(default="", max_length=400)


class AuthToken(SQLModel, table=True):
    """Single-use tokens: sign-in tickets, password reset and email-change links (stored hashed)."""

    __tablename__ = "auth_tokens"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, nullable=False, ondelete="CASCADE")
    purpose: str = Field(max_length=32, nullable=False)
    token_hash: str = Field(max_length=64, unique=True, nullable=False)
    next_path: str = Field(default="", max_length=400)
    new_email: str | None = Field(default=None, max_length=320)  # email-change links: the address confirmed
    created_at: datetime = created_at_field()
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)
    used_at: datetime | None = utc_field()


class LoginAttempt(SQLModel, table=True):
    """One throttled try (sign-in, reset request, second-factor code), per email and per IP.

    Written in its own transaction, so the rollback of the refused request keeps it."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        sa.Index("ix_login_attempts_email_created", "email", "created_at"),
        sa.Index("ix_login_attempts_ip_created", "ip_address", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, nullable=False)
    ip_address: str = Field(default="", max_length=64)
    succeeded: bool = Field(default=False)
    kind: str = Field(
        default=AttemptKind.PASSWORD.value,
        max_length=16,
        sa_column_kwargs={"server_default": AttemptKind.PASSWORD.value},
    )
    created_at: datetime = created_at_field()


class BackupCode(SQLModel, table=True):
    """A single-use two-factor recovery code; only its keyed SHA-256 digest is stored."""

    __tablename__ = "two_factor_backup_codes"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, nullable=False, ondelete="CASCADE")
    code_hash: str = Field(max_length=64, unique=True, nullable=False)
    created_at: datetime = created_at_field()
    used_at: datetime | None = utc_field()


class CustomerNote(SQLModel, table=True):
    """A staff member's internal note about a customer (never shown to the customer)."""

    __tablename__ = "customer_notes"
    __table_args__ = (sa.Index("ix_customer_notes_user_created", "user_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", nullable=False, ondelete="CASCADE")
    author_user_id: int | None = Field(default=None, foreign_key="users.id", nullable=True, ondelete="SET NULL")
    author_label: str = Field(default="", max_length=200)  # kept when the author is deleted
    body: str = Field(sa_type=sa.Text, nullable=False)
    created_at: datetime = created_at_field()
