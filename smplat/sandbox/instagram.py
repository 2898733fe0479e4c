"""Local Instagram account source speaking the Graph API's business-discovery shapes over HTTP.

`GET /<version>/<account id>?fields=business_discovery.username(<handle>){...}&access_token=…`
answers `{"business_discovery": {...}, "id": ...}` like the Graph API, with the errors it
uses: code 190 (bad token), code 110 / subcode 2207013 (no such business account), code 10
(private or personal account), code 4 with HTTP 403 (application request limit reached), and
an `X-App-Usage` header with the share of the hourly call budget used.

Every handle exists with numbers derived from its name, except the knobs' `unknown_handles`
(and handles starting with "unknown") and `private_handles` (and handles starting with
"private"). The numbers move when the SMM panel sandbox delivers an order for the profile:
each request reads the panel's `GET /sandbox/orders` (one loopback HTTP call, so it works
whether the two sandboxes share a process or not) and adds what was delivered on a link
naming the handle: followers services to the followers, likes to the recent posts. With no
panel reachable the numbers are the base ones. Knobs (`POST /sandbox/knobs`): calls_per_hour,
organic_per_hour, unknown_handles, private_handles, script (one-shot faults for the next
calls: "rate_limit", "http500", "malformed", or "pass" to answer one call normally).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from smplat.integrations.instagram import RECENT_MEDIA, normalize_handle
from smplat.sandbox.panel import HttpSandboxServer, ServedSandbox
from smplat.settings import SANDBOX_INSTAGRAM_TOKEN

_DISCOVERY_RE = re.compile(r"business_discovery\.username\(([^)]*)\)")


@dataclass
class InstagramKnobs:
    calls_per_hour: int = 200
    organic_per_hour: int = 2  # followers an account gains on its own per hour since the sandbox started
    unknown_handles: list[str] = field(default_factory=list)
    private_handles: list[str] = field(default_factory=list)
    script: list[str] = field(default_factory=list)


class InstagramState:
    def __init__(self, token: str, panel_orders_url: str | None, knobs: InstagramKnobs | None = None) -> None:
        self.token, self.panel_orders_url = token, panel_orders_url
        self.knobs = knobs or InstagramKnobs()
        self.calls: list[float] = []  # monotonic time of each answered call, for the hourly budget
        self.started = time.monotonic()
        self.lock = threading.Lock()

    def reset(self) -> None:
        with self.lock:
            self.knobs = InstagramKnobs()
            self.calls.clear()
            self.started = time.monotonic()

    def set_knobs(self, **values: Any) -> None:
        with self.lock:
            for name, value in values.items():
                if not hasattr(self.knobs, name):
                    raise ValueError(f"unknown knob: {name}")
                setattr(self.knobs, name, value)


def _seed(handle: str) -> int:
    return int.from_bytes(hashlib.sha256(handle.encode()).digest()[:4], "big")


async def _delivered(state: InstagramState, handle: str) -> tuple[int, int]:
    """(followers, likes) the panel sandbox delivered on links naming `handle`."""
    if not state.panel_orders_url:
        return 0, 0
    try:
        async with httpx.AsyncClient(timeout=2.0) as client:
            rows = (await client.get(state.panel_orders_url)).json()
    except (httpx.HTTPError, ValueError):
        return 0, 0
    followers = likes = 0
    for row in rows if isinstance(rows, list) else []:
        if normalize_handle(str(row.get("link", ""))) != handle:
            continue
        category = str(row.get("category", "")).lower()
        delivered = int(row.get("delivered") or 0)
        if "follower" in category:
            followers += delivered
        elif "like" in category:
            likes += delivered
    return followers, likes


def _account(state: InstagramState, handle: str, delivered: tuple[int, int]) -> dict[str, Any]:
    seed = _seed(handle)
    hours = int((time.monotonic() - state.started) // 3600)
    followers = 800 + seed % 9000 + hours * state.knobs.organic_per_hour + delivered[0]
    per_post_likes = max(1, followers // 25 + seed % 7)
    extra_likes = delivered[1]
    media = []
    for i in range(RECENT_MEDIA):
        likes = per_post_likes + (seed >> i) % 5 + (extra_likes if i == 0 else 0)
        media.append({"like_count": likes, "comments_count": 1 + (seed >> (i + 3)) % 4, "id": f"{seed}{i:02d}"})
    return {
        "username": handle,
        "name": handle.replace(".", " ").replace("_", " ").title(),
        "followers_count": followers,
        "follows_count": 150 + seed % 600,
        "media_count": 40 + seed % 300,
        "media": {"data": media},
        "id": str(17841400000000000 + seed),
    }


def _error(code: int, message: str, status: int = 400, subcode: int | None = None) -> JSONResponse:
    body: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "sandbox"}
    if subcode is not None:
        body["error_subcode"] = subcode
    return JSONResponse({"error": body}, status_code=status)


def build_app(state: InstagramState) -> Starlette:
    async def graph(request: Request) -> Response:
        params = request.query_params
        with state.lock:
            now = time.monotonic()
            state.calls = [t for t in state.calls if now - t < 3600]
            over_budget = len(state.calls) >= state.knobs.calls_per_hour
            if not over_budget:
                state.calls.append(now)
            used = min(100, -(-len(state.calls) * 100 // max(1, state.knobs.calls_per_hour)))  # rounded up
            fault = state.knobs.script.pop(0) if state.knobs.script else None
            knobs = InstagramKnobs(**asdict(state.knobs))
        usage = {"X-App-Usage": json.dumps({"call_count": used, "total_time": used // 2, "total_cputime": used // 3})}
        if over_budget or fault == "rate_limit":
            response = _error(4, "Application request limit reached", status=403)
            response.headers.update(
                {"X-App-Usage": json.dumps({"call_count": 100, "total_time": 50, "total_cputime": 30})}
            )
            return response
        if fault == "http500":
            return Response("<html>500 Internal Server Error</html>", status_code=500, media_type="text/html")
        if fault == "malformed":
            return Response('{"business_discovery": {"followers_co', status_code=200, media_type="application/json")
        if params.get("access_token") != state.token:
            return _error(190, "Invalid OAuth access token - Cannot parse access token", status=400)
        found = _DISCOVERY_RE.search(params.get("fields", ""))
        if found is None:
            return _error(100, "The parameter fields is required (business_discovery.username(...)).")
        handle = normalize_handle(found.group(1))
        if not handle or handle in knobs.unknown_handles or handle.startswith("unknown"):
            return _error(
                110, f"The user with username: {found.group(1)} cannot be found.", subcode=2207013, status=400
            )
        if handle in knobs.private_handles or handle.startswith("private"):
            return _error(10, "The account is private or not a business or creator account.", status=400)
        account = _account(state, handle, await _delivered(state, handle))
        return JSONResponse({"business_discovery": account, "id": request.path_params["account_id"]}, headers=usage)

    async def knobs(request: Request) -> Response:
        if request.method == "POST":
            try:
                state.set_knobs(**(await request.json()))
            except (ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(asdict(state.knobs))

    return Starlette(
        routes=[
            Route("/sandbox/knobs", knobs, methods=["GET", "POST"]),
            Route("/{version}/{account_id}", graph, methods=["GET"]),
        ]
    )


class InstagramSandbox(ServedSandbox):
    """`with InstagramSandbox(port=0, panel_orders_url=...) as ig: ig.base_url ...`"""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8094,
        *,
        token: str = SANDBOX_INSTAGRAM_TOKEN,
        panel_orders_url: str | None = None,
        knobs: InstagramKnobs | None = None,
    ) -> None:
        self.state = InstagramState(token, panel_orders_url, knobs)
        self._server = HttpSandboxServer(build_app(self.state), host, port, "instagram-sandbox")

    @property
    def base_url(self) -> str:
        return f"http://{self._server.host}:{self._server.port}"

    @property
    def description(self) -> str:
        return f"Instagram sandbox (Graph API business discovery) at {self.base_url}"
