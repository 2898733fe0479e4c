"""The registry of background jobs: add a job by adding one `JobDefinition` to `JOBS`.

Each job is a thin wrapper over a service function with the signature
`fn(session_factory, now) -> counts`; the scheduler runs it every `interval_seconds`
(read from a settings field, so operators tune it by environment), and admin pages call
`run_job_now(name)`. Both go through `smplat.services.jobs.run_recorded`, which writes
the job_runs row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from smplat.models.jobs import JobRun, JobTrigger
from smplat.services import jobs as job_runs
from smplat.services.jobs import JobFunc, SessionFactory
from smplat.settings import Settings, get_settings


@dataclass(frozen=True)
class JobDefinition:
    name: str
    description: str
    func: JobFunc
    interval_setting: str  # name of the Settings field holding the interval in seconds
    first_run_delay_seconds: float = 2.0  # runs once shortly after the process starts

    def interval_seconds(self, settings: Settings | None = None) -> int:
        return int(getattr(settings or get_settings(), self.interval_setting))

    @property
    def interval_env_var(self) -> str:
        return f"SMPLAT_{self.interval_setting.upper()}"


# --- job functions: thin wrappers over services -------------------------------------


def purge_sessions(session_factory: SessionFactory, now: datetime) -> Mapping[str, int]:
    """Expired or revoked sessions, expired or used tokens, sign-in attempts past retention."""
    from smplat.services.accounts import purge_expired

    with session_factory() as session:
        return purge_expired(session, now)


def prune_job_runs(session_factory: SessionFactory, now: datetime) -> Mapping[str, int]:
    """Job-run rows past their retention (the fulfilment ticks write one every few seconds)."""
    from smplat.services.jobs import prune_runs

    with session_factory() as session:
        return prune_runs(session, now, get_settings().jobs_run_retention_days)


def fulfillment(session_factory: SessionFactory, now: datetime) -> Mapping[str, int]:
    """Claim and submit queued fulfilment tasks (submit, replay, refill), reconcile, retry."""
    from smplat.services.fulfillment.engine import run_fulfillment

    return run_fulfillment(session_factory, now)


def status_sync(session_factory: SessionFactory, now: datetime) -> Mapping[str, int]:
    """Poll open provider orders and refills in batches; move items and orders along."""
    from smplat.services.fulfillment.status_sync import sync_statuses

    return sync_statuses(session_factory, now)


def provider_health(session_factory: SessionFactory, now: datetime) -> Mapping[str, int]:
    """Check every provider, refresh balances, re-sync services (vanished ones marked)."""
    from smplat.services.providers import check_providers

    return check_providers(session_factory, now)


def scheduled_replays(session_factory: SessionFactory, now: datetime) -> Mapping[str, int]:
    """Queue scheduled replays that are due."""
    from smplat.services.fulfillment.operator_actions import run_due_replays

    return run_due_replays(session_factory, now)


def alerts(session_factory: SessionFactory, now: datetime) -> Mapping[str, int]:
    """Evaluate alert conditions; email / webhook what is due."""
    from smplat.services.alerts import run_alerts

    return run_alerts(session_factory, now)


def expire_checkouts(session_factory: SessionFactory, now: datetime) -> Mapping[str, int]:
    """Unpaid checkout sessions past their deadline: expired at Stripe, marked abandoned."""
    from smplat.services.checkout.sessions import expire_stale_sessions

    with session_factory() as session:  # a paid session found here has its receipt sent on commit
        return expire_stale_sessions(session, now)


def profile_refresh(session_factory: SessionFactory, now: datetime) -> Mapping[str, int]:
    """Take a snapshot of every linked profile that is due, within the Graph API's budget."""
    from smplat.services.profiles import refresh_due_profiles

    return refresh_due_profiles(session_factory, now)


def purge_deleted_accounts(session_factory: SessionFactory, now: datetime) -> Mapping[str, int]:
    """Deleted accounts past the retention period: their kept bookkeeping and the account row."""
    from smplat.services.privacy import purge_deleted_accounts as purge

    with session_factory() as session:
        return purge(session, now)


def send_notifications(session_factory: SessionFactory, now: datetime) -> Mapping[str, int]:
    """Send queued notifications that are due; re-queue with backoff what the server refused."""
    from smplat.services.notifications import send_due

    return send_due(session_factory, now)


def weekly_digest(session_factory: SessionFactory, now: datetime) -> Mapping[str, int]:
    """Queue last ISO week's digest for every customer with something to say (once per week)."""
    from smplat.services.digest import send_weekly_digests

    return send_weekly_digests(session_factory, now)


def merch_rollup(session_factory: SessionFactory, now: datetime) -> Mapping[str, int]:
    """Roll preset apply/clear events up into daily metrics (yesterday again); prune old raw events."""
    from smplat.services.merch_analytics import rollup

    with session_factory() as session:
        return rollup(session, now)


