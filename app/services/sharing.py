"""Sharing a conversation (issue 13): with named users or with its project's members, as
viewer or participant, and through a read-only link.

Who may do what is in :mod:`app.services.authz` (rules 6 and 7); the states authorise each
event (managing shares needs the conversation's owner) before calling these use-cases. Here:

- a share names an account by email (the Share dialog's field), or the project's members;
  sharing again with the same audience changes the role, removing revokes it at once;
- a conversation has at most one live link; creating one when it exists gives the same
  address, revoking kills its token for good, and a new link gets a new token. The link
  shows the conversation as it is when opened, so its address never changes;
- :meth:`SharingService.open_link` decides who may open a link: any signed-in account, and
  anyone when ``public_links`` (``PUBLIC_SHARE_LINKS``) is on, read at every visit.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import Engine
from sqlmodel import Session

from app.db import crud
from app.db.models import ShareRole, utcnow
from app.db.session import run_in_session
from app.errors import InvalidInput, NotFound, NotSignedIn
from app.services.authz import Principal, can_send, can_write_conversation, share_role
from app.services.views import ConversationSummary

T = TypeVar("T")

TOKEN_BYTES = 32  # 256 bits: 43 URL-safe characters
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
LINK_GONE = "This link does not work: it was revoked, or never existed."


def new_link_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def parse_role(value: str) -> ShareRole:
    try:
        return ShareRole(value)
    except ValueError:
        raise InvalidInput("Pick viewer or participant.") from None


@dataclass(frozen=True, slots=True)
class ShareView:
    """One share as the Share dialog lists it."""

    id: int
    label: str  # "Everyone in the project", or the person's name and email
    role: str  # "viewer" or "participant"
    project_wide: bool


@dataclass(frozen=True, slots=True)
class SharePanel:
    """What the Share dialog shows: the shares and the live link's token ("" for none)."""

    shares: list[ShareView]
    link_token: str


@dataclass(frozen=True, slots=True)
class Access:
    """What a reader may do with one conversation, for the page (buttons to show); the
    events check again on the server whatever the page shows."""

    can_send: bool
    can_manage: bool
    shared_role: str  # "viewer"/"participant" when reading through a share, else ""


def _view(row: crud.ShareRow) -> ShareView:
    if row.user_id is None:
        label = "Everyone in the project"
    else:
        label = f"{row.display_name} ({row.email})" if row.display_name else row.email
    return ShareView(row.id, label, str(row.role), row.user_id is None)


class SharingService:
    def __init__(self, engine: Engine, *, public_links: bool = False) -> None:
        self.engine = engine
        self.public_links = public_links

    async def _db(self, fn: Callable[[Session], T]) -> T:
        return await run_in_session(self.engine, fn)

    @staticmethod
    def _panel(session: Session, conversation_id: str) -> SharePanel:
        shares = [
            _view(r) for r in crud.list_shares(session=session, conversation_id=conversation_id)
        ]
        link = crud.live_link(session=session, conversation_id=conversation_id)
        return SharePanel(shares, link.token if link is not None else "")

    # ----- the owner's Share dialog (the caller has checked they manage the conversation) ----

    async def panel(self, conversation_id: str) -> SharePanel:
        return await self._db(lambda s: self._panel(s, conversation_id))

    async def share_with(
        self, conversation_id: str, *, email: str, role: str, by: Principal
    ) -> SharePanel:
        """Share with the account of ``email`` (or change its role). An unknown email is an
        error that says so; the owner's own address too."""
        wanted = parse_role(role)
        address = email.strip().lower()
        if not address:
            raise InvalidInput("Type the email of the person to share with.")

        def write(session: Session) -> SharePanel:
            user = crud.get_user_by_email(session=session, email=address)
            if user is None or user.disabled_at is not None:
                raise InvalidInput(f"There is no account with the email {address}.")
            if user.id == by.user_id:
                raise InvalidInput("That is you: you have this conversation already.")
            crud.set_share(
                session=session,
                conversation_id=conversation_id,
                user_id=user.id,
                role=wanted,
                created_by=by.user_id,
            )
            return self._panel(session, conversation_id)

        return await self._db(write)

    async def share_with_project(
        self, conversation_id: str, *, role: str, by: Principal
    ) -> SharePanel:
        """Share with every member of the conversation's project (or change that role)."""
        wanted = parse_role(role)

        def write(session: Session) -> SharePanel:
            crud.set_share(
                session=session,
                conversation_id=conversation_id,
                user_id=None,
                role=wanted,
                created_by=by.user_id,
            )
            return self._panel(session, conversation_id)

        return await self._db(write)

    async def set_role(self, conversation_id: str, share_id: int, role: str) -> SharePanel:
        wanted = parse_role(role)

        def write(session: Session) -> SharePanel:
            rows = crud.list_shares(session=session, conversation_id=conversation_id)
            row = next((r for r in rows if r.id == share_id), None)
            if row is None:
                raise NotFound("That share does not exist any more.")
            crud.set_share(
                session=session,
                conversation_id=conversation_id,
                user_id=row.user_id,
                role=wanted,
                created_by=None,
            )
            return self._panel(session, conversation_id)

        return await self._db(write)

    async def remove(self, conversation_id: str, share_id: int) -> SharePanel:
        def write(session: Session) -> SharePanel:
            crud.remove_share(session=session, conversation_id=conversation_id, share_id=share_id)
            return self._panel(session, conversation_id)

        return await self._db(write)

    async def create_link(self, conversation_id: str, *, by: Principal) -> SharePanel:
        def write(session: Session) -> SharePanel:
            crud.create_link(
                session=session,
                conversation_id=conversation_id,
                token=new_link_token(),
                created_by=by.user_id,
            )
            return self._panel(session, conversation_id)

        return await self._db(write)

    async def revoke_link(self, conversation_id: str) -> SharePanel:
        def write(session: Session) -> SharePanel:
            crud.revoke_link(session=session, conversation_id=conversation_id, now=utcnow())
            return self._panel(session, conversation_id)

        return await self._db(write)

    # ----- readers -----------------------------------------------------------------------

    async def access(self, principal: Principal, conversation_id: str) -> Access:
        """What ``principal`` may do with a conversation they may read."""
        owned = await self._db(
            lambda s: crud.conversation_owner(
                session=s, conversation_id=conversation_id, reader=principal.user_id
            )
        )
        manage = can_write_conversation(principal, owned)
        role = None if manage else share_role(principal, owned)
        return Access(can_send(principal, owned), manage, str(role) if role else "")

    async def shared_with_me(self, principal: Principal) -> list[ConversationSummary]:
        """Conversations shared with the principal by name, outside their own projects."""
        rows = await self._db(lambda s: crud.shared_with_user(session=s, user_id=principal.user_id))
        return [
            ConversationSummary.of(r, shared=True)
            for r in rows
            if principal.role_in(r.project_id) is None
        ]

    async def open_link(self, principal: Principal | None, token: str) -> str:
        """The id of the conversation a link shows, if this visitor may open it: anyone
        signed in, and nobody too when public links are allowed. Unknown, malformed and
        revoked tokens are :class:`NotFound`; nobody on a private link :class:`NotSignedIn`
        (checked first, so nobody learns whether a token is live)."""
        if principal is None and not self.public_links:
            raise NotSignedIn("Log in to open this shared conversation.")
        if not _TOKEN.match(token):
            raise NotFound(LINK_GONE)
        conversation_id = await self._db(lambda s: crud.link_conversation(session=s, token=token))
        if conversation_id is None:
            raise NotFound(LINK_GONE)
        return conversation_id
