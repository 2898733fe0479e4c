"""Panel API v2 for resellers over real HTTP (uvicorn on loopback, httpx as a panel client
written to the convention: form POST with `key` and `action`, JSON answers), on SQLite and
PostgreSQL: every action, every refusal, idempotency keys, and 50 concurrent `add` calls
against a wallet that covers only 30."""

from __future__ import annotations

import math
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select

from smplat import cli
from smplat.api.app import build_api
from smplat.db import session_scope
from smplat.models.accounts import Role
from smplat.models.audit import AuditLog
from smplat.models.base import utcnow
from smplat.models.catalog import Product
from smplat.models.checkout import CheckoutSession
from smplat.models.orders import Order, OrderItem
from smplat.models.payments import Payment
from smplat.models.providers import ProviderOrder
from smplat.models.resellers import ResellerAccount, ResellerLedgerEntry
from smplat.services import accounts, audit, fulfillment, resellers
from smplat.services.catalog import get_product_detail
from smplat.services.checkout import refunds
from smplat.services.errors import ServiceError
from smplat.services.money import pro_rata
from smplat.services.seed import seed_demo
from smplat.settings import reset_settings_cache
from tests.fulfillment_factory import seed_with_panel

pytestmark = pytest.mark.integration

EMAIL = "reseller@example.test"
FOLLOWERS = 1  # seeded Instagram Followers: 500..5000
COMMENTS = 3  # seeded Instagram Comments: 10..100
LINK = "https://www.instagram.com/brand/"


class Server:
    def __init__(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self._server = uvicorn.Server(
            uvicorn.Config(build_api(), log_level="warning", access_log=False, lifespan="off")
        )
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.02)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)


class Panel:
    """A reseller's client, the way panel scripts are written: form POST, JSON back."""

    def __init__(self, url: str, key: str) -> None:
        self.url, self.key = url + "/api/v2", key
        self.http = httpx.Client(timeout=60)

    def call(self, action: str, key: str | None = None, **params: Any) -> Any:
        answer = self.http.post(self.url, data={"key": self.key if key is None else key, "action": action, **params})
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("application/json")
        return answer.json()


@pytest.fixture
def shop(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Panel, Server]]:
    monkeypatch.setenv("SMPLAT_RATE_LIMIT_RESELLER_KEY", "")  # the rate limit has its own test
    reset_settings_cache()
    with session_scope() as db:
        seed_demo(db)
        accounts.sign_up(db, email=EMAIL, password="violet-harbour-42", role=Role.CUSTOMER)
    with session_scope() as db:
        account = resellers.enable(db, audit.Actor.cli(), EMAIL)
        _row, raw = resellers.create_key(db, account, "bot")
    server = Server()
    try:
        yield Panel(server.url, raw), server
    finally:
        server.stop()
        reset_settings_cache()


def credit(amount_minor: int) -> None:
    with session_scope() as db:
        resellers.adjust(db, audit.Actor.cli(), EMAIL, amount_minor, "test top-up")


def wallet() -> tuple[int, int, int]:
    """(balance, sum of the ledger, ledger rows)."""
    with session_scope() as db:
        account = db.execute(select(ResellerAccount)).scalars().one()
        total, rows = db.execute(
            select(func.coalesce(func.sum(ResellerLedgerEntry.amount_minor), 0), func.count()).where(
                ResellerLedgerEntry.account_id == account.id
            )
        ).one()
        return account.balance_minor, int(total), int(rows)


def order_count() -> int:
    with session_scope() as db:
        return db.execute(select(func.count()).select_from(Order)).scalar_one()


