"""A provider's dialect in the shop: the engine and the status sync speak it over real HTTP,
a status word outside it flags the provider order (never "pending"), the admin edits it
(validated, bad input changes nothing), "Test connection" reports without echoing the
panel, and the CLI carries it through export/import."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import select

from smplat import cli
from smplat.db import session_scope
from smplat.models.accounts import Role
from smplat.models.orders import OrderItem
from smplat.models.providers import Provider, ProviderOrder
from smplat.services import audit, providers
from smplat.services.fulfillment import engine, read_models, status_sync
from smplat.services.permissions import Permission, refusal_message
from smplat.services.seed import SANDBOX_PROVIDER_SLUG
from smplat.ui.pages.admin.fulfilment import FulfilmentState
from smplat.ui.pages.admin.provider import ProviderDetailState
from tests.fulfillment_factory import paid_order, product, seed_with_panel

ADMIN = audit.Actor(None, "admin@smplat.local", "admin")

pytestmark = pytest.mark.integration


def _legacy_provider(session, panel) -> Provider:
    provider = seed_with_panel(session, panel.base_url.replace("/api/v2", "/d/legacy/api/v2"))
    provider.dialect = {"preset": "legacy_get"}
    session.commit()
    return provider


async def test_unknown_status_word_flags_the_provider_order_never_pending(
    session, panel, root_state, session_cookie_for
):
    # given an order fulfilled through a legacy-dialect panel (GET query, `api` key, its own words)
    _legacy_provider(session, panel)
    paid_order(session, [(product(session, "instagram-likes"), "https://instagram.com/p/legacy", 1000, 990)])
    assert (await asyncio.to_thread(engine.run_fulfillment, session_scope))["submitted"] == 1
    assert {r["transport"] for r in panel.state.requests} == {"query"}
    # when the panel answers a word its dialect does not know
    panel.state.set_knobs(force_status="On hold")
    counts = await asyncio.to_thread(status_sync.sync_statuses, session_scope)
    # then the provider order is flagged with the raw answer, still open, the line untouched
    session.expire_all()
    po = session.execute(select(ProviderOrder)).scalars().one()
    item = session.execute(select(OrderItem)).scalars().one()
    assert counts["flagged"] == 1
    assert (po.status, po.raw_status) == ("unknown", "On hold") and po.flagged_at is not None
    assert "On hold" in po.flag_reason and po.last_response["status"] == "On hold"
    assert item.status != "pending" and item.delivered_quantity == 0
    [flagged] = read_models.flagged_provider_orders(session)
    assert (flagged["raw_status"], flagged["external_order_id"]) == ("On hold", po.external_order_id)
    assert '"status": "On hold"' in flagged["raw_answer"]
    # the operator sees it on Admin → Fulfilment
    page = await root_state(FulfilmentState, "/admin/fulfilment", cookie=session_cookie_for(Role.OPERATOR))
    page.load()
    assert [(f["raw_status"], f["provider"]) for f in page.flagged] == [("On hold", "Sandbox Panel")]
    # and on the provider's page
    provider_id = po.provider_id
    detail = await root_state(
        ProviderDetailState,
        f"/admin/providers/{provider_id}",
        params={"provider_id": str(provider_id)},
        cookie=session_cookie_for(Role.OPERATOR),
    )
    detail.load()
    assert [f["raw_status"] for f in detail.flagged_orders] == ["On hold"]
    # when the panel says a word of its vocabulary again ("Done"), the flag clears and it completes
    panel.state.set_knobs(force_status="")
    await asyncio.to_thread(status_sync.sync_statuses, session_scope)
    session.expire_all()
    po = session.get(ProviderOrder, po.id)
    assert (po.status, po.raw_status, po.flagged_at, po.flag_reason) == ("completed", "Done", None, "")
    assert session.get(OrderItem, item.id).status == "completed"
    assert read_models.flagged_provider_orders(session) == []


def test_dialect_is_validated_and_bad_input_changes_nothing(session):
    from smplat.services.seed import seed_demo

    seed_demo(session)
    session.commit()
    provider = session.execute(select(Provider).where(Provider.slug == SANDBOX_PROVIDER_SLUG)).scalars().one()
    before = dict(provider.dialect)
    bad_inputs = {
        "{not json": "the dialect is not valid JSON",
        "[1, 2]": "must be a JSON object",
        '{"transport": "soap"}': "transport: Input should be",
        '{"key_param": "a b"}': "key_param: Value error, must be a parameter name",
        '{"status_words": {"Done": "finished"}}': "'Done' maps to 'finished'",
        '{"preset": "nope"}': "unknown preset 'nope'",
        '{"max_ids_per_call": 500}': "max_ids_per_call: Input should be less than or equal to 100",
        '{"order_params": {"Default": ["key"]}}': "bad parameter name(s) key",
        '{"surprise": 1}': "surprise: Extra inputs are not permitted",
    }
    for text, message in bad_inputs.items():
        with pytest.raises(providers.ProviderInputError, match="dialect: ") as refused:
            providers.update_dialect(session, provider.id, text, actor=ADMIN)
        assert message in str(refused.value), text
        session.rollback()
        assert session.get(Provider, provider.id).dialect == before
    # a good one: the strict preset with one word added
    chosen = providers.update_dialect(
        session, provider.id, '{"preset": "strict_http", "status_words": {"On Hold": "pending"}}', actor=ADMIN
    )
    session.commit()
    stored = session.get(Provider, provider.id).dialect
    assert chosen.transport == "json" and stored["key_param"] == "api_token"
    assert stored["status_words"] == {"on hold": "pending"}


async def test_admin_edits_the_dialect_and_an_operator_cannot(
    session, panel, root_state, session_cookie_for, is_toast_error
):
    provider = seed_with_panel(session, panel.base_url)
    path, params = f"/admin/providers/{provider.id}", {"provider_id": str(provider.id)}
    admin = await root_state(ProviderDetailState, path, params=params, cookie=session_cookie_for(Role.ADMIN))
    admin.load()
    assert json.loads(admin.dialect)["preset"] == "perfect_panel"
    before = dict(provider.dialect)
    # bad JSON: a clear error, nothing stored
    admin.save_dialect({"dialect_preset": "edited", "dialect_text": '{"transport": "carrier pigeon"}'})
    assert admin.form_error.startswith("dialect: transport:")
    with session_scope() as db:
        assert db.get(Provider, provider.id).dialect == before
    # a preset chosen from the list
    admin.save_dialect({"dialect_preset": "legacy_get", "dialect_text": "ignored"})
    assert admin.notice == "Dialect saved (legacy_get)." and json.loads(admin.dialect)["key_param"] == "api"
    # an operator may test the connection but not change the dialect
    operator = await root_state(ProviderDetailState, path, params=params, cookie=session_cookie_for(Role.OPERATOR))
    result = operator.save_dialect({"dialect_preset": "perfect_panel", "dialect_text": ""})
    assert is_toast_error(result, refusal_message(Permission.MANAGE_PROVIDERS))
    with session_scope() as db:
        assert db.get(Provider, provider.id).dialect["preset"] == "legacy_get"


def test_connection_calls_services_and_balance_and_never_echoes_the_panel(session, panel):
    provider = seed_with_panel(session, panel.base_url)
    ok, message = providers.try_connection(session, provider.id, actor=ADMIN)
    assert ok and message.startswith("Connected: 11 services listed, balance 1000000.00 EUR")
    assert panel.state.calls == ["services", "balance"]
    # a panel answering something else: a classified sentence, never its reply
    panel.state.script("balance", "error:<script>alert('secret-token-123')</script>")
    ok, message = providers.try_connection(session, provider.id, actor=ADMIN)
    assert not ok and message == (
        "Connection failed at balance: the panel refused the request (check the API key and the base URL)."
    )
    panel.state.script("services", "malformed")
    ok, message = providers.try_connection(session, provider.id, actor=ADMIN)
    assert (
        not ok and message == "Connection failed at services: the panel answered something that is not the panel API."
    )
    # the connection is made in the provider's dialect
    provider = session.get(Provider, provider.id)
    provider.base_url, provider.dialect = (
        panel.base_url.replace("/api/v2", "/d/strict/api/v2"),
        {"preset": "strict_http"},
    )
    session.commit()
    panel.state.requests.clear()
    assert providers.try_connection(session, provider.id, actor=ADMIN)[0]
    assert {(r["transport"], r["path"].endswith("/")) for r in panel.state.requests} == {("json", True)}


def test_cli_carries_the_dialect_through_export_and_import(session, tmp_path, capsys):
    from smplat.services.seed import seed_demo

    seed_demo(session)
    session.commit()
    provider = session.execute(select(Provider).where(Provider.slug == SANDBOX_PROVIDER_SLUG)).scalars().one()
    providers.update_dialect(session, provider.id, {"preset": "legacy_get", "note": "carried"}, actor=ADMIN)
    session.commit()
    out = tmp_path / "dialect.json"
    assert (
        cli.main(
            ["providers", "export", "--provider", SANDBOX_PROVIDER_SLUG, "--format", "dialect", "--output", str(out)]
        )
        == 0
    )
    exported = json.loads(out.read_text())
    assert exported["dialect"]["preset"] == "legacy_get" and exported["dialect"]["note"] == "carried"
    # imported into another shop's provider (here: after resetting it)
    providers.update_dialect(session, provider.id, {"preset": "perfect_panel"}, actor=ADMIN)
    session.commit()
    assert cli.main(["providers", "import", "--provider", SANDBOX_PROVIDER_SLUG, str(out)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"smplat: imported {SANDBOX_PROVIDER_SLUG} dialect"
    session.expire_all()
    assert session.get(Provider, provider.id).dialect == exported["dialect"]
    # a bad dialect in the file: refused, nothing changed
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"dialect": {"transport": "fax"}, "services": []}))
    assert cli.main(["providers", "import", "--provider", SANDBOX_PROVIDER_SLUG, str(bad)]) == 2
    assert "dialect: transport" in capsys.readouterr().err
    session.expire_all()
    assert session.get(Provider, provider.id).dialect == exported["dialect"]
