"""The panel API v2 client against the panel sandbox over real HTTP: every answer shape and fault."""

from __future__ import annotations

from decimal import Decimal

import pytest

from smplat.integrations.panel import PanelClient, PanelRefused, PanelUnavailable
from smplat.models.providers import ProviderOrderStatus, RefillStatus
from smplat.sandbox.panel import PanelSandbox

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def panel():
    with PanelSandbox(port=0) as sandbox:
        yield sandbox


@pytest.fixture(autouse=True)
def _fresh_panel(panel):
    panel.state.reset()
    yield


def client_for(panel, *, key="sandbox-demo-key", timeout=2.0, rate=1000):
    return PanelClient(panel.base_url, key, timeout_seconds=timeout, rate_limit_per_second=rate)


async def test_services_are_listed_with_decimal_rates_and_integer_bounds(panel):
    # given the default sandbox catalog
    async with client_for(panel) as client:
        # when
        services = await client.services()
    # then
    assert len(services) == 11
    first = services[0]
    assert (first.service, first.rate, first.min, first.max, first.refill, first.dripfeed) == (
        "101",
        Decimal("0.950000"),
        50,
        100000,
        True,
        True,
    )


async def test_add_then_status_reports_charge_start_count_and_remains(panel):
    async with client_for(panel) as client:
        order_id = await client.add("103", "https://instagram.com/p/abc", 1000)
        status = await client.status(order_id)
    assert order_id == "1000"
    assert status.status == ProviderOrderStatus.COMPLETED
    assert (status.charge, status.remains, status.currency) == (Decimal("0.3500"), 0, "EUR")
    assert isinstance(status.start_count, int)


async def test_messy_dialect_is_normalised(panel):
    # given a panel sending strings, lower case words, "Cancelled" and "Unknown" remains
    panel.state.set_knobs(dialect="messy", polls_to_complete=2, cancel_links=["https://x.test/c"])
    async with client_for(panel) as client:
        running = await client.add("103", "https://x.test/r", 100)
        canceled = await client.add("103", "https://x.test/c", 100)
        # when
        first = await client.statuses([running, canceled])
        second = await client.statuses([running, canceled])
    # then
    assert first[running].status == ProviderOrderStatus.IN_PROGRESS
    assert first[running].remains is None and first[running].raw_status == "in progress"
    assert second[running].status == ProviderOrderStatus.COMPLETED and second[running].remains == 0
    assert second[canceled].status == ProviderOrderStatus.CANCELED
    assert second[canceled].raw_status == "cancelled" and second[canceled].remains == 100


async def test_batch_status_keeps_per_id_errors_as_data(panel):
    async with client_for(panel) as client:
        order_id = await client.add("103", "https://x.test/a", 100)
        answer = await client.statuses([order_id, "999999"])
    assert answer[order_id].status == ProviderOrderStatus.COMPLETED
    assert isinstance(answer["999999"], PanelRefused)
    assert answer["999999"].message == "Incorrect order ID"


async def test_error_answer_with_http_200_is_a_refusal_and_creates_nothing(panel):
    async with client_for(panel) as client:
        with pytest.raises(PanelRefused) as refused:
            await client.add("999", "https://x.test/a", 100)
    assert refused.value.message == "Incorrect service ID"
    assert refused.value.is_unknown_service
    assert panel.state.orders == {}


async def test_wrong_key_is_refused(panel):
    async with client_for(panel, key="wrong") as client:
        with pytest.raises(PanelRefused, match="Invalid API key"):
            await client.balance()


async def test_active_link_refusal_is_recognised(panel):
    panel.state.set_knobs(refuse_active_link=True, polls_to_complete=3)
    async with client_for(panel) as client:
        await client.add("103", "https://x.test/same", 100)
        with pytest.raises(PanelRefused) as refused:
            await client.add("103", "https://x.test/same", 100)
    assert refused.value.is_active_link
    assert len(panel.state.orders) == 1


@pytest.mark.parametrize("fault", ["http500", "malformed"])
async def test_5xx_and_malformed_json_are_unavailable(panel, fault):
    panel.state.script("balance", fault)
    async with client_for(panel) as client:
        with pytest.raises(PanelUnavailable) as unavailable:
            await client.balance()
        after = await client.balance()
    assert ("HTTP 502" if fault == "http500" else "malformed JSON") in str(unavailable.value)
    assert after.balance == Decimal("1000000.00")


async def test_timeout_is_unavailable(panel):
    panel.state.set_knobs(hang_seconds=2.0)
    panel.state.script("balance", "hang")
    async with client_for(panel, timeout=0.3) as client:
        with pytest.raises(PanelUnavailable, match="timed out"):
            await client.balance()


async def test_unanswered_add_can_be_found_by_its_submission_key(panel):
    # given an add whose order is created but whose answer never arrives
    panel.state.set_knobs(hang_seconds=1.0)
    panel.state.script("add", "hang_after_create")
    async with client_for(panel, timeout=0.3) as client:
        with pytest.raises(PanelUnavailable):
            await client.add("103", "https://x.test/amb", 100, ref="task:1:1")
        # when
        found = await client.find_by_ref("task:1:1")
        missing = await client.find_by_ref("task:2:1")
    # then
    assert found == "1000"
    assert missing is None
    assert len(panel.state.orders) == 1


async def test_balance_goes_down_by_the_charge_and_refuses_when_spent(panel):
    panel.state.set_knobs(balance="1.00")
    async with client_for(panel) as client:
        await client.add("101", "https://x.test/f", 1000)  # 0.95
        with pytest.raises(PanelRefused, match="Not enough funds"):
            await client.add("101", "https://x.test/g", 1000)
        balance = await client.balance()
    assert balance.balance == Decimal("0.0500")
    assert len(panel.state.orders) == 1


async def test_refill_and_refill_status(panel):
    panel.state.set_knobs(polls_to_complete=2)
    async with client_for(panel) as client:
        order_id = await client.add("101", "https://x.test/f", 100)
        refill_id = await client.refill(order_id)
        first = await client.refill_status(refill_id)
        second = await client.refill_status(refill_id)
    assert first == (RefillStatus.IN_PROGRESS, "In progress")
    assert second == (RefillStatus.COMPLETED, "Completed")


async def test_cancel_answers_per_order(panel):
    panel.state.set_knobs(polls_to_complete=3)
    async with client_for(panel) as client:
        order_id = await client.add("101", "https://x.test/f", 100)
        answer = await client.cancel([order_id, "42"])
        status = await client.status(order_id)
    assert answer[order_id] == "1"
    assert isinstance(answer["42"], PanelRefused)
    assert status.status == ProviderOrderStatus.CANCELED


async def test_rate_limit_spaces_calls(panel):
    import time

    async with client_for(panel, rate=5) as client:
        started = time.monotonic()
        for _ in range(8):  # 5 in the burst, 3 more at 5 per second
            await client.balance()
        elapsed = time.monotonic() - started
    assert 0.5 <= elapsed < 1.5
