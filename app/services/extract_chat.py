"""Extraction in the chat: run an extractor over a message (its actions), or over the text of
a slash command (``/contacts <text>``), keep the result with the message, and show it as a
card or a table, with its JSON and CSV for copying.

A result is stored as the validated value's JSON (or the error that names the field), and
turned into an :class:`ExtractionView` when read: a schema with one list of objects (Contacts)
is a table, one row per object; any other schema is a card of label/value pairs. Nested
objects in a cell (a contact's addresses) read as text. Nothing here knows one extractor
from another, so a newly registered extractor renders too.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session

from app.db import crud
from app.db.crud import agent as agent_crud
from app.db.models import Extraction
from app.errors import InvalidInput, NotFound
from app.extract import EXTRACTORS, ExtractionFailed
from app.services.agent import AgentService
from app.services.authz import Owner
from app.services.chat import ChatService, title_from
from app.services.context import caller_metadata
from app.services.kernel import pick_model, refuse_while_streaming, require_conversation
from app.services.views import ConversationSummary, MessageView


@dataclass(frozen=True, slots=True)
class Pair:
    label: str
    value: str


@dataclass(frozen=True, slots=True)
class ExtractionView:
    id: int
    message_id: int
    extractor: str
    title: str
    error: str  # "" when it worked
    kind: str  # "card", "table" or "error"
    pairs: tuple[Pair, ...] = ()
    columns: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    json_text: str = ""
    csv_text: str = ""


@dataclass(frozen=True, slots=True)
class SlashPosted:
    conversation: ConversationSummary
    created: bool
    user: MessageView


def parse_command(text: str) -> tuple[str, str] | None:
    """``("contacts", "the text")`` for ``/contacts the text``; None if not an extractor's
    command (so ``/unknown`` is sent as an ordinary message)."""
    stripped = text.strip()
    if not stripped.startswith("/"):
        return None
    name, _, rest = stripped[1:].partition(" ")
    if name not in EXTRACTORS:
        return None
    return name, rest.strip()


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        return ", ".join(_cell(v) for v in value.values() if v not in (None, ""))
    if isinstance(value, list):
        return "; ".join(_cell(v) for v in value)
    return str(value)


def _csv(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue()


def view_of(row: Extraction) -> ExtractionView:
    """The stored result as the chat shows it."""
    assert row.id is not None
    extractor = EXTRACTORS.get(row.extractor)
    title = extractor.label if extractor else row.extractor
    base = (row.id, row.message_id, row.extractor, title)
    if row.data is None:
        return ExtractionView(*base, error=row.error or "The extraction failed.", kind="error")
    data: dict[str, Any] = json.loads(row.data)
    json_text = json.dumps(data, indent=2, ensure_ascii=False)
    lists = [v for v in data.values() if isinstance(v, list)]
    if len(data) == 1 and lists and all(isinstance(i, dict) for i in lists[0]):
        items: list[dict[str, Any]] = lists[0]
        keys = list(dict.fromkeys(k for item in items for k in item))
        rows = tuple(tuple(_cell(item.get(k)) for k in keys) for item in items)
        columns = tuple(_label(k) for k in keys)
        return ExtractionView(
            *base, error="", kind="table", columns=columns, rows=rows,
            json_text=json_text, csv_text=_csv(keys, rows),
        )  # fmt: skip
    pairs = tuple(Pair(_label(k), _cell(v)) for k, v in data.items())
    return ExtractionView(
        *base, error="", kind="card", pairs=pairs, json_text=json_text,
        csv_text=_csv(list(data), [[p.value for p in pairs]]),
    )  # fmt: skip


class ExtractChat:
    def __init__(self, chat: ChatService, agents: AgentService) -> None:
        self.chat = chat
        self.agents = agents

    async def results(self, message_ids: Sequence[int]) -> list[ExtractionView]:
        return await self.chat._db(
            lambda s: [
                view_of(row)
                for row in agent_crud.list_extractions(session=s, message_ids=list(message_ids))
            ]
        )

    async def run(self, message_id: int, extractor: str, *, model: str) -> ExtractionView:
        """Run ``extractor`` over message ``message_id``'s text and keep the result with it.
        A validation failure is kept too (it names the field); a provider failure raises."""
        if extractor not in EXTRACTORS:
            raise InvalidInput(f"No extractor named {extractor!r}.")

        def read(session: Session) -> tuple[str, dict[str, str]]:
            row = crud.get_message(session=session, message_id=message_id)
            if row is None:
                raise NotFound("That message does not exist.")
            conversation = require_conversation(session, row.conversation_id)
            # Who the call is for (user, project): the call log and the guards read them.
            caller = caller_metadata(conversation)
            ids = {"conversation_id": row.conversation_id, "message_id": str(message_id)}
            return row.content, caller | ids

        content, metadata = await self.chat._db(read)
        parsed = parse_command(content)
        text = parsed[1] if parsed else content
        if not text.strip():
            raise InvalidInput("There is no text to extract from.")
        model_id = pick_model(self.chat.models, model or None).id
        try:
            done = await self.agents.extract(
                model_id=model_id, extractor=extractor, text=text, metadata=metadata
            )
            row = Extraction(message_id=message_id, extractor=extractor, data=_dump(done.value))
        except ExtractionFailed as exc:
            row = Extraction(message_id=message_id, extractor=extractor, error=exc.message)
        return await self.chat._db(
            lambda s: view_of(agent_crud.add_extraction(session=s, extraction=row))
        )

    async def post_command(
        self,
        conversation_id: str | None,
        text: str,
        *,
        model: str | None,
        owner: Owner | None = None,
    ) -> SlashPosted:
        """Save a slash command as the user's message (no reply streams for it), under the
        branch on screen; its result is then :meth:`run` over it."""
        command = self.chat.validate(text)
        if parse_command(command) is None:
            raise InvalidInput("Unknown command.")
        info = pick_model(self.chat.models, model)

        def write(session: Session) -> SlashPosted:
            if conversation_id:
                conversation = require_conversation(session, conversation_id)
                refuse_while_streaming(session, conversation.id, self.chat.call_timeout)
            else:
                conversation = crud.create_conversation(
                    session=session,
                    title=title_from(command),
                    model=info.id,
                    user_id=owner.user_id if owner else None,
                    project_id=owner.project_id if owner else None,
                )
            user = crud.add_message(
                session=session,
                conversation_id=conversation.id,
                role="user",
                content=command,
                parent_id=conversation.current_leaf_id,
            )
            crud.set_current_leaf(session=session, conversation_id=conversation.id, leaf_id=user.id)
            crud.touch_conversation(session=session, conversation_id=conversation.id)
            session.refresh(conversation)
            (view,) = self.chat._views(session, conversation.id, [user])
            return SlashPosted(ConversationSummary.of(conversation), not conversation_id, view)

        return await self.chat._db(write)


def _dump(value: BaseModel) -> str:
    return value.model_dump_json()
