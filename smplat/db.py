"""Engine and session helpers: SQLite by default, PostgreSQL by URL."""

from __future__ import annotations

import json as _json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import psycopg
from sqlalchemy import Text, bindparam, cast, create_engine, event, func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import InvalidRequestError, OperationalError
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session

from smplat.settings import get_settings

logger = logging.getLogger(__name__)

_engines: dict[str, Engine] = {}
_READ_ONLY: dict[object, Engine] = {}  # per engine URL: the same engine without transactions

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


# --- one writer at a time per SQLite file in this process ------------------------------------

_WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "REPLACE")
_WRITER = "smplat_sqlite_writer"  # connection info: this connection holds its engine's writer lock
WRITER_WAIT_SECONDS = 10.0  # as long as SQLite's busy timeout; then SQLite's own waiting decides


class _SqliteWriterLock:
    """SQLite lets one transaction write at a time; the others wait in its busy handler, which
    sleeps in growing steps (up to 100 ms) and wastes most of the time the file is free. Within
    one process the writers queue on this lock instead: a connection takes it just before its
    first write (pysqlite opens the write transaction there) and gives it back when that
    transaction commits or rolls back, so the next writer starts the moment the file is free.
    Other processes (the jobs process) still meet SQLite's busy timeout as before. A thread
    that already holds the lock through another connection does not wait for itself (SQLite
    answers that nested write as it always did), and after `WRITER_WAIT_SECONDS` a writer goes
    on to SQLite's own waiting."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: int | None = None

    def before_execute(self, conn, _cursor, statement, _parameters, _context, _executemany) -> None:
        if conn.info.get(_WRITER) or not statement.lstrip()[:7].upper().startswith(_WRITE_VERBS):
            return
        if self._owner == threading.get_ident() or not self._lock.acquire(timeout=WRITER_WAIT_SECONDS):
            return
        self._owner = threading.get_ident()
        conn.info[_WRITER] = self

    def release(self, info: dict) -> None:
        if info.pop(_WRITER, None) is self:
            self._owner = None
            self._lock.release()

    def on_end(self, conn, *_args) -> None:
        self.release(conn.info)

    def on_checkin(self, _dbapi_connection, record) -> None:  # a connection closed mid-transaction
        self.release(record.info)


def make_engine(url: str) -> Engine:
    sa_url = make_url(url)
    if sa_url.get_backend_name() == "sqlite":
        if sa_url.database and sa_url.database != ":memory:":
            Path(sa_url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "savepoint", _sqlite_savepoint)
        writers = _SqliteWriterLock()
        event.listen(engine, "before_cursor_execute", writers.before_execute)
        event.listen(engine, "commit", writers.on_end)
        event.listen(engine, "rollback", writers.on_end)
        event.listen(engine.pool, "checkin", writers.on_checkin)
        event.listen(engine.pool, "close", writers.on_checkin)
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
    _READ_ONLY.clear()


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


@contextmanager
def read_scope(url: str | None = None) -> Iterator[Session]:
    """A unit of work that only reads (a page's load): on PostgreSQL without a transaction, so
    no BEGIN and COMMIT round trips. Each statement reads its own snapshot, as every statement
    of a READ COMMITTED transaction does anyway; never write in one (each write would commit
    on its own)."""
    engine = get_engine(url)
    bind = engine
    if engine.dialect.name == "postgresql":
        bind = _READ_ONLY.get(engine.url)
        if bind is None:
            bind = _READ_ONLY[engine.url] = engine.execution_options(isolation_level="AUTOCOMMIT")
    session = Session(bind, expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()


_INSERTS: dict[str, object] = {}


def insert_built(session: OrmSession, row) -> int:
    """INSERT a model object built in Python (its defaults filled in when it was constructed)
    with one Core statement, RETURNING the new id, which is set on the object. The object stays
    out of the session (no flush, no identity map): for rows written once whose values the
    caller only reads from the object afterwards. Several times cheaper than add + flush."""
    table = row.__table__
    statement = _INSERTS.get(table.name)
    if statement is None:
        statement = _INSERTS[table.name] = table.insert().returning(table.c.id)
    row.id = session.execute(statement, column_values(row)).scalar_one()
    return row.id


def column_values(row) -> dict:
    """A built model object's column values (its id left to the database)."""
    return {c.key: getattr(row, c.key) for c in row.__table__.columns if c.key != "id"}


class RowBatch:
    """Rows written once and never read back in their transaction (events, queued tasks,
    ledger rows), collected to go in with one INSERT per table when `write` is called, before
    the commit. A group of wallet orders (`resellers._place_group`) uses one; without one,
    `insert_rows` writes at once."""

    def __init__(self) -> None:
        self._tables: dict[str, tuple[object, list[dict]]] = {}

    def add(self, table, rows: list[dict]) -> None:
        self._tables.setdefault(table.name, (table, []))[1].extend(rows)

    def write(self, session: OrmSession) -> None:
        for table, rows in self._tables.values():
            if rows:
                session.execute(table.insert(), rows)
        self._tables.clear()


def insert_rows(session: OrmSession, table, rows: list[dict], batch: RowBatch | None = None) -> None:
    """INSERT `rows` into `table` in one statement now, or add them to `batch`."""
    if batch is not None:
        batch.add(table, rows)
    elif rows:
        session.execute(table.insert(), rows)


# --- several reads, one round trip ---------------------------------------------------------


_BATCHES: dict[tuple, tuple] = {}  # (names, ids) -> (the statements, their one-statement form)
_BATCHES_KEPT = 256
_batches_lock = threading.Lock()


def _batch(names: list[str], statements: dict[str, object]) -> _Folded:
    """The statements folded into one select, built once per set of statement objects: a page
    that passes the same (module-level or cached) statements each time reuses it, and its
    compiled form with it."""
    parts = [statements[name] for name in names]
    key = (tuple(names), tuple(id(part) for part in parts))
    found = _BATCHES.get(key)
    if found is not None and all(a is b for a, b in zip(found[0], parts, strict=True)):
        return found[1]
    columns = []
    for name, part in zip(names, parts, strict=True):
        sub = part.subquery()  # type: ignore[attr-defined]
        columns.append(select(cast(func.json_agg(func.json_build_array(*sub.c)), Text)).scalar_subquery().label(name))
    folded = _Folded(select(*columns))
    with _batches_lock:
        if len(_BATCHES) >= _BATCHES_KEPT:
            _BATCHES.pop(next(iter(_BATCHES)))
        _BATCHES[key] = (parts, folded)  # the parts held: their ids cannot be reused while kept
    return folded


# a bound parameter in SQL compiled for psycopg: %(name)s, an escaped %, or an IN list's
# placeholder expanded at execution (`__[POSTCOMPILE_name]`)
_PLACEHOLDER = re.compile(r"%%|%\((?P<name>[^)]+)\)s|__\[POSTCOMPILE_(?P<post>[^\]]+)\]")


class _Folded:
    """A folded select and, per dialect, its SQL compiled once into PostgreSQL's own numbered
    placeholders ($1, $2, ...), IN lists of fixed values expanded: each run then only binds
    values. SQLAlchemy would re-expand the IN lists and psycopg re-parse the (long) SQL on
    every run (psycopg caches only statements under 4 kB), measured ~0.6 ms of the ~3 ms of
    each of the dashboard's big reads."""

    def __init__(self, statement: object) -> None:
        self.statement = statement
        self._native: dict[str, tuple[str, tuple, frozenset[str]] | None] = {}

    def native(self, dialect) -> tuple[str, tuple, frozenset[str]] | None:
        """(SQL, one (name, list index or None, bind processor, fixed value) per placeholder,
        names of the IN lists), or None when the statement has an IN list without a fixed
        value (then it runs through SQLAlchemy)."""
        if dialect.name in self._native:
            return self._native[dialect.name]
        compiled = self.statement.compile(dialect=dialect)  # type: ignore[attr-defined]
        original = {escaped: name for name, escaped in (compiled.escaped_bind_names or {}).items()}
        slots: list[tuple] = []
        numbers: dict[str, int] = {}
        lists: set[str] = set()
        unusable = False

        def number(match: re.Match) -> str:
            nonlocal unusable
            if match.group(0) == "%%":
                return "%"
            name = original.get(match.group("name") or match.group("post"), match.group("name") or match.group("post"))
            bind = compiled.binds[name]
            processor = bind.type.bind_processor(dialect)
            if match.group("post") and bind.expanding:
                lists.add(name)
                if bind.effective_value is None:
                    unusable = True
                    return ""
                marks = []
                for i in range(len(bind.effective_value)):
                    slots.append((name, i, processor, bind.effective_value))
                    marks.append(f"${len(slots)}")
                return ", ".join(marks)
            if name not in numbers:  # one name, one number (SQL may repeat it: GROUP BY)
                slots.append((name, None, processor, _REQUIRED if bind.required else bind.effective_value))
                numbers[name] = len(slots)
            return f"${numbers[name]}"

        sql = _PLACEHOLDER.sub(number, compiled.string)
        found = None if unusable else (sql, tuple(slots), frozenset(lists))
        self._native[dialect.name] = found
        return found


_REQUIRED = object()  # a bound parameter without a value: the caller must give one


def _native_values(slots: tuple, params: dict) -> tuple:
    values = []
    for name, index, processor, fixed in slots:
        value = params.get(name, fixed)
        if value is _REQUIRED:
            raise InvalidRequestError(f"A value is required for bind parameter {name!r}")
        if index is not None:
            value = value[index]
        values.append(processor(value) if processor is not None else value)
    return tuple(values)


def fetch_many(session: OrmSession, statements: dict[str, object], params: dict | None = None) -> dict[str, list]:
    """Run independent SELECTs and return each one's rows (tuples), by name.

    On PostgreSQL they go as ONE statement, each select folded into a JSON array of its rows
    (`json_agg` over the select as a subquery: its ORDER BY and LIMIT kept), so a page's dozen
    small reads cost one round trip, not twelve. Values come back as JSON gives them: numbers
    as int or exact `Decimal`, dates and times as ISO text (`rollups.as_day` / `rollups.utc`
    read both). On SQLite (no round trips, in-process) each runs on its own.

    `params` are the values of the statements' named bind parameters (one namespace: a name
    used by two statements has one value). Pass statements built once (with bind parameters
    for what changes) and the folded statement is built and compiled once too."""
    params = dict(params or {})
    names = list(statements)
    if not names:
        return {}
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return {name: [tuple(row) for row in connection.execute(statements[name], params).all()] for name in names}
    folded = _batch(names, statements)
    native = folded.native(connection.dialect)
    if native is None or native[2] & params.keys():  # an IN list given at run time
        row = connection.execute(folded.statement, params).one()
    else:
        sql, slots, _lists = native
        # still through SQLAlchemy's connection (its events: statement counts, tracing), on a
        # cursor that takes $n placeholders as they are (psycopg's RawCursor)
        driver = connection.connection.driver_connection
        cursor_factory = driver.cursor_factory
        driver.cursor_factory = psycopg.RawCursor
        try:
            row = connection.exec_driver_sql(sql, _native_values(slots, params)).one()
        finally:
            driver.cursor_factory = cursor_factory
    return {
        name: [tuple(r) for r in _json.loads(raw or "[]", parse_float=Decimal)]
        for name, raw in zip(names, row, strict=True)
    }


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


# --- catalog changes: the counter every process's offer cache follows ----------------------

CATALOG_CHANGES = "catalog_changes"  # a `commerce_counters` row
# the tables an offer (`resellers.offer`) is read from: the product, its detail, its routes
CATALOG_TABLES = frozenset(
    {
        "products",
        "categories",
        "product_option_groups",
        "product_options",
        "product_add_ons",
        "product_plans",
        "product_custom_fields",
        "product_presets",
        "product_media",
        "service_routes",
        "provider_services",
    }
)


def _bump_catalog_changes(connection) -> None:
    from smplat.models.base import UTCDateTime, utcnow

    connection.execute(
        text(
            "INSERT INTO commerce_counters (name, value, updated_at) VALUES (:name, 1, :now) "
            "ON CONFLICT (name) DO UPDATE SET value = commerce_counters.value + 1, updated_at = excluded.updated_at"
        ).bindparams(bindparam("now", type_=UTCDateTime)),
        {"name": CATALOG_CHANGES, "now": utcnow()},
    )


def _is_catalog(obj: object) -> bool:
    return getattr(type(obj), "__tablename__", None) in CATALOG_TABLES


@event.listens_for(OrmSession, "after_flush")
def _count_catalog_flush(session: OrmSession, _context) -> None:
    """Every flush that writes a catalog or route row moves `catalog_changes` in the same
    transaction, so a cache keyed by it (read with the data it guards) is never stale, in this
    process or any other."""
    if (
        any(_is_catalog(o) for o in session.new)
        or any(_is_catalog(o) for o in session.deleted)
        or any(_is_catalog(o) and session.is_modified(o, include_collections=False) for o in session.dirty)
    ):
        _bump_catalog_changes(session.connection())


@event.listens_for(OrmSession, "do_orm_execute")
def _count_catalog_statement(state) -> None:
    """The same for an INSERT / UPDATE / DELETE statement on a catalog table run by a session."""
    if state.is_insert or state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        if getattr(table, "name", None) in CATALOG_TABLES:
            _bump_catalog_changes(state.session.connection())
