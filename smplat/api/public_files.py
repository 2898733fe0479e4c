"""Public files served beside the pages: product pictures (/media/...), /sitemap.xml,
/robots.txt and /favicon.ico. None needs a session; none reveals anything unpublished."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from smplat.api._access import public
from smplat.db import session_scope
from smplat.services import media, seo
from smplat.settings import PROJECT_ROOT

# checksum-named originals and variants only: no path separators, no dot files
MEDIA_NAME = re.compile(r"^[0-9a-f]{64}(-(card|thumb))?\.(png|jpg|webp)$")
MEDIA_TYPES = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}
FAVICON = PROJECT_ROOT / "assets" / "favicon.ico"
# Files are named by their checksum, so a name always means the same bytes.
IMMUTABLE = "public, max-age=31536000, immutable"


@public("product pictures are shown on public storefront pages; names are content checksums")
def media_file(request: Request) -> Response:
    name = request.path_params["name"]
    if not MEDIA_NAME.match(name):
        return PlainTextResponse("Not found", status_code=404)
    path = media.media_dir() / name
    if not path.is_file():
        return PlainTextResponse("Not found", status_code=404)
    return FileResponse(
        path,
        media_type=MEDIA_TYPES[name.rsplit(".", 1)[1]],
        headers={"Cache-Control": IMMUTABLE, "X-Content-Type-Options": "nosniff"},
    )


@public("search engines read it; it lists only published products and active categories")
def sitemap(_request: Request) -> Response:
    with session_scope() as db:
        body = seo.sitemap_xml(db)
    return Response(body, media_type="application/xml", headers={"Cache-Control": "public, max-age=3600"})


@public("search engines read it first")
def robots(_request: Request) -> Response:
    return PlainTextResponse(seo.robots_txt(), headers={"Cache-Control": "public, max-age=3600"})


@public("browsers ask for it on every site")
def favicon(_request: Request) -> Response:
    return FileResponse(FAVICON, media_type="image/x-icon", headers={"Cache-Control": "public, max-age=86400"})


routes = [
    Route("/media/{name}", media_file, methods=["GET", "HEAD"]),
    Route("/sitemap.xml", sitemap, methods=["GET"]),
    Route("/robots.txt", robots, methods=["GET"]),
    Route("/favicon.ico", favicon, methods=["GET", "HEAD"]),
]
