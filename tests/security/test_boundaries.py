"""Boundaries: signed Stripe webhooks of the wrong shape or signed at the wrong time are
refused (400) and store nothing, through real HTTP on the API app; CSV exports never hand
a spreadsheet a formula, through the CLI."""

from __future__ import annotations

import csv
import io
import json
import time

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from smplat import cli
from smplat.api.app import build_api
from smplat.db import session_scope
from smplat.models.orders import Order
from smplat.models.payments import WebhookEvent
from smplat.models.providers import Provider, ProviderService
from smplat.sandbox.stripe_sandbox import sign_payload
from smplat.services import counters
from smplat.services.csv_safe import neutralise_cell, restore_cell
from smplat.services.seed import seed_demo
from smplat.settings import SANDBOX_STRIPE_WEBHOOK_SECRET

pytestmark = pytest.mark.integration


def _count(model) -> int:
    with session_scope() as db:
        return db.execute(select(func.count()).select_from(model)).scalar_one()


def _post_signed(client: TestClient, payload: str, timestamp: int | None = None):
    header = sign_payload(payload, SANDBOX_STRIPE_WEBHOOK_SECRET, timestamp or int(time.time()))
    return client.post(
        "/api/stripe/webhook", content=payload, headers={"Stripe-Signature": header, "Content-Type": "application/json"}
    )


def _event(obj) -> dict:
    return {
        "id": "evt_boundary_1",
        "object": "event",
        "type": "checkout.session.completed",
        "created": int(time.time()),
        "data": {"object": obj},
    }


BAD_SHAPES = {
    "array": json.dumps([_event({"id": "cs_1"})]),
    "string": json.dumps("checkout.session.completed"),
    "number": "42",
    "null": "null",
    "data-object-is-a-list": json.dumps(_event([{"id": "cs_1"}])),
    "data-object-is-a-string": json.dumps(_event("cs_1")),
    "data-is-a-list": json.dumps({**_event({}), "data": [1, 2]}),
    "no-data": json.dumps({k: v for k, v in _event({}).items() if k != "data"}),
    "id-not-a-string": json.dumps({**_event({"id": "cs_1"}), "id": 7}),
}


@pytest.mark.parametrize("name", list(BAD_SHAPES))
def test_signed_webhook_of_the_wrong_shape_is_refused_and_stores_nothing(db_url, name):
    # given a correctly signed body that is not an event object with an object `data.object`
    with TestClient(build_api()) as client:
        # when Stripe's endpoint receives it
        answer = _post_signed(client, BAD_SHAPES[name])
    # then it is refused with 400, nothing is stored, the rejection is counted
    assert answer.status_code == 400
    assert answer.json() == {"error": "invalid payload"}
    assert (_count(WebhookEvent), _count(Order)) == (0, 0)
    with session_scope() as db:
        assert counters.read_counters(db)["webhooks_rejected"] == 1


# "just past" ahead keeps 20 s of margin: the clock moves on between signing and checking (a
# slow start of the client once took more than a second, and 301 s ahead became 299.x)
@pytest.mark.parametrize(
    "offset",
    [24 * 3600, 320, -301, -24 * 3600],
    ids=["24h-ahead", "just-past-tolerance-ahead", "just-past-tolerance-behind", "24h-old"],
)
def test_signature_outside_the_tolerance_either_way_is_refused(db_url, offset):
    # given a well-formed event signed with the right secret at now + offset
    payload = json.dumps(_event({"id": "cs_time", "object": "checkout.session"}))
    with TestClient(build_api()) as client:
        answer = _post_signed(client, payload, int(time.time()) + offset)
    # then 400, and nothing stored
    assert answer.status_code == 400
    assert (_count(WebhookEvent), _count(Order)) == (0, 0)


def test_signature_a_minute_ahead_is_within_tolerance(db_url):
    # given an ignorable event type signed one minute in the future (clock skew)
    payload = json.dumps(
        {
            "id": "evt_skew",
            "object": "event",
            "type": "customer.created",
            "created": int(time.time()),
            "data": {"object": {"id": "cus_1", "object": "customer"}},
        }
    )
    with TestClient(build_api()) as client:
        answer = _post_signed(client, payload, int(time.time()) + 60)
    # then it is accepted and stored once
    assert answer.status_code == 200
    assert _count(WebhookEvent) == 1


# --- CSV formula injection ---------------------------------------------------------------------------

FORMULAS = [
    '=HYPERLINK("https://evil.example","Click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A2)",
    "\t=1+1",
    "\r=1+1",
]


@pytest.mark.parametrize("value", FORMULAS)
def test_cell_helper_neutralises_every_trigger_and_round_trips(value):
    assert neutralise_cell(value) == "'" + value
    assert restore_cell(neutralise_cell(value)) == value
    assert neutralise_cell("Instagram followers") == "Instagram followers"
    assert neutralise_cell(12) == 12


def test_cli_export_neutralises_formulas_and_imports_back_unchanged(db_url, tmp_path):
    # given provider services whose names and categories start with formula characters
    with session_scope() as db:
        seed_demo(db)
        provider_id = db.execute(select(Provider.id).where(Provider.slug == "sandbox-panel")).scalar_one()
        services = list(
            db.execute(
                select(ProviderService)
                .where(ProviderService.provider_id == provider_id)
                .order_by(ProviderService.external_service_id)
            ).scalars()
        )
        for service, formula in zip(services, FORMULAS, strict=False):  # the first len(FORMULAS) services
            service.name = formula
            service.category = "@" + service.category
        names_before = {s.external_service_id: (s.name, s.category) for s in services}
    out = tmp_path / "services.csv"

    # when exported through the CLI
    code = cli.main(["providers", "export", "--provider", "sandbox-panel", "--format", "csv", "--output", str(out)])

    # then no cell starts with a formula trigger, and the text is still all there
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out.read_bytes().decode("utf-8"), newline="")))
    assert len(rows) == len(services)
    for row in rows:
        for cell in row.values():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), row
    by_id = {row["service"]: row for row in rows}
    for formula, service in zip(FORMULAS, services, strict=False):
        assert by_id[service.external_service_id]["name"] == "'" + formula

    # and importing the file back changes nothing (the importer trims whitespace around names,
    # so the tab and carriage-return cases come back trimmed, as any imported name does)
    assert cli.main(["providers", "import", "--provider", "sandbox-panel", str(out)]) == 0
    with session_scope() as db:
        after = {
            s.external_service_id: (s.name, s.category)
            for s in db.execute(select(ProviderService).where(ProviderService.provider_id == provider_id)).scalars()
        }
    assert after == {key: (name.strip(), category) for key, (name, category) in names_before.items()}
