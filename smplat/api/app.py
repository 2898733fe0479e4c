"""The Starlette app holding every API route; Reflex mounts its own app under it."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware

from smplat.api import (
    auth,
    health,
    invoices,
    metrics,
    notifications,
    privacy,
    public_files,
    refills,
    reseller_v2,
    stripe_webhook,
)
from smplat.api.metrics import HttpMetricsMiddleware
from smplat.api.security import SecurityMiddleware


def build_api() -> Starlette:
    # Reflex mounts its app (pages, /_event) under this one, so the middleware sees every request
    routes = [
        *health.routes,
        *auth.routes,
        *stripe_webhook.routes,
        *refills.routes,
        *privacy.routes,
        *notifications.routes,
        *invoices.routes,
        *reseller_v2.routes,
        *metrics.routes,
        *public_files.routes,
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(HttpMetricsMiddleware, routes=routes), Middleware(SecurityMiddleware)],
    )
