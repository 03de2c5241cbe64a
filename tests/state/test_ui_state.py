"""UiState's handlers (the command palette's conversations, the phone drawer), driven through
Reflex's own event processor with a real conversation service on SQLite and PostgreSQL.

The harness (``backend``, ``tab``) is the chat state's: see tests/state/test_chat_state.py.
"""

from __future__ import annotations

import json

from reflex.istate.manager.token import BaseStateToken
from reflex.state import State
from reflex_base.constants.state import FIELD_MARKER
from reflex_base.utils.format import json_dumps

from app import services
from state.ui import PALETTE_RECENT, UiState
from tests.state import harness
from tests.state.harness import Backend, Tab, reply, send

# The chat state's harness: a real chat service, and a tab on Reflex's event processor.
backend = harness.backend
tab = harness.tab

UI = UiState.get_full_name()


async def ui(tab: Tab) -> UiState:
    async with tab.manager.modify_state(BaseStateToken(ident=tab.token, cls=State)) as root:
        return await root.get_state(UiState)


async def chat_about(tab: Tab, backend: Backend, text: str) -> str:
    """A conversation with one answered message; returns its id."""
    backend.script(reply(f"Answer to {text}"))
    await tab.visit("/")
    await tab.run(send(text))
    return (await tab.chat()).current_id


async def test_blank_query_offers_the_latest_conversations(tab: Tab, backend: Backend) -> None:
    first = await chat_about(tab, backend, "first topic")
    second = await chat_about(tab, backend, "second topic")
    await tab.run(UiState.search_palette(""))
    state = await ui(tab)
    assert [c["id"] for c in state.palette_conversations] == [second, first]
    assert all(c["title"] for c in state.palette_conversations)
    # What the browser gets is plain JSON.
    json.loads(json_dumps(state.palette_conversations))


async def test_blank_query_shows_pinned_first_and_at_most_a_few(tab: Tab, backend: Backend) -> None:
    ids = [await chat_about(tab, backend, f"topic {i}") for i in range(PALETTE_RECENT + 2)]
    await services.get_conversation_service().set_pinned(ids[0], True)
    await tab.run(UiState.search_palette("   "))
    shown = [c["id"] for c in (await ui(tab)).palette_conversations]
    assert len(shown) == PALETTE_RECENT
    assert shown[0] == ids[0]  # pinned, though oldest
    assert shown[1:] == list(reversed(ids))[: PALETTE_RECENT - 1]


async def test_query_searches_titles_and_messages(tab: Tab, backend: Backend) -> None:
    walrus = await chat_about(tab, backend, "tell me about the walrus")
    await chat_about(tab, backend, "something else entirely")
    await tab.run(UiState.search_palette("walrus"))
    state = await ui(tab)
    assert state.palette_query == "walrus"
    assert [c["id"] for c in state.palette_conversations] == [walrus]
    await tab.run(UiState.search_palette("nothingmatchesthis"))
    assert (await ui(tab)).palette_conversations == []


async def test_unchanged_results_are_not_resent(tab: Tab, backend: Backend) -> None:
    """Reflex resends a list whole when it is assigned: the same hits again send nothing."""
    await chat_about(tab, backend, "a steady topic")
    await tab.run(UiState.search_palette("steady"))
    async with tab.manager.modify_state(BaseStateToken(ident=tab.token, cls=State)) as root:
        state = await root.get_state(UiState)
        root._clean()
        await UiState.search_palette.fn(state, "steady")
        assert f"palette_conversations{FIELD_MARKER}" not in root.get_delta().get(UI, {})
        await UiState.search_palette.fn(state, "topic")  # the same one, by another word
        assert f"palette_conversations{FIELD_MARKER}" not in root.get_delta().get(UI, {})
        await UiState.search_palette.fn(state, "")
        await UiState.search_palette.fn(state, "nothingmatchesthis")
        assert root.get_delta()[UI][f"palette_conversations{FIELD_MARKER}"] == []
        root._clean()


async def test_drawer_opens_and_closes(tab: Tab, backend: Backend) -> None:
    await tab.visit("/")
    await tab.run(UiState.set_drawer_open(True))
    assert (await ui(tab)).drawer_open is True
    await tab.run(UiState.close_drawer)
    assert (await ui(tab)).drawer_open is False
