"""Storefront analytics events, written only with the visitor's analytics consent."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from smplat.models.base import created_at_field


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
