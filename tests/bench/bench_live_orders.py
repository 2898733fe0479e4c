"""Benchmark (not a test): 200 open order pages ticking against a database of 100k orders.

    .venv/bin/python tests/bench/bench_live_orders.py [--orders 100000] [--pages 200] [--seconds 20]

Each open page's tick is what `ClientOrderState.live_tick` runs: one statement,
`client_orders.live_version(order id)`. Runs on SQLite, and on PostgreSQL when
SMPLAT_TEST_POSTGRES_URL is set (that database is dropped and recreated). For each backend:
the p95 tick time of a single open page (alone, through the same scheduler and threads), then `--pages` pages
ticking every SMPLAT_LIVE_POLL_SECONDS (2 s) at once, served by as many threads as the
engine pools connections (the way a web worker runs handlers; waiting for one counts in
the tick's time): the statements per second the database served (counted), the p95 tick
time, and the ratio of that p95 to the single page's (goal: at most 3). The last line is `ratio: <highest of the backends>`.
"""

from __future__ import annotations

import argparse
import heapq
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SMPLAT_SECRET_KEY", "bench-secret-key-0123456789-abcdefghijkl")
os.environ.setdefault("SMPLAT_ENV", "test")

from sqlalchemy import event, insert, select, text  # noqa: E402

from smplat import db as smplat_db  # noqa: E402
from smplat.settings import get_settings  # noqa: E402

USERS = 2000
BATCH = 5000


