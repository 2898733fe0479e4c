"""Admin → Jobs: idle ticks hidden by default (a switch shows them), run history charted by outcome."""

from __future__ import annotations

import pytest

from smplat.db import session_scope
from smplat.models.accounts import Role
from smplat.services import jobs as job_runs
from smplat.ui import routes
from smplat.ui.pages.admin.jobs import JobsState

pytestmark = pytest.mark.integration


async def test_jobs_page_hides_idle_ticks_and_charts_outcomes(db_url, root_state, session_cookie_for) -> None:
    # given an idle tick, a busy tick and a run whose provider calls failed
    factory = lambda: session_scope(db_url)  # noqa: E731
    job_runs.run_recorded("fulfillment", lambda _f, _n: {"processed": 0}, session_factory=factory)
    job_runs.run_recorded("fulfillment", lambda _f, _n: {"processed": 2}, session_factory=factory)
    job_runs.run_recorded("status_sync", lambda _f, _n: {"polled": 0, "batch_failures": 1}, session_factory=factory)
    state = await root_state(JobsState, routes.ADMIN_JOBS, cookie=session_cookie_for(Role.OPERATOR))
    # when an operator opens the page
    state.load_jobs()
    # then the idle tick is not listed, the failure reads failed with its reason, and the chart has both
    assert [(r["job"], r["outcome"], r["message"]) for r in state.runs] == [
        ("status_sync", "failed", "batch_failures: 1"),
        ("fulfillment", "succeeded", ""),
    ]
    jobs = {j["name"]: j["last_outcome"] for j in state.jobs}
    assert jobs["status_sync"] == "failed"
    traces = {t.name: len(t.x) for t in state.figure.data}
    assert traces == {"succeeded": 1, "failed": 1}
    # when the switch shows idle ticks
    state.set_show_idle(True)
    assert len(state.runs) == 3
    assert {t.name: len(t.x) for t in state.figure.data} == {"succeeded": 2, "failed": 1}


async def test_the_idle_switch_refuses_a_customer(sqlite_url, root_state, session_cookie_for) -> None:
    job_runs.run_recorded(
        "fulfillment", lambda _f, _n: {"processed": 2}, session_factory=lambda: session_scope(sqlite_url)
    )
    state = await root_state(JobsState, routes.ADMIN_JOBS, cookie=session_cookie_for(Role.CUSTOMER))
    state.set_show_idle(True)
    assert state.runs == [] and state.show_idle is False
