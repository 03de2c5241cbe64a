"""What a model gets, and the per-conversation options that shape it.

- :func:`build_request` is pure: the messages on a reply's path, their attachments, the
  system prompt version the reply recorded and the conversation's parameters become one
  :class:`ChatRequest`. Text attachments go into their message as fenced blocks; images go as
  image parts to a vision model, and as a short note to any other.
- :class:`ContextBuilder` loads those pieces from the database and the upload root.
- :func:`parse_parameters` checks temperature and max tokens against the model's provider.
- :func:`apply_on_post` runs in the chat service's transaction when a message is posted:
  it ties the composer's attachments to the message (refusing images for a blind model before
  anything is saved), stores parameters and prompt chosen for a new chat, and records on the
  reply the prompt's latest version at that moment.
- :class:`ConversationOptions` reads and sets a saved conversation's parameters and prompt.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import Engine
from sqlmodel import Session

from app.db import crud
from app.db.models import Attachment, AttachmentKind, Conversation, Message
from app.db.session import run_in_session, session_scope
from app.errors import InvalidInput, NotFound, ProviderError
from app.llm.base import ChatMessage, ChatRequest, ImageMediaType, ImagePart
from app.llm.registry import ModelInfo, ModelRegistry
from app.services.attachments import (
    AttachmentService,
    AttachmentView,
    claim,
    decode_text,
    language_of,
)

T = TypeVar("T")

# Temperature range per provider. Anthropic's Messages API (version 2026-10-21, which the SDK
# sends) refuses any sampling temperature, so Claude models take none.
TEMPERATURE_RANGES: dict[str, tuple[float, float] | None] = {
    "anthropic": None,
    "openai": (0.0, 2.0),
    "openai-compatible": (0.0, 2.0),
    "local": (0.0, 2.0),
    "fake": (0.0, 2.0),
}
DEFAULT_MAX_TOKENS_LIMIT = 128_000  # when the catalogue gives no context window


@dataclass(frozen=True, slots=True)
class Parameters:
    temperature: float | None = None  # None: the model's default
    max_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class PostExtras:
    """What the composer sends along with a message."""

    attachment_ids: tuple[str, ...] = ()
    # For a new chat only (a saved conversation's are set as they change):
    parameters: Parameters | None = None
    prompt_id: int | None = None


@dataclass(frozen=True, slots=True)
class ContextFile:
    """An attachment's content, loaded for the model."""

    filename: str
    kind: AttachmentKind
    media_type: str
    data: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class ConversationOptionsView:
    temperature: float | None
    max_tokens: int | None
    prompt_id: int | None


# ----- parameters -------------------------------------------------------------------------


def max_tokens_limit(model: ModelInfo) -> int:
    return model.context_window or DEFAULT_MAX_TOKENS_LIMIT


def parse_parameters(temperature: str, max_tokens: str, model: ModelInfo) -> Parameters:
    """Check what the Parameters dialog's fields hold; empty means the model's default."""
    temp_value: float | None = None
    if temperature.strip():
        try:
            temp_value = float(temperature.strip())
        except ValueError:
            raise InvalidInput(
                f"Temperature must be a number, like 0.7; “{temperature.strip()}” is not."
            ) from None
        allowed = TEMPERATURE_RANGES.get(model.provider, (0.0, 2.0))
        if allowed is None:
            raise InvalidInput(
                f"{model.display_name} takes no temperature (Anthropic's API refuses it). "
                "Leave Temperature empty."
            )
        low, high = allowed
        if not math.isfinite(temp_value) or not low <= temp_value <= high:
            raise InvalidInput(
                f"Temperature for {model.display_name} must be between {low:g} and {high:g}."
            )
    tokens_value: int | None = None
    if max_tokens.strip():
        limit = max_tokens_limit(model)
        try:
            tokens_value = int(max_tokens.strip().replace(",", "").replace("_", ""))
        except ValueError:
            raise InvalidInput(
                f"Max tokens must be a whole number, like 1024; “{max_tokens.strip()}” is not."
            ) from None
        if not 1 <= tokens_value <= limit:
            raise InvalidInput(
                f"Max tokens for {model.display_name} must be between 1 and {limit:,}."
            )
    return Parameters(temp_value, tokens_value)


# ----- the request ------------------------------------------------------------------------


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


class ContextBuilder:
    """Loads a reply's context (attachments from the upload root, its prompt version, the
    conversation's parameters) and builds the request."""

    def __init__(self, engine: Engine, attachments: AttachmentService) -> None:
        self.engine = engine
        self.attachments = attachments

    async def request_for(
        self,
        *,
        reply: Message,
        path: Sequence[Message],
        model: ModelInfo,
        metadata: Mapping[str, str],
    ) -> ChatRequest:
        ids = [m.id for m in path if m.id is not None and m.role == "user"]

        def load() -> tuple[Parameters, str | None, dict[int, list[ContextFile]]]:
            with session_scope(self.engine) as session:
                conversation = session.get(Conversation, reply.conversation_id)
                parameters = (
                    Parameters(conversation.temperature, conversation.max_tokens)
                    if conversation
                    else Parameters()
                )
                system = None
                if reply.prompt_version_id is not None:
                    version = crud.get_prompt_version(
                        session=session, version_id=reply.prompt_version_id
                    )
                    system = version.body if version else None
                rows = crud.list_message_attachments(session=session, message_ids=ids)
            files: dict[int, list[ContextFile]] = {}
            for row in rows:
                try:
                    data = self.attachments.read_bytes(row.stored_name)
                except OSError:
                    data = f"(The file {row.filename} is missing on the server.)".encode()
                    kind = AttachmentKind.text
                else:
                    kind = AttachmentKind(row.kind)
                assert row.message_id is not None
                files.setdefault(row.message_id, []).append(
                    ContextFile(row.filename, kind, row.media_type, data)
                )
            return parameters, system, files

        parameters, system, files = await asyncio.to_thread(load)
        if reply.prompt_version_id is not None:
            metadata = {**metadata, "prompt_version": str(reply.prompt_version_id)}
        return build_request(
            model=model,
            path=path,
            files=files,
            system=system,
            parameters=parameters,
            metadata=metadata,
        )


