"""The composition root: builds the Reflex app, wires the services, registers the pages.

This is the one module in app/ that imports Reflex.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import reflex as rx

from app import services
from app.db.session import migrate
from app.errors import public_error
from app.guards.login import LoginLimiter
from app.guards.origins import security_middleware, served_guard
from app.guards.setup import build_login_limiter
from app.guards.upload_cap import upload_cap
from app.services.accounts import get_account_service
from app.services.alert_delivery import alert_task_from_settings
from app.services.gateway import Gateway, gateway_from_settings
from app.services.oidc import OidcClient
from app.services.titles import TitleService
from app.services.transfer import get_transfer_service
from app.services.wiring import build_chat_service
from app.settings import get_settings
from app.web.access import attachment_guard, stream_guard
from app.web.attachments import attachment_app
from app.web.auth_routes import auth_app
from app.web.gateway import gateway_app
from app.web.stream_ws import stream_app
from app.web.transfer import transfer_app
from app.web.usage_export import session_scope, usage_export_app
from components.pages.admin import admin_page
from components.pages.auth import account_page, login_page, signup_page
from components.pages.chat import chat_page
from components.pages.prompts import prompts_page
from components.pages.share import link_page
from components.pages.transfer import data_page, keys_page
from components.pages.usage import usage_page
from state.admin import AdminState
from state.auth import AuthState
from state.chat import ChatState
from state.composer import ComposerState
from state.keys import KeysState
from state.prompts import PromptsState
from state.share import LinkState, ShareState
from state.transfer import TransferState
from state.usage import UsageState

log = logging.getLogger("parley")


async def _prepare_database() -> None:
    """Start-up: apply migrations, mark replies a dead process left streaming, and empty
    the trash of conversations deleted over 30 days ago."""
    settings = get_settings()
    migrate(settings.resolved_database_url)
    # Workers sharing a database (REDIS_URL) must not end each other's live replies.
    shared = bool(settings.redis_url)
    recovered = await services.get_chat_service().recover_interrupted(shared=shared)
    if recovered:
        log.warning("marked %d interrupted replies as errors", recovered)
    purged = await services.get_conversation_service().purge_deleted()
    if purged:
        log.info("purged %d conversations deleted over 30 days ago", purged)
    await _sweep_uploads()


SWEEP_EVERY = 3600.0  # seconds between sweeps of attached files never sent


async def _sweep_uploads() -> None:
    swept = await services.get_attachment_service().sweep(datetime.now(UTC) - timedelta(days=1))
    if swept:
        log.info("deleted %d attached files never sent or no longer used", swept)


async def _sweep_hourly() -> None:
    """Pending uploads are swept every hour, not only at start-up (a failed sweep is logged
    and the next one tries again)."""
    while True:
        await asyncio.sleep(SWEEP_EVERY)
        try:
            await _sweep_uploads()
        except Exception as exc:
            public_error(exc, log=log)


async def _reap_interrupted() -> None:
    """Several workers: one that dies mid-reply is not restarted to clean up after itself, so
    every worker marks replies whose lease ran out, each half-lease."""
    chat = services.get_chat_service()
    while True:
        await asyncio.sleep(chat.lease / 2)
        try:
            reaped = await chat.recover_interrupted(shared=True)
        except Exception as exc:
            public_error(exc, log=log)
        else:
            if reaped:
                log.warning("marked %d replies of a lost worker as interrupted", reaped)


# Origins and Host names this process serves (PARLEY_ALLOWED_ORIGINS / _HOSTS, else the served
# origin): the middleware refuses the rest; the account forms accept the same origins.
_guard = served_guard(get_settings().allowed_origins, get_settings().allowed_hosts)


def _allowed_origins() -> tuple[str, ...]:
    """Origins besides a request's own that may post the account forms."""
    return tuple(_guard.origins)


@lru_cache(maxsize=1)
def _oidc_client() -> OidcClient | None:
    settings = get_settings()
    if not (settings.oidc_issuer and settings.oidc_client_id):
        return None
    secret = settings.oidc_client_secret
    return OidcClient(
        issuer=settings.oidc_issuer,
        client_id=settings.oidc_client_id,
        client_secret=secret.get_secret_value() if secret else None,
        scopes=settings.oidc_scopes,
        timeout=settings.oidc_timeout,
    )


