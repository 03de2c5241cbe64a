"""CodePanelState through Reflex's own event processor, with what each update carries.

The harness is tests/state/test_chat_state.py's (a real ``BaseStateEventProcessor`` over a
``StateManagerMemory``, a real ChatService on SQLite and PostgreSQL, a scripted provider),
with a socket stand-in that also keeps the panel's part of every update, so the tests can
assert what the panel costs on the wire: nothing while closed or while a reply streams, and
its list, without code, in the update that ends a reply.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
from reflex.istate.manager.token import BaseStateToken
from reflex.state import State, StateUpdate
from reflex_base.constants.state import FIELD_MARKER
from reflex_base.utils.format import json_dumps

from state.chat import ChatState
from state.code_panel import DEFAULT_WIDTH, MAX_WIDTH, MIN_WIDTH, CodePanelState
from tests.state import harness
from tests.state.harness import (
    WAIT,
    Backend,
    Tab,
    Wire,
    open_tab,
    reply,
    saved_conversation,
    send,
)

PANEL = CodePanelState.get_full_name()
backend = harness.backend  # the same fixture: a real ChatService with a scripted provider

PY = 'def greet(name: str) -> str:\n    return f"Hello, {name}!"'
SH = "pip install parley"
CODE_REPLY = f"Save this as `greet.py`:\n\n```python\n{PY}\n```\n\nThen:\n\n```bash\n{SH}\n```\n"


class PanelWire(Wire):
    """Also keeps the code panel's part of each update (``{}`` when it had none)."""

    def __init__(self) -> None:
        super().__init__()
        self.panel: list[dict[str, Any]] = []

    async def emit_update(self, update: StateUpdate, token: str) -> None:
        delta = json.loads(json_dumps(update.delta))
        self.panel.append(
            {k.removesuffix(FIELD_MARKER): v for k, v in delta.get(PANEL, {}).items()}
        )
        await super().emit_update(update, token)

    def panel_updates(self, since: int = 0) -> list[dict[str, Any]]:
        return [p for p in self.panel[since:] if p]


@pytest.fixture
async def tab(backend: Backend) -> AsyncIterator[Tab]:
    async with open_tab(PanelWire(), backend.cookie) as session:
        yield session


def wire(tab: Tab) -> PanelWire:
    return cast(PanelWire, tab.wire)


async def panel_of(tab: Tab) -> CodePanelState:
    async with tab.manager.modify_state(BaseStateToken(ident=tab.token, cls=State)) as root:
        return await root.get_state(CodePanelState)


async def chat_with_code(tab: Tab, backend: Backend, text: str = CODE_REPLY) -> str:
    """Send a message whose reply is ``text`` from a new chat; returns the conversation id."""
    backend.script(reply(text, chunk_chars=16, delay=0.001))
    await tab.visit("/")
    await tab.run(send("show me code"))
    conversation_id = (await tab.chat()).current_id
    await tab.visit(f"/c/{conversation_id}")  # the redirect's on_load
    return conversation_id


async def test_a_closed_panel_sends_nothing(tab: Tab, backend: Backend) -> None:
    conversation_id = await chat_with_code(tab, backend)
    await tab.visit("/")
    await tab.visit(f"/c/{conversation_id}")
    backend.script(reply(CODE_REPLY))
    await tab.run(send("more"))

    assert len(wire(tab).updates) > 5
    assert wire(tab).panel_updates() == []
    assert (await panel_of(tab)).blocks == []


async def test_opening_lists_the_blocks_without_their_code(tab: Tab, backend: Backend) -> None:
    await chat_with_code(tab, backend)
    since = len(wire(tab).panel)
    await tab.run(CodePanelState.toggle)

    (update,) = wire(tab).panel_updates(since)
    assert update["open_flag"] == "1"
    assert update["is_open"] is True
    assert [
        (b["key"].split("-")[1], b["language"], b["file_name"], b["summary"], b["origin"])
        for b in update["blocks"]
    ] == [
        ("0", "python", "greet.py", "def greet(name: str) -> str:", "Reply 1"),
        ("1", "bash", "snippet.sh", SH, "Reply 1"),
    ]
    assert [b["lines"] for b in update["blocks"]] == [2, 1]
    assert "return f" not in json.dumps(update)  # the code itself stays behind

    # Closing sends the flag alone; the list is kept for the next opening.
    since = len(wire(tab).panel)
    await tab.run(CodePanelState.toggle)
    assert wire(tab).panel_updates(since) == [{"open_flag": "0", "is_open": False}]


