"""Your data in and out: export a conversation, a project or everything you started, as JSON
(every message of every branch) or Markdown (the branch on screen); import Parley's JSON,
ChatGPT's ``conversations.json`` or Claude's export.

Export, top to bottom:
1. :meth:`TransferService.scope` authorises (deny by default): a conversation its readers may
   export, a project its members, "all" is the conversations the caller started in projects
   they still belong to. Nobody, a foreign id and an unknown id all get :class:`NotFound`.
2. :meth:`TransferService.export_json` / :meth:`export_markdown` are generators of text
   chunks that page through conversations (50) and messages (500) by key, so an export of
   any size holds a bounded number of rows.

Import, top to bottom (:meth:`TransferService.import_file`, an async stream of
:class:`Progress`):
1. The caller must be able to add to the target project.
2. Pass one reads the whole file, conversation by conversation (``ijson``), and checks it
   (:mod:`app.services.transfer_formats`); a bad record stops it with an error naming the
   record, before anything is written.
3. Pass two reads it again and writes every conversation in one transaction, stamped with
   the importing user and project, with new ids; a failure rolls all of it back.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Engine
from sqlmodel import Session

from app.db import crud
from app.db.crud import transfer as rows
from app.db.models import Conversation, Message, new_id, utcnow
from app.db.session import session_scope
from app.errors import NotFound, NotSignedIn
from app.services.accounts import get_account_service
from app.services.authz import Authz, Principal
from app.services.transfer_formats import FORMAT, VERSION, Incoming
from app.services.transfer_reader import read_conversations

Kind = Literal["conversation", "project", "all"]
CONVERSATION_PAGE = 50
MESSAGE_PAGE = 500
MAX_BRANCH = 1_000_000


@dataclass(frozen=True, slots=True)
class Scope:
    """What an export covers, once authorised."""

    kind: Kind
    ident: str  # conversation or project id; the user's id for "all"
    readable: frozenset[str]  # projects the caller reads (for "all")

    def filters(self) -> dict[str, str]:
        return {
            "conversation": {"conversation_id": self.ident},
            "project": {"project_id": self.ident},
            "all": {"user_id": self.ident},
        }[self.kind]

    def filename(self, extension: str) -> str:
        stamp = utcnow().strftime("%Y%m%d")
        name = "all" if self.kind == "all" else f"{self.kind}-{self.ident[:12]}"
        return f"parley-{name}-{stamp}.{extension}"


@dataclass(frozen=True, slots=True)
class Progress:
    """Where an import is: ``checking`` (``done`` conversations read so far), ``writing``
    (``done`` of ``total``), or ``finished`` (``total`` conversations and ``messages``
    written)."""

    stage: Literal["checking", "writing", "finished"]
    done: int
    total: int | None = None
    messages: int = 0


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def message_record(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "parent_id": message.parent_id,
        "role": message.role,
        "content": message.content,
        "status": str(message.status),
        "model": message.model,
        "provider": message.provider,
        "requested_model": message.requested_model,
        "input_tokens": message.input_tokens,
        "output_tokens": message.output_tokens,
        "error": message.error,
        "created_at": _iso(message.created_at),
        "updated_at": _iso(message.updated_at),
    }


def conversation_record(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "title": conversation.title,
        "model": conversation.model,
        "project_id": conversation.project_id,
        "user_id": conversation.user_id,
        "pinned": conversation.pinned,
        "temperature": conversation.temperature,
        "max_tokens": conversation.max_tokens,
        "current_leaf_id": conversation.current_leaf_id,
        "created_at": _iso(conversation.created_at),
        "updated_at": _iso(conversation.updated_at),
    }


class TransferService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.authz = Authz(engine)

    # ----- export ------------------------------------------------------------------------

    async def scope(self, principal: Principal | None, kind: str, ident: str = "") -> Scope:
        """Authorise an export; :class:`NotFound` for anything the caller may not read."""
        if principal is None:
            raise NotFound("Nothing to export here.")
        readable = frozenset(principal.roles)
        try:
            if kind == "conversation":
                await self.authz.require_conversation(principal, ident)
                return Scope("conversation", ident, readable)
            if kind == "project":
                Authz.require_project(principal, ident)
                return Scope("project", ident, readable)
        except (NotSignedIn, NotFound) as exc:
            raise NotFound("Nothing to export here.") from exc
        if kind == "all":
            return Scope("all", principal.user_id, readable)
        raise NotFound("Nothing to export here.")

    def _conversations(self, session: Session, scope: Scope) -> Iterator[Conversation]:
        after = ""
        while True:
            page = rows.export_conversations(
                session=session, after_id=after, limit=CONVERSATION_PAGE, **scope.filters()
            )
            for conversation in page:
                # "all": only what the caller may still read (a project they left is not theirs).
                if scope.kind != "all" or conversation.project_id in scope.readable:
                    yield conversation
            if len(page) < CONVERSATION_PAGE:
                return
            after = page[-1].id

    def _messages(self, session: Session, conversation_id: str) -> Iterator[Message]:
        after = 0
        while True:
            page = rows.export_messages(
                session=session, conversation_id=conversation_id, after_id=after, limit=MESSAGE_PAGE
            )
            yield from page
            if len(page) < MESSAGE_PAGE:
                return
            after = page[-1].id or 0

    def export_json(self, scope: Scope) -> Iterator[str]:
        """The export as chunks of one JSON document (one chunk per conversation's head and
        per message), read a page at a time."""
        head = {"format": FORMAT, "version": VERSION, "exported_at": _iso(utcnow())}
        yield json.dumps(head)[:-1] + ', "conversations": ['
        with Session(self.engine) as session:
            for n, conversation in enumerate(self._conversations(session, scope)):
                record = json.dumps(conversation_record(conversation))
                yield ("," if n else "") + record[:-1] + ', "messages": ['
                for m, message in enumerate(self._messages(session, conversation.id)):
                    yield ("," if m else "") + json.dumps(message_record(message))
                yield "]}"
                session.expunge_all()
        yield "]}\n"

    def export_markdown(self, scope: Scope) -> Iterator[str]:
        """The branch on screen of each conversation, as Markdown."""
        with Session(self.engine) as session:
            for conversation in self._conversations(session, scope):
                yield f"# {conversation.title}\n\n"
                yield f"_{conversation.created_at:%Y-%m-%d %H:%M} UTC_\n\n"
                branch = crud.list_path(
                    session=session,
                    conversation_id=conversation.id,
                    leaf_id=conversation.current_leaf_id,
                    limit=MAX_BRANCH,
                )
                for message in branch:
                    who = "You" if message.role == "user" else "Assistant"
                    if message.role == "assistant" and message.model:
                        who += f" ({message.model})"
                    note = "" if message.status == "complete" else f" _[{message.status}]_"
                    yield f"**{who}**{note}\n\n{message.content}\n\n"
                yield "---\n\n"
                session.expunge_all()

    # ----- import ------------------------------------------------------------------------

    @staticmethod
    def _write(session: Session, incoming: Incoming, user_id: str, project_id: str) -> int:
        now = utcnow()
        created = incoming.created_at or now
        conversation = Conversation(
            id=new_id(),
            title=incoming.title,
            model=incoming.model,
            created_at=created,
            updated_at=incoming.updated_at or created,
            pinned=incoming.pinned,
            temperature=incoming.temperature,
            max_tokens=incoming.max_tokens,
            project_id=project_id,
            user_id=user_id,
        )
        rows.add_imported(session=session, row=conversation)
        ids: dict[str, int] = {}
        for item in incoming.messages:
            message = Message(
                conversation_id=conversation.id,
                parent_id=None if item.parent is None else ids[item.parent],
                role=item.role,
                content=item.content,
                status=item.status,
                model=item.model,
                provider=item.provider,
                requested_model=item.requested_model,
                input_tokens=item.input_tokens,
                output_tokens=item.output_tokens,
                error=item.error,
                created_at=item.created_at or created,
                updated_at=item.updated_at or item.created_at or created,
            )
            rows.add_imported(session=session, row=message)
            assert message.id is not None
            ids[item.key] = message.id
        leaf = incoming.current or (incoming.messages[-1].key if incoming.messages else None)
        if leaf is not None:
            crud.set_current_leaf(
                session=session, conversation_id=conversation.id, leaf_id=ids[leaf]
            )
        session.expunge_all()
        return len(ids)

    def _import(
        self, path: Path, user_id: str, project_id: str, report: Callable[[Progress], None]
    ) -> Progress:
        total = 0
        with path.open("rb") as stream:
            for _ in read_conversations(stream):
                total += 1
                report(Progress("checking", total))
        written = 0
        with session_scope(self.engine) as session, path.open("rb") as stream:
            for done, incoming in enumerate(read_conversations(stream), 1):
                written += self._write(session, incoming, user_id, project_id)
                report(Progress("writing", done, total, written))
        return Progress("finished", total, total, written)

    async def import_file(
        self, principal: Principal | None, path: Path, *, project_id: str
    ) -> AsyncIterator[Progress]:
        """Import the file at ``path`` into ``project_id``, yielding progress; the last item
        is ``finished``. Raises :class:`InvalidImport` (nothing written) for a bad file."""
        Authz.require_project(principal, project_id, write=True)
        assert principal is not None
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Progress] = asyncio.Queue()

        def report(progress: Progress) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, progress)

        task = asyncio.ensure_future(
            asyncio.to_thread(self._import, path, principal.user_id, project_id, report)
        )
        while not task.done():
            getter = asyncio.ensure_future(queue.get())
            await asyncio.wait({task, getter}, return_when=asyncio.FIRST_COMPLETED)
            if getter.done():
                yield getter.result()
            else:
                getter.cancel()
        while not queue.empty():
            yield queue.get_nowait()
        yield task.result()  # raises what the import raised


_service: TransferService | None = None


def get_transfer_service() -> TransferService:
    """The process's service, on the accounts' database (the one principals come from)."""
    global _service
    engine = get_account_service().engine
    if _service is None or _service.engine is not engine:
        _service = TransferService(engine)
    return _service
