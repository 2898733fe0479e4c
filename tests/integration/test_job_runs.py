"""The job-run recording service: rows for success, failure and skip; reading runs back."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from smplat.db import session_scope
from smplat.models.accounts import LoginAttempt
from smplat.models.base import utcnow
from smplat.models.jobs import JobOutcome, JobRun, JobTrigger
from smplat.services import jobs as job_runs

pytestmark = pytest.mark.integration


def _all_runs(url: str) -> list[JobRun]:
    with session_scope(url) as s:
        return list(s.execute(select(JobRun).order_by(JobRun.id)).scalars())


def _factory(url: str):
    return lambda: session_scope(url)


def test_successful_job_writes_a_succeeded_row_with_counts(db_url: str) -> None:
    seen: dict[str, object] = {}

    def job(session_factory, now: datetime) -> dict[str, int]:
        seen["now"] = now
        with session_factory() as s:
            s.add(LoginAttempt(email="a@example.test", created_at=now))
        return {"purged": 3, "kept": 0}

    before = utcnow()
    run = job_runs.run_recorded("demo_job", job, trigger=JobTrigger.MANUAL, session_factory=_factory(db_url))

    [stored] = _all_runs(db_url)
    assert stored.id == run.id
    assert (stored.job_name, stored.trigger, stored.outcome) == ("demo_job", "manual", "succeeded")
    assert stored.counts == {"purged": 3, "kept": 0}
    assert stored.message == ""
    assert stored.hostname != "" and stored.pid == os.getpid()
    assert before <= stored.started_at <= stored.finished_at <= utcnow()
    assert stored.started_at.tzinfo == UTC
    assert 0 <= stored.duration_ms <= (stored.finished_at - stored.started_at).total_seconds() * 1000 + 1
    assert seen["now"] == stored.started_at
    with session_scope(db_url) as s:  # the job's own unit of work was committed
        assert s.execute(select(func.count()).select_from(LoginAttempt)).scalar_one() == 1


def test_failing_job_writes_a_failed_row_with_a_short_message_and_rolls_back_its_work(db_url: str) -> None:
    def job(session_factory, now: datetime) -> dict[str, int]:
        with session_factory() as s:
            s.add(LoginAttempt(email="a@example.test", created_at=now))
            s.flush()
            raise ValueError("provider said no\nsecond line of detail")

    run = job_runs.run_recorded("demo_job", job, session_factory=_factory(db_url))

    [stored] = _all_runs(db_url)
    assert stored.id == run.id
    assert (stored.trigger, stored.outcome) == ("schedule", "failed")
    assert stored.message == "ValueError: provider said no"
    assert stored.counts == {}
    assert stored.finished_at is not None and stored.duration_ms is not None
    with session_scope(db_url) as s:
        assert s.execute(select(func.count()).select_from(LoginAttempt)).scalar_one() == 0


def test_job_returning_none_succeeds_with_empty_counts(db_url: str) -> None:
    run = job_runs.run_recorded("quiet_job", lambda factory, now: None, session_factory=_factory(db_url))
    assert (run.outcome, run.counts) == ("succeeded", {})


def test_second_trigger_while_running_is_recorded_as_skipped(db_url: str) -> None:
    # given a job blocked inside its first run
    entered, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def job(session_factory, now: datetime) -> dict[str, int]:
        calls.append(1)
        entered.set()
        assert release.wait(10)
        return {"done": 1}

    results: dict[str, JobRun] = {}
    first = threading.Thread(
        target=lambda: results.setdefault(
            "first", job_runs.run_recorded("slow_job", job, session_factory=_factory(db_url))
        )
    )
    first.start()
    assert entered.wait(10)
    assert job_runs.is_running_here("slow_job")

    # when a second trigger arrives from another thread
    second = threading.Thread(
        target=lambda: results.setdefault(
            "second", job_runs.run_recorded("slow_job", job, trigger="manual", session_factory=_factory(db_url))
        )
    )
    second.start()
    second.join(10)
    release.set()
    first.join(10)

    # then the job body ran once, and the second trigger left a "skipped" row
    assert calls == [1]
    assert results["first"].outcome == "succeeded"
    assert results["second"].outcome == "skipped"
    assert results["second"].message == f"already running in process {os.getpid()}"
    rows = _all_runs(db_url)
    assert [(r.trigger, r.outcome, r.counts) for r in rows] == [
        ("schedule", "succeeded", {"done": 1}),
        ("manual", "skipped", {}),
    ]
    assert rows[1].duration_ms == 0
    assert not job_runs.is_running_here("slow_job")

    # and once it finished, the job can run again
    release.set()
    assert job_runs.run_recorded("slow_job", job, session_factory=_factory(db_url)).outcome == "succeeded"


def test_start_and_finish_run_on_one_session(session: Session) -> None:
    run = job_runs.start_run(session, "manual_job", JobTrigger.MANUAL)
    assert (run.outcome, run.finished_at, run.duration_ms) == ("running", None, None)

    done = job_runs.finish_run(session, run, JobOutcome.SUCCEEDED, {"rows": 7}, "all good")

    session.expire_all()
    stored = session.get(JobRun, done.id)
    assert (stored.outcome, stored.counts, stored.message) == ("succeeded", {"rows": 7}, "all good")
    assert stored.duration_ms == int((stored.finished_at - stored.started_at).total_seconds() * 1000)


def _add_run(session: Session, name: str, outcome: str, started_minutes_ago: int) -> JobRun:
    started = utcnow() - timedelta(minutes=started_minutes_ago)
    run = JobRun(
        job_name=name,
        outcome=outcome,
        started_at=started,
        finished_at=None if outcome == "running" else started + timedelta(seconds=1),
    )
    session.add(run)
    session.commit()
    return run


def test_recent_runs_newest_first_filtered_and_limited(session: Session) -> None:
    a_old = _add_run(session, "a", "succeeded", 30)
    b_mid = _add_run(session, "b", "failed", 20)
    a_new = _add_run(session, "a", "succeeded", 10)

    assert [r.id for r in job_runs.recent_runs(session)] == [a_new.id, b_mid.id, a_old.id]
    assert [r.id for r in job_runs.recent_runs(session, job_name="a")] == [a_new.id, a_old.id]
    assert [r.id for r in job_runs.recent_runs(session, limit=1)] == [a_new.id]
    assert job_runs.recent_runs(session, job_name="nope") == []


def test_last_run_per_job_in_one_query(session: Session, db_url: str, count_queries) -> None:
    _add_run(session, "purge_sessions", "failed", 50)
    purge_last = _add_run(session, "purge_sessions", "succeeded", 40)
    purge_skip = _add_run(session, "purge_sessions", "skipped", 5)
    _add_run(session, "sync_status", "succeeded", 30)
    sync_running = _add_run(session, "sync_status", "running", 1)
    session.expire_all()

    with count_queries(db_url) as q:
        last = job_runs.last_run_per_job(session)
        names = {name: (run.id, run.outcome) for name, run in last.items()}  # attributes loaded by that query

    assert q.count == 1
    assert list(last) == ["purge_sessions", "sync_status"]
    assert names == {"purge_sessions": (purge_last.id, "succeeded"), "sync_status": (sync_running.id, "running")}
    assert job_runs.last_run_per_job(session, include_skipped=True)["purge_sessions"].id == purge_skip.id


def test_last_run_per_job_on_an_empty_table(session: Session) -> None:
    assert job_runs.last_run_per_job(session) == {}


def test_fail_abandoned_runs_closes_only_dead_processes_on_this_host(session: Session) -> None:
    here = job_runs._HOSTNAME
    dead = JobRun(job_name="x", started_at=utcnow(), hostname=here, pid=999_001)
    alive = JobRun(job_name="x", started_at=utcnow(), hostname=here, pid=999_002)
    mine = JobRun(job_name="x", started_at=utcnow(), hostname=here, pid=os.getpid())
    elsewhere = JobRun(job_name="x", started_at=utcnow(), hostname="other-host", pid=999_001)
    finished = JobRun(job_name="x", started_at=utcnow(), outcome="succeeded", hostname=here, pid=999_001)
    session.add_all([dead, alive, mine, elsewhere, finished])
    session.commit()

    closed = job_runs.fail_abandoned_runs(session, pid_alive=lambda pid: pid == 999_002)

    assert closed == 1
    session.expire_all()
    outcomes = {r.id: (r.outcome, r.message) for r in session.execute(select(JobRun)).scalars()}
    assert outcomes[dead.id] == ("failed", "abandoned: its process exited while running")
    assert outcomes[alive.id][0] == outcomes[mine.id][0] == outcomes[elsewhere.id][0] == "running"
    assert outcomes[finished.id][0] == "succeeded"


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        pytest.param(ValueError("bad\nmore"), "ValueError: bad", id="first-line"),
        pytest.param(RuntimeError(), "RuntimeError", id="no-message"),
        pytest.param(ValueError("v" * 900), "ValueError: " + "v" * 488, id="bounded"),
    ],
)
def test_short_error(exc: BaseException, expected: str) -> None:
    assert job_runs.short_error(exc) == expected


def test_prune_runs_keeps_recent_and_running_rows(session: Session) -> None:
    from datetime import timedelta

    from smplat.models.base import utcnow

    now = utcnow()
    old = now - timedelta(days=31)
    for name, started, outcome in [
        ("a", old, "succeeded"),
        ("b", old, "failed"),
        ("c", old, "running"),
        ("d", now - timedelta(days=29), "succeeded"),
        ("e", now, "succeeded"),
    ]:
        session.add(JobRun(job_name=name, started_at=started, outcome=outcome))
    session.commit()

    assert job_runs.prune_runs(session, now, keep_days=30) == {"job_runs": 2}

    assert sorted(session.execute(select(JobRun.job_name)).scalars().all()) == ["c", "d", "e"]
