"""The prompt library: named system prompts whose texts are immutable, numbered versions.

Saving a prompt with a changed text adds version N+1; saving the same text adds nothing.
A reply records the version it was generated with (see :mod:`app.services.branches`), so
editing a prompt never rewrites history. Archiving hides a prompt from the System prompt
picker and keeps it, and its versions, for the replies that used them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.db import crud
from app.db.crud import Scope
from app.db.models import Prompt
from app.errors import InvalidInput, NotFound
from app.services.authz import Owner
from app.services.kernel import Service

MAX_NAME_CHARS = 100
MAX_BODY_CHARS = 20_000


@dataclass(frozen=True, slots=True)
class PromptView:
    id: int
    name: str
    version: int  # the latest version's number
    body: str  # the latest version's text
    archived: bool
    updated_at: str  # ISO 8601, UTC


@dataclass(frozen=True, slots=True)
class PromptVersionView:
    id: int
    version: int
    body: str
    created_at: str  # "2026-11-21 17:05 UTC"


@dataclass(frozen=True, slots=True)
class PromptOption:
    """One entry of the System prompt picker (a native select's values are strings)."""

    id: str
    name: str


def check_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise InvalidInput("Give the prompt a name.")
    if len(name) > MAX_NAME_CHARS:
        raise InvalidInput(
            f"That name is {len(name)} characters; the limit is {MAX_NAME_CHARS}. Shorten it."
        )
    return name


def check_body(body: str) -> str:
    body = body.strip()
    if not body:
        raise InvalidInput("Write the prompt's text first.")
    if len(body) > MAX_BODY_CHARS:
        raise InvalidInput(
            f"The prompt is {len(body):,} characters; the limit is {MAX_BODY_CHARS:,}. Shorten it."
        )
    return body


class PromptService(Service):
    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)

    @staticmethod
    def _view(session: Session, prompt: Prompt) -> PromptView:
        assert prompt.id is not None
        latest = crud.latest_prompt_version(session=session, prompt_id=prompt.id)
        return PromptView(
            id=prompt.id,
            name=prompt.name,
            version=latest.version if latest else 0,
            body=latest.body if latest else "",
            archived=prompt.archived_at is not None,
            updated_at=prompt.updated_at.isoformat(),
        )

    @staticmethod
    def _name_taken(
        session: Session, name: str, project_id: str | None, prompt_id: int | None = None
    ) -> bool:
        """Names are unique within a project (another project's names are not its business)."""
        scope = Scope.of([project_id] if project_id else [], unowned=project_id is None)
        return any(
            p.name.casefold() == name.casefold() and p.id != prompt_id
            for p in crud.list_prompts(session=session, scope=scope)
        )

    async def list(
        self, *, include_archived: bool = False, scope: Scope | None = None
    ) -> list[PromptView]:
        """The library; ``scope``: only what a reader may see (``Principal.scope``)."""

        def read(session: Session) -> list[PromptView]:
            rows = crud.list_prompts(
                session=session, include_archived=include_archived, scope=scope
            )
            return [self._view(session, p) for p in rows]

        return await self._db(read)

    async def options(self, *, scope: Scope | None = None) -> list[PromptOption]:
        """The prompts a conversation may use (archived ones are not offered)."""
        prompts = await self._db(lambda s: list(crud.list_prompts(session=s, scope=scope)))
        return [PromptOption(str(p.id), p.name) for p in prompts]

    async def get(self, prompt_id: int) -> PromptView:
        def read(session: Session) -> PromptView:
            prompt = crud.get_prompt(session=session, prompt_id=prompt_id)
            if prompt is None:
                raise NotFound("That prompt does not exist.")
            return self._view(session, prompt)

        return await self._db(read)

    async def create(self, name: str, body: str, *, owner: Owner | None = None) -> PromptView:
        """A new prompt, ``owner``'s (whom the caller has authorised), at version 1."""
        name, body = check_name(name), check_body(body)

        def write(session: Session) -> PromptView:
            project_id = owner.project_id if owner else None
            if self._name_taken(session, name, project_id):
                raise InvalidInput(f"A prompt named “{name}” already exists. Pick another name.")
            prompt = crud.create_prompt(
                session=session,
                name=name,
                user_id=owner.user_id if owner else None,
                project_id=project_id,
            )
            assert prompt.id is not None
            crud.add_prompt_version(session=session, prompt_id=prompt.id, body=body)
            return self._view(session, prompt)

        return await self._db(write)

    async def save(self, prompt_id: int, name: str, body: str) -> PromptView:
        """Rename and/or add a version; an unchanged text adds no version."""
        name, body = check_name(name), check_body(body)

        def write(session: Session) -> PromptView:
            prompt = crud.get_prompt(session=session, prompt_id=prompt_id)
            if prompt is None:
                raise NotFound("That prompt does not exist.")
            if name != prompt.name:
                if self._name_taken(session, name, prompt.project_id, prompt_id):
                    raise InvalidInput(
                        f"A prompt named “{name}” already exists. Pick another name."
                    )
                crud.update_prompt(session=session, prompt_id=prompt_id, name=name)
            latest = crud.latest_prompt_version(session=session, prompt_id=prompt_id)
            if latest is None or latest.body != body:
                crud.add_prompt_version(session=session, prompt_id=prompt_id, body=body)
                crud.update_prompt(session=session, prompt_id=prompt_id)
            return self._view(session, prompt)

        try:
            return await self._db(write)
        except IntegrityError as exc:  # another save took this version number first
            raise InvalidInput("The prompt changed meanwhile. Reload it and save again.") from exc

    async def history(self, prompt_id: int) -> list[PromptVersionView]:
        """Every version, newest first."""
        rows = await self._db(
            lambda s: list(crud.list_prompt_versions(session=s, prompt_id=prompt_id))
        )
        return [
            PromptVersionView(
                r.id or 0, r.version, r.body, r.created_at.strftime("%Y-%m-%d %H:%M UTC")
            )
            for r in rows
        ]

    async def set_archived(self, prompt_id: int, archived: bool) -> PromptView:
        def write(session: Session) -> PromptView:
            prompt = crud.update_prompt(session=session, prompt_id=prompt_id, archived=archived)
            if prompt is None:
                raise NotFound("That prompt does not exist.")
            return self._view(session, prompt)

        return await self._db(write)
