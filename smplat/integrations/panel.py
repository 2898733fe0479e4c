"""Client for the SMM "panel API v2" that upstream providers speak, in the provider's dialect.

The dialect (`smplat.integrations.dialects.PanelDialect`, stored in `Provider.dialect`) says
how to ask (form POST, JSON body or GET query; `key` / `api` / `api_token`; trailing slash)
and how to read the answers (status vocabulary, "Unknown" remains, HTTP 200 `{"error": ...}`
or real 4xx/429, `{"status": "success", ...}` envelopes, per-type order parameters, ids per
call). Every answer is normalised here, so the engine never sees a panel's dialect; a status
word outside the dialect's vocabulary is UNKNOWN (the order is flagged), never "pending".

Errors are split by what the caller may do next:
- `PanelRefused`: the panel answered and refused (`{"error": ...}`); nothing was created.
  `is_active_link` marks "You have active order with this link" (wait, or route elsewhere).
  `PanelRateLimited` (HTTP 429), `is_no_funds` and `is_rate_limited` mark refusals after
  which the engine fails over to the next route.
- `PanelUnavailable`: the call did not produce a usable answer (connect error, timeout,
  5xx, malformed JSON). For `add` this is *ambiguous*: the panel may have created the
  order, so the engine reconciles instead of calling `add` again.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from smplat.integrations.dialects import PRESETS, PanelDialect
from smplat.models.providers import ProviderOrderStatus, RefillStatus

MAX_STATUS_BATCH = 100  # panels accept at most 100 ids per multi-status call
GUARD_RECHECK_SECONDS = 30.0  # how long a "this URL may be called" verdict is trusted

ACTIVE_LINK_MARKER = "active order with this link"


class PanelError(Exception):
    """Base of every panel failure; the message is one line for operators."""


class PanelRefused(PanelError):
    """The panel answered with `{"error": ...}`: a definite no, nothing was created."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def is_active_link(self) -> bool:
        return ACTIVE_LINK_MARKER in self.message.lower()

    @property
    def is_no_funds(self) -> bool:
        """ "Not enough funds on balance" (and its variants): this provider cannot take it now."""
        text = self.message.lower()
        return "not enough funds" in text or "insufficient funds" in text or "insufficient balance" in text

    @property
    def is_rate_limited(self) -> bool:
        """HTTP 429 or "too many requests": the call was turned away, nothing was created."""
        return isinstance(self, PanelRateLimited) or "too many requests" in self.message.lower()

    @property
    def is_unknown_service(self) -> bool:
        text = self.message.lower()
        return "incorrect service" in text or "service not found" in text or "unknown service" in text


class PanelRateLimited(PanelRefused):
    """HTTP 429: the panel did not take the request (nothing was created); slow down."""


class PanelBlocked(PanelRefused):
    """The base URL is not allowed (loopback/private address, not http(s)); nothing was sent."""


class PanelUnavailable(PanelError):
    """No usable answer: network error, timeout, 5xx or malformed body (outcome unknown)."""


@dataclass(frozen=True)
class PanelService:
    service: str
    name: str
    type: str
    category: str
    rate: Decimal  # per 1000 units
    min: int
    max: int
    refill: bool
    cancel: bool
    dripfeed: bool
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class PanelOrderStatus:
    status: ProviderOrderStatus
    raw_status: str
    charge: Decimal | None
    start_count: int | None
    remains: int | None  # None when the panel says "Unknown"; negative: over-delivered
    currency: str | None
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def over_delivered(self) -> int:
        """Units delivered beyond the order (the panel's negative remains), else 0."""
        return -self.remains if self.remains is not None and self.remains < 0 else 0


@dataclass(frozen=True)
class PanelBalance:
    balance: Decimal
    currency: str


# --- normalisation -----------------------------------------------------------------


def _as_int(value: Any, unknown: Iterable[str] = ("unknown", "null", "none", "-", "n/a")) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if not text or text.lower() in unknown:
        return None
    try:
        return int(Decimal(text))
    except (InvalidOperation, ValueError):
        return None


