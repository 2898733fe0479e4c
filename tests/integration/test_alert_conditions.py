"""Every alert condition, raised from real rows with its numbers in the message."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from smplat.db import session_scope
from smplat.models.base import utcnow
from smplat.models.fulfillment import FulfillmentAttempt, FulfillmentTask, TaskStatus
from smplat.services.alerts import evaluate
from smplat.services.fulfillment import engine
from smplat.settings import get_settings
from tests.fulfillment_factory import paid_order, product, seed_with_panel

pytestmark = pytest.mark.integration


def test_each_condition_raises_its_alert(session, panel):
    # given two lines of one product delivered through the one provider,
    provider = seed_with_panel(session, panel.base_url)
    likes = product(session, "instagram-likes")
    paid_order(
        session, [(likes, "https://instagram.com/p/al1", 1000, 990), (likes, "https://instagram.com/p/al2", 1000, 990)]
    )
    assert engine.run_fulfillment(session_scope) == {"processed": 2, "submitted": 2}
    # a dead letter, 3 failed attempts of 10 in the hour, the provider down and low on funds
    paid_order(session, [(likes, "https://instagram.com/p/al3", 1000, 990)])
    stuck = (
        session.execute(select(FulfillmentTask).where(FulfillmentTask.status == TaskStatus.PENDING.value))
        .scalars()
        .one()
    )
    stuck.status = TaskStatus.DEAD_LETTER.value
    for outcome in ["retried"] * 3 + ["succeeded"] * 5:
        session.add(FulfillmentAttempt(task_id=stuck.id, provider_id=provider.id, task_kind="submit", outcome=outcome))
    provider.health_status, provider.balance, provider.low_balance_threshold = "down", Decimal(3), Decimal(10)
    session.commit()
    settings = get_settings().model_copy(update={"alert_provider_share_min_orders": 2})

    # when the conditions are evaluated
    alerts = evaluate(session, utcnow(), settings)

    # then each one is raised once, with its numbers
    assert [(a.kind, a.message) for a in alerts] == [
        ("dead_letters", "1 fulfilment task(s) in the dead letters"),
        ("provider_down", "Provider Sandbox Panel is down"),
        ("low_balance", "Provider Sandbox Panel balance 3.00 EUR is below 10.00 EUR"),
        ("failure_rate", "Provider Sandbox Panel failed 3 of 10 attempts in the last hour"),
        ("provider_share", f"Provider Sandbox Panel carries 2 of 2 orders of product {likes.id} in the last day"),
    ]


def test_healthy_quiet_shop_raises_nothing(session, panel):
    seed_with_panel(session, panel.base_url)
    likes = product(session, "instagram-likes")
    paid_order(session, [(likes, "https://instagram.com/p/q1", 1000, 990)])
    assert engine.run_fulfillment(session_scope) == {"processed": 1, "submitted": 1}
    assert evaluate(session, utcnow(), get_settings()) == []
