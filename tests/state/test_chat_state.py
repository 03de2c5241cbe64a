"""ChatState's handlers, and the composer's Send that starts a reply, through Reflex's own
event machinery (tests/state/harness.py): sending, streaming, Stop, errors, loading pages,
titles, and what each of them sends to the browser."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import pytest
from reflex.istate.manager.token import BaseStateToken
from reflex.state import State
from reflex_base.event import Event

from app import services
from app.db import crud
from app.db.models import CallLog
from app.db.session import session_scope
from app.errors import ProviderOverloaded
from app.services.conversations import ConversationService
from app.services.stream_hub import StreamEnd
from app.services.titles import TitleService
from state.chat import ChatState
from state.composer import ComposerState
from tests.state.harness import (
    WAIT,
    Backend,
    Tab,
    backend,
    reply,
    saved_conversation,
    send,
    sent_since,
    shown,
    sidebar_rows,
    tab,
)

__all__ = ["backend", "tab"]  # fixtures


async def test_send_with_an_empty_box_explains_and_creates_nothing(
    tab: Tab, backend: Backend
) -> None:
    await tab.visit("/")
    start = len(tab.wire.updates)
    await tab.run(send("   "))

    chat = await tab.chat()
    assert chat.notice == "Type a message first."
    assert (chat.current_id, shown(chat), chat.live_id) == ("", [], -1)
    assert tab.wire.scripts(start) == []  # the box is left alone, for the user to fix
    assert (await ConversationService(backend.service.engine).sidebar()).conversations == []
    assert tab.wire.redirects() == []
    assert backend.provider.requests == []


async def test_send_returns_a_redirect_to_the_new_conversation_then_the_stream(
    tab: Tab, backend: Backend
) -> None:
    """The handler's own return value (called through ``.fn``, no event machinery): the
    browser is first told which text went out, then the page moves, then the reply streams."""
    await tab.visit("/")
    async with tab.manager.modify_state(BaseStateToken(ident=tab.token, cls=State)) as root:
        chat = await root.get_state(ComposerState)
        returned = await ComposerState.send.fn(chat, {"message": "Hello\n"})
        conversation_id = chat.current_id
        assert conversation_id
        assert chat.live_id >= 0
        assert chat.live_conversation_id == conversation_id
        assert [(m.role, m.content) for m in shown(chat)] == [("user", "Hello")]
        chat.live_id = -1  # nothing will stream this reply; leave the session idle
        root._clean()

    events = Event.from_event_type(returned)
    assert [e.name for e in events] == [
        "_call_script",
        "_redirect",
        Event.from_event_type(ChatState.stream_reply)[0].name,
    ]
    # Exactly the submitted text, as a JSON string literal: the browser removes it from the
    # start of the box, and only if it is still there.
    assert events[0].payload["javascript_code"] == 'window.parleyComposer?.sent("Hello\\n")'
    assert events[1].payload["path"] == f"/c/{conversation_id}"
    assert events[1].payload["replace"] is True


async def test_send_starts_a_conversation_and_streams_the_reply(tab: Tab, backend: Backend) -> None:
    text = "Hello there, my friend! How are you?"
    backend.script(reply(text))
    await tab.visit("/")
    sent = await tab.send(send("  Hi!  "))
    # The first update from send: conversation created, user message shown, streaming on.
    first = await tab.wire.wait_for(lambda u: u.chat.get("live_id", -1) >= 0)
    conversation_id = first.chat["current_id"]
    assert conversation_id
    assert first.chat["live_conversation_id"] == conversation_id
    assert "draft" not in first.chat  # the text is the browser's, never state's
    assert tab.wire.scripts() == ['window.parleyComposer?.sent("  Hi!  ")']
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
    assert [c.id for c in (await tab.sidebar()).conversations] == [conversation_id]
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
    await tab.run(send("one"))
    # The redirect's on_load: already showing the conversation, so nothing is reloaded.
    await tab.visit(f"/c/{(await tab.chat()).current_id}")
    sent_before = len(tab.wire.updates)
    await tab.run(send("two"))

    frames = tab.wire.updates[sent_before:]
    # Reflex sends a handler's frontend events in a frame of their own, after its delta:
    # here only the one telling the box to let go of "two" (no redirect).
    assert [[e["name"] for e in u.events] for u in frames] == [[], ["_call_script"], []]
    updates = [u.chat for u in frames if not u.events]
    starts = [u for u in updates if u.get("live_id", -1) >= 0]
    ends = [u for u in updates if u.get("live_id") == -1]
    assert (len(starts), len(ends), len(updates)) == (1, 1, 2), [sorted(u) for u in updates]
    start, end = updates
    assert start is starts[0] and end is ends[0]
    # Neither update carries the reply's text: the browser has it from the live channel,
    # under the key it held before it sent (the start names it and gives the next one).
    assert text.strip() not in json.dumps(updates)
    assert start["live_key"] and start["next_key"] and start["live_key"] != start["next_key"]
    finished = end["recent"][-1]
    assert (finished["content"], finished["live_key"]) == ("", start["live_key"])
    assert finished["status"] == "complete" and finished["output_tokens"] > 0
    chat = await tab.chat()
    assert [m.content for m in shown(chat)] == ["one", "First answer.", "two", text]
    assert backend.service.hub.text(shown(chat)[-1].id) == text


async def test_stop_mid_stream_keeps_the_partial_reply_as_stopped(
    tab: Tab, backend: Backend
) -> None:
    text = "one two three four five six seven eight nine ten eleven twelve. " * 3
    backend.script(reply(text, chunk_chars=2, delay=0.02))  # about 2 s if never stopped
    await tab.visit("/")
    sent = await tab.send(send("count"))
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
    await tab.run(send("hello"))

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
    await tab.run(send("again?"))
    chat = await tab.chat()
    assert chat.notice == ""
    assert [m.content for m in shown(chat)][-2:] == ["again?", "Better now."]


async def test_a_second_send_while_streaming_is_refused_with_a_notice(
    tab: Tab, backend: Backend
) -> None:
    backend.script(reply("x" * 200, chunk_chars=2, delay=0.02))  # about 2 s unless stopped
    await tab.visit("/")
    sent = await tab.send(send("first"))
    started = await tab.wire.wait_for(lambda u: u.chat.get("live_id", -1) >= 0)
    await backend.live_chunks(started.chat["live_id"], at_least=1)
    refused_at = len(tab.wire.updates)
    await tab.run(send("second"))

    chat = await tab.chat()
    assert chat.notice == "Wait for the current reply to finish, or press Stop."
    assert tab.wire.scripts(refused_at) == []  # "second" stays in the box
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
    await tab.run(send("are you there?"))

    chat = await tab.chat()
    assert chat.notice == "", "the session is stuck streaming a reply nothing is streaming"
    assert [m.content for m in shown(chat)][-2:] == ["are you there?", "Back again."]


async def test_load_page_for_a_conversation_loads_its_history_and_title(
    tab: Tab, backend: Backend
) -> None:
    conversation_id = await saved_conversation(backend, ("What is 2+2?", "4."))
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
    assert [c.id for c in (await tab.sidebar()).conversations] == [conversation_id]
    assert not chat.streaming_here


async def test_load_page_for_an_unknown_conversation_sets_a_notice(
    tab: Tab, backend: Backend
) -> None:
    await tab.visit("/c/no-such-conversation")

    chat = await tab.chat()
    assert chat.notice == "That conversation does not exist. It may have been deleted."
    assert (chat.current_id, chat.current_title, shown(chat)) == ("", "", [])


async def test_load_page_for_the_root_resets_to_an_empty_chat(tab: Tab, backend: Backend) -> None:
    conversation_id = await saved_conversation(backend, ("Q", "A"))
    await tab.visit(f"/c/{conversation_id}")
    await tab.visit("/c/missing")  # leaves a notice behind
    await tab.visit(f"/c/{conversation_id}")
    await tab.visit("/")

    chat = await tab.chat()
    assert (chat.current_id, chat.current_title, shown(chat), chat.notice) == ("", "", [], "")
    assert not chat.more_history
    # The sidebar stays.
    assert [c.id for c in (await tab.sidebar()).conversations] == [conversation_id]


async def test_load_earlier_prepends_older_history_pages(tab: Tab, backend: Backend) -> None:
    conversation_id = await saved_conversation(backend, ("Q0", "A0"), ("Q1", "A1"), ("Q2", "A2"))
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


async def test_the_first_reply_is_followed_by_a_generated_title(tab: Tab, backend: Backend) -> None:
    services.configure(
        backend.service, titles=TitleService(backend.service.engine, backend.service.models)
    )
    backend.script(reply("Use slicing: s[::-1]."), reply('"Reversing strings."'))
    await tab.visit("/")
    await tab.run(send("How do I reverse a string?"))
    titled = await tab.wire.wait_for(lambda u: u.chat.get("current_title") == "Reversing strings")
    # The retitled row alone travels (shown above the loaded list), not the list again.
    assert "conversations" not in titled.chat
    assert [c["title"] for c in titled.chat["sidebar_top"]] == ["Reversing strings"]
    assert [c.title for c in sidebar_rows(await tab.sidebar())] == ["Reversing strings"]
    request = backend.provider.requests[-1]
    assert request.metadata["feature"] == "title"
    # The second exchange keeps the title and asks for none.
    backend.script(reply("Or reversed()."))
    await tab.run(send("Any other way?"))
    chat = await tab.chat()
    assert chat.current_title == "Reversing strings"
    assert len(backend.provider.requests) == 3


async def test_new_chat_starts_a_new_conversation_even_before_the_page_reloads(
    tab: Tab, backend: Backend
) -> None:
    backend.script(reply("First answer."), reply("Fresh answer."))
    await tab.visit("/")
    await tab.run(send("first question"))
    first = (await tab.chat()).current_id
    # New chat, then a message at once: before the new page's on_load has run.
    await tab.run(ChatState.new_chat, send("a new topic"))
    chat = await tab.chat()
    assert chat.current_id and chat.current_id != first
    assert [m.content for m in shown(chat)] == ["a new topic", "Fresh answer."]


async def test_new_chat_changes_nothing_on_screen_before_the_address_changes(
    tab: Tab, backend: Backend
) -> None:
    """The Back race: New chat used to empty the log in one update and redirect in the next,
    so a browser Back in between left the app from a page showing nothing. Now New chat only
    redirects; the log empties in ``/``'s on_load, once the address is ``/``."""
    conversation_id = await saved_conversation(backend, ("Q", "A"))
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
    conversation_id = await saved_conversation(backend, ("Q", "A"))
    backend.script(reply("Still here."))
    await tab.visit(f"/c/{conversation_id}")
    # New chat, changed mind: the same conversation's link, and a message, before any on_load.
    await tab.run(ChatState.new_chat, ChatState.open_conversation(conversation_id), send("more"))
    chat = await tab.chat()
    assert chat.current_id == conversation_id
    history = await backend.service.history(conversation_id, limit=10)
    assert [m.content for m in history.messages] == ["Q", "A", "more", "Still here."]