def test_services_add_status_balance_over_form_get_json_and_trailing_slash(shop):
    panel, server = shop
    credit(10_000)
    listed = panel.call("services")
    followers = next(s for s in listed if s["service"] == FOLLOWERS)
    assert followers["min"] == 500 and followers["max"] == 5000 and followers["rate"]
    assert {"service", "name", "type", "category", "rate", "min", "max", "refill", "cancel", "dripfeed"} <= set(
        followers
    )
    with session_scope() as db:  # refill: as the provider service the first route sends it to
        routed = resellers.primary_route(db, db.get(Product, FOLLOWERS))
        assert followers["refill"] is bool(routed and routed[1].refill)
    assert not any(s["name"] == "Instagram Growth Autopilot" for s in listed)  # subscriptions are not sold per order
    # GET, the trailing slash and a JSON body answer the same
    by_get = httpx.get(server.url + "/api/v2/", params={"key": panel.key, "action": "services"}).json()
    by_json = httpx.post(server.url + "/api/v2", json={"key": panel.key, "action": "services"}).json()
    assert by_get == by_json == listed

    placed = panel.call("add", service=FOLLOWERS, link=LINK, quantity=1000)
    charge = round(float(followers["rate"]) * 100)  # 1000 units: the rate itself
    assert wallet()[0] == 10_000 - charge
    status = panel.call("status", order=placed["order"])
    assert status == {
        "charge": followers["rate"],
        "start_count": "0",
        "status": status["status"],
        "remains": "1000",
        "currency": "EUR",
    }
    assert status["status"] in ("Pending", "In progress")
    assert panel.call("balance") == {"balance": f"{(10_000 - charge) / 100:.2f}", "currency": "EUR"}
    # the order is a storefront order in every way: items, wallet payment, delivery tasks
    with session_scope() as db:
        order = db.get(Order, placed["order"])
        item = db.execute(select(OrderItem).where(OrderItem.order_id == order.id)).scalars().one()
        payment = db.execute(select(Payment).where(Payment.order_id == order.id)).scalars().one()
        assert order.charged_minor == charge and order.customer_email == EMAIL
        assert item.service_quantity == 1000 and item.snapshot["delivery"]["link"] == LINK
        assert payment.provider == "wallet"
        assert db.execute(select(CheckoutSession).where(CheckoutSession.id == order.checkout_session_id)).first()
    balance, ledger_sum, rows = wallet()
    assert balance == ledger_sum and rows == 2


def test_drip_feed_and_custom_comments_orders(shop):
    panel, _ = shop
    credit(100_000)
    drip = panel.call("add", service=FOLLOWERS, link=LINK, quantity=500, runs=4, interval=30)
    comments = panel.call("add", service=COMMENTS, link=LINK + "p/1", comments="great\nlove it\n" * 6)
    with session_scope() as db:
        d = db.execute(select(OrderItem).where(OrderItem.order_id == drip["order"])).scalars().one()
        c = db.execute(select(OrderItem).where(OrderItem.order_id == comments["order"])).scalars().one()
    assert d.snapshot["delivery"]["dripfeed_runs"] == 4 and d.snapshot["delivery"]["dripfeed_interval_minutes"] == 30
    assert d.service_quantity == 2000  # 500 per run, 4 runs
    assert c.service_quantity == 12 and len(c.snapshot["delivery"]["comments"]) == 12


def test_every_refusal_is_http_200_with_an_error_and_changes_nothing(shop):
    panel, server = shop
    credit(100)  # 1.00: less than 5000 followers cost
    before = (wallet(), order_count())
    assert panel.call("balance", key="smr_wrong") == {"error": "Invalid API key"}
    assert panel.call("balance", key="") == {"error": "Invalid API key"}
    assert panel.call("nope") == {"error": "Incorrect action"}
    assert panel.call("add", service=999, link=LINK, quantity=1000) == {"error": "Incorrect service ID"}
    assert panel.call("add", service="1;drop", link=LINK, quantity=1000) == {"error": "Incorrect service ID"}
    assert panel.call("add", service=FOLLOWERS, link=LINK, quantity=100) == {
        "error": "Quantity must be between 500 and 5000"
    }
    assert panel.call("add", service=FOLLOWERS, link=LINK, quantity=9000)["error"].startswith("Quantity must be")
    assert panel.call("add", service=FOLLOWERS, link=LINK, quantity="ten") == {"error": "Incorrect quantity"}
    assert panel.call("add", service=FOLLOWERS, link="", quantity=1000) == {"error": "Incorrect link"}
    assert panel.call("add", service=FOLLOWERS, link=LINK, quantity=5000) == {"error": "Not enough funds on balance"}
    assert panel.call("status", order=123456) == {"error": "Incorrect order ID"}
    assert panel.call("status", order="abc") == {"error": "Incorrect order ID"}
    assert panel.call("status", orders="1,abc,99") == {
        "1": {"error": "Incorrect order ID"},
        "abc": {"error": "Incorrect order ID"},
        "99": {"error": "Incorrect order ID"},
    }
    assert panel.call("status", orders=",".join(str(i) for i in range(1, 102))) == {
        "error": "Too many ids: at most 100"
    }
    assert panel.call("refill", order=777) == {"error": "Incorrect order ID"}
    assert panel.call("refill_status", refill=5) == {"error": "Refill not found"}
    assert panel.call("refill_status", refills="5,x") == [
        {"refill": 5, "status": {"error": "Refill not found"}},
        {"refill": "x", "status": {"error": "Refill not found"}},
    ]
    assert httpx.post(
        server.url + "/api/v2", content=b"{not json", headers={"content-type": "application/json"}
    ).json() == {"error": "Incorrect request"}
    assert (wallet(), order_count()) == before


