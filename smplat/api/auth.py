"""Auth routes: the only places that set or clear the HttpOnly session cookie.

Sign-in and sign-up forms are Reflex pages; on success their handler issues a one-time
ticket and sends the browser to `/api/auth/session?ticket=…`, which trades it for a
server-side session and sets the cookie in the HTTP response (JavaScript never sees it).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from smplat.api._access import public
from smplat.db import session_scope
from smplat.services import accounts, carts
from smplat.settings import get_settings


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def _set_session_cookie(response: Response, token: str, max_age: int) -> None:
    settings = get_settings()
    response.set_cookie(
        settings.session_cookie_name,
        token,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
    )


def _clear_session_cookie(response: Response) -> None:
    settings = get_settings()
    response.delete_cookie(
        settings.session_cookie_name, path="/", httponly=True, samesite="lax", secure=settings.cookie_secure
    )


@public("a visitor trades a one-time sign-in ticket for the session cookie; the ticket is the credential")
def exchange_ticket(request: Request) -> Response:
    ticket = request.query_params.get("ticket", "")
    with session_scope() as db:
        created = accounts.redeem_signin_ticket(
            db, ticket, ip_address=client_ip(request), user_agent=request.headers.get("user-agent", "")
        )
    if created is None:
        # Expired or replayed ticket: back to the form with a reason, no cookie.
        return RedirectResponse("/signin?error=expired", status_code=303)
    with session_scope() as db:
        carts.merge_on_sign_in(db, created.token, request.cookies.get(carts.CART_COOKIE))
    response = RedirectResponse(created.next_path, status_code=303)
    _set_session_cookie(response, created.token, get_settings().session_ttl_days * 86400)
    response.headers["Cache-Control"] = "no-store"
    return response


@public("ends the caller's own session, if any")
def sign_out(request: Request) -> Response:
    token = request.cookies.get(get_settings().session_cookie_name)
    with session_scope() as db:
        accounts.revoke_session(db, token)
    if request.method == "GET":
        response: Response = RedirectResponse("/", status_code=303)
    else:
        response = JSONResponse({"signed_out": True})
    _clear_session_cookie(response)
    return response


routes = [
    Route("/api/auth/session", exchange_ticket, methods=["GET"]),
    Route("/api/auth/signout", sign_out, methods=["POST"]),
]
