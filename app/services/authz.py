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
from app.db.models import Role
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


def can_read(principal: Principal | None, owned: Owned | None) -> bool:
    """May read a conversation (and its messages and streams), prompt or attachment."""
    if principal is None or owned is None:
        return False
    if owned.project_id is None:
        return principal.is_admin
    if not owned.attached:
        return owned.user_id == principal.user_id and can_read_project(principal, owned.project_id)
    return can_read_project(principal, owned.project_id)


def can_write_conversation(principal: Principal | None, owned: Owned | None) -> bool:
    """May send in, rename, pin, delete or change a conversation (or an attachment of it)."""
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
            raise Forbidden(f"Your role lets you read this {what}, not change it.")
        return principal

    async def attachment_owner(self, attachment_id: str) -> Owned | None:
        return await self._db(
            lambda s: crud.attachment_owner(session=s, attachment_id=attachment_id)
        )

    async def message_owner(self, message_id: int) -> Owned | None:
        return await self._db(lambda s: crud.message_owner(session=s, message_id=message_id))

    async def require_conversation(
        self, principal: Principal | None, conversation_id: str, *, write: bool = False
    ) -> Principal:
        owned = None
        if principal is not None:
            owned = await self._db(
                lambda s: crud.conversation_owner(session=s, conversation_id=conversation_id)
            )
        return self._check(principal, owned, write, can_write_conversation, "conversation")

    async def require_message(
        self, principal: Principal | None, message_id: int, *, write: bool = False
    ) -> Principal:
        """A message is read and changed as its conversation is (live-reply streams too)."""
        owned = None if principal is None else await self.message_owner(message_id)
        return self._check(principal, owned, write, can_write_conversation, "message")

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
        owned = None if principal is None else await self.attachment_owner(attachment_id)
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