# ----- in the chat service's transaction ----------------------------------------------------


def check_extras(extras: PostExtras, model: ModelInfo) -> None:
    """Checks that need no database: a new chat's parameters against its model."""
    if extras.parameters is not None:
        p = extras.parameters
        parse_parameters(
            "" if p.temperature is None else repr(p.temperature),
            "" if p.max_tokens is None else str(p.max_tokens),
            model,
        )


def apply_on_post(
    *,
    session: Session,
    conversation: Conversation,
    created: bool,
    user: Message,
    reply: Message,
    extras: PostExtras,
    model: ModelInfo,
) -> list[Attachment]:
    """Tie attachments to ``user``, store a new chat's options, and record on ``reply`` the
    latest version of the conversation's prompt. Raises (rolling everything back) on an
    attachment that cannot be sent."""
    assert user.id is not None and reply.id is not None
    attached = claim(
        session=session,
        attachment_ids=extras.attachment_ids,
        conversation_id=conversation.id,
        message_id=user.id,
        vision=model.vision,
        model_name=model.display_name,
    )
    if created:
        if extras.parameters is not None:
            check_extras(extras, model)
            crud.set_conversation_parameters(
                session=session,
                conversation_id=conversation.id,
                temperature=extras.parameters.temperature,
                max_tokens=extras.parameters.max_tokens,
            )
        if extras.prompt_id is not None:
            prompt = crud.get_prompt(session=session, prompt_id=extras.prompt_id)
            if prompt is None:
                raise InvalidInput("That system prompt no longer exists. Pick another.")
            crud.set_conversation_prompt(
                session=session, conversation_id=conversation.id, prompt_id=extras.prompt_id
            )
            conversation.prompt_id = extras.prompt_id
    record_prompt_version(session=session, conversation=conversation, reply=reply)
    return attached


def record_prompt_version(*, session: Session, conversation: Conversation, reply: Message) -> None:
    """Record on a new reply the latest version of its conversation's prompt (if any)."""
    assert reply.id is not None
    if conversation.prompt_id is None:
        return
    latest = crud.latest_prompt_version(session=session, prompt_id=conversation.prompt_id)
    if latest is not None:
        crud.set_message_prompt_version(
            session=session, message_id=reply.id, prompt_version_id=latest.id
        )
        reply.prompt_version_id = latest.id


def message_extras(
    *, session: Session, messages: Sequence[Message]
) -> dict[int, tuple[tuple[AttachmentView, ...], str]]:
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
    out: dict[int, tuple[tuple[AttachmentView, ...], str]] = {}
    for m in messages:
        if m.id is None:
            continue
        label = ""
        if m.prompt_version_id is not None and m.prompt_version_id in labels:
            name, number = labels[m.prompt_version_id]
            label = f"{name} v{number}"
        out[m.id] = (tuple(attachments.get(m.id, ())), label)
    return out


# ----- a saved conversation's options -------------------------------------------------------


class ConversationOptions:
    def __init__(self, engine: Engine, models: ModelRegistry) -> None:
        self.engine = engine
        self.models = models

    def check_parameters(self, model_id: str, temperature: str, max_tokens: str) -> Parameters:
        """The Parameters dialog's fields, checked against the model the chat uses."""
        try:
            info, _ = self.models.resolve(model_id or self.models.default_model())
        except ProviderError as exc:
            raise InvalidInput(exc.message) from exc
        return parse_parameters(temperature, max_tokens, info)

    async def _db(self, fn: Callable[[Session], T]) -> T:
        return await run_in_session(self.engine, fn)

    async def get(self, conversation_id: str) -> ConversationOptionsView:
        def read(session: Session) -> ConversationOptionsView:
            row = crud.get_conversation(session=session, conversation_id=conversation_id)
            if row is None:
                raise NotFound("That conversation does not exist. It may have been deleted.")
            return ConversationOptionsView(row.temperature, row.max_tokens, row.prompt_id)

        return await self._db(read)

    async def set_parameters(self, conversation_id: str, parameters: Parameters) -> None:
        def write(session: Session) -> None:
            if crud.get_conversation(session=session, conversation_id=conversation_id) is None:
                raise NotFound("That conversation does not exist. It may have been deleted.")
            crud.set_conversation_parameters(
                session=session,
                conversation_id=conversation_id,
                temperature=parameters.temperature,
                max_tokens=parameters.max_tokens,
            )

        await self._db(write)

    async def set_prompt(self, conversation_id: str, prompt_id: int | None) -> None:
        def write(session: Session) -> None:
            if crud.get_conversation(session=session, conversation_id=conversation_id) is None:
                raise NotFound("That conversation does not exist. It may have been deleted.")
            missing = prompt_id is not None and not crud.get_prompt(
                session=session, prompt_id=prompt_id
            )
            if missing:
                raise InvalidInput("That system prompt no longer exists. Pick another.")
            crud.set_conversation_prompt(
                session=session, conversation_id=conversation_id, prompt_id=prompt_id
            )

        await self._db(write)