def _as_decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "y"}


def normalise_status_word(word: Any, dialect: PanelDialect | None = None) -> ProviderOrderStatus:
    return (dialect or PRESETS["perfect_panel"]).order_status(word)


def parse_order_status(data: dict[str, Any], dialect: PanelDialect | None = None) -> PanelOrderStatus:
    dialect = dialect or PRESETS["perfect_panel"]
    raw_status = str(data.get("status", "")).strip()
    return PanelOrderStatus(
        status=dialect.order_status(raw_status),
        raw_status=raw_status[:60],
        charge=_as_decimal(data.get("charge")),
        start_count=_as_int(data.get("start_count")),
        remains=_as_int(data.get("remains"), dialect.unknown_remains),
        currency=(str(data["currency"]).strip().upper()[:3] or None) if data.get("currency") else None,
        raw=dict(data),
    )


def parse_service(data: dict[str, Any]) -> PanelService:
    """One entry of the `services` answer; raises PanelRefused (bad provider data) when unusable."""
    ext_id = str(data.get("service", "")).strip()
    rate = _as_decimal(data.get("rate"))
    min_q, max_q = _as_int(data.get("min")), _as_int(data.get("max"))
    if not ext_id or rate is None or rate < 0 or min_q is None or max_q is None or min_q < 1 or max_q < min_q:
        raise PanelRefused(f"service entry is malformed: {json.dumps(data)[:200]}")
    return PanelService(
        service=ext_id[:64],
        name=str(data.get("name", "")).strip()[:300] or f"Service {ext_id}",
        type=str(data.get("type", "Default")).strip()[:60] or "Default",
        category=str(data.get("category", "")).strip()[:200],
        rate=rate,
        min=min_q,
        max=max_q,
        refill=_as_bool(data.get("refill", False)),
        cancel=_as_bool(data.get("cancel", False)),
        dripfeed=_as_bool(data.get("dripfeed", False)),
        raw=dict(data),
    )


# --- rate limit ----------------------------------------------------------------------