async def test_a_path_that_is_no_page_says_so_and_shows_a_new_chat(
    tab: Tab, backend: Backend
) -> None:
    """One route serves ``/`` and ``/c/<id>`` (so moving between them never remounts the
    page); it matches any path of up to two segments, and load_page turns the rest away."""
    conversation_id = await saved_conversation(backend, ("Q", "A"))
    await tab.visit(f"/c/{conversation_id}")
    for path in ("/nowhere", f"/x/{conversation_id}", "/c"):
        await tab.visit(path)
        chat = await tab.chat()
        assert chat.notice == f"There is no page at {path}."
        assert (chat.current_id, shown(chat)) == ("", [])


async def test_a_message_sent_right_after_opening_a_conversation_goes_to_it(
    tab: Tab, backend: Backend
) -> None:
    older = await saved_conversation(backend, ("older question", "older answer"))
    backend.script(reply("Newer answer."), reply("Follow-up answer."))
    await tab.visit("/")
    await tab.run(send("newer question"))
    newer = (await tab.chat()).current_id
    # The link's click, then a message at once: before the page's on_load has run.
    await tab.run(
        ChatState.open_conversation(older),
        send("follow-up"),
    )
    chat = await tab.chat()
    assert chat.current_id == older != newer
    history = await backend.service.history(older, limit=10)
    assert [m.content for m in history.messages][-2:] == ["follow-up", "Follow-up answer."]


