"""Finding: no limits. In 10 s one anonymous connection created 59 accounts and had 154
reset emails sent to one address. Replayed through the pages' handlers and over real HTTP
for the refill API route, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import re

import httpx
import pytest

from smplat.models.accounts import AttemptKind, LoginAttempt, User
from smplat.services import rate_limits
from smplat.services.errors import ErrorCode
from smplat.settings import reset_settings_cache
from smplat.ui.pages.storefront._auth_form import AuthFormState
from tests.security.helpers import PASSWORD, THROTTLED, configure, count, make_user, session_cookie, tab

pytestmark = pytest.mark.integration

NOTICE = "If an account exists for that address, a reset link is on its way. It works for one hour."


@pytest.fixture
def outbox(monkeypatch) -> list[tuple]:
    """Reset emails handed to the mail adapter (the SMTP server is the outside world)."""
    sent: list[tuple] = []
    monkeypatch.setattr("smplat.services.email.send_password_reset", lambda *args, **_: sent.append(args))
    return sent


async def test_one_connection_cannot_create_dozens_of_accounts(db_url):
    # given the default limit of 5 sign-ups a minute per IP
    shown = []

    # when one IP submits the sign-up form 12 times with fresh addresses
    for i in range(12):
        form = await tab(path="/signup", ip="203.0.113.50").get_state(AuthFormState)
        result = await form.sign_up({"email": f"bot{i}@example.com", "password": PASSWORD, "full_name": "Bot"})
        shown.append((form.form_error, "/api/auth/session?ticket=" in str(result)))

    # then 5 accounts exist, and the 7 later tries were refused with the wait and created nothing
    assert [ok for _msg, ok in shown] == [True] * 5 + [False] * 7
    assert all(msg == "Too many attempts. Try again in 1 minute." for msg, _ok in shown[5:])
    assert count(User) == 5
    # another IP is not affected
    form = await tab(path="/signup", ip="192.0.2.77").get_state(AuthFormState)
    assert "/api/auth/session?ticket=" in str(await form.sign_up({"email": "human@example.com", "password": PASSWORD}))
    assert count(User) == 6


@pytest.mark.parametrize(
    "layer",
    ["throttling-rows", "rate-limit"],
    ids=["throttling rows (rate limits off)", "rate limit (throttling rows off)"],
)
async def test_reset_emails_to_one_address_are_limited(db_url, monkeypatch, outbox, layer):
    # given a customer, and only one of the two layers active
    if layer == "throttling-rows":
        configure(monkeypatch, rate_limit_reset_ip="", rate_limit_reset_email="")
    else:
        configure(monkeypatch, reset_max_requests=1000, reset_max_requests_per_ip=1000)
    make_user("inbox@example.com")

    # when the forgot-password form is submitted 20 times for that address
    shown = []
    for _ in range(20):
        form = await tab(path="/forgot-password", ip="203.0.113.60").get_state(AuthFormState)
        form.request_reset({"email": "inbox@example.com"})
        shown.append(form.form_notice or form.form_error or form.email_error)

    # then 3 emails went out and every later request was refused with the wait
    assert len(outbox) == 3 and {args[0] for args in outbox} == {"inbox@example.com"}
    assert shown[:3] == [NOTICE] * 3
    assert all(THROTTLED.match(message) for message in shown[3:]), shown[3:]
    assert count(LoginAttempt, LoginAttempt.kind == AttemptKind.RESET.value) == 3


async def test_reset_requests_from_one_ip_are_limited_across_addresses(db_url, monkeypatch, outbox):
    # given 8 customers and the default of 5 reset requests a minute per IP
    for i in range(8):
        make_user(f"member{i}@example.com")

    # when one IP asks a reset for each of them
    shown = []
    for i in range(8):
        form = await tab(path="/forgot-password", ip="203.0.113.61").get_state(AuthFormState)
        form.request_reset({"email": f"member{i}@example.com"})
        shown.append(form.form_notice or form.form_error)

    # then 5 emails went out, 3 requests were refused, and the refused ones stored nothing
    assert len(outbox) == 5
    assert shown == [NOTICE] * 5 + ["Too many attempts. Try again in 1 minute."] * 3
    assert count(LoginAttempt) == 5


async def test_the_refill_api_answers_429_once_a_customer_spends_the_limit(db_url, monkeypatch):
    # given a signed-in customer and a limit of 3 refill requests a minute
    from smplat.api.app import build_api

    configure(monkeypatch, rate_limit_refill_user="3/minute")
    cookie = session_cookie(make_user("refiller@example.com"))
    transport = httpx.ASGITransport(app=build_api())

    # when they post 5 refill requests over HTTP (for an item that is not theirs)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://shop.test", cookies={"smplat_session": cookie}
    ) as client:
        answers = [await client.post("/api/order-items/999/refill", json={"reason": "dropped"}) for _ in range(5)]

    # then the first 3 reach the refill rules, the last 2 are refused with 429 and code throttled
    assert [a.status_code == 429 for a in answers] == [False, False, False, True, True]
    assert answers[3].json()["code"] == ErrorCode.THROTTLED.value
    assert re.match(r"^Too many attempts\. Try again in 1 minute\.$", answers[3].json()["error"])


def test_a_refused_hit_counts_nothing_anywhere(sqlite_url, monkeypatch):
    # given an email whose sign-up limit (2/hour) is spent, and a fresh IP
    configure(monkeypatch, rate_limit_signup_email="2/hour", rate_limit_signup_ip="3/hour")
    rate_limits.hit_all([("signup_email", "a@example.com")])
    rate_limits.hit_all([("signup_email", "a@example.com")])

    # when a request from the fresh IP for that email is refused
    with pytest.raises(rate_limits.RateLimited) as err:
        rate_limits.hit_all([("signup_ip", "192.0.2.1"), ("signup_email", "a@example.com")])

    # then it is a THROTTLED service error, and the IP still has all of its 3 requests
    assert err.value.code == ErrorCode.THROTTLED and err.value.limit_name == "signup_email"
    for _ in range(3):
        rate_limits.hit("signup_ip", "192.0.2.1")
    with pytest.raises(rate_limits.RateLimited):
        rate_limits.hit("signup_ip", "192.0.2.1")


def test_an_empty_setting_switches_a_limit_off(sqlite_url, monkeypatch):
    configure(monkeypatch, rate_limit_signup_ip="")
    for _ in range(50):
        rate_limits.hit("signup_ip", "192.0.2.2")
    assert rate_limits.rates("signup_ip") == []


@pytest.mark.skipif(not os.environ.get("SMPLAT_TEST_REDIS_URL"), reason="set SMPLAT_TEST_REDIS_URL")
def test_workers_share_counters_in_redis(sqlite_url, monkeypatch):
    # given REDIS_URL set: every worker's limiter counts in the same Redis
    from limits.storage import storage_from_string
    from limits.strategies import MovingWindowRateLimiter

    monkeypatch.setenv("REDIS_URL", os.environ["SMPLAT_TEST_REDIS_URL"])
    configure(monkeypatch, rate_limit_signin_ip="4/minute")
    rate_limits.reset()
    try:
        # when this worker takes 4 sign-ins from one IP
        for _ in range(4):
            rate_limits.hit("signin_ip", "203.0.113.99")

        # then a second worker (its own connection to the same Redis) sees the limit spent
        other_worker = MovingWindowRateLimiter(
            storage_from_string(os.environ["SMPLAT_TEST_REDIS_URL"], key_prefix="smplat-rl")
        )
        item = rate_limits.rates("signin_ip")[0]
        assert other_worker.test(item, *rate_limits._identity("signin_ip", "203.0.113.99")) is False
        assert other_worker.test(item, *rate_limits._identity("signin_ip", "203.0.113.100")) is True
        with pytest.raises(rate_limits.RateLimited):
            rate_limits.hit("signin_ip", "203.0.113.99")
    finally:
        rate_limits.reset()
        monkeypatch.delenv("REDIS_URL")
        reset_settings_cache()
