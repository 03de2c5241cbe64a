"""Authorisation: who may read or change what. Deny by default.

A :class:`Principal` is a signed-in user with their project roles, resolved on the server
from the session cookie (:func:`app.services.accounts.principal_from_cookie`). Nobody signed
in is ``None``, and every check below refuses ``None``.

The rules, one place:

1. A conversation, prompt or attachment belongs to a project. Any member of that project
   (owner, member or viewer) may read it; nobody else may, admins included (admins manage
   accounts and projects, they do not read other people's chats).
2. Owners may change everything in their project. Members may change the conversations
   they started, and the project's prompts. Viewers change nothing.
3. An attachment not yet sent (still in its uploader's composer) is its uploader's alone.
   Once sent, it is read and changed as its conversation is.
4. A row without a project (made before the wiring passes one) is an admin's only.
5. Unknown ids and ids the caller may not read give the same answer, :class:`NotFound`, so
   nobody learns what exists. Readable but not writable gives :class:`Forbidden`.
6. Sharing (issue 13). Those who may change a conversation by rule 2 (its project's owners,
   the member who started it) are its owners: they alone rename, pin, delete, change its
   settings and manage its shares. A share gives one user by name, or every member of the
   conversation's project, a share role: a *viewer* may read it (open, page its history,
   watch its live reply, read its files); a *participant* may also send, regenerate, retry,
   edit, switch versions, stop and delete messages. A project-wide share gives the project's
   viewers no more than viewing. A participant who is not an owner pays for what they send:
   their calls count against their own user and their own default project (:meth:`Authz.payer`),
   and an account that may add to no project of its own cannot send. Revoking takes effect
   at the next event: nothing is cached.
7. A read-only link (``/s/<token>``) shows its conversation to any signed-in account, and to
   anyone when the admin allows public links (``PUBLIC_SHARE_LINKS``); a revoked or unknown
   token shows nothing. It grants no event on the conversation itself.

The ``require_*`` coroutines load a row's owner facts and apply these rules; the ``can_*``
functions are the rules themselves, pure, for tests and for views that hide buttons.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar
from urllib.parse import quote

from sqlalchemy import Engine
from sqlmodel import Session

from app.db import crud
from app.db.crud import Owned, Scope
from app.db.models import Role, ShareRole
from app.db.session import run_in_session
from app.errors import Forbidden, NotFound, NotSignedIn
from app.services.kernel import CONVERSATION_GONE

T = TypeVar("T")

WRITERS = (Role.owner, Role.member)


@dataclass(frozen=True, slots=True)
class Principal:
    """A signed-in user, as the server knows them for one request or event."""

    user_id: str
    email: str
    display_name: str
    is_admin: bool
    session_id: str
    roles: Mapping[str, Role] = field(default_factory=dict)  # project id -> role
    # Where what they make goes: the first project they own (an admin's first is the
    # "Default" project of migration 0006, everyone else's their personal one), else the
    # first they are a member of; None if they may only view.
    default_project: str | None = None

    def role_in(self, project_id: str | None) -> Role | None:
        return None if project_id is None else self.roles.get(project_id)

    @property
    def scope(self) -> Scope:
        """What lists may show them: their projects' rows (and unowned ones for an admin)."""
        return Scope.of(self.roles, unowned=self.is_admin)


@dataclass(frozen=True, slots=True)
class Owner:
    """Who a new conversation, prompt or attachment belongs to."""

    user_id: str
    project_id: str


def owner_of(principal: Principal | None) -> Owner:
    """The owner stamped on what ``principal`` makes: them, in their default project.
    Raises :class:`NotSignedIn` for nobody, :class:`Forbidden` for a viewer-only user."""
    if principal is None:
        raise NotSignedIn()
    project = principal.default_project
    if project is None or not can_write_project(principal, project):
        raise Forbidden("You can view your projects but not add to them. Ask an owner.")
    return Owner(principal.user_id, project)


def default_project(memberships: Sequence[tuple[str, Role, datetime]]) -> str | None:
    """Of (project id, role, joined at) rows, the first owned project by joining time, else
    the first the user may write to."""
    ordered = sorted(memberships, key=lambda m: (m[2], m[0]))
    for wanted in ((Role.owner,), WRITERS):
        for project_id, role, _ in ordered:
            if role in wanted:
                return project_id
    return None


