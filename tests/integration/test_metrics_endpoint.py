"""GET /api/metrics: Prometheus text read back by the client library's parser equals the database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import Session
from starlette.testclient import TestClient

from smplat import db as smplat_db
from smplat.api.app import build_api
from smplat.models.base import utcnow
from smplat.models.fulfillment import FulfillmentAttempt, FulfillmentTask
from smplat.models.jobs import JobRun
from smplat.models.orders import Order, OrderItem
from smplat.models.payments import Payment, WebhookEvent
from smplat.models.providers import Provider
from smplat.settings import reset_settings_cache

pytestmark = pytest.mark.integration

TOKEN = "scrape-token-0123456789"


@pytest.fixture
def api(db_url: str, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.setenv("SMPLAT_METRICS_TOKEN", TOKEN)
    reset_settings_cache()
    return TestClient(build_api())


def _history(url: str) -> None:
    now = utcnow()
    with Session(smplat_db.get_engine(url), expire_on_commit=False) as s:
        fast = Provider(name="Fast", slug="fast", base_url="http://127.0.0.1:1/api/v2")
        slow = Provider(name="Slow", slug="slow", base_url="http://127.0.0.1:2/api/v2")
        orders = [
            Order(status="completed", payment_status="paid", charged_minor=1500, total_minor=1500),
            Order(status="processing", payment_status="paid", charged_minor=2500, total_minor=2500),
            Order(status="canceled", payment_status="refunded", charged_minor=1000, refunded_minor=1000),
            Order(status="pending", payment_status="unpaid"),
        ]
        s.add_all([fast, slow, *orders])
        s.flush()
        items = [OrderItem(order_id=o.id, product_title="Followers", total_minor=o.total_minor) for o in orders]
        s.add_all(items)
        s.flush()
        tasks = [
            FulfillmentTask(order_item_id=items[0].id, status="completed", idempotency_key="t1"),
            FulfillmentTask(order_item_id=items[1].id, status="pending", idempotency_key="t2"),
            FulfillmentTask(order_item_id=items[1].id, status="retry_wait", idempotency_key="t3"),
            FulfillmentTask(order_item_id=items[2].id, status="dead_letter", idempotency_key="t4"),
            FulfillmentTask(order_item_id=items[2].id, kind="refill", status="dead_letter", idempotency_key="t5"),
        ]
        s.add_all(tasks)
        s.flush()
        s.add_all(
            [
                FulfillmentAttempt(
                    task_id=tasks[0].id, provider_id=fast.id, task_kind="submit", outcome="succeeded", latency_ms=100
                ),
                FulfillmentAttempt(
                    task_id=tasks[1].id, provider_id=fast.id, task_kind="submit", outcome="succeeded", latency_ms=300
                ),
                FulfillmentAttempt(
                    task_id=tasks[2].id, provider_id=slow.id, task_kind="submit", outcome="retried", latency_ms=900
                ),
                FulfillmentAttempt(task_id=tasks[3].id, provider_id=slow.id, task_kind="submit", outcome="retried"),
                FulfillmentAttempt(
                    task_id=tasks[3].id, provider_id=slow.id, task_kind="submit", outcome="dead_lettered"
                ),
                Payment(order_id=orders[0].id, kind="charge", status="succeeded", amount_minor=1500),
                Payment(order_id=orders[1].id, kind="charge", status="succeeded", amount_minor=2500),
                Payment(order_id=orders[2].id, kind="charge", status="succeeded", amount_minor=1000),
                Payment(order_id=orders[2].id, kind="refund", status="succeeded", amount_minor=1000),
                Payment(order_id=orders[3].id, kind="charge", status="failed", amount_minor=700),
                WebhookEvent(external_id="evt_1", event_type="checkout.session.completed", status="processed"),
                WebhookEvent(external_id="evt_2", event_type="checkout.session.completed", status="processed"),
                WebhookEvent(external_id="evt_3", event_type="charge.refunded", status="failed"),
                JobRun(
                    job_name="status_sync",
                    outcome="succeeded",
                    started_at=now - timedelta(minutes=2),
                    finished_at=now - timedelta(minutes=2),
                    duration_ms=1500,
                ),
                JobRun(
                    job_name="status_sync",
                    outcome="failed",
                    started_at=now - timedelta(minutes=1),
                    finished_at=now - timedelta(minutes=1),
                    duration_ms=500,
                ),
                JobRun(job_name="status_sync", outcome="running", started_at=now),
                JobRun(job_name="fulfillment", outcome="succeeded", started_at=now, finished_at=now, duration_ms=250),
            ]
        )
        s.commit()


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _get(samples: dict, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def test_metrics_equal_the_database(api: TestClient, db_url: str) -> None:
    _history(db_url)
    answer = api.get("/api/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    got = _samples(answer.text)

    assert _get(got, "smplat_orders", status="completed", payment_status="paid") == 1
    assert _get(got, "smplat_orders", status="pending", payment_status="unpaid") == 1
    assert sum(v for (name, _), v in got.items() if name == "smplat_orders") == 4
    assert _get(got, "smplat_orders_charged_minor", currency="EUR") == 5000
    assert _get(got, "smplat_orders_refunded_minor", currency="EUR") == 1000

    assert _get(got, "smplat_payments", kind="charge", status="succeeded") == 3
    assert _get(got, "smplat_payments", kind="charge", status="failed") == 1
    assert _get(got, "smplat_payments_amount_minor", kind="charge", status="succeeded", currency="EUR") == 5000
    assert _get(got, "smplat_payments_amount_minor", kind="refund", status="succeeded", currency="EUR") == 1000

    assert (
        _get(got, "smplat_webhook_events", source="stripe", event_type="checkout.session.completed", status="processed")
        == 2
    )
    assert _get(got, "smplat_webhook_events", source="stripe", event_type="charge.refunded", status="failed") == 1

    attempts = "smplat_fulfillment_attempts_total"
    assert _get(got, attempts, provider="fast", task_kind="submit", outcome="succeeded") == 2
    assert _get(got, attempts, provider="slow", task_kind="submit", outcome="retried") == 2
    assert _get(got, attempts, provider="slow", task_kind="submit", outcome="dead_lettered") == 1
    assert _get(got, "smplat_fulfillment_attempt_latency_ms_avg", provider="fast", task_kind="submit") == 200
    assert _get(got, "smplat_fulfillment_attempt_latency_ms_avg", provider="slow", task_kind="submit") == 900
    assert _get(got, "smplat_fulfillment_queue_depth") == 2  # pending + retry_wait
    assert _get(got, "smplat_dead_letters") == 2
    assert _get(got, "smplat_fulfillment_tasks", kind="refill", status="dead_letter") == 1

    assert _get(got, "smplat_job_runs", job="status_sync", outcome="failed") == 1
    assert _get(got, "smplat_job_runs", job="status_sync", outcome="running") == 1
    assert _get(got, "smplat_job_run_duration_seconds_count", job="status_sync") == 2
    assert _get(got, "smplat_job_run_duration_seconds_sum", job="status_sync") == 2.0
    assert _get(got, "smplat_job_run_duration_seconds_sum", job="fulfillment") == 0.25

    # the scrape itself was timed by the middleware (in this process's histogram)
    again = _samples(api.get("/api/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text)
    count = _get(again, "smplat_http_request_duration_seconds_count", method="GET", route="/api/metrics", status="2xx")
    assert count >= 1


def test_metrics_statements_do_not_grow_with_rows(api: TestClient, db_url: str, count_queries) -> None:
    with count_queries(db_url) as empty:
        api.get("/api/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    _history(db_url)
    with count_queries(db_url) as full:
        api.get("/api/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert full.count == empty.count <= 10, full


@pytest.mark.parametrize("header", [None, "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer "])
def test_wrong_or_missing_token_is_refused(api: TestClient, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    answer = api.get("/api/metrics", headers=headers)
    assert answer.status_code == 401
    assert "smplat_orders" not in answer.text


def test_no_token_configured_means_no_endpoint(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SMPLAT_METRICS_TOKEN", raising=False)
    reset_settings_cache()
    answer = TestClient(build_api()).get("/api/metrics", headers={"Authorization": "Bearer "})
    assert answer.status_code == 404
    assert "smplat_" not in answer.text