async def test_a_reply_in_an_opened_conversation_never_resends_its_history(
    tab: Tab, backend: Backend
) -> None:
    """Issue 5's wire rule: the loaded history travels once, when the conversation opens.
    Sending and the reply's end append to the short ``recent`` list; ``messages`` stays out
    of every update, and no finished message's text travels again."""
    old_answer = "An old answer that must not travel again."
    conversation_id = await saved_conversation(
        backend, ("first old question", "first old answer"), ("second old question", old_answer)
    )
    await tab.visit(f"/c/{conversation_id}")
    assert [m.content for m in (await tab.chat()).messages] == ["second old question", old_answer]
    backend.script(reply("A fresh answer."), reply("Another fresh answer."))
    start = len(tab.wire.updates)
    await tab.run(send("new question"))

    updates = sent_since(tab, start)
    assert updates and all("messages" not in u for u in updates), [sorted(u) for u in updates]
    assert old_answer not in json.dumps(updates)
    end = updates[-1]
    assert end["live_id"] == -1
    assert [m["content"] for m in end["recent"]] == ["new question", ""]  # text: live channel
    assert end["recent"][-1]["live_key"]
    # The second exchange: the first one's finished reply rides along in the short list
    # only; the loaded history still does not travel.
    start = len(tab.wire.updates)
    await tab.run(send("and again"))
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