class RateLimiter:
    """Token bucket: `rate` calls per second, bursts up to `rate`.

    Not bound to an event loop: a slot is reserved under a thread lock and the wait happens
    outside it, so one limiter can be shared by every run (each `asyncio.run`) and thread of
    the process. Tokens may go negative: that is the queue of callers already waiting."""

    def __init__(self, rate_per_second: float) -> None:
        self.rate = max(0.1, float(rate_per_second))
        self.tokens = self.rate
        self.updated = time.monotonic()
        self._lock = threading.Lock()

    def set_rate(self, rate_per_second: float) -> None:
        with self._lock:
            self.rate = max(0.1, float(rate_per_second))
            self.tokens = min(self.tokens, self.rate)

    def reserve(self) -> float:
        """Take one slot; returns how long to wait before using it (0 when available now)."""
        with self._lock:
            now = time.monotonic()
            self.tokens = min(self.rate, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            self.tokens -= 1
            return 0.0 if self.tokens >= 0 else -self.tokens / self.rate

    async def acquire(self) -> None:
        delay = self.reserve()
        if delay > 0:
            await asyncio.sleep(delay)


_SHARED_LIMITERS: dict[str, RateLimiter] = {}
_SHARED_LOCK = threading.Lock()


def shared_limiter(key: str, rate_per_second: float) -> RateLimiter:
    """The process-wide limiter for `key` (one per provider): it lives as long as the process,
    so a new fulfilment run or status sync does not start with a full bucket. A changed rate
    is applied to the existing bucket."""
    with _SHARED_LOCK:
        limiter = _SHARED_LIMITERS.get(key)
        if limiter is None:
            limiter = _SHARED_LIMITERS[key] = RateLimiter(rate_per_second)
        elif limiter.rate != max(0.1, float(rate_per_second)):
            limiter.set_rate(rate_per_second)
        return limiter


# --- the client ----------------------------------------------------------------------


class PanelClient:
    """Async client for one provider. Use as `async with PanelClient(...) as client:`.

    One pooled `httpx.AsyncClient` per instance; every call has the provider's timeout and
    goes through its rate limiter.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_seconds: float = 20.0,
        rate_limit_per_second: float = 5.0,
        max_connections: int = 50,
        transport: httpx.AsyncBaseTransport | None = None,
        limiter: RateLimiter | None = None,
        url_guard: Callable[[str], str | None] | None = None,
        dialect: PanelDialect | None = None,
    ) -> None:
        self.dialect = dialect or PRESETS["perfect_panel"]
        self.base_url = self.dialect.url(base_url)
        self._api_key = api_key
        # `url_guard(url)` names why the URL may not be called (None: it may); asked again
        # before calls once its verdict is older than GUARD_RECHECK_SECONDS
        self._url_guard = url_guard
        self._guard_checked_at: float | None = None
        # `limiter`: a shared one (see `shared_limiter`) outlives this client; else a fresh bucket
        self.limiter = limiter or RateLimiter(rate_limit_per_second)
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_seconds),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            transport=transport,
        )

    async def __aenter__(self) -> PanelClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    def _check_url(self) -> None:
        if self._url_guard is None:
            return
        now = time.monotonic()
        if self._guard_checked_at is not None and now - self._guard_checked_at < GUARD_RECHECK_SECONDS:
            return
        problem = self._url_guard(self.base_url)
        if problem:
            self._guard_checked_at = None
            raise PanelBlocked(problem)
        self._guard_checked_at = now

    def _scrub(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

    async def _send(self, form: dict[str, str]) -> httpx.Response:
        transport = self.dialect.transport
        if transport == "json":
            return await self._http.post(self.base_url, json=form)
        if transport == "query":
            return await self._http.get(self.base_url, params=form)
        return await self._http.post(self.base_url, data=form)

    async def _call(self, action: str, **fields: Any) -> Any:
        self._check_url()  # before the key leaves this process
        form = {self.dialect.key_param: self._api_key, self.dialect.action_param: action}
        form.update({k: str(v) for k, v in fields.items() if v is not None})
        await self.limiter.acquire()
        try:
            response = await self._send(form)
        except httpx.TimeoutException:
            raise PanelUnavailable(f"{action}: timed out") from None
        except httpx.HTTPError as exc:
            # a GET query carries the key in the URL: never repeat it in a message
            raise PanelUnavailable(self._scrub(f"{action}: {type(exc).__name__}: {str(exc)[:160]}")) from None
        if response.status_code == 429:  # turned away before any work: a definite no, not ambiguous
            raise PanelRateLimited(f"{action}: HTTP 429 too many requests")
        if response.status_code >= 500:
            raise PanelUnavailable(f"{action}: HTTP {response.status_code}")
        try:
            data = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
            # the body itself is not repeated: it may be any page the URL points at
            raise PanelUnavailable(
                f"{action}: malformed JSON (HTTP {response.status_code}, "
                f"{response.headers.get('content-type', 'no content type')[:60]})"
            ) from None
        if isinstance(data, dict) and "error" in data and len(data) <= 2 and not _looks_like_batch(data):
            raise PanelRefused(self._scrub(str(data["error"])[:500]) or "error")
        if response.status_code >= 400:
            raise PanelRefused(f"{action}: HTTP {response.status_code}")
        if self.dialect.success_envelope and isinstance(data, dict) and str(data.get("status", "")).lower() == "error":
            raise PanelRefused(f"{action}: the panel answered status error")
        return data

    async def services(self) -> list[PanelService]:
        data = await self._call("services")
        if not isinstance(data, list):
            raise PanelUnavailable("services: expected a list")
        return [parse_service(entry) for entry in data if isinstance(entry, dict)]

    async def add(
        self,
        service: str,
        link: str,
        quantity: int,
        *,
        runs: int | None = None,
        interval: int | None = None,
        comments: Iterable[str] | None = None,
        ref: str | None = None,
        service_type: str = "Default",
        extra: dict[str, Any] | None = None,
    ) -> str:
        """Place an order; returns the panel's order id. `quantity` is the total number of
        units (with drip-feed the dialect decides whether the panel gets it per run, rounded
        up, or as the total). Only the parameters the dialect lists
        for `service_type` are sent (`extra`: the type's own, e.g. usernames, answer_number,
        Subscriptions' username/min/max/posts/delay/expiry; lists are sent one per line).
        `ref` is our submission key, sent to panels whose dialect supports looking orders up
        by it (see reconcile)."""
        if runs and self.dialect.dripfeed_quantity == "per_run":
            # `quantity` is the total we bought; the convention sends units per run
            quantity = -(-quantity // runs)
        offered: dict[str, Any] = {"link": link, "quantity": quantity, "runs": runs, "interval": interval}
        if service_type.strip().lower() == "subscriptions":
            # a subscription's units per post: min = max = quantity unless the order says otherwise
            offered.update({"min": quantity, "max": quantity})
        if comments:
            offered["comments"] = "\n".join(comments)
        for name, value in (extra or {}).items():
            offered[name] = "\n".join(map(str, value)) if isinstance(value, list | tuple) else value
        allowed = self.dialect.params_for(service_type)
        fields: dict[str, Any] = {"service": service}
        fields.update({name: offered[name] for name in allowed if offered.get(name) not in (None, "")})
        if ref:
            fields["ref"] = ref
        data = await self._call("add", **fields)
        order_id = data.get("order") if isinstance(data, dict) else None
        if order_id is None or str(order_id).strip() == "":
            raise PanelUnavailable(f"add: no order id in the answer: {json.dumps(data)[:120]}")
        return str(order_id).strip()

    async def find_by_ref(self, ref: str) -> str | None:
        """The panel's order id for our submission key, or None when it never arrived."""
        try:
            data = await self._call("status", ref=ref)
        except PanelRefused as refused:
            if "not found" in refused.message.lower():
                return None
            raise
        if isinstance(data, dict) and data.get("order") not in (None, ""):
            return str(data["order"]).strip()
        raise PanelUnavailable(f"status by ref: unexpected answer: {json.dumps(data)[:120]}")

    async def status(self, order_id: str) -> PanelOrderStatus:
        data = await self._call("status", order=order_id)
        if not isinstance(data, dict):
            raise PanelUnavailable("status: expected an object")
        return parse_order_status(data, self.dialect)

    async def statuses(self, order_ids: list[str]) -> dict[str, PanelOrderStatus | PanelRefused]:
        """Multi-status: each id maps to its status or to a PanelRefused (its `{error}`)."""
        if not order_ids:
            return {}
        if len(order_ids) > MAX_STATUS_BATCH:
            raise ValueError(f"at most {MAX_STATUS_BATCH} ids per status call")
        result: dict[str, PanelOrderStatus | PanelRefused] = {}
        step = self.dialect.max_ids_per_call
        for start in range(0, len(order_ids), step):
            chunk = order_ids[start : start + step]
            data = await self._call("status", orders=",".join(chunk))
            if not isinstance(data, dict):
                raise PanelUnavailable("status: expected an object keyed by order id")
            for order_id in chunk:
                entry = data.get(order_id)
                if isinstance(entry, dict) and "error" in entry and "status" not in entry:
                    result[order_id] = PanelRefused(str(entry["error"])[:500])
                elif isinstance(entry, dict):
                    result[order_id] = parse_order_status(entry, self.dialect)
                else:
                    result[order_id] = PanelRefused("missing from the answer")
        return result

    async def refill(self, order_id: str) -> str:
        data = await self._call("refill", order=order_id)
        refill_id = data.get("refill") if isinstance(data, dict) else None
        if refill_id in (None, ""):
            raise PanelUnavailable(f"refill: no refill id in the answer: {json.dumps(data)[:120]}")
        return str(refill_id).strip()

    def _refill_word(self, raw: str) -> RefillStatus:
        status = self.dialect.refill_status(raw)
        if status is None:  # never guessed as pending: the refill keeps its state, with this error
            raise PanelUnavailable(f"refill_status: unknown status word {raw[:40]!r}")
        return status

    async def refill_status(self, refill_id: str) -> tuple[RefillStatus, str]:
        data = await self._call("refill_status", refill=refill_id)
        raw = str(data.get("status", "")) if isinstance(data, dict) else ""
        return self._refill_word(raw), raw

    async def refills(self, order_ids: list[str]) -> dict[str, str | PanelRefused]:
        """Multi refill (`orders=`): each order id maps to its refill id or to a PanelRefused."""
        data = await self._call("refill", orders=",".join(order_ids))
        by_id = (
            {str(e.get("order")): e.get("refill") for e in data if isinstance(e, dict)}
            if isinstance(data, list)
            else {}
        )
        result: dict[str, str | PanelRefused] = {}
        for order_id in order_ids:
            answer = by_id.get(order_id)
            if isinstance(answer, dict) and "error" in answer:
                result[order_id] = PanelRefused(str(answer["error"])[:500])
            elif answer in (None, ""):
                result[order_id] = PanelRefused("missing from the answer")
            else:
                result[order_id] = str(answer).strip()
        return result

    async def refill_statuses(self, refill_ids: list[str]) -> dict[str, tuple[RefillStatus, str] | PanelError]:
        """Multi refill_status (`refills=`): each refill id maps to (status, word) or an error."""
        data = await self._call("refill_status", refills=",".join(refill_ids))
        by_id = (
            {str(e.get("refill")): e.get("status") for e in data if isinstance(e, dict)}
            if isinstance(data, list)
            else {}
        )
        result: dict[str, tuple[RefillStatus, str] | PanelError] = {}
        for refill_id in refill_ids:
            answer = by_id.get(refill_id)
            if isinstance(answer, dict) and "error" in answer:
                result[refill_id] = PanelRefused(str(answer["error"])[:500])
            elif answer is None:
                result[refill_id] = PanelRefused("missing from the answer")
            else:
                try:
                    result[refill_id] = (self._refill_word(str(answer)), str(answer))
                except PanelUnavailable as exc:
                    result[refill_id] = exc
        return result

    async def cancel(self, order_ids: list[str]) -> dict[str, str | PanelRefused]:
        """Multi cancel (`action=cancel&orders=<ids>`, chunked by the dialect's ids per call):
        each order id maps to the panel's answer (`1`) or to a PanelRefused (its `{error}`,
        e.g. a finished order, a service without cancel). No usable answer: PanelUnavailable
        (the engine retries; asking a panel to cancel twice is harmless)."""
        result: dict[str, str | PanelRefused] = {}
        step = self.dialect.max_ids_per_call
        for start in range(0, len(order_ids), step):
            chunk = order_ids[start : start + step]
            data = await self._call("cancel", orders=",".join(chunk))
            if not isinstance(data, list):
                raise PanelUnavailable(f"cancel: expected a list: {json.dumps(data)[:120]}")
            by_id = {str(e.get("order")).strip(): e.get("cancel") for e in data if isinstance(e, dict)}
            for order_id in chunk:
                answer = by_id.get(order_id)
                if isinstance(answer, dict) and "error" in answer:
                    result[order_id] = PanelRefused(self._scrub(str(answer["error"]))[:500])
                elif answer in (None, "", 0, "0", False):
                    result[order_id] = PanelRefused("missing from the answer")
                else:
                    result[order_id] = str(answer).strip()
        return result

    async def balance(self) -> PanelBalance:
        data = await self._call("balance")
        amount = _as_decimal(data.get("balance")) if isinstance(data, dict) else None
        if amount is None:
            raise PanelUnavailable(f"balance: no balance in the answer: {json.dumps(data)[:120]}")
        return PanelBalance(balance=amount, currency=str(data.get("currency") or "").strip().upper()[:3])


def _looks_like_batch(data: dict[str, Any]) -> bool:
    # {"123": {...}, "error": ...} never happens; a batch answer's values are objects.
    return any(isinstance(v, dict) for v in data.values())
