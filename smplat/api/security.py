"""HTTP hardening for everything the web process serves: pages, `/api/*` and `/_event`.

`build_api()` puts `SecurityMiddleware` on the Starlette app Reflex mounts its own app
under (`rx.App(api_transformer=...)`), so in `reflex run --env prod --single-port` it sees
every request: page files, API routes and the websocket handshake.

- Every HTTP response gets a Content-Security-Policy the pages work under, frame-ancestors
  'none' + X-Frame-Options DENY, nosniff, a strict referrer policy, and HSTS when cookies
  are Secure (the site is served over HTTPS).
- State-changing requests (POST/PUT/PATCH/DELETE) to `/api/*`, except Stripe's webhook and
  the reseller API (`/api/v2`, API key, no cookie),
  are refused (403) when their Origin (or, without one, their Referer) is not an allowed
  origin: the session cookie must not act for another site's page.
- The `/_event` websocket handshake is refused (403) for a foreign Origin, so a page on
  another origin (another port of the same host included) cannot drive a visitor's state.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from smplat.settings import Settings, _origin, get_settings

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Stripe calls this from its servers and proves itself with a signature, not a cookie.
# signed by Stripe / authenticated by a reseller's API key, never by the session cookie
ORIGIN_EXEMPT_PATHS = frozenset({"/api/stripe/webhook", "/api/v2", "/api/v2/"})
EVENT_PATH = "/_event"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        # the prebuilt pages carry small inline bootstrap scripts (router context, colour mode),
        # and Reflex runs `rx.call_script` (the full-page navigations after sign-in/out) with eval
        "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob: https:",
        "font-src 'self' data:",
        "connect-src 'self' ws: wss:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-src 'none'",
        "frame-ancestors 'none'",
    ]
)


def security_headers(settings: Settings) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
        (b"x-frame-options", b"DENY"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"strict-origin-when-cross-origin"),
    ]
    if settings.cookie_secure:
        headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
    return headers


def request_origin(headers: dict[bytes, bytes]) -> str | None:
    """The Origin the browser sent; without one, the origin of the Referer; None: neither."""
    origin = headers.get(b"origin")
    if origin is not None:
        value = origin.decode("latin-1").strip()
        return "null" if value.lower() == "null" else _origin(value)
    referer = headers.get(b"referer")
    if referer:
        return _origin(referer.decode("latin-1")) or "null"
    return None


def origin_allowed(origin: str | None, settings: Settings) -> bool:
    """No Origin at all (a server-to-server client, not a browser page) is not a foreign page."""
    return origin is None or origin in settings.allowed_origin_list


class SecurityMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        settings = get_settings()
        path = scope.get("path", "")
        headers = dict(scope.get("headers") or [])

        if scope["type"] == "websocket":
            if (path == EVENT_PATH or path.startswith(EVENT_PATH + "/")) and not origin_allowed(
                request_origin(headers), settings
            ):
                # closing before accepting answers the handshake with 403
                await send({"type": "websocket.close", "code": 1008})
                return
            await self.app(scope, receive, send)
            return

        extra = security_headers(settings)
        method = scope.get("method", "GET").upper()
        if (
            method in UNSAFE_METHODS
            and (path == "/api" or path.startswith("/api/"))
            and path not in ORIGIN_EXEMPT_PATHS
            and not origin_allowed(request_origin(headers), settings)
        ):
            body = json.dumps({"error": "cross-origin request refused"}).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 403,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        *extra,
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in extra}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": kept + extra}
            await send(message)

        await self.app(scope, receive, send_with_headers)
