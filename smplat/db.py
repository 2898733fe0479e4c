"""Engine and session helpers: SQLite by default, PostgreSQL by URL."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg.pq import TransactionStatus
from sqlalchemy import bindparam, create_engine, event, text
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
    of a READ COMMITTED transaction does anyway (a `fetch_many` round trip is one snapshot);
    never write in one (each write would commit on its own)."""
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


# a bound parameter in SQL compiled for psycopg: %(name)s, an escaped %, or an IN list's
# placeholder expanded at execution (`__[POSTCOMPILE_name]`)
_PLACEHOLDER = re.compile(r"%%|%\((?P<name>[^)]+)\)s|__\[POSTCOMPILE_(?P<post>[^\]]+)\]")
_REQUIRED = object()  # a bound parameter without a value: the caller must give one


class Native:
    """A select compiled once into PostgreSQL's own numbered placeholders ($1, $2, ...), its IN
    lists of fixed values expanded: each run only binds values (SQLAlchemy would expand the
    lists and psycopg parse the SQL again on every run)."""

    __slots__ = ("lists", "slots", "sql")

    def __init__(self, statement: object, dialect) -> None:
        compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
        original = {escaped: name for name, escaped in (compiled.escaped_bind_names or {}).items()}
        slots: list[tuple] = []  # (name, list index or None, bind processor, fixed value)
        numbers: dict[str, int] = {}
        lists: set[str] = set()

        def number(match: re.Match) -> str:
            if match.group(0) == "%%":
                return "%"
            found = match.group("name") or match.group("post")
            name = original.get(found, found)
            bind = compiled.binds[name]
            processor = bind.type.bind_processor(dialect)
            if match.group("post") and bind.expanding:
                lists.add(name)
                marks = []
                for i in range(len(bind.effective_value or ())):
                    slots.append((name, i, processor, bind.effective_value))
                    marks.append(f"${len(slots)}")
                return ", ".join(marks)
            if name not in numbers:  # one name, one number (SQL may repeat it: GROUP BY)
                slots.append((name, None, processor, _REQUIRED if bind.required else bind.effective_value))
                numbers[name] = len(slots)
            return f"${numbers[name]}"

        self.sql = _PLACEHOLDER.sub(number, compiled.string)
        self.slots = tuple(slots)
        self.lists = frozenset(lists)

    def values(self, params: dict) -> tuple:
        values = []
        for name, index, processor, fixed in self.slots:
            value = params.get(name, fixed)
            if value is _REQUIRED:
                raise InvalidRequestError(f"A value is required for bind parameter {name!r}")
            if index is not None:
                value = value[index]
            values.append(processor(value) if processor is not None else value)
        return tuple(values)


_NATIVE: dict[tuple[int, str], tuple[object, Native]] = {}  # (id, dialect) -> (the statement, its form)
_NATIVE_KEPT = 512
_native_lock = threading.Lock()


def native(statement: object, dialect) -> Native:
    """The statement's `Native` form, compiled once per statement object (pass statements built
    once: module-level or cached; the object is held, so its id is never reused meanwhile)."""
    key = (id(statement), dialect.name)
    found = _NATIVE.get(key)
    if found is not None and found[0] is statement:
        return found[1]
    form = Native(statement, dialect)
    with _native_lock:
        if len(_NATIVE) >= _NATIVE_KEPT:
            _NATIVE.pop(next(iter(_NATIVE)))
        _NATIVE[key] = (statement, form)
    return form


def fetch_many(session: OrmSession, statements: dict[str, object], params: dict | None = None) -> dict[str, list]:
    """Run independent SELECTs and return each one's rows (tuples), by name.

    On PostgreSQL they go in ONE round trip: psycopg's pipeline mode sends every statement,
    then reads every result, so a page's dozen small reads cost one round trip, not twelve.
    Each is a server-side prepared statement (compiled once here, `native`), so PostgreSQL
    plans each on its own: a generic, cached plan where its parameters do not matter (the
    newest ids, the rolled run, the titles), a plan for the values where they do (a range of
    times). Values come as psycopg reads them (no SQLAlchemy type processing: times aware,
    numbers `Decimal` or int). On SQLite (no round trips, in-process) each runs on its own.
    SQLAlchemy's `before/after_cursor_execute` events see each round trip once (the
    statements joined by ";"), so statement counts count round trips on PostgreSQL.

    `params` are the values of the statements' named bind parameters (one namespace: a name
    used by two statements has one value). A statement whose IN list is given in `params` runs
    through SQLAlchemy before the others (its own round trip)."""
    params = dict(params or {})
    names = list(statements)
    if not names:
        return {}
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return {name: [tuple(row) for row in connection.execute(statements[name], params).all()] for name in names}
    out: dict[str, list] = {}
    forms: dict[str, Native] = {}
    for name in names:
        form = native(statements[name], connection.dialect)
        if form.lists & params.keys():  # an IN list given at run time
            out[name] = [tuple(row) for row in connection.execute(statements[name], params).all()]
        else:
            forms[name] = form
    if forms:
        out.update(_pipelined(connection, forms, params))
    return {name: out[name] for name in names}


def _pipelined(connection, forms: dict[str, Native], params: dict) -> dict[str, list]:
    driver = connection.connection.driver_connection
    values = {name: form.values(params) for name, form in forms.items()}
    sql = ";\n".join(form.sql for form in forms.values())
    cursors = {name: psycopg.RawCursor(driver) for name in forms}
    first = next(iter(cursors.values()))
    parameters = list(values.values())
    # the engine's and the connection's listeners (statement counts, tracing) see the round trip
    for listener in connection.dispatch.before_cursor_execute:
        sql, parameters = listener(connection, first, sql, parameters, None, False)
    # outside a transaction (`read_scope`), the reads share one snapshot: a page's figures agree
    snapshot = driver.autocommit
    try:
        with driver.pipeline():
            if snapshot:
                driver.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            for name, form in forms.items():
                cursors[name].execute(form.sql, values[name], prepare=True)
            if snapshot:
                driver.execute("COMMIT")
        rows = {name: [tuple(row) for row in cursor.fetchall()] for name, cursor in cursors.items()}
    except psycopg.Error as exc:  # as SQLAlchemy's own errors (a lost connection is invalidated)
        if snapshot and not driver.closed and driver.info.transaction_status != TransactionStatus.IDLE:
            driver.execute("ROLLBACK")
        connection._handle_dbapi_exception(exc, sql, parameters, first, None)
        raise
    finally:
        for cursor in cursors.values():
            cursor.close()
    for listener in connection.dispatch.after_cursor_execute:
        listener(connection, first, sql, parameters, None, False)
    return rows


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
