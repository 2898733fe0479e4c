"""Job runs: record every execution of a background job (start, end, outcome, counts).

A job is a plain function `fn(session_factory, now) -> counts` (a dict of what it did,
e.g. {"sessions": 3}). `run_recorded` wraps it: writes a "running" row before, then
"succeeded" with the counts or "failed" with a short error after; a run whose counts
include failures (a name ending in failures/errors/failed/dead_lettered, above
zero) is "partial" when it also did other work and "failed" when it did not, and skips (with a
"skipped" row) when the same job is already running in this process. The admin pages
read `recent_runs` and `last_run_per_job`.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlmodel import Session

from smplat.db import session_scope
from smplat.models.base import utcnow
from smplat.models.jobs import JobOutcome, JobRun, JobTrigger

logger = logging.getLogger(__name__)

SessionFactory = Callable[[], AbstractContextManager[Session]]
JobFunc = Callable[[SessionFactory, datetime], Mapping[str, Any] | None]

MESSAGE_MAX = 500  # the column allows 2000; an admin table wants one short line

_HOSTNAME = socket.gethostname()[:200]
_locks_guard = threading.Lock()
_locks: dict[str, threading.Lock] = {}


def _job_lock(job_name: str) -> threading.Lock:
    with _locks_guard:
        lock = _locks.get(job_name)
        if lock is None:
            lock = _locks[job_name] = threading.Lock()
        return lock


def is_running_here(job_name: str) -> bool:
    """Is `job_name` running in this process right now?"""
    return _job_lock(job_name).locked()


def short_error(exc: BaseException) -> str:
    """`ExcType: first line of the message`, bounded, for the run row."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    line = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return line[:MESSAGE_MAX]


# A count whose name ends in one of these counts failures: above zero, the run is not "succeeded".
FAILURE_COUNT_SUFFIXES = ("failures", "errors", "failed", "dead_lettered")


def is_failure_count(name: str) -> bool:
    return name.endswith(FAILURE_COUNT_SUFFIXES)


def outcome_for(counts: Mapping[str, Any]) -> JobOutcome:
    """The outcome of a run that returned `counts`: "failed" when only failures were counted,
    "partial" when failures and other work were, else "succeeded" (an idle tick too)."""
    failures = sum(int(v or 0) for k, v in counts.items() if is_failure_count(k) and isinstance(v, int | float))
    if not failures:
        return JobOutcome.SUCCEEDED
    work = sum(int(v or 0) for k, v in counts.items() if not is_failure_count(k) and isinstance(v, int | float))
    return JobOutcome.PARTIAL if work else JobOutcome.FAILED


def failure_summary(counts: Mapping[str, Any]) -> str:
    """`batch_failures: 1, errors: 2` for the run's message."""
    return ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()) if is_failure_count(k) and v)


def is_idle(outcome: str, trigger: str, counts: Mapping[str, Any]) -> bool:
    """A scheduled tick that succeeded with nothing counted: routine, hidden by default."""
    return (
        outcome == JobOutcome.SUCCEEDED.value
        and trigger == JobTrigger.SCHEDULE.value
        and not any(v for v in counts.values())
    )


def _value(value: Any) -> Any:
    return value.value if hasattr(value, "value") else value


# --- recording ---------------------------------------------------------------------


def start_run(session: Session, job_name: str, trigger: JobTrigger | str = JobTrigger.SCHEDULE) -> JobRun:
    """Insert and commit a "running" row for this process; returns it."""
    run = JobRun(
        job_name=job_name,
        trigger=_value(trigger),
        outcome=JobOutcome.RUNNING.value,
        started_at=utcnow(),
        hostname=_HOSTNAME,
        pid=os.getpid(),
    )
    session.add(run)
    session.commit()
    session.refresh(run)
    return run


def finish_run(
    session: Session,
    run: JobRun,
    outcome: JobOutcome | str,
    counts: Mapping[str, Any] | None = None,
    message: str = "",
    *,
    duration_ms: int | None = None,
) -> JobRun:
    """Close a run: end time, duration (measured, or from the timestamps), outcome, counts."""
    if run not in session:
        run = session.merge(run)
    finished = utcnow()
    run.finished_at = finished
    run.duration_ms = (
        duration_ms if duration_ms is not None else max(0, int((finished - run.started_at).total_seconds() * 1000))
    )
    run.outcome = _value(outcome)
    run.counts = dict(counts or {})
    run.message = (message or "")[:MESSAGE_MAX]
    run.idle = is_idle(run.outcome, run.trigger, run.counts)
    session.add(run)
    session.commit()
    session.refresh(run)
    return run


def record_skipped(session: Session, job_name: str, trigger: JobTrigger | str, message: str) -> JobRun:
    """A trigger that did not start the job (it was already running): one closed row."""
    now = utcnow()
    run = JobRun(
        job_name=job_name,
        trigger=_value(trigger),
        outcome=JobOutcome.SKIPPED.value,
        started_at=now,
        finished_at=now,
        duration_ms=0,
        message=message[:MESSAGE_MAX],
        hostname=_HOSTNAME,
        pid=os.getpid(),
    )
    session.add(run)
    session.commit()
    session.refresh(run)
    return run


