"""The chat use-cases: post a message, stream the reply in batches, page history.

Nothing here knows about Reflex. Database work runs in worker threads; provider streams run
in a producer task so a silent provider never stalls the caller's Stop check.
"""

from __future__ import annotations

import asyncio
import dataclasses
import tempfile
import time
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine
from sqlmodel import Session

from app.db import crud
from app.db.models import Conversation, Message, MessageStatus
from app.db.session import session_scope
from app.errors import InvalidInput, NotFound, ProviderError, ProviderTimeout
from app.llm.base import (
    ChatRequest,
    ErrorEvent,
    Finish,
    ModelUsed,
    StreamEvent,
    TextDelta,
    Usage,
    with_error_event,
)
from app.llm.registry import ModelRegistry
from app.services.attachments import AttachmentService, AttachmentView
from app.services.context import ContextBuilder, PostExtras, apply_on_post, message_extras
from app.services.stream_hub import StreamHub

T = TypeVar("T")
TITLE_CHARS = 60


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    id: str
    title: str
    model: str
    updated_at: str  # ISO 8601, UTC

    @classmethod
    def of(cls, row: Conversation) -> ConversationSummary:
        return cls(row.id, row.title, row.model, row.updated_at.isoformat())


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
    attachments: tuple[AttachmentView, ...] = ()  # files sent with a user message
    prompt_label: str = ""  # the system prompt version a reply used, e.g. "Reviewer v2"

    @classmethod
    def of(cls, row: Message, names: Mapping[str, str] | None = None) -> MessageView:
        assert row.id is not None
        model = row.model or ""
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
        )


@dataclass(frozen=True, slots=True)
class ModelOption:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Posted:
    """What :meth:`ChatService.post_message` created."""

    conversation: ConversationSummary
    created: bool  # a new conversation was started
    user: MessageView
    reply: MessageView  # the placeholder the reply streams into


@dataclass(frozen=True, slots=True)
class ReplyBatch:
    """Text that arrived since the previous batch. Empty batches are heartbeats."""

    text: str


@dataclass(frozen=True, slots=True)
class HistoryPage:
    messages: list[MessageView]
    has_more: bool


