"""Prometheus metrics: business numbers read from the database at scrape time, plus HTTP timings.

`BusinessCollector` is a custom collector: every scrape runs a handful of GROUP BY queries
(orders, payments, webhooks, fulfilment attempts, queue, dead letters, job runs), so any web
worker answering `/api/metrics` reports the same numbers: they live in the database, not in
a process. HTTP request durations are measured by `smplat.api.metrics.HttpMetricsMiddleware`
in a histogram of this process; with `PROMETHEUS_MULTIPROC_DIR` set (the client library's
multiprocess mode) the workers on one host add theirs together.

`render()` returns the text exposition format; the route in `smplat/api/metrics.py` checks
the bearer token.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlmodel import Session

from smplat.db import session_scope
from smplat.models.fulfillment import FulfillmentAttempt, FulfillmentTask, TaskStatus
from smplat.models.jobs import JobOutcome, JobRun
from smplat.models.orders import Order
from smplat.models.payments import Payment, WebhookEvent
from smplat.models.providers import Provider

SessionFactory = Callable[[], AbstractContextManager[Session]]

# Tasks waiting for or in the hands of a worker: the queue depth.
QUEUE_STATUSES = (
    TaskStatus.PENDING.value,
    TaskStatus.RETRY_WAIT.value,
    TaskStatus.CLAIMED.value,
    TaskStatus.SUBMITTING.value,
)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class BusinessCollector(Collector):
    """Reads the numbers at each scrape (nine statements, each one GROUP BY)."""

    def __init__(self, session_factory: SessionFactory | None = None) -> None:
        self._session_factory = session_factory or session_scope

    def collect(self) -> Iterator[Metric]:
        with self._session_factory() as db:
            yield from _orders(db)
            yield from _payments(db)
            yield from _webhooks(db)
            yield from _fulfilment(db)
            yield from _jobs(db)


def _orders(db: Session) -> Iterator[Metric]:
    count = GaugeMetricFamily(
        "smplat_orders", "Orders by status and payment status", labels=["status", "payment_status"]
    )
    charged = GaugeMetricFamily(
        "smplat_orders_charged_minor", "Money charged on orders, in minor units", labels=["currency"]
    )
    refunded = GaugeMetricFamily(
        "smplat_orders_refunded_minor", "Money refunded on orders, in minor units", labels=["currency"]
    )
    for status, payment_status, n in db.execute(
        select(Order.status, Order.payment_status, func.count()).group_by(Order.status, Order.payment_status)
    ):
        count.add_metric([status, payment_status], n)
    for currency, c, r in db.execute(
        select(Order.currency, func.sum(Order.charged_minor), func.sum(Order.refunded_minor)).group_by(Order.currency)
    ):
        charged.add_metric([currency], int(c or 0))
        refunded.add_metric([currency], int(r or 0))
    yield from (count, charged, refunded)


def _payments(db: Session) -> Iterator[Metric]:
    count = GaugeMetricFamily("smplat_payments", "Payments by kind and status", labels=["kind", "status"])
    amount = GaugeMetricFamily(
        "smplat_payments_amount_minor",
        "Payment amounts by kind, status and currency",
        labels=["kind", "status", "currency"],
    )
    per_status: dict[tuple[str, str], int] = {}
    for kind, status, currency, n, total in db.execute(
        select(Payment.kind, Payment.status, Payment.currency, func.count(), func.sum(Payment.amount_minor)).group_by(
            Payment.kind, Payment.status, Payment.currency
        )
    ):
        amount.add_metric([kind, status, currency], int(total or 0))
        per_status[(kind, status)] = per_status.get((kind, status), 0) + n  # currencies folded together
    for (kind, status), n in sorted(per_status.items()):
        count.add_metric([kind, status], n)
    yield from (count, amount)


def _webhooks(db: Session) -> Iterator[Metric]:
    count = GaugeMetricFamily(
        "smplat_webhook_events",
        "Webhook deliveries by source, type and outcome",
        labels=["source", "event_type", "status"],
    )
    for source, event_type, status, n in db.execute(
        select(WebhookEvent.source, WebhookEvent.event_type, WebhookEvent.status, func.count()).group_by(
            WebhookEvent.source, WebhookEvent.event_type, WebhookEvent.status
        )
    ):
        count.add_metric([source, event_type, status], n)
    yield count


def _fulfilment(db: Session) -> Iterator[Metric]:
    attempts = CounterMetricFamily(
        "smplat_fulfillment_attempts",
        "Provider calls for fulfilment tasks, by provider, task kind and outcome (append-only)",
        labels=["provider", "task_kind", "outcome"],
    )
    latency = GaugeMetricFamily(
        "smplat_fulfillment_attempt_latency_ms_avg",
        "Average latency of provider calls, by provider and task kind",
        labels=["provider", "task_kind"],
    )
    sums: dict[tuple[str, str], list[int]] = {}
    for slug, kind, outcome, n, latency_sum, latency_n in db.execute(
        select(
            Provider.slug,
            FulfillmentAttempt.task_kind,
            FulfillmentAttempt.outcome,
            func.count(),
            func.sum(FulfillmentAttempt.latency_ms),
            func.count(FulfillmentAttempt.latency_ms),
        )
        .select_from(FulfillmentAttempt)
        .outerjoin(Provider, Provider.id == FulfillmentAttempt.provider_id)
        .group_by(Provider.slug, FulfillmentAttempt.task_kind, FulfillmentAttempt.outcome)
    ):
        slug = slug or "none"  # the provider was deleted
        attempts.add_metric([slug, kind, outcome], n)
        acc = sums.setdefault((slug, kind), [0, 0])
        acc[0] += int(latency_sum or 0)
        acc[1] += int(latency_n or 0)
    for (slug, kind), (total, n) in sorted(sums.items()):
        if n:
            latency.add_metric([slug, kind], total / n)

    tasks = GaugeMetricFamily(
        "smplat_fulfillment_tasks", "Fulfilment tasks by kind and status", labels=["kind", "status"]
    )
    queue = GaugeMetricFamily("smplat_fulfillment_queue_depth", "Tasks waiting for or held by a worker")
    dead = GaugeMetricFamily("smplat_dead_letters", "Tasks out of attempts, waiting for an operator")
    depth = dead_letters = 0
    for kind, status, n in db.execute(
        select(FulfillmentTask.kind, FulfillmentTask.status, func.count()).group_by(
            FulfillmentTask.kind, FulfillmentTask.status
        )
    ):
        tasks.add_metric([kind, status], n)
        depth += n if status in QUEUE_STATUSES else 0
        dead_letters += n if status == TaskStatus.DEAD_LETTER.value else 0
    queue.add_metric([], depth)
    dead.add_metric([], dead_letters)
    yield from (attempts, latency, tasks, queue, dead)


def _jobs(db: Session) -> Iterator[Metric]:
    runs = GaugeMetricFamily(
        "smplat_job_runs",
        "Recorded job runs (kept SMPLAT_JOBS_RUN_RETENTION_DAYS) by job and outcome",
        labels=["job", "outcome"],
    )
    durations = SummaryMetricFamily(
        "smplat_job_run_duration_seconds", "Durations of finished job runs, by job", labels=["job"]
    )
    last_finished = GaugeMetricFamily(
        "smplat_job_last_finished_timestamp_seconds", "When each job last finished a run (any outcome)", labels=["job"]
    )
    per_job: dict[str, list[float]] = {}
    for job, outcome, n, ms, ms_n, last in db.execute(
        select(
            JobRun.job_name,
            JobRun.outcome,
            func.count(),
            func.sum(JobRun.duration_ms),
            func.count(JobRun.duration_ms),
            func.max(JobRun.finished_at),
        ).group_by(JobRun.job_name, JobRun.outcome)
    ):
        runs.add_metric([job, outcome], n)
        if outcome in (JobOutcome.RUNNING.value, JobOutcome.SKIPPED.value):
            continue
        acc = per_job.setdefault(job, [0, 0.0, 0.0])
        acc[0] += int(ms_n or 0)
        acc[1] += (ms or 0) / 1000
        if last is not None:
            acc[2] = max(acc[2], last.timestamp())
    for job, (n, seconds, last) in sorted(per_job.items()):
        durations.add_metric([job], count_value=n, sum_value=seconds)
        if last:
            last_finished.add_metric([job], last)
    yield from (runs, durations, last_finished)


# --- HTTP timings (this process) ------------------------------------------------------

_http_registry = CollectorRegistry(auto_describe=True)
HTTP_REQUEST_DURATION = Histogram(
    "smplat_http_request_duration_seconds",
    "HTTP request durations by method, route and status class",
    labelnames=["method", "route", "status"],
    buckets=HTTP_BUCKETS,
    registry=_http_registry,
)


def observe_http(method: str, route: str, status: int, seconds: float) -> None:
    HTTP_REQUEST_DURATION.labels(method, route, f"{status // 100}xx").observe(seconds)


def _http_collector_registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return _http_registry


def render(session_factory: SessionFactory | None = None) -> bytes:
    """The whole exposition: database numbers, then this host's HTTP timings."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BusinessCollector(session_factory))
    return generate_latest(registry) + generate_latest(_http_collector_registry())