def test_revoked_key_and_ip_allow_list(shop):
    panel, _ = shop
    with session_scope() as db:
        account = db.execute(select(ResellerAccount)).scalars().one()
        _row, elsewhere = resellers.create_key(db, account, "office", ["203.0.113.0/24"])
        _row, local = resellers.create_key(db, account, "loopback", "127.0.0.1")
    assert panel.call("balance", key=elsewhere) == {"error": "IP not allowed"}
    assert panel.call("balance", key=local) == {"balance": "0.00", "currency": "EUR"}
    with session_scope() as db:
        account = db.execute(select(ResellerAccount)).scalars().one()
        key_id = next(k["id"] for k in resellers.list_keys(db, account.id) if k["name"] == "bot")
        resellers.revoke_key(db, account, key_id)
    assert panel.call("balance") == {"error": "Invalid API key"}
    assert panel.call("balance", key=local)["balance"] == "0.00"
    with session_scope() as db, pytest.raises(ServiceError):
        resellers.create_key(db, db.execute(select(ResellerAccount)).scalars().one(), "bad", ["not-an-ip"])


def test_rate_limit_answers_429_with_a_json_error(shop, monkeypatch):
    panel, server = shop
    monkeypatch.setenv("SMPLAT_RATE_LIMIT_RESELLER_KEY", "3/minute")
    reset_settings_cache()
    answers = [httpx.post(server.url + "/api/v2", data={"key": panel.key, "action": "balance"}) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[-1].json()["error"].startswith("Too many attempts")


def test_idempotency_key_retries_never_pay_twice(shop):
    panel, _ = shop
    credit(10_000)
    first = panel.call("add", service=FOLLOWERS, link=LINK, quantity=1000, idempotency_key="retry-1")
    after_first = wallet()
    again = panel.call("add", service=FOLLOWERS, link=LINK, quantity=1000, idempotency_key="retry-1")
    assert again == first and wallet() == after_first and order_count() == 1
    # the same key sent by 8 clients at once: one order, one debit
    results: list[Any] = []
    barrier = threading.Barrier(8)

    def send() -> None:
        barrier.wait()
        results.append(panel.call("add", service=FOLLOWERS, link=LINK, quantity=1000, idempotency_key="race-2"))

    threads = [threading.Thread(target=send) for _ in range(8)]
    [t.start() for t in threads]
    [t.join(60) for t in threads]
    assert len(results) == 8 and len({r["order"] for r in results}) == 1, results
    balance, ledger_sum, rows = wallet()
    assert order_count() == 2 and rows == 3 and balance == ledger_sum


def test_fifty_concurrent_adds_against_a_balance_for_thirty(shop):
    panel, _ = shop
    rate = next(s for s in panel.call("services") if s["service"] == FOLLOWERS)["rate"]
    charge = round(float(rate) * 100)  # 1000 followers
    credit(30 * charge)
    results: list[Any] = []
    barrier = threading.Barrier(50)

    def send() -> None:
        client = Panel(panel.url.removesuffix("/api/v2"), panel.key)
        barrier.wait()
        results.append(client.call("add", service=FOLLOWERS, link=LINK, quantity=1000))

    threads = [threading.Thread(target=send) for _ in range(50)]
    [t.start() for t in threads]
    [t.join(120) for t in threads]
    assert len(results) == 50
    placed = [r for r in results if "order" in r]
    refused = [r for r in results if r.get("error") == "Not enough funds on balance"]
    assert len(placed) == 30 and len(refused) == 20, results
    assert order_count() == 30
    balance, ledger_sum, rows = wallet()
    assert balance == 0 and ledger_sum == 0 and rows == 31
    with session_scope() as db:
        debits = db.execute(select(ResellerLedgerEntry).where(ResellerLedgerEntry.kind == "order")).scalars().all()
        assert sorted(d.order_id for d in debits) == sorted(r["order"] for r in placed)
        assert sorted(d.balance_after_minor for d in debits) == [charge * i for i in range(30)]


def test_refill_and_cancel_answers(shop):
    panel, _ = shop
    credit(10_000)
    placed = panel.call("add", service=FOLLOWERS, link=LINK, quantity=1000)
    assert panel.call("refill", order=placed["order"]) == {"error": "this line has not been delivered yet"}
    assert panel.call("refill", orders=f"{placed['order']},0") == [
        {"order": placed["order"], "refill": {"error": "this line has not been delivered yet"}},
        {"order": 0, "refill": {"error": "Incorrect order ID"}},
    ]
    assert panel.call("cancel", orders=f"{placed['order']},abc") == [
        {"order": placed["order"], "cancel": {"error": "this line has not reached the supplier yet"}},
        {"order": "abc", "cancel": {"error": "Incorrect order ID"}},
    ]


def test_refunds_of_wallet_orders_credit_the_wallet_once(shop):
    panel, _ = shop
    credit(10_000)
    placed = panel.call("add", service=FOLLOWERS, link=LINK, quantity=1000)
    after_order = wallet()[0]
    with session_scope() as db:
        order = db.get(Order, placed["order"])
        refunds.refund_undelivered(db, order, 30, "partial delivery", "po:1:undelivered")
    with session_scope() as db:
        refunds.refund_undelivered(db, db.get(Order, placed["order"]), 30, "partial delivery", "po:1:undelivered")
    balance, ledger_sum, _rows = wallet()
    assert balance == after_order + 30 == ledger_sum
    with session_scope() as db:  # an operator refunds the rest (the order was cancelled)
        left = db.get(Order, placed["order"]).charged_minor - 30
        refunds.refund_order(db, placed["order"], actor=audit.Actor.cli())
    assert wallet()[0] == 10_000 == wallet()[1]
    assert panel.call("status", order=placed["order"])["charge"] == "0.00"
    assert left > 0


def test_ledger_rows_are_append_only_and_adjustments_are_audited(shop):
    credit(500)
    with session_scope() as db:
        entry = db.execute(select(ResellerLedgerEntry)).scalars().one()
        entry.amount_minor = 10**6
        with pytest.raises(Exception, match="append-only"):
            db.flush()
        db.rollback()
    with session_scope() as db:
        logged = db.execute(select(AuditLog).where(AuditLog.action == "reseller.adjust")).scalars().one()
        assert logged.data["data"]["reason"] == "test top-up"
    customer = audit.Actor(None, "someone", Role.OPERATOR.value)
    with session_scope() as db, pytest.raises(ServiceError):
        resellers.adjust(db, customer, EMAIL, 100, "gift")
    with session_scope() as db, pytest.raises(ServiceError):
        resellers.adjust(db, audit.Actor.cli(), EMAIL, -501, "too much")  # never below zero
    assert wallet()[0] == 500


def test_cli_credit_and_create_key(shop, capsys):
    panel, _ = shop
    assert cli.main(["resellers", "credit", "--email", EMAIL, "--amount", "12.50", "--reason", "bank transfer"]) == 0
    assert cli.main(["resellers", "credit", "--email", EMAIL, "--amount", "1.234"]) == 2
    assert cli.main(["resellers", "create-key", "--email", EMAIL, "--name", "cli"]) == 0
    raw = capsys.readouterr().out.strip().splitlines()[-1]
    assert raw.startswith("smr_")
    assert panel.call("balance", key=raw) == {"balance": "12.50", "currency": "EUR"}
    with session_scope() as db:  # stored hashed only
        assert db.execute(select(func.count()).select_from(ResellerLedgerEntry)).scalar_one() == 1
        assert all(raw not in str(k) for k in resellers.list_keys(db, wallet_account_id(db)))


def wallet_account_id(db) -> int:
    return db.execute(select(ResellerAccount.id)).scalar_one()


def test_reseller_prices_markup_over_cost_and_per_service_rates(shop):
    panel, _ = shop

    def rate(service: int) -> str:
        return next(s for s in panel.call("services") if s["service"] == service)["rate"]

    with session_scope() as db:
        product = db.get(Product, FOLLOWERS)
        cost = resellers.cost_rate_per_1000(db, product)
        retail = resellers.retail_rate_per_1000(get_product_detail(db, product.slug))
    assert cost is not None and cost < retail
    assert rate(FOLLOWERS) == f"{math.ceil(cost * 1.2) / 100:.2f}"  # the default +20 % over cost
    with session_scope() as db:
        resellers.set_prices(db, audit.Actor.cli(), EMAIL, markup_bps=5000, rates={str(COMMENTS): 4321})
    assert rate(FOLLOWERS) == f"{math.ceil(cost * 1.5) / 100:.2f}"
    assert rate(COMMENTS) == "43.21"
    credit(10_000)
    placed = panel.call("add", service=COMMENTS, link=LINK, comments="\n".join(f"nice {i}" for i in range(20)))
    assert panel.call("status", order=placed["order"])["charge"] == f"{math.ceil(4321 * 20 / 1000) / 100:.2f}"
    with session_scope() as db:
        assert db.execute(select(AuditLog).where(AuditLog.action == "reseller.prices")).scalars().one()


def test_api_orders_go_through_the_fulfilment_engine_then_refill(shop, panel):
    api, _ = shop
    with session_scope() as db:
        seed_with_panel(db, panel.base_url)
    credit(10_000)
    placed = api.call("add", service=FOLLOWERS, link=LINK, quantity=1000)
    fulfillment.run_fulfillment(session_scope)
    deadline = time.monotonic() + 20
    while (status := api.call("status", order=placed["order"]))[
        "status"
    ] != "Completed" and time.monotonic() < deadline:
        time.sleep(0.5)
        fulfillment.run_fulfillment(session_scope)
        fulfillment.sync_statuses(session_scope)
    assert status["status"] == "Completed" and status["remains"] == "0"
    with session_scope() as db:
        po = db.execute(select(ProviderOrder)).scalars().one()  # routed and sent like a storefront order
        assert po.link == LINK
    refill = api.call("refill", order=placed["order"])
    assert isinstance(refill["refill"], int), refill
    assert api.call("refill_status", refill=refill["refill"]) == {"status": "Pending"}
    assert api.call("refill", orders=str(placed["order"])) == [
        {"order": placed["order"], "refill": {"error": "a refill of this line is already under way"}}
    ]
    assert api.call("refill_status", refills=f"{refill['refill']}") == [
        {"refill": refill["refill"], "status": "Pending"}
    ]
    # the refill reaches the panel and its status follows it to the end
    assert fulfillment.run_fulfillment(session_scope) == {"processed": 1, "refills_sent": 1}
    assert fulfillment.sync_statuses(session_scope)["refill_completed"] == 1
    assert api.call("refill_status", refill=refill["refill"]) == {"status": "Completed"}
    assert panel.state.calls.count("refill") == 1


def test_mass_add_over_the_api_reports_every_line(shop):
    panel, _ = shop
    rate = next(s for s in panel.call("services") if s["service"] == FOLLOWERS)["rate"]
    credit(round(float(rate) * 100))  # enough for one 1000-follower order only
    answer = panel.call(
        "mass_add",
        orders=f"{FOLLOWERS} | {LINK} | 1000\n{FOLLOWERS} | {LINK} | 1000\nnonsense\n{COMMENTS} | {LINK} | 5",
    )
    assert "order" in answer[0] and answer[0]["line"] == 1
    assert answer[1:] == [
        {"line": 2, "error": "Not enough funds on balance"},
        {"line": 3, "error": "Write service | link | quantity"},
        {"line": 4, "error": "This service needs comments: one per line"},
    ]
    assert order_count() == 1 and wallet()[0] == 0
    assert panel.call("mass_add", orders="") == {"error": "Paste one order per line: service | link | quantity"}


# --- order types, their parameters and flags -------------------------------------------------

POLL, SUBSCRIPTION, PACKAGE, MENTIONS, LIKES = 12, 11, 13, 14, 2
FUTURE = (utcnow() + timedelta(days=60)).strftime("%d/%m/%Y")


def test_services_say_each_type_and_drip_feed_refill_cancel_as_the_provider_service_does(shop):
    panel, _ = shop
    listed = {s["service"]: s for s in panel.call("services")}
    with session_scope() as db:
        for service_id, answer in listed.items():
            _route, service = resellers.primary_route(db, db.get(Product, service_id))
            assert answer["type"] == service.type, service_id
            assert answer["refill"] is service.refill and answer["cancel"] is service.cancel, service_id
            assert answer["dripfeed"] is (service.dripfeed and service.type == "Default"), service_id
    assert [listed[i]["type"] for i in (FOLLOWERS, COMMENTS, POLL, SUBSCRIPTION, PACKAGE, MENTIONS)] == [
        "Default",
        "Custom Comments",
        "Poll",
        "Subscriptions",
        "Package",
        "Mentions User Followers",
    ]
    assert listed[FOLLOWERS]["dripfeed"] is True and listed[LIKES]["dripfeed"] is False


def test_every_order_type_is_placed_with_its_parameters_and_reaches_the_panel(shop, panel):
    api, _ = shop
    with session_scope() as db:
        seed_with_panel(db, panel.base_url)
    panel.state.set_knobs(extra_types=True, polls_to_complete=50)
    credit(1_000_000)
    rates = {s["service"]: s["rate"] for s in api.call("services")}
    placed = {
        "poll": api.call("add", service=POLL, link=LINK + "p/poll/", quantity=200, answer_number=2),
        "subscription": api.call(
            "add", service=SUBSCRIPTION, username="@brand", min=100, max=200, posts=5, delay=30, expiry=FUTURE
        ),
        "package": api.call("add", service=PACKAGE, link="https://www.instagram.com/newbrand/"),
        "mentions": api.call("add", service=MENTIONS, link=LINK + "p/m/", quantity=100, username="@rival.brand"),
        "comments": api.call(
            "add", service=COMMENTS, link=LINK + "p/c/", comments="\\n".join(f"nice one {i}" for i in range(10))
        ),
        "drip": api.call("add", service=FOLLOWERS, link=LINK, quantity=500, runs=2, interval=30),
    }
    assert all("order" in answer for answer in placed.values()), repr(placed)
    # a subscription is charged for max x posts; the others for their units
    assert api.call("status", order=placed["subscription"]["order"])["charge"] == (
        f"{math.ceil(round(float(rates[SUBSCRIPTION]) * 100) * 200 * 5 / 1000) / 100:.2f}"
    )
    # a Package is priced per package, like panels do
    assert api.call("status", order=placed["package"]["order"])["charge"] == rates[PACKAGE]
    assert api.call("status", order=placed["comments"]["order"])["remains"] == "10"  # "\\n" as panels send it
    assert fulfillment.run_fulfillment(session_scope) == {"processed": 6, "submitted": 6}  # routed, within margins
    by_link = {o.link: o for o in panel.state.orders.values()}
    poll = by_link[LINK + "p/poll/"]
    assert (poll.kind, poll.quantity, poll.extra["answer_number"]) == ("Poll", 200, "2")
    sub = next(o for o in panel.state.orders.values() if o.kind == "Subscriptions")
    assert sub.link == "brand" and (sub.extra["min"], sub.extra["max"], sub.extra["posts"]) == (100, 200, 5)
    assert sub.extra["delay"] == 30 and sub.extra["expiry"] == FUTURE
    assert (by_link[LINK].kind, by_link[LINK].runs, by_link[LINK].interval) == ("Default", 2, 30)
    assert by_link[LINK].quantity == 1000  # 500 per run, 2 runs
    mention = by_link[LINK + "p/m/"]
    assert (mention.kind, mention.extra["username"]) == ("Mentions User Followers", "rival.brand")
    assert by_link[LINK + "p/c/"].kind == "Custom Comments"
    package = next(o for o in panel.state.orders.values() if o.kind == "Package")
    assert package.quantity == 1
    with session_scope() as db:
        item = db.execute(select(OrderItem).where(OrderItem.order_id == placed["poll"]["order"])).scalars().one()
        assert item.snapshot["delivery"]["order_params"] == {"answer_number": "2"}


@pytest.mark.parametrize(
    "params,error",
    [
        ({"service": POLL, "link": LINK, "quantity": 200}, "This service needs answer_number"),
        ({"service": POLL, "link": LINK, "quantity": 200, "answer_number": "two"}, "Incorrect answer_number"),
        (
            {"service": POLL, "link": LINK, "quantity": 200, "answer_number": 0},
            "answer_number must be between 1 and 100",
        ),
        (
            {"service": LIKES, "link": LINK, "quantity": 500, "runs": 3, "interval": 10},
            "This service does not support drip-feed",
        ),
        (
            {"service": FOLLOWERS, "link": LINK, "quantity": 500, "runs": 1, "interval": 10},
            "Drip-feed needs 2 to 1000 runs and an interval of 1 to 43200 minutes",
        ),
        ({"service": FOLLOWERS, "link": LINK, "quantity": 500, "runs": 3}, "Incorrect interval"),
        (
            {"service": FOLLOWERS, "link": LINK, "quantity": 500, "comments": "hi"},
            "comments is for Custom Comments services; this service is Default",
        ),
        (
            {"service": FOLLOWERS, "link": LINK, "quantity": 500, "answer_number": 1},
            "answer_number is for Poll services; this service is Default",
        ),
        ({"service": COMMENTS, "link": LINK}, "This service needs comments: one per line"),
        (
            {"service": COMMENTS, "link": LINK, "comments": "a\nb", "quantity": 5},
            "quantity must equal the number of comments (or leave it out)",
        ),
        ({"service": COMMENTS, "link": LINK, "comments": "a\nb"}, "Quantity must be between 10 and 100"),
        ({"service": MENTIONS, "link": LINK, "quantity": 100}, "This service needs username"),
        ({"service": MENTIONS, "link": LINK, "quantity": 100, "username": "no spaces"}, "Incorrect username"),
        (
            {"service": MENTIONS, "link": LINK, "quantity": 100, "username": "a", "usernames": "b"},
            "usernames is for Mentions services; this service is Mentions User Followers",
        ),
        ({"service": SUBSCRIPTION, "min": 100, "max": 200, "posts": 5}, "This service needs username"),
        (
            {"service": SUBSCRIPTION, "username": "brand", "min": 300, "max": 200, "posts": 5},
            "min must not be above max",
        ),
        (
            {"service": SUBSCRIPTION, "username": "brand", "min": 100, "max": 5000, "posts": 5},
            "max must be between 100 and 1000",
        ),
        ({"service": SUBSCRIPTION, "username": "brand", "min": 100, "max": 200}, "Incorrect posts"),
        (
            {"service": SUBSCRIPTION, "username": "brand", "min": 100, "max": 200, "posts": 5, "delay": 7},
            "delay must be one of 0, 5, 10, 15, 30, 60, 90",
        ),
        (
            {"service": SUBSCRIPTION, "username": "brand", "min": 100, "max": 200, "posts": 5, "expiry": "2020-01-01"},
            "Incorrect expiry: write it as dd/mm/yyyy",
        ),
        (
            {"service": SUBSCRIPTION, "username": "brand", "min": 100, "max": 200, "posts": 5, "expiry": "01/01/2020"},
            "expiry must be a date after today",
        ),
        ({"service": PACKAGE, "link": LINK, "quantity": 2}, "Quantity must be between 1 and 1"),
        ({"service": FOLLOWERS, "link": "two words", "quantity": 500}, "Incorrect link"),
    ],
)
def test_order_type_parameters_are_checked_with_clear_errors(shop, params, error):
    panel, _ = shop
    credit(1_000_000)
    before = (wallet(), order_count())
    assert panel.call("add", **params) == {"error": error}
    assert (wallet(), order_count()) == before


# --- cancel that the provider accepts ------------------------------------------------------------


def test_a_cancel_the_provider_accepts_refunds_the_rest_to_the_wallet_exactly_once(shop, panel):
    api, _ = shop
    with session_scope() as db:
        seed_with_panel(db, panel.base_url)
    panel.state.set_knobs(polls_to_complete=50, cancel_delivered_ratio=0.4)
    credit(10_000)
    placed = api.call("add", service=FOLLOWERS, link=LINK, quantity=1000)
    charge = 10_000 - wallet()[0]
    assert api.call("cancel", order=placed["order"]) == [
        {"order": placed["order"], "cancel": {"error": "this line has not reached the supplier yet"}}
    ]
    assert fulfillment.run_fulfillment(session_scope)["submitted"] == 1
    # when the reseller cancels it (the provider's service allows it) and asks again
    assert api.call("cancel", order=placed["order"]) == [{"order": placed["order"], "cancel": 1}]
    again = api.call("cancel", orders=str(placed["order"]))
    assert again[0]["order"] == placed["order"] and "error" in again[0]["cancel"], again
    # and the engine sends it, the panel stops after 400 of 1000, the status sync runs twice
    assert fulfillment.run_fulfillment(session_scope) == {"processed": 1, "cancels_sent": 1}
    fulfillment.sync_statuses(session_scope)
    fulfillment.sync_statuses(session_scope)
    # then the undelivered 600 come back to the wallet, once
    rest = pro_rata(charge, 600, 1000)
    balance, ledger_sum, rows = wallet()
    assert balance == ledger_sum == 10_000 - charge + rest, (balance, charge, rest)
    assert rows == 3  # the credit, the order, one refund
    status = api.call("status", order=placed["order"])
    assert (status["status"], status["remains"]) == ("Partial", "600")
    assert status["charge"] == f"{(charge - rest) / 100:.2f}"
    fulfillment.sync_statuses(session_scope)
    assert wallet() == (balance, ledger_sum, rows)


# --- performance guards: statements per add, the offer cache never stale -----------------------

ADD_STATEMENTS = 14


def test_one_add_sends_a_fixed_number_of_statements(shop, count_queries):
    """One `add` (the key checked, its offer kept from an earlier add): the key with its account
    and the catalog counter in one SELECT; the debit; the checkout, order, item, task, payment,
    its event and the "placed" event, one INSERT each; the billing details; the invoice number
    and the invoice; the checkout counter; the ledger row. Issue 14's benchmark depends on it."""
    panel, _ = shop
    credit(100_000)
    assert "order" in panel.call("add", service=FOLLOWERS, link=LINK, quantity=1000)  # reads the offer
    with count_queries() as q:
        placed = panel.call("add", service=FOLLOWERS, link=LINK, quantity=1000)
    assert "order" in placed
    assert q.count == ADD_STATEMENTS, q
    with count_queries() as q:  # a retry with an idempotency key looks it up first: one more SELECT
        again = panel.call("add", service=FOLLOWERS, link=LINK, quantity=1000, idempotency_key="k-1")
    assert q.count == ADD_STATEMENTS + 1, q
    assert panel.call("add", service=FOLLOWERS, link=LINK, quantity=1000, idempotency_key="k-1") == again


def _charged(panel: Panel, placed: dict[str, Any]) -> int:
    return round(float(panel.call("status", order=placed["order"])["charge"]) * 100)


def test_the_offer_cache_follows_every_catalog_and_route_change(shop):
    """The offer an `add` is priced from is kept between calls, but a committed change of the
    product, its routes or their provider service is seen by the very next call: by an ORM
    flush, by an UPDATE statement run through a session, and by another process (raw SQL here,
    plus the counter move that process's hooks make)."""
    from sqlalchemy import text, update

    from smplat.db import CATALOG_CHANGES, get_engine
    from smplat.models.providers import ProviderService, ServiceRoute

    panel, _ = shop
    credit(1_000_000)
    first = panel.call("add", service=FOLLOWERS, link=LINK, quantity=1000)
    with session_scope() as db:
        routed = resellers.primary_route(db, db.get(Product, FOLLOWERS))
        service_id = routed[1].id
        rate = routed[1].rate_per_1000
    assert _charged(panel, panel.call("add", service=FOLLOWERS, link=LINK, quantity=1000)) == _charged(panel, first)

    with session_scope() as db:  # an ORM flush (the provider sync job's way)
        db.get(ProviderService, service_id).rate_per_1000 = rate * 2
    doubled = _charged(panel, panel.call("add", service=FOLLOWERS, link=LINK, quantity=1000))
    assert doubled > _charged(panel, first)

    with session_scope() as db:  # an UPDATE statement through a session
        db.execute(update(ProviderService).where(ProviderService.id == service_id).values(rate_per_1000=rate))
    assert _charged(panel, panel.call("add", service=FOLLOWERS, link=LINK, quantity=1000)) == _charged(panel, first)

    with get_engine().begin() as conn:  # another process: its hooks moved the counter with its write
        conn.execute(
            update(ProviderService.__table__)
            .where(ProviderService.__table__.c.id == service_id)
            .values(rate_per_1000=rate * 2)
        )
        conn.execute(text("UPDATE commerce_counters SET value = value + 1 WHERE name = :n"), {"n": CATALOG_CHANGES})
    assert _charged(panel, panel.call("add", service=FOLLOWERS, link=LINK, quantity=1000)) == doubled

    with session_scope() as db:  # the route switched off: no cost known, the storefront rate
        for route in db.execute(select(ServiceRoute).where(ServiceRoute.product_id == FOLLOWERS)).scalars():
            route.is_active = False
    retail = resellers.retail_rate_per_1000
    with session_scope() as db:
        storefront = retail(get_product_detail(db, db.get(Product, FOLLOWERS).slug))
    assert _charged(panel, panel.call("add", service=FOLLOWERS, link=LINK, quantity=1000)) == storefront

    with session_scope() as db:  # the product withdrawn: not sold any more
        db.get(Product, FOLLOWERS).status = "archived"
    assert panel.call("add", service=FOLLOWERS, link=LINK, quantity=1000) == {"error": "Incorrect service ID"}
    # the change counter is internal: Admin → Sales does not list it among the shop's counters
    from smplat.services import counters

    with session_scope() as db:
        assert db.execute(text("SELECT value FROM commerce_counters WHERE name = :n"), {"n": CATALOG_CHANGES}).scalar()
        assert CATALOG_CHANGES not in counters.read_counters(db)


def test_a_group_of_adds_commits_together_and_each_refusal_stays_alone(shop):
    """Group commit, driven directly: three adds in one group against a wallet for two → two
    orders with every row an order has (task, payment event, placed event, ledger row), one
    refused with nothing written; a group holding one idempotency key twice is placed again add
    by add, so exactly one of the two is paid."""
    from smplat.models.fulfillment import FulfillmentTask
    from smplat.models.orders import OrderEvent
    from smplat.models.payments import PaymentEvent
    from smplat.services import counters

    panel, _ = shop
    params = {"service": str(FOLLOWERS), "link": LINK, "quantity": "1000"}
    with session_scope() as db:
        caller = resellers.authenticate(db, panel.key, None)
        prepared = resellers.prepare(db, caller, params)
    credit(2 * prepared.charge_minor)

    group = [resellers._Pending(caller, prepared) for _ in range(3)]
    resellers._place_group(group)
    placed = [p.result.order_id for p in group if p.result is not None]
    assert len(placed) == 2
    assert [type(p.error) for p in group if p.error is not None] == [resellers.InsufficientBalance]
    balance, ledger_sum, rows = wallet()
    assert balance == 0 and ledger_sum == 0 and rows == 3
    with session_scope() as db:
        assert order_count() == 2
        items = db.execute(select(OrderItem.id).where(OrderItem.order_id.in_(placed))).scalars().all()
        assert db.execute(select(func.count()).select_from(FulfillmentTask)).scalar_one() == len(items) == 2
        assert db.execute(select(func.count()).select_from(PaymentEvent)).scalar_one() == 2
        kinds = db.execute(select(OrderEvent.kind).where(OrderEvent.order_id.in_(placed))).scalars().all()
        assert kinds == ["placed", "placed"]
        assert counters.read_counters(db)["checkout_completed"] == 2

    credit(2 * prepared.charge_minor)
    with session_scope() as db:
        keyed = resellers.prepare(db, caller, {**params, "idempotency_key": "same"})
    twins = [resellers._Pending(caller, keyed) for _ in range(2)]
    resellers._place_group(twins)
    assert sum(1 for p in twins if p.result is not None) == 1
    assert [type(p.error) for p in twins if p.error is not None] == [resellers.DuplicateIdempotencyKey]
    assert order_count() == 3
    balance, ledger_sum, rows = wallet()
    assert balance == prepared.charge_minor and ledger_sum == balance and rows == 5  # + a credit, one order
