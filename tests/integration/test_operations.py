"""Operator surfaces: provider health job, alerts over real SMTP/HTTP, scheduled replays, the
customer refill API, provider create/edit, services import/export (service and CLI), and the
operator page handlers refusing customers."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from jobs.definitions import provider_health, scheduled_replays
from smplat import cli
from smplat.api.app import build_api
from smplat.db import session_scope
from smplat.models.accounts import Role, User
from smplat.models.base import utcnow
from smplat.models.fulfillment import FulfillmentTask
from smplat.models.orders import OrderEvent, OrderItem
from smplat.models.providers import (
    AlertNotice,
    Provider,
    ProviderHealthCheck,
    ProviderService,
    Refill,
    ScheduledReplay,
)
from smplat.sandbox.smtp_sink import SmtpSink, list_messages
from smplat.sandbox.webhook_sink import WebhookSink
from smplat.services import alerts, audit, providers
from smplat.services.fulfillment import engine, operator_actions, status_sync
from smplat.services.order_status import Actor
from smplat.services.secrets_box import decrypt
from smplat.settings import get_settings, reset_settings_cache
from smplat.ui.pages.admin.dead_letters import DeadLettersState
from smplat.ui.pages.admin.fulfilment import FulfilmentState
from smplat.ui.pages.admin.order import OrderDetailState
from smplat.ui.pages.admin.provider import ProviderDetailState
from smplat.ui.pages.admin.providers import ProvidersState
from smplat.ui.state.auth import STAFF_ONLY_MESSAGE
from tests.fulfillment_factory import paid_order, product, seed_with_panel

pytestmark = pytest.mark.integration


def _sandbox_provider(session) -> Provider:
    return session.execute(select(Provider).where(Provider.slug == "sandbox-panel")).scalars().one()


def _count(session, model) -> int:
    return session.execute(select(func.count()).select_from(model)).scalar_one()


@pytest.fixture
def _state(root_state):
    """`await _state(cls, cookie, path, query)`: an admin page's state for that session cookie."""

    def make(cls, cookie: str, path: str = "/admin", query: dict | None = None):
        return root_state(cls, path, query=query, cookie=cookie)

    return make


# --- provider health job and alerts ---------------------------------------------------------


def test_provider_health_job_records_health_refreshes_balance_and_alerts_low_balance_once(
    session, panel, tmp_path, monkeypatch
):
    # given the sandbox provider with a 100 EUR low-balance threshold, a panel wallet of 42.50,
    # and both alert channels pointed at the local sinks
    provider = seed_with_panel(session, panel.base_url)
    provider.low_balance_threshold = Decimal(100)
    session.add(provider)
    session.commit()
    panel.state.set_knobs(balance="42.50", extra_types=True)  # the seed routes every order type
    with (
        SmtpSink("127.0.0.1", 0, tmp_path / "mailbox") as smtp,
        WebhookSink("127.0.0.1", 0, tmp_path / "hooks") as hooks,
    ):
        monkeypatch.setenv("SMPLAT_SMTP_PORT", str(smtp.port))
        monkeypatch.setenv("SMPLAT_SMTP_STARTTLS", "false")
        monkeypatch.setenv("SMPLAT_ALERT_EMAIL_TO", "ops@shop.example")
        monkeypatch.setenv("SMPLAT_ALERT_WEBHOOK_URL", hooks.url)
        reset_settings_cache()
        now = utcnow()
        # when the health job runs, then the alerts job twice within the repeat limit
        health = provider_health(session_scope, now)
        first = alerts.run_alerts(session_scope, now)
        second = alerts.run_alerts(session_scope, now + timedelta(minutes=5))
        posts = hooks.posts()
    # then
    assert health == {"checked": 1, "healthy": 1, "down": 0, "low_balance": 1, "services_vanished": 0}
    session.expire_all()
    provider = session.get(Provider, provider.id)
    assert (provider.health_status, provider.balance, provider.last_health_check_at is not None) == (
        "healthy",
        Decimal("42.5000"),
        True,
    )
    checks = list(session.execute(select(ProviderHealthCheck)).scalars())
    assert [(c.ok, c.balance, c.error) for c in checks] == [(True, Decimal("42.5000"), "")]
    assert first == {"emailed": 1, "webhooks": 1, "send_errors": 0, "raised": 1, "sent": 1}
    assert second == {"emailed": 0, "webhooks": 0, "send_errors": 0, "raised": 1, "sent": 0}
    mails = list_messages(tmp_path / "mailbox")
    assert len(mails) == 1
    assert mails[0].to == ["ops@shop.example"]
    assert "Sandbox Panel balance 42.50 EUR is below 100.00 EUR" in mails[0].subject
    assert len(posts) == 1
    assert "[low_balance] Provider Sandbox Panel balance 42.50 EUR is below 100.00 EUR" in posts[0]["body"]["text"]
    assert session.execute(select(AlertNotice.times_raised, AlertNotice.kind)).all() == [(2, "low_balance")]


