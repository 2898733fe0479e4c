"""The rx.App: every registered page (route, title, guard, loaders from `smplat.ui.registry`)
and the API routes on the same port."""

from __future__ import annotations

import logging
import sys

import reflex as rx

from smplat.api.app import build_api
from smplat.settings import get_settings
from smplat.ui import registry
from smplat.ui.theme import global_style

_unsafe = get_settings().production_refusal("web")
if _unsafe is not None:
    # the web app never serves a production shop with sandbox secrets or insecure cookies
    print(_unsafe, file=sys.stderr, flush=True)
    raise SystemExit(2)

logging.basicConfig(level=get_settings().log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
# Reflex compares the schema with Alembic at start-up; its INFO chatter is not ours to show.
logging.getLogger("alembic").setLevel(logging.WARNING)

app = rx.App(
    style=global_style,
    stylesheets=["/smplat.css"],
    api_transformer=build_api(),
    head_components=[rx.el.meta(name="theme-color", content="#6d28d9")],
)

# Imports smplat.ui.pages (so every @page registration runs) and adds each page with its guard first.
registry.add_pages(app)
