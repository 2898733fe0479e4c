"""The Starlette app holding every API route; Reflex mounts its own app under it."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware

from smplat.api import auth, health, refills, reseller_v2, stripe_webhook
from smplat.api.security import SecurityMiddleware


def build_api() -> Starlette:
    # Reflex mounts its app (pages, /_event) under this one, so the middleware sees every request
    return Starlette(
        routes=[*health.routes, *auth.routes, *stripe_webhook.routes, *refills.routes, *reseller_v2.routes],
        middleware=[Middleware(SecurityMiddleware)],
    )