async def test_a_finished_reply_brings_its_blocks_in_the_update_that_ends_it(
    tab: Tab, backend: Backend
) -> None:
    await chat_with_code(tab, backend)
    await tab.run(CodePanelState.toggle)
    more = "And a test:\n\n```python\n# tests/test_greet.py\nassert greet('x') == 'Hello, x!'\n```"
    backend.script(reply(more, chunk_chars=4, delay=0.002))
    since = len(wire(tab).updates)
    await tab.run(send("a test too"))

    # As ChatState's own test shows: one update when the reply starts, one when it ends (and
    # between them a frame with no state, telling the composer its text went out).
    frames = wire(tab).updates[since:]
    assert [bool(u.events) for u in frames] == [False, True, False]
    updates = [u for u in frames if not u.events]
    panel = [p for u, p in zip(frames, wire(tab).panel[since:], strict=True) if not u.events]
    assert updates[0].chat["live_id"] >= 0
    assert panel[0] == {}  # nothing of the panel while the reply streams
    assert updates[1].chat["live_id"] == -1
    assert [b["file_name"] for b in panel[1]["blocks"]] == [
        "greet.py",
        "snippet.sh",
        "test_greet.py",
    ]
    assert panel[1]["blocks"][2]["origin"] == "Reply 2"


async def test_the_list_is_sent_only_when_it_changed(tab: Tab, backend: Backend) -> None:
    conversation_id = await chat_with_code(tab, backend)
    await tab.run(CodePanelState.toggle)
    backend.script(reply("No code this time."))
    since = len(wire(tab).panel)
    await tab.run(send("thanks"))
    await tab.run(ChatState.load_earlier)  # page size 2: the first exchange comes back
    assert wire(tab).panel_updates(since) == []
    assert len((await panel_of(tab)).blocks) == 2
    assert (await tab.chat()).current_id == conversation_id


async def test_the_list_follows_the_conversation_shown(tab: Tab, backend: Backend) -> None:
    with_code = await chat_with_code(tab, backend)
    without = await saved_conversation(backend, ("plain", "Just words."))
    await tab.run(CodePanelState.toggle)
    assert len((await panel_of(tab)).blocks) == 2

    await tab.visit(f"/c/{without}")
    assert (await panel_of(tab)).blocks == []
    await tab.visit("/")
    assert (await panel_of(tab)).blocks == []
    await tab.visit(f"/c/{with_code}")
    assert [b.file_name for b in (await panel_of(tab)).blocks] == ["greet.py", "snippet.sh"]
    await tab.visit("/c/no-such-conversation")
    assert (await panel_of(tab)).blocks == []


async def test_earlier_history_adds_its_blocks(tab: Tab, backend: Backend) -> None:
    conversation_id = await saved_conversation(
        backend, ("q1", CODE_REPLY), ("q2", "no code"), ("q3", "none either")
    )
    await tab.run(CodePanelState.toggle)
    await tab.visit(f"/c/{conversation_id}")  # the last two messages only
    assert (await panel_of(tab)).blocks == []
    await tab.run(ChatState.load_earlier, ChatState.load_earlier)
    assert [b.file_name for b in (await panel_of(tab)).blocks] == ["greet.py", "snippet.sh"]


