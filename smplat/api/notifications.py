"""One-click unsubscribe: `GET|POST /api/notifications/unsubscribe?token=…`.

The token (signed, one user and one kind) is the credential, so it works without a sign-in.
GET answers a page with one button (link scanners and mail previews fetch links: a GET must
not unsubscribe anyone); POST turns the kind off. Mail providers POST the body
`List-Unsubscribe=One-Click` to the URL of the `List-Unsubscribe` header (RFC 8058).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from smplat.api._access import public
from smplat.db import session_scope
from smplat.services import notifications

PATH = "/api/notifications/unsubscribe"


def _page(status: int, title: str, message: str, *, token: str = "", confirm: bool = False) -> HTMLResponse:
    html_env, _ = notifications._environments()
    context = notifications.base_context()
    body = html_env.get_template("_page_unsubscribe.html").render(
        {
            **context,
            "title": title,
            "message": message,
            "token": token,
            "confirm": confirm,
            "action": PATH,
            "preferences_url": context["account_url"] + "/notifications",
        }
    )
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


_INVALID = (
    "This link is not valid",
    "The unsubscribe link is incomplete or was changed. Open it again from the email, or change "
    "your choices in your account.",
)


@public("one-click unsubscribe from a bulk email: the signed token in the link is the credential")
async def unsubscribe(request: Request) -> HTMLResponse:
    token = request.query_params.get("token", "")
    if request.method == "POST" and not token:
        form = await request.form()
        token = str(form.get("token", ""))
    found = notifications.read_unsubscribe_token(token)
    if found is None:
        return _page(400, *_INVALID)
    spec = notifications.KINDS[found[1]]
    if request.method == "GET":
        return _page(
            200,
            f"Unsubscribe from the {spec.label.lower()}?",
            f"You will no longer get the {spec.label.lower()} by email. Orders, receipts and security "
            "emails are not affected.",
            token=token,
            confirm=True,
        )
    with session_scope() as db:
        done = notifications.unsubscribe(db, token)
    if done is None:
        return _page(400, *_INVALID)
    return _page(
        200,
        "You are unsubscribed",
        f"You will no longer get the {done.label.lower()} by email. You can turn it back on in your account.",
    )


routes = [Route(PATH, unsubscribe, methods=["GET", "POST"])]