class ChatService:
    def __init__(
        self,
        engine: Engine,
        models: ModelRegistry,
        *,
        flush_interval: float = 0.08,
        first_token_timeout: float = 60.0,
        call_timeout: float = 600.0,
        max_message_chars: int = 32_000,
        history_limit: int = 200,
        page_size: int = 50,
        history_page_size: int = 50,
        hub: StreamHub | None = None,
        attachments: AttachmentService | None = None,
    ) -> None:
        self.engine = engine
        # Uploads, and the context builder that puts them (and prompts) into requests.
        self.attachments = attachments or AttachmentService(
            engine, Path(tempfile.gettempdir()) / "parley-uploads"
        )
        self.context = ContextBuilder(engine, self.attachments)
        self.models = models
        # Each reply's text as it arrives, for the browser's live-reply channel.
        self.hub = hub if hub is not None else StreamHub()
        # Replies the user asked to stop; each stream checks at every event and heartbeat.
        self._stop_requests: set[int] = set()
        self.flush_interval = flush_interval
        self.first_token_timeout = first_token_timeout
        self.call_timeout = call_timeout
        self.max_message_chars = max_message_chars
        self.history_limit = history_limit  # messages sent to the model as context
        self.page_size = page_size  # conversations per sidebar page
        self.history_page_size = history_page_size  # messages per history page

    async def _db(self, fn: Callable[[Session], T]) -> T:
        def run() -> T:
            with session_scope(self.engine) as session:
                return fn(session)

        return await asyncio.to_thread(run)

    # ----- reading -----------------------------------------------------------------------

    async def get_conversation(self, conversation_id: str) -> ConversationSummary:
        row = await self._db(
            lambda s: crud.get_conversation(session=s, conversation_id=conversation_id)
        )
        if row is None:
            raise NotFound("That conversation does not exist. It may have been deleted.")
        return ConversationSummary.of(row)

    async def history(
        self, conversation_id: str, *, limit: int, before_id: int | None = None
    ) -> HistoryPage:
        rows = await self._db(
            lambda s: crud.list_messages(
                session=s, conversation_id=conversation_id, limit=limit + 1, before_id=before_id
            )
        )
        has_more = len(rows) > limit
        return HistoryPage(await self._decorated(rows[-limit:]), has_more)

    async def get_message(self, message_id: int) -> MessageView:
        row = await self._db(lambda s: crud.get_message(session=s, message_id=message_id))
        if row is None:
            raise NotFound("That message does not exist.")
        return (await self._decorated([row]))[0]

    # ----- writing -----------------------------------------------------------------------

    def validate(self, text: str) -> str:
        text = text.strip()
        if not text:
            raise InvalidInput("Type a message first.")
        if len(text) > self.max_message_chars:
            raise InvalidInput(
                f"That message is {len(text):,} characters; the limit is "
                f"{self.max_message_chars:,}. Shorten it or split it up."
            )
        return text

    def _view(self, row: Message) -> MessageView:
        return MessageView.of(row, self._names)

    def _views(self, session: Session, rows: Sequence[Message]) -> list[MessageView]:
        """Views with their attachments and prompt captions."""
        extras = message_extras(session=session, messages=rows)
        views = []
        for row in rows:
            files, label = extras.get(row.id or -1, ((), ""))
            views.append(
                dataclasses.replace(self._view(row), attachments=files, prompt_label=label)
            )
        return views

    async def _decorated(self, rows: Sequence[Message]) -> list[MessageView]:
        return await self._db(lambda s: self._views(s, rows))

    @property
    def _names(self) -> dict[str, str]:
        return {m.id: m.display_name for m in self.models.available()}

    def available_models(self) -> list[ModelOption]:
        """The models a user may pick: only those whose provider is configured."""
        return [ModelOption(m.id, m.display_name) for m in self.models.available()]

    def default_model(self) -> str:
        return self.models.default_model()

    async def post_message(
        self,
        conversation_id: str | None,
        text: str,
        *,
        model: str | None = None,
        extras: PostExtras | None = None,
    ) -> Posted:
        """Save the user's message and an empty reply to stream into. Validates first.

        ``model`` (a catalogue id) becomes the conversation's model; by default a new
        conversation gets the default model and an existing one keeps its own.
        """
        extras = extras or PostExtras()
        # A message may be only attached files.
        text = self.validate(text) if text.strip() or not extras.attachment_ids else ""
        if model:
            try:
                self.models.resolve(model)
            except ProviderError as exc:
                raise InvalidInput(exc.message) from exc
        model_id = model or self.models.default_model()

        def write(session: Session) -> Posted:
            conversation = None
            if conversation_id:
                conversation = crud.get_conversation(
                    session=session, conversation_id=conversation_id
                )
                if conversation is None:
                    raise NotFound("That conversation does not exist. It may have been deleted.")
            created = conversation is None
            if conversation is None:
                conversation = crud.create_conversation(
                    session=session, title=_title_from(text or "Attached files"), model=model_id
                )
            elif model and model != conversation.model:
                crud.set_conversation_model(
                    session=session, conversation_id=conversation.id, model=model
                )
                conversation.model = model
            info, _ = self.models.resolve(conversation.model or model_id)
            user = crud.add_message(
                session=session, conversation_id=conversation.id, role="user", content=text
            )
            reply = crud.add_message(
                session=session,
                conversation_id=conversation.id,
                role="assistant",
                content="",
                status=MessageStatus.streaming,
                model=info.id,
                provider=info.provider,
            )
            apply_on_post(
                session=session,
                conversation=conversation,
                created=created,
                user=user,
                reply=reply,
                extras=extras,
                model=info,
            )
            crud.touch_conversation(session=session, conversation_id=conversation.id)
            session.refresh(conversation)
            user_view, reply_view = self._views(session, [user, reply])
            return Posted(ConversationSummary.of(conversation), created, user_view, reply_view)

        posted = await self._db(write)
        self.hub.open(posted.reply.id)  # a reader arriving before the first token waits
        return posted

    async def _request_for(self, reply: Message) -> ChatRequest:
        rows = await self._db(
            lambda s: crud.list_messages(
                session=s,
                conversation_id=reply.conversation_id,
                limit=self.history_limit,
                before_id=reply.id,
            )
        )
        info, _ = self.models.resolve(reply.requested_model or self.models.default_model())
        metadata = {
            "feature": "chat",
            "conversation_id": reply.conversation_id,
            "message_id": str(reply.id),
        }
        return await self.context.request_for(reply=reply, path=rows, model=info, metadata=metadata)

    async def stream_reply(self, message_id: int) -> AsyncGenerator[ReplyBatch, None]:
        """Stream the reply into message ``message_id``, in batches of at most one per
        flush interval (the first text goes out at once). Heartbeat batches with no text
        arrive at least once per interval, so the caller can act on Stop promptly.

        Each piece of text is also published to :attr:`hub` the moment it arrives (not
        at the next flush), and the hub's stream is finished with the saved status.

        The reply is saved whatever happens: complete; stopped, if the caller closes this
        generator early; or error, with the text that arrived before the failure.
        """
        reply = await self._db(lambda s: crud.get_message(session=s, message_id=message_id))
        if reply is None or reply.status != MessageStatus.streaming:
            raise NotFound("There is no reply waiting to stream.")
        queue: asyncio.Queue[StreamEvent | None] = asyncio.Queue()

        async def produce() -> None:
            try:
                request = await self._request_for(reply)
                _, provider = self.models.resolve(
                    reply.requested_model or self.models.default_model()
                )
                async for event in with_error_event(provider.stream(request)):
                    queue.put_nowait(event)
            except ProviderError as exc:
                queue.put_nowait(ErrorEvent(exc))
            finally:
                queue.put_nowait(None)

        producer = asyncio.create_task(produce())
        parts: list[str] = []
        usage = Usage()
        answered: ModelUsed | None = None  # which model answered: a fallback, perhaps
        status, error = MessageStatus.stopped, None
        started = time.monotonic()
        first_token_deadline = started + self.first_token_timeout
        call_deadline = started + self.call_timeout
        next_flush = started
        pending: list[str] = []
        try:
            while True:
                if message_id in self._stop_requests:
                    break  # saved as stopped, with the text so far
                now = time.monotonic()
                deadline = call_deadline if parts else min(first_token_deadline, call_deadline)
                if now >= deadline:
                    which = "first token" if not parts else "whole reply"
                    limit = self.first_token_timeout if not parts else self.call_timeout
                    raise ProviderTimeout(f"No {which} within {limit:g} s.")
                wait = min(max(next_flush - now, 0.0) or self.flush_interval, deadline - now)
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=wait)
                except TimeoutError:
                    event = ReplyBatch("")  # time to flush, or a heartbeat
                if event is None:
                    status = MessageStatus.complete
                    break
                if isinstance(event, TextDelta):
                    if not parts:
                        next_flush = 0.0  # the first text goes out at once
                    parts.append(event.text)
                    pending.append(event.text)
                    self.hub.publish(message_id, event.text)
                elif isinstance(event, Usage):
                    usage = event
                elif isinstance(event, ErrorEvent):
                    raise event.error
                elif isinstance(event, ModelUsed):
                    answered = event
                    continue
                elif isinstance(event, Finish):
                    continue
                if time.monotonic() >= next_flush:
                    yield ReplyBatch("".join(pending))
                    pending.clear()
                    next_flush = time.monotonic() + self.flush_interval
            if pending:
                yield ReplyBatch("".join(pending))
        except ProviderError as exc:
            status, error = MessageStatus.error, exc.message
            if pending:
                yield ReplyBatch("".join(pending))
        except asyncio.CancelledError:
            # The task was cancelled (shutdown, restart), not stopped by the user.
            status, error = MessageStatus.error, crud.INTERRUPTED
            raise
        except Exception as exc:
            status, error = MessageStatus.error, f"Internal error: {exc!r}"
            raise
        finally:
            self._stop_requests.discard(message_id)
            producer.cancel()
            await asyncio.gather(producer, return_exceptions=True)
            content = "".join(parts)
            conversation_id = reply.conversation_id

            def save(session: Session) -> None:
                if answered is not None:
                    crud.set_message_model(
                        session=session,
                        message_id=message_id,
                        model=answered.model,
                        provider=answered.provider,
                    )
                crud.finish_message(
                    session=session,
                    message_id=message_id,
                    content=content,
                    status=status,
                    error=error,
                    input_tokens=usage.input_tokens or None,
                    output_tokens=usage.output_tokens or None,
                )
                crud.touch_conversation(session=session, conversation_id=conversation_id)

            try:
                await asyncio.shield(self._db(save))
            finally:
                self.hub.finish(message_id, str(status), error)

    async def retry(self, message_id: int) -> MessageView:
        """Empty a failed or stopped reply so it streams again (call :meth:`stream_reply`).

        Only the conversation's latest reply can be retried, so history stays coherent.
        """

        def write(session: Session) -> MessageView:
            row = crud.get_message(session=session, message_id=message_id)
            if row is None or row.role != "assistant":
                raise NotFound("That reply does not exist.")
            if row.status not in (MessageStatus.error, MessageStatus.stopped):
                raise InvalidInput("Only a failed or stopped reply can be retried.")
            latest = crud.list_messages(
                session=session, conversation_id=row.conversation_id, limit=1
            )
            if not latest or latest[0].id != row.id:
                raise InvalidInput("Only the latest reply can be retried.")
            return self._view(crud.reset_reply(session=session, message_id=message_id))

        view = await self._db(write)
        self.hub.open(message_id)
        return view

    def request_stop(self, message_id: int) -> None:
        """Stop a reply streaming in this process: its stream ends within one flush interval
        and the reply is saved as stopped. (The tab's events and its stream share a worker.)"""
        self._stop_requests.add(message_id)

    async def recover_interrupted(self) -> int:
        """Mark replies a dead process left 'streaming' as errors (run at start-up)."""
        return await self._db(lambda s: crud.mark_interrupted(session=s))


def _title_from(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1].rstrip() + "…"
