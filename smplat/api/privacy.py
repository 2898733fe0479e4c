"""`GET /api/account/export`: the signed-in customer's data as a ZIP (services.privacy).

The route names no account: it always exports the caller's own, so no one can ask for
someone else's. The answer is never cached (`Cache-Control: no-store`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from smplat.api._access import protected
from smplat.db import session_scope
from smplat.services import privacy
from smplat.services.errors import ServiceError, http_status


@protected("signed_in")
def export(request: Request) -> Response:
    user = request.state.user
    try:
        with session_scope() as db:
            archive = privacy.export_for_owner(db, user.id, ip_address=request.client.host if request.client else "")
    except ServiceError as exc:
        return JSONResponse(exc.as_json(), status_code=http_status(exc))
    return Response(
        archive,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{privacy.EXPORT_FILENAME}"',
            "Cache-Control": "no-store",
        },
    )


routes = [Route("/api/account/export", export, methods=["GET"])]
