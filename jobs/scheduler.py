"""The jobs process: APScheduler running every registered job on its interval.

Start with `python -m jobs`. It refuses to start against a database it cannot reach
(exit 2), one that is not migrated to head (exit 3), or, with SMPLAT_ENV=prod, an unsafe
configuration (`Settings.production_problems`, exit 4), with one line on stderr. Each job
runs once shortly after start, then every `interval_seconds`; APScheduler keeps at most
one instance per job (coalescing missed runs), and the recording wrapper also skips a job
already running in this process. SIGINT/SIGTERM stop it cleanly: running jobs finish,
exit code 0.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Iterable
from datetime import timedelta

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobSubmissionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.exc import SQLAlchemyError

from jobs.definitions import JOBS, JobDefinition, run_job
from smplat.db import DatabaseUnavailable, check_database, describe_url, dispose_engines, session_scope
from smplat.models.base import utcnow
from smplat.models.jobs import JobTrigger
from smplat.services import jobs as job_runs
from smplat.settings import Settings, get_settings

logger = logging.getLogger("jobs")

EXIT_OK = 0
EXIT_DATABASE_UNAVAILABLE = 2
EXIT_NOT_MIGRATED = 3
EXIT_UNSAFE_CONFIG = 4  # SMPLAT_ENV=prod with sandbox secrets, insecure cookies or sandboxes on


def _scheduled_run(name: str) -> None:
    try:
        run_job(name, JobTrigger.SCHEDULE)
    except Exception:
        logger.exception("job %s: could not run or record its run", name)


def _record_max_instances_skip(event: JobSubmissionEvent) -> None:
    """APScheduler refused to start a second instance: record it like an in-process skip."""
    try:
        with session_scope() as session:
            job_runs.record_skipped(session, event.job_id, JobTrigger.SCHEDULE, "previous run still running")
        logger.info("job %s (schedule): skipped, previous run still running", event.job_id)
    except Exception:
        logger.exception("job %s: could not record a skipped run", event.job_id)


def build_scheduler(
    settings: Settings | None = None, jobs: Iterable[JobDefinition] | None = None
) -> BackgroundScheduler:
    """A configured, not yet started scheduler holding every job definition."""
    settings = settings or get_settings()
    definitions = list(JOBS.values() if jobs is None else jobs)
    scheduler = BackgroundScheduler(
        executors={"default": ThreadPoolExecutor(max_workers=max(2, len(definitions)))},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        timezone="UTC",
    )
    start = utcnow()
    for job in definitions:
        scheduler.add_job(
            _scheduled_run,
            trigger=IntervalTrigger(seconds=job.interval_seconds(settings), timezone="UTC"),
            args=[job.name],
            id=job.name,
            name=job.name,
            next_run_time=start + timedelta(seconds=job.first_run_delay_seconds),
            coalesce=True,
            max_instances=1,
            replace_existing=True,
        )
    scheduler.add_listener(_record_max_instances_skip, EVENT_JOB_MAX_INSTANCES)
    return scheduler


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stdout,
        force=True,
    )
    # Our wrapper logs start/outcome of every run; APScheduler's own lines would repeat them.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def preflight(settings: Settings) -> tuple[int, str] | None:
    """None when the database is reachable and at head; else (exit code, one-line message)."""
    from smplat.migrate import is_up_to_date

    url = settings.database_url
    try:
        check_database(url)
        if not is_up_to_date(url):
            return (
                EXIT_NOT_MIGRATED,
                f"jobs: the database at {describe_url(url)} is not migrated to head; run `alembic upgrade head` first",
            )
    except DatabaseUnavailable as exc:
        return EXIT_DATABASE_UNAVAILABLE, f"jobs: {exc}"
    except SQLAlchemyError as exc:
        reason = " ".join(str(getattr(exc, "orig", None) or exc).split())[:300]
        return EXIT_DATABASE_UNAVAILABLE, f"jobs: cannot use the database at {describe_url(url)}: {reason}"
    return None


STARTUP_PROVIDER_CHECK_DELAY_SECONDS = 5.0  # the sandbox child starts next to this process


def _startup_provider_check(stop: threading.Event) -> None:
    """Warn (one log line per provider, and on the admin providers page) when a provider's
    base URL does not answer, so a wrong URL or port is seen before orders dead-letter."""
    from smplat.services.providers import warn_unreachable_providers

    if stop.wait(STARTUP_PROVIDER_CHECK_DELAY_SECONDS):
        return
    try:
        warn_unreachable_providers(session_scope, utcnow())
    except Exception:  # a start-up warning must never stop the jobs process
        logger.exception("start-up provider check failed")


def main() -> int:
    stop = threading.Event()
    signals_seen = 0

    def _on_signal(signum: int, _frame: object) -> None:
        nonlocal signals_seen
        signals_seen += 1
        if signals_seen > 1:
            # Second signal: the operator does not want to wait for running jobs.
            logger.warning("received %s again, exiting without waiting for running jobs", signal.Signals(signum).name)
            os._exit(1)
        logger.info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    # Installed first, so a signal during start-up also ends cleanly.
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)

    settings = get_settings()
    unsafe = settings.production_refusal("jobs")
    if unsafe is not None:
        print(unsafe, file=sys.stderr)
        return EXIT_UNSAFE_CONFIG
    refusal = preflight(settings)
    if refusal is not None:
        code, message = refusal
        print(message, file=sys.stderr)
        dispose_engines()
        return code

    configure_logging(settings)
    with session_scope() as session:
        abandoned = job_runs.fail_abandoned_runs(session)
    if abandoned:
        logger.warning("marked %d run(s) of exited processes as failed", abandoned)

    scheduler = build_scheduler(settings)
    if stop.is_set():
        return EXIT_OK
    scheduler.start()
    logger.info(
        "jobs process started (pid %d, database %s): %s",
        os.getpid(),
        describe_url(settings.database_url),
        ", ".join(f"{job.name} every {job.interval_seconds(settings)} s" for job in JOBS.values()),
    )
    threading.Thread(target=_startup_provider_check, args=(stop,), name="provider-startup-check", daemon=True).start()
    while not stop.wait(1.0):
        pass
    logger.info("stopping: waiting for running jobs to finish")
    scheduler.shutdown(wait=True)
    dispose_engines()
    logger.info("jobs process stopped")
    return EXIT_OK