def run_recorded(
    job_name: str,
    fn: JobFunc,
    *,
    trigger: JobTrigger | str = JobTrigger.SCHEDULE,
    session_factory: SessionFactory | None = None,
) -> JobRun:
    """Run `fn` once and record it; never raises for a job failure (the row says "failed").

    If the job is already running in this process, `fn` is not called and a "skipped" row
    is returned. `session_factory` defaults to the settings' database (`session_scope`).
    """
    session_factory = session_factory or session_scope
    lock = _job_lock(job_name)
    if not lock.acquire(blocking=False):
        with session_factory() as session:
            run = record_skipped(session, job_name, trigger, f"already running in process {os.getpid()}")
        logger.info("job %s (%s): skipped, already running in this process", job_name, _value(trigger))
        return run
    try:
        # Short bookkeeping sessions: no connection is held open while the job works.
        with session_factory() as session:
            run = start_run(session, job_name, trigger)
        logger.debug("job %s (%s): started, run %s", job_name, _value(trigger), run.id)
        started = time.monotonic()
        outcome, counts, message = JobOutcome.SUCCEEDED, {}, ""
        try:
            result = fn(session_factory, run.started_at)
            counts = dict(result or {})
            outcome = outcome_for(counts)
            if outcome != JobOutcome.SUCCEEDED:
                message = failure_summary(counts)[:MESSAGE_MAX]
        except Exception as exc:
            outcome, message = JobOutcome.FAILED, short_error(exc)
            logger.exception("job %s: failed (run %s)", job_name, run.id)
        except BaseException as exc:  # interrupted: record it, then let it propagate
            with session_factory() as session:
                finish_run(
                    session,
                    run,
                    JobOutcome.FAILED,
                    {},
                    f"interrupted: {short_error(exc)}",
                    duration_ms=int((time.monotonic() - started) * 1000),
                )
            raise
        with session_factory() as session:
            run = finish_run(
                session, run, outcome, counts, message, duration_ms=int((time.monotonic() - started) * 1000)
            )
        # An idle tick (nothing counted) is routine: keep the log for runs that did something.
        did_work = outcome != JobOutcome.SUCCEEDED or any(run.counts.values()) or _value(trigger) != "schedule"
        logger.log(
            logging.INFO if did_work else logging.DEBUG,
            "job %s: %s in %d ms %s%s",
            job_name,
            run.outcome,
            run.duration_ms or 0,
            run.counts,
            f" - {message}" if message else "",
        )
        return run
    finally:
        lock.release()


def recorded(
    job_name: str, *, session_factory: SessionFactory | None = None
) -> Callable[[JobFunc], Callable[..., JobRun]]:
    """Decorator form: `@recorded("name")` turns a job function into `f(trigger=...) -> JobRun`."""

    def decorate(fn: JobFunc) -> Callable[..., JobRun]:
        def run(trigger: JobTrigger | str = JobTrigger.SCHEDULE) -> JobRun:
            return run_recorded(job_name, fn, trigger=trigger, session_factory=session_factory)

        run.__name__ = getattr(fn, "__name__", job_name)
        run.__doc__ = fn.__doc__
        run.job_func = fn  # type: ignore[attr-defined]
        return run

    return decorate


def fail_abandoned_runs(
    session: Session, *, hostname: str | None = None, pid_alive: Callable[[int], bool] | None = None
) -> int:
    """Close "running" rows left by processes on this host that no longer exist (crash, kill -9).

    Called by the jobs process at start, so the admin never shows a run "running" forever.
    """
    hostname = hostname or _HOSTNAME
    pid_alive = pid_alive or _pid_alive
    rows = session.execute(
        select(JobRun.id, JobRun.pid).where(JobRun.outcome == JobOutcome.RUNNING.value, JobRun.hostname == hostname)
    ).all()
    dead = sorted(run_id for run_id, pid in rows if pid is None or (pid != os.getpid() and not pid_alive(pid)))
    if not dead:
        return 0
    session.execute(
        update(JobRun)
        .where(JobRun.id.in_(dead), JobRun.outcome == JobOutcome.RUNNING.value)
        .values(
            outcome=JobOutcome.FAILED.value, finished_at=utcnow(), message="abandoned: its process exited while running"
        )
    )
    session.commit()
    return len(dead)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --- reading -----------------------------------------------------------------------


def prune_runs(session: Session, now: datetime, keep_days: int) -> dict[str, int]:
    """Delete finished run rows older than `keep_days`; running rows are never touched."""
    cutoff = now - timedelta(days=keep_days)
    deleted = session.execute(
        delete(JobRun).where(JobRun.started_at < cutoff, JobRun.outcome != JobOutcome.RUNNING.value)
    ).rowcount
    session.commit()
    return {"job_runs": deleted}


def recent_runs(
    session: Session, job_name: str | None = None, limit: int = 50, *, include_idle: bool = True
) -> list[JobRun]:
    """Newest runs first, of one job or all; `include_idle=False` leaves out idle scheduled ticks."""
    query = select(JobRun)
    if job_name is not None:
        query = query.where(JobRun.job_name == job_name)
    if not include_idle:
        query = query.where(JobRun.idle.is_(False))
    query = query.order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(limit)
    return list(session.execute(query).scalars())


def last_run_per_job(session: Session, *, include_skipped: bool = False) -> dict[str, JobRun]:
    """The newest run of every job that has run, by job name, in one query.

    Skipped triggers are left out by default: the admin wants the last real outcome (or
    the run in progress), not "skipped because it was running".
    """
    ranked = select(
        JobRun.id.label("id"),
        func.row_number()
        .over(partition_by=JobRun.job_name, order_by=(JobRun.started_at.desc(), JobRun.id.desc()))
        .label("rank"),
    )
    if not include_skipped:
        ranked = ranked.where(JobRun.outcome != JobOutcome.SKIPPED.value)
    ranked_sq = ranked.subquery()
    query = (
        select(JobRun)
        .join(ranked_sq, ranked_sq.c.id == JobRun.id)
        .where(ranked_sq.c.rank == 1)
        .order_by(JobRun.job_name)
    )
    return {run.job_name: run for run in session.execute(query).scalars()}