@lru_cache(maxsize=1)
def _login_limiter() -> LoginLimiter:
    return build_login_limiter(get_settings())


chat_service = build_chat_service(get_settings())
services.configure(chat_service, titles=TitleService(chat_service.engine, chat_service.models))


@lru_cache(maxsize=1)
def _gateway() -> Gateway:
    """The API's calls go through the chat's registry (router, cache), guarded the same way."""
    chat = services.get_chat_service()
    return gateway_from_settings(get_settings(), chat.engine, chat.models)


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
            # Only to a session that may read the reply's conversation (issue 10).
            authorize=stream_guard(get_account_service),
        ),
        # Attached files, by attachment id only, to their readers (/_parley/attachment/<id>).
        # The states stamp project and user on every new row: nothing unowned is readable.
        attachment_app(
            services.get_attachment_service,
            authorize=attachment_guard(get_account_service),
        ),
        # Sign-up, login, logout, password, OpenID Connect: the session cookie's only setter.
        auth_app(
            get_account_service,
            allowed_origins=_allowed_origins,
            oidc=_oidc_client,
            secure_cookie=get_settings().session_cookie_secure,
            # Failed sign-ins per IP and per account name (app/guards/login.py).
            login_limiter=_login_limiter,
        ),
        # The OpenAI/Anthropic-compatible API (/v1/...), with per-user API keys.
        gateway_app(_gateway),
        # CSV exports of the usage dashboard (/_parley/usage/export/<what>.csv).
        usage_export_app(lambda: services.get_chat_service().engine, session_scope),
        # Upload bodies (Reflex's /_upload) over the cap are refused as they stream in,
        # before Starlette's form parser spools them to disk (app/guards/upload_cap.py).
        upload_cap(
            get_settings().upload_max_bytes
            or services.get_attachment_service().limits.upload_body_max_bytes
        ),
        # Export downloads (/_parley/export/...), to readers by the session cookie.
        transfer_app(get_transfer_service, get_account_service),
        # Last, so outermost: Origin and Host checks and the CSP around everything above,
        # the event websocket and uploads included (app/guards/origins.py).
        security_middleware(_guard),
    ],
)
app.register_lifespan_task(_prepare_database)
app.register_lifespan_task(_sweep_hourly)
if get_settings().redis_url:
    app.register_lifespan_task(_reap_interrupted)
# Budget and spend alerts: the hourly spike check and webhook deliveries (app/services/alerts).
app.register_lifespan_task(alert_task_from_settings(chat_service.engine).run)
# Every chat and prompts page wants a signed-in user: nobody goes to /login and comes back.
# (The events check again, each one: on_load is a convenience, not the lock.)
# One route for / and /c/<id> (the navigation-race fix: moving between them is no page change).
app.add_page(
    chat_page,
    route="/[[c]]/[[conversation_id]]",
    title="Parley",
    on_load=[
        AuthState.require_login,
        ChatState.load_page,
        ComposerState.load_options,
        ShareState.load_access,
    ],
)
# A conversation's read-only link (issue 13): signed-in visitors, or anyone when
# PUBLIC_SHARE_LINKS is on; LinkState.load decides, and a visitor who may not is told so.
app.add_page(
    link_page, route="/s/[token]", title="Shared conversation · Parley", on_load=LinkState.load
)
app.add_page(
    prompts_page,
    route="/prompts",
    title="Prompts · Parley",
    on_load=[AuthState.require_login, PromptsState.load],
)
app.add_page(login_page, route="/login", title="Log in · Parley", on_load=AuthState.load_form)
app.add_page(signup_page, route="/signup", title="Sign up · Parley", on_load=AuthState.load_form)
app.add_page(
    account_page, route="/account", title="Account · Parley", on_load=AuthState.load_account
)
app.add_page(
    usage_page,
    route="/usage",
    title="Usage · Parley",
    on_load=[AuthState.require_login, UsageState.load],
)
app.add_page(admin_page, route="/admin", title="Admin · Parley", on_load=AdminState.load)
app.add_page(data_page, route="/data", title="Your data · Parley", on_load=TransferState.load)
app.add_page(keys_page, route="/keys", title="API keys · Parley", on_load=KeysState.load)
