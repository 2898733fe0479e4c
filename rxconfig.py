"""Reflex configuration, read from the same settings object as everything else."""

import os

import reflex as rx

from smplat.settings import PROJECT_ROOT, get_settings
from smplat.ui.theme import theme

settings = get_settings()
_bun = PROJECT_ROOT / ".tools" / "node_modules" / ".bin" / "bun"

config = rx.Config(
    app_name="smplat",
    db_url=settings.database_url,
    async_db_url=settings.async_database_url,
    redis_url=settings.redis_url,
    frontend_port=settings.port,
    backend_port=settings.port,
    show_built_with_reflex=False,
    # CORS and the /_event websocket accept only these origins (never "*" with credentials)
    cors_allowed_origins=settings.allowed_origin_list,
    telemetry_enabled=False,
    plugins=[rx.plugins.RadixThemesPlugin(theme=theme), rx.plugins.SitemapPlugin()],
    **({"bun_path": _bun} if _bun.exists() and not os.environ.get("REFLEX_USE_SYSTEM_BUN") else {}),
)
