"""The jobs process: registry, scheduler configuration, run-now, and `python -m jobs` end to end."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import select, text
from sqlmodel import Session

from jobs import JOBS, JobDefinition, UnknownJob, run_job_now
from jobs.scheduler import build_scheduler
from smplat.db import session_scope
from smplat.models.accounts import AuthToken, LoginAttempt, TokenPurpose, User, UserSession
from smplat.models.base import utcnow
from smplat.models.jobs import JobRun
from smplat.settings import PROJECT_ROOT, get_settings, reset_settings_cache

pytestmark = pytest.mark.integration


def _user(session: Session, email: str = "ana@example.test") -> User:
    user = User(email=email, password_hash="not-a-real-hash")
    session.add(user)
    session.commit()
    return user


def _session_row(
    session: Session, user: User, token: str, *, expires_in: timedelta, revoked: bool = False
) -> UserSession:
    now = utcnow()
    row = UserSession(
        user_id=user.id,
        token_hash=token.ljust(64, "0"),
        expires_at=now + expires_in,
        revoked_at=now if revoked else None,
    )
    session.add(row)
    session.commit()
    return row


def _seed_purgeable(session: Session) -> dict[str, int]:
    """Rows the purge must delete and rows it must keep; returns the ids of the kept ones."""
    user = _user(session)
    now = utcnow()
    _session_row(session, user, "expired", expires_in=timedelta(minutes=-1))
    _session_row(session, user, "revoked", expires_in=timedelta(days=1), revoked=True)
    valid = _session_row(session, user, "valid", expires_in=timedelta(days=1))
    tokens = [
        AuthToken(
            user_id=user.id,
            purpose=TokenPurpose.PASSWORD_RESET.value,
            token_hash="t-expired".ljust(64, "0"),
            expires_at=now - timedelta(seconds=1),
        ),
        AuthToken(
            user_id=user.id,
            purpose=TokenPurpose.SIGNIN_TICKET.value,
            token_hash="t-used".ljust(64, "0"),
            expires_at=now + timedelta(minutes=5),
            used_at=now,
        ),
        AuthToken(
            user_id=user.id,
            purpose=TokenPurpose.PASSWORD_RESET.value,
            token_hash="t-live".ljust(64, "0"),
            expires_at=now + timedelta(minutes=30),
        ),
    ]
    retention = timedelta(days=get_settings().jobs_login_attempt_retention_days)
    attempts = [
        LoginAttempt(email="ana@example.test", created_at=now - retention - timedelta(hours=1)),
        LoginAttempt(email="ana@example.test", created_at=now - timedelta(hours=1)),
    ]
    session.add_all(tokens + attempts)
    session.commit()
    return {"session": valid.id, "token": tokens[2].id, "attempt": attempts[1].id}


def test_registry_has_purge_sessions_with_its_interval_setting() -> None:
    job = JOBS["purge_sessions"]
    assert job.interval_setting == "jobs_session_purge_interval_seconds"
    assert job.interval_env_var == "SMPLAT_JOBS_SESSION_PURGE_INTERVAL_SECONDS"
    assert job.description


def test_scheduler_has_every_job_once_at_a_time_soon_after_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMPLAT_JOBS_SESSION_PURGE_INTERVAL_SECONDS", "45")
    reset_settings_cache()
    try:
        started = utcnow()
        scheduler = build_scheduler(get_settings())
        scheduled = {job.id: job for job in scheduler.get_jobs()}
    finally:
        reset_settings_cache()

    assert set(scheduled) == set(JOBS)
    purge = scheduled["purge_sessions"]
    assert (purge.max_instances, purge.coalesce) == (1, True)
    assert purge.trigger.interval == timedelta(seconds=45)
    assert timedelta(0) < purge.next_run_time - started <= timedelta(seconds=5)


def test_scheduler_records_a_skipped_run_when_the_previous_one_is_still_running(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a job that takes longer than its 1-second interval
    release = threading.Event()
    calls: list[int] = []

    def slow(session_factory, now):
        calls.append(1)
        release.wait(10)
        return {"done": 1}

    slow_job = JobDefinition("slow_job", "blocks", slow, interval_setting="fast", first_run_delay_seconds=0.1)
    monkeypatch.setitem(JOBS, "slow_job", slow_job)
    scheduler = build_scheduler(SimpleNamespace(fast=1), jobs=[slow_job])

    # when the scheduler fires again while it runs
    scheduler.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with session_scope(sqlite_url) as s:
                outcomes = s.execute(select(JobRun.outcome).order_by(JobRun.id)).scalars().all()
            if "skipped" in outcomes:
                break
            time.sleep(0.1)
    finally:
        release.set()
        scheduler.shutdown(wait=True)

    # then the body ran once and the refused trigger is on record
    assert calls == [1]
    with session_scope(sqlite_url) as s:
        runs = s.execute(select(JobRun).order_by(JobRun.id)).scalars().all()
    assert runs[0].outcome == "succeeded"
    assert {(r.outcome, r.trigger, r.message) for r in runs[1:]} == {
        ("skipped", "schedule", "previous run still running")
    }


def test_run_job_now_purges_and_records_a_manual_run(db_url: str) -> None:
    with session_scope(db_url) as s:
        kept = _seed_purgeable(s)

    run = run_job_now("purge_sessions")

    assert (run.job_name, run.trigger, run.outcome) == ("purge_sessions", "manual", "succeeded")
    assert run.counts == {"sessions": 2, "tokens": 2, "login_attempts": 1}
    with session_scope(db_url) as s:
        assert s.execute(select(UserSession.id)).scalars().all() == [kept["session"]]
        assert s.execute(select(AuthToken.id)).scalars().all() == [kept["token"]]
        assert s.execute(select(LoginAttempt.id)).scalars().all() == [kept["attempt"]]
        assert [r.id for r in s.execute(select(JobRun)).scalars()] == [run.id]


def test_run_job_now_unknown_job_raises_and_records_nothing(db_url: str) -> None:
    with pytest.raises(UnknownJob):
        run_job_now("no_such_job")
    with session_scope(db_url) as s:
        assert s.execute(select(JobRun)).scalars().all() == []


# --- the process ----------------------------------------------------------------------


def _jobs_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMPLAT_JOBS_")}
    env.update(PYTHONUNBUFFERED="1", **overrides)
    return env


def _wait_for_run(url: str, proc: subprocess.Popen, deadline_seconds: float = 30) -> JobRun:
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the jobs process exited early"
        with session_scope(url) as s:
            run = (
                s.execute(select(JobRun).where(JobRun.job_name == "purge_sessions", JobRun.outcome != "running"))
                .scalars()
                .first()
            )
        if run is not None:
            return run
        time.sleep(0.2)
    raise AssertionError("no finished purge_sessions run before the deadline")


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_jobs_process_purges_soon_after_start_and_stops_cleanly(
    sqlite_url: str, tmp_path: Path, stop_signal: signal.Signals
) -> None:
    # given a migrated SQLite database with purgeable rows
    with session_scope(sqlite_url) as s:
        kept = _seed_purgeable(s)
    log_path = tmp_path / "jobs.log"

    # when the jobs process runs against it
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jobs"],
            cwd=PROJECT_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_jobs_env(DATABASE_URL=sqlite_url, SMPLAT_JOBS_SESSION_PURGE_INTERVAL_SECONDS="10"),
        )
        try:
            run = _wait_for_run(sqlite_url, proc)
            proc.send_signal(stop_signal)
            returncode = proc.wait(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    output = log_path.read_text()

    # then it recorded a scheduled, succeeded run with exact counts, and purged only what expired
    assert (run.trigger, run.outcome, run.message) == ("schedule", "succeeded", ""), output
    assert run.counts == {"sessions": 2, "tokens": 2, "login_attempts": 1}
    assert run.pid == proc.pid
    with session_scope(sqlite_url) as s:
        assert s.execute(select(UserSession.id)).scalars().all() == [kept["session"]]
        assert s.execute(select(AuthToken.id)).scalars().all() == [kept["token"]]
        assert s.execute(select(LoginAttempt.id)).scalars().all() == [kept["attempt"]]
    # and stopped on the signal with exit code 0, no traceback, timestamped log lines
    assert returncode == 0, output
    assert "Traceback" not in output
    assert "purge_sessions every 10 s" in output
    assert output.rstrip().endswith("jobs process stopped")
    assert all(line[:4].isdigit() and line[4] == "-" for line in output.splitlines()), output


def test_jobs_process_with_unreachable_database_prints_one_line_and_exits_2() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "jobs"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=_jobs_env(DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/x"),
    )
    output = result.stdout + result.stderr
    assert result.returncode == 2
    assert len(output.splitlines()) == 1 and output.endswith("\n")
    assert output.startswith("jobs: cannot reach the database at postgresql+psycopg://nobody@127.0.0.1:1/x:")
    assert "Traceback" not in output


def test_jobs_process_refuses_a_database_not_migrated_to_head(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    result = subprocess.run(
        [sys.executable, "-m", "jobs"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=_jobs_env(DATABASE_URL=url),
    )
    assert result.returncode == 3
    assert result.stdout == ""
    assert result.stderr == f"jobs: the database at {url} is not migrated to head; run `alembic upgrade head` first\n"


def test_jobs_process_refuses_a_database_behind_head(sqlite_url: str) -> None:
    with session_scope(sqlite_url) as s:
        s.execute(text("UPDATE alembic_version SET version_num = 'not-a-revision'"))
    result = subprocess.run(
        [sys.executable, "-m", "jobs"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=_jobs_env(DATABASE_URL=sqlite_url),
    )
    assert result.returncode == 3
    assert "is not migrated to head" in result.stderr
    with session_scope(sqlite_url) as s:
        assert s.execute(select(JobRun)).scalars().all() == []
