"""Request rate limits (the `limits` library): how often one IP, email or user may do a thing.

Each limit is a setting `rate_limit_<name>` holding one or more rates ("5/minute;30/hour");
an empty setting switches that limit off. Counters live in memory by default, and in Redis
when `REDIS_URL` is set, so every web worker counts against the same numbers.

Call `hit("signup_ip", ip)` (or `hit_all([...])` for several at once) before doing the
work: it raises `RateLimited` (code THROTTLED) and counts nothing when any limit is spent.
Callers then answer with the error's message (pages) or `http_status(err)` = 429 (API).
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Iterable

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from smplat.services.errors import ErrorCode, ServiceError
from smplat.settings import get_settings

_KEY_PREFIX = "smplat-rl"


class RateLimited(ServiceError):
    """Too many requests of one kind from one IP, email or user; nothing was done."""

    default_code = ErrorCode.THROTTLED

    def __init__(self, message: str, *, retry_after_seconds: int, limit_name: str) -> None:
        super().__init__(message, code=ErrorCode.THROTTLED)
        self.retry_after_seconds = retry_after_seconds
        self.limit_name = limit_name


def wait_message(seconds: float) -> str:
    """'Too many attempts. Try again in 4 minutes.' (whole minutes, rounded up, at least one)."""
    minutes = max(1, math.ceil(seconds / 60))
    return f"Too many attempts. Try again in {minutes} minute{'s' if minutes != 1 else ''}."


_lock = threading.Lock()
_limiter: tuple[str, MovingWindowRateLimiter] | None = None


def _storage_uri() -> str:
    return get_settings().redis_url or "memory://"


def limiter() -> MovingWindowRateLimiter:
    """The process's limiter, rebuilt when the storage setting changes (tests switch it)."""
    global _limiter
    uri = _storage_uri()
    with _lock:
        if _limiter is None or _limiter[0] != uri:
            storage: Storage = (
                MemoryStorage() if uri == "memory://" else storage_from_string(uri, key_prefix=_KEY_PREFIX)
            )
            _limiter = (uri, MovingWindowRateLimiter(storage))
        return _limiter[1]


def rates(name: str) -> list[RateLimitItem]:
    """The configured rates of a limit; [] when it is switched off. Unknown names are a bug."""
    field = f"rate_limit_{name}"
    if field not in type(get_settings()).model_fields:
        raise KeyError(f"no setting {field} for rate limit {name!r}")
    spec = (getattr(get_settings(), field) or "").strip()
    return parse_many(spec) if spec else []


def _identity(name: str, key: str) -> tuple[str, str]:
    # Emails and IPs are hashed so the shared store holds no personal data.
    return name, hashlib.sha256(key.strip().lower().encode("utf-8")).hexdigest()[:32]


def hit_all(checks: Iterable[tuple[str, str | None]]) -> None:
    """Count one request against every (limit name, key) pair, or against none of them.

    A pair with an empty key (unknown IP, no email typed) is skipped: it has no one to count.
    """
    pending = [(name, key, item) for name, key in checks if key for item in rates(name)]
    active = limiter()
    for name, key, item in pending:
        if not active.test(item, *_identity(name, key)):
            reset_at, _remaining = active.get_window_stats(item, *_identity(name, key))
            wait = max(1.0, reset_at - time.time())
            raise RateLimited(wait_message(wait), retry_after_seconds=math.ceil(wait), limit_name=name)
    for name, key, item in pending:
        if not active.hit(item, *_identity(name, key)):  # another request took the last one meanwhile
            raise RateLimited(wait_message(item.get_expiry()), retry_after_seconds=item.get_expiry(), limit_name=name)


def hit(name: str, key: str | None) -> None:
    """Count one request of `name` by `key` (an IP, an email, a user id); raise RateLimited when spent."""
    hit_all([(name, key)])


def reset() -> None:
    """Forget every counter (tests; an operator after a false alarm)."""
    active = limiter()
    active.storage.reset()


def allow(checks: Iterable[tuple[str, str | None]]) -> bool:
    """`hit_all` for work that may be dropped quietly (analytics events): False when spent."""
    try:
        hit_all(checks)
    except RateLimited:
        return False
    return True


def analytics_event(client_ip: str | None, visitor: str | None) -> bool:
    """May one more analytics event of this IP / browser be stored? (`analytics_ip`,
    `analytics_visitor`). A spent limit drops the event quietly: the visitor's page works on."""
    return allow([("analytics_ip", client_ip), ("analytics_visitor", visitor)])
