"""`db.fetch_many`: a page's independent selects in one round trip on PostgreSQL (psycopg's
pipeline of prepared statements, each compiled once), one statement each on SQLite; the values
as exact as a plain read, the selects' ORDER BY and LIMIT kept, errors raised as SQLAlchemy's,
and `db.read_scope` for page loads."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from smplat import db as smplat_db
from smplat.models.base import UTCDateTime
from smplat.models.rollups import DailyRollup, DailyServiceStats
from smplat.services import rollups

DAY = sa.bindparam("day", type_=sa.Date())
SINCE = sa.bindparam("since", type_=UTCDateTime())
COSTS = (
    select(DailyServiceStats.product_id, DailyServiceStats.cost, DailyServiceStats.completion_seconds)
    .where(DailyServiceStats.day == DAY)
    .order_by(DailyServiceStats.cost.desc())
    .limit(2)
)
TOTAL = select(func.count(), func.sum(DailyServiceStats.cost)).where(DailyServiceStats.day == DAY)
MARKERS = select(DailyRollup.day, DailyRollup.through).where(DailyRollup.through >= SINCE).order_by(DailyRollup.day)
EMPTY = select(DailyRollup.day).where(DailyRollup.day < DAY)


@pytest.fixture
def rows(session):
    day = date(2026, 3, 1)
    costs = ["0.1234567891", "12.5000000001", "3.3000000000"]
    for product_id, cost in enumerate(costs, start=1):
        session.add(
            DailyServiceStats(
                day=day,
                currency="EUR",
                product_id=product_id,
                cost=Decimal(cost),
                completion_seconds=Decimal("1.5"),
            )
        )
    for d in (1, 2):
        session.add(DailyRollup(day=date(2026, 3, d), through=datetime(2026, 3, d + 1, tzinfo=UTC)))
    session.commit()
    return day


def test_several_selects_come_back_by_name_exact_and_in_their_order(session, rows, count_queries):
    statements = {"costs": COSTS, "total": TOTAL, "markers": MARKERS, "empty": EMPTY}
    params = {"day": rows, "since": datetime(2026, 3, 2, 12, tzinfo=UTC)}
    with count_queries(session) as q:
        got = smplat_db.fetch_many(session, statements, params)
    postgres = session.get_bind().dialect.name == "postgresql"
    assert q.count == (1 if postgres else 4)  # one round trip on PostgreSQL
    # ORDER BY and LIMIT kept; decimals exact (not floats)
    assert [(int(p), Decimal(c)) for p, c, _s in got["costs"]] == [
        (2, Decimal("12.5000000001")),
        (3, Decimal("3.3000000000")),
    ]
    assert all(not isinstance(c, float) for _p, c, _s in got["costs"])
    ((n, total),) = got["total"]
    assert (int(n), Decimal(total)) == (3, Decimal("15.9234567892"))
    # dates and times as each driver gives them, read the same by the rollups helpers
    assert [(rollups.as_day(d), rollups.utc(t)) for d, t in got["markers"]] == [
        (date(2026, 3, 2), datetime(2026, 3, 3, tzinfo=UTC))
    ]
    assert got["empty"] == []


def test_each_statement_is_compiled_once(session, rows):
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite runs each select through SQLAlchemy")
    dialect = session.get_bind().dialect
    smplat_db.fetch_many(session, {"costs": COSTS, "total": TOTAL}, {"day": rows})
    assert smplat_db.native(COSTS, dialect) is smplat_db.native(COSTS, dialect)
    # another statement object is compiled on its own, never mistaken for a stale one
    other = select(DailyServiceStats.product_id).where(DailyServiceStats.day == DAY)
    assert smplat_db.native(other, dialect) is not smplat_db.native(COSTS, dialect)
    assert smplat_db.fetch_many(session, {"costs": other, "total": TOTAL}, {"day": rows})["costs"] != []


def test_a_read_scope_reads_without_a_transaction(db_url, rows, count_queries):
    with smplat_db.read_scope(db_url) as db:
        with count_queries(db) as q:
            assert smplat_db.fetch_many(db, {"total": TOTAL}, {"day": rows})["total"][0][0] == 3
        assert q.count == 1
        if db.get_bind().dialect.name == "postgresql":
            assert db.connection().connection.dbapi_connection.autocommit


def test_fixed_in_lists_repeated_names_percent_signs_and_run_time_lists(session, rows, count_queries):
    """The folded SQL is compiled once into numbered placeholders: IN lists of fixed values
    expanded, a name used twice bound once (PostgreSQL must see the same expression in SELECT
    and GROUP BY), a literal % kept; an IN list given at run time still works (through
    SQLAlchemy), and a missing value is refused as SQLAlchemy refuses it."""
    day = rollups.day_of(session, DailyRollup.through)
    statements = {
        "fixed": select(func.count()).where(DailyServiceStats.product_id.in_((1, 3)), DailyServiceStats.day == DAY),
        "grouped": select(day, func.count()).where(DailyRollup.through >= SINCE).group_by(day).order_by(day),
        "percent": select(func.count()).where(DailyServiceStats.currency.like("E%"), DailyServiceStats.day == DAY),
    }
    params = {"day": rows, "since": datetime(2026, 3, 1, tzinfo=UTC)}
    with count_queries(session) as q:
        got = smplat_db.fetch_many(session, statements, params)
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        assert q.count == 1 and "$1" in q.statements[0] and "POSTCOMPILE" not in q.statements[0]
    assert int(got["fixed"][0][0]) == 2
    assert [(rollups.as_day(d), int(n)) for d, n in got["grouped"]] == [(date(2026, 3, 2), 1), (date(2026, 3, 3), 1)]
    assert int(got["percent"][0][0]) == 3

    listed = {
        "listed": select(func.count()).where(DailyServiceStats.product_id.in_(sa.bindparam("ids", expanding=True)))
    }
    assert int(smplat_db.fetch_many(session, listed, {"ids": [2, 3]})["listed"][0][0]) == 2
    assert int(smplat_db.fetch_many(session, listed, {"ids": [1, 2, 3]})["listed"][0][0]) == 3

    with pytest.raises(sa.exc.StatementError if not postgres else sa.exc.InvalidRequestError, match="day"):
        smplat_db.fetch_many(session, {"total": TOTAL}, {})


def test_a_failing_statement_raises_as_sqlalchemy_does_and_the_connection_goes_on(db_url, rows):
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite's sqrt(-1) is NULL, not an error")
    bad = select(func.sqrt(sa.bindparam("minus", type_=sa.Float())))
    for failing in ({"total": TOTAL, "bad": bad}, {"bad": bad, "total": TOTAL}):  # after it: never prepared
        for scope in (smplat_db.read_scope, smplat_db.session_scope):
            with pytest.raises(sa.exc.DataError, match="square root"), scope(db_url) as db:
                smplat_db.fetch_many(db, failing, {"day": rows, "minus": -1.0})
            with smplat_db.read_scope(db_url) as db:  # the pooled connection is usable again
                for _run in range(2):
                    assert smplat_db.fetch_many(db, {"total": TOTAL}, {"day": rows})["total"][0][0] == 3


def test_a_read_scope_s_reads_share_one_snapshot(db_url):
    """Outside a transaction the pipeline runs in one REPEATABLE READ, READ ONLY transaction:
    the page's figures are of one moment (the same transaction start in every statement)."""
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite reads in-process, one statement at a time")
    statements = {
        "started": select(func.now()),
        "again": select(func.now().label("again")),
        "isolation": select(func.current_setting("transaction_isolation")),
        "read_only": select(func.current_setting("transaction_read_only")),
    }
    with smplat_db.read_scope(db_url) as db:
        got = smplat_db.fetch_many(db, statements)
    assert got["started"] == got["again"]
    assert (got["isolation"], got["read_only"]) == ([("repeatable read",)], [("on",)])
