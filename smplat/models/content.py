"""Storefront content the shop owner edits in Admin → Content: home page blocks and legal pages.

A block is one row per key ("home.hero", "legal.terms"); the shape of each key (which
fields it uses, how its list items look) lives in `services/content.py`. A key without a
row shows the built-in default text, so a fresh shop is complete without any content rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from smplat.models.base import json_field, updated_at_field


class ContentBlock(SQLModel, table=True):
    __tablename__ = "content_blocks"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=60, unique=True, index=True, nullable=False)
    title: str = Field(default="", max_length=200)
    subtitle: str = Field(default="", max_length=300)
    body: str = Field(default="", sa_type=sa.Text)
    # list items of the block (metrics, testimonials, FAQ entries…): a list of {column: text}
    items: list[dict[str, Any]] = json_field(list)
    # SET NULL: removing a staff account keeps the content it wrote
    updated_by_id: int | None = Field(default=None, foreign_key="users.id", nullable=True, ondelete="SET NULL")
    updated_at: datetime = updated_at_field()
