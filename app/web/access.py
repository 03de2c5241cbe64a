"""Authorisation for Parley's own HTTP routes and websockets: who is asking (from the session
cookie on the request or the websocket handshake) and may they read this.

The live-reply websocket (``app/web/stream_ws.py``) calls :func:`stream_guard`'s check with
its connection and message id before sending a byte; the attachment route calls
:func:`attachment_guard`'s. Both answer False for nobody, for a foreign id and for an
unknown one alike, so the caller answers all three the same way (404, or the stream's
"gone" end frame).

``unowned_readable`` was for the transition only, while the chat page was anonymous and
made rows without a project. The states now stamp a project and user on every new row, and
the composition root leaves it off; rows from before accounts are in migration 0006's
project, so they are protected either way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import HTTPConnection

from app.errors import ParleyError
from app.services.accounts import AccountService
from app.services.authz import Principal

Check = Callable[[HTTPConnection, str], Awaitable[bool]]


async def principal_of(connection: HTTPConnection, accounts: AccountService) -> Principal | None:
    """The signed-in principal of a request or websocket handshake, or None."""
    return await accounts.principal_from_cookie(connection.headers.get("cookie"))


def attachment_guard(
    accounts: Callable[[], AccountService], *, unowned_readable: bool = False
) -> Check:
    """``check(connection, attachment_id)``: may this connection read the attachment?"""

    async def check(connection: HTTPConnection, attachment_id: str) -> bool:
        service = accounts()
        principal = await principal_of(connection, service)
        try:
            await service.authz.require_attachment(principal, attachment_id)
        except ParleyError:
            if unowned_readable:
                owned = await service.authz.attachment_owner(attachment_id)
                return owned is not None and owned.project_id is None
            return False
        return True

    return check


def stream_guard(
    accounts: Callable[[], AccountService], *, unowned_readable: bool = False
) -> Callable[[HTTPConnection, int], Awaitable[bool]]:
    """``check(connection, message_id)``: may this connection read the message's live reply
    (may it read the message's conversation)?"""

    async def check(connection: HTTPConnection, message_id: int) -> bool:
        service = accounts()
        principal = await principal_of(connection, service)
        try:
            await service.authz.require_message(principal, message_id)
        except ParleyError:
            if unowned_readable:
                owned = await service.authz.message_owner(message_id)
                return owned is not None and owned.project_id is None
            return False
        return True

    return check
