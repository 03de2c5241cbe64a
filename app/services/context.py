"""What a model gets for a reply: the request built from the reply's branch.

:func:`build_request` is pure: the messages on a reply's path, their attachments, the system
prompt version the reply recorded and the conversation's parameters become one
:class:`ChatRequest`. Text attachments go into their message as fenced blocks; images go as
image parts to a vision model, and as a short note to any other.

:func:`request_for` loads those pieces inside the caller's transaction (the one that made the
reply, or one of its own) and builds the request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlmodel import Session

from app.db import crud
from app.db.models import Attachment, AttachmentKind, Conversation, Message
from app.llm.base import ChatMessage, ChatRequest, ImageMediaType, ImagePart
from app.llm.registry import ModelInfo
from app.services.attachments import AttachmentService, decode_text, language_of
from app.services.options import Parameters

PENDING_ID = -1  # the id a message not saved yet has in a planned request


@dataclass(frozen=True, slots=True)
class ContextFile:
    """An attachment's content, loaded for the model."""

    filename: str
    kind: AttachmentKind
    media_type: str
    data: bytes = field(repr=False)


def _fence(text: str) -> str:
    longest, run = 0, 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    return "`" * max(3, longest + 1)


def file_block(name: str, text: str) -> str:
    """``Attached file `name`:`` and the text in a fenced block labelled by its language."""
    fence = _fence(text)
    body = text if text.endswith("\n") else text + "\n"
    return f"Attached file `{name}`:\n{fence}{language_of(name)}\n{body}{fence}"


def user_message(content: str, files: Sequence[ContextFile], *, vision: bool) -> ChatMessage:
    """One user turn: its text, then each text file as a fenced block; images as image
    parts for a vision model, else a note that they were left out."""
    parts = [content] if content else []
    images: list[ImagePart] = []
    for f in files:
        if f.kind == AttachmentKind.text:
            parts.append(file_block(f.filename, decode_text(f.data)))
        elif vision:
            media: ImageMediaType = f.media_type  # type: ignore[assignment]  # checked on upload
            images.append(ImagePart(media, f.data))
        else:
            parts.append(f"[Image `{f.filename}` not shown: this model can't see images.]")
    return ChatMessage("user", "\n\n".join(parts), tuple(images))


def build_request(
    *,
    model: ModelInfo,
    path: Sequence[Message],
    files: Mapping[int, Sequence[ContextFile]],
    system: str | None,
    parameters: Parameters,
    metadata: Mapping[str, str],
) -> ChatRequest:
    """The request for a reply: the system prompt, then the turns on its path (oldest
    first; the reply itself and empty turns left out), with their attachments."""
    messages: list[ChatMessage] = []
    if system:
        messages.append(ChatMessage("system", system))
    for row in path:
        attached = files.get(row.id or -1, ())
        if row.role == "user" and (row.content or attached):
            turn = user_message(row.content, attached, vision=model.vision)
            if messages and messages[-1].role == "user":
                # A question whose reply was deleted or failed empty: one user turn with
                # both, since providers expect user and assistant turns to alternate.
                before = messages.pop()
                turn = ChatMessage(
                    "user", f"{before.content}\n\n{turn.content}", before.images + turn.images
                )
            messages.append(turn)
        elif row.role == "assistant" and row.content:
            messages.append(ChatMessage("assistant", row.content))
    return ChatRequest(
        model=model.provider_model,
        messages=tuple(messages),
        temperature=parameters.temperature,
        max_tokens=parameters.max_tokens,
        metadata=dict(metadata),
    )


def caller_metadata(conversation: Conversation | None) -> dict[str, str]:
    """Who a call is for, from the conversation's row (stamped when it was made): the call
    log and the guards read these keys."""
    if conversation is None:
        return {}
    pairs = (("user_id", conversation.user_id), ("project_id", conversation.project_id))
    return {key: value for key, value in pairs if value}


