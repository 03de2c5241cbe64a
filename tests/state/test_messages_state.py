"""MessagesState's handlers (Retry, Regenerate, Edit and resend, Delete, the version
switcher) through Reflex's own event machinery (tests/state/harness.py), with what each
sends: a replaced message is hidden, the loaded history never travels again."""

from __future__ import annotations

import asyncio

from state.chat import ChatState
from state.messages import MessagesState
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
    tab,
)

__all__ = ["backend", "tab"]  # fixtures


async def test_regenerate_adds_a_version_and_the_switcher_browses_them(
    tab: Tab, backend: Backend
) -> None:
    backend.script(reply("First version."), reply("Second version."))
    await tab.visit("/")
    await tab.run(send("question"))
    first = shown(await tab.actions())[-1]
    start = len(tab.wire.updates)
    await tab.run(MessagesState.regenerate(first.id))

    updates = sent_since(tab, start)
    assert all("messages" not in u for u in updates)
    chat = await tab.actions()
    question, second = shown(chat)
    assert (question.content, second.content) == ("question", "Second version.")
    assert (second.version, second.versions, second.previous_version) == (2, 2, first.id)
    # The model was asked the question alone, not shown the version it replaces.
    assert [m.content for m in backend.provider.requests[-1].messages] == ["question"]

    await tab.run(MessagesState.switch_version(first.id))
    chat = await tab.actions()
    assert [m.content for m in shown(chat)] == ["question", "First version."]
    again = shown(chat)[-1]
    assert (again.version, again.versions, again.next_version) == (1, 2, second.id)
    assert chat.recent == []  # the switch reloaded the branch into ``messages``
    await tab.run(MessagesState.switch_version(second.id))
    assert [m.content for m in shown(await tab.actions())] == ["question", "Second version."]


async def test_opening_a_search_hit_shows_the_branch_it_is_on(tab: Tab, backend: Backend) -> None:
    backend.script(reply("First version."), reply("Second version."))
    await tab.visit("/")
    await tab.run(send("question"))
    chat = await tab.actions()
    conversation_id, first = chat.current_id, shown(chat)[-1]
    await tab.run(MessagesState.regenerate(first.id))
    assert [m.content for m in shown(await tab.actions())] == ["question", "Second version."]

    # A hit in the older version: that branch goes on screen, in the same tab.
    await tab.visit(f"/c/{conversation_id}?m={first.id}")
    assert [m.content for m in shown(await tab.actions())] == ["question", "First version."]
    # A hit already on screen, or a message id of nothing, changes nothing.
    await tab.visit(f"/c/{conversation_id}?m={shown(await tab.actions())[0].id}")
    await tab.visit(f"/c/{conversation_id}?m=999999")
    chat = await tab.actions()
    assert [m.content for m in shown(chat)] == ["question", "First version."]
    assert chat.notice == ""


async def test_regenerating_a_loaded_reply_hides_it_rather_than_resending_history(
    tab: Tab, backend: Backend
) -> None:
    conversation_id = await saved_conversation(backend, ("Q", "old answer"))
    await tab.visit(f"/c/{conversation_id}")
    old = (await tab.actions()).messages[-1]
    backend.script(reply("new answer"))
    start = len(tab.wire.updates)
    await tab.run(MessagesState.regenerate(old.id))

    updates = sent_since(tab, start)
    assert all("messages" not in u for u in updates)
    assert updates[0]["hidden_from"] == 1
    chat = await tab.actions()
    assert [m.content for m in shown(chat)] == ["Q", "new answer"]
    assert [m.content for m in chat.messages] == ["Q", "old answer"]  # hidden, not sent again


async def test_edit_and_resend_branches_and_the_old_question_stays_reachable(
    tab: Tab, backend: Backend
) -> None:
    conversation_id = await saved_conversation(backend, ("Q1", "A1"), ("Q2", "A2"))
    await tab.visit(f"/c/{conversation_id}")  # history_page_size is 2: Q2, A2
    q2 = (await tab.actions()).messages[0]
    await tab.run(MessagesState.start_edit(q2.id, q2.content))
    chat = await tab.actions()
    assert (chat.editing_id, chat.edit_draft) == (q2.id, "Q2")
    backend.script(reply("A2 for the edit"))
    await tab.run(MessagesState.set_edit_draft("Q2, edited"), MessagesState.save_edit)

    chat = await tab.actions()
    assert (chat.editing_id, chat.notice) == (-1, "")
    assert [m.content for m in shown(chat)] == ["Q2, edited", "A2 for the edit"]
    edited = shown(chat)[0]
    assert (edited.version, edited.versions, edited.previous_version) == (2, 2, q2.id)
    assert [m.content for m in backend.provider.requests[-1].messages] == [
        "Q1",
        "A1",
        "Q2, edited",
    ]
    await tab.run(MessagesState.switch_version(q2.id))
    assert [m.content for m in shown(await tab.actions())] == ["Q2", "A2"]
    # An empty edit is refused and the edit stays open.
    await tab.run(MessagesState.start_edit(q2.id, "Q2"), MessagesState.set_edit_draft(" "))
    await tab.run(MessagesState.save_edit)
    chat = await tab.actions()
    assert (chat.notice, chat.editing_id) == ("Type a message first.", q2.id)
    await tab.run(MessagesState.cancel_edit)
    assert (await tab.actions()).editing_id == -1


async def test_delete_asks_first_then_removes_the_message_and_its_replies(
    tab: Tab, backend: Backend
) -> None:
    conversation_id = await saved_conversation(backend, ("Q1", "A1"), ("Q2", "A2"))
    await tab.visit(f"/c/{conversation_id}")
    q2 = (await tab.actions()).messages[0]
    await tab.run(MessagesState.ask_delete(q2.id))
    assert (await tab.actions()).deleting_id == q2.id
    await tab.run(MessagesState.cancel_delete)
    chat = await tab.actions()
    assert chat.deleting_id == -1 and [m.content for m in shown(chat)] == ["Q2", "A2"]

    await tab.run(MessagesState.ask_delete(q2.id), MessagesState.confirm_delete(q2.id))
    chat = await tab.actions()
    assert chat.deleting_id == -1
    assert [m.content for m in shown(chat)] == ["Q1", "A1"]
    page = await backend.service.history(conversation_id, limit=10)
    assert [m.content for m in page.messages] == ["Q1", "A1"]
    await tab.run(MessagesState.confirm_delete(q2.id))  # already gone
    assert (await tab.actions()).notice.startswith("That message does not exist")


async def test_actions_wait_for_the_streaming_reply(tab: Tab, backend: Backend) -> None:
    backend.script(reply("ok"), reply("x" * 200, chunk_chars=2, delay=0.02))
    await tab.visit("/")
    await tab.run(send("first"))
    answer = shown(await tab.actions())[-1]
    sent = await tab.send(send("second"))
    started = await tab.wire.wait_for(lambda u: u.chat.get("live_id", -1) not in (-1, answer.id))
    await backend.live_chunks(started.chat["live_id"], at_least=1)
    await tab.run(MessagesState.regenerate(answer.id))
    chat = await tab.actions()
    assert chat.notice == "Wait for the current reply to finish, or press Stop."
    await tab.run(ChatState.stop)
    async with asyncio.timeout(WAIT):
        await sent.wait_all()
    assert len(backend.provider.requests) == 2
