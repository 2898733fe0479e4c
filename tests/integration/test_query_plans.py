"""The admin home's and Analytics' statements read the big tables through indexes that find the
few rows they need, on SQLite as a user's first run has it: no statistics (`ANALYZE` never
ran), so the planner goes by the statements' shape alone. Row counts do not change these plans,
so a small history shows what a million orders would get (the benchmark measured the
difference: an awaiting-placement count through the orders' payment-status index read every
paid order, 110 ms at a million orders, against 0.6 ms through the pending lines)."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import event
from sqlmodel import Session

from smplat import db as smplat_db
from smplat.models.base import utcnow
from smplat.services import admin_orders, analytics, rollups
from smplat.services.seed import seed_demo
from tests.fulfillment_factory import paid_order, product

# tables that grow with the business (a row or more per order); the rest are catalog-sized
BIG = {
    "orders",
    "order_items",
    "order_events",
    "payments",
    "payment_events",
    "provider_orders",
    "provider_calls",
    "fulfillment_tasks",
    "fulfillment_attempts",
    "webhook_events",
    "carts",
    "checkout_sessions",
    "search_records",
    "refills",
}
# a search that finds few rows: by primary key, by a parent's key, by a time range (a partial
# day), or by a status that only work in progress has (lines, tasks, refills); a SEARCH with no
# condition is SQLite's min()/max() lookup at one end of an index
FEW = re.compile(
    r"\(rowid=\?\)|\(\w+_id=\?\)|(created_at|received_at|updated_at)[<>]\?|^SEARCH [^(]+$"
    r"|^SEARCH (order_items|fulfillment_tasks|refills) USING (COVERING )?INDEX \w+ \(status=\?"
)
# the newest orders: the creation-time index read backwards, stopped by the LIMIT
NEWEST = "SCAN orders USING INDEX ix_orders_created_id"


def _plans(url: str, run) -> list[tuple[str, str]]:
    """(plan line, statement) of every statement `run` sends."""
    engine = smplat_db.get_engine(url)
    sent: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    raw = engine.raw_connection()
    try:
        return [
            (row[-1], statement)
            for statement, parameters in sent
            for row in raw.cursor().execute("EXPLAIN QUERY PLAN " + statement, parameters).fetchall()
        ]
    finally:
        raw.close()


def test_dashboard_reads_the_big_tables_by_selective_indexes_only(sqlite_url):
    # given the demo shop with paid orders, one line pending, and the history rolled up an hour ago
    now = utcnow()
    with Session(smplat_db.get_engine(sqlite_url), expire_on_commit=False) as session:
        seed_demo(session)
        likes = product(session, "instagram-likes")
        for n in range(3):
            paid_order(session, [(likes, f"https://instagram.com/p/plan{n}", 250, 290)])
        rollups.rollup(session, now - timedelta(hours=1))
        session.commit()
    rollups.forget_rolled()  # the rolled parts are read too, as on the first load after a run

    def pages() -> None:
        with smplat_db.read_scope(sqlite_url) as db:
            home = admin_orders.home(db, now)
        with smplat_db.read_scope(sqlite_url) as db:
            figures = analytics.period_figures(db, now, 90, "EUR")
        assert home["tiles"]["awaiting"] == "3" and figures  # the statements read what they should

    # when the admin home and Analytics load / then no big table is read more than it must be
    plans = _plans(sqlite_url, pages)
    assert plans
    wide = [
        f"{line}\n    in: {' '.join(statement.split())[:300]}"
        for line, statement in plans
        if (words := line.split()) and words[0] in ("SCAN", "SEARCH") and len(words) > 1 and words[1] in BIG
        if line != NEWEST and not FEW.search(line)
    ]
    assert not wide, "statements reading many rows of a big table:\n" + "\n".join(wide)
