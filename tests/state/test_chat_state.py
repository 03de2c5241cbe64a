"""ChatState's handlers, driven through Reflex's own event machinery.

Each test runs a real ``BaseStateEventProcessor`` over a ``StateManagerMemory`` (what
``rx.App`` runs in production, minus the socket), with a real :class:`ChatService` on the
``engine`` fixture (SQLite and PostgreSQL) and a :class:`ScriptedProvider`. Events are
enqueued the way the websocket handler enqueues them, so ``stream_reply`` runs as a real
background task: it holds the state lock only inside ``async with self``, and each exit from
that block emits a delta. A stand-in for the socket namespace records every update after a
round trip through Reflex's wire encoder, so the tests assert on what the browser would get.

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
from decimal import Decimal
from typing import Any, cast

import pytest
from reflex.istate.manager.memory import StateManagerMemory
from reflex.istate.manager.token import BaseStateToken
from reflex.state import State, StateUpdate
from reflex_base.constants.state import FIELD_MARKER
from reflex_base.event import Event
from reflex_base.event.processor import BaseStateEventProcessor
from reflex_base.event.processor.future import EventFuture
from reflex_base.utils.format import json_dumps
from sqlalchemy import Engine

from app import services
from app.db import crud
from app.db.models import CallLog
from app.db.session import session_scope
from app.errors import ProviderOverloaded
from app.llm.fake import ScriptedProvider, ScriptedReply
from app.llm.registry import ModelInfo, ModelRegistry
from app.services.chat import ChatService, MessageView
from app.services.conversations import ConversationService
from app.services.stream_hub import StreamEnd
from app.services.titles import TitleService
from state.chat import ChatState

ORIGIN = "http://localhost:3000"
CHAT = ChatState.get_full_name()
WAIT = 10.0  # seconds: an upper bound for a chain to settle, never a sleep


# ----- the service ------------------------------------------------------------------------


@dataclasses.dataclass
class Backend:
    """The configured service and the provider behind it; script replies before sending."""

    service: ChatService
    provider: ScriptedProvider
    replies: list[ScriptedReply]

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
def backend(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Backend:
    """A real ChatService installed with ``services.configure``; the previous one comes back
    after the test (monkeypatch restores the container's slot)."""
    replies: list[ScriptedReply] = []
    provider = ScriptedProvider(replies)
    registry = ModelRegistry(default="fake")
    registry.register(ModelInfo("fake", "Fake", "fake", "fake-1"), provider)
    service = ChatService(engine, registry, flush_interval=0.01, page_size=2, history_page_size=2)
    monkeypatch.setattr(services, "_chat", services._chat)
    services.configure(service)
    return Backend(service, provider, replies)


# ----- the Reflex side --------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Update:
    """One update as the browser decodes it: ChatState's changed vars, and frontend events."""

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
            name.removesuffix(FIELD_MARKER): value for name, value in delta.get(CHAT, {}).items()
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


@dataclasses.dataclass
class Tab:
    """One browser tab: a client token whose events go through the real event processor."""

    processor: BaseStateEventProcessor
    manager: StateManagerMemory
    wire: Wire
    token: str = dataclasses.field(default_factory=lambda: uuid.uuid4().hex)
    path: str = "/"

    def router_data(self) -> dict[str, Any]:
        parts = [p for p in self.path.split("?")[0].split("/") if p]
        route = "/c/[conversation_id]" if parts[:1] == ["c"] else "/"
        return {
            "pathname": route,
            "asPath": self.path,
            "query": {"conversation_id": parts[1]} if len(parts) == 2 else {},
            "headers": {"origin": ORIGIN},
            "token": self.token,
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

    async def chat(self) -> ChatState:
        """ChatState as the backend holds it, read under the session lock."""
        async with self.manager.modify_state(BaseStateToken(ident=self.token, cls=State)) as root:
            return await root.get_state(ChatState)

    async def seed(self, **values: Any) -> None:
        """Set ChatState vars directly, as an earlier session would have left them."""
        async with self.manager.modify_state(BaseStateToken(ident=self.token, cls=State)) as root:
            chat = await root.get_state(ChatState)
            for name, value in values.items():
                setattr(chat, name, value)
            root._clean()


@asynccontextmanager
async def open_tab(wire: Wire) -> AsyncIterator[Tab]:
    """A hydrated browser tab whose updates ``wire`` records."""
    manager = StateManagerMemory()
    processor = BaseStateEventProcessor(graceful_shutdown_timeout=WAIT).configure(
        state_manager=manager, event_namespace=cast(Any, wire)
    )
    session = Tab(processor, manager, wire)
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
    async with open_tab(Wire()) as session:
        yield session


def shown(chat: ChatState) -> list[MessageView]:
    """The branch as the page shows it: loaded history (less a hidden tail), then ``recent``."""
    return chat._shown()


def reply(text: str, *, chunk_chars: int = 3, delay: float = 0.01, **kwargs: Any) -> ScriptedReply:
    return ScriptedReply.of(text, chunk_chars=chunk_chars, delay=delay, **kwargs)


# ----- sending ----------------------------------------------------------------------------


async def test_send_with_an_empty_draft_explains_and_creates_nothing(
    tab: Tab, backend: Backend
) -> None:
    await tab.visit("/")
    await tab.run(ChatState.set_draft("   "), ChatState.send)

    chat = await tab.chat()
    assert chat.notice == "Type a message first."
    assert (chat.current_id, shown(chat), chat.live_id) == ("", [], -1)
    assert chat.draft == "   "  # the draft is left for the user to fix
    assert (await ConversationService(backend.service.engine).sidebar()).conversations == []
    assert tab.wire.redirects() == []
    assert backend.provider.requests == []


async def test_send_returns_a_redirect_to_the_new_conversation_then_the_stream(
    tab: Tab, backend: Backend
) -> None:
    """The handler's own return value (called through ``.fn``, no event machinery)."""
    await tab.visit("/")
    await tab.seed(draft="Hello")
    async with tab.manager.modify_state(BaseStateToken(ident=tab.token, cls=State)) as root:
        chat = await root.get_state(ChatState)
        returned = await ChatState.send.fn(chat)
        conversation_id = chat.current_id
        assert conversation_id
        assert chat.draft == ""
        assert chat.live_id >= 0
        assert chat.live_conversation_id == conversation_id
        assert [(m.role, m.content) for m in shown(chat)] == [("user", "Hello")]
        chat.live_id = -1  # nothing will stream this reply; leave the session idle
        root._clean()

    events = Event.from_event_type(returned)
    assert [e.name for e in events] == [
        "_redirect",
        Event.from_event_type(ChatState.stream_reply)[0].name,
    ]
    assert events[0].payload["path"] == f"/c/{conversation_id}"
    assert events[0].payload["replace"] is True


async def test_send_starts_a_conversation_and_streams_the_reply(tab: Tab, backend: Backend) -> None:
    text = "Hello there, my friend! How are you?"
    backend.script(reply(text))
    await tab.visit("/")
    await tab.run(ChatState.set_draft("  Hi!  "))

    sent = await tab.send(ChatState.send)
    # The first update from send: conversation created, user message shown, streaming on.
    first = await tab.wire.wait_for(lambda u: u.chat.get("live_id", -1) >= 0)
    conversation_id = first.chat["current_id"]
    assert conversation_id
    assert first.chat["live_conversation_id"] == conversation_id
    assert first.chat["draft"] == ""
    assert first.chat["current_title"] == "Hi!"
    assert [(m["role"], m["content"]) for m in first.chat["recent"]] == [("user", "Hi!")]
    assert first.chat["streaming"] is True
    assert first.chat["streaming_here"] is True
    # The text goes to the live-reply channel, chunk by chunk, as the provider sends it.
    chunks = await backend.live_chunks(first.chat["live_id"])
    async with asyncio.timeout(WAIT):
        await sent.wait_all()

    assert tab.wire.redirects() == [
        {"path": f"/c/{conversation_id}", "external": False, "popup": False, "replace": True}
    ]
    assert len(chunks) >= 3, chunks  # the reply arrived in several steps
    assert "".join(chunks) == text

    chat = await tab.chat()
    assert (chat.live_id, chat.live_conversation_id) == (-1, "")
    assert not chat.streaming
    assert [(m.role, m.content, m.status) for m in shown(chat)] == [
        ("user", "Hi!", "complete"),
        ("assistant", text, "complete"),
    ]
    assert [c.id for c in chat.conversations] == [conversation_id]
    # The closing update carries the finished message; the browser sees it complete.
    last = tab.wire.updates[-1].chat
    assert last["live_id"] == -1
    assert last["streaming"] is False
    assert [(m["role"], m["status"]) for m in last["recent"]] == [
        ("user", "complete"),
        ("assistant", "complete"),
    ]


@pytest.mark.parametrize("chunks", [10, 400])
async def test_streaming_sends_no_state_updates_until_the_reply_ends(
    tab: Tab, backend: Backend, chunks: int
) -> None:
    """Reflex's own traffic per reply is O(1): one update when it starts, one when it ends,
    whatever the reply's length. The text travels only on the live-reply channel."""
    text = "".join(f"w{i} " for i in range(chunks))
    backend.script(reply("First answer."), reply(text, chunk_chars=4, delay=0.001))
    await tab.visit("/")
    await tab.run(ChatState.set_draft("one"), ChatState.send)
    # The redirect's on_load: already showing the conversation, so nothing is reloaded.
    await tab.visit(f"/c/{(await tab.chat()).current_id}")
    await tab.run(ChatState.set_draft("two"))
    sent_before = len(tab.wire.updates)
    await tab.run(ChatState.send)

    updates = [u.chat for u in tab.wire.updates[sent_before:]]
    assert not [u for u in tab.wire.updates[sent_before:] if u.events]  # no redirect
    starts = [u for u in updates if u.get("live_id", -1) >= 0]
    ends = [u for u in updates if u.get("live_id") == -1]
    assert (len(starts), len(ends), len(updates)) == (1, 1, 2), [sorted(u) for u in updates]
    start, end = updates
    assert start is starts[0] and end is ends[0]
    # Neither update carries the reply while it streams; the end carries it once, finished.
    assert text.strip() not in json.dumps(start)
    assert json.dumps(end).count(text.strip()) == 1
    assert [m["content"] for m in end["recent"]][-1] == text
    chat = await tab.chat()
    assert [m.content for m in shown(chat)] == ["one", "First answer.", "two", text]
    assert backend.service.hub.text(shown(chat)[-1].id) == text


async def test_stop_mid_stream_keeps_the_partial_reply_as_stopped(
    tab: Tab, backend: Backend
) -> None:
    text = "one two three four five six seven eight nine ten eleven twelve. " * 3
    backend.script(reply(text, chunk_chars=2, delay=0.02))  # about 2 s if never stopped
    await tab.visit("/")
    await tab.run(ChatState.set_draft("count"))
    sent = await tab.send(ChatState.send)
    started = await tab.wire.wait_for(lambda u: u.chat.get("live_id", -1) >= 0)
    seen = "".join(await backend.live_chunks(started.chat["live_id"], at_least=6))
    await tab.run(ChatState.stop)  # a normal event: runs while the stream is in flight
    async with asyncio.timeout(WAIT):
        await sent.wait_all()

    chat = await tab.chat()
    assert chat.live_id == -1
    user, assistant = shown(chat)
    assert (user.role, user.content) == ("user", "count")
    assert assistant.status == "stopped"
    assert assistant.content.startswith(seen)
    assert 6 <= len(assistant.content) < len(text)
    # The live channel showed exactly what was saved, and then ended as stopped.
    assert backend.service.hub.text(assistant.id) == assistant.content
    assert [e async for e in backend.service.hub.subscribe(assistant.id, 10**6)] == [
        StreamEnd("stopped")
    ]
    saved = await backend.service.get_message(assistant.id)
    assert (saved.status, saved.content) == ("stopped", assistant.content)


async def test_a_provider_error_ends_the_reply_with_the_error_and_keeps_the_question(
    tab: Tab, backend: Backend
) -> None:
    backend.script(reply("Half a ", error=ProviderOverloaded("Overloaded, try later.")))
    await tab.visit("/")
    await tab.run(ChatState.set_draft("hello"), ChatState.send)

    chat = await tab.chat()
    assert chat.live_id == -1
    assert not chat.streaming
    user, assistant = shown(chat)
    assert (user.role, user.content, user.status) == ("user", "hello", "complete")
    assert (assistant.status, assistant.content, assistant.error) == (
        "error",
        "Half a ",
        "Overloaded, try later.",
    )
    page = await backend.service.history(chat.current_id, limit=10)
    assert [(m.role, m.content) for m in page.messages] == [
        ("user", "hello"),
        ("assistant", "Half a "),
    ]
    # The session is usable again: the next message goes through.
    backend.script(reply("Better now."))
    await tab.run(ChatState.set_draft("again?"), ChatState.send)
    chat = await tab.chat()
    assert chat.notice == ""
    assert [m.content for m in shown(chat)][-2:] == ["again?", "Better now."]


async def test_a_second_send_while_streaming_is_refused_with_a_notice(
    tab: Tab, backend: Backend
) -> None:
    backend.script(reply("x" * 200, chunk_chars=2, delay=0.02))  # about 2 s unless stopped
    await tab.visit("/")
    await tab.run(ChatState.set_draft("first"))
    sent = await tab.send(ChatState.send)
    started = await tab.wire.wait_for(lambda u: u.chat.get("live_id", -1) >= 0)
    await backend.live_chunks(started.chat["live_id"], at_least=1)
    await tab.run(ChatState.set_draft("second"), ChatState.send)

    chat = await tab.chat()
    assert chat.notice == "Wait for the current reply to finish, or press Stop."
    assert chat.draft == "second"
    assert chat.live_id >= 0  # the first reply is still streaming
    await tab.run(ChatState.stop)
    async with asyncio.timeout(WAIT):
        await sent.wait_all()
    assert len(backend.provider.requests) == 1
    assert shown(await tab.chat())[0].content == "first"


async def test_stop_recovers_a_session_whose_stream_died_with_its_process(
    tab: Tab, backend: Backend
) -> None:
    """With Redis, session state outlives a backend restart, but the background task does
    not: start-up marks the reply interrupted and nothing resets ``live_id``. Stop (or a
    reload) must let the user carry on; otherwise every send answers "Wait for the current
    reply to finish, or press Stop." for as long as the state lives."""
    posted = await backend.service.post_message(None, "hello")
    await tab.seed(
        current_id=posted.conversation.id,
        messages=[posted.user],
        live_id=posted.reply.id,
        live_conversation_id=posted.conversation.id,
    )
    assert await backend.service.recover_interrupted() == 1  # what the restart did

    await tab.visit(f"/c/{posted.conversation.id}")
    await tab.run(ChatState.stop)
    backend.script(reply("Back again."))
    await tab.run(ChatState.set_draft("are you there?"), ChatState.send)

    chat = await tab.chat()
    assert chat.notice == "", "the session is stuck streaming a reply nothing is streaming"
    assert [m.content for m in shown(chat)][-2:] == ["are you there?", "Back again."]


# ----- loading pages ----------------------------------------------------------------------


async def _saved_conversation(backend: Backend, *turns: tuple[str, str]) -> str:
    """A conversation saved through the service, one (question, answer) per turn."""
    backend.script(*(ScriptedReply.of(answer) for _, answer in turns))
    conversation_id: str | None = None
    for question, _ in turns:
        posted = await backend.service.post_message(conversation_id, question)
        conversation_id = posted.conversation.id
        async for _ in backend.service.stream_reply(posted.reply.id):
            pass
    assert conversation_id is not None
    return conversation_id


async def test_load_page_for_a_conversation_loads_its_history_and_title(
    tab: Tab, backend: Backend
) -> None:
    conversation_id = await _saved_conversation(backend, ("What is 2+2?", "4."))
    await tab.visit(f"/c/{conversation_id}")

    chat = await tab.chat()
    assert (chat.current_id, chat.current_title, chat.notice) == (
        conversation_id,
        "What is 2+2?",
        "",
    )
    assert [(m.role, m.content) for m in shown(chat)] == [
        ("user", "What is 2+2?"),
        ("assistant", "4."),
    ]
    assert not chat.more_history
    assert [c.id for c in chat.conversations] == [conversation_id]
    assert not chat.streaming_here


async def test_load_page_for_an_unknown_conversation_sets_a_notice(
    tab: Tab, backend: Backend
) -> None:
    await tab.visit("/c/no-such-conversation")

    chat = await tab.chat()
    assert chat.notice == "That conversation does not exist. It may have been deleted."
    assert (chat.current_id, chat.current_title, shown(chat)) == ("", "", [])


async def test_load_page_for_the_root_resets_to_an_empty_chat(tab: Tab, backend: Backend) -> None:
    conversation_id = await _saved_conversation(backend, ("Q", "A"))
    await tab.visit(f"/c/{conversation_id}")
    await tab.run(ChatState.set_draft("half-typed"))
    await tab.visit("/c/missing")  # leaves a notice behind
    await tab.visit(f"/c/{conversation_id}")
    await tab.visit("/")

    chat = await tab.chat()
    assert (chat.current_id, chat.current_title, shown(chat), chat.notice) == ("", "", [], "")
    assert not chat.more_history
    assert [c.id for c in chat.conversations] == [conversation_id]  # the sidebar stays


async def test_load_earlier_prepends_older_history_pages(tab: Tab, backend: Backend) -> None:
    conversation_id = await _saved_conversation(backend, ("Q0", "A0"), ("Q1", "A1"), ("Q2", "A2"))
    await tab.visit(f"/c/{conversation_id}")  # history_page_size is 2
    chat = await tab.chat()
    assert [m.content for m in shown(chat)] == ["Q2", "A2"]
    assert chat.more_history

    await tab.run(ChatState.load_earlier)
    chat = await tab.chat()
    assert [m.content for m in shown(chat)] == ["Q1", "A1", "Q2", "A2"]
    assert chat.more_history
    await tab.run(ChatState.load_earlier)
    chat = await tab.chat()
    assert [m.content for m in shown(chat)] == ["Q0", "A0", "Q1", "A1", "Q2", "A2"]
    assert not chat.more_history


async def test_load_more_conversations_pages_the_sidebar(tab: Tab, backend: Backend) -> None:
    ids = [await _saved_conversation(backend, (f"topic {i}", "ok")) for i in range(3)]
    await tab.visit("/")  # page_size is 2
    chat = await tab.chat()
    assert [c.id for c in chat.conversations] == [ids[2], ids[1]]
    assert chat.more_conversations

    await tab.run(ChatState.load_more_conversations)
    chat = await tab.chat()
    assert [c.id for c in chat.conversations] == [ids[2], ids[1], ids[0]]
    assert not chat.more_conversations


async def test_the_first_reply_is_followed_by_a_generated_title(tab: Tab, backend: Backend) -> None:
    services.configure(
        backend.service, titles=TitleService(backend.service.engine, backend.service.models)
    )
    backend.script(reply("Use slicing: s[::-1]."), reply('"Reversing strings."'))
    await tab.visit("/")
    await tab.run(ChatState.set_draft("How do I reverse a string?"), ChatState.send)
    titled = await tab.wire.wait_for(lambda u: u.chat.get("current_title") == "Reversing strings")
    assert [c["title"] for c in titled.chat["conversations"]] == ["Reversing strings"]
    request = backend.provider.requests[-1]
    assert request.metadata["feature"] == "title"
    # The second exchange keeps the title and asks for none.
    backend.script(reply("Or reversed()."))
    await tab.run(ChatState.set_draft("Any other way?"), ChatState.send)
    chat = await tab.chat()
    assert chat.current_title == "Reversing strings"
    assert len(backend.provider.requests) == 3


async def test_a_reply_that_leaves_the_sidebar_unchanged_does_not_resend_it(
    tab: Tab, backend: Backend
) -> None:
    backend.script(reply("First answer."), reply("Second answer."))
    await tab.visit("/")
    await tab.run(ChatState.set_draft("first question"), ChatState.send)
    chat = await tab.chat()
    assert [c.title for c in chat.conversations] == ["first question"]
    sent_before = len(tab.wire.updates)
    await tab.run(ChatState.set_draft("second question"), ChatState.send)
    later = tab.wire.updates[sent_before:]
    assert later, "the second exchange sent no updates"
    assert all("conversations" not in u.chat and "pinned" not in u.chat for u in later), [
        sorted(u.chat) for u in later
    ]
    chat = await tab.chat()
    assert [m.content for m in shown(chat)][-1] == "Second answer."


async def test_new_chat_starts_a_new_conversation_even_before_the_page_reloads(
    tab: Tab, backend: Backend
) -> None:
    backend.script(reply("First answer."), reply("Fresh answer."))
    await tab.visit("/")
    await tab.run(ChatState.set_draft("first question"), ChatState.send)
    first = (await tab.chat()).current_id
    # New chat, then a message at once: before the new page's on_load has run.
    await tab.run(ChatState.new_chat, ChatState.set_draft("a new topic"), ChatState.send)
    chat = await tab.chat()
    assert chat.current_id and chat.current_id != first
    assert [m.content for m in shown(chat)] == ["a new topic", "Fresh answer."]


async def test_new_chat_changes_nothing_on_screen_before_the_address_changes(
    tab: Tab, backend: Backend
) -> None:
    """The Back race: New chat used to empty the log in one update and redirect in the next,
    so a browser Back in between left the app from a page showing nothing. Now New chat only
    redirects; the log empties in ``/``'s on_load, once the address is ``/``."""
    conversation_id = await _saved_conversation(backend, ("Q", "A"))
    await tab.visit(f"/c/{conversation_id}")
    start = len(tab.wire.updates)
    await tab.run(ChatState.new_chat)
    assert [u.chat for u in tab.wire.updates[start:] if u.chat] == []
    assert tab.wire.redirects()[-1]["path"] == "/"
    chat = await tab.chat()
    assert (chat.current_id, [m.content for m in shown(chat)]) == (conversation_id, ["Q", "A"])
    await tab.visit("/")
    chat = await tab.chat()
    assert (chat.current_id, shown(chat)) == ("", [])
    # Back: the conversation comes back whole.
    await tab.visit(f"/c/{conversation_id}")
    chat = await tab.chat()
    assert [m.content for m in shown(chat)] == ["Q", "A"]


async def test_new_chat_then_reopening_the_same_conversation_keeps_sending_to_it(
    tab: Tab, backend: Backend
) -> None:
    conversation_id = await _saved_conversation(backend, ("Q", "A"))
    backend.script(reply("Still here."))
    await tab.visit(f"/c/{conversation_id}")
    # New chat, changed mind: the same conversation's link, and a message, before any on_load.
    await tab.run(
        ChatState.new_chat,
        ChatState.open_conversation(conversation_id),
        ChatState.set_draft("more"),
        ChatState.send,
    )
    chat = await tab.chat()
    assert chat.current_id == conversation_id
    history = await backend.service.history(conversation_id, limit=10)
    assert [m.content for m in history.messages] == ["Q", "A", "more", "Still here."]


async def test_a_path_that_is_no_page_says_so_and_shows_a_new_chat(
    tab: Tab, backend: Backend
) -> None:
    """One route serves ``/`` and ``/c/<id>`` (so moving between them never remounts the
    page); it matches any path of up to two segments, and load_page turns the rest away."""
    conversation_id = await _saved_conversation(backend, ("Q", "A"))
    await tab.visit(f"/c/{conversation_id}")
    for path in ("/nowhere", f"/x/{conversation_id}", "/c"):
        await tab.visit(path)
        chat = await tab.chat()
        assert chat.notice == f"There is no page at {path}."
        assert (chat.current_id, shown(chat)) == ("", [])


async def test_a_message_sent_right_after_opening_a_conversation_goes_to_it(
    tab: Tab, backend: Backend
) -> None:
    older = await _saved_conversation(backend, ("older question", "older answer"))
    backend.script(reply("Newer answer."), reply("Follow-up answer."))
    await tab.visit("/")
    await tab.run(ChatState.set_draft("newer question"), ChatState.send)
    newer = (await tab.chat()).current_id
    # The link's click, then a message at once: before the page's on_load has run.
    await tab.run(
        ChatState.open_conversation(older),
        ChatState.set_draft("follow-up"),
        ChatState.send,
    )
    chat = await tab.chat()
    assert chat.current_id == older != newer
    history = await backend.service.history(older, limit=10)
    assert [m.content for m in history.messages][-2:] == ["follow-up", "Follow-up answer."]


# ----- message actions, and what they send ------------------------------------------------


def sent_since(tab: Tab, start: int) -> list[dict[str, Any]]:
    return [u.chat for u in tab.wire.updates[start:]]


async def test_a_reply_in_an_opened_conversation_never_resends_its_history(
    tab: Tab, backend: Backend
) -> None:
    """Issue 5's wire rule: the loaded history travels once, when the conversation opens.
    Sending and the reply's end append to the short ``recent`` list; ``messages`` stays out
    of every update, and no finished message's text travels again."""
    old_answer = "An old answer that must not travel again."
    conversation_id = await _saved_conversation(
        backend, ("first old question", "first old answer"), ("second old question", old_answer)
    )
    await tab.visit(f"/c/{conversation_id}")
    assert [m.content for m in (await tab.chat()).messages] == ["second old question", old_answer]
    backend.script(reply("A fresh answer."), reply("Another fresh answer."))
    start = len(tab.wire.updates)
    await tab.run(ChatState.set_draft("new question"), ChatState.send)

    updates = sent_since(tab, start)
    assert updates and all("messages" not in u for u in updates), [sorted(u) for u in updates]
    assert old_answer not in json.dumps(updates)
    end = updates[-1]
    assert end["live_id"] == -1
    assert [m["content"] for m in end["recent"]] == ["new question", "A fresh answer."]
    # The second exchange: the first one's finished reply rides along in the short list
    # only; the loaded history still does not travel.
    start = len(tab.wire.updates)
    await tab.run(ChatState.set_draft("and again"), ChatState.send)
    updates = sent_since(tab, start)
    assert all("messages" not in u for u in updates)
    assert old_answer not in json.dumps(updates)
    chat = await tab.chat()
    assert [m.content for m in shown(chat)] == [
        "second old question",
        old_answer,
        "new question",
        "A fresh answer.",
        "and again",
        "Another fresh answer.",
    ]
    # The state's own delta agrees: after the reply, nothing is left to send.
    assert chat.get_delta() == {}


async def test_regenerate_adds_a_version_and_the_switcher_browses_them(
    tab: Tab, backend: Backend
) -> None:
    backend.script(reply("First version."), reply("Second version."))
    await tab.visit("/")
    await tab.run(ChatState.set_draft("question"), ChatState.send)
    first = shown(await tab.chat())[-1]
    start = len(tab.wire.updates)
    await tab.run(ChatState.regenerate(first.id))

    updates = sent_since(tab, start)
    assert all("messages" not in u for u in updates)
    chat = await tab.chat()
    question, second = shown(chat)
    assert (question.content, second.content) == ("question", "Second version.")
    assert (second.version, second.versions, second.previous_version) == (2, 2, first.id)
    # The model was asked the question alone, not shown the version it replaces.
    assert [m.content for m in backend.provider.requests[-1].messages] == ["question"]

    await tab.run(ChatState.switch_version(first.id))
    chat = await tab.chat()
    assert [m.content for m in shown(chat)] == ["question", "First version."]
    again = shown(chat)[-1]
    assert (again.version, again.versions, again.next_version) == (1, 2, second.id)
    assert chat.recent == []  # the switch reloaded the branch into ``messages``
    await tab.run(ChatState.switch_version(second.id))
    assert [m.content for m in shown(await tab.chat())] == ["question", "Second version."]


async def test_opening_a_search_hit_shows_the_branch_it_is_on(tab: Tab, backend: Backend) -> None:
    backend.script(reply("First version."), reply("Second version."))
    await tab.visit("/")
    await tab.run(ChatState.set_draft("question"), ChatState.send)
    chat = await tab.chat()
    conversation_id, first = chat.current_id, shown(chat)[-1]
    await tab.run(ChatState.regenerate(first.id))
    assert [m.content for m in shown(await tab.chat())] == ["question", "Second version."]

    # A hit in the older version: that branch goes on screen, in the same tab.
    await tab.visit(f"/c/{conversation_id}?m={first.id}")
    assert [m.content for m in shown(await tab.chat())] == ["question", "First version."]
    # A hit already on screen, or a message id of nothing, changes nothing.
    await tab.visit(f"/c/{conversation_id}?m={shown(await tab.chat())[0].id}")
    await tab.visit(f"/c/{conversation_id}?m=999999")
    chat = await tab.chat()
    assert [m.content for m in shown(chat)] == ["question", "First version."]
    assert chat.notice == ""


async def test_regenerating_a_loaded_reply_hides_it_rather_than_resending_history(
    tab: Tab, backend: Backend
) -> None:
    conversation_id = await _saved_conversation(backend, ("Q", "old answer"))
    await tab.visit(f"/c/{conversation_id}")
    old = (await tab.chat()).messages[-1]
    backend.script(reply("new answer"))
    start = len(tab.wire.updates)
    await tab.run(ChatState.regenerate(old.id))

    updates = sent_since(tab, start)
    assert all("messages" not in u for u in updates)
    assert updates[0]["hidden_from"] == 1
    chat = await tab.chat()
    assert [m.content for m in shown(chat)] == ["Q", "new answer"]
    assert [m.content for m in chat.messages] == ["Q", "old answer"]  # hidden, not sent again


async def test_edit_and_resend_branches_and_the_old_question_stays_reachable(
    tab: Tab, backend: Backend
) -> None:
    conversation_id = await _saved_conversation(backend, ("Q1", "A1"), ("Q2", "A2"))
    await tab.visit(f"/c/{conversation_id}")  # history_page_size is 2: Q2, A2
    q2 = (await tab.chat()).messages[0]
    await tab.run(ChatState.start_edit(q2.id, q2.content))
    chat = await tab.chat()
    assert (chat.editing_id, chat.edit_draft) == (q2.id, "Q2")
    backend.script(reply("A2 for the edit"))
    await tab.run(ChatState.set_edit_draft("Q2, edited"), ChatState.save_edit)

    chat = await tab.chat()
    assert (chat.editing_id, chat.notice) == (-1, "")
    assert [m.content for m in shown(chat)] == ["Q2, edited", "A2 for the edit"]
    edited = shown(chat)[0]
    assert (edited.version, edited.versions, edited.previous_version) == (2, 2, q2.id)
    assert [m.content for m in backend.provider.requests[-1].messages] == [
        "Q1",
        "A1",
        "Q2, edited",
    ]
    await tab.run(ChatState.switch_version(q2.id))
    assert [m.content for m in shown(await tab.chat())] == ["Q2", "A2"]
    # An empty edit is refused and the edit stays open.
    await tab.run(ChatState.start_edit(q2.id, "Q2"), ChatState.set_edit_draft(" "))
    await tab.run(ChatState.save_edit)
    chat = await tab.chat()
    assert (chat.notice, chat.editing_id) == ("Type a message first.", q2.id)
    await tab.run(ChatState.cancel_edit)
    assert (await tab.chat()).editing_id == -1


async def test_delete_asks_first_then_removes_the_message_and_its_replies(
    tab: Tab, backend: Backend
) -> None:
    conversation_id = await _saved_conversation(backend, ("Q1", "A1"), ("Q2", "A2"))
    await tab.visit(f"/c/{conversation_id}")
    q2 = (await tab.chat()).messages[0]
    await tab.run(ChatState.ask_delete(q2.id))
    assert (await tab.chat()).deleting_id == q2.id
    await tab.run(ChatState.cancel_delete)
    chat = await tab.chat()
    assert chat.deleting_id == -1 and [m.content for m in shown(chat)] == ["Q2", "A2"]

    await tab.run(ChatState.ask_delete(q2.id), ChatState.confirm_delete(q2.id))
    chat = await tab.chat()
    assert chat.deleting_id == -1
    assert [m.content for m in shown(chat)] == ["Q1", "A1"]
    page = await backend.service.history(conversation_id, limit=10)
    assert [m.content for m in page.messages] == ["Q1", "A1"]
    await tab.run(ChatState.confirm_delete(q2.id))  # already gone
    assert (await tab.chat()).notice.startswith("That message does not exist")


async def test_actions_wait_for_the_streaming_reply(tab: Tab, backend: Backend) -> None:
    backend.script(reply("ok"), reply("x" * 200, chunk_chars=2, delay=0.02))
    await tab.visit("/")
    await tab.run(ChatState.set_draft("first"), ChatState.send)
    answer = shown(await tab.chat())[-1]
    await tab.run(ChatState.set_draft("second"))
    sent = await tab.send(ChatState.send)
    started = await tab.wire.wait_for(lambda u: u.chat.get("live_id", -1) not in (-1, answer.id))
    await backend.live_chunks(started.chat["live_id"], at_least=1)
    await tab.run(ChatState.regenerate(answer.id))
    chat = await tab.chat()
    assert chat.notice == "Wait for the current reply to finish, or press Stop."
    await tab.run(ChatState.stop)
    async with asyncio.timeout(WAIT):
        await sent.wait_all()
    assert len(backend.provider.requests) == 2


async def test_the_header_shows_what_the_conversation_has_cost(tab: Tab, backend: Backend) -> None:
    conversation_id = await _saved_conversation(backend, ("Q", "A"))

    def log_call(cost: str, message_id: int | None = None) -> None:
        with session_scope(backend.service.engine) as session:
            crud.add_call_log(
                session=session,
                call=CallLog(
                    conversation_id=conversation_id,
                    message_id=message_id,
                    provider="anthropic",
                    model="claude-haiku-4-5",
                    status="ok",
                    output_tokens=3,
                    ttft_ms=10,
                    cost=Decimal(cost),
                ),
            )

    log_call("0.01")
    await tab.visit(f"/c/{conversation_id}")
    chat = await tab.chat()
    assert chat.spent == "$0.01 spent"
    assert chat.spent_label.startswith("Spent on this conversation so far: $0.01")
    backend.script(reply("More."))
    log_call("0.0023")  # as if a title had been written meanwhile
    start = len(tab.wire.updates)
    await tab.run(ChatState.set_draft("more?"), ChatState.send)
    end = sent_since(tab, start)[-1]
    assert end["spent"] == "$0.0123 spent"
    await tab.visit("/")
    assert (await tab.chat()).spent == ""
