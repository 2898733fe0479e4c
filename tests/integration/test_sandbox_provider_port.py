"""The seeded sandbox provider follows SMPLAT_SANDBOX_PANEL_PORT, and the shop warns at
start-up (one log line, and on the admin providers page) when a provider does not answer."""

from __future__ import annotations

import logging
import socket

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from smplat.db import session_scope
from smplat.models.base import utcnow
from smplat.models.providers import Provider, ProviderHealthCheck
from smplat.services.providers import provider_overview, warn_unreachable_providers
from smplat.services.seed import SANDBOX_PROVIDER_SLUG, align_sandbox_provider, seed_demo
from smplat.settings import reset_settings_cache

pytestmark = pytest.mark.integration


def _sandbox_provider(session: Session) -> Provider:
    return session.execute(select(Provider).where(Provider.slug == SANDBOX_PROVIDER_SLUG)).scalars().one()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket is closed


def test_seeded_provider_uses_the_configured_panel_port(session, monkeypatch):
    monkeypatch.setenv("SMPLAT_SANDBOX_PANEL_PORT", "18555")
    reset_settings_cache()
    seed_demo(session)
    session.commit()
    assert _sandbox_provider(session).base_url == "http://127.0.0.1:18555/api/v2"
    # the shop is started again with another port: the seeded provider follows it
    monkeypatch.setenv("SMPLAT_SANDBOX_PANEL_PORT", "18556")
    reset_settings_cache()
    assert align_sandbox_provider(session) is True
    assert _sandbox_provider(session).base_url == "http://127.0.0.1:18556/api/v2"
    assert align_sandbox_provider(session) is False  # already there
    # a provider an operator pointed at a real panel is never rewritten
    provider = _sandbox_provider(session)
    provider.base_url = "https://panel.example/api/v2"
    session.commit()
    monkeypatch.setenv("SMPLAT_SANDBOX_PANEL_PORT", "18557")
    reset_settings_cache()
    assert align_sandbox_provider(session) is False
    assert _sandbox_provider(session).base_url == "https://panel.example/api/v2"


def test_start_up_warns_about_a_provider_that_does_not_answer(session, db_url, panel, caplog):
    seed_demo(session)
    provider = _sandbox_provider(session)
    provider.base_url = panel.base_url
    dead = Provider(name="Dead Panel", slug="dead-panel", base_url=f"http://127.0.0.1:{_closed_port()}/api/v2")
    session.add(dead)
    session.commit()
    # when
    with caplog.at_level(logging.WARNING, logger="smplat.services.providers"):
        warnings = warn_unreachable_providers(session_scope, utcnow())
    # then: one clear line for the dead one, nothing for the sandbox that answers
    assert warnings == [f"provider dead-panel does not answer at {dead.base_url}: the panel could not be reached"]
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == warnings
    rows = {row["slug"]: row for row in provider_overview(session)}
    assert rows["dead-panel"]["problem"] == "At start-up: the panel could not be reached"
    assert rows[SANDBOX_PROVIDER_SLUG]["problem"] == ""
    checks = session.execute(select(func.count()).select_from(ProviderHealthCheck)).scalar_one()
    assert checks == 1


def test_jobs_process_warns_at_start_up_in_one_log_line(sqlite_url, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    from smplat.settings import PROJECT_ROOT

    url = f"http://127.0.0.1:{_closed_port()}/api/v2"
    with session_scope(sqlite_url) as s:
        s.add(Provider(name="Wrong Port", slug="wrong-port", base_url=url))
    log_path = tmp_path / "jobs.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMPLAT_JOBS_")}
    env.update(PYTHONUNBUFFERED="1", DATABASE_URL=sqlite_url)
    expected = f"provider wrong-port does not answer at {url}: the panel could not be reached"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jobs"], cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT, env=env
        )
        try:
            deadline = time.monotonic() + 40
            while expected not in log_path.read_text() and time.monotonic() < deadline:
                assert proc.poll() is None, log_path.read_text()
                time.sleep(0.3)
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    output = log_path.read_text()
    assert [line for line in output.splitlines() if "does not answer" in line] == [
        line for line in output.splitlines() if line.endswith(expected)
    ]
    assert sum(expected in line for line in output.splitlines()) == 1, output
    assert "Traceback" not in output
