"""Routing and failover through the engine, over real HTTP against two panel sandboxes, on
SQLite and PostgreSQL: every reason a route is skipped, priority order, service-override
add-ons, failover to the next route inside the guardrail on 5xx, timeout, 429 and "not
enough funds", backoff arithmetic on the injected clock, and the lease-lost path."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from smplat.db import session_scope
from smplat.models.base import utcnow
from smplat.models.fulfillment import FulfillmentAttempt, FulfillmentTask
from smplat.models.orders import OrderEvent, OrderItem
from smplat.models.providers import (
    Provider,
    ProviderHealth,
    ProviderOrder,
    ProviderService,
    ProviderServiceStatus,
    ServiceRoute,
)
from smplat.sandbox.panel import DEFAULT_API_KEY, PanelSandbox
from smplat.services import routing
from smplat.services.delivery import DeliverySpec
from smplat.services.fulfillment import engine
from smplat.services.providers import client_for
from smplat.services.secrets_box import encrypt
from smplat.settings import get_settings, reset_settings_cache
from tests.fake_clock import FakeClock
from tests.fulfillment_factory import paid_order, product, seed_with_panel

pytestmark = pytest.mark.integration

LINK = "https://instagram.com/p/route"


@pytest.fixture
def backup_panel():
    """A second provider's panel sandbox (its own server, reset by being new)."""
    with PanelSandbox(port=0) as sandbox:
        yield sandbox


class Shop:
    """The demo shop with Instagram likes routed to the sandbox provider first (priority 10)
    and to a backup provider's equivalent service second (priority 20)."""

    def __init__(self, session, panel, backup_panel) -> None:
        self.session = session
        self.main = seed_with_panel(session, panel.base_url)
        self.likes = product(session, "instagram-likes")
        self.main_route = session.execute(
            select(ServiceRoute).where(ServiceRoute.product_id == self.likes.id)
        ).scalar_one()
        self.main_service = session.get(ProviderService, self.main_route.provider_service_id)
        self.backup = Provider(
            name="Backup Panel",
            slug="backup-panel",
            base_url=backup_panel.base_url,
            api_key_encrypted=encrypt(DEFAULT_API_KEY),
            health_status=ProviderHealth.HEALTHY.value,
            rate_limit_per_second=1000,
            timeout_seconds=10,
            dialect={"lookup_by_ref": True},
        )
        session.add(self.backup)
        session.flush()
        self.backup_service = ProviderService(
            provider_id=self.backup.id,
            external_service_id="103",
            name="Likes (backup)",
            rate_per_1000=Decimal("0.40"),
            min_quantity=10,
            max_quantity=100000,
        )
        session.add(self.backup_service)
        session.flush()
        self.backup_route = ServiceRoute(
            product_id=self.likes.id, provider_service_id=self.backup_service.id, priority=20
        )
        session.add(self.backup_route)
        session.commit()

    def order(self, link: str = LINK, units: int = 1000, price: int = 990, **kw):
        return paid_order(self.session, [(self.likes, link, units, price)], **kw)

    def providers_used(self) -> list[tuple[str, str | None]]:
        """(provider name, external order id) of every provider order, in the order written."""
        self.session.expire_all()
        return [
            (name, ext)
            for name, ext in self.session.execute(
                select(Provider.name, ProviderOrder.external_order_id)
                .join(Provider, Provider.id == ProviderOrder.provider_id)
                .order_by(ProviderOrder.id)
            )
        ]

    def task(self) -> FulfillmentTask:
        self.session.expire_all()
        return self.session.execute(select(FulfillmentTask)).scalars().one()


@pytest.fixture
def shop(session, panel, backup_panel) -> Shop:
    return Shop(session, panel, backup_panel)


def _spec(link: str = LINK, units: int = 1000) -> DeliverySpec:
    return DeliverySpec(link=link, quantity=units, channel="instagram")


# --- priority and skip reasons ---------------------------------------------------------------


def test_routes_are_tried_in_priority_order(shop, panel, backup_panel):
    # given both providers healthy: the priority-10 route takes the first line
    shop.order(link="https://instagram.com/p/first")
    assert engine.run_fulfillment(session_scope) == {"processed": 1, "submitted": 1}
    # when the backup route is given the better priority
    shop.backup_route.priority = 5
    shop.session.add(shop.backup_route)
    shop.session.commit()
    shop.order(link="https://instagram.com/p/second")
    assert engine.run_fulfillment(session_scope) == {"processed": 1, "submitted": 1}
    # then
    assert shop.providers_used() == [("Sandbox Panel", "1000"), ("Backup Panel", "1000")]
    assert list(panel.state.orders_by_link()) == ["https://instagram.com/p/first"]
    assert list(backup_panel.state.orders_by_link()) == ["https://instagram.com/p/second"]


