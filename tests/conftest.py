"""Shared fixtures: settings isolated per test, migrated databases (SQLite always,
PostgreSQL when SMPLAT_TEST_POSTGRES_URL is given), and row generators.

Databases are migrated once per test session with `alembic upgrade head`; each test
then gets a copy of the SQLite file, or a truncated PostgreSQL schema.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session, SQLModel

os.environ.setdefault("SMPLAT_ENV", "test")
os.environ.setdefault("SMPLAT_SECRET_KEY", "test-secret-key-not-for-production-0123456789")
# One cheap Argon2id pass per password: the suite creates thousands of accounts (production refuses it).
os.environ.setdefault("SMPLAT_PASSWORD_HASH_COST", "test")
# No SMTP server listens in most tests: an email tried after commit fails at once instead of
# pausing to retry (the notification stays queued; tests with a sink see it delivered).
os.environ.setdefault("SMPLAT_SMTP_CONNECT_RETRIES", "0")

from smplat import db as smplat_db
from smplat.settings import reset_settings_cache

PG_URL = os.environ.get("SMPLAT_TEST_POSTGRES_URL", "").strip()
OUTPUT_DIR = Path(os.environ.get("SMPLAT_TEST_OUTPUT", Path(__file__).resolve().parent.parent / "test-output"))


def pytest_report_header(config: pytest.Config) -> list[str]:
    if PG_URL:
        return [f"databases: SQLite and PostgreSQL ({smplat_db.describe_url(PG_URL)})"]
    return ["databases: SQLite only (set SMPLAT_TEST_POSTGRES_URL to run the PostgreSQL cases too)"]


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    for line in pytest_report_header(config):
        terminalreporter.write_line(line)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Fast tiers first, browser tests last: sync Playwright keeps an event loop running in
    the main thread until the session ends, which async tests after it cannot share."""
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)
    tier = {"unit": 0, "integration": 1, "browser": 2}
    # Browser tests that place orders in the shared live shop run after those that expect none.
    items.sort(
        key=lambda item: (
            next((tier[m.name] for m in item.iter_markers() if m.name in tier), 1),
            1 if item.get_closest_marker("places_orders") else 0,
        )
    )


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> Iterator[None]:
    """Rate-limit counters are per process (memory storage): each test starts with none."""
    from smplat.services import rate_limits

    rate_limits.reset()
    yield
    rate_limits.reset()


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    return OUTPUT_DIR


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from smplat.migrate import upgrade_to_head

    path = tmp_path_factory.mktemp("db-template") / "template.db"
    upgrade_to_head(f"sqlite:///{path}")
    smplat_db.dispose_engines()
    return path


@pytest.fixture(scope="session")
def _pg_migrated() -> str:
    from smplat.migrate import upgrade_to_head

    engine = smplat_db.get_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    upgrade_to_head(PG_URL)
    return PG_URL


def _truncate_pg(url: str) -> None:
    """Empty every table and restart the sequences the last test used.

    DELETE children-first is ~40x faster than one TRUNCATE of every table (TRUNCATE swaps
    each table's files, measured 0.3-1.5 s a test; a test leaves only a few rows behind), and
    only the sequences that moved are restarted. Anything unexpected (a foreign-key cycle)
    falls back to TRUNCATE ... CASCADE.
    """
    import smplat.models  # noqa: F401

    tables = SQLModel.metadata.sorted_tables
    engine = smplat_db.get_engine(url)
    try:
        with engine.begin() as conn:
            for table in reversed(tables):
                conn.execute(text(f'DELETE FROM "{table.name}"'))
            used = conn.execute(
                text(
                    "SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename) "
                    "FROM pg_sequences WHERE schemaname = current_schema() AND last_value IS NOT NULL"
                )
            ).scalars()
            for sequence in list(used):
                conn.execute(text(f"ALTER SEQUENCE {sequence} RESTART"))
    except Exception:  # the slow way always works
        names = ", ".join(f'"{t.name}"' for t in tables)
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A migrated, empty database; the test runs once per backend."""
    if request.param == "sqlite":
        path = tmp_path / "smplat.db"
        shutil.copy(request.getfixturevalue("_sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        if not PG_URL:
            pytest.skip("PostgreSQL case: set SMPLAT_TEST_POSTGRES_URL")
        url = request.getfixturevalue("_pg_migrated")
        _truncate_pg(url)
    monkeypatch.setenv("DATABASE_URL", url)
    reset_settings_cache()
    yield url
    if request.param == "sqlite":
        engine = smplat_db._engines.pop(url, None)
        if engine is not None:
            engine.dispose()
    reset_settings_cache()


@pytest.fixture
def sqlite_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _sqlite_template: Path) -> Iterator[str]:
    """A migrated, empty SQLite database only (for tests that need no PostgreSQL case)."""
    path = tmp_path / "smplat.db"
    shutil.copy(_sqlite_template, path)
    url = f"sqlite:///{path}"
    monkeypatch.setenv("DATABASE_URL", url)
    reset_settings_cache()
    yield url
    engine = smplat_db._engines.pop(url, None)
    if engine is not None:
        engine.dispose()
    reset_settings_cache()


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    with Session(smplat_db.get_engine(db_url), expire_on_commit=False) as s:
        yield s


# --- counting SQL statements ---------------------------------------------------------------


class QueryCount:
    """The statements sent to the database inside one `with count_queries(...)` block."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)

    def __repr__(self) -> str:  # shown by pytest when a count assertion fails
        listing = "\n".join(f"  {n}. {s.strip()[:200]}" for n, s in enumerate(self.statements, 1))
        return f"QueryCount({self.count}):\n{listing}"


