"""Agent mode and extraction in the chat, through Reflex's own event machinery
(tests/state/harness.py) with the scripted provider: the switch, steps streaming and saved,
a reload, Stop mid-tool, extraction from a message and from a slash command, and a
validation failure that names the field."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractAsyncContextManager

import pytest
from pydantic import BaseModel

from app.agent import FunctionTool, Toolbox
from app.errors import NotFound
from app.llm.base import ToolCall
from app.llm.fake import ScriptedReply
from app.services.agent import AgentService
from app.services.agent_chat import StepView
from app.services.agent_wiring import configure_agents, get_agent_chat
from app.settings import Settings
from state.agent import AgentState
from state.chat import ChatState
from state.extract import ExtractState
from tests.state import harness
from tests.state.harness import WAIT, Backend, Tab, backend, send, shown, tab

__all__ = ["backend", "tab"]  # fixtures


class WaitArgs(BaseModel):
    seconds: float


class SlowTools(AgentService):
    """The real toolbox plus ``wait``, a tool that sleeps: something to stop mid-tool."""

    async def toolbox(
        self, owner_id: str | None, *, mcp_choice: frozenset[str] | None = None
    ) -> Toolbox:
        box = await super().toolbox(owner_id, mcp_choice=mcp_choice)

        async def wait(args: WaitArgs) -> str:
            await asyncio.sleep(args.seconds)
            return "waited"

        box.add(FunctionTool("wait", "Wait a while.", WaitArgs, wait))
        return box


@pytest.fixture(autouse=True)
def agents(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # The wire also records these states' vars (their names are their own: no clash).
    page = harness.CHAT_PAGE | {AgentState.get_full_name(), ExtractState.get_full_name()}
    monkeypatch.setattr(harness, "CHAT_PAGE", page)
    service = backend.service
    configure_agents(SlowTools(Settings(), service.engine, service.models))
    yield
    configure_agents(None)


def call(name: str, arguments: Mapping[str, object], call_id: str = "c1") -> ScriptedReply:
    return ScriptedReply(chunks=(), tool_calls=(ToolCall(call_id, name, json.dumps(arguments)),))


async def agent_on(tab: Tab) -> None:
    await tab.visit("/")
    await tab.run(AgentState.set_agent_mode(True))


async def test_an_agent_turn_streams_its_steps_and_keeps_them_after_a_reload(
    tab: Tab, backend: Backend
) -> None:
    backend.script(
        call("calculate", {"expression": "6*7"}),
        ScriptedReply.of("The answer is 42.", chunk_chars=5, delay=0.01),
    )
    await agent_on(tab)
    key = (await tab.chat()).next_key  # the key the page holds before it sends
    await tab.run(send("What is 6 times 7?"))

    running = await tab.wire.wait_for(
        lambda u: any(s["status"] == "running" for s in u.chat.get("live_steps", []))
    )
    assert running.chat["live_steps"][0]["tool"] == "calculate"
    finished = await tab.wire.wait_for(
        lambda u: any(s["status"] == "ok" for s in u.chat.get("live_steps", []))
    )
    (step,) = finished.chat["live_steps"]
    assert (step["tool"], step["result"], step["index"]) == ("calculate", "42", 1)
    assert json.loads(step["arguments"]) == {"expression": "6*7"}
    assert step["duration"].endswith(" s")

    chat = await tab.chat()
    reply = shown(chat)[-1]
    assert (reply.role, reply.content, reply.status) == (
        "assistant",
        "The answer is 42.",
        "complete",
    )
    # The answer came over the live channel under the page's key; the end sent no text.
    assert backend.service.hub.text(reply.id) == "The answer is 42."
    assert (chat.recent[-1].content, chat.recent[-1].live_key) == ("", key)
    assert "The answer is 42." not in json.dumps([u.chat for u in tab.wire.updates])
    agent = await tab.state(AgentState)
    assert agent.live_steps == []
    assert [(s.message_id, s.tool, s.result) for s in agent.steps] == [
        (reply.id, "calculate", "42")
    ]
    # The model saw the tool's result.
    assert backend.provider.requests[1].messages[-1].content == "42"
    assert backend.provider.requests[0].metadata["feature"] == "agent"

    # A reload (another tab, the same conversation) shows the steps and the switch.
    conversation_id = chat.current_id
    async with open_other(tab) as other:
        await other.visit(f"/c/{conversation_id}")
        again = await other.state(AgentState)
        assert again.agent_mode is True
        assert [(s.tool, s.result, s.status) for s in again.steps] == [("calculate", "42", "ok")]


def open_other(tab: Tab) -> AbstractAsyncContextManager[Tab]:
    """Another tab on the same backend: what a reload sees."""
    return harness.open_tab(harness.Wire(), tab.cookie)


async def test_without_agent_mode_a_send_is_a_plain_reply(tab: Tab, backend: Backend) -> None:
    backend.script(ScriptedReply.of("Plain."))
    await tab.visit("/")
    await tab.run(send("Hello"))
    assert backend.provider.requests[0].tools == ()
    assert (await tab.state(AgentState)).steps == []


async def test_stop_cancels_the_run_mid_tool(tab: Tab, backend: Backend) -> None:
    backend.script(call("wait", {"seconds": 30}))
    await agent_on(tab)
    sent = await tab.send(send("Wait for me"))
    await tab.wire.wait_for(
        lambda u: any(s["tool"] == "wait" for s in u.chat.get("live_steps", []))
    )
    started = time.monotonic()
    await tab.run(AgentState.stop)
    async with asyncio.timeout(WAIT):
        await sent.wait_all()
    assert time.monotonic() - started < 5  # not the tool's 30 s

    reply = shown(await tab.chat())[-1]
    assert (reply.role, reply.status) == ("assistant", "stopped")
    agent = await tab.state(AgentState)
    assert [(s.tool, s.status, s.error) for s in agent.steps] == [
        ("wait", "cancelled", "Cancelled.")
    ]


async def test_a_forged_second_start_runs_no_second_loop(tab: Tab, backend: Backend) -> None:
    """The browser can call any public State method: ``stream_agent`` (or the plain
    ``stream_reply``) again for a reply the agent is answering, or has answered, must not
    start another loop (it would run the tools and spend again)."""
    backend.script(call("wait", {"seconds": 1}), ScriptedReply.of("Waited."))
    await agent_on(tab)
    sent = await tab.send(send("Wait for me"))
    await tab.wire.wait_for(
        lambda u: any(s["tool"] == "wait" for s in u.chat.get("live_steps", []))
    )
    reply_id = (await tab.chat()).live_id
    await tab.run(AgentState.stream_agent)  # forged, mid-run
    await tab.run(ChatState.stream_reply)
    with pytest.raises(NotFound):  # the service too: one run per reply
        await get_agent_chat().run(reply_id, ignore_step)
    async with asyncio.timeout(WAIT):
        await sent.wait_all()

    reply = shown(await tab.chat())[-1]
    assert (reply.id, reply.content, reply.status) == (reply_id, "Waited.", "complete")
    assert len(backend.provider.requests) == 2  # the tool call, then the answer
    agent = await tab.state(AgentState)
    assert [(s.tool, s.status) for s in agent.steps] == [("wait", "ok")]

    # Finished: forged again, nothing runs; the service refuses a reply no longer streaming.
    await tab.run(AgentState.stream_agent)
    with pytest.raises(NotFound):
        await get_agent_chat().run(reply_id, ignore_step)
    assert len(backend.provider.requests) == 2
    assert [(s.tool, s.status) for s in await get_agent_chat().steps([reply_id])] == [
        ("wait", "ok")
    ]
    assert shown(await tab.chat())[-1].content == "Waited."


async def ignore_step(step: StepView) -> None:
    del step


CONTACTS = {
    "contacts": [
        {
            "name": "Ada Lovelace",
            "email": "ada@example.org",
            "phone": "+44 20 7946 0000",
            "company": "Analytical Engines",
            "addresses": [{"street": "12 St James's Sq", "city": "London", "type": "work"}],
        }
    ]
}


async def test_a_slash_command_extracts_contacts_into_a_table(tab: Tab, backend: Backend) -> None:
    backend.script(call("contacts", CONTACTS))
    await tab.visit("/")
    await tab.run(send("/contacts Ada Lovelace, ada@example.org, Analytical Engines"))

    chat = await tab.chat()
    (message,) = shown(chat)
    assert message.role == "user" and message.content.startswith("/contacts ")
    assert backend.provider.requests[0].metadata["feature"] == "extract"
    assert backend.provider.requests[0].messages[-1].content.startswith("Ada Lovelace")
    (view,) = (await tab.state(ExtractState)).extractions
    assert (view.message_id, view.kind, view.error) == (message.id, "table", "")
    assert view.columns[:4] == ("Name", "Email", "Phone", "Company")
    assert view.rows[0][0] == "Ada Lovelace"
    assert "London" in view.rows[0][4] and "work" in view.rows[0][4]
    assert json.loads(view.json_text) == CONTACTS | {
        "contacts": [
            CONTACTS["contacts"][0]  # type: ignore[index]
            | {"addresses": [{"street": "12 St James's Sq", "city": "London", "state": None,
                              "zip": None, "type": "work"}]}
        ]
    }  # fmt: skip
    assert view.csv_text.splitlines()[0] == "name,email,phone,company,addresses"

    async with open_other(tab) as other:  # kept: a reload shows it
        await other.visit(f"/c/{chat.current_id}")
        assert [v.id for v in (await other.state(ExtractState)).extractions] == [view.id]


async def test_sentiment_from_a_message_action_is_a_card(tab: Tab, backend: Backend) -> None:
    backend.script(
        ScriptedReply.of("I love it"),
        call("sentiment", {"sentiment": "positive", "confidence": 0.9, "reasoning": "Love."}),
    )
    await tab.visit("/")
    await tab.run(send("I love this product"))
    question = shown(await tab.chat())[0]
    await tab.run(ExtractState.extract(question.id, "sentiment"))
    (view,) = (await tab.state(ExtractState)).extractions
    assert view.kind == "card"
    assert [(p.label, p.value) for p in view.pairs] == [
        ("Sentiment", "positive"),
        ("Confidence", "0.9"),
        ("Reasoning", "Love."),
    ]
    assert backend.provider.requests[-1].messages[-1].content == "I love this product"


async def test_a_validation_failure_is_shown_naming_the_field(tab: Tab, backend: Backend) -> None:
    bad = call("sentiment", {"sentiment": "positive", "confidence": 7, "reasoning": "Sure."})
    backend.script(bad, bad, bad)  # the first try and both retries
    await tab.visit("/")
    await tab.run(send("/sentiment Great stuff"))
    (view,) = (await tab.state(ExtractState)).extractions
    assert view.kind == "error"
    assert "confidence" in view.error
    assert len(backend.provider.requests) == 3
