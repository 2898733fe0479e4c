"""Benchmark (not a test): 2,000 `add` calls to /api/v2 from 50 concurrent clients.

    .venv/bin/python tests/bench/bench_reseller_api.py [--calls 2000] [--clients 50]

Runs the shop's Starlette API under uvicorn on loopback against a fresh SQLite database (or
DATABASE_URL when set: a PostgreSQL database's public schema is dropped and recreated), with
one reseller whose wallet covers exactly the calls. Prints the throughput and p95 latency of the adds, then the same load on a bare route (`/api/health`)
in the same run, checks the wallet was debited exactly (balance 0, ledger sum = balance, one
order per call), and ends with `ratio: <adds per second / bare route per second>`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SMPLAT_SECRET_KEY", "bench-secret-key-0123456789-abcdefghijkl")
os.environ.setdefault("SMPLAT_ENV", "test")
os.environ["SMPLAT_RATE_LIMIT_RESELLER_KEY"] = ""  # measure the API, not the limiter

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

EMAIL = "bench-reseller@example.test"
LINK = "https://www.instagram.com/brand/"


def serve() -> tuple[uvicorn.Server, str]:
    from smplat.api.app import build_api

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(build_api(), log_level="warning", access_log=False, lifespan="off"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    return server, url


async def load(url: str, calls: int, clients: int, data: dict | None) -> tuple[float, list[float], list]:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(calls):
        queue.put_nowait(i)
    latencies: list[float] = []
    answers: list = []

    async def worker() -> None:
        async with httpx.AsyncClient(timeout=120) as client:
            while True:
                try:
                    queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                started = time.perf_counter()
                r = await client.post(url, data=data) if data is not None else await client.get(url)
                latencies.append(time.perf_counter() - started)
                answers.append(r.json())

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return time.perf_counter() - started, latencies, answers


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * 0.95) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=50)
    args = parser.parse_args()
    if "DATABASE_URL" not in os.environ:
        os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    from smplat.db import session_scope
    from smplat.migrate import upgrade_to_head
    from smplat.models.accounts import Role
    from smplat.models.orders import Order
    from smplat.models.resellers import ResellerAccount, ResellerLedgerEntry
    from smplat.services import accounts, audit, resellers
    from smplat.services.seed import seed_demo
    from smplat.settings import reset_settings_cache

    reset_settings_cache()
    url = os.environ["DATABASE_URL"]
    if url.startswith("postgresql"):  # a bench database: start from an empty schema every run
        from sqlalchemy import text

        from smplat.db import dispose_engines, get_engine

        with get_engine(url).begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        dispose_engines()
    upgrade_to_head(url)
    with session_scope() as db:
        seed_demo(db)
        accounts.sign_up(db, email=EMAIL, password="violet-harbour-42", role=Role.CUSTOMER)
    with session_scope() as db:
        account = resellers.enable(db, audit.Actor.cli(), EMAIL)
        _row, key = resellers.create_key(db, account, "bench")
    server, url = serve()
    services = httpx.post(url + "/api/v2", data={"key": key, "action": "services"}).json()
    rate = next(s for s in services if s["service"] == 1)["rate"]
    charge = round(float(rate) * 100)
    with session_scope() as db:
        resellers.adjust(db, audit.Actor.cli(), EMAIL, charge * args.calls, "bench top-up")

    form = {"key": key, "action": "add", "service": "1", "link": LINK, "quantity": "1000"}
    took, latencies, answers = asyncio.run(load(url + "/api/v2", args.calls, args.clients, form))
    placed = sum(1 for a in answers if "order" in a)
    add_rate = args.calls / took
    print(f"add: {args.calls} calls, {args.clients} clients: {add_rate:.1f}/s, p95 {p95(latencies) * 1000:.0f} ms")
    bare_took, bare_lat, _ = asyncio.run(load(url + "/api/health", args.calls, args.clients, None))
    bare_rate = args.calls / bare_took
    print(f"bare route: {bare_rate:.1f}/s, p95 {p95(bare_lat) * 1000:.0f} ms")
    with session_scope() as db:
        balance = db.execute(select(ResellerAccount.balance_minor)).scalar_one()
        ledger = db.execute(select(func.sum(ResellerLedgerEntry.amount_minor))).scalar_one()
        orders = db.execute(select(func.count()).select_from(Order)).scalar_one()
    exact = balance == 0 and ledger == 0 and orders == placed == args.calls
    print(
        f"wallet: balance {balance}, ledger sum {ledger}, orders {orders}, placed {placed}: {'exact' if exact else 'WRONG'}"
    )
    server.should_exit = True
    print(f"ratio: {add_rate / bare_rate:.3f}")
    return 0 if exact else 1


if __name__ == "__main__":
    sys.exit(main())
