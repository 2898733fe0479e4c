"""Benchmark (not a test): the 90-day dashboard against a full scan of a million orders.

    .venv/bin/python tests/bench/bench_dashboard.py [--orders 1000000] [--postgres] [--repeat 5] [--hour 18]

Builds a migrated, seeded database and bulk-loads `--orders` orders spread evenly over the year
before "now" (today at `--hour` UTC, so today is mostly gone by), each with one line, a
fulfilment task, a provider order, one provider call, its charge and two timeline events: a
tenth in USD, 2 % unpaid and 2 % refunded (both canceled), each line done 5 minutes to 1.1 x its
service's delivery estimate after it was paid (at most 72 h; the lines not done by now are open). SQLite loads with
executemany, PostgreSQL with COPY (then VACUUM ANALYZE, as autovacuum would). The
`dashboard_rollup` job then rolls the history up once (its time is printed), as if it last ran
half its interval ago (so the orders of the last half hour are read raw).

Then, in the same run, the median of `--repeat` runs of (after six warm-up loads of the
dashboard, one of the scan: PostgreSQL settles each prepared statement's plan over its first
five runs, as a server that has run a while has):
  dashboard  what the admin home and Analytics (90 days) read on load, each in its read scope:
             `admin_orders.home` (its live version, tiles, alerts, newest orders, today's and
             the period's sales) and `analytics.period_figures` (its live version, revenue,
             comparison, daily series, funnel, provider activity, margins, completion,
             payments, search insights): the rolled part of each figure is read in the
             warm-up and kept for the rest (as a page's first load after each roll-up run
             reads it; that first load is printed too);
  scan       orders by status and currency with their revenue (`SCAN`): a full scan of the
             orders table (no index covers it; its plan is printed).
For each backend one line with both times, and last `ratio: <dashboard ÷ scan>` (the highest of
the backends; goal: at most 0.1, so the dashboard reads roll-ups and indexes, not the raw table).

SQLite runs in a temporary directory; with `--postgres` PostgreSQL too, at DATABASE_URL or else
SMPLAT_TEST_POSTGRES_URL (its public schema is dropped and recreated).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SMPLAT_SECRET_KEY", "bench-secret-key-0123456789-abcdefghijkl")
os.environ.setdefault("SMPLAT_ENV", "test")

from sqlalchemy import select, text  # noqa: E402

from smplat import db as smplat_db  # noqa: E402

CHUNK = 20_000
PRICES = (299, 499, 999, 1499, 2499, 4999, 9900)
DAYS = 365
WARM_UP = 6  # dashboard loads before timing (see main)
LONGEST_HOURS = 72  # a line takes 5 minutes to 1.1 x its service's promise (at most this long)

# every NOT NULL column each table needs (the models' Python defaults do not apply to raw loads)
COLUMNS = {
    "orders": [
        "id",
        "number",
        "customer_email",
        "status",
        "payment_status",
        "currency",
        "subtotal_minor",
        "discount_minor",
        "total_minor",
        "charged_minor",
        "refunded_minor",
        "tracking_nonce",
        "placed_at",
        "created_at",
        "updated_at",
    ],
    "order_items": [
        "id",
        "order_id",
        "product_id",
        "product_title",
        "quantity",
        "unit_price_minor",
        "total_minor",
        "currency",
        "status",
        "snapshot",
        "service_quantity",
        "delivered_quantity",
        "created_at",
        "updated_at",
    ],
    "fulfillment_tasks": [
        "id",
        "order_item_id",
        "kind",
        "status",
        "attempts",
        "max_attempts",
        "next_attempt_at",
        "claimed_by",
        "last_error",
        "idempotency_key",
        "payload",
        "created_at",
        "updated_at",
    ],
    "provider_orders": [
        "id",
        "fulfillment_task_id",
        "order_item_id",
        "provider_id",
        "provider_service_id",
        "submission_key",
        "external_order_id",
        "link",
        "quantity",
        "charge",
        "status",
        "raw_status",
        "error",
        "last_response",
        "flag_reason",
        "completed_at",
        "created_at",
        "updated_at",
    ],
    "fulfillment_attempts": ["task_id", "provider_id", "task_kind", "outcome", "error", "created_at"],
    "order_events": ["order_id", "kind", "actor_type", "actor_label", "message", "data", "created_at"],
    "payments": [
        "order_id",
        "provider",
        "kind",
        "amount_minor",
        "currency",
        "status",
        "failure_reason",
        "created_at",
        "updated_at",
    ],
}


def prepare(url: str) -> dict[str, Any]:
    """A migrated, seeded database; the products and the provider the orders use."""
    from smplat.migrate import upgrade_to_head
    from smplat.models.catalog import Product
    from smplat.models.providers import ProviderService
    from smplat.services.seed import seed_demo

    if url.startswith("postgresql"):
        with smplat_db.get_engine(url).begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    upgrade_to_head(url)
    with smplat_db.session_scope(url) as session:
        seed_demo(session)
    with smplat_db.session_scope(url) as session:
        products = [
            tuple(r)
            for r in session.execute(
                select(Product.id, Product.title, Product.delivery_estimate_hours).order_by(Product.id)
            ).all()
        ]
        provider_id, service_id = session.execute(
            select(ProviderService.provider_id, ProviderService.id).order_by(ProviderService.id)
        ).first()
        first = {
            table: int(session.execute(text(f"SELECT coalesce(max(id), 0) + 1 FROM {table}")).scalar_one())
            for table in ("orders", "order_items", "fulfillment_tasks", "provider_orders")
        }
    return {"products": products, "provider_id": provider_id, "service_id": service_id, "first": first}


def generate(ctx: dict[str, Any], orders: int, now: datetime) -> Iterator[dict[str, list[tuple]]]:
    """Chunks of rows per table (tuples in COLUMNS order), the orders evenly over the year."""
    rng = random.Random(2026)
    start = now - timedelta(days=DAYS)
    step = timedelta(days=DAYS) / orders
    products, provider_id, service_id = ctx["products"], ctx["provider_id"], ctx["service_id"]
    first = ctx["first"]
    for chunk_start in range(0, orders, CHUNK):
        rows: dict[str, list[tuple]] = {table: [] for table in COLUMNS}
        for i in range(chunk_start, min(orders, chunk_start + CHUNK)):
            created = start + step * (i + 0.5)
            oid, iid, tid, pid = (
                first[t] + i for t in ("orders", "order_items", "fulfillment_tasks", "provider_orders")
            )
            currency = "USD" if rng.random() < 0.1 else "EUR"
            price = PRICES[i % len(PRICES)]
            unpaid = rng.random() < 0.02
            charged = 0 if unpaid else price
            refunded = charged if charged and rng.random() < 0.02 else 0
            payment = "unpaid" if unpaid else "refunded" if refunded else "paid"
            product_id, title, promise = products[i % len(products)]
            hours = min(promise or 24, LONGEST_HOURS) * 1.1
            done = created + timedelta(minutes=5 + rng.random() * hours * 60)
            if unpaid or refunded:  # orders are created when paid: an unpaid one was given up
                status, done = "canceled", None
            elif done <= now:
                status = "completed"
            else:  # still running: a few not yet sent to the provider
                status, done = ("pending" if rng.random() < 0.2 else "processing"), None
            rows["orders"].append(
                (oid, f"SMP-B{i:09d}", f"c{i % 5000}@example.test", status, payment, currency, price, 0, price)
                + (charged, refunded, "", created, created, done or created)
            )
            rows["order_items"].append(
                (iid, oid, product_id, title, 1, price, price, currency, status, "{}", 1000, 1000 if done else 0)
                + (created, done or created)
            )
            if unpaid:
                continue
            task_status = "completed" if done else "submitted"
            rows["fulfillment_tasks"].append(
                (tid, iid, "submit", task_status, 1, 5, created, "", "", f"bench:{i}", "{}", created, done or created)
            )
            po_status = "completed" if done else "canceled" if refunded else "in_progress"
            charge = None if i % 3 else f"{price / 250:.4f}"
            rows["provider_orders"].append(
                (pid, tid, iid, provider_id, service_id, f"bench:{i}", str(i), "https://instagram.com/p/x", 1000)
                + (charge, po_status, po_status, "", "{}", "", done, created, done or created)
            )
            rows["fulfillment_attempts"].append(
                (tid, provider_id, "submit", "succeeded" if rng.random() < 0.97 else "retried", "", created)
            )
            rows["order_events"].append((oid, "placed", "webhook", "", "", "{}", created))
            rows["order_events"].append((oid, "status_changed", "job", "job:status_sync", "", "{}", done or created))
            rows["payments"].append((oid, "stripe", "charge", charged, currency, "succeeded", "", created, created))
            if refunded:
                rows["payments"].append(
                    (
                        oid,
                        "stripe",
                        "refund",
                        refunded,
                        currency,
                        "succeeded",
                        "",
                        created,
                        created + timedelta(hours=2),
                    )
                )
        yield rows


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def load(url: str, ctx: dict[str, Any], orders: int, now: datetime) -> float:
    """Bulk-load the orders; returns the seconds it took."""
    started = time.perf_counter()
    engine = smplat_db.get_engine(url)
    raw = engine.raw_connection()
    try:
        if url.startswith("postgresql"):
            conn = raw.driver_connection
            with conn.cursor() as cur:
                for rows in generate(ctx, orders, now):
                    for table, values in rows.items():
                        with cur.copy(f"COPY {table} ({', '.join(COLUMNS[table])}) FROM STDIN") as copy:
                            for row in values:
                                copy.write_row(row)
                for table in ("orders", "order_items", "fulfillment_tasks", "provider_orders"):
                    cur.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                    )
            conn.commit()
        else:
            cur = raw.cursor()
            cur.execute("PRAGMA synchronous = OFF")
            for rows in generate(ctx, orders, now):
                for table, values in rows.items():
                    marks = ", ".join("?" for _ in COLUMNS[table])
                    cur.executemany(
                        f"INSERT INTO {table} ({', '.join(COLUMNS[table])}) VALUES ({marks})",
                        ([_sqlite_value(v) for v in row] for row in values),
                    )
                raw.commit()
    finally:
        raw.close()
    if url.startswith("postgresql"):
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    return time.perf_counter() - started


def dashboard(url: str, now: datetime) -> None:
    """Every statement the admin home's and Analytics' (90 days) loaders read (each page's change
    check, then its figures)."""
    from smplat.services import admin_orders, analytics

    with smplat_db.read_scope(url) as db:
        admin_orders.home(db, now)  # its live version included
    with smplat_db.read_scope(url) as db:
        analytics.period_figures(db, now, 90, "EUR")  # its live version and search insights included


# What the admin home read from the raw table before the roll-ups (`dashboard.overview`'s old
# query): every order's status and money. No index holds these columns together, so the
# database visits every row of the table (the plan is printed to show it: SQLite `SCAN orders`,
# PostgreSQL `Seq Scan on orders`); a sum over one column would be answered from a covering
# index instead and measure an index, not the table.
SCAN = (
    "SELECT count(*), sum(CASE WHEN status IN ('pending', 'processing', 'active') THEN 1 ELSE 0 END),"
    " sum(charged_minor - refunded_minor) FROM orders"
)


def scan_plan(url: str) -> str:
    explain = "EXPLAIN QUERY PLAN " if url.startswith("sqlite") else "EXPLAIN "
    with smplat_db.session_scope(url) as db:
        rows = db.execute(text(explain + SCAN)).all()
    return " | ".join(str(row[-1]) for row in rows)


def scan(url: str) -> None:
    with smplat_db.session_scope(url) as db:
        db.execute(text(SCAN)).all()


def timed(fn: Any, *args: Any, repeat: int, warm_up: int = 1) -> float:
    for _ in range(warm_up):  # caches, the connection pool
        fn(*args)
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn(*args)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument(
        "--postgres", action="store_true", help="also PostgreSQL (DATABASE_URL or SMPLAT_TEST_POSTGRES_URL)"
    )
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only (with --postgres)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--hour", type=int, default=18, help="the UTC hour of 'now' (how much of today is read live)")
    args = parser.parse_args()
    from smplat.models.base import utcnow
    from smplat.services import rollups
    from smplat.settings import get_settings

    interval = get_settings().jobs_dashboard_rollup_interval_seconds
    today = utcnow().date()
    now = datetime(today.year, today.month, today.day, args.hour, tzinfo=UTC)
    backends = [] if args.no_sqlite else [("sqlite", f"sqlite:///{tempfile.mkdtemp(prefix='smplat-bench-')}/bench.db")]
    if args.postgres:
        pg = (os.environ.get("DATABASE_URL") or os.environ.get("SMPLAT_TEST_POSTGRES_URL") or "").strip()
        if not pg.startswith("postgresql"):
            parser.error("--postgres needs DATABASE_URL or SMPLAT_TEST_POSTGRES_URL (postgresql+psycopg://...)")
        backends.append(("postgresql", pg))
    ratios = []
    for name, url in backends:
        ctx = prepare(url)
        loaded = load(url, ctx, args.orders, now)
        started = time.perf_counter()
        with smplat_db.session_scope(url) as session:  # the job ran half an interval ago
            counts = rollups.rollup(session, now - timedelta(seconds=interval / 2))
        rolled = time.perf_counter() - started
        if name == "postgresql":  # autovacuum analyzes freshly filled tables within a minute
            with smplat_db.get_engine(url).connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE"))
                conn.execute(text("CHECKPOINT"))  # the load's writes flushed now, not while timing
        dashboard(url, now)  # the connection pool, statements built and prepared
        rollups.forget_rolled()  # as after each roll-up run: the rolled parts read again
        started = time.perf_counter()
        dashboard(url, now)
        first = time.perf_counter() - started
        # a server that has run a while: PostgreSQL settles each prepared statement's plan (a
        # generic one where the values do not matter) over its first five runs
        board = timed(dashboard, url, now, repeat=args.repeat, warm_up=WARM_UP)
        full = timed(scan, url, repeat=args.repeat)
        print(f"{name}: scan plan: {scan_plan(url)}", flush=True)
        ratio = board / full
        ratios.append(ratio)
        print(
            f"{name}: {args.orders} orders loaded in {loaded:.1f} s; roll-up of {counts['days']} days "
            f"({counts['rows']} rows) in {rolled:.1f} s; dashboard (home + analytics 90 days) {board * 1000:.1f} ms "
            f"(the first load after a roll-up run {first * 1000:.1f} ms, ratio {first / full:.3f}); "
            f"full scan of orders {full * 1000:.1f} ms; ratio {ratio:.3f}",
            flush=True,
        )
        smplat_db.dispose_engines()
        if name == "sqlite":
            shutil.rmtree(Path(url.removeprefix("sqlite:///")).parent, ignore_errors=True)  # ~2 GB at 1M
    print(f"ratio: {max(ratios):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
