"""Agent mode's state: the conversation's switch, and a turn answered by the agent loop, its
steps streaming into the chat. A substate of :class:`ChatState` (its vars are this state's).

A send in agent mode (state/composer.py asks :func:`agent_stream`) posts as usual, then runs
:meth:`AgentState.stream_agent` instead of the chat's plain stream: a background event, so
Stop stays live. The answer's text goes over the live-reply channel like any reply's; each
step reaches ``live_steps`` as it starts and again as it finishes (two small updates per
step, never per token). Steps are saved by the service as they finish; for the branch on
screen they are read back into ``steps`` (:meth:`_follow_branch`), so they stay after a
reload. Stop reaches the run through :meth:`ChatState.stop` (``get_agent_chat().stop``).
"""

from __future__ import annotations

import logging

import reflex as rx

from app.errors import ParleyError
from app.services.agent_chat import StepView
from app.services.agent_wiring import get_agent_chat
from app.services.status import NO_REPLY, is_complete
from app.services.views import MessageView
from state.access import SIGNED_IN, Need
from state.chat import ChatState, follow_conversation

log = logging.getLogger(__name__)


class AgentState(ChatState):
    agent_mode: rx.Field[bool] = rx.field(False)
    steps: rx.Field[list[StepView]] = rx.field(default_factory=list)  # the branch's, saved
    live_steps: rx.Field[list[StepView]] = rx.field(default_factory=list)  # the run's
    _mode_of: str = ""  # the conversation agent_mode was read for

    async def _follow_branch(self, branch: list[MessageView]) -> None:
        """The branch on screen changed: its steps (and, for another conversation, its
        switch) are read afresh."""
        if self._mode_of != self.current_id:
            self._mode_of = self.current_id
            mode = False
            if self.current_id:
                try:
                    mode = await get_agent_chat().mode(self.current_id)
                except ParleyError:
                    mode = False
            if mode != self.agent_mode:
                self.agent_mode = mode
        ids = [m.id for m in branch if m.role == "assistant"]
        steps = await get_agent_chat().steps(ids) if ids else []
        if steps != self.steps:
            self.steps = steps

    @rx.event
    async def set_agent_mode(self, on: bool) -> None:
        """The switch: saved at once for a saved conversation; a new chat's waits for its
        first message (:meth:`_keep_mode`)."""
        need = Need(conversation=self.current_id, manage=True) if self.current_id else SIGNED_IN
        if await self._allow(need) is None:
            return
        previous = self.agent_mode
        self.agent_mode = on
        if not self.current_id:
            return
        try:
            await get_agent_chat().set_mode(self.current_id, on)
        except ParleyError as exc:
            self.agent_mode = previous
            self.notice = exc.message

    async def _keep_mode(self, conversation_id: str) -> None:
        """A send created or used ``conversation_id`` in agent mode: the switch is saved."""
        self._mode_of = conversation_id
        await get_agent_chat().set_mode(conversation_id, True)

    @rx.event(background=True)
    async def stream_agent(self) -> None:
        async with self:
            message_id = self.live_id
            conversation_id = self.live_conversation_id
            # Started by the send that saved the reply; a forged second call while it runs
            # (or a plain stream_reply's) would run the loop, and spend, twice. A finished
            # reply is no longer live (and the service answers only a streaming one).
            if message_id < 0 or message_id == self._streaming_id:
                return
            if await self._allow(Need(message=message_id, write=True)) is None:
                return
            self._streaming_id = message_id
            if self.live_steps:
                self.live_steps = []

        async def on_step(step: StepView) -> None:
            async with self:
                if self.live_id != message_id:
                    return
                kept = [s for s in self.live_steps if s.index != step.index]
                self.live_steps = [*kept, step]

        final: MessageView | None = None
        problem = ""
        try:
            final = await get_agent_chat().run(message_id, on_step)
        except Exception as exc:  # never leave this session stuck in "streaming"
            log.exception("agent run for reply %s failed", message_id)
            problem = exc.message if isinstance(exc, ParleyError) else "The agent failed."
        async with self:
            self._streaming_id = NO_REPLY
            if self.live_id == message_id:
                if final is not None and self.current_id == self.live_conversation_id:
                    # As a plain reply's end: without the text this browser already has
                    # from the live channel (under this reply's key), when it has all of it.
                    self.recent = [*self.recent, self._without_text(final)]
                    await self._refresh_spend_quietly()
                    await follow_conversation(self)  # reads the saved steps into `steps`
                self.live_steps = []
                self.notice = problem
                self._clear_live()
            await self._refresh_sidebar_quietly()
        if final is not None and is_complete(final.status):
            await self._name_conversation(conversation_id)


async def agent_stream(chat: ChatState, conversation_id: str) -> type[AgentState] | None:
    """For a send into ``conversation_id``: the agent's stream if agent mode is on (and the
    switch saved with the conversation), else None (the plain reply streams)."""
    agent = await chat.get_state(AgentState)
    if not agent.agent_mode:
        return None
    await agent._keep_mode(conversation_id)
    return AgentState