async def test_opening_a_block_sends_its_code_once(tab: Tab, backend: Backend) -> None:
    await chat_with_code(tab, backend)
    await tab.run(CodePanelState.toggle)
    key = (await panel_of(tab)).blocks[0].key
    since = len(wire(tab).panel)
    await tab.run(CodePanelState.open_block(key))

    (update,) = wire(tab).panel_updates(since)
    assert update == {
        "selected_key": key,
        "selected_code": PY,
        "selected_name": "greet.py",
        "selected_language": "python",
        "selected_highlight": "python",
        "selected_origin": "Reply 1",
    }
    # A reply finishing elsewhere in the list leaves the open block alone.
    backend.script(reply("```sh\nls\n```"))
    since = len(wire(tab).panel)
    await tab.run(send("list files"))
    assert [set(p) for p in wire(tab).panel_updates(since)] == [{"blocks"}]

    await tab.run(CodePanelState.close_block)
    panel = await panel_of(tab)
    assert (panel.selected_key, panel.selected_code) == ("", "")


async def test_an_open_block_closes_when_its_message_is_gone(tab: Tab, backend: Backend) -> None:
    await chat_with_code(tab, backend)
    await tab.run(CodePanelState.toggle)
    await tab.run(CodePanelState.open_block((await panel_of(tab)).blocks[1].key))
    assert (await panel_of(tab)).selected_code == SH
    await tab.visit("/")
    panel = await panel_of(tab)
    assert (panel.blocks, panel.selected_key, panel.selected_code) == ([], "", "")
    # A key that matches nothing shows the list.
    await tab.run(CodePanelState.open_block("123-4"))
    assert (await panel_of(tab)).selected_key == ""


async def test_resize_keeps_the_width_within_bounds(tab: Tab, backend: Backend) -> None:
    await tab.visit("/")
    assert (await panel_of(tab)).width == DEFAULT_WIDTH
    await tab.run(CodePanelState.resize(512))
    panel = await panel_of(tab)
    assert (panel.width_setting, panel.width) == ("512", 512)
    await tab.run(CodePanelState.resize(10))
    assert (await panel_of(tab)).width == MIN_WIDTH
    await tab.run(CodePanelState.resize(10_000))
    assert (await panel_of(tab)).width == MAX_WIDTH
    since = len(wire(tab).panel)
    await tab.run(CodePanelState.resize(10_000.4))  # the same width: nothing to send
    assert wire(tab).panel_updates(since) == []
    # A width the browser stored by hand, unreadable: the default.
    async with tab.manager.modify_state(BaseStateToken(ident=tab.token, cls=State)) as root:
        (await root.get_state(CodePanelState)).width_setting = "wide"
    assert (await panel_of(tab)).width == DEFAULT_WIDTH


async def test_close_closes_and_an_open_panel_stays_open_across_reloads(
    tab: Tab, backend: Backend
) -> None:
    await chat_with_code(tab, backend)
    await tab.run(CodePanelState.toggle, CodePanelState.close)
    assert (await panel_of(tab)).is_open is False
    await tab.run(CodePanelState.toggle)
    # A reload: the page's on_load runs again; the list is built for the open panel.
    conversation_id = (await tab.chat()).current_id
    async with tab.manager.modify_state(BaseStateToken(ident=tab.token, cls=State)) as root:
        chat = await root.get_state(ChatState)
        chat.messages = []
        chat.current_id = ""
        (await root.get_state(CodePanelState)).blocks = []
        root._clean()
    await tab.visit(f"/c/{conversation_id}")
    assert [b.file_name for b in (await panel_of(tab)).blocks] == ["greet.py", "snippet.sh"]


async def test_toggling_while_a_reply_streams_lists_only_finished_messages(
    tab: Tab, backend: Backend
) -> None:
    backend.script(reply(CODE_REPLY, chunk_chars=2, delay=0.01))
    await tab.visit("/")
    sent = await tab.send(send("```python\nprint('mine')\n```"))
    await wire(tab).wait_for(lambda u: u.chat.get("live_id", -1) >= 0)
    await tab.run(CodePanelState.toggle)
    panel = await panel_of(tab)
    assert [(b.origin, b.summary) for b in panel.blocks] == [("Your message 1", "print('mine')")]
    async with asyncio.timeout(WAIT):
        await sent.wait_all()
    assert [b.file_name for b in (await panel_of(tab)).blocks] == [
        "snippet.py",
        "greet.py",
        "snippet.sh",
    ]