def _margin_blocked(shop: Shop) -> None:
    shop.main_service.rate_per_1000 = Decimal("9.50")  # costs €9.50 of a €9.90 line: a 4 % margin


def _down(shop: Shop) -> None:
    shop.main.health_status = ProviderHealth.DOWN.value


def _low_balance(shop: Shop) -> None:
    shop.main.balance, shop.main.low_balance_threshold = Decimal("25.10"), Decimal("25.00")


def _under_min(shop: Shop) -> None:
    shop.main_service.min_quantity = 5000


def _over_max(shop: Shop) -> None:
    shop.main_service.max_quantity = 500


def _inactive(shop: Shop) -> None:
    shop.main.is_active = False


def _vanished(shop: Shop) -> None:
    shop.main_service.status = ProviderServiceStatus.VANISHED.value


def _route_floor(shop: Shop) -> None:
    shop.main_route.min_margin_bps = 9800  # the route's own floor: 98 %


SKIPS = {
    "margin-blocked": (_margin_blocked, "margin 4.0 % below the floor 10.0 %"),
    "down": (_down, "provider Sandbox Panel is down"),
    "low-balance": (_low_balance, "provider Sandbox Panel balance 25.1000 too low"),
    "under-min": (_under_min, "quantity 1000 outside 5000–"),
    "over-max": (_over_max, "quantity 1000 outside 20–500"),
    "inactive": (_inactive, "provider Sandbox Panel is inactive"),
    "vanished": (_vanished, "service 103 is vanished"),
    "route-floor": (_route_floor, "below the floor 98.0 %"),
}


@pytest.mark.parametrize("why", sorted(SKIPS))
def test_a_skipped_route_sends_the_line_to_the_next_one(shop, panel, backup_panel, why):
    # given the first route made ineligible
    make, reason = SKIPS[why]
    make(shop)
    shop.session.add_all([shop.main, shop.main_service, shop.main_route])
    shop.session.commit()
    shop.order()
    # when
    counts = engine.run_fulfillment(session_scope)
    # then the backup took it, the first panel was never called, and the preview says why
    assert counts == {"processed": 1, "submitted": 1}
    assert shop.providers_used() == [("Backup Panel", "1000")]
    assert panel.state.calls.count("add") == 0
    assert backup_panel.state.orders_by_link() == {LINK: [1000]}
    first, second = routing.preview(shop.session, shop.likes.id, _spec(), 990)
    assert not first.eligible and any(reason in r for r in first.reasons), first.reasons
    assert second.eligible


def test_no_eligible_route_holds_the_line_with_every_reason(shop, panel, backup_panel):
    # given both routes ineligible
    _down(shop)
    shop.backup_service.max_quantity = 500
    shop.session.add_all([shop.main, shop.backup_service])
    shop.session.commit()
    shop.order()
    # when
    engine.run_fulfillment(session_scope)
    # then nothing was sent and the task says why for each route
    assert panel.state.calls.count("add") == backup_panel.state.calls.count("add") == 0
    task = shop.task()
    assert "provider Sandbox Panel is down" in task.last_error
    assert "quantity 1000 outside 10–500" in task.last_error
    assert shop.session.execute(select(OrderItem.status)).scalar_one() == "on_hold"


def test_service_override_add_on_replaces_the_routed_service(session, panel):
    # given followers, whose "premium accounts" add-on overrides the routed service (101) with 102
    seed_with_panel(session, panel.base_url)
    followers = product(session, "instagram-followers")
    paid_order(session, [(followers, "https://instagram.com/plain", 500, 690)])
    paid_order(session, [(followers, "https://instagram.com/premium", 500, 1180)], add_ons=("premium-accounts",))
    # when
    assert engine.run_fulfillment(session_scope) == {"processed": 2, "submitted": 2}
    # then
    by_link = {o.link: o.service for o in panel.state.orders.values()}
    assert by_link == {"https://instagram.com/plain": "101", "https://instagram.com/premium": "102"}


# --- failover -------------------------------------------------------------------------------