def test_failing_provider_is_degraded_then_down_and_nothing_is_refreshed(session, panel):
    # given the provider pointed at the live panel sandbox, which answers every call with HTTP 502
    provider = seed_with_panel(session, panel.base_url)
    balance_before = provider.balance
    services_before = session.execute(
        select(
            ProviderService.external_service_id,
            ProviderService.status,
            ProviderService.rate_per_1000,
            ProviderService.last_synced_at,
        )
        .where(ProviderService.provider_id == provider.id)
        .order_by(ProviderService.id)
    ).all()
    panel.state.set_knobs(error_rate=1.0)
    # when two checks fail
    first = provider_health(session_scope, utcnow())
    calls_in_first_check = len(panel.state.calls)
    second = provider_health(session_scope, utcnow() + timedelta(minutes=15))
    # then
    assert (first["down"], second["down"]) == (0, 1)
    session.expire_all()
    provider = session.get(Provider, provider.id)
    assert (provider.health_status, provider.balance) == ("down", balance_before)
    assert [c.ok for c in session.execute(select(ProviderHealthCheck)).scalars()] == [False, False]
    # the checks did reach the panel (so the failure is the panel's answer, not a dead address),
    # the second asked what the first did, and nothing was refreshed from the failed answers
    assert calls_in_first_check >= 1 and len(panel.state.calls) == 2 * calls_in_first_check
    assert "add" not in panel.state.calls and panel.state.orders == {}
    assert (
        session.execute(
            select(
                ProviderService.external_service_id,
                ProviderService.status,
                ProviderService.rate_per_1000,
                ProviderService.last_synced_at,
            )
            .where(ProviderService.provider_id == provider.id)
            .order_by(ProviderService.id)
        ).all()
        == services_before
    )


# --- scheduled replays, customer refill API ------------------------------------------------


def _delivered_order(session, panel, user_id=None):
    seed_with_panel(session, panel.base_url)
    order = paid_order(
        session, [(product(session, "instagram-followers"), "https://instagram.com/ops", 500, 690)], user_id=user_id
    )
    engine.run_fulfillment(session_scope)
    status_sync.sync_statuses(session_scope)
    session.expire_all()
    return order, session.execute(select(OrderItem).where(OrderItem.order_id == order.id)).scalars().one()


def test_scheduled_replay_is_queued_once_when_due_and_sent(session, panel):
    # given a delivered line with a replay scheduled in an hour
    order, item = _delivered_order(session, panel)
    now = utcnow()
    operator_actions.schedule_replay(
        session, item.id, now + timedelta(hours=1), Actor.operator(None, "op@shop.example"), "drop"
    )
    session.commit()
    # when the job runs before, at, and again after the time
    early = scheduled_replays(session_scope, now)
    due = scheduled_replays(session_scope, now + timedelta(hours=2))
    again = scheduled_replays(session_scope, now + timedelta(hours=3))
    sent_before_it_was_due = engine.run_fulfillment(session_scope, now + timedelta(hours=1))
    sent = engine.run_fulfillment(session_scope, now + timedelta(hours=3))
    # then
    assert (early, due, again) == ({"queued": 0, "failed": 0}, {"queued": 1, "failed": 0}, {"queued": 0, "failed": 0})
    assert (sent_before_it_was_due, sent) == ({}, {"processed": 1, "submitted": 1})
    assert panel.state.calls.count("add") == 2
    session.expire_all()
    assert session.execute(select(ScheduledReplay.status)).scalars().all() == ["completed"]
    replays = [
        e.actor_label
        for e in session.execute(
            select(OrderEvent)
            .where(OrderEvent.order_id == order.id, OrderEvent.kind == "replay")
            .order_by(OrderEvent.id)
        ).scalars()
    ]
    assert replays == ["op@shop.example", "job:replays"]


