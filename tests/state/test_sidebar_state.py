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
    sent_since,
    shown,
    sidebar_rows,
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


async def test_a_new_conversation_adds_one_sidebar_row_and_a_reply_moves_one_up(
    tab: Tab, backend: Backend
) -> None:
    """Whatever the number of saved conversations, a new chat's first reply sends its one
    row, and a reply in an older conversation sends the rows above it, not the list."""
    ids = [await saved_conversation(backend, (f"topic {i}", "ok")) for i in range(3)]
    await tab.visit("/")  # page_size is 2
    assert [c.id for c in sidebar_rows(await tab.sidebar())] == [ids[2], ids[1]]
    backend.script(reply("Fresh answer."), reply("Older answer."))
    start = len(tab.wire.updates)
    await tab.run(send("fresh question"))
    fresh = (await tab.chat()).current_id
    updates = sent_since(tab, start)
    assert all("conversations" not in u for u in updates), [sorted(u) for u in updates]
    assert [[c["id"] for c in u["sidebar_top"]] for u in updates if "sidebar_top" in u] == [[fresh]]
    assert [c.id for c in sidebar_rows(await tab.sidebar())] == [fresh, ids[2], ids[1]]

    await tab.visit(f"/c/{ids[1]}")
    start = len(tab.wire.updates)
    await tab.run(send("back to an older topic"))
    updates = sent_since(tab, start)
    assert all("conversations" not in u for u in updates), [sorted(u) for u in updates]
    sidebar = await tab.sidebar()
    assert [c.id for c in sidebar_rows(sidebar)] == [ids[1], fresh, ids[2]]
    assert sidebar.sidebar_hidden == [ids[1]]
    # A change the user makes to the list shows the list afresh.
    await tab.run(SidebarState.delete_conversation(ids[2]))
    sidebar = await tab.sidebar()
    assert (sidebar.sidebar_top, sidebar.sidebar_hidden) == ([], [])
    assert [c.id for c in sidebar.conversations] == [ids[1], fresh]


async def test_a_rename_retitles_the_open_conversation_and_a_delete_leaves_it(
    tab: Tab, backend: Backend
) -> None:
    """The sidebar sets the open conversation's title and reads its id as its own vars (the
    parent state's), without knowing the chat."""
    opened = await saved_conversation(backend, ("open question", "ok"))
    other = await saved_conversation(backend, ("other question", "ok"))
    await tab.visit(f"/c/{opened}")
    await tab.run(
        SidebarState.start_rename(opened, "open question"),
        SidebarState.set_rename_value("Renamed"),
        SidebarState.save_rename,
    )
    chat = await tab.chat()
    assert (chat.current_title, chat.notice) == ("Renamed", "")
    assert [c.title for c in (await tab.sidebar()).conversations] == ["other question", "Renamed"]
    # A blank title is refused, in the page's notice; the rename stays open.
    await tab.run(SidebarState.start_rename(opened, "Renamed"), SidebarState.set_rename_value(" "))
    await tab.run(SidebarState.save_rename)
    assert (await tab.chat()).notice
    assert (await tab.sidebar()).renaming_id == opened
    await tab.run(SidebarState.cancel_rename)

    # Deleting another conversation stays here; deleting the open one leaves it.
    await tab.run(SidebarState.delete_conversation(other))
    assert tab.wire.redirects() == []
    assert (await tab.sidebar()).undo_title == "other question"
    await tab.run(SidebarState.delete_conversation(opened))
    assert [r["path"] for r in tab.wire.redirects()] == ["/"]
    assert (await tab.sidebar()).conversations == []
    await tab.run(SidebarState.undo_delete)
    assert [c.id for c in (await tab.sidebar()).conversations] == [opened]
