"""Apply Alembic migrations from code (the run command, the tests, the jobs process)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from smplat.db import check_database, get_engine
from smplat.settings import PROJECT_ROOT, get_settings


def alembic_config(url: str | None = None) -> Config:
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", (url or get_settings().database_url).replace("%", "%%"))
    cfg.attributes["configure_logging"] = False
    return cfg


def upgrade_to_head(url: str | None = None) -> None:
    """Bring the database at `url` (default: settings) to the newest revision."""
    url = url or get_settings().database_url
    check_database(url)
    command.upgrade(alembic_config(url), "head")


def is_up_to_date(url: str | None = None) -> bool:
    url = url or get_settings().database_url
    cfg = alembic_config(url)
    heads = set(ScriptDirectory.from_config(cfg).get_heads())
    with get_engine(url).connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    return current == heads