def test_a_replay_cannot_be_scheduled_in_the_past(session, panel):
    _order, item = _delivered_order(session, panel)
    events_before = session.execute(select(func.count()).select_from(OrderEvent)).scalar_one()
    with pytest.raises(operator_actions.RefillRefused, match="must be in the future"):
        operator_actions.schedule_replay(
            session, item.id, utcnow() - timedelta(minutes=1), Actor.operator(None, "op@shop.example"), "drop"
        )
    session.rollback()
    assert session.execute(select(func.count()).select_from(ScheduledReplay)).scalar_one() == 0
    assert session.execute(select(func.count()).select_from(OrderEvent)).scalar_one() == events_before


def test_customer_refill_api_sends_the_refill_to_the_panel(session, panel, session_cookie_for):
    # given the customer's delivered order
    seed_with_panel(session, panel.base_url)
    client_user = session.execute(select(User).where(User.email == "client@smplat.local")).scalars().one()
    order, item = _delivered_order(session, panel, user_id=client_user.id)
    cookie = session_cookie_for(Role.CUSTOMER, "client@smplat.local")
    api = TestClient(build_api())
    # when the owner asks for a refill through the API
    answer = api.post(
        f"/api/order-items/{item.id}/refill",
        json={"reason": "lost 60 followers"},
        cookies={get_settings().session_cookie_name: cookie},
    )
    sent = engine.run_fulfillment(session_scope)
    # then
    assert answer.status_code == 202
    assert answer.json()["status"] == "requested"
    assert sent == {"processed": 1, "refills_sent": 1}
    assert panel.state.calls.count("refill") == 1
    session.expire_all()
    assert session.execute(select(Refill.status, Refill.reason)).all() == [("pending", "lost 60 followers")]
    events = [
        (e.actor_label, e.message)
        for e in session.execute(
            select(OrderEvent)
            .where(OrderEvent.order_id == order.id, OrderEvent.kind == "refill")
            .order_by(OrderEvent.id)
        ).scalars()
    ]
    assert events[0] == ("client@smplat.local", "Refill requested by client@smplat.local: lost 60 followers")
    assert len(events) == 2


# --- provider create / edit through the page handlers ---------------------------------------


async def test_provider_create_and_edit_keep_the_key_encrypted_and_out_of_page_state(
    sqlite_url, _state, session_cookie_for
):
    cookie = session_cookie_for(Role.ADMIN, "admin@ops.test")
    state = await _state(ProvidersState, cookie)
    form = {
        "name": "North Panel",
        "slug": "north",
        "base_url": "https://north.example/api/v2",
        "api_key": "sk-north-123456",
        "rate_limit_per_second": "8",
        "timeout_seconds": "15",
        "low_balance_threshold": "25",
    }
    # when created, then edited with an empty key field
    state.create(form)
    with session_scope() as db:
        provider = db.execute(select(Provider).where(Provider.slug == "north")).scalars().one()
    detail = await _state(
        ProviderDetailState, cookie, f"/admin/providers/{provider.id}", {"provider_id": str(provider.id)}
    )
    detail.load()
    detail.save({**form, "name": "North Panel EU", "api_key": ""})
    # then
    with session_scope() as db:
        saved = db.get(Provider, provider.id)
        assert (saved.name, saved.rate_limit_per_second, saved.low_balance_threshold) == (
            "North Panel EU",
            8,
            Decimal(25),
        )
        assert "sk-north-123456" not in saved.api_key_encrypted
        assert decrypt(saved.api_key_encrypted) == "sk-north-123456"
    assert state.form_error == "" and detail.form_error == ""
    assert detail.provider["key_set"] is True and "api_key" not in detail.provider
    assert "sk-north-123456" not in json.dumps(detail.dict(), default=str)
    assert "sk-north-123456" not in json.dumps(state.dict(), default=str)


