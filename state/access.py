"""Who is asking, and may they: the one check every public event makes before acting.

Every public method of a State is an event the browser can call with any arguments, so no
event trusts an id it is given or one held in its own state: each resolves the principal on
the server from the session cookie of its websocket handshake (``self.router.headers``,
never sent to the browser) and asks :mod:`app.services.authz` about the row it touches, deny
by default. Ids are checked whether they came from the browser or from state: a tab's state
outlives a logout and a login as someone else.

A :class:`Need` names what an event touches; :func:`authorize` resolves the principal and
checks it, raising :class:`NotSignedIn`, :class:`NotFound` (unknown and foreign ids alike)
or :class:`Forbidden` (readable, not writable: a viewer). One indexed query resolves the
cookie, one more per row checked; nothing is cached between events, so a revoked session
or a changed role counts at the next event.
"""

from __future__ import annotations

from dataclasses import dataclass

from reflex.state import BaseState

from app.errors import NotSignedIn
from app.services import get_sharing_service
from app.services.accounts import get_account_service
from app.services.authz import Owner, Principal, owner_of


@dataclass(frozen=True, slots=True)
class Need:
    """What an event touches. Empty: only that someone is signed in (an event that changes
    this tab's own view and reads nothing). ``create``: it adds a row to the principal's
    default project (a new conversation, prompt or upload)."""

    conversation: str | None = None
    message: int | None = None
    prompt: int | None = None
    uses_prompt: int | None = None  # a prompt a conversation will use: read, never written
    attachments: tuple[str, ...] = ()
    write: bool = False  # send in it: its owners and a share's participants
    manage: bool = False  # change it as its owner: rename, delete, settings, shares
    create: bool = False
    admin: bool = False  # only an admin (the /admin page)


SIGNED_IN = Need()
ADMIN = Need(admin=True)


async def principal_of(state: BaseState) -> Principal | None:
    """The signed-in principal of the state's websocket, from its handshake's cookie."""
    return await get_account_service().principal_from_cookie(state.router.headers.cookie)


async def authorize(state: BaseState, need: Need = SIGNED_IN) -> Principal:
    """The principal, if they may do what ``need`` says; else raises (see the module)."""
    principal = await principal_of(state)
    if principal is None:
        raise NotSignedIn("Log in to continue.")
    authz = get_account_service().authz
    if need.admin:
        authz.require_admin(principal)
    if need.conversation:
        await authz.require_conversation(
            principal, need.conversation, write=need.write, manage=need.manage
        )
    if need.message is not None:
        await authz.require_message(principal, need.message, write=need.write, manage=need.manage)
    if need.prompt is not None:
        await authz.require_prompt(principal, need.prompt, write=need.write)
    if need.uses_prompt is not None:
        await authz.require_prompt(principal, need.uses_prompt)
    for attachment_id in need.attachments:
        await authz.require_attachment(principal, attachment_id, write=True)
    if need.create:
        owner_of(principal)  # raises for a viewer-only user
    return principal


async def payer_of(
    principal: Principal, *, conversation_id: str | None = None, message_id: int | None = None
) -> Owner | None:
    """Who pays for a reply the principal starts (after :func:`authorize` allowed it): None
    for the conversation's owners, the principal themself for a share's participant."""
    authz = get_account_service().authz
    return await authz.payer(principal, conversation_id=conversation_id, message_id=message_id)


async def authorize_link(state: BaseState, token: str) -> str:
    """The conversation a read-only link shows, if this visitor may open it (signed in, or
    anyone when public links are allowed); else raises :class:`NotSignedIn` or
    :class:`NotFound` (app/services/sharing.py). A link grants nothing else."""
    return await get_sharing_service().open_link(await principal_of(state), token)