async def test_the_header_shows_what_the_conversation_has_cost(tab: Tab, backend: Backend) -> None:
    conversation_id = await saved_conversation(backend, ("Q", "A"))

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
    await tab.run(send("more?"))
    end = sent_since(tab, start)[-1]
    assert end["spent"] == "$0.0123 spent"
    await tab.visit("/")
    assert (await tab.chat()).spent == ""


async def test_a_reloaded_page_gets_the_texts_its_replies_were_shown_from(
    tab: Tab, backend: Backend
) -> None:
    """A finished reply reaches this tab without its text (the browser has it from the live
    channel); a reload loses the browser's copy, so the page's on_load reads them again."""
    backend.script(reply("Kept in the browser."))
    await tab.visit("/")
    await tab.run(send("question"))
    chat = await tab.chat()
    assert [(m.content, bool(m.live_key)) for m in chat.recent] == [("question", False), ("", True)]
    # The redirect's on_load may come after the reply's end: the page still has the text.
    start = len(tab.wire.updates)
    await tab.visit(f"/c/{chat.current_id}")
    assert all("messages" not in u for u in sent_since(tab, start))
    start = len(tab.wire.updates)
    await tab.reload()
    updates = sent_since(tab, start)
    assert [m["content"] for m in updates[-1]["messages"]] == ["question", "Kept in the browser."]
    chat = await tab.chat()
    assert chat.recent == [] and not any(m.live_key for m in chat.messages)


async def test_a_reply_with_code_ends_with_its_text_for_the_rich_renderer(
    tab: Tab, backend: Backend
) -> None:
    """The finished message renders code blocks (language, highlighting, Copy) and the live
    renderer does not, so such a reply's end carries its text, not the live key."""
    code = "Here:\n\n```python\nprint(1)\n```\n"
    backend.script(reply(code))
    await tab.visit("/")
    await tab.run(send("show code"))
    finished = (await tab.chat()).recent[-1]
    assert (finished.content, finished.live_key) == (code, "")
