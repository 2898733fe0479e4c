"""Merchandising: saved configurations, pricing experiments, preset events and commerce counters."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from smplat.models.base import StrEnum, created_at_field, json_field, updated_at_field


class ExperimentStatus(StrEnum):
    DRAFT = "draft"
    RUNNING = "running"
    STOPPED = "stopped"
    PROMOTED = "promoted"  # stopped, and the winning variant's price became the list price


class PresetAction(StrEnum):
    APPLY = "apply"
    CLEAR = "clear"


class PresetSource(StrEnum):
    MARKETING_CARD = "marketing_card"  # a preset card on the home page or catalog
    CONFIGURATOR = "configurator"  # the preset chips on the product page


class SavedConfiguration(SQLModel, table=True):
    """A signed-in customer's named configuration of a product, re-validated on every use."""

    __tablename__ = "saved_configurations"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "product_id", "name", name="uq_saved_configurations_user_product_name"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, nullable=False, ondelete="CASCADE")
    product_id: int = Field(foreign_key="products.id", index=True, nullable=False, ondelete="CASCADE")
    name: str = Field(max_length=80, nullable=False)
    configuration: dict[str, Any] = json_field()
    quantity: int = Field(default=1, nullable=False)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class PriceExperiment(SQLModel, table=True):
    """An A/B test of a product's price. At most one experiment per product runs at a time
    (checked by the service); visitors are assigned to a variant by a hash of their
    browser key, so the assignment is sticky without storing anything per visitor."""

    __tablename__ = "price_experiments"

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="products.id", index=True, nullable=False, ondelete="CASCADE")
    key: str = Field(max_length=60, unique=True, nullable=False)
    name: str = Field(max_length=200, nullable=False)
    status: str = Field(default=ExperimentStatus.RUNNING.value, max_length=20)
    promoted_variant_key: str = Field(default="", max_length=60)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class PriceExperimentVariant(SQLModel, table=True):
    """One price of an experiment. `price_bps` scales the configured package price
    (10000 = unchanged, 9000 = 10 % less). Counters are updated in SQL (n = n + 1)."""

    __tablename__ = "price_experiment_variants"
    __table_args__ = (sa.UniqueConstraint("experiment_id", "key", name="uq_price_experiment_variants_key"),)

    id: int | None = Field(default=None, primary_key=True)
    experiment_id: int = Field(foreign_key="price_experiments.id", index=True, nullable=False, ondelete="CASCADE")
    key: str = Field(max_length=60, nullable=False)
    label: str = Field(max_length=200, nullable=False)
    price_bps: int = Field(default=10000, nullable=False)
    weight: int = Field(default=1, nullable=False)
    exposures: int = Field(default=0, nullable=False)
    conversions: int = Field(default=0, nullable=False)
    revenue_minor: int = Field(default=0, nullable=False)
    sort_order: int = Field(default=0)


class PresetEvent(SQLModel, table=True):
    """A preset applied or cleared, with where it happened (recorded only with analytics consent)."""

    __tablename__ = "preset_events"
    __table_args__ = (sa.Index("ix_preset_events_product_created", "product_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="products.id", nullable=False, ondelete="CASCADE")
    preset_key: str = Field(max_length=60, nullable=False)
    action: str = Field(max_length=10, nullable=False)
    source: str = Field(max_length=20, nullable=False)
    created_at: datetime = created_at_field()


class PresetDailyMetric(SQLModel, table=True):
    """Preset applies and clears of one UTC day, per product, preset and source: the nightly
    roll-up of `preset_events` (services/merch_analytics.py). Re-rolling a day replaces its rows."""

    __tablename__ = "preset_daily_metrics"
    __table_args__ = (
        sa.UniqueConstraint("day", "product_id", "preset_key", "source", name="uq_preset_daily_metrics_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    day: date = Field(sa_type=sa.Date, nullable=False, index=True)
    product_id: int = Field(foreign_key="products.id", nullable=False, ondelete="CASCADE")
    preset_key: str = Field(max_length=60, nullable=False)
    source: str = Field(max_length=20, nullable=False)
    applies: int = Field(default=0, nullable=False)
    clears: int = Field(default=0, nullable=False)
    updated_at: datetime = updated_at_field()


class CommerceCounter(SQLModel, table=True):
    """Operational counters (checkout started/completed/failed/abandoned, webhooks received/
    duplicate/rejected/failed). Always recorded: they hold no personal data."""

    __tablename__ = "commerce_counters"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=60, unique=True, nullable=False)
    value: int = Field(default=0, nullable=False)
    updated_at: datetime = updated_at_field()
