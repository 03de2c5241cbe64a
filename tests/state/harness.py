"""The state tests' harness: the chat page's states driven through Reflex's own event machinery.

Each test runs a real ``BaseStateEventProcessor`` over a ``StateManagerMemory`` (what
``rx.App`` runs in production, minus the socket), with a real :class:`ChatService` on the
``engine`` fixture (SQLite and PostgreSQL) and a :class:`ScriptedProvider`. Events are
enqueued the way the websocket handler enqueues them, so ``stream_reply`` runs as a real
background task: it holds the state lock only inside ``async with self``, and each exit from
that block emits a delta. A stand-in for the socket namespace records every update after a
round trip through Reflex's wire encoder, so the tests assert on what the browser would get.

Every tab is signed in: the ``backend`` fixture signs up the install's first account (an
admin, who may also read rows without a project, as the service-made conversations of
:func:`saved_conversation` are) and each tab's handshake headers carry its session cookie,
as the browser's websocket handshake does. ``open_tab(wire, cookie="")`` is a tab of nobody.

What the harness does not do: hydrate a fresh tab. Hydration needs a compiled ``rx.App``,
so each session starts with router data already on the root state, as after a hydrate, and
``load_page`` is sent directly where the app's ``on_load`` would chain it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar, cast

import pytest
from reflex.istate.manager.memory import StateManagerMemory
from reflex.istate.manager.token import BaseStateToken
from reflex.state import BaseState, State, StateUpdate
from reflex_base.constants.state import FIELD_MARKER
from reflex_base.event import Event
from reflex_base.event.processor import BaseStateEventProcessor
from reflex_base.event.processor.future import EventFuture
from reflex_base.utils.format import json_dumps
from sqlalchemy import Engine

from app import services
from app.llm.fake import ScriptedProvider, ScriptedReply
from app.llm.registry import ModelInfo, ModelRegistry
from app.services import accounts as accounts_module
from app.services.accounts import SESSION_COOKIE, AccountService
from app.services.chat import ChatService
from app.services.stream_hub import StreamEnd
from app.services.views import ConversationSummary, MessageView
from state.chat import ChatState
from state.composer import ComposerState
from state.conversation import OpenConversationState
from state.messages import MessagesState
from state.sidebar import SidebarState
from tests.unit.test_accounts import PASSWORD
from tests.unit.test_accounts import service as account_service

S = TypeVar("S", bound=BaseState)
ORIGIN = "http://localhost:3000"
CHAT = ChatState.get_full_name()
# The chat page's states whose vars an Update's ``chat`` holds (the code panel's stay apart).
CHAT_PAGE = frozenset(
    cls.get_full_name()
    for cls in (OpenConversationState, SidebarState, ChatState, ComposerState, MessagesState)
)
WAIT = 10.0  # seconds: an upper bound for a chain to settle, never a sleep


# ----- the service ------------------------------------------------------------------------


@dataclasses.dataclass
class Backend:
    """The configured service and the provider behind it; script replies before sending."""

    service: ChatService
    provider: ScriptedProvider
    replies: list[ScriptedReply]
    accounts: AccountService
    cookie: str  # the signed-in admin's session cookie, as the browser sends it

    def script(self, *replies: ScriptedReply) -> None:
        self.replies.extend(replies)

    async def live_chunks(self, message_id: int, *, at_least: int | None = None) -> list[str]:
        """The reply's text as the live-reply channel publishes it: every chunk to the end
        of the stream, or (``at_least``) as soon as that many characters have arrived."""
        chunks: list[str] = []
        async with asyncio.timeout(WAIT):
            async for item in self.service.hub.subscribe(message_id):
                if isinstance(item, StreamEnd):
                    break
                chunks.append(item)
                if at_least is not None and len("".join(chunks)) >= at_least:
                    break
        return chunks


@pytest.fixture
async def backend(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Backend:
    """A real ChatService installed with ``services.configure``; the previous one comes back
    after the test (monkeypatch restores the container's slot)."""
    replies: list[ScriptedReply] = []
    provider = ScriptedProvider(replies)
    registry = ModelRegistry(default="fake")
    registry.register(ModelInfo("fake", "Fake", "fake", "fake-1"), provider)
    service = ChatService(engine, registry, page_size=2, history_page_size=2)
    monkeypatch.setattr(services, "_chat", services._chat)
    services.configure(service)
    accounts = account_service(engine)
    monkeypatch.setattr(accounts_module, "_service", accounts)
    signed_in = await accounts.sign_up("admin@example.com", PASSWORD, "Admin")
    return Backend(service, provider, replies, accounts, cookie_of(signed_in.token))


def cookie_of(token: str) -> str:
    return f"theme=dark; {SESSION_COOKIE}={token}"


# ----- the Reflex side --------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Update:
    """One update as the browser decodes it: the chat page's changed vars (the open
    conversation's, the sidebar's, the chat's, the composer's and the message actions',
    merged: no two share a name), and frontend events."""

    chat: dict[str, Any]
    events: list[dict[str, Any]]


class Wire:
    """Stands in for the socket namespace: decodes and keeps every update sent to the client."""

    def __init__(self) -> None:
        self.updates: list[Update] = []
        self._changed = asyncio.Condition()

    async def emit_update(self, update: StateUpdate, token: str) -> None:
        delta = json.loads(json_dumps(update.delta))  # fails if the state cannot be sent
        events = json.loads(json_dumps(update.events))
        chat = {
            name.removesuffix(FIELD_MARKER): value
            for state, changed in delta.items()
            if state in CHAT_PAGE
            for name, value in changed.items()
        }
        async with self._changed:
            self.updates.append(Update(chat, events))
            self._changed.notify_all()

    async def wait_for(self, seen: Callable[[Update], bool]) -> Update:
        """The first update (already sent or still to come) that ``seen`` accepts."""
        async with asyncio.timeout(WAIT), self._changed:
            checked = 0
            while True:
                for update in self.updates[checked:]:
                    if seen(update):
                        return update
                checked = len(self.updates)
                await self._changed.wait()

    def redirects(self) -> list[dict[str, Any]]:
        return [e["payload"] for u in self.updates for e in u.events if e["name"] == "_redirect"]

    def scripts(self, since: int = 0) -> list[str]:
        """The JavaScript the server asked the browser to run, in order."""
        return [
            e["payload"]["javascript_code"]
            for u in self.updates[since:]
            for e in u.events
            if e["name"] == "_call_script"
        ]


@dataclasses.dataclass
class Tab:
    """One browser tab: a client token whose events go through the real event processor."""

    processor: BaseStateEventProcessor
    manager: StateManagerMemory
    wire: Wire
    cookie: str = ""  # the handshake's Cookie header ("" for nobody)
    token: str = dataclasses.field(default_factory=lambda: uuid.uuid4().hex)
    path: str = "/"
    sid: str = "socket-1"  # the page's socket session: a reload gets a new one

    def router_data(self) -> dict[str, Any]:
        parts = [p for p in self.path.split("?")[0].split("/") if p]
        route, param = "/", "conversation_id"
        if parts[:1] == ["c"]:
            route = "/c/[conversation_id]"
        elif parts[:1] == ["s"]:  # a read-only link (issue 13)
            route, param = "/s/[token]", "token"
        return {
            "pathname": route,
            "asPath": self.path,
            "query": {param: parts[1]} if len(parts) == 2 else {},
            "headers": {"origin": ORIGIN, "cookie": self.cookie},
            "token": self.token,
            "sid": self.sid,
        }

    async def send(self, event: Any) -> EventFuture:
        """Enqueue one event (a handler or a handler called with its arguments) from the
        current page, as the socket handler does; returns the future of its whole chain."""
        (spec,) = Event.from_event_type(event)
        return await self.processor.enqueue(
            self.token, dataclasses.replace(spec, router_data=self.router_data())
        )

    async def run(self, *events: Any) -> None:
        """Send events one after another, each waiting for its chain (background work too)."""
        for event in events:
            future = await self.send(event)
            async with asyncio.timeout(WAIT):
                await future.wait_all()

    async def visit(self, path: str) -> None:
        self.path = path
        await self.run(ChatState.load_page)

    async def reload(self) -> None:
        """The page reloaded: a new socket session, then the page's on_load."""
        self.sid = uuid.uuid4().hex
        await self.visit(self.path)

    async def state(self, cls: type[S]) -> S:
        """One of the session's states as the backend holds it, read under its lock."""
        async with self.manager.modify_state(BaseStateToken(ident=self.token, cls=State)) as root:
            return await root.get_state(cls)

    async def chat(self) -> ChatState:
        return await self.state(ChatState)

    async def sidebar(self) -> SidebarState:
        return await self.state(SidebarState)

    async def actions(self) -> MessagesState:
        return await self.state(MessagesState)

    async def seed(self, **values: Any) -> None:
        """Set ChatState vars directly, as an earlier session would have left them."""
        async with self.manager.modify_state(BaseStateToken(ident=self.token, cls=State)) as root:
            chat = await root.get_state(ChatState)
            for name, value in values.items():
                setattr(chat, name, value)
            root._clean()


@asynccontextmanager
async def open_tab(wire: Wire, cookie: str = "") -> AsyncIterator[Tab]:
    """A hydrated browser tab whose updates ``wire`` records, signed in as ``cookie`` says."""
    manager = StateManagerMemory()
    processor = BaseStateEventProcessor(graceful_shutdown_timeout=WAIT).configure(
        state_manager=manager, event_namespace=cast(Any, wire)
    )
    session = Tab(processor, manager, wire, cookie)
    # What a hydrate leaves behind: the root state knows its route and client. Without it
    # the processor would rehydrate first, which needs a compiled rx.App.
    async with manager.modify_state(BaseStateToken(ident=session.token, cls=State)) as root:
        root.router_data = root._update_router_vars(session.router_data(), {})
        root._clean()
    try:
        async with processor:
            yield session
    finally:
        await manager.close()


@pytest.fixture
async def tab(backend: Backend) -> AsyncIterator[Tab]:
    async with open_tab(Wire(), backend.cookie) as session:
        yield session


def shown(chat: ChatState) -> list[MessageView]:
    """The branch as the page shows it: loaded history (less a hidden tail), then ``recent``."""
    return chat._shown()


def sidebar_rows(sidebar: SidebarState) -> list[ConversationSummary]:
    """The sidebar's recent conversations as the page shows them: the rows shown above the
    loaded list, then the loaded list less the rows hidden in it (they moved up)."""
    hidden = set(sidebar.sidebar_hidden)
    return [*sidebar.sidebar_top, *(c for c in sidebar.conversations if c.id not in hidden)]


def send(text: str) -> Any:
    """The composer's Send, as the browser submits its form with ``text`` in the box."""
    return ComposerState.send({"message": text})


def reply(text: str, *, chunk_chars: int = 3, delay: float = 0.01, **kwargs: Any) -> ScriptedReply:
    return ScriptedReply.of(text, chunk_chars=chunk_chars, delay=delay, **kwargs)


async def saved_conversation(backend: Backend, *turns: tuple[str, str]) -> str:
    """A conversation saved through the service, one (question, answer) per turn."""
    backend.script(*(ScriptedReply.of(answer) for _, answer in turns))
    conversation_id: str | None = None
    for question, _ in turns:
        posted = await backend.service.post_message(conversation_id, question)
        conversation_id = posted.conversation.id
        await backend.service.stream_reply(posted.reply.id)
    assert conversation_id is not None
    return conversation_id


def sent_since(tab: Tab, start: int) -> list[dict[str, Any]]:
    """The chat page's part of every update since ``start``."""
    return [u.chat for u in tab.wire.updates[start:]]