async def test_bad_provider_form_stores_nothing(sqlite_url, _state, session_cookie_for):
    state = await _state(ProvidersState, session_cookie_for(Role.ADMIN, "admin@ops.test"))
    state.create({"name": "", "slug": "X", "base_url": "ftp://nope", "api_key": "", "rate_limit_per_second": "many"})
    assert state.form_error == "rate limit per second must be a whole number"
    state.create({"name": "", "slug": "X", "base_url": "ftp://nope", "api_key": ""})
    assert state.form_error == (
        "name is required (at most 120 characters); slug must be 2–80 lower-case letters, "
        "digits or dashes; base URL must be an http(s) URL, e.g. https://panel.example/api/v2; "
        "API key is required"
    )
    with session_scope() as db:
        assert _count(db, Provider) == 0


# --- services import / export ---------------------------------------------------------------

ADMIN = audit.Actor.cli()  # the shell account: an admin


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_services_export_then_import_into_another_provider_round_trips(session, fmt):
    # given the seeded sandbox provider (20 services) and an empty second provider
    from smplat.services.seed import seed_demo

    seed_demo(session)
    source = _sandbox_provider(session)
    target = providers.create_provider(
        session, providers.ProviderForm("Copy", "copy", "https://copy.example/api/v2", "k"), actor=ADMIN
    )
    session.commit()
    exported = providers.export_services(session, source.id, fmt, actor=ADMIN)
    # when
    counts = providers.import_services(session, target.id, exported, fmt, actor=ADMIN)
    session.commit()
    # then
    assert counts == {"created": 20, "updated": 0, "vanished": 0, "returned": 0}
    assert providers.export_services(session, target.id, fmt, actor=ADMIN) == exported


def test_import_with_bad_rows_names_each_and_imports_nothing(session):
    from smplat.services.seed import seed_demo

    seed_demo(session)
    session.commit()
    provider = _sandbox_provider(session)
    before = _count(session, ProviderService)
    text = (
        "service,name,rate,min,max\n900,Good,1.00,10,100\n901,Bad rate,abc,10,100\n"
        "902,Bad min,1.00,x,100\n900,Twice,1.00,10,100\n"
    )
    with pytest.raises(providers.ProviderInputError) as refused:
        providers.import_services(session, provider.id, text, "csv", actor=ADMIN)
    assert len(refused.value.problems) == 3
    assert [p.split(":")[0] for p in refused.value.problems] == ["line 3", "line 4", "line 5"]
    assert refused.value.problems[2] == "line 5: service 900 appears twice"
    session.rollback()
    assert _count(session, ProviderService) == before


def test_cli_exports_and_imports_services(session, tmp_path, capsys):
    from smplat.services.seed import seed_demo

    seed_demo(session)
    session.commit()
    out = tmp_path / "services.json"
    # when exported to a file and imported back
    exported = cli.main(
        ["providers", "export", "--provider", "sandbox-panel", "--format", "json", "--output", str(out)]
    )
    imported = cli.main(["providers", "import", "--provider", "sandbox-panel", str(out)])
    # then
    assert (exported, imported) == (0, 0)
    assert len(json.loads(out.read_text())) == 20
    assert capsys.readouterr().out.splitlines()[-1] == "smplat: imported sandbox-panel services: 0 created, 20 updated"


def test_cli_import_refuses_bad_rows_with_one_line_each(session, tmp_path, capsys):
    from smplat.services.seed import seed_demo

    seed_demo(session)
    session.commit()
    before = _count(session, ProviderService)
    bad = tmp_path / "bad.csv"
    bad.write_text("service,name,rate,min,max\n950,New,1.00,10,100\n951,Bad,abc,10,100\n952,Bad,1.00,10,x\n")
    # when
    code = cli.main(["providers", "import", "--provider", "sandbox-panel", str(bad)])
    # then
    err = capsys.readouterr().err.splitlines()
    assert code == 2
    assert [line.split(":")[1].strip() for line in err[:2]] == ["line 3", "line 4"]
    assert err[-1] == "smplat: nothing was imported"
    session.expire_all()
    assert _count(session, ProviderService) == before


