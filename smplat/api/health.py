"""Health route for load balancers and the run command's readiness check."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from smplat.api._access import public
from smplat.db import DatabaseUnavailable, check_database


@public("load balancers and the run command probe it; it reveals only up/degraded")
def health(_request: Request) -> JSONResponse:
    try:
        check_database()
    except DatabaseUnavailable as exc:
        return JSONResponse({"status": "degraded", "database": str(exc)}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})


routes = [Route("/api/health", health, methods=["GET"])]
