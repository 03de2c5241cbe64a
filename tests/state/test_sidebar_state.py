"""SidebarState's handlers through Reflex's own event machinery (tests/state/harness.py):
paging, what a reply's end sends, and the two things it does to the open conversation (a
rename retitles it, a delete leaves it)."""

from __future__ import annotations

from state.sidebar import SidebarState
from tests.state.harness import (
    Backend,
    Tab,
    backend,
    reply,
    saved_conversation,
    send,
    shown,
    tab,
)

__all__ = ["backend", "tab"]  # fixtures


async def test_load_more_conversations_pages_the_sidebar(tab: Tab, backend: Backend) -> None:
    ids = [await saved_conversation(backend, (f"topic {i}", "ok")) for i in range(3)]
    await tab.visit("/")  # page_size is 2
    sidebar = await tab.sidebar()
    assert [c.id for c in sidebar.conversations] == [ids[2], ids[1]]
    assert sidebar.more_conversations

    await tab.run(SidebarState.load_more_conversations)
    sidebar = await tab.sidebar()
    assert [c.id for c in sidebar.conversations] == [ids[2], ids[1], ids[0]]
    assert not sidebar.more_conversations


async def test_a_reply_that_leaves_the_sidebar_unchanged_does_not_resend_it(
    tab: Tab, backend: Backend
) -> None:
    backend.script(reply("First answer."), reply("Second answer."))
    await tab.visit("/")
    await tab.run(send("first question"))
    chat = await tab.chat()
    assert [c.title for c in (await tab.sidebar()).conversations] == ["first question"]
    sent_before = len(tab.wire.updates)
    await tab.run(send("second question"))
    later = tab.wire.updates[sent_before:]
    assert later, "the second exchange sent no updates"
    assert all("conversations" not in u.chat and "pinned" not in u.chat for u in later), [
        sorted(u.chat) for u in later
    ]
    chat = await tab.chat()
    assert [m.content for m in shown(chat)][-1] == "Second answer."
