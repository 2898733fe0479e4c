"""The Starlette app holding every API route; Reflex mounts its own app under it."""

from __future__ import annotations

from starlette.applications import Starlette

from smplat.api import auth, health, refills, stripe_webhook


def build_api() -> Starlette:
    return Starlette(routes=[*health.routes, *auth.routes, *stripe_webhook.routes, *refills.routes])
