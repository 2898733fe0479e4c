"""The panel sandbox follows the common panel API v2 convention, checked over real HTTP with httpx
the way a conventional client calls it: GET or POST, with or without a trailing slash, multi
refill and refill_status, comment lines as quantity, drip-feed, subscriptions, and a JSON error
(never a 500, never a dropped connection) for every malformed request."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

pytestmark = pytest.mark.integration

KEY = "sandbox-demo-key"


@pytest.fixture
def http(panel):
    with httpx.Client(base_url=panel.base_url.removesuffix("/api/v2"), timeout=5) as client:
        yield client


def call(http: httpx.Client, **params: str) -> httpx.Response:
    return http.post("/api/v2", data={"key": KEY, **params})


def test_get_with_query_parameters_is_answered_like_post(panel, http):
    posted = call(http, action="services")
    got = http.get("/api/v2", params={"key": KEY, "action": "services"})
    assert got.status_code == 200 and got.headers["content-type"].startswith("application/json")
    assert got.json() == posted.json()
    # an order placed with GET exists
    placed = http.get(
        "/api/v2", params={"key": KEY, "action": "add", "service": "103", "link": "https://x.test/g", "quantity": "100"}
    )
    assert placed.json() == {"order": 1000}
    assert [o["link"] for o in http.get("/sandbox/orders").json()] == ["https://x.test/g"]


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_trailing_slash_is_answered_not_redirected(http, method):
    params = {"key": KEY, "action": "balance"}
    response = http.get("/api/v2/", params=params) if method == "GET" else http.post("/api/v2/", data=params)
    assert response.status_code == 200  # not 307 (httpx does not follow redirects by default)
    assert response.json() == {"balance": "1000000.00", "currency": "EUR"}


def test_multi_refill_and_multi_refill_status(panel, http):
    first = call(http, action="add", service="103", link="https://x.test/1", quantity="100").json()["order"]
    second = call(http, action="add", service="103", link="https://x.test/2", quantity="100").json()["order"]
    no_refill = call(http, action="add", service="104", link="https://x.test/3", quantity="10").json()["order"]
    refills = call(http, action="refill", orders=f"{first},{second},{no_refill},777777").json()
    assert refills == [
        {"order": first, "refill": 500},
        {"order": second, "refill": 501},
        {"order": str(no_refill), "refill": {"error": "Refill is not available for this order"}},
        {"order": "777777", "refill": {"error": "Incorrect order ID"}},
    ]
    statuses = call(http, action="refill_status", refills="500,501,999").json()
    assert statuses == [
        {"refill": 500, "status": "Completed"},
        {"refill": 501, "status": "Completed"},
        {"refill": "999", "status": {"error": "Incorrect refill ID"}},
    ]


def test_custom_comments_count_the_lines_as_quantity(panel, http):
    comments = "Great!\nLove it\n\n  Wow  \nNice\r\nCool\nSuper\n"
    answer = call(http, action="add", service="105", link="https://x.test/c", comments=comments).json()
    order = panel.state.orders[int(answer["order"])]
    assert order.quantity == 6 and order.charge == Decimal("0.1080")  # 18.00 per 1000 x 6
    # no comments at all is refused, nothing is created
    refused = call(http, action="add", service="105", link="https://x.test/d", comments="\n \n").json()
    assert refused == {"error": "Incorrect comments"} and len(panel.state.orders) == 1


def test_drip_feed_is_charged_per_run_and_refused_without_drip_feed(panel, http):
    answer = call(
        http, action="add", service="101", link="https://x.test/f", quantity="100", runs="3", interval="10"
    ).json()
    order = panel.state.orders[int(answer["order"])]
    assert (order.quantity, order.runs, order.interval) == (300, 3, 10)
    assert order.charge == Decimal("0.2850")  # 0.95 per 1000 x 100 x 3 runs
    assert Decimal(panel.state.knobs.balance) == Decimal("1000000.00") - Decimal("0.2850")
    status = call(http, action="status", order=str(order.id)).json()
    assert (status["runs"], status["interval"]) == (3, 10)
    # service 103 has no drip-feed: refused, nothing created, nothing charged
    refused = call(
        http, action="add", service="103", link="https://x.test/n", quantity="100", runs="3", interval="10"
    ).json()
    assert refused == {"error": "Drip-feed is not available for this service"}
    assert len(panel.state.orders) == 1 and Decimal(panel.state.knobs.balance) == Decimal("999999.7150")
    half = call(http, action="add", service="101", link="https://x.test/h", quantity="100", runs="3").json()
    assert half == {"error": "Drip-feed needs both runs and interval"}


def test_subscription_orders(panel, http):
    panel.state.set_knobs(extra_types=True, polls_to_complete=2)
    assert "Subscriptions" in {s["type"] for s in call(http, action="services").json()}
    answer = call(
        http,
        action="add",
        service="401",
        username="brand",
        min="100",
        max="200",
        posts="5",
        delay="30",
        expiry="31/12/2027",
    ).json()
    order_id = str(answer["order"])
    running = call(http, action="status", order=order_id).json()
    done = call(http, action="status", order=order_id).json()
    assert running["status"] == "Active" and running["expiry"] == "31/12/2027"
    assert done["status"] == "Completed" and done["posts"] == 5
    refused = call(http, action="add", service="401", username="brand", min="300", max="200").json()
    assert "error" in refused and len(panel.state.orders) == 1


def test_more_than_100_ids_are_refused_with_an_error(panel, http):
    order = call(http, action="add", service="103", link="https://x.test/a", quantity="100").json()["order"]
    ids = ",".join([str(order)] * 101)
    for action, name in (
        ("status", "orders"),
        ("cancel", "orders"),
        ("refill", "orders"),
        ("refill_status", "refills"),
    ):
        answer = call(http, action=action, **{name: ids})
        assert answer.json() == {"error": "Too many ids: at most 100 per request"}, action
    # nothing was polled, canceled or refilled
    assert panel.state.orders[order].polls == 0 and not panel.state.orders[order].final_reached
    assert panel.state.refills == {}
    # exactly 100 is fine
    assert len(call(http, action="status", orders=",".join(str(order + i) for i in range(100))).json()) == 100


MALFORMED = [
    ("status ²", {"action": "status", "order": "²"}),
    ("status letters", {"action": "status", "order": "abc"}),
    ("status negative", {"action": "status", "order": "-5"}),
    ("status huge", {"action": "status", "order": "9" * 40}),
    ("status arabic digits", {"action": "status", "order": "١٢"}),
    ("status empty", {"action": "status", "order": ""}),
    ("refill ²", {"action": "refill", "order": "²"}),
    ("refill_status ²", {"action": "refill_status", "refill": "²"}),
    ("refill_status huge", {"action": "refill_status", "refill": "1" * 30}),
    ("add quantity ²", {"action": "add", "service": "103", "link": "https://x.test/q", "quantity": "²"}),
    ("add quantity negative", {"action": "add", "service": "103", "link": "https://x.test/q", "quantity": "-100"}),
    ("add quantity float", {"action": "add", "service": "103", "link": "https://x.test/q", "quantity": "1e3"}),
    ("add quantity huge", {"action": "add", "service": "103", "link": "https://x.test/q", "quantity": "9" * 40}),
    ("add service ²", {"action": "add", "service": "²", "link": "https://x.test/q", "quantity": "100"}),
    (
        "add runs ²",
        {
            "action": "add",
            "service": "101",
            "link": "https://x.test/q",
            "quantity": "100",
            "runs": "²",
            "interval": "5",
        },
    ),
    ("add no link", {"action": "add", "service": "103", "quantity": "100"}),
    ("no action", {}),
    ("unknown action", {"action": "drop_tables"}),
]
MULTI_MALFORMED = [
    ("status multi", {"action": "status", "orders": "²,abc,-1," + "9" * 40}),
    ("cancel multi", {"action": "cancel", "orders": "²,abc,-1"}),
    ("refill multi", {"action": "refill", "orders": "²,abc"}),
    ("refill_status multi", {"action": "refill_status", "refills": "²,-3"}),
]


def test_every_malformed_request_gets_a_json_error_on_a_kept_connection(panel, http):
    for label, params in MALFORMED:
        response = call(http, **params)
        assert response.status_code == 200, label
        assert set(response.json()) == {"error"}, label
    for label, params in MULTI_MALFORMED:
        response = call(http, **params)
        assert response.status_code == 200, label
        entries = response.json().values() if isinstance(response.json(), dict) else response.json()
        assert entries and all("error" in str(entry) for entry in entries), label
    # bad key, broken bodies
    assert http.post("/api/v2", data={"key": "nope", "action": "balance"}).json() == {"error": "Invalid API key"}
    broken = http.post("/api/v2", content=b"{not json", headers={"content-type": "application/json"})
    assert broken.status_code == 200 and "error" in broken.json()
    listed = http.post("/api/v2", json=["key", KEY])
    assert listed.status_code == 200 and "error" in listed.json()
    # every request went over the one keep-alive connection: none was dropped by a crash
    assert len(http._transport._pool.connections) == 1
    assert panel.state.orders == {} and Decimal(panel.state.knobs.balance) == Decimal("1000000.00")
