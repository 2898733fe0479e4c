"""Engine and session helpers: SQLite by default, PostgreSQL by URL."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session

from smplat.settings import get_settings

logger = logging.getLogger(__name__)

_engines: dict[str, Engine] = {}

_AFTER_COMMIT = "smplat_after_commit"


class DatabaseUnavailable(RuntimeError):
    """The configured database cannot be reached; the message is one line for the operator."""


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_savepoint(conn, _name) -> None:
    """Open a real transaction before a SAVEPOINT when none is open.

    pysqlite begins transactions at the first write, which keeps read-then-write units of
    work free of SQLITE_BUSY_SNAPSHOT under WAL (a later writer waits instead of failing).
    But a SAVEPOINT issued before any write would itself become the transaction, and its
    RELEASE would commit: a create-once insert inside begin_nested() would outlive a
    rollback of the surrounding unit of work. Sent straight to the driver, so query-count
    tests see only real queries.
    """
    driver = conn.connection.driver_connection
    if not driver.in_transaction:
        driver.execute("BEGIN")


def make_engine(url: str) -> Engine:
    sa_url = make_url(url)
    if sa_url.get_backend_name() == "sqlite":
        if sa_url.database and sa_url.database != ":memory:":
            Path(sa_url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "savepoint", _sqlite_savepoint)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def get_engine(url: str | None = None) -> Engine:
    url = url or get_settings().database_url
    engine = _engines.get(url)
    if engine is None:
        engine = _engines[url] = make_engine(url)
    return engine


def dispose_engines() -> None:
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A unit of work: commits on success, rolls back on error."""
    session = Session(get_engine(url), expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def describe_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)


def check_database(url: str | None = None) -> None:
    """Raise DatabaseUnavailable with a one-line reason when the database cannot be reached."""
    url = url or get_settings().database_url
    try:
        with get_engine(url).connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc).splitlines()[0]
        raise DatabaseUnavailable(f"cannot reach the database at {describe_url(url)}: {reason}") from None


# --- work that must wait for the commit -------------------------------------------------


def after_commit(session: OrmSession, action: Callable[[], None]) -> None:
    """Run `action` once the session's outermost transaction commits; drop it on rollback.

    The one way to schedule follow-up work (a receipt email) so it never goes out for a
    unit of work that is rolled back, and never holds the transaction open. A failing
    action is logged; it cannot undo what was committed."""
    session.info.setdefault(_AFTER_COMMIT, []).append(action)


@event.listens_for(OrmSession, "after_commit")
def _run_after_commit(session: OrmSession) -> None:
    if session.in_nested_transaction():
        return  # SQLAlchemy also sends after_commit when a SAVEPOINT is released: not the commit yet
    for action in session.info.pop(_AFTER_COMMIT, []):
        try:
            action()
        except Exception:  # committed work stays committed: log, never raise
            logger.exception("after-commit action %r failed", action)


@event.listens_for(OrmSession, "after_soft_rollback")
def _drop_after_commit(session: OrmSession, previous_transaction: SessionTransaction) -> None:
    if previous_transaction.parent is None and not previous_transaction.nested:
        session.info.pop(_AFTER_COMMIT, None)
