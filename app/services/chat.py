"""The chat use-cases: read history, post a message, stream its reply.

Nothing here knows about Reflex. Each use case is one database transaction (in a worker
thread), so a message costs two round trips in this service: posting it (which also builds
the reply's request) and saving the reply (with its call-log rows, and read back as the UI
shows it). The tree's other operations are in :mod:`app.services.branches`; the reply loop is
the fold in :mod:`app.services.reply`.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session

from app.db import crud
from app.db.models import MessageStatus, utcnow
from app.errors import NotFound, public_error
from app.guards import GuardedProvider
from app.llm.base import StreamEvent
from app.llm.registry import ModelRegistry
from app.services.admission import admit_post
from app.services.attachments import AttachmentService, claim
from app.services.authz import Owner
from app.services.branches import BranchOperations, Prepared, paying
from app.services.calllog import DatabaseCallSink, write_held
from app.services.cost import SpendText, conversation_spend
from app.services.kernel import (
    pick_model,
    refuse_while_streaming,
    require_conversation,
)
from app.services.options import PostExtras, apply_new_chat_options
from app.services.reply import EMPTY, Ended, Replies
from app.services.stream_hub import StreamHub
from app.services.views import (
    ConversationSummary,
    HistoryPage,
    MessageView,
    ModelOption,
    Posted,
    assemble,
    message_extras,
)

TITLE_CHARS = 60
log = logging.getLogger("parley.chat")


def title_from(text: str) -> str:
    """A new conversation's provisional title: its first message's start, on one line."""
    line = " ".join(text.split())
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1].rstrip() + "…"


class ChatService(BranchOperations):
    def __init__(
        self,
        engine: Engine,
        models: ModelRegistry,
        *,
        first_token_timeout: float = 60.0,
        call_timeout: float = 600.0,
        max_message_chars: int = 32_000,
        history_limit: int = 200,
        page_size: int = 50,
        history_page_size: int = 50,
        hub: StreamHub | None = None,
        attachments: AttachmentService | None = None,
        calls: DatabaseCallSink | None = None,
        checkpoint_interval: float = 1.0,
        lease: float = 30.0,
    ) -> None:
        super().__init__(engine)
        # Uploads, which posting ties to messages and requests carry to the model.
        self.attachments = attachments or AttachmentService(
            engine, Path(tempfile.gettempdir()) / "parley-uploads"
        )
        self.models = models
        # Each reply's text as it arrives, for the browser's live-reply channel.
        self.hub = hub if hub is not None else StreamHub()
        # The call-log sink the models write to: a reply's rows are saved with the reply.
        self.calls = calls
        self.replies = Replies(
            first_token_timeout=first_token_timeout,
            call_timeout=call_timeout,
            checkpoint=self._checkpoint,
            checkpoint_interval=checkpoint_interval,
            renew_every=lease / 3,
        )
        # A streaming reply's row not written for this long has lost its process.
        self.lease = lease
        self._prepared: dict[int, Prepared] = {}
        self.call_timeout = call_timeout
        self.max_message_chars = max_message_chars
        self.history_limit = history_limit  # messages sent to the model as context
        self.page_size = page_size  # conversations per sidebar page
        self.history_page_size = history_page_size  # messages per history page

    @property
    def first_token_timeout(self) -> float:
        return self.replies.first_token_timeout

    # ----- reading -----------------------------------------------------------------------

    async def get_conversation(self, conversation_id: str) -> ConversationSummary:
        return ConversationSummary.of(
            await self._db(lambda s: require_conversation(s, conversation_id))
        )

    async def history(
        self, conversation_id: str, *, limit: int, before_id: int | None = None
    ) -> HistoryPage:
        """The branch on screen, newest ``limit`` messages (or the page above ``before_id``),
        oldest first, each with its versions and cost."""

        def read(session: Session) -> HistoryPage:
            conversation = require_conversation(session, conversation_id)
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

    async def current_leaf(self, conversation_id: str) -> int | None:
        """The last message of the conversation's branch on screen (None: none, or no such
        conversation): a page compares it with what it shows to see if others added to it."""
        row = await self._db(
            lambda s: crud.get_conversation(session=s, conversation_id=conversation_id)
        )
        return None if row is None else row.current_leaf_id

    async def get_message(self, message_id: int) -> MessageView:
        return await self._db(lambda s: self._read_message(s, message_id))

    def _read_message(self, session: Session, message_id: int) -> MessageView:
        row = crud.get_message(session=session, message_id=message_id)
        if row is None:
            raise NotFound("That message does not exist.")
        return self._views(session, row.conversation_id, [row])[0]

    async def spend(self, conversation_id: str) -> SpendText:
        """What the conversation has cost so far, as its header shows it."""
        total = await self._db(
            lambda s: crud.conversation_spend(session=s, conversation_id=conversation_id)
        )
        return conversation_spend(total.calls, total.known, total.unknown)

    def available_models(self) -> list[ModelOption]:
        """The models a user may pick: only those whose provider is configured."""
        return [ModelOption(m.id, m.display_name) for m in self.models.available()]

    def default_model(self) -> str:
        return self.models.default_model()

    # ----- posting -----------------------------------------------------------------------

    async def post_message(
        self,
        conversation_id: str | None,
        text: str,
        *,
        model: str | None = None,
        extras: PostExtras | None = None,
        client_ip: str = "",
        owner: Owner | None = None,
        payer: Owner | None = None,
    ) -> Posted:
        """Save the user's message under the branch on screen, and an empty reply to stream
        into, which becomes the leaf on screen; build the reply's request. One transaction:
        a refusal anywhere (a busy conversation, a file a blind model can't see, a prompt
        gone) saves nothing.

        ``model`` (a catalogue id) becomes the conversation's model; by default a new
        conversation gets the default model and an existing one keeps its own. ``extras``
        carries the files attached in the composer and a new chat's options. ``owner`` is
        stamped on a new conversation (the caller has authorised the post).

        A guarded model's guards (rate limits, concurrency, budgets, moderation) see the
        request this message would make *before* the write: refused, nothing is saved and
        the :class:`~app.errors.Refused` says why (and when to try again). ``client_ip`` is
        the caller's address, for the per-IP limits. ``payer`` is who pays in an existing
        conversation instead of its owner (a share's participant: the sender pays).
        """
        extras = extras or PostExtras()
        # A message may be only attached files.
        text = self.validate(text) if text.strip() or not extras.attachment_ids else ""
        new_chat_model = pick_model(self.models, model).id
        admission = await admit_post(
            self,
            conversation_id=conversation_id,
            text=text,
            model=model,
            new_chat_model=new_chat_model,
            extras=extras,
            client_ip=client_ip,
            owner=owner if not conversation_id else payer,
        )
        caller = paying(payer, client_ip)

        def write(session: Session) -> tuple[Posted, Prepared]:
            # 1. The conversation: the one on screen, or a new one.
            if conversation_id:
                conversation = require_conversation(session, conversation_id)
                refuse_while_streaming(session, conversation.id, self.call_timeout)
                self._use_model(session, conversation, model)
            else:
                conversation = crud.create_conversation(
                    session=session,
                    title=title_from(text or "Attached files"),
                    model=new_chat_model,
                    user_id=owner.user_id if owner else None,
                    project_id=owner.project_id if owner else None,
                )
            info = pick_model(self.models, conversation.model)
            # 2. The user's message under the branch on screen, with its files.
            user = crud.add_message(
                session=session,
                conversation_id=conversation.id,
                role="user",
                content=text,
                parent_id=conversation.current_leaf_id,
            )
            assert user.id is not None
            claim(
                session=session,
                attachment_ids=extras.attachment_ids,
                conversation_id=conversation.id,
                message_id=user.id,
                vision=info.vision,
                model_name=info.display_name,
            )
            # 3. A new chat's options, before its reply records the prompt it answers with.
            if not conversation_id:
                apply_new_chat_options(
                    session=session, conversation=conversation, extras=extras, model=info
                )
            # 4. The reply to stream into, and its request.
            reply = self._add_reply(session, conversation, user.id)
            session.refresh(conversation)
            user_view, reply_view = self._views(session, conversation.id, [user, reply])
            posted = Posted(
                ConversationSummary.of(conversation), not conversation_id, user_view, reply_view
            )
            return posted, self._request(session, reply, caller)

        try:
            posted, prepared = await self._db(write)
        except BaseException:
            if admission is not None:
                await admission.close()
            raise
        if admission is not None:
            prepared = replace(prepared, admission=admission)
            warnings = tuple(w.message for w in admission.warnings)
            posted = replace(posted, warnings=warnings)
        self._ready(posted.reply.id, prepared)
        return posted

    # ----- streaming ---------------------------------------------------------------------

    async def stream_reply(self, message_id: int) -> MessageView:
        """Stream the reply into message ``message_id`` and return it as saved.

        Each piece of text goes to :attr:`hub` the moment it arrives, and the hub's stream
        is finished with the saved status. The reply is saved whatever happens: complete;
        stopped (:meth:`request_stop`), with the text so far; or error, with the text that
        arrived before the failure. If the caller is cancelled (shutdown, restart), the reply
        is saved as interrupted and CancelledError propagates.
        """
        prepared = self._prepared.pop(message_id, None)
        if prepared is None:
            prepared = await self._db(lambda s: self._load_request(s, message_id))
        calls = self.calls
        if calls is not None:
            calls.hold(message_id)
        ended: Ended | None = None
        try:
            ended = await self._run(message_id, prepared)
        except asyncio.CancelledError:
            ended = Ended(self.replies.so_far(message_id), MessageStatus.error, crud.INTERRUPTED)
            raise
        except Exception as exc:
            error = public_error(exc, log=log)
            ended = Ended(self.replies.so_far(message_id), MessageStatus.error, error)
            raise
        finally:
            self.replies.forget(message_id)
            assert ended is not None
            records = calls.release(message_id) if calls is not None else []
            saved = ended

            def save(session: Session) -> MessageView:
                # What the view needs and the save does not change, read first: SQLite's
                # write lock is then held for the writes only.
                before = crud.get_message(session=session, message_id=message_id)
                if before is None:
                    raise NotFound("That message does not exist.")
                versions = crud.sibling_versions(
                    session=session,
                    conversation_id=before.conversation_id,
                    message_ids=[message_id],
                )
                extras = message_extras(session=session, messages=[before])
                reply = saved.reply
                if reply.answered is not None:
                    crud.set_message_model(
                        session=session,
                        message_id=message_id,
                        model=reply.answered.model,
                        provider=reply.answered.provider,
                    )
                row = crud.finish_message(
                    session=session,
                    message_id=message_id,
                    content=reply.text,
                    status=saved.status,
                    error=saved.error,
                    input_tokens=reply.usage.input_tokens or None,
                    output_tokens=reply.usage.output_tokens or None,
                )
                crud.touch_conversation(session=session, conversation_id=row.conversation_id)
                write_held(session, records)
                spend = crud.spend_by_message(session=session, message_ids=[message_id])
                return assemble([row], self._names, versions=versions, extras=extras, spend=spend)[
                    0
                ]

            try:
                view = await asyncio.shield(self._db(save))
            finally:
                self.hub.finish(message_id, str(ended.status), ended.error)
        return view

    def _load_request(self, session: Session, message_id: int) -> Prepared:
        """A request built in a transaction of its own, for a reply made by another process
        (or one whose request was dropped)."""
        reply = crud.get_message(session=session, message_id=message_id)
        if reply is None or reply.status != MessageStatus.streaming:
            raise NotFound("There is no reply waiting to stream.")
        return self._request(session, reply)

    async def _run(self, message_id: int, prepared: Prepared) -> Ended:
        provider, request, hub = prepared.provider, prepared.request, self.hub
        admission = prepared.admission
        if provider is None or request is None:
            if admission is not None:
                await admission.close()
            return Ended(EMPTY, MessageStatus.error, prepared.problem)

        def events() -> AsyncIterator[StreamEvent]:
            if admission is not None and isinstance(provider, GuardedProvider):
                return provider.run(request, admission)
            return provider.stream(request)

        try:
            return await self.replies.run(
                message_id, events, lambda text: hub.publish(message_id, text)
            )
        finally:
            if admission is not None:  # a Stop before the stream began never ran it
                await admission.close()

    async def _checkpoint(self, message_id: int, text: str) -> None:
        """Save a streaming reply's text so far, so a crash loses at most one interval."""
        await self._db(
            lambda s: crud.checkpoint_message(session=s, message_id=message_id, content=text)
        )

    def request_stop(self, message_id: int) -> None:
        """Stop a reply streaming in this process: its stream ends at once and the reply is
        saved as stopped. (The tab's events and its stream share a worker.)"""
        self.replies.stop(message_id)

    async def renew_lease(self, message_id: int) -> bool:
        """Say that this process still streams reply ``message_id`` (see ``lease``)."""
        return await self._db(lambda s: crud.renew_lease(session=s, message_id=message_id))

    async def recover_interrupted(self, *, shared: bool = False) -> int:
        """Mark replies a dead process left 'streaming' as interrupted errors (with their
        checkpointed text), and end their live channels in every worker. ``shared`` (workers
        sharing the database): only those whose lease ran out, not another worker's."""
        stale_before = utcnow() - timedelta(seconds=self.lease) if shared else None
        ids = await self._db(lambda s: crud.mark_interrupted(session=s, stale_before=stale_before))
        for message_id in ids:
            await self.hub.end_abandoned(message_id, MessageStatus.error.value, crud.INTERRUPTED)
        return len(ids)