# ----- the rules (pure) ----------------------------------------------------------------------


def can_read_project(principal: Principal | None, project_id: str | None) -> bool:
    return principal is not None and principal.role_in(project_id) is not None


def can_write_project(principal: Principal | None, project_id: str | None) -> bool:
    """May add conversations, prompts and uploads to the project."""
    return principal is not None and principal.role_in(project_id) in WRITERS


def can_manage_project(principal: Principal | None, project_id: str | None) -> bool:
    """May rename the project and manage its members."""
    if principal is None:
        return False
    return principal.is_admin or principal.role_in(project_id) == Role.owner


def is_admin(principal: Principal | None) -> bool:
    return principal is not None and principal.is_admin


def share_role(principal: Principal | None, owned: Owned | None) -> ShareRole | None:
    """What the conversation's shares give ``principal`` (rule 6): the named share, or the
    project-wide one for a member of the conversation's project (a viewing member only
    views), whichever gives more."""
    if principal is None or owned is None or not owned.attached:
        return None
    roles = [owned.shares.user]
    project_role = principal.role_in(owned.project_id)
    if owned.shares.project is not None and project_role is not None:
        roles.append(ShareRole.viewer if project_role == Role.viewer else owned.shares.project)
    if ShareRole.participant in roles:
        return ShareRole.participant
    return ShareRole.viewer if ShareRole.viewer in roles else None


def can_read(principal: Principal | None, owned: Owned | None) -> bool:
    """May read a conversation (and its messages and streams), prompt or attachment."""
    if principal is None or owned is None:
        return False
    if owned.project_id is None:
        return principal.is_admin
    if not owned.attached:
        return owned.user_id == principal.user_id and can_read_project(principal, owned.project_id)
    return can_read_project(principal, owned.project_id) or share_role(principal, owned) is not None


def can_send(principal: Principal | None, owned: Owned | None) -> bool:
    """May send in a conversation, and regenerate, retry, edit, stop or delete its messages:
    its owners, and participants of a share."""
    return can_write_conversation(principal, owned) or (
        share_role(principal, owned) == ShareRole.participant
    )


def can_write_conversation(principal: Principal | None, owned: Owned | None) -> bool:
    """May change a conversation as its owner: rename, pin, delete, change its settings and
    share it (and send in it); or change an attachment of it. A share never gives this."""
    if principal is None or owned is None or not can_read(principal, owned):
        return False
    if owned.project_id is None:
        return principal.is_admin
    if not owned.attached:
        return True  # can_read already checked it is the uploader's
    role = principal.role_in(owned.project_id)
    return role == Role.owner or (role == Role.member and owned.user_id == principal.user_id)


def can_write_prompt(principal: Principal | None, owned: Owned | None) -> bool:
    if principal is None or owned is None or not can_read(principal, owned):
        return False
    if owned.project_id is None:
        return principal.is_admin
    return principal.role_in(owned.project_id) in WRITERS


# ----- where to send nobody ------------------------------------------------------------------


def safe_next(path: str | None, default: str = "/") -> str:
    """A local path to return to after signing in; anything else (another site, a scheme,
    ``//host``, backslashes, control characters) gives ``default``."""
    if not path or not path.startswith("/") or path.startswith("//"):
        return default
    if "\\" in path or any(ord(c) < 0x20 or ord(c) == 0x7F for c in path) or ":" in path:
        return default
    return path


def login_redirect(principal: Principal | None, path: str) -> str | None:
    """What a page's on_load does with its visitor: None for a signed-in user, else the
    login page's URL, which brings them back to ``path`` afterwards."""
    if principal is not None:
        return None
    return f"/login?next={quote(safe_next(path), safe='/')}"


# ----- the checks that load a row ------------------------------------------------------------