def test_5xx_on_add_is_reconciled_then_fails_over_to_the_next_route(shop, panel, backup_panel):
    # given the first panel answers the add with a 502 (before doing anything)
    panel.state.script("add", "http500")
    shop.order()
    clock = FakeClock()
    # when the add is unanswered, and once the reconcile delay has passed
    first = engine.run_fulfillment(session_scope, clock=clock)
    clock.advance(seconds=get_settings().fulfillment_reconcile_delay_seconds + 1)
    second = engine.run_fulfillment(session_scope, clock=clock)
    # then the lookup found nothing on the first panel and the backup took the line at once
    assert first == {"processed": 1, "ambiguous": 1}
    assert second == {"processed": 2, "retried": 1, "submitted": 1}
    assert shop.providers_used() == [("Sandbox Panel", None), ("Backup Panel", "1000")]
    assert panel.state.orders == {} and backup_panel.state.orders_by_link() == {LINK: [1000]}
    assert shop.task().status == "completed"


def test_timeout_on_add_fails_over_to_the_next_route(shop, panel, backup_panel):
    # given the first panel never answers (and creates nothing), with a 1 s timeout
    shop.main.timeout_seconds = 1
    shop.session.add(shop.main)
    shop.session.commit()
    panel.state.set_knobs(hang_seconds=3)
    panel.state.script("add", "hang")
    shop.order()
    clock = FakeClock()
    # when
    first = engine.run_fulfillment(session_scope, clock=clock)
    clock.advance(seconds=get_settings().fulfillment_reconcile_delay_seconds + 1)
    second = engine.run_fulfillment(session_scope, clock=clock)
    # then
    assert first == {"processed": 1, "ambiguous": 1}
    assert second == {"processed": 2, "retried": 1, "submitted": 1}
    assert shop.providers_used() == [("Sandbox Panel", None), ("Backup Panel", "1000")]
    first_attempt = select(FulfillmentAttempt.error).order_by(FulfillmentAttempt.id)
    assert "timed out" in shop.session.execute(first_attempt).scalars().first()


def test_429_fails_over_at_once(shop, panel, backup_panel):
    # given the first panel turns the add away with HTTP 429
    panel.state.script("add", "http429")
    shop.order()
    # when one run goes by
    counts = engine.run_fulfillment(session_scope)
    # then it was a definite no (nothing to reconcile): the backup took it in the same run
    assert counts == {"processed": 2, "retried": 1, "submitted": 1}
    assert shop.providers_used() == [("Sandbox Panel", None), ("Backup Panel", "1000")]
    errors = list(shop.session.execute(select(FulfillmentAttempt.error).order_by(FulfillmentAttempt.id)).scalars())
    assert errors == ["add: HTTP 429 too many requests", ""]


def test_not_enough_funds_fails_over_and_marks_the_balance(shop, panel, backup_panel):
    # given the first panel has 10 cents left (the line costs 35)
    panel.state.set_knobs(balance="0.10")
    shop.order()
    # when
    counts = engine.run_fulfillment(session_scope)
    # then the backup took it, and the first provider's known balance keeps the next line away
    assert counts == {"processed": 2, "retried": 1, "submitted": 1}
    assert shop.providers_used() == [("Sandbox Panel", None), ("Backup Panel", "1000")]
    shop.session.refresh(shop.main)
    assert shop.main.balance == Decimal(0)
    shop.order(link="https://instagram.com/p/next")
    assert engine.run_fulfillment(session_scope) == {"processed": 1, "submitted": 1}
    assert panel.state.calls.count("add") == 1
    assert sorted(backup_panel.state.orders_by_link()) == sorted([LINK, "https://instagram.com/p/next"])


def test_failover_stays_inside_the_guardrail(shop, panel, backup_panel, monkeypatch):
    # given the backup route is below the margin floor, and the first panel answers 429 twice
    shop.backup_service.rate_per_1000 = Decimal("9.50")
    shop.session.add(shop.backup_service)
    shop.session.commit()
    monkeypatch.setenv("SMPLAT_FULFILLMENT_BACKOFF_BASE_SECONDS", "10")
    reset_settings_cache()
    monkeypatch.setattr(random, "uniform", lambda low, high: high)
    panel.state.script("add", "http429")
    shop.order()
    clock = FakeClock()
    # when
    first = engine.run_fulfillment(session_scope, clock=clock)
    # then the line did not go to the backup: it backs off on the first panel, then goes there
    assert first == {"processed": 1, "retried": 1}
    assert backup_panel.state.calls.count("add") == 0
    assert shop.task().next_attempt_at == clock.now + timedelta(seconds=10)
    clock.advance(seconds=10)
    assert engine.run_fulfillment(session_scope, clock=clock) == {"processed": 1, "submitted": 1}
    assert shop.providers_used() == [("Sandbox Panel", None), ("Sandbox Panel", "1000")]
    assert backup_panel.state.calls.count("add") == 0


