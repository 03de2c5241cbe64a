"""The message tree's operations: retry, regenerate, edit and resend, switch version, show a
message, delete a message. Each is one transaction; those that make a reply to stream also
build its request there (see :meth:`BranchOperations._add_reply`).

:class:`BranchOperations` is the part of :class:`app.services.chat.ChatService` that changes
the tree; the chat service adds reading, posting and streaming.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from app.db import crud
from app.db.models import Conversation, Message, MessageStatus
from app.errors import InvalidInput, NotFound, ProviderError
from app.guards import Admission, CallContext, with_context
from app.llm.base import ChatRequest, Provider
from app.llm.registry import ModelRegistry
from app.services.attachments import AttachmentService
from app.services.authz import Owner
from app.services.context import request_for
from app.services.kernel import (
    Service,
    pick_model,
    refuse_while_streaming,
    require_conversation,
)
from app.services.stream_hub import StreamHub
from app.services.views import ConversationSummary, MessageView, Posted, message_views

PREPARED_MAX = 1_000  # requests built ahead of their stream, kept at most
_closing: set[asyncio.Task[None]] = set()


def _background(work: Coroutine[Any, Any, None]) -> None:
    task = asyncio.get_running_loop().create_task(work)
    _closing.add(task)
    task.add_done_callback(_closing.discard)


def paying(payer: Owner | None, client_ip: str = "") -> CallContext:
    """The caller of a reply's call: the client's address and, when someone other than the
    conversation's owner pays (a share's participant), their user and project; otherwise
    the conversation's row names them (app/services/context.py)."""
    if payer is None:
        return CallContext(client_ip=client_ip)
    return CallContext(payer.user_id, payer.project_id, client_ip)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A reply's request and the provider to send it to; or why there is none (its model
    is not configured any more), which the stream then reports."""

    provider: Provider | None
    request: ChatRequest | None
    problem: str = ""
    # The guards' admission, when the call was admitted before anything was saved.
    admission: Admission | None = None


class BranchOperations(Service):
    models: ModelRegistry
    hub: StreamHub
    attachments: AttachmentService
    call_timeout: float
    history_limit: int
    max_message_chars: int
    # Reply id -> its request, built in the transaction that made the reply, so the stream
    # starts without reading the database again.
    _prepared: dict[int, Prepared]

    # ----- shared steps -------------------------------------------------------------------

    @property
    def _names(self) -> dict[str, str]:
        return {m.id: m.display_name for m in self.models.available()}

    def _views(
        self, session: Session, conversation_id: str, rows: Sequence[Message]
    ) -> list[MessageView]:
        return message_views(session, conversation_id, rows, self._names)

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

    def _message(self, session: Session, message_id: int, role: str) -> Message:
        row = crud.get_message(session=session, message_id=message_id)
        if row is None or row.role != role:
            what = "reply" if role == "assistant" else "message"
            raise NotFound(f"That {what} does not exist. It may have been deleted.")
        require_conversation(session, row.conversation_id)
        return row

    def _use_model(self, session: Session, conversation: Conversation, model: str | None) -> None:
        """``model`` (checked) becomes the conversation's; None keeps its own."""
        if not model:
            return
        pick_model(self.models, model)
        if model != conversation.model:
            crud.set_conversation_model(
                session=session, conversation_id=conversation.id, model=model
            )
            conversation.model = model

    def _add_reply(self, session: Session, conversation: Conversation, parent_id: int) -> Message:
        """An empty reply under ``parent_id`` to stream into; it becomes the leaf on screen,
        and records the prompt version in force now (a later change to the prompt never
        rewrites it)."""
        info = pick_model(self.models, conversation.model)
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
        assert reply.id is not None
        crud.set_current_leaf(session=session, conversation_id=conversation.id, leaf_id=reply.id)
        crud.touch_conversation(session=session, conversation_id=conversation.id)
        if conversation.prompt_id is not None:
            latest = crud.latest_prompt_version(session=session, prompt_id=conversation.prompt_id)
            if latest is not None:
                crud.set_message_prompt_version(
                    session=session, message_id=reply.id, prompt_version_id=latest.id
                )
                reply.prompt_version_id = latest.id
        return reply

    def _request(
        self, session: Session, reply: Message, caller: CallContext | None = None
    ) -> Prepared:
        """The request for a reply, for the model it asked for (if still configured), with
        the ``caller``'s client IP (the conversation's row names the user and project)."""
        try:
            model, provider = self.models.resolve(
                reply.requested_model or self.models.default_model()
            )
        except ProviderError as exc:
            return Prepared(None, None, exc.message)
        request = request_for(
            session,
            reply=reply,
            model=model,
            attachments=self.attachments,
            history_limit=self.history_limit,
        )
        if caller is not None:
            request = with_context(request, caller)
        return Prepared(provider, request)

    def _ready(self, reply_id: int, prepared: Prepared) -> None:
        """Keep a reply's request for its stream, and open its live channel, so a reader
        arriving before the first token waits for it."""
        self._prepared.pop(reply_id, None)
        self._prepared[reply_id] = prepared
        while len(self._prepared) > PREPARED_MAX:  # streams never started: oldest go
            dropped = self._prepared.pop(next(iter(self._prepared)))
            if dropped.admission is not None:  # give its slot and reservation back
                _background(dropped.admission.close())
        self.hub.open(reply_id)

    # ----- the operations -----------------------------------------------------------------

    async def retry(self, message_id: int, *, payer: Owner | None = None) -> MessageView:
        """Empty a failed or stopped reply so it streams again (call ``stream_reply``).

        Only the leaf on screen can be retried, so history stays coherent; to answer an
        older question again, :meth:`regenerate` keeps the old reply as a version.
        """

        def write(session: Session) -> tuple[MessageView, Prepared]:
            row = crud.get_message(session=session, message_id=message_id)
            if row is None or row.role != "assistant":
                raise NotFound("That reply does not exist.")
            if row.status not in (MessageStatus.error, MessageStatus.stopped):
                raise InvalidInput("Only a failed or stopped reply can be retried.")
            conversation = require_conversation(session, row.conversation_id)
            if conversation.current_leaf_id != row.id:
                raise InvalidInput("Only the latest reply can be retried.")
            refuse_while_streaming(session, row.conversation_id, self.call_timeout)
            reset = crud.reset_reply(session=session, message_id=message_id)
            return self._views(session, row.conversation_id, [reset])[0], self._request(
                session, reset, paying(payer)
            )

        view, prepared = await self._db(write)
        self._ready(message_id, prepared)
        return view

    async def regenerate(
        self, reply_id: int, *, model: str | None = None, payer: Owner | None = None
    ) -> MessageView:
        """Answer the reply's question again: a new sibling reply to stream into (call
        ``stream_reply``), shown from now on; the old one stays as an earlier version.
        ``model`` picks the model, as in ``post_message``."""

        def write(session: Session) -> tuple[MessageView, Prepared]:
            row = self._message(session, reply_id, "assistant")
            if row.parent_id is None:
                raise InvalidInput("This reply answers no message, so it cannot be regenerated.")
            refuse_while_streaming(session, row.conversation_id, self.call_timeout)
            conversation = require_conversation(session, row.conversation_id)
            self._use_model(session, conversation, model)
            reply = self._add_reply(session, conversation, row.parent_id)
            return self._views(session, conversation.id, [reply])[0], self._request(
                session, reply, paying(payer)
            )

        view, prepared = await self._db(write)
        self._ready(view.id, prepared)
        return view

    async def edit_and_resend(
        self, message_id: int, text: str, *, model: str | None = None, payer: Owner | None = None
    ) -> Posted:
        """Ask an edited question: a sibling of the user's message with ``text``, and an empty
        reply to it to stream into. The old question and everything after it stay, reachable
        through the new question's previous version."""
        text = self.validate(text)

        def write(session: Session) -> tuple[Posted, Prepared]:
            row = self._message(session, message_id, "user")
            refuse_while_streaming(session, row.conversation_id, self.call_timeout)
            conversation = require_conversation(session, row.conversation_id)
            self._use_model(session, conversation, model)
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
            user_view, reply_view = self._views(session, conversation.id, [user, reply])
            posted = Posted(ConversationSummary.of(conversation), False, user_view, reply_view)
            return posted, self._request(session, reply, paying(payer))

        posted, prepared = await self._db(write)
        self._ready(posted.reply.id, prepared)
        return posted

    async def switch_version(self, message_id: int) -> None:
        """Show the branch through this version of its turn: the leaf on screen becomes the
        newest leaf under it (read it with ``history``)."""

        def write(session: Session) -> None:
            row = crud.get_message(session=session, message_id=message_id)
            if row is None:
                raise NotFound("That version does not exist. It may have been deleted.")
            require_conversation(session, row.conversation_id)
            refuse_while_streaming(session, row.conversation_id, self.call_timeout)
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
                refuse_while_streaming(session, conversation_id, self.call_timeout)
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
            conversation = require_conversation(session, row.conversation_id)
            refuse_while_streaming(session, row.conversation_id, self.call_timeout)
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
