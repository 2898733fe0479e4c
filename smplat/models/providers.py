"""Providers: upstream SMM panels, their services, routing rules, submitted orders, refills, replays and health."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from smplat.models.base import (
    StrEnum,
    UTCDateTime,
    created_at_field,
    currency_field,
    json_field,
    updated_at_field,
    utc_field,
    utcnow,
)

# Panels report money as decimal strings ("12.3456"); rates are per 1000 units.
RATE_TYPE = sa.Numeric(18, 6)
BALANCE_TYPE = sa.Numeric(18, 4)


class ProviderHealth(StrEnum):
    UNKNOWN = "unknown"
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    DOWN = "down"


class ProviderServiceStatus(StrEnum):
    ACTIVE = "active"
    VANISHED = "vanished"  # no longer listed by the panel's `services` call
    DISABLED = "disabled"  # switched off by an operator


class RouteStep(StrEnum):
    INITIAL = "initial"
    REFILL = "refill"


class QuantitySource(StrEnum):
    ITEM = "item"  # the order item's service_quantity x quantity_multiplier
    FIXED = "fixed"  # always fixed_quantity (e.g. an add-on "+100 likes")


class ProviderOrderStatus(StrEnum):
    """Normalised status; the panel's own word is kept in raw_status."""

    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    PROCESSING = "processing"
    COMPLETED = "completed"
    PARTIAL = "partial"
    CANCELED = "canceled"
    REFUNDED = "refunded"
    UNKNOWN = "unknown"
    FAILED = "failed"  # the panel refused the add, or it never reached the panel (ours, not the panel's)


class RefillStatus(StrEnum):
    REQUESTED = "requested"
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    REJECTED = "rejected"
    FAILED = "failed"


class ReplayStatus(StrEnum):
    SCHEDULED = "scheduled"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"


