"""Agent mode in the chat: a conversation's switch, and a turn run by the agent loop.

A send in agent mode posts the user's message and an empty reply exactly as a plain send
does (:meth:`ChatService.post_message`); :meth:`AgentChat.run` then answers it with
:meth:`AgentService.run` instead of a plain stream, one use case top to bottom:

1. the reply's request (its history, system prompt and call-log metadata) as the chat built it;
2. the loop's text goes to the live-reply channel, as a plain reply's does (the hub, under
   the key the page was granted for this reply, ChatState._go_live);
3. each step is saved the moment it finishes (so it survives a reload, or a crash) and handed
   to ``on_step`` for the page; a step starting is handed over too, as ``running``;
4. the answer is saved as the reply: complete; stopped (:meth:`stop`, at once, mid-tool
   included); or error (a provider failure, or a limit of the run, named).

The loop's model calls go through the registry's providers, so the guards (limits, budgets,
moderation), the router and the cache see each one; they are logged under feature "agent"
with the reply's ids, and saved with it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial

from sqlmodel import Session

from app.agent import AgentDone, AgentText, StepFinished, StepStarted
from app.db import crud
from app.db.crud import agent as agent_crud
from app.db.models import AgentStep, MessageStatus
from app.errors import NotFound
from app.services.agent import AgentService
from app.services.calllog import write_held
from app.services.chat import ChatService
from app.services.kernel import require_conversation
from app.services.reply import lease_kept
from app.services.views import MessageView

LIMITS = {
    "iterations": "The agent stopped at its limit of steps before answering.",
    "tokens": "The agent stopped at its token limit for one run.",
    "time": "The agent stopped at its time limit for one run.",
}


@dataclass(frozen=True, slots=True)
class StepView:
    """One step as the chat shows it."""

    message_id: int
    index: int
    tool: str
    arguments: str
    status: str  # running, ok, error, cancelled
    result: str
    error: str
    duration: str  # "0.42 s"; "" while running

    @classmethod
    def of(cls, row: AgentStep) -> StepView:
        return cls(
            row.message_id,
            row.index,
            row.tool,
            row.arguments,
            row.status,
            row.result,
            row.error or "",
            seconds(row.duration_ms),
        )


def seconds(ms: int) -> str:
    return f"{ms / 1000:.2f} s"


OnStep = Callable[[StepView], Awaitable[None]]


class AgentChat:
    def __init__(self, chat: ChatService, agents: AgentService) -> None:
        self.chat = chat
        self.agents = agents
        self._cancels: dict[int, asyncio.Event] = {}

    # ----- the switch and the saved steps ------------------------------------------------

    async def mode(self, conversation_id: str) -> bool:
        def read(session: Session) -> bool:
            require_conversation(session, conversation_id)
            return agent_crud.agent_mode(session=session, conversation_id=conversation_id)

        return await self.chat._db(read)

    async def set_mode(self, conversation_id: str, on: bool) -> None:
        def write(session: Session) -> None:
            require_conversation(session, conversation_id)
            agent_crud.set_agent_mode(session=session, conversation_id=conversation_id, on=on)

        await self.chat._db(write)

    async def steps(self, message_ids: Sequence[int]) -> list[StepView]:
        return await self.chat._db(
            lambda s: [
                StepView.of(row)
                for row in agent_crud.list_steps(session=s, message_ids=list(message_ids))
            ]
        )

    # ----- a turn ------------------------------------------------------------------------

    def stop(self, message_id: int) -> None:
        """Stop the run answering ``message_id`` now, mid-tool included (no-op for none)."""
        cancel = self._cancels.get(message_id)
        if cancel is not None:
            cancel.set()

    async def run(self, message_id: int, on_step: OnStep) -> MessageView:
        """Answer reply ``message_id`` with the agent loop; return the reply as saved."""
        chat = self.chat
        if message_id in self._cancels:  # one run per reply: a second would spend twice
            raise NotFound("There is no reply waiting to stream.")
        cancel = self._cancels[message_id] = asyncio.Event()
        try:
            prepared = chat._prepared.pop(message_id, None)
            if prepared is None:  # raises NotFound for a reply that is no longer streaming
                prepared = await chat._db(lambda s: chat._load_request(s, message_id))
            if prepared.admission is not None:
                # The send was admitted by the guards before it was saved (a refusal saves
                # nothing); each call of the loop is admitted again by the guarded provider
                # (registry.resolve), so the send's slot and reservation are given back first.
                await prepared.admission.close()
            owner, model_id, choice = await chat._db(lambda s: self._owner_and_model(s, message_id))
        except BaseException:
            self._cancels.pop(message_id, None)
            raise
        calls = chat.calls
        if calls is not None:
            calls.hold(message_id)
        text = ""
        status, error = MessageStatus.error, prepared.problem or None
        usage = (0, 0)
        try:
            if prepared.request is not None:
                renew = partial(chat.renew_lease, message_id)
                events = self.agents.run(
                    model_id=model_id,
                    messages=prepared.request.messages,
                    owner_id=owner,
                    cancel=cancel,
                    metadata=dict(prepared.request.metadata),
                    mcp_choice=choice,
                )
                async with lease_kept(renew, every=chat.lease / 3):
                    async for event in events:
                        if isinstance(event, AgentText):
                            chat.hub.publish(message_id, event.text)
                        elif isinstance(event, StepStarted):
                            await on_step(
                                StepView(
                                    message_id, event.index, event.tool, event.arguments,
                                    "running", "", "", "",
                                )
                            )  # fmt: skip
                        elif isinstance(event, StepFinished):
                            await on_step(await self._save_step(message_id, event))
                        elif isinstance(event, AgentDone):
                            text = event.answer
                            usage = (event.input_tokens, event.output_tokens)
                            status, error = _ending(event)
        except asyncio.CancelledError:
            status, error = MessageStatus.error, crud.INTERRUPTED
            raise
        finally:
            self._cancels.pop(message_id, None)
            records = calls.release(message_id) if calls is not None else []
            final = (text, status, error, usage)

            def save(session: Session) -> None:
                body, how, why, (given, got) = final
                row = crud.finish_message(
                    session=session,
                    message_id=message_id,
                    content=body,
                    status=how,
                    error=why,
                    input_tokens=given or None,
                    output_tokens=got or None,
                )
                crud.touch_conversation(session=session, conversation_id=row.conversation_id)
                write_held(session, records)

            try:
                await asyncio.shield(chat._db(save))
            finally:
                chat.hub.finish(message_id, str(status), error)
        return await chat.get_message(message_id)

    @staticmethod
    def _owner_and_model(
        session: Session, message_id: int
    ) -> tuple[str | None, str, frozenset[str] | None]:
        """Who the run is for, its model, and the MCP tools the conversation's project
        allows (None: every configured one, also for a conversation in no project)."""
        row = crud.get_message(session=session, message_id=message_id)
        if row is None:
            raise NotFound("That message does not exist.")
        conversation = crud.get_conversation(session=session, conversation_id=row.conversation_id)
        owner = conversation.user_id if conversation is not None else None
        project = conversation.project_id if conversation is not None else None
        choice = (
            agent_crud.project_mcp_tools(session=session, project_id=project) if project else None
        )
        return owner, row.requested_model or row.model or "", choice

    async def _save_step(self, message_id: int, event: StepFinished) -> StepView:
        step = AgentStep(
            message_id=message_id,
            index=event.index,
            tool=event.tool,
            arguments=event.arguments,
            status=event.status,
            result=event.result,
            error=event.error,
            duration_ms=event.duration_ms,
        )
        return await self.chat._db(lambda s: StepView.of(agent_crud.add_step(session=s, step=step)))


def _ending(done: AgentDone) -> tuple[MessageStatus, str | None]:
    if done.reason == "answered":
        return MessageStatus.complete, None
    if done.reason == "cancelled":
        return MessageStatus.stopped, None
    if done.reason == "error":
        return MessageStatus.error, done.error or "The model failed."
    return MessageStatus.error, LIMITS[done.reason]