def dashboard_rollup(session_factory: SessionFactory, now: datetime) -> Mapping[str, int]:
    """Roll closed days of sales, margins, provider calls and payments up for the dashboard
    (the last `dashboard_rollup_reroll_days` days again)."""
    from smplat.services.rollups import rollup

    with session_factory() as session:
        return rollup(session, now)


JOBS: dict[str, JobDefinition] = {
    job.name: job
    for job in [
        JobDefinition(
            name="purge_sessions",
            description="Delete expired/revoked sessions, spent sign-in and reset tokens, and old sign-in attempts",
            func=purge_sessions,
            interval_setting="jobs_session_purge_interval_seconds",
        ),
        JobDefinition(
            "prune_job_runs",
            "Delete job-run rows older than the retention period",
            prune_job_runs,
            "jobs_run_prune_interval_seconds",
            first_run_delay_seconds=30.0,
        ),
        JobDefinition(
            "fulfillment",
            "Claim queued fulfilment tasks and send them to providers (once each)",
            fulfillment,
            "jobs_fulfillment_interval_seconds",
            first_run_delay_seconds=1.0,
        ),
        JobDefinition(
            "status_sync",
            "Poll open provider orders and refills; update items, orders and events",
            status_sync,
            "jobs_status_sync_interval_seconds",
        ),
        JobDefinition(
            "provider_health",
            "Provider health, balances and service re-sync",
            provider_health,
            "jobs_provider_health_interval_seconds",
        ),
        JobDefinition(
            "scheduled_replays",
            "Queue scheduled replays that are due",
            scheduled_replays,
            "jobs_replay_interval_seconds",
        ),
        JobDefinition(
            "alerts",
            "Email / webhook alerts: dead letters, provider down, low balance, failure rate, provider share",
            alerts,
            "jobs_alerts_interval_seconds",
        ),
        JobDefinition(
            name="expire_checkouts",
            description="Expire unpaid Stripe checkout sessions past their deadline and mark them abandoned",
            func=expire_checkouts,
            interval_setting="jobs_checkout_expiry_interval_seconds",
        ),
        JobDefinition(
            name="send_notifications",
            description="Send queued customer emails (receipts, order updates, messages); retry with backoff when SMTP is down",
            func=send_notifications,
            interval_setting="jobs_notifications_interval_seconds",
            first_run_delay_seconds=3.0,
        ),
        JobDefinition(
            name="weekly_digest",
            description="Queue each customer's weekly digest (last ISO week; once per customer and week)",
            func=weekly_digest,
            interval_setting="jobs_digest_interval_seconds",
            first_run_delay_seconds=60.0,
        ),
        JobDefinition(
            name="profile_refresh",
            description="Refresh linked social profiles' snapshots (followers, engagement), with back-off on errors",
            func=profile_refresh,
            interval_setting="jobs_profile_refresh_interval_seconds",
            first_run_delay_seconds=20.0,
        ),
        JobDefinition(
            name="purge_deleted_accounts",
            description="Remove deleted accounts' orders, payments and account rows once past the retention period",
            func=purge_deleted_accounts,
            interval_setting="jobs_account_purge_interval_seconds",
            first_run_delay_seconds=60.0,
        ),
        JobDefinition(
            name="merch_rollup",
            description="Roll preset apply/clear events up into daily metrics (re-rolls yesterday); prune old events",
            func=merch_rollup,
            interval_setting="jobs_merch_rollup_interval_seconds",
            first_run_delay_seconds=45.0,
        ),
        JobDefinition(
            name="dashboard_rollup",
            description="Roll closed days of sales, margins, provider calls and payments up for the dashboard "
            "(re-rolls the last days so late refunds land)",
            func=dashboard_rollup,
            interval_setting="jobs_dashboard_rollup_interval_seconds",
            first_run_delay_seconds=50.0,
        ),
    ]
}


class UnknownJob(KeyError):
    """No job is registered under that name."""


def get_job(name: str) -> JobDefinition:
    try:
        return JOBS[name]
    except KeyError:
        raise UnknownJob(name) from None


def run_job(
    name: str,
    trigger: JobTrigger | str = JobTrigger.SCHEDULE,
    *,
    session_factory: SessionFactory | None = None,
) -> JobRun:
    """Run a registered job once in this process, recorded (skipped if already running here)."""
    job = get_job(name)
    return job_runs.run_recorded(job.name, job.func, trigger=trigger, session_factory=session_factory)


def run_job_now(name: str, trigger: JobTrigger | str = JobTrigger.MANUAL) -> JobRun:
    """The admin's "run now": runs the job synchronously in the caller's process.

    Returns the finished run row (outcome succeeded, failed, or skipped when the job is
    already running in this process). Raises UnknownJob for an unregistered name.
    """
    return run_job(name, trigger)
