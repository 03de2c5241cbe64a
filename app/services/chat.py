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
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine
from sqlmodel import Session

from app.db import crud
from app.db.models import Conversation, Message, MessageStatus, utcnow
from app.db.session import run_in_session
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
from app.services.context import (
    ContextBuilder,
    PostExtras,
    apply_on_post,
    message_extras,
    record_prompt_version,
)
from app.services.cost import SpendText, conversation_spend, reply_spend
from app.services.stream_hub import StreamHub

T = TypeVar("T")
TITLE_CHARS = 60
BUSY = "Wait for the current reply to finish, or press Stop."
# How long past the whole-reply limit a row may say "streaming" before it counts as dead.
STALE_MARGIN = 60.0


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
        return await run_in_session(self.engine, fn)

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
        """The branch on screen, newest ``limit`` messages (or the page above ``before_id``),
        oldest first, each with its versions and cost."""

        def read(session: Session) -> HistoryPage:
            conversation = self._conversation(session, conversation_id)
            rows = crud.list_path(
                session=session,
                conversation_id=conversation_id,
                leaf_id=conversation.current_leaf_id,
                limit=limit + 1,
                before_id=before_id,
            )
            has_more = len(rows) > limit
            return HistoryPage(self._views(session, conversation_id, rows[-limit:]), has_more)

        return await self._db(read)

    async def get_message(self, message_id: int) -> MessageView:
        def read(session: Session) -> MessageView | None:
            row = crud.get_message(session=session, message_id=message_id)
            return None if row is None else self._views(session, row.conversation_id, [row])[0]

        view = await self._db(read)
        if view is None:
            raise NotFound("That message does not exist.")
        return view

    async def spend(self, conversation_id: str) -> SpendText:
        """What the conversation has cost so far, as its header shows it."""
        total = await self._db(
            lambda s: crud.conversation_spend(session=s, conversation_id=conversation_id)
        )
        return conversation_spend(total.calls, total.known, total.unknown)

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

    def _views(
        self, session: Session, conversation_id: str, rows: Sequence[Message]
    ) -> list[MessageView]:
        """Views of messages of one conversation, with their versions, costs, attachments
        and prompt captions."""
        ids = [row.id for row in rows if row.id is not None]
        versions = crud.sibling_versions(
            session=session, conversation_id=conversation_id, message_ids=ids
        )
        spend = crud.spend_by_message(session=session, message_ids=ids)
        extras = message_extras(session=session, messages=rows)
        names = self._names
        views = []
        for row, i in zip(rows, ids, strict=True):
            files, label = extras.get(i, ((), ""))
            view = MessageView.of(row, names, versions=versions.get(i), spend=spend.get(i))
            views.append(dataclasses.replace(view, attachments=files, prompt_label=label))
        return views

    @staticmethod
    def _conversation(session: Session, conversation_id: str) -> Conversation:
        conversation = crud.get_conversation(session=session, conversation_id=conversation_id)
        if conversation is None:
            raise NotFound("That conversation does not exist. It may have been deleted.")
        return conversation

    def _refuse_while_streaming(self, session: Session, conversation_id: str) -> None:
        """Changing the tree while one of its replies streams would pull the branch from under
        it. A reply older than the whole-reply limit is not streaming any more, whatever its
        row says (its process died; start-up marks it)."""
        since = utcnow() - timedelta(seconds=self.call_timeout + STALE_MARGIN)
        if crud.streaming_reply(session=session, conversation_id=conversation_id, since=since):
            raise InvalidInput(BUSY)

    def _message(self, session: Session, message_id: int, role: str) -> Message:
        row = crud.get_message(session=session, message_id=message_id)
        if row is None or row.role != role:
            what = "reply" if role == "assistant" else "message"
            raise NotFound(f"That {what} does not exist. It may have been deleted.")
        self._conversation(session, row.conversation_id)
        return row

    def _resolve(self, session: Session, conversation: Conversation, model: str | None) -> str:
        """The catalogue id to answer with: ``model`` (which becomes the conversation's), or
        the conversation's own. Raises InvalidInput for a model not configured."""
        if model:
            try:
                self.models.resolve(model)
            except ProviderError as exc:
                raise InvalidInput(exc.message) from exc
            if model != conversation.model:
                crud.set_conversation_model(
                    session=session, conversation_id=conversation.id, model=model
                )
                conversation.model = model
        return conversation.model or self.models.default_model()

    def _add_reply(self, session: Session, conversation: Conversation, parent_id: int) -> Message:
        """An empty reply under ``parent_id`` to stream into; it becomes the leaf on screen."""
        info, _ = self.models.resolve(conversation.model or self.models.default_model())
        reply = crud.add_message(
            session=session,
            conversation_id=conversation.id,
            role="assistant",
            content="",
            status=MessageStatus.streaming,
            model=info.id,
            provider=info.provider,
            parent_id=parent_id,
        )
        crud.set_current_leaf(session=session, conversation_id=conversation.id, leaf_id=reply.id)
        crud.touch_conversation(session=session, conversation_id=conversation.id)
        # The prompt version in force now, so a later change to the prompt never rewrites it.
        record_prompt_version(session=session, conversation=conversation, reply=reply)
        return reply

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
        """Save the user's message under the branch on screen, and an empty reply to stream
        into, which becomes the leaf on screen. Validates first.

        ``model`` (a catalogue id) becomes the conversation's model; by default a new
        conversation gets the default model and an existing one keeps its own. ``extras``
        carries the files attached in the composer and a new chat's options.
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
            else:
                self._refuse_while_streaming(session, conversation.id)
                self._resolve(session, conversation, model)
            user = crud.add_message(
                session=session,
                conversation_id=conversation.id,
                role="user",
                content=text,
                parent_id=conversation.current_leaf_id,
            )
            assert user.id is not None
            reply = self._add_reply(session, conversation, user.id)
            info, _ = self.models.resolve(conversation.model or model_id)
            apply_on_post(
                session=session,
                conversation=conversation,
                created=created,
                user=user,
                reply=reply,
                extras=extras,
                model=info,
            )
            session.refresh(conversation)
            return Posted(
                ConversationSummary.of(conversation),
                created,
                *self._views(session, conversation.id, [user, reply]),
            )

        posted = await self._db(write)
        self.hub.open(posted.reply.id)  # a reader arriving before the first token waits
        return posted

    async def _request_for(self, reply: Message) -> ChatRequest:
        # The reply's own branch only (root -> parent): never a sibling's or another branch's.
        rows = await self._db(
            lambda s: crud.list_path(
                session=s,
                conversation_id=reply.conversation_id,
                leaf_id=reply.parent_id,
                limit=self.history_limit,
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

        Only the leaf on screen can be retried, so history stays coherent; to answer an
        older question again, :meth:`regenerate` keeps the old reply as a version.
        """

        def write(session: Session) -> MessageView:
            row = crud.get_message(session=session, message_id=message_id)
            if row is None or row.role != "assistant":
                raise NotFound("That reply does not exist.")
            if row.status not in (MessageStatus.error, MessageStatus.stopped):
                raise InvalidInput("Only a failed or stopped reply can be retried.")
            conversation = self._conversation(session, row.conversation_id)
            if conversation.current_leaf_id != row.id:
                raise InvalidInput("Only the latest reply can be retried.")
            self._refuse_while_streaming(session, row.conversation_id)
            reset = crud.reset_reply(session=session, message_id=message_id)
            return self._views(session, row.conversation_id, [reset])[0]

        view = await self._db(write)
        self.hub.open(message_id)
        return view

    async def regenerate(self, reply_id: int, *, model: str | None = None) -> MessageView:
        """Answer the reply's question again: a new sibling reply to stream into (call
        :meth:`stream_reply`), shown from now on; the old one stays as an earlier version.
        ``model`` picks the model, as in :meth:`post_message`."""

        def write(session: Session) -> MessageView:
            row = self._message(session, reply_id, "assistant")
            if row.parent_id is None:
                raise InvalidInput("This reply answers no message, so it cannot be regenerated.")
            self._refuse_while_streaming(session, row.conversation_id)
            conversation = self._conversation(session, row.conversation_id)
            self._resolve(session, conversation, model)
            reply = self._add_reply(session, conversation, row.parent_id)
            return self._views(session, conversation.id, [reply])[0]

        view = await self._db(write)
        self.hub.open(view.id)
        return view

    async def edit_and_resend(
        self, message_id: int, text: str, *, model: str | None = None
    ) -> Posted:
        """Ask an edited question: a sibling of the user's message with ``text``, and an empty
        reply to it to stream into. The old question and everything after it stay, reachable
        through the new question's previous version."""
        text = self.validate(text)

        def write(session: Session) -> Posted:
            row = self._message(session, message_id, "user")
            self._refuse_while_streaming(session, row.conversation_id)
            conversation = self._conversation(session, row.conversation_id)
            self._resolve(session, conversation, model)
            user = crud.add_message(
                session=session,
                conversation_id=conversation.id,
                role="user",
                content=text,
                parent_id=row.parent_id,
            )
            assert user.id is not None and row.id is not None
            self.attachments.copy_to(
                session, from_message_id=row.id, conversation_id=conversation.id, message_id=user.id
            )
            reply = self._add_reply(session, conversation, user.id)
            session.refresh(conversation)
            return Posted(
                ConversationSummary.of(conversation),
                False,
                *self._views(session, conversation.id, [user, reply]),
            )

        posted = await self._db(write)
        self.hub.open(posted.reply.id)
        return posted

    async def switch_version(self, message_id: int) -> None:
        """Show the branch through this version of its turn: the leaf on screen becomes the
        newest leaf under it (read it with :meth:`history`)."""

        def write(session: Session) -> None:
            row = crud.get_message(session=session, message_id=message_id)
            if row is None:
                raise NotFound("That version does not exist. It may have been deleted.")
            self._conversation(session, row.conversation_id)
            self._refuse_while_streaming(session, row.conversation_id)
            leaf = crud.newest_leaf(session=session, message_id=message_id)
            crud.set_current_leaf(
                session=session, conversation_id=row.conversation_id, leaf_id=leaf
            )

        await self._db(write)

    async def show_message(self, conversation_id: str, message_id: int) -> bool:
        """Put the branch through ``message_id`` on screen, as opening a search hit does: no
        change when it is already there, else the newest leaf under it. Nothing happens (False)
        for a message of another conversation, or while a reply of this one streams."""

        def write(session: Session) -> bool:
            row = crud.get_message(session=session, message_id=message_id)
            conversation = crud.get_conversation(session=session, conversation_id=conversation_id)
            if row is None or conversation is None or row.conversation_id != conversation_id:
                return False
            leaf = conversation.current_leaf_id
            if leaf is not None and crud.on_path(
                session=session,
                conversation_id=conversation_id,
                leaf_id=leaf,
                message_id=message_id,
            ):
                return False
            try:
                self._refuse_while_streaming(session, conversation_id)
            except InvalidInput:
                return False
            crud.set_current_leaf(
                session=session,
                conversation_id=conversation_id,
                leaf_id=crud.newest_leaf(session=session, message_id=message_id),
            )
            return True

        return await self._db(write)

    async def delete_message(self, message_id: int) -> None:
        """Delete a message with everything under it (a question takes its replies along).

        If the branch on screen went with it, the screen moves to the nearest remaining
        version of that turn (the older one first), at its newest leaf, else to the parent.
        """

        def write(session: Session) -> None:
            row = crud.get_message(session=session, message_id=message_id)
            if row is None:
                raise NotFound("That message does not exist. It may have been deleted.")
            conversation = self._conversation(session, row.conversation_id)
            self._refuse_while_streaming(session, row.conversation_id)
            versions = crud.sibling_versions(
                session=session, conversation_id=conversation.id, message_ids=[message_id]
            ).get(message_id)
            deleted = crud.delete_subtree(session=session, message_id=message_id)
            if conversation.current_leaf_id not in deleted:
                return  # another branch: the screen is unchanged
            sibling = versions and (versions.previous or versions.next)
            if sibling:
                leaf = crud.newest_leaf(session=session, message_id=sibling)
            else:
                leaf = row.parent_id
            crud.set_current_leaf(session=session, conversation_id=conversation.id, leaf_id=leaf)
            crud.touch_conversation(session=session, conversation_id=conversation.id)

        await self._db(write)

    def request_stop(self, message_id: int) -> None:
        """Stop a reply streaming in this process: its stream ends within one flush interval
        and the reply is saved as stopped. (The tab's events and its stream share a worker.)"""
        self._stop_requests.add(message_id)

    async def recover_interrupted(self) -> int:
        """Mark replies a dead process left 'streaming' as errors (run at start-up)."""
        return await self._db(lambda s: crud.mark_interrupted(session=s))


def _or_none(message_id: int | None) -> int:
    return -1 if message_id is None else message_id


def _title_from(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1].rstrip() + "…"
