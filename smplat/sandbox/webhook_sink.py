"""Local Slack-compatible webhook sink: every JSON POST to /hooks/<name> is kept as a file to read back."""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from smplat.sandbox.panel import HttpSandboxServer, ServedSandbox


def store_post(directory: Path, hook: str, body: Any) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{time.time_ns():020d}-{secrets.token_hex(4)}"
    tmp = directory / f".{name}.tmp"
    tmp.write_text(json.dumps({"hook": hook, "body": body}))
    final = directory / f"{name}.json"
    os.replace(tmp, final)
    return final


def list_posts(directory: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every stored post ({"hook", "body"}), oldest first."""
    path = Path(directory)
    if not path.is_dir():
        return []
    return [json.loads(p.read_text()) for p in sorted(path.glob("*.json"))]


class WebhookSink(ServedSandbox):
    """Answers `ok` like Slack; a body that is not a JSON object gets 400 `invalid_payload`."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 8093, directory: str | os.PathLike[str] = "var/webhooks"
    ) -> None:
        self.directory = Path(directory)

        async def hook(request: Request) -> Response:
            try:
                body = json.loads(await request.body())
            except ValueError:
                return PlainTextResponse("invalid_payload", status_code=400)
            if not isinstance(body, dict) or not isinstance(body.get("text"), str):
                return PlainTextResponse("invalid_payload", status_code=400)
            store_post(self.directory, request.path_params["name"], body)
            return PlainTextResponse("ok")

        async def posts(_request: Request) -> Response:
            return JSONResponse(list_posts(self.directory))

        app = Starlette(
            routes=[Route("/hooks/{name}", hook, methods=["POST"]), Route("/sandbox/posts", posts, methods=["GET"])]
        )
        self._server = HttpSandboxServer(app, host, port, "webhook-sink")

    @property
    def url(self) -> str:
        return f"http://{self._server.host}:{self._server.port}/hooks/alerts"

    @property
    def description(self) -> str:
        return f"Webhook sink at {self.url}, posts in {self.directory}"

    def posts(self) -> list[dict[str, Any]]:
        return list_posts(self.directory)
