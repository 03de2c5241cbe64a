"""Authorisation for Parley's own HTTP routes and websockets: who is asking (from the session
cookie on the request or the websocket handshake) and may they read this.

The live-reply websocket (``app/web/stream_ws.py``) calls :func:`stream_guard`'s check with
its connection and message id before sending a byte; the attachment route calls
:func:`attachment_guard`'s. Both answer False for nobody, for a foreign id and for an
unknown one alike, so the caller answers all three the same way (404, or the stream's
"gone" end frame).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import HTTPConnection

from app.errors import ParleyError
from app.services.accounts import AccountService
from app.services.authz import Principal

Check = Callable[[HTTPConnection, str], Awaitable[bool]]


async def principal_of(connection: HTTPConnection, accounts: AccountService) -> Principal | None:
    """The signed-in principal of a request or websocket handshake, or None."""
    return await accounts.principal_from_cookie(connection.headers.get("cookie"))


async def _allowed(
    require: Callable[[Principal | None, Any], Awaitable[object]],
    principal: Principal | None,
    ident: Any,
) -> bool:
    try:
        await require(principal, ident)
    except ParleyError:
        return False
    return True


def attachment_guard(accounts: Callable[[], AccountService]) -> Check:
    """``check(connection, attachment_id)``: may this connection read the attachment?"""

    async def check(connection: HTTPConnection, attachment_id: str) -> bool:
        service = accounts()
        principal = await principal_of(connection, service)
        return await _allowed(service.authz.require_attachment, principal, attachment_id)

    return check


def stream_guard(
    accounts: Callable[[], AccountService],
) -> Callable[[HTTPConnection, int], Awaitable[bool]]:
    """``check(connection, message_id)``: may this connection read the message's live reply
    (may it read the message's conversation)?"""

    async def check(connection: HTTPConnection, message_id: int) -> bool:
        service = accounts()
        principal = await principal_of(connection, service)
        return await _allowed(service.authz.require_message, principal, message_id)

    return check