def load_files(
    session: Session, message_ids: Sequence[int], attachments: AttachmentService
) -> dict[int, list[ContextFile]]:
    """The files attached to these user messages, read from the upload root."""
    files: dict[int, list[ContextFile]] = {}
    for row in crud.list_message_attachments(session=session, message_ids=message_ids):
        assert row.message_id is not None
        files.setdefault(row.message_id, []).append(_context_file(row, attachments))
    return files


def _context_file(row: Attachment, attachments: AttachmentService) -> ContextFile:
    try:
        data = attachments.read_bytes(row.stored_name)
    except OSError:
        data = f"(The file {row.filename} is missing on the server.)".encode()
        kind = AttachmentKind.text
    else:
        kind = AttachmentKind(row.kind)
    return ContextFile(row.filename, kind, row.media_type, data)


def request_for(
    session: Session,
    *,
    reply: Message,
    model: ModelInfo,
    attachments: AttachmentService,
    history_limit: int,
) -> ChatRequest:
    """The request for ``reply``, read in ``session``: its own branch only (root to its
    parent, never a sibling's), the conversation's parameters, the prompt version the reply
    recorded, and the files attached on that branch (read from the upload root). Its
    metadata names the conversation's user and project."""
    path = crud.list_path(
        session=session,
        conversation_id=reply.conversation_id,
        leaf_id=reply.parent_id,
        limit=history_limit,
    )
    conversation = session.get(Conversation, reply.conversation_id)  # even if in the trash
    parameters = (
        Parameters(conversation.temperature, conversation.max_tokens)
        if conversation
        else Parameters()
    )
    metadata = {
        "feature": "chat",
        "conversation_id": reply.conversation_id,
        "message_id": str(reply.id),
        **caller_metadata(conversation),
    }
    system = None
    if reply.prompt_version_id is not None:
        version = crud.get_prompt_version(session=session, version_id=reply.prompt_version_id)
        system = version.body if version else None
        metadata["prompt_version"] = str(reply.prompt_version_id)
    ids = [m.id for m in path if m.id is not None and m.role == "user"]
    return build_request(
        model=model,
        path=path,
        files=load_files(session, ids, attachments),
        system=system,
        parameters=parameters,
        metadata=metadata,
    )


def planned_request(
    session: Session,
    *,
    conversation: Conversation | None,
    text: str,
    attachment_ids: Sequence[str],
    model: ModelInfo,
    attachments: AttachmentService,
    history_limit: int,
    parameters: Parameters,
    prompt_id: int | None,
) -> ChatRequest:
    """The request a new message would make, read before anything is saved, so the guards
    can refuse it first: the branch on screen, then ``text`` with the pending files
    (``conversation`` None: a new chat, with its chosen ``parameters`` and prompt)."""
    path: list[Message] = []
    if conversation is not None:
        path = crud.list_path(
            session=session,
            conversation_id=conversation.id,
            leaf_id=conversation.current_leaf_id,
            limit=history_limit,
        )
        parameters = Parameters(conversation.temperature, conversation.max_tokens)
        prompt_id = conversation.prompt_id
    pending = Message(  # never saved: no row has a negative id
        id=PENDING_ID,
        conversation_id=conversation.id if conversation else "",
        role="user",
        content=text,
    )
    ids = [m.id for m in path if m.id is not None and m.role == "user"]
    files = load_files(session, ids, attachments)
    rows = [crud.get_attachment(session=session, attachment_id=a) for a in attachment_ids]
    files[PENDING_ID] = [_context_file(row, attachments) for row in rows if row is not None]
    system = None
    if prompt_id is not None:
        version = crud.latest_prompt_version(session=session, prompt_id=prompt_id)
        system = version.body if version else None
    metadata = {"feature": "chat", **caller_metadata(conversation)}
    if conversation is not None:
        metadata["conversation_id"] = conversation.id
    return build_request(
        model=model,
        path=[*path, pending],
        files=files,
        system=system,
        parameters=parameters,
        metadata=metadata,
    )
