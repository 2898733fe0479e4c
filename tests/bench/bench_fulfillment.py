"""Benchmark (not a test): drain 5,000 submit tasks against the panel sandbox at 50 ms latency.

    .venv/bin/python tests/bench/bench_fulfillment.py [--tasks 5000] [--latency-ms 50]

Runs on SQLite, and on PostgreSQL when SMPLAT_TEST_POSTGRES_URL is set (that database is
dropped and recreated). The sandbox runs in its own process (`python -m smplat.sandbox
panel`). For each backend it prints tasks per second and its ratio to the bound measured in
the same run: the same concurrency of bare `add` calls against the same sandbox, no
database (the theoretical concurrency / latency is printed beside it). The last line is
`ratio: <lowest of the backends>`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SMPLAT_SECRET_KEY", "bench-secret-key-0123456789-abcdefghijkl")
os.environ.setdefault("SMPLAT_ENV", "test")

import httpx  # noqa: E402
from sqlalchemy import insert, select, text  # noqa: E402

from smplat import db as smplat_db  # noqa: E402
from smplat.settings import get_settings, reset_settings_cache  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_panel(latency_ms: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = dict(
        os.environ,
        SMPLAT_SANDBOX_PANEL_PORT=str(port),
        SMPLAT_SANDBOX_PANEL_LATENCY_MS=str(latency_ms),
        SMPLAT_SANDBOX_PANEL_PARTIAL_RATE="0",
        SMPLAT_LOG_LEVEL="WARNING",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "smplat.sandbox", "panel"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.get(f"{base}/sandbox/knobs", timeout=1)
            return proc, f"{base}/api/v2"
        except httpx.HTTPError:
            time.sleep(0.05)
    raise SystemExit("panel sandbox did not start")


def measure_bound(base_url: str, concurrency: int, calls: int) -> float:
    from smplat.integrations.panel import PanelClient

    async def run() -> float:
        sem = asyncio.Semaphore(concurrency)
        async with PanelClient(
            base_url, "sandbox-demo-key", rate_limit_per_second=100000, max_connections=concurrency
        ) as client:

            async def one(i: int) -> None:
                async with sem:
                    await client.add("103", f"https://bound.test/{i}-{time.time_ns()}", 100)

            started = time.perf_counter()
            await asyncio.gather(*(one(i) for i in range(calls)))
            return calls / (time.perf_counter() - started)

    return asyncio.run(run())


def prepare_db(url: str, base_url: str, tasks: int) -> None:
    from smplat.migrate import upgrade_to_head
    from smplat.models.fulfillment import FulfillmentTask
    from smplat.models.orders import Order, OrderItem
    from smplat.models.providers import Provider
    from smplat.services.delivery import DeliverySpec
    from smplat.services.seed import seed_demo

    if url.startswith("postgresql"):
        with smplat_db.get_engine(url).begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    upgrade_to_head(url)
    with smplat_db.session_scope(url) as session:
        seed_demo(session)
        session.execute(
            Provider.__table__.update().values(base_url=base_url, rate_limit_per_second=100000, health_status="healthy")
        )
    with smplat_db.session_scope(url) as session:
        from smplat.models.catalog import Product

        likes = session.execute(select(Product).where(Product.slug == "instagram-likes")).scalars().one()
        now = __import__("smplat.models.base", fromlist=["utcnow"]).utcnow()
        orders = [
            {
                "number": f"SMP-B{i:07d}",
                "status": "pending",
                "payment_status": "paid",
                "currency": "EUR",
                "subtotal_minor": 990,
                "discount_minor": 0,
                "total_minor": 990,
                "charged_minor": 990,
                "refunded_minor": 0,
                "customer_email": "bench@example.com",
                "created_at": now,
                "updated_at": now,
            }
            for i in range(tasks)
        ]
        session.execute(insert(Order.__table__), orders)
        order_ids = session.execute(select(Order.id).order_by(Order.id)).scalars().all()
        items = [
            {
                "order_id": oid,
                "product_id": likes.id,
                "product_title": likes.title,
                "quantity": 1,
                "unit_price_minor": 990,
                "total_minor": 990,
                "currency": "EUR",
                "status": "pending",
                "service_quantity": 1000,
                "delivered_quantity": 0,
                "created_at": now,
                "updated_at": now,
                "snapshot": {
                    "delivery": DeliverySpec(
                        link=f"https://instagram.com/p/bench{n}", quantity=1000, channel="instagram"
                    ).to_snapshot()
                },
            }
            for n, oid in enumerate(order_ids)
        ]
        session.execute(insert(OrderItem.__table__), items)
        item_ids = session.execute(select(OrderItem.id).order_by(OrderItem.id)).scalars().all()
        session.execute(
            insert(FulfillmentTask.__table__),
            [
                {
                    "order_item_id": iid,
                    "kind": "submit",
                    "status": "pending",
                    "attempts": 0,
                    "max_attempts": 5,
                    "next_attempt_at": now,
                    "claimed_by": "",
                    "last_error": "",
                    "idempotency_key": f"submit:item:{iid}",
                    "payload": {},
                    "created_at": now,
                    "updated_at": now,
                }
                for iid in item_ids
            ],
        )


def drain(url: str, tasks: int) -> tuple[float, dict]:
    from smplat.services.fulfillment.engine import run_fulfillment

    os.environ["DATABASE_URL"] = url
    reset_settings_cache()
    settings = get_settings()
    started = time.perf_counter()
    counts = run_fulfillment(lambda: smplat_db.session_scope(url), settings=settings, max_seconds=600)
    elapsed = time.perf_counter() - started
    if counts.get("submitted") != tasks:
        raise SystemExit(f"drain incomplete: {counts}")
    return tasks / elapsed, counts


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--latency-ms", type=int, default=50)
    args = parser.parse_args()
    concurrency = get_settings().fulfillment_concurrency
    panel, base_url = start_panel(args.latency_ms)
    try:
        backends = [("sqlite", f"sqlite:///{tempfile.mkdtemp(prefix='smplat-bench-')}/bench.db")]
        pg = os.environ.get("SMPLAT_TEST_POSTGRES_URL", "").strip()
        if pg:
            backends.append(("postgresql", pg))
        theoretical = concurrency / (args.latency_ms / 1000)
        ratios = []
        for name, url in backends:
            prepare_db(url, base_url, args.tasks)
            bound = measure_bound(base_url, concurrency, min(2000, args.tasks))
            rate, _counts = drain(url, args.tasks)
            ratio = rate / bound
            ratios.append(ratio)
            print(
                f"{name}: {args.tasks} tasks, concurrency {concurrency}, latency {args.latency_ms} ms: "
                f"{rate:.0f} tasks/s; measured bound {bound:.0f}/s (theoretical {theoretical:.0f}/s); ratio {ratio:.2f}"
            )
            smplat_db.dispose_engines()
        print(f"ratio: {min(ratios):.2f}")
    finally:
        os.killpg(panel.pid, signal.SIGTERM)
        panel.wait(timeout=20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
