"""The Instagram Graph API client against the Instagram sandbox over real HTTP."""

from __future__ import annotations

import httpx
import pytest

from smplat.integrations import instagram as ig
from smplat.settings import SANDBOX_INSTAGRAM_TOKEN

pytestmark = pytest.mark.integration


def test_reads_a_public_account_in_graph_api_shapes(instagram):
    # given the sandbox, when the client asks for a handle
    with ig.client_from_settings() as client:
        numbers = client.fetch_profile("violet.bakery")
        usage = client.usage_percent
    # then the numbers come from the business-discovery answer, engagement computed from recent posts
    again = httpx.get(
        f"{instagram.base_url}/v21.0/1",
        params={
            "fields": "business_discovery.username(violet.bakery){followers_count,media.limit(12){like_count,comments_count}}",
            "access_token": SANDBOX_INSTAGRAM_TOKEN,
        },
    ).json()["business_discovery"]
    assert numbers.handle == "violet.bakery"
    assert numbers.display_name == "Violet Bakery"
    assert numbers.followers == again["followers_count"]
    assert numbers.engagement_rate_bps == ig.engagement_bps(again["followers_count"], again["media"]["data"])
    assert numbers.engagement_rate_bps > 0
    assert numbers.reach is None
    assert usage == 1  # one call of 200 per hour, rounded


@pytest.mark.parametrize(
    ("handle", "kind", "words"),
    [
        pytest.param("unknown.shop", "unknown", "found no public Instagram business or creator account", id="unknown"),
        pytest.param("private.diary", "private", "is private or a personal account", id="private"),
    ],
)
def test_unknown_and_private_profiles_get_a_clear_message(instagram, handle, kind, words):
    with ig.client_from_settings() as client, pytest.raises(ig.InstagramError) as raised:
        client.fetch_profile(handle)
    assert raised.value.kind == kind
    assert words in raised.value.message
    assert f"@{handle}" in raised.value.message


def test_rate_limited_when_the_hourly_budget_is_spent(instagram):
    instagram.state.set_knobs(calls_per_hour=2)
    with ig.client_from_settings() as client:
        client.fetch_profile("one.account")
        client.fetch_profile("two.account")
        assert client.usage_percent == 100
        with pytest.raises(ig.InstagramError) as raised:
            client.fetch_profile("three.account")
    assert raised.value.kind == "rate_limited"
    assert "limiting how often" in raised.value.message


@pytest.mark.parametrize("fault", ["http500", "malformed"])
def test_platform_failures_are_errors_to_retry(instagram, fault):
    instagram.state.set_knobs(script=[fault])
    with ig.client_from_settings() as client, pytest.raises(ig.InstagramError) as raised:
        client.fetch_profile("violet.bakery")
    assert raised.value.kind == "error"


def test_a_wrong_token_is_refused(instagram, monkeypatch):
    client = ig.InstagramClient(instagram.base_url, api_version="v21.0", account_id="1", access_token="wrong")
    with client, pytest.raises(ig.InstagramError) as raised:
        client.fetch_profile("violet.bakery")
    assert raised.value.kind == "error"
    assert "code 190" in raised.value.message


def test_followers_move_when_the_panel_sandbox_delivers_an_order(instagram, panel):
    # given a public account's numbers before any order
    with ig.client_from_settings() as client:
        before = client.fetch_profile("violet.bakery")
    # when the panel sandbox takes and completes 500 followers for its profile link
    form = {"key": "sandbox-demo-key", "action": "add", "service": "101", "quantity": "500"}
    order = httpx.post(panel.base_url, data={**form, "link": "https://www.instagram.com/violet.bakery/"}).json()
    with ig.client_from_settings() as client:
        running = client.fetch_profile("violet.bakery")
        httpx.post(panel.base_url, data={"key": "sandbox-demo-key", "action": "status", "order": str(order["order"])})
        after = client.fetch_profile("violet.bakery")
        other = client.fetch_profile("another.bakery")
    # then followers grew by exactly what was delivered, once delivered, on that profile only
    assert running.followers == before.followers
    assert after.followers == before.followers + 500
    assert other.followers != after.followers


@pytest.mark.parametrize(
    ("raw", "handle"),
    [
        ("@Violet.Bakery", "violet.bakery"),
        ("https://www.instagram.com/violet_bakery/", "violet_bakery"),
        ("instagram.com/violet?igsh=1", "violet"),
        ("https://www.instagram.com/stories/violet/123/", "violet"),
        ("https://www.instagram.com/p/Cx1AbC2dEf/", ""),
        ("https://www.tiktok.com/@violet", ""),
        ("not a handle!", ""),
        ("", ""),
    ],
)
def test_handles_are_normalised(raw, handle):
    assert ig.normalize_handle(raw) == handle
