"""The command line: one-line errors for a missing database, seeding only an empty one."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from smplat import cli
from smplat.db import session_scope
from smplat.models.accounts import User
from smplat.models.catalog import Product
from smplat.settings import PROJECT_ROOT

pytestmark = pytest.mark.integration
UNREACHABLE = "postgresql+psycopg://nobody@127.0.0.1:1/missing"


@pytest.mark.parametrize("command", ["run", "migrate", "seed", "check-db"])
def test_unreachable_postgres_stops_with_one_line(command):
    env = {**os.environ, "DATABASE_URL": UNREACHABLE}
    done = subprocess.run(
        [sys.executable, "-m", "smplat.cli", command],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("smplat: cannot reach the database at postgresql+psycopg://nobody@127.0.0.1:1/missing")
    assert "Traceback" not in done.stderr + done.stdout


def test_prepare_database_seeds_an_empty_database_once(db_url):
    created = cli.prepare_database()
    assert created is not None and created["products"] == 14 and created["users"] == 3
    assert cli.prepare_database() is None  # second run keeps the data and adds nothing
    with session_scope() as db:
        assert db.execute(select(func.count()).select_from(Product)).scalar_one() == 14
        assert db.execute(select(func.count()).select_from(User)).scalar_one() == 3


def test_a_database_with_accounts_is_not_seeded(sqlite_url):
    from smplat.services import accounts

    with session_scope() as db:
        accounts.sign_up(db, email="owner@example.com", password="violet-harbour-42")
    assert cli.prepare_database() is None
    with session_scope() as db:
        assert db.execute(select(func.count()).select_from(Product)).scalar_one() == 0


def test_busy_port_is_refused_with_one_line(sqlite_url):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {**os.environ, "DATABASE_URL": sqlite_url, "SMPLAT_PORT": str(port)}
        done = subprocess.run(
            [sys.executable, "-m", "smplat.cli", "run"],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2
    assert done.stderr.strip() == f"smplat: port {port} is in use; stop what runs there or set SMPLAT_PORT"