class Authz:
    """Applies the rules to rows in the database; each ``require_*`` returns on success and
    raises :class:`NotSignedIn`, :class:`NotFound` or :class:`Forbidden` otherwise."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def _db(self, fn: Callable[[Session], T]) -> T:
        return await run_in_session(self.engine, fn)

    @staticmethod
    def _check(
        principal: Principal | None,
        owned: Owned | None,
        write: bool,
        can_write: Callable[[Principal | None, Owned | None], bool],
        what: str,
    ) -> Principal:
        if principal is None:
            raise NotSignedIn()
        if not can_read(principal, owned):
            raise NotFound(
                CONVERSATION_GONE if what == "conversation" else f"That {what} does not exist."
            )
        if write and not can_write(principal, owned):
            if can_write is can_write_conversation and can_send(principal, owned):
                raise Forbidden(f"Only the {what}'s owner can do that.")
            raise Forbidden(f"Your role lets you read this {what}, not change it.")
        return principal

    async def attachment_owner(self, attachment_id: str, reader: str | None = None) -> Owned | None:
        return await self._db(
            lambda s: crud.attachment_owner(session=s, attachment_id=attachment_id, reader=reader)
        )

    async def message_owner(self, message_id: int, reader: str | None = None) -> Owned | None:
        return await self._db(
            lambda s: crud.message_owner(session=s, message_id=message_id, reader=reader)
        )

    async def conversation_owner(
        self, conversation_id: str, reader: str | None = None
    ) -> Owned | None:
        return await self._db(
            lambda s: crud.conversation_owner(
                session=s, conversation_id=conversation_id, reader=reader
            )
        )

    async def require_conversation(
        self,
        principal: Principal | None,
        conversation_id: str,
        *,
        write: bool = False,
        manage: bool = False,
    ) -> Principal:
        """May read the conversation; ``write``: send in it (owners, participants);
        ``manage``: change it as its owner (rename, delete, settings, shares)."""
        owned = None
        if principal is not None:
            owned = await self.conversation_owner(conversation_id, principal.user_id)
        rule = can_write_conversation if manage else can_send
        return self._check(principal, owned, write or manage, rule, "conversation")

    async def require_message(
        self,
        principal: Principal | None,
        message_id: int,
        *,
        write: bool = False,
        manage: bool = False,
    ) -> Principal:
        """A message is read and changed as its conversation is (live-reply streams too):
        ``write`` (regenerate, edit, delete, stop) is for those who may send, ``manage``
        for its owners."""
        owned = None
        if principal is not None:
            owned = await self.message_owner(message_id, principal.user_id)
        rule = can_write_conversation if manage else can_send
        return self._check(principal, owned, write or manage, rule, "message")

    async def payer(
        self,
        principal: Principal,
        *,
        conversation_id: str | None = None,
        message_id: int | None = None,
    ) -> Owner | None:
        """Who pays for what ``principal`` sends in a conversation (or starts from one of its
        messages), by rule 6: None when they send as an owner (the conversation's own user and
        project pay, as always); a participant pays from their own default project, and one
        with none gets :class:`Forbidden`. Call it after the event's authorisation."""
        if message_id is not None:
            owned = await self.message_owner(message_id, principal.user_id)
        elif conversation_id:
            owned = await self.conversation_owner(conversation_id, principal.user_id)
        else:
            return None
        if can_write_conversation(principal, owned):
            return None
        return owner_of(principal)

    async def require_prompt(
        self, principal: Principal | None, prompt_id: int, *, write: bool = False
    ) -> Principal:
        owned = None
        if principal is not None:
            owned = await self._db(lambda s: crud.prompt_owner(session=s, prompt_id=prompt_id))
        return self._check(principal, owned, write, can_write_prompt, "prompt")

    async def require_attachment(
        self, principal: Principal | None, attachment_id: str, *, write: bool = False
    ) -> Principal:
        owned = None
        if principal is not None:
            owned = await self.attachment_owner(attachment_id, principal.user_id)
        return self._check(principal, owned, write, can_write_conversation, "attachment")

    @staticmethod
    def require_project(
        principal: Principal | None, project_id: str, *, write: bool = False
    ) -> Principal:
        """May read (``write``: add to) the project. No database call: roles are in hand."""
        if principal is None:
            raise NotSignedIn()
        if not can_read_project(principal, project_id):
            raise NotFound("That project does not exist.")
        if write and not can_write_project(principal, project_id):
            raise Forbidden("Viewers cannot add to a project.")
        return principal

    @staticmethod
    def require_admin(principal: Principal | None) -> Principal:
        if principal is None:
            raise NotSignedIn()
        if not principal.is_admin:
            raise Forbidden("Only an admin can do that.")
        return principal
