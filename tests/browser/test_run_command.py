"""`smplat run` (what `make run` calls) end to end: migrate and seed a new SQLite file,
start sandbox + jobs + web, serve the shop, and stop everything on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import httpx
import psutil
import pytest
from sqlalchemy import create_engine, text

from smplat.settings import PROJECT_ROOT

pytestmark = pytest.mark.slow


def test_run_starts_everything_and_ctrl_c_stops_it(tmp_path, free_port, wait_until):
    port, smtp_port = free_port(), free_port()
    db_file = tmp_path / "first-run.db"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{db_file}",
        "SMPLAT_PORT": str(port),
        "SMPLAT_SANDBOX_SMTP_PORT": str(smtp_port),
        "SMPLAT_SMTP_PORT": str(smtp_port),
        "SMPLAT_SANDBOX_STRIPE_PORT": str(free_port()),
        "SMPLAT_SANDBOX_INSTAGRAM_PORT": str(free_port()),
        "SMPLAT_SANDBOX_WEBHOOK_PORT": str(free_port()),
        "SMPLAT_SANDBOX_WEBHOOK_DIR": str(tmp_path / "webhooks"),
        "SMPLAT_SANDBOX_MAILBOX_DIR": str(tmp_path / "mailbox"),
        "REFLEX_WEB_WORKDIR": str(PROJECT_ROOT / ".web-run-test"),
    }
    output = tmp_path / "run.log"
    with output.open("w") as log:
        run = subprocess.Popen(
            [sys.executable, "-m", "smplat.cli", "run"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until(
            lambda: "Press Ctrl-C to stop everything." in output.read_text() or run.poll() is not None,
            900,
            "the run banner",
        )
        text_out = output.read_text()
        assert run.poll() is None, text_out
        assert f"SMPLAT is running at http://localhost:{port}" in text_out
        for login in ("admin@smplat.local", "operator@smplat.local", "client@smplat.local"):
            assert login in text_out
        assert "seeded the demo catalog and accounts" in text_out
        page = httpx.get(f"http://127.0.0.1:{port}/services", timeout=10, follow_redirects=True)
        assert page.status_code == 200
        engine = create_engine(f"sqlite:///{db_file}")
        wait_until(
            lambda: (
                engine.connect()
                .execute(text("select count(*) from job_runs where job_name='purge_sessions' and outcome='succeeded'"))
                .scalar_one()
                >= 1
            ),
            60,
            "the jobs process's first run",
        )
        engine.dispose()
        children = psutil.Process(run.pid).children(recursive=True)
        assert len(children) >= 3

        os.killpg(run.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
        assert run.wait(60) == 0
        wait_until(
            lambda: not any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children),
            30,
            "every child to exit",
        )
        final = output.read_text()
        assert "smplat: stopped" in final and "Traceback" not in final
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