class Provider(SQLModel, table=True):
    __tablename__ = "providers"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120, nullable=False)
    slug: str = Field(max_length=80, unique=True, index=True, nullable=False)
    base_url: str = Field(max_length=500, nullable=False)  # the panel's API v2 endpoint
    # Fernet token (smplat.services.secrets_box); the plain key is never stored or shown
    api_key_encrypted: str = Field(default="", sa_type=sa.Text)
    is_active: bool = Field(default=True)
    health_status: str = Field(default=ProviderHealth.UNKNOWN.value, max_length=20)
    last_health_check_at: datetime | None = utc_field()
    balance: Decimal | None = Field(default=None, sa_type=BALANCE_TYPE)
    balance_currency: str | None = Field(default=None, max_length=3)
    low_balance_threshold: Decimal | None = Field(default=None, sa_type=BALANCE_TYPE)
    rate_limit_per_second: int = Field(default=5, nullable=False)
    timeout_seconds: int = Field(default=20, nullable=False)
    # quirks of this panel's dialect of API v2 (param names, status words, batch support)
    dialect: dict[str, Any] = json_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class ProviderService(SQLModel, table=True):
    """A service as the panel lists it. Synced, never deleted: a service that disappears
    upstream is marked vanished so routes and old provider orders still resolve."""

    __tablename__ = "provider_services"
    __table_args__ = (
        sa.UniqueConstraint("provider_id", "external_service_id", name="uq_provider_services_provider_external"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # provider_id is covered by the leading column of the unique constraint
    provider_id: int = Field(foreign_key="providers.id", nullable=False, ondelete="CASCADE")
    external_service_id: str = Field(max_length=64, nullable=False)
    name: str = Field(max_length=300, nullable=False)
    type: str = Field(default="Default", max_length=60)
    category: str = Field(default="", max_length=200)
    rate_per_1000: Decimal = Field(default=Decimal("0"), sa_type=RATE_TYPE, nullable=False)
    currency: str = currency_field()
    min_quantity: int = Field(default=1, nullable=False)
    max_quantity: int = Field(default=1_000_000, nullable=False)
    refill: bool = Field(default=False)
    refill_window_days: int | None = Field(default=None)
    cancel: bool = Field(default=False)
    dripfeed: bool = Field(default=False)
    status: str = Field(default=ProviderServiceStatus.ACTIVE.value, max_length=20, index=True)
    last_synced_at: datetime | None = utc_field()
    vanished_at: datetime | None = utc_field()
    raw: dict[str, Any] = json_field()  # the panel's last answer for this service
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class ServiceRoute(SQLModel, table=True):
    """Which provider service fulfils a product (or one of its add-ons). The router takes
    active routes of the product in priority order (lowest first) and uses the first
    whose conditions match and whose margin is at least min_margin_bps.

    `conditions`: {"channel": [..], "country": [..], "min_quantity": n, "max_quantity": n,
    "dripfeed": bool, "options": ["<group key>:<option key>", ..]}; empty matches all.
    """

    __tablename__ = "service_routes"
    __table_args__ = (sa.Index("ix_service_routes_product_active_priority", "product_id", "is_active", "priority"),)

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="products.id", nullable=False, ondelete="CASCADE")
    add_on_id: int | None = Field(
        default=None, foreign_key="product_add_ons.id", index=True, nullable=True, ondelete="CASCADE"
    )
    provider_service_id: int = Field(foreign_key="provider_services.id", index=True, nullable=False, ondelete="CASCADE")
    step: str = Field(default=RouteStep.INITIAL.value, max_length=20)
    priority: int = Field(default=100, nullable=False)
    conditions: dict[str, Any] = json_field()
    quantity_source: str = Field(default=QuantitySource.ITEM.value, max_length=20)
    quantity_multiplier: Decimal = Field(default=Decimal("1"), sa_type=sa.Numeric(10, 4), nullable=False)
    fixed_quantity: int | None = Field(default=None)
    min_margin_bps: int | None = Field(default=None)
    is_active: bool = Field(default=True)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class ProviderOrder(SQLModel, table=True):
    """An order placed (or about to be placed) on a panel.

    The row is written with its submission_key *before* the `add` call: after a crash the
    key shows an intent whose outcome must be reconciled, never resubmitted blindly.
    """

    __tablename__ = "provider_orders"
    __table_args__ = (
        sa.UniqueConstraint("provider_id", "external_order_id", name="uq_provider_orders_provider_external"),
        # the status sync job: unfinished orders, least recently synced first
        sa.Index("ix_provider_orders_status_synced", "status", "last_synced_at"),
        # created: the dashboard roll-up and today's placements; updated: Analytics' change detector
        sa.Index("ix_provider_orders_created", "created_at"),
        sa.Index("ix_provider_orders_updated", "updated_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    fulfillment_task_id: int = Field(
        foreign_key="fulfillment_tasks.id", index=True, nullable=False, ondelete="RESTRICT"
    )
    order_item_id: int = Field(foreign_key="order_items.id", index=True, nullable=False, ondelete="RESTRICT")
    # provider_id is covered by the leading column of the unique constraint
    provider_id: int = Field(foreign_key="providers.id", nullable=False, ondelete="RESTRICT")
    provider_service_id: int = Field(
        foreign_key="provider_services.id", index=True, nullable=False, ondelete="RESTRICT"
    )
    submission_key: str = Field(max_length=120, unique=True, nullable=False)
    external_order_id: str | None = Field(default=None, max_length=64)
    link: str = Field(default="", max_length=2000)
    quantity: int = Field(default=0, nullable=False)
    runs: int | None = Field(default=None)  # drip-feed
    interval: int | None = Field(default=None)  # drip-feed, minutes between runs
    status: str = Field(default=ProviderOrderStatus.PENDING.value, max_length=20)
    raw_status: str = Field(default="", max_length=60)
    charge: Decimal | None = Field(default=None, sa_type=RATE_TYPE)
    charge_currency: str | None = Field(default=None, max_length=3)
    start_count: int | None = Field(default=None)
    remains: int | None = Field(default=None)
    submitted_at: datetime | None = utc_field()
    last_synced_at: datetime | None = utc_field()
    completed_at: datetime | None = utc_field()
    error: str = Field(default="", sa_type=sa.Text)
    last_response: dict[str, Any] = json_field()  # the panel's last answer, for operators
    # a status word outside the provider's dialect: flagged for an operator (never "pending")
    flagged_at: datetime | None = utc_field(index=True)
    flag_reason: str = Field(default="", sa_type=sa.Text)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class Refill(SQLModel, table=True):
    __tablename__ = "refills"
    __table_args__ = (sa.Index("ix_refills_status_checked", "status", "last_checked_at"),)

    id: int | None = Field(default=None, primary_key=True)
    provider_order_id: int = Field(foreign_key="provider_orders.id", index=True, nullable=False, ondelete="CASCADE")
    external_refill_id: str | None = Field(default=None, max_length=64, index=True)
    status: str = Field(default=RefillStatus.REQUESTED.value, max_length=20)
    requested_by_user_id: int | None = Field(
        default=None, foreign_key="users.id", index=True, nullable=True, ondelete="SET NULL"
    )
    reason: str = Field(default="", max_length=1000)
    error: str = Field(default="", max_length=2000)
    last_checked_at: datetime | None = utc_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class ScheduledReplay(SQLModel, table=True):
    """A provider order to submit again at run_at (e.g. after a drop or a failed run)."""

    __tablename__ = "scheduled_replays"
    __table_args__ = (sa.Index("ix_scheduled_replays_status_run_at", "status", "run_at"),)

    id: int | None = Field(default=None, primary_key=True)
    provider_order_id: int = Field(foreign_key="provider_orders.id", index=True, nullable=False, ondelete="CASCADE")
    run_at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)
    status: str = Field(default=ReplayStatus.SCHEDULED.value, max_length=20)
    created_by_user_id: int | None = Field(
        default=None, foreign_key="users.id", index=True, nullable=True, ondelete="SET NULL"
    )
    reason: str = Field(default="", max_length=1000)
    executed_at: datetime | None = utc_field()
    result: dict[str, Any] = json_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class ProviderHealthCheck(SQLModel, table=True):
    __tablename__ = "provider_health_checks"
    __table_args__ = (sa.Index("ix_provider_health_checks_provider_checked", "provider_id", "checked_at"),)

    id: int | None = Field(default=None, primary_key=True)
    provider_id: int = Field(foreign_key="providers.id", nullable=False, ondelete="CASCADE")
    checked_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    ok: bool = Field(default=False)
    latency_ms: int | None = Field(default=None)
    balance: Decimal | None = Field(default=None, sa_type=BALANCE_TYPE)
    balance_currency: str | None = Field(default=None, max_length=3)
    error: str = Field(default="", max_length=2000)


class AlertNotice(SQLModel, table=True):
    """One raised alert condition (kind + subject), so a condition is sent once per repeat window."""

    __tablename__ = "alert_notices"
    __table_args__ = (sa.UniqueConstraint("kind", "subject", name="uq_alert_notices_kind_subject"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=40, nullable=False)
    subject: str = Field(max_length=200, nullable=False)  # "provider:3", "product:7", "dead_letters"
    message: str = Field(default="", max_length=2000)
    times_raised: int = Field(default=0, nullable=False)
    last_raised_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    last_sent_at: datetime | None = utc_field()
    created_at: datetime = created_at_field()