# --- backoff --------------------------------------------------------------------------------


def test_backoff_doubles_from_the_base_up_to_the_cap_on_the_injected_clock(session, panel, monkeypatch):
    # given a base of 10 s, a cap of 60 s, jitter pinned to its ceiling, and a panel refusing 5 adds
    monkeypatch.setenv("SMPLAT_FULFILLMENT_BACKOFF_BASE_SECONDS", "10")
    monkeypatch.setenv("SMPLAT_FULFILLMENT_BACKOFF_MAX_SECONDS", "60")
    reset_settings_cache()
    monkeypatch.setattr(random, "uniform", lambda low, high: high)
    seed_with_panel(session, panel.base_url)
    paid_order(session, [(product(session, "instagram-likes"), LINK, 1000, 990)])
    session.execute(FulfillmentTask.__table__.update().values(max_attempts=6))
    session.commit()
    panel.state.script("add", *["error:Link is private"] * 5)
    clock = FakeClock()
    delays = []
    for _ in range(5):
        # when a run fails the add
        assert engine.run_fulfillment(session_scope, clock=clock) == {"processed": 1, "retried": 1}
        session.expire_all()
        task = session.execute(select(FulfillmentTask)).scalars().one()
        delay = (task.next_attempt_at - clock.now).total_seconds()
        delays.append(delay)
        # then nothing is due a second before the delay is over
        clock.advance(seconds=delay - 1)
        assert engine.run_fulfillment(session_scope, clock=clock) == {}
        clock.advance(seconds=1)
    assert delays == [10, 20, 40, 60, 60]
    assert engine.run_fulfillment(session_scope, clock=clock) == {"processed": 1, "submitted": 1}


def test_backoff_is_full_jitter_below_the_ceiling():
    settings = get_settings().model_copy(
        update={"fulfillment_backoff_base_seconds": 10.0, "fulfillment_backoff_max_seconds": 60.0}
    )
    rng = random.Random(3)
    for attempts, ceiling in [(1, 10), (2, 20), (3, 40), (4, 60), (9, 60)]:
        draws = [engine.backoff_seconds(attempts, settings, rng) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in draws)
        assert max(draws) > ceiling * 0.9 and min(draws) < ceiling * 0.1  # spread over the whole range
    zero = settings.model_copy(update={"fulfillment_backoff_base_seconds": 0.0})
    assert engine.backoff_seconds(5, zero, rng) == 0.0


# --- lease lost -----------------------------------------------------------------------------


def _claimed_and_called(session, panel, token: str):
    """Claim and prepare every task for `token`, and make the provider calls."""
    now = utcnow()
    settings = get_settings()
    ids = engine.claim_tasks(session, token, 10, now, 60)
    work = engine.prepare(session, token, ids, now, settings)
    provider = session.execute(select(Provider)).scalars().first()

    async def calls() -> None:
        async with client_for(provider) as client:
            for w in work:
                await engine.call_provider(w, client)

    asyncio.run(calls())
    return work, now, settings


@pytest.mark.parametrize("answer", ["accepted", "refused"])
def test_an_outcome_is_not_written_by_a_worker_that_lost_its_lease(session, panel, answer):
    # given a worker that claimed a task and called the panel (accepted: the bulk path;
    # refused: the per-task path)
    seed_with_panel(session, panel.base_url)
    paid_order(session, [(product(session, "instagram-likes"), LINK, 1000, 990)])
    if answer == "refused":
        panel.state.script("add", "error:Link is private")
    work, now, settings = _claimed_and_called(session, panel, "slow-worker")
    assert [w.result for w in work] == ["ok" if answer == "accepted" else "refused"]
    # and meanwhile its lease ran out and another worker claimed the task
    session.execute(FulfillmentTask.__table__.update().values(claimed_by="other-worker"))
    session.commit()
    events_before = len(session.execute(select(OrderEvent.id)).all())
    # when the slow worker records its outcome
    counts = engine.record(session, "slow-worker", work, now, settings)
    # then nothing of it is written: the task is the other worker's
    assert counts == {"lease_lost": 1}
    session.expire_all()
    task = session.execute(select(FulfillmentTask)).scalars().one()
    assert (task.claimed_by, task.status, task.attempts) == ("other-worker", "submitting", 0)
    po = session.execute(select(ProviderOrder)).scalars().one()
    assert (po.external_order_id, po.status) == (None, "pending")
    assert session.execute(select(FulfillmentAttempt.id)).all() == []
    assert len(session.execute(select(OrderEvent.id)).all()) == events_before
