"""Reflex configuration. Values come from Parley's settings (app/settings.py)."""

import os

import reflex as rx
from reflex.plugins.sitemap import SitemapPlugin

from app.guards.origins import allowed_origins
from app.settings import get_settings

settings = get_settings()

if settings.redis_url:
    # Several workers (`make serve-multi`): Reflex starts granian with its default of stopping
    # every worker when one dies. The `reflex run` process imports this file before it starts
    # granian, so the server it starts respawns a dead worker instead, and the others go on.
    import granian.server

    class _RespawningServer(granian.server.Server):  # pyright: ignore[reportGeneralTypeIssues, reportUntypedBaseClass]
        def __init__(self, *args: object, **kwargs: object) -> None:
            kwargs.setdefault("respawn_failed_workers", True)
            super().__init__(*args, **kwargs)  # pyright: ignore[reportArgumentType]

    granian.server.Server = _RespawningServer

config = rx.Config(
    app_name="app",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    # In-process state by default; Redis (shared by every worker) when REDIS_URL is set.
    state_manager_mode=(
        rx.constants.StateManagerMode.REDIS
        if settings.redis_url
        else rx.constants.StateManagerMode.MEMORY
    ),
    redis_url=settings.redis_url,
    disable_plugins=[SitemapPlugin],
    # Reflex's default is "*": any site could drive the event websocket. The served origin
    # only (`reflex run` exports the frontend port), or PARLEY_ALLOWED_ORIGINS.
    cors_allowed_origins=list(
        allowed_origins(settings.allowed_origins, os.environ.get("REFLEX_FRONTEND_PORT", "3000"))
    ),
    # Light, dark or the system's choice: the header's Theme picker sets it, and the browser
    # remembers it (local storage, key "theme"). New visitors follow the system.
    default_color_mode="system",
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="indigo", radius="medium"))],
)
