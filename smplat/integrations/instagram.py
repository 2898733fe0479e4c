"""Instagram Graph API client (business discovery): the public numbers of an Instagram account.

One call per profile: `GET /<version>/<our business account id>?fields=business_discovery
.username(<handle>){...}` with our long-lived token (and `appsecret_proof` when the app secret
is set). The default base URL is the local sandbox (`smplat.sandbox.instagram`), which speaks
the same shapes, so this code is what runs in development and in the tests.

Errors are sorted into what the customer is told: `unknown` (no such business/creator
account), `private` (the account's numbers are not public), `rate_limited` (Graph API codes
4, 17, 32, 613 or HTTP 429) and `error` (network, 5xx, malformed answers: retried later).
The `X-App-Usage` header (percent of the app's hourly call budget) is kept on the client so a
refresh run can stop before the limit.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass

import httpx

from smplat.settings import Settings, get_settings

HANDLE_RE = re.compile(r"^[a-z0-9._]{1,30}$")
_LINK_RE = re.compile(r"instagram\.com/(?:stories/)?([A-Za-z0-9._]{1,30})", re.IGNORECASE)
# First path parts of instagram.com links that are not an account (a post, a reel, ...)
_NOT_ACCOUNTS = frozenset({"p", "reel", "reels", "tv", "explore", "accounts", "direct", "stories"})
RECENT_MEDIA = 12
ACCOUNT_FIELDS = "username,name,followers_count,follows_count,media_count"
MEDIA_FIELDS = "like_count,comments_count"


def discovery_fields(handle: str) -> str:
    """The `fields` parameter of one business-discovery call."""
    media = f"media.limit({RECENT_MEDIA}){{{MEDIA_FIELDS}}}"
    return f"business_discovery.username({handle}){{{ACCOUNT_FIELDS},{media}}}"


RATE_LIMIT_CODES = frozenset({4, 17, 32, 613})
UNKNOWN_SUBCODES = frozenset({2207013, 33})
PRIVATE_CODES = frozenset({10, 200})


def normalize_handle(raw: str) -> str:
    """`@Some.User`, `some.user` or `https://instagram.com/some.user/` → `some.user`; "" when not a handle."""
    text = (raw or "").strip()
    found = _LINK_RE.search(text)
    if found:
        if found.group(1).lower() in _NOT_ACCOUNTS:
            return ""  # a post or reel link names no account
        text = found.group(1)
    elif "/" in text:
        return ""
    text = text.lstrip("@").strip().strip("/").lower()
    return text if HANDLE_RE.match(text) else ""


def profile_url(handle: str) -> str:
    return f"https://www.instagram.com/{handle}/"


@dataclass(frozen=True)
class ProfileNumbers:
    handle: str
    display_name: str
    followers: int
    following: int
    posts: int
    engagement_rate_bps: int  # average (likes + comments) of recent posts per follower, x 10000
    reach: int | None = None  # business discovery does not report reach


class InstagramError(Exception):
    """A profile could not be read; `kind` is unknown, private, rate_limited or error."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind, self.message = kind, message


def engagement_bps(followers: int, media: list[dict]) -> int:
    if followers <= 0 or not media:
        return 0
    interactions = sum(int(m.get("like_count") or 0) + int(m.get("comments_count") or 0) for m in media)
    return round(interactions * 10000 / len(media) / followers)


class InstagramClient:
    def __init__(
        self,
        base_url: str,
        *,
        api_version: str,
        account_id: str,
        access_token: str,
        app_secret: str = "",
        timeout: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_version, self.account_id = api_version, account_id
        self._token, self._app_secret = access_token, app_secret
        self._http = httpx.Client(timeout=timeout, follow_redirects=False)
        self.usage_percent = 0  # highest share of the app's call budget the last answer reported

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> InstagramClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _params(self, handle: str) -> dict[str, str]:
        params = {"fields": discovery_fields(handle), "access_token": self._token}
        if self._app_secret:
            params["appsecret_proof"] = hmac.new(
                self._app_secret.encode(), self._token.encode(), hashlib.sha256
            ).hexdigest()
        return params

    def _note_usage(self, response: httpx.Response) -> None:
        raw = response.headers.get("x-app-usage")
        if not raw:
            return
        try:
            usage = json.loads(raw)
            self.usage_percent = max(int(v) for v in usage.values())
        except (ValueError, TypeError, AttributeError):
            pass

    def fetch_profile(self, handle: str) -> ProfileNumbers:
        """The numbers of `@handle` (already normalised); raises InstagramError."""
        url = f"{self.base_url}/{self.api_version}/{self.account_id}"
        try:
            response = self._http.get(url, params=self._params(handle))
        except httpx.HTTPError as exc:
            raise InstagramError("error", f"Instagram could not be reached ({type(exc).__name__}).") from None
        self._note_usage(response)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise InstagramError("error", f"Instagram answered something unreadable (HTTP {response.status_code}).")
        if response.status_code == 429:
            raise InstagramError("rate_limited", _RATE_LIMITED)
        error = body.get("error")
        if error is not None or response.status_code >= 400:
            raise _classify(handle, error if isinstance(error, dict) else {}, response.status_code)
        found = body.get("business_discovery")
        if not isinstance(found, dict):
            raise InstagramError("error", "Instagram's answer had no account in it.")
        try:
            followers = int(found.get("followers_count") or 0)
            media = (found.get("media") or {}).get("data") or []
            return ProfileNumbers(
                handle=str(found.get("username") or handle).lower(),
                display_name=str(found.get("name") or ""),
                followers=followers,
                following=int(found.get("follows_count") or 0),
                posts=int(found.get("media_count") or 0),
                engagement_rate_bps=engagement_bps(followers, [m for m in media if isinstance(m, dict)]),
            )
        except (TypeError, ValueError, AttributeError):
            raise InstagramError("error", "Instagram's answer had numbers we could not read.") from None


_RATE_LIMITED = "Instagram is limiting how often we may ask right now; the numbers update at the next try."


def _classify(handle: str, error: dict, status: int) -> InstagramError:
    code, subcode = error.get("code"), error.get("error_subcode")
    if code in RATE_LIMIT_CODES:
        return InstagramError("rate_limited", _RATE_LIMITED)
    if subcode in UNKNOWN_SUBCODES or code == 110:
        return InstagramError(
            "unknown",
            f"We found no public Instagram business or creator account @{handle}. Check the spelling.",
        )
    if code in PRIVATE_CODES:
        return InstagramError(
            "private",
            f"@{handle} is private or a personal account, so its numbers are not public. "
            "Switch it to a public business or creator account to see its charts.",
        )
    if status >= 500:
        return InstagramError("error", f"Instagram had a problem (HTTP {status}); we will try again.")
    return InstagramError("error", f"Instagram refused the request (code {code}); we will try again later.")


def client_from_settings(settings: Settings | None = None) -> InstagramClient:
    settings = settings or get_settings()
    return InstagramClient(
        settings.effective_instagram_graph_base,
        api_version=settings.instagram_api_version,
        account_id=settings.instagram_business_account_id,
        access_token=settings.instagram_access_token.get_secret_value(),
        app_secret=settings.instagram_app_secret.get_secret_value(),
        timeout=settings.instagram_timeout_seconds,
    )
