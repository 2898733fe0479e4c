"""A job run that had failures is never "succeeded"; idle scheduled ticks are marked and hidden."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from jobs.definitions import status_sync as status_sync_job
from smplat.db import session_scope
from smplat.models.jobs import JobOutcome, JobRun, JobTrigger
from smplat.services import jobs as job_runs
from smplat.services.fulfillment import engine
from tests.fulfillment_factory import paid_order, product, seed_with_panel

pytestmark = pytest.mark.integration


def _factory(url: str):
    return lambda: session_scope(url)


@pytest.mark.parametrize(
    ("counts", "outcome", "message"),
    [
        ({"polled": 0, "batch_failures": 1}, "failed", "batch_failures: 1"),
        ({"polled": 4, "errors": 1, "completed": 2}, "partial", "errors: 1"),
        ({"processed": 3, "submitted": 2, "dead_lettered": 1}, "partial", "dead_lettered: 1"),
        ({"polled": 3, "batch_failures": 0, "errors": 0}, "succeeded", ""),
    ],
)
def test_failures_in_the_counts_decide_the_outcome(db_url: str, counts, outcome, message) -> None:
    run = job_runs.run_recorded("demo", lambda _f, _now: counts, session_factory=_factory(db_url))
    with session_scope(db_url) as s:
        stored = s.get(JobRun, run.id)
        assert (stored.outcome, stored.message, stored.counts) == (outcome, message, counts)
        assert stored.idle is False


def test_idle_scheduled_ticks_are_marked_and_left_out_of_the_history(db_url: str) -> None:
    factory = _factory(db_url)
    idle = job_runs.run_recorded("demo", lambda _f, _now: {"processed": 0}, session_factory=factory)
    busy = job_runs.run_recorded("demo", lambda _f, _now: {"processed": 2}, session_factory=factory)
    manual = job_runs.run_recorded("demo", lambda _f, _now: {}, trigger=JobTrigger.MANUAL, session_factory=factory)
    failed = job_runs.run_recorded("demo", lambda _f, _now: {"batch_failures": 1}, session_factory=factory)
    with session_scope(db_url) as s:
        assert [r.id for r in job_runs.recent_runs(s, include_idle=False)] == [failed.id, manual.id, busy.id]
        assert [r.id for r in job_runs.recent_runs(s)] == [failed.id, manual.id, busy.id, idle.id]
        assert s.get(JobRun, idle.id).idle is True


def test_status_sync_with_the_panel_failing_is_a_failed_run(session, panel, db_url: str) -> None:
    # given an order placed on the panel sandbox, then the panel answers every call with HTTP 502
    seed_with_panel(session, panel.base_url)
    paid_order(session, [(product(session, "instagram-followers"), "https://instagram.com/jobs", 500, 690)])
    engine.run_fulfillment(session_scope)
    panel.state.set_knobs(error_rate=1.0)
    # when the status sync job runs through the recording wrapper
    run = job_runs.run_recorded("status_sync", status_sync_job, session_factory=_factory(db_url))
    # then the run reads failed, with the failure count as its message (it was "succeeded" before)
    with session_scope(db_url) as s:
        stored = s.get(JobRun, run.id)
        assert stored.counts["batch_failures"] == 1
        assert (stored.outcome, stored.message) == (JobOutcome.FAILED.value, "batch_failures: 1")
        assert s.execute(select(JobRun.outcome).where(JobRun.idle.is_(True))).all() == []