@pytest.fixture
def count_queries():
    """`with count_queries(url) as q: ...; assert q.count == N`: every statement the engine of
    `url` (or the given Engine / Session's bind) sends, counted with `before_cursor_execute`."""
    from contextlib import contextmanager

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @contextmanager
    def counting(target: str | Engine | Session | None = None) -> Iterator[QueryCount]:
        if isinstance(target, Session):
            engine = target.get_bind()
        elif isinstance(target, Engine):
            engine = target
        else:
            engine = smplat_db.get_engine(target)
        counted = QueryCount()

        def listener(conn, cursor, statement, parameters, context, executemany):
            counted.statements.append(statement)

        event.listen(engine, "before_cursor_execute", listener)
        try:
            yield counted
        finally:
            event.remove(engine, "before_cursor_execute", listener)

    return counting


# --- the SMM panel sandbox -----------------------------------------------------------------


@pytest.fixture(scope="session")
def panel_server():
    """One panel sandbox over real HTTP for the whole run; `panel` resets it per test."""
    from smplat.sandbox.panel import PanelSandbox

    with PanelSandbox(port=0) as sandbox:
        yield sandbox


@pytest.fixture
def panel(panel_server, monkeypatch: pytest.MonkeyPatch):
    """The panel sandbox with its knobs, orders and call log reset, and the engine's timings
    shortened: no back-off, a 1 s reconcile delay, and a generous drain limit (a drain stops
    as soon as the queue is empty, and a loaded machine must not cut it short)."""
    panel_server.state.reset()
    monkeypatch.setenv("SMPLAT_FULFILLMENT_BACKOFF_BASE_SECONDS", "0")
    monkeypatch.setenv("SMPLAT_FULFILLMENT_RECONCILE_DELAY_SECONDS", "1")
    monkeypatch.setenv("SMPLAT_FULFILLMENT_TICK_MAX_SECONDS", "60")
    reset_settings_cache()
    yield panel_server
    reset_settings_cache()


# --- the Instagram sandbox (Graph API business discovery) ---------------------------------


@pytest.fixture(scope="session")
def instagram_server(panel_server):
    """One Instagram sandbox over real HTTP whose numbers follow the panel sandbox's deliveries."""
    from smplat.sandbox.instagram import InstagramSandbox

    orders_url = panel_server.base_url.replace("/api/v2", "/sandbox/orders")
    with InstagramSandbox(port=0, panel_orders_url=orders_url) as sandbox:
        yield sandbox


@pytest.fixture
def instagram(instagram_server, panel, monkeypatch: pytest.MonkeyPatch):
    """The Instagram sandbox reset (and the panel with it), and the settings pointing at it."""
    instagram_server.state.reset()
    monkeypatch.setenv("SMPLAT_INSTAGRAM_GRAPH_BASE_URL", instagram_server.base_url)
    reset_settings_cache()
    yield instagram_server
    reset_settings_cache()
