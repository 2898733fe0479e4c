"""`GET /api/invoices/{invoice_id}/pdf`: an invoice or credit note's PDF, to its owner and to staff.

The session cookie decides (`@protected`); another customer's invoice id answers 404 like an id
that does not exist, so ids reveal nothing. The file lives under `settings.invoice_dir`, never
a public folder; it is written on first need and then served as stored."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from smplat.api._access import protected
from smplat.db import session_scope
from smplat.services import invoices
from smplat.services.errors import ServiceError, http_status
from smplat.services.permissions import Permission


@protected(Permission.VIEW_OWN_ORDERS)
def invoice_pdf(request: Request) -> Response:
    user = request.state.user
    try:
        with session_scope() as db:
            invoice = invoices.invoice_for(db, int(request.path_params["invoice_id"]), user.id, user.role)
            path = invoices.ensure_pdf(db, invoice)
            number = invoice.number
    except ServiceError as exc:
        return JSONResponse(exc.as_json(), status_code=http_status(exc))
    return Response(
        path.read_bytes(),
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{number}.pdf"',
            "Cache-Control": "private, no-store",
        },
    )


routes = [Route(invoices.DOWNLOAD_PATH.replace("{id}", "{invoice_id:int}"), invoice_pdf, methods=["GET"])]
