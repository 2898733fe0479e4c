"""Alembic environment: SQLModel metadata of every smplat.models module."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from logging.config import fileConfig

from alembic import context
from sqlmodel import SQLModel

import smplat.models  # noqa: F401  (imports every model module)
from smplat.db import get_engine
from smplat.settings import get_settings

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = SQLModel.metadata


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or get_settings().database_url


def _configure(**kwargs) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=False,
        render_as_batch=True,  # SQLite ALTER support
        **kwargs,
    )


def run_migrations_offline() -> None:
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


@contextmanager
def _sqlite_foreign_keys_off(connection) -> Iterator[None]:
    """SQLite alters a table by copying it into a new one and dropping the old (Alembic's
    batch mode). With foreign keys enforced, that DROP deletes every row that references the
    table through ON DELETE CASCADE: altering `products` would empty its option groups,
    options, fields, presets... So migrations run with enforcement off (the pragma only
    works outside a transaction), and afterwards `PRAGMA foreign_key_check` must find nothing."""
    if connection.dialect.name != "sqlite":
        yield
        return
    if connection.in_transaction():
        connection.commit()
    connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    try:
        yield
        problems = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if problems:
            raise RuntimeError(f"a migration left rows pointing at nothing: {problems[:5]}")
    finally:
        if connection.in_transaction():
            connection.commit()
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection=connection)
        with _sqlite_foreign_keys_off(connection), context.begin_transaction():
            context.run_migrations()
        return
    with get_engine(_url()).connect() as connection:
        _configure(connection=connection)
        with _sqlite_foreign_keys_off(connection):
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
