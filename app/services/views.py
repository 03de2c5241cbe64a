"""What services hand to the UI: plain frozen values, no rows, no sessions.

``components/`` and ``state/`` import these; :func:`message_views` builds message views from
rows inside a service's transaction, with their versions, costs, attachments and prompt
captions read in four batched queries, whatever the number of messages.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlmodel import Session

from app.db import crud
from app.db.models import Conversation, Message
from app.services.attachments import AttachmentView
from app.services.cost import SpendText, reply_spend


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    id: str
    title: str
    model: str
    updated_at: str  # ISO 8601, UTC
    shared: bool = False  # has a share or a live link (the sidebar's "Shared" badge)

    @classmethod
    def of(cls, row: Conversation, *, shared: bool = False) -> ConversationSummary:
        return cls(row.id, row.title, row.model, row.updated_at.isoformat(), shared)


# A line that opens a fenced code block, or an indented one (four spaces or a tab).
_CODE_LINE = re.compile(r"^(?: {0,3}(?:```|~~~)| {4}|\t)", re.M)


def has_code_block(text: str) -> bool:
    """Whether ``text``'s markdown may hold a code block. The finished message renders those
    with a language label, highlighting and Copy (components/markdown.py), which the live
    reply's renderer (assets/live_reply.jsx) does not: such a reply's text is sent again at
    its end rather than shown from the live channel. Errs towards True (an indented list
    continuation counts), which only costs bytes."""
    return _CODE_LINE.search(text) is not None


@dataclass(frozen=True, slots=True)
class MessageView:
    id: int
    role: str
    content: str
    status: str
    error: str
    model: str
    provider: str
    input_tokens: int
    output_tokens: int
    model_name: str = ""  # the answering model's display name
    fallback: bool = False  # a fallback answered, not the model asked for
    parent_id: int = -1  # -1: a first message
    # Its place among its siblings (the versions of its turn), and theirs ids (-1: none).
    version: int = 1
    versions: int = 1
    previous_version: int = -1
    next_version: int = -1
    cost: str = ""  # what its model calls cost, as shown ("" when none was logged)
    cost_label: str = ""  # the same, in words, for screen readers
    attachments: tuple[AttachmentView, ...] = ()  # files sent with a user message
    prompt_label: str = ""  # the system prompt version a reply used, e.g. "Reviewer v2"
    # Set only in the session that streamed this reply: its text is in that browser (the
    # live-reply channel's stream key), so ``content`` is not sent to it again (left "").
    live_key: str = ""

    @classmethod
    def of(
        cls,
        row: Message,
        names: Mapping[str, str] | None = None,
        *,
        versions: crud.Versions | None = None,
        spend: crud.Spend | None = None,
    ) -> MessageView:
        assert row.id is not None
        model = row.model or ""
        shown = reply_spend(spend.calls, spend.known, spend.unknown) if spend else SpendText()
        return cls(
            id=row.id,
            role=row.role,
            content=row.content,
            status=str(row.status),
            error=row.error or "",
            model=model,
            provider=row.provider or "",
            input_tokens=row.input_tokens or 0,
            output_tokens=row.output_tokens or 0,
            model_name=(names or {}).get(model, model),
            fallback=bool(row.requested_model and model and model != row.requested_model),
            parent_id=-1 if row.parent_id is None else row.parent_id,
            version=versions.index if versions else 1,
            versions=versions.count if versions else 1,
            previous_version=_or_none(versions.previous if versions else None),
            next_version=_or_none(versions.next if versions else None),
            cost=shown.text,
            cost_label=shown.label,
        )


@dataclass(frozen=True, slots=True)
class ModelOption:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Posted:
    """What posting (or editing) a message created."""

    conversation: ConversationSummary
    created: bool  # a new conversation was started
    user: MessageView
    reply: MessageView  # the placeholder the reply streams into
    warnings: tuple[str, ...] = ()  # budget warnings the guards gave for this reply


@dataclass(frozen=True, slots=True)
class HistoryPage:
    messages: list[MessageView]
    has_more: bool


def message_views(
    session: Session, conversation_id: str, rows: Sequence[Message], names: Mapping[str, str]
) -> list[MessageView]:
    """Views of messages of one conversation, with their versions, costs, attachments and
    prompt captions (``names``: model id -> display name)."""
    ids = [row.id for row in rows if row.id is not None]
    versions = crud.sibling_versions(
        session=session, conversation_id=conversation_id, message_ids=ids
    )
    extras = message_extras(session=session, messages=rows)
    spend = crud.spend_by_message(session=session, message_ids=ids)
    return assemble(rows, names, versions=versions, extras=extras, spend=spend)


Extras = dict[int, tuple[tuple[AttachmentView, ...], str]]


def assemble(
    rows: Sequence[Message],
    names: Mapping[str, str],
    *,
    versions: Mapping[int, crud.Versions],
    extras: Extras,
    spend: Mapping[int, crud.Spend],
) -> list[MessageView]:
    """Views of ``rows`` from what :func:`message_views` reads (a caller may read the
    pieces at different moments of its transaction)."""
    views = []
    for row in rows:
        assert row.id is not None
        files, label = extras.get(row.id, ((), ""))
        view = MessageView.of(row, names, versions=versions.get(row.id), spend=spend.get(row.id))
        views.append(dataclasses.replace(view, attachments=files, prompt_label=label))
    return views


def message_extras(*, session: Session, messages: Sequence[Message]) -> Extras:
    """Message id -> (its attachments, its prompt caption like "Reviewer v2")."""
    ids = [m.id for m in messages if m.id is not None]
    attachments: dict[int, list[AttachmentView]] = {}
    for row in crud.list_message_attachments(session=session, message_ids=ids):
        assert row.message_id is not None
        attachments.setdefault(row.message_id, []).append(AttachmentView.of(row))
    labels = crud.prompt_version_labels(
        session=session,
        version_ids=[m.prompt_version_id for m in messages if m.prompt_version_id is not None],
    )
    out: Extras = {}
    for m in messages:
        if m.id is None:
            continue
        label = ""
        if m.prompt_version_id is not None and m.prompt_version_id in labels:
            name, number = labels[m.prompt_version_id]
            label = f"{name} v{number}"
        out[m.id] = (tuple(attachments.get(m.id, ())), label)
    return out


def _or_none(message_id: int | None) -> int:
    return -1 if message_id is None else message_id