def prepare_db(url: str, orders: int) -> list[int]:
    """Migrated, seeded, with `orders` orders (one line, one provider order, two events each)."""
    from smplat.migrate import upgrade_to_head
    from smplat.models.accounts import User
    from smplat.models.base import utcnow
    from smplat.models.catalog import Product
    from smplat.models.fulfillment import FulfillmentTask
    from smplat.models.orders import Order, OrderEvent, OrderItem
    from smplat.models.providers import ProviderOrder, ProviderService
    from smplat.services.seed import seed_demo

    if url.startswith("postgresql"):
        with smplat_db.get_engine(url).begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    upgrade_to_head(url)
    with smplat_db.session_scope(url) as session:
        seed_demo(session)
    now = utcnow()
    with smplat_db.session_scope(url) as session:
        product = session.execute(select(Product).where(Product.slug == "instagram-likes")).scalars().one()
        service_id = session.execute(select(ProviderService.id)).scalars().first()
        first_user = session.execute(select(User.id).order_by(User.id.desc())).scalars().first() + 1
        session.execute(
            insert(User),
            [{"email": f"bench-{u}@example.test", "password_hash": "x", "role": "customer"} for u in range(USERS)],
        )
        first_order = (session.execute(select(Order.id).order_by(Order.id.desc())).scalars().first() or 0) + 1
    for start in range(0, orders, BATCH):
        ids = range(first_order + start, first_order + min(orders, start + BATCH))
        with smplat_db.session_scope(url) as session:
            session.execute(
                insert(Order),
                [
                    {
                        "id": i,
                        "number": f"SMP-L{i:07d}",
                        "user_id": first_user + i % USERS,
                        "customer_email": f"bench-{i % USERS}@example.test",
                        "status": "processing",
                        "payment_status": "paid",
                        "currency": "EUR",
                        "total_minor": 500,
                        "charged_minor": 500,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in ids
                ],
            )
            session.execute(
                insert(OrderItem),
                [
                    {
                        "id": i,
                        "order_id": i,
                        "product_id": product.id,
                        "product_title": product.title,
                        "status": "processing",
                        "snapshot": {},
                        "service_quantity": 1000,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in ids
                ],
            )
            session.execute(
                insert(FulfillmentTask),
                [
                    {
                        "id": i,
                        "order_item_id": i,
                        "kind": "submit",
                        "status": "submitted",
                        "max_attempts": 5,
                        "idempotency_key": f"bench:{i}",
                        "payload": {},
                        "next_attempt_at": now,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in ids
                ],
            )
            session.execute(
                insert(ProviderOrder),
                [
                    {
                        "fulfillment_task_id": i,
                        "order_item_id": i,
                        "provider_id": 1,
                        "provider_service_id": service_id,
                        "submission_key": f"bench:{i}",
                        "external_order_id": str(i),
                        "quantity": 1000,
                        "status": "in_progress",
                        "remains": 1000 - i % 1000,
                        "last_response": {},
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in ids
                ],
            )
            session.execute(
                insert(OrderEvent),
                [
                    {"order_id": i, "kind": kind, "message": "", "data": {}, "created_at": now}
                    for i in ids
                    for kind in ("placed", "provider_order")
                ],
            )
    if url.startswith("postgresql"):
        with smplat_db.get_engine(url).begin() as conn:
            conn.execute(text("ANALYZE"))
    return list(range(first_order, first_order + orders))


def tick(url: str, order_id: int) -> float:
    from smplat.services.client_orders import live_version

    started = time.perf_counter()
    with smplat_db.session_scope(url) as session:
        live_version(session, [order_id])
    return time.perf_counter() - started


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[18] if len(samples) >= 20 else max(samples)


def single_page(url: str, order_ids: list[int], ticks: int = 100) -> float:
    order_id = random.choice(order_ids)
    for _ in range(20):
        tick(url, order_id)  # warm the pool and the caches
    return p95([tick(url, order_id) for _ in range(ticks)])


def many_pages(url: str, order_ids: list[int], pages: int, seconds: float, interval: float) -> tuple[float, float]:
    """`pages` pages, each due to tick every `interval` (first ticks spread over one
    interval), served by as many worker threads as the engine has pooled connections, the way
    a web worker runs its handlers. A tick's time runs from when it was due to when its
    statement returned (waiting for a worker counts)."""
    engine = smplat_db.get_engine(url)
    workers = engine.pool.size() if hasattr(engine.pool, "size") else 1
    statements = 0
    lock = threading.Lock()
    samples: list[float] = []

    def count(*_args) -> None:
        nonlocal statements
        with lock:
            statements += 1

    def run(order_id: int, due: float) -> None:
        from smplat.services.client_orders import live_version

        with smplat_db.session_scope(url) as session:
            live_version(session, [order_id])
        took = time.perf_counter() - due
        with lock:
            samples.append(took)

    chosen = random.sample(order_ids, pages)
    started = time.perf_counter()
    due = [(started + random.random() * interval, oid) for oid in chosen]
    heapq.heapify(due)
    event.listen(engine, "before_cursor_execute", count)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        while due and due[0][0] < started + seconds:
            at, oid = heapq.heappop(due)
            time.sleep(max(0.0, at - time.perf_counter()))
            pool.submit(run, oid, at)
            heapq.heappush(due, (at + interval, oid))
    elapsed = time.perf_counter() - started
    event.remove(engine, "before_cursor_execute", count)
    return statements / elapsed, p95(samples)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    interval = get_settings().live_poll_seconds
    backends = [("sqlite", f"sqlite:///{tempfile.mkdtemp(prefix='smplat-bench-')}/bench.db")]
    pg = os.environ.get("SMPLAT_TEST_POSTGRES_URL", "").strip()
    if pg:
        backends.append(("postgresql", pg))
    ratios = []
    for name, url in backends:
        order_ids = prepare_db(url, args.orders)
        # the baseline goes through the same scheduler and worker threads (every 50 ms, for samples)
        single_page(url, order_ids)  # warms the caches
        _, alone = many_pages(url, order_ids, 1, min(args.seconds, 10.0), 0.05)
        qps, loaded = many_pages(url, order_ids, args.pages, args.seconds, interval)
        ratio = loaded / alone
        ratios.append(ratio)
        print(
            f"{name}: {args.orders} orders, {args.pages} open pages ticking every {interval:g} s: "
            f"{qps:.0f} queries/s; p95 tick {loaded * 1000:.2f} ms; single page p95 {alone * 1000:.2f} ms; "
            f"ratio {ratio:.2f}"
        )
        smplat_db.dispose_engines()
    print(f"ratio: {max(ratios):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
