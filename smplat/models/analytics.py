"""Storefront analytics events, written only with the visitor's analytics consent."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from smplat.models.base import created_at_field, updated_at_field


class SearchRecord(SQLModel, table=True):
    """One catalog search: what was typed, the filters and sort applied, how many results.

    No visitor id is stored: insights are about what people look for, not who looks."""

    __tablename__ = "search_records"
    __table_args__ = (
        # Admin → Search insights: recent searches grouped by query, and zero-result ones
        sa.Index("ix_search_records_created_query", "created_at", "query"),
        sa.Index("ix_search_records_results_created", "result_count", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    query: str = Field(default="", max_length=100, nullable=False)  # normalised: trimmed, lower case
    category: str = Field(default="", max_length=80, nullable=False)  # category slug filter, "" for all
    sort: str = Field(max_length=20, nullable=False)
    page: int = Field(default=1, nullable=False)
    result_count: int = Field(nullable=False)
    created_at: datetime = created_at_field()


class DailyCounter(SQLModel, table=True):
    """An anonymous count per UTC day (storefront visits, product views): no visitor id, so it is
    kept without analytics consent, like the commerce counters. Incremented in SQL."""

    __tablename__ = "daily_counters"
    __table_args__ = (sa.UniqueConstraint("day", "name", name="uq_daily_counters_day_name"),)

    id: int | None = Field(default=None, primary_key=True)
    day: date = Field(sa_type=sa.Date, nullable=False)
    name: str = Field(max_length=60, nullable=False)
    value: int = Field(default=0, nullable=False)
    updated_at: datetime = updated_at_field()
