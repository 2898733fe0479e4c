"""The Alembic revisions and the SQLModel tables describe the same schema, on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlmodel import SQLModel

import smplat.models  # noqa: F401  (registers every table)
from smplat import db as smplat_db
from smplat.migrate import alembic_config, is_up_to_date

pytestmark = pytest.mark.integration


def _schema_diff(url: str) -> list:
    with smplat_db.get_engine(url).connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, SQLModel.metadata)


def test_one_head() -> None:
    # given the migrations directory / when its heads are read
    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()

    # then there is exactly one (later revisions chain onto 0001_initial, never branch)
    assert len(heads) == 1


def test_upgrade_head_matches_models(db_url: str) -> None:
    # given a database the fixture brought to head with `alembic upgrade head`
    # when the reflected schema is compared with the models
    diff = _schema_diff(db_url)

    # then nothing differs: no table, column, type, index or constraint missing
    assert diff == []
    assert is_up_to_date(db_url) is True


def test_upgrade_head_creates_every_table(db_url: str) -> None:
    # given a migrated database / when its tables are listed
    with smplat_db.get_engine(db_url).connect() as conn:
        tables = set(inspect(conn).get_table_names()) - {"alembic_version"}

    # then they are exactly the models' tables
    assert tables == set(SQLModel.metadata.tables)
    # 35 from 0001_initial; content_blocks, search_records (0002); fulfillment_attempts, alert_notices (0003);
    # five checkout and merchandising tables (0004); linked profiles and snapshots, two_factor_backup_codes (0008);
    # reseller_accounts, reseller_ledger, reseller_api_keys (0013); daily_counters (0015);
    # customer_notes (0018); notification_messages, notification_preferences (0022_ntf);
    # billing_profiles, invoice_sequences, invoices (0023_inv); preset_daily_metrics (0024_mrch);
    # daily_rollups, daily_sales, daily_service_stats, daily_provider_stats, daily_payment_stats (0025_dash)
    assert len(tables) == 63


def test_downgrade_base_then_upgrade_head_on_sqlite(tmp_path: Path) -> None:
    # given a fresh SQLite database at head
    url = f"sqlite:///{tmp_path / 'roundtrip.db'}"
    cfg = alembic_config(url)
    command.upgrade(cfg, "head")

    # when everything is downgraded
    command.downgrade(cfg, "base")

    # then only Alembic's bookkeeping table is left
    with smplat_db.get_engine(url).connect() as conn:
        assert set(inspect(conn).get_table_names()) == {"alembic_version"}

    # and upgrading again yields the models' schema
    command.upgrade(cfg, "head")
    assert _schema_diff(url) == []
    smplat_db._engines.pop(url).dispose()
