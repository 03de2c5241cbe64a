"""The composition root: builds the Reflex app, wires the services, registers the pages.

This is the one module in app/ that imports Reflex.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import reflex as rx

from app import services
from app.db.session import migrate
from app.services.titles import TitleService
from app.services.wiring import build_chat_service
from app.settings import get_settings
from app.web.attachments import attachment_app
from app.web.stream_ws import stream_app
from components.pages.chat import chat_page
from components.pages.prompts import prompts_page
from state.chat import ChatState
from state.composer import ComposerState
from state.prompts import PromptsState

log = logging.getLogger("parley")


async def _prepare_database() -> None:
    """Start-up: apply migrations, mark replies a dead process left streaming, and empty
    the trash of conversations deleted over 30 days ago."""
    settings = get_settings()
    migrate(settings.resolved_database_url)
    recovered = await services.get_chat_service().recover_interrupted()
    if recovered:
        log.warning("marked %d interrupted replies as errors", recovered)
    purged = await services.get_conversation_service().purge_deleted()
    if purged:
        log.info("purged %d conversations deleted over 30 days ago", purged)
    swept = await services.get_attachment_service().sweep(datetime.now(UTC) - timedelta(days=1))
    if swept:
        log.info("deleted %d attached files never sent or no longer used", swept)


chat_service = build_chat_service(get_settings())
services.configure(chat_service, titles=TitleService(chat_service.engine, chat_service.models))

app = rx.App(
    head_components=[
        rx.el.meta(name="color-scheme", content="light dark"),
        # Paste or drop files on the composer to attach them (assets/composer_files.js).
        rx.script(src="/composer_files.js"),
    ],
    # The live-reply websocket (/_parley/stream/<id>) on the same backend as Reflex.
    api_transformer=[
        stream_app(
            lambda: services.get_chat_service().hub,
            max_fps=1000 / get_settings().live_frame_ms,
        ),
        # Attached files, by attachment id only (/_parley/attachment/<id>).
        attachment_app(services.get_attachment_service),
    ],
)
app.register_lifespan_task(_prepare_database)
app.add_page(
    chat_page,
    route="/[[c]]/[[conversation_id]]",
    title="Parley",
    on_load=[ChatState.load_page, ComposerState.load_options],
)
app.add_page(prompts_page, route="/prompts", title="Prompts · Parley", on_load=PromptsState.load)
