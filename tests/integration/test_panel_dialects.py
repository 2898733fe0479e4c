"""Contract test per dialect preset: the real client, speaking the preset, against the panel
sandbox speaking that family over real HTTP (`/d/<speech>/api/v2`): every action, every
order type, every status word, every error shape."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from smplat.integrations.dialects import PRESETS, PanelDialect
from smplat.integrations.panel import (
    PanelClient,
    PanelRateLimited,
    PanelRefused,
    PanelUnavailable,
)
from smplat.models.providers import ProviderOrderStatus as S
from smplat.models.providers import RefillStatus as R

pytestmark = pytest.mark.integration

KEY = "sandbox-demo-key"

# preset -> (sandbox speech, transport, key parameter, trailing slash, HTTP status of a refusal)
FAMILIES = {
    "perfect_panel": ("perfect", "form", "key", False, 200),
    "strict_http": ("strict", "json", "api_token", True, 404),
    "legacy_get": ("legacy", "query", "api", False, 200),
}

# the words each family says, and what they mean to us
WORDS = {
    "perfect_panel": {
        "Pending": S.PENDING,
        "In progress": S.IN_PROGRESS,
        "in_progress": S.IN_PROGRESS,
        "Processing": S.PROCESSING,
        "Active": S.IN_PROGRESS,
        "COMPLETED": S.COMPLETED,
        "Partial": S.PARTIAL,
        "Canceled": S.CANCELED,
        "Cancelled": S.CANCELED,
        "Refunded": S.REFUNDED,
    },
    "strict_http": {
        "Pending": S.PENDING,
        "Processing": S.IN_PROGRESS,
        "Active": S.IN_PROGRESS,
        "Completed": S.COMPLETED,
        "Partial": S.PARTIAL,
        "Cancelled": S.CANCELED,
        "Refunded": S.REFUNDED,
    },
    "legacy_get": {
        "Awaiting": S.PENDING,
        "Running": S.IN_PROGRESS,
        "Active": S.IN_PROGRESS,
        "Done": S.COMPLETED,
        "Partially done": S.PARTIAL,
        "cancelled": S.CANCELED,
        "Refunded": S.REFUNDED,
    },
}
REFILL_WORDS = {
    "perfect_panel": {
        "Pending": R.PENDING,
        "In progress": R.IN_PROGRESS,
        "Completed": R.COMPLETED,
        "Rejected": R.REJECTED,
    },
    "strict_http": {
        "pending": R.PENDING,
        "Processing": R.IN_PROGRESS,
        "completed": R.COMPLETED,
        "rejected": R.REJECTED,
    },
    "legacy_get": {"Awaiting": R.PENDING, "Running": R.IN_PROGRESS, "Done": R.COMPLETED, "rejected": R.REJECTED},
}


@pytest.fixture(params=list(FAMILIES))
def family(request, panel):
    preset = request.param
    speech, transport, key_param, slash, refusal_code = FAMILIES[preset]
    panel.state.set_knobs(extra_types=True)
    root = panel.base_url.removesuffix("/api/v2")
    return {
        "preset": preset,
        "dialect": PRESETS[preset],
        "url": f"{root}/d/{speech}/api/v2",
        "transport": transport,
        "key_param": key_param,
        "slash": slash,
        "refusal_code": refusal_code,
        "panel": panel,
    }


def client(family, key: str = KEY, dialect: PanelDialect | None = None) -> PanelClient:
    return PanelClient(
        family["url"], key, timeout_seconds=3, rate_limit_per_second=1000, dialect=dialect or family["dialect"]
    )


async def test_every_action_in_the_dialect(family):
    panel = family["panel"]
    async with client(family) as c:
        services = await c.services()
        balance = await c.balance()
        first = await c.add("103", "https://x.test/a", 100)
        second = await c.add("101", "https://x.test/b", 200, runs=2, interval=15)  # 100 per run
        one = await c.status(first)
        many = await c.statuses([first, second, "99999"])
        refill = await c.refill(first)
        refills = await c.refills([first, second, "99999"])
        refill_state = await c.refill_status(refill)
        refill_states = await c.refill_statuses([refill, "77777"])
        third = await c.add("101", "https://x.test/c", 100)
        canceled = await c.cancel([third, first, "99999"])
    assert {"101", "401", "409"} <= {s.service for s in services}
    assert balance.balance == Decimal("1000000.00") and balance.currency == "EUR"
    assert Decimal(panel.state.knobs.balance) == Decimal("1000000.00") - Decimal("0.0350") - Decimal(
        "0.1900"
    ) - Decimal("0.0950")
    assert one.status == S.COMPLETED and one.remains == 0
    assert many[second].status == S.COMPLETED and isinstance(many["99999"], PanelRefused)
    assert panel.state.orders[int(second)].quantity == 200  # drip-feed: 100 per run x 2 runs
    assert isinstance(refills[first], str) and refills[first] != refill
    assert isinstance(refills["99999"], PanelRefused)
    assert refill_state == (R.COMPLETED, refill_state[1])
    assert refill_states[refill][0] == R.COMPLETED and isinstance(refill_states["77777"], PanelRefused)
    assert canceled[third] == "1" and isinstance(canceled[first], PanelRefused)
    # every call went the dialect's way: transport, key parameter, path
    requests = panel.state.requests
    assert len(requests) == 12
    assert {r["transport"] for r in requests} == {family["transport"]}
    assert {r["method"] for r in requests} == {"GET" if family["transport"] == "query" else "POST"}
    assert {r["path"].endswith("/") for r in requests} == {family["slash"]}
    assert all(family["key_param"] in r["params"] for r in requests)
    assert all(k not in r["params"] for r in requests for k in {"key", "api", "api_token"} - {family["key_param"]})


ORDER_TYPES = [
    # (service, type, link, quantity, extra, expected sandbox quantity, expected charge)
    ("101", "Default", "https://x.test/d", 300, {"runs": 3, "interval": 10}, 300, "0.2850"),
    (
        "105",
        "Custom Comments",
        "https://x.test/cc",
        0,
        {"comments": ["Nice", "Wow", "Great", "Love", "Cool"]},
        5,
        "0.0900",
    ),
    ("402", "Package", "https://x.test/p", 0, {}, 1, "5.0000"),
    ("403", "Mentions Custom List", "https://x.test/m1", 0, {"usernames": ["a", "b", "c", "d", "e"]}, 5, "0.0150"),
    ("404", "Mentions User Followers", "https://x.test/m2", 100, {"username": "brand"}, 100, "0.3000"),
    (
        "405",
        "Mentions with Hashtags",
        "https://x.test/m3",
        100,
        {"usernames": ["a"], "hashtags": ["#x"]},
        100,
        "0.3500",
    ),
    ("406", "Mentions Hashtag", "https://x.test/m4", 100, {"hashtag": "#x"}, 100, "0.3000"),
    ("407", "Mentions Media Likers", "https://x.test/m5", 100, {"media": "https://x.test/media"}, 100, "0.3000"),
    ("408", "Poll", "https://x.test/poll", 100, {"answer_number": 2}, 100, "0.1000"),
    ("409", "Comment Likes", "https://x.test/cl", 100, {"username": "fan"}, 100, "0.2000"),
    (
        "401",
        "Subscriptions",
        "",
        0,
        {"username": "brand", "min": 100, "max": 200, "posts": 5, "delay": 30, "expiry": "31/12/2027"},
        200,
        "0.4000",
    ),
]


@pytest.mark.parametrize("service,kind,link,quantity,extra,units,charge", ORDER_TYPES, ids=[t[1] for t in ORDER_TYPES])
async def test_every_order_type_is_submitted_with_its_parameters(
    family, service, kind, link, quantity, extra, units, charge
):
    panel = family["panel"]
    extra = dict(extra)
    runs, interval = extra.pop("runs", None), extra.pop("interval", None)
    comments = extra.pop("comments", None)
    async with client(family) as c:
        order_id = await c.add(
            service, link, quantity, runs=runs, interval=interval, comments=comments, service_type=kind, extra=extra
        )
        status = await c.status(order_id)
    order = panel.state.orders[int(order_id)]
    assert (order.kind, order.quantity, order.charge) == (kind, units, Decimal(charge))
    assert status.status == S.COMPLETED
    sent = set(panel.state.requests[0]["params"]) - {family["key_param"], "action", "service"}
    assert sent <= set(family["dialect"].params_for(kind)), sent  # only the type's own parameters


async def test_every_status_word_and_remains(family):
    panel = family["panel"]
    async with client(family) as c:
        order_id = await c.add("103", "https://x.test/w", 100)
        for word, ours in WORDS[family["preset"]].items():
            panel.state.set_knobs(force_status=word)
            answer = (await c.statuses([order_id]))[order_id]
            assert (answer.status, answer.raw_status) == (ours, word)
        # a word outside the vocabulary is unknown, never pending
        panel.state.set_knobs(force_status="On hold")
        assert (await c.status(order_id)).status == S.UNKNOWN
        panel.state.set_knobs(force_status="Completed", force_remains="Unknown")
        assert (await c.status(order_id)).remains is None
        panel.state.set_knobs(force_remains="-20")
        over = await c.status(order_id)
        assert (over.remains, over.over_delivered) == (-20, 20)
        panel.state.set_knobs(force_remains=None, force_status="")
        refill_id = await c.refill(order_id)
    for word, ours in REFILL_WORDS[family["preset"]].items():
        assert family["dialect"].refill_status(word) == ours
    panel.state.set_knobs(refill_reject=True)
    async with client(family) as c:
        assert (await c.refill_status(refill_id))[0] == R.REJECTED
    # an unknown refill word is an error for the operator, never "pending"
    assert family["dialect"].refill_status("On hold") is None


async def test_every_error_shape(family):
    panel = family["panel"]
    async with client(family, key="wrong") as c:
        with pytest.raises(PanelRefused, match="Invalid API key"):
            await c.balance()
    async with client(family) as c:
        with pytest.raises(PanelRefused, match="Incorrect service ID") as refused:
            await c.add("999", "https://x.test/e", 100)
        assert not isinstance(refused.value, PanelUnavailable)
        with pytest.raises(PanelRefused, match="Drip-feed is not available"):
            await c.add("103", "https://x.test/e", 100, runs=2, interval=5)
        panel.state.set_knobs(balance="0.01")
        with pytest.raises(PanelRefused, match="Not enough funds"):
            await c.add("103", "https://x.test/e", 1000)
        panel.state.script("balance", "http429", "http500", "malformed")
        with pytest.raises(PanelRateLimited):
            await c.balance()
        with pytest.raises(PanelUnavailable, match="HTTP 502"):
            await c.balance()
        with pytest.raises(PanelUnavailable, match="malformed JSON"):
            await c.balance()
        panel.state.script("add", "error:You have active order with this link")
        with pytest.raises(PanelRefused) as active:
            await c.add("103", "https://x.test/e", 100)
        assert active.value.is_active_link
    assert panel.state.orders == {}
    # the refusal came the family's way: an HTTP 200 body or a real 4xx
    params = {
        family["key_param"]: KEY,
        "action": "add",
        "service": "999",
        "link": "https://x.test/e",
        "quantity": "100",
    }
    url = family["url"] + ("/" if family["slash"] else "")
    raw = {
        "form": lambda: httpx.post(url, data=params),
        "json": lambda: httpx.post(url, json=params),
        "query": lambda: httpx.get(url, params=params),
    }[family["transport"]]()
    assert raw.status_code == family["refusal_code"] and raw.json()["error"] == "Incorrect service ID"


async def test_ids_per_call_and_rate_limit_of_the_dialect(panel):
    from smplat.models.providers import Provider
    from smplat.services.providers import client_for

    dialect = PanelDialect.parse({"preset": "perfect_panel", "max_ids_per_call": 2, "rate_limit_per_second": 2.5})
    async with PanelClient(panel.base_url, KEY, rate_limit_per_second=1000, dialect=dialect) as c:
        ids = [await c.add("103", f"https://x.test/{i}", 100) for i in range(5)]
        panel.state.calls.clear()
        answers = await c.statuses(ids)
    assert panel.state.calls == ["status", "status", "status"]  # 2 + 2 + 1 ids
    assert all(a.status == S.COMPLETED for a in answers.values())
    provider = Provider(id=4242, name="P", slug="p", base_url=panel.base_url, dialect=dialect.stored())
    client = client_for(provider)
    try:
        assert client.limiter.rate == 2.5 and client.dialect == dialect
    finally:
        await client.aclose()