# --- operator handlers refuse customers ------------------------------------------------------


async def test_operator_page_handlers_refuse_a_customer(sqlite_url, _state, session_cookie_for):
    cookie = session_cookie_for(Role.CUSTOMER, "buyer@ops.test")
    calls = [
        (ProvidersState, "load", ()),
        (ProvidersState, "create", ({"name": "x", "slug": "xx", "base_url": "https://x.y", "api_key": "k"},)),
        (ProviderDetailState, "load", ()),
        (ProviderDetailState, "save", ({"name": "x"},)),
        (ProviderDetailState, "import_file", ({"services_text": "", "services_format": "csv"},)),
        (DeadLettersState, "load", ()),
        (DeadLettersState, "act", ({"task_id": "1", "action": "retry", "reason": "r"},)),
        (OrderDetailState, "load", ()),
        (OrderDetailState, "act", ({"item_id": "1", "action": "replay", "reason": "r"},)),
        (FulfilmentState, "load", ()),
    ]
    for cls, name, args in calls:
        state = await _state(cls, cookie)
        result = getattr(state, name)(*args)
        assert STAFF_ONLY_MESSAGE in str(result), (cls.__name__, name)
        assert state.loaded is False
    with session_scope() as db:
        assert (_count(db, Provider), _count(db, FulfillmentTask), _count(db, OrderEvent)) == (0, 0, 0)


async def test_dead_letter_retry_from_the_page_writes_who_and_why(session, panel, _state, session_cookie_for):
    # given a dead-lettered task
    seed_with_panel(session, panel.base_url)
    order = paid_order(session, [(product(session, "instagram-likes"), "https://instagram.com/p/dl", 1000, 990)])
    task = session.execute(select(FulfillmentTask)).scalars().one()
    task.status = "dead_letter"
    session.add(task)
    session.commit()
    state = await _state(DeadLettersState, session_cookie_for(Role.OPERATOR, "op@dl.test"))
    state.load()
    assert [r["task_id"] for r in state.rows] == [task.id]
    # when retried without, then with a reason
    state.act({"task_id": str(task.id), "action": "retry", "reason": ""})
    refused = state.error
    state.act({"task_id": str(task.id), "action": "retry", "reason": "panel fixed"})
    # then
    assert refused == "Say why (it goes on the order's timeline)."
    assert state.rows == []
    session.expire_all()
    assert session.get(FulfillmentTask, task.id).status == "pending"
    assert session.execute(
        select(OrderEvent.actor_label, OrderEvent.message).where(
            OrderEvent.order_id == order.id, OrderEvent.kind == "manual_override"
        )
    ).all() == [("op@dl.test", f"Task {task.id} (submit) retried by op@dl.test: panel fixed")]


async def test_order_page_shows_the_services_words_for_a_missing_reason(session, panel, _state, session_cookie_for):
    # given a line on the order page
    seed_with_panel(session, panel.base_url)
    order = paid_order(session, [(product(session, "instagram-followers"), "https://instagram.com/why", 500, 690)])
    item = session.execute(select(OrderItem).where(OrderItem.order_id == order.id)).scalars().one()
    state = await _state(
        OrderDetailState,
        session_cookie_for(Role.OPERATOR, "op@why.test"),
        f"/admin/orders/{order.number}",
        {"number": order.number},
    )
    state.load()
    events_before = session.execute(select(func.count()).select_from(OrderEvent)).scalar_one()
    # when a refill is asked for without a reason
    state.act({"item_id": str(item.id), "action": "refill", "reason": "  "})
    # then the page shows the service's message and nothing was queued
    assert state.error == "say why the refill is needed"
    session.expire_all()
    assert (_count(session, Refill), _count(session, OrderEvent)) == (0, events_before)
