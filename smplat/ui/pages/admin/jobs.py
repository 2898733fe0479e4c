"""Admin jobs page: every scheduled job with its last run, history, and "run now". Live while
open (`LiveState`): one statement per tick (`live.jobs`: a run started or finished)."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import plotly.graph_objects as go
import reflex as rx
from sqlmodel import Session

from smplat.db import session_scope
from smplat.services import audit, live
from smplat.services.permissions import Permission
from smplat.ui import routes
from smplat.ui.components.common import card, data_table, empty_state, loading_block, page_title, status_badge
from smplat.ui.components.layout import admin_page
from smplat.ui.pages.admin._actions import operator_actor
from smplat.ui.registry import NavEntry, page
from smplat.ui.state.auth import AuthState, requires
from smplat.ui.state.live import LiveState, live_ticker


def _run_row(run) -> dict[str, Any]:
    counts = ", ".join(f"{k}: {v}" for k, v in (run.counts or {}).items()) or "—"
    return {
        "id": run.id,
        "job": run.job_name,
        "trigger": run.trigger,
        "outcome": run.outcome,
        "started": run.started_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
        "started_iso": run.started_at.isoformat(),
        "duration_ms": run.duration_ms or 0,
        "duration": f"{run.duration_ms} ms" if run.duration_ms is not None else "running",
        "counts": counts,
        "message": run.message or "",
    }


class JobsState(AuthState, LiveState):
    jobs: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    running: str = ""
    show_idle: bool = False
    figure: go.Figure = go.Figure()
    loaded: bool = False
    live_permission: ClassVar[Permission] = Permission.VIEW_JOBS

    def _live_read(self, db: Session) -> str:
        return live.jobs(db)

    def _live_refresh(self) -> None:
        self._refresh()  # with the operator's "show idle ticks" choice

    def _refresh(self) -> None:
        from jobs import JOBS
        from smplat.services import jobs as job_service

        with session_scope() as db:
            last = job_service.last_run_per_job(db)
            self.runs = [_run_row(r) for r in job_service.recent_runs(db, limit=100, include_idle=self.show_idle)]
        self.figure = history_figure(self.runs)
        self.jobs = []
        for definition in JOBS.values():
            run = last.get(definition.name)
            self.jobs.append(
                {
                    "name": definition.name,
                    "description": definition.description,
                    "every": _every(definition.interval_seconds()),
                    "last_outcome": run.outcome if run else "never run",
                    "last_started": run.started_at.strftime("%Y-%m-%d %H:%M UTC") if run else "—",
                }
            )
        self.loaded = True

    @rx.event
    @requires(Permission.VIEW_JOBS)
    def load_jobs(self) -> None:
        self._live_load()

    @rx.event
    @requires(Permission.VIEW_JOBS)
    def set_show_idle(self, value: bool) -> None:
        self.show_idle = bool(value)
        self._refresh()

    @rx.event(background=True)
    @requires(Permission.RUN_JOBS)
    async def run_now(self, name: str):
        from jobs import UnknownJob, run_job_now

        async with self:
            if self.running:
                return rx.toast.info(f"{self.running} is already running.")
            self.running = name
        actor = await asyncio.to_thread(operator_actor, self)

        def run_and_record():
            run = run_job_now(name, "manual")
            with session_scope() as db:
                audit.record(db, actor, "job.run", "job", name, data={"run_id": run.id, "outcome": run.outcome})
            return run

        try:
            run = await asyncio.to_thread(run_and_record)
        except UnknownJob:
            return rx.toast.error(f"There is no job called {name}.")
        finally:
            async with self:
                self.running = ""
                self._refresh()
        if run.outcome in ("failed", "partial"):
            return rx.toast.error(f"{name} {run.outcome}: {run.message}")
        return rx.toast.success(f"{name} {run.outcome} in {run.duration_ms} ms")


OUTCOME_COLOURS = {"succeeded": "#16a34a", "partial": "#f59e0b", "failed": "#dc2626", "skipped": "#94a3b8"}


def history_figure(runs: list[dict[str, Any]]) -> go.Figure:
    """Run durations over time, one marker per run, coloured by outcome (one trace per outcome)."""
    fig = go.Figure()
    for outcome, colour in OUTCOME_COLOURS.items():
        shown = [r for r in runs if r["outcome"] == outcome]
        if shown:
            fig.add_scatter(
                name=outcome,
                mode="markers",
                x=[r["started_iso"] for r in shown],
                y=[r["duration_ms"] for r in shown],
                text=[r["job"] for r in shown],
                hovertemplate="%{text}<br>%{x}<br>%{y} ms<extra></extra>",
                marker={"color": colour, "size": 9},
            )
    fig.update_layout(
        height=280,
        autosize=True,
        margin={"l": 50, "r": 10, "t": 10, "b": 40},
        yaxis_title="duration (ms)",
        legend={"orientation": "h", "y": -0.25},
        plot_bgcolor="rgba(0,0,0,0)",
        paper_bgcolor="rgba(0,0,0,0)",
        font={"family": "Inter, system-ui, sans-serif"},
    )
    return fig


def _every(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"every {seconds // 3600} h"
    if seconds % 60 == 0:
        return f"every {seconds // 60} min"
    return f"every {seconds} s"


@page(
    route=routes.ADMIN_JOBS,
    title="Jobs",
    guard=Permission.VIEW_JOBS,
    on_load=JobsState.load_jobs,
    nav=NavEntry(group="Operations", label="Jobs", icon="timer", order=30),
)
def admin_jobs_page() -> rx.Component:
    job_cards = rx.grid(
        rx.foreach(
            JobsState.jobs,
            lambda j: card(
                rx.hstack(
                    rx.vstack(
                        rx.hstack(rx.heading(j["name"], size="4"), status_badge(j["last_outcome"]), align="center"),
                        rx.text(j["description"], size="2", color_scheme="gray"),
                        rx.text(j["every"], " · last started ", j["last_started"], size="1", color_scheme="gray"),
                        spacing="1",
                        align="start",
                    ),
                    rx.spacer(),
                    rx.button(
                        rx.icon("play", size=14),
                        "Run now",
                        variant="soft",
                        loading=JobsState.running == j["name"],
                        on_click=JobsState.run_now(j["name"]),
                        id="run-now-" + j["name"].to(str),
                    ),
                    width="100%",
                    align="start",
                )
            ),
        ),
        columns="1",
        spacing="3",
        width="100%",
    )
    history = data_table(
        ["Job", "Started", "Trigger", "Outcome", "Duration", "Counts", "Message"],
        JobsState.runs,
        lambda r: [
            rx.table.row_header_cell(r["job"]),
            rx.table.cell(r["started"]),
            rx.table.cell(r["trigger"]),
            rx.table.cell(status_badge(r["outcome"])),
            rx.table.cell(r["duration"]),
            rx.table.cell(r["counts"]),
            rx.table.cell(rx.text(r["message"], size="1", color_scheme="gray")),
        ],
        "job-runs-table",
    )
    return admin_page(
        page_title("Jobs", "Background work of the jobs process, with every run recorded."),
        live_ticker(JobsState.live_tick),
        rx.cond(
            JobsState.loaded,
            rx.vstack(
                job_cards,
                rx.hstack(
                    rx.heading("Run history", size="5"),
                    rx.spacer(),
                    rx.text("Show idle ticks", size="2", color_scheme="gray"),
                    rx.switch(checked=JobsState.show_idle, on_change=JobsState.set_show_idle, id="show-idle-runs"),
                    width="100%",
                    align="center",
                    margin_top="1rem",
                ),
                rx.cond(
                    JobsState.runs.length() > 0,
                    card(
                        rx.box(
                            rx.plotly(
                                data=JobsState.figure,
                                use_resize_handler=True,
                                config={"responsive": True, "displayModeBar": False},
                                style={"width": "100%"},
                            ),
                            width="100%",
                            overflow="hidden",
                        ),
                        width="100%",
                        id="job-history-chart",
                    ),
                ),
                rx.cond(
                    JobsState.runs.length() > 0,
                    history,
                    empty_state(
                        "timer",
                        "No runs yet",
                        "The jobs process records a row here for every run (idle ticks are hidden unless shown).",
                    ),
                ),
                spacing="4",
                width="100%",
                align="start",
            ),
            loading_block(),
        ),
    )
