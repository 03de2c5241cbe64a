"""The agent loop driven by the scripted provider: tool calls through the real loop."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

import pytest
from pydantic import BaseModel

from app.agent import (
    AgentDone,
    AgentEvent,
    AgentLimits,
    AgentText,
    FunctionTool,
    StepFinished,
    StepStarted,
    Toolbox,
    ToolError,
    run_agent,
)
from app.llm.base import ChatMessage, ToolCall, Usage
from app.llm.fake import ScriptedProvider, ScriptedReply

QUESTION = (ChatMessage("user", "What is 6 times 7?"),)


class Pair(BaseModel):
    a: int
    b: int


async def multiply(args: Pair) -> str:
    return str(args.a * args.b)


async def broken(args: Pair) -> str:
    raise ToolError("the multiplier is out of order")


started_slow = asyncio.Event()


async def slow(args: Pair) -> str:
    started_slow.set()
    await asyncio.sleep(30)
    return "too late"


def toolbox() -> Toolbox:
    return Toolbox(
        [
            FunctionTool("multiply", "Multiply two integers.", Pair, multiply),
            FunctionTool("broken", "Always fails.", Pair, broken),
            FunctionTool("slow", "Takes its time.", Pair, slow),
        ]
    )


def call(name: str, arguments: object, id_: str = "call_1") -> ScriptedReply:
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return ScriptedReply(chunks=("Let me check. ",), tool_calls=(ToolCall(id_, name, text),))


async def run(
    provider: ScriptedProvider, *, limits: AgentLimits | None = None, native: bool = True
) -> list[AgentEvent]:
    return [
        event
        async for event in run_agent(
            provider,
            model="fake-model",
            messages=QUESTION,
            toolbox=toolbox(),
            limits=limits or AgentLimits(),
            native_tools=native,
            metadata={"conversation_id": "c1"},
        )
    ]


def finished(events: Sequence[AgentEvent]) -> list[StepFinished]:
    return [e for e in events if isinstance(e, StepFinished)]


async def test_a_tool_call_is_run_and_its_result_goes_back_to_the_model() -> None:
    provider = ScriptedProvider([call("multiply", {"a": 6, "b": 7}), ScriptedReply.of("It is 42.")])
    events = await run(provider)
    assert isinstance(events[-1], AgentDone)
    assert (events[-1].reason, events[-1].answer, events[-1].steps) == ("answered", "It is 42.", 1)
    started = [e for e in events if isinstance(e, StepStarted)]
    assert [(s.index, s.tool, json.loads(s.arguments)) for s in started] == [
        (1, "multiply", {"a": 6, "b": 7})
    ]
    (step,) = finished(events)
    assert (step.status, step.result, step.error) == ("ok", "42", None)
    assert step.duration_ms >= 0
    assert "".join(e.text for e in events if isinstance(e, AgentText)) == "Let me check. It is 42."
    # The second request carries the tools, the assistant's call and the tool's result.
    first, second = provider.requests
    assert [t.name for t in first.tools] == ["multiply", "broken", "slow"]
    assert first.tools[0].parameters["required"] == ["a", "b"]
    assert first.metadata == {"conversation_id": "c1", "feature": "agent"}
    assistant, result = second.messages[-2:]
    assert assistant.role == "assistant"
    assert assistant.tool_calls == (ToolCall("call_1", "multiply", '{"a": 6, "b": 7}'),)
    assert (result.role, result.content, result.tool_call_id) == ("tool", "42", "call_1")
    assert not result.is_error
    assert events[-1].as_dict()["type"] == "AgentDone"


async def test_a_tool_error_is_shown_to_the_model_which_goes_on() -> None:
    provider = ScriptedProvider([call("broken", {"a": 1, "b": 2}), ScriptedReply.of("Sorry.")])
    events = await run(provider)
    (step,) = finished(events)
    assert (step.status, step.error) == ("error", "the multiplier is out of order")
    assert provider.requests[1].messages[-1].is_error
    assert isinstance(events[-1], AgentDone) and events[-1].reason == "answered"


async def test_an_unknown_tool_is_an_error_result_naming_the_tools() -> None:
    provider = ScriptedProvider([call("rm_rf", {}), ScriptedReply.of("OK.")])
    (step,) = finished(await run(provider))
    assert step.status == "error"
    assert step.error == "Unknown tool 'rm_rf'. Available tools: broken, multiply, slow."


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('{"a": 1,', "The arguments are not valid JSON"),
        ("[1, 2]", "The arguments must be a JSON object."),
        (
            {"a": "six", "b": 7},
            "Invalid arguments for multiply: a: Input should be a valid integer",
        ),
        ({"a": 6}, "Invalid arguments for multiply: b: Field required"),
    ],
)
async def test_bad_arguments_are_reported_to_the_model(arguments: object, expected: str) -> None:
    provider = ScriptedProvider([call("multiply", arguments), ScriptedReply.of("Fixed.")])
    (step,) = finished(await run(provider))
    assert step.status == "error"
    assert step.error is not None and step.error.startswith(expected)
    assert provider.requests[1].messages[-1].content == step.error


async def test_the_iteration_limit_stops_a_model_that_never_answers() -> None:
    provider = ScriptedProvider(lambda request: call("multiply", {"a": 2, "b": 2}))
    events = await run(provider, limits=AgentLimits(max_iterations=3))
    assert len(provider.requests) == 3
    done = events[-1]
    assert isinstance(done, AgentDone)
    assert (done.reason, done.iterations, done.steps) == ("iterations", 3, 3)


async def test_the_token_limit_stops_the_run() -> None:
    def reply(request: object) -> ScriptedReply:
        return ScriptedReply(
            chunks=("x",),
            tool_calls=(ToolCall("c", "multiply", '{"a": 1, "b": 1}'),),
            usage=Usage(input_tokens=600, output_tokens=10),
        )

    events = await run(ScriptedProvider(reply), limits=AgentLimits(max_tokens=1000))
    done = events[-1]
    assert isinstance(done, AgentDone)
    assert (done.reason, done.input_tokens, done.output_tokens) == ("tokens", 1200, 20)


async def test_a_slow_tool_times_out_as_an_error_and_the_run_goes_on() -> None:
    provider = ScriptedProvider([call("slow", {"a": 1, "b": 1}), ScriptedReply.of("Gave up.")])
    events = await run(provider, limits=AgentLimits(tool_timeout=0.2))
    (step,) = finished(events)
    assert (step.status, step.error) == ("error", "The tool slow did not finish within 0.2 s.")
    assert 150 <= step.duration_ms < 5000


async def test_the_wall_time_limit_ends_the_run() -> None:
    provider = ScriptedProvider([ScriptedReply.of("slow words", first_delay=5)])
    loop = asyncio.get_running_loop()
    began = loop.time()
    events = await run(provider, limits=AgentLimits(max_seconds=0.3))
    assert loop.time() - began < 2
    assert isinstance(events[-1], AgentDone) and events[-1].reason == "time"


async def test_cancel_mid_tool_stops_the_tool_at_once() -> None:
    started_slow.clear()
    cancel = asyncio.Event()
    provider = ScriptedProvider([call("slow", {"a": 1, "b": 1}), ScriptedReply.of("never")])
    events: list[AgentEvent] = []

    async def consume() -> None:
        async for event in run_agent(
            provider, model="m", messages=QUESTION, toolbox=toolbox(), cancel=cancel
        ):
            events.append(event)

    task = asyncio.create_task(consume())
    await asyncio.wait_for(started_slow.wait(), 5)
    loop = asyncio.get_running_loop()
    began = loop.time()
    cancel.set()
    await asyncio.wait_for(task, 5)
    assert loop.time() - began < 0.5
    (step,) = finished(events)
    assert (step.status, step.error) == ("cancelled", "Cancelled.")
    done = events[-1]
    assert isinstance(done, AgentDone) and done.reason == "cancelled"
    assert len(provider.requests) == 1  # the model was not asked again


async def test_cancel_mid_stream_keeps_the_partial_text() -> None:
    cancel = asyncio.Event()
    provider = ScriptedProvider([ScriptedReply.of("one two three four", chunk_chars=4, delay=1)])
    events: list[AgentEvent] = []
    async for event in run_agent(
        provider, model="m", messages=QUESTION, toolbox=toolbox(), cancel=cancel
    ):
        events.append(event)
        if isinstance(event, AgentText):
            cancel.set()
    done = events[-1]
    assert isinstance(done, AgentDone)
    assert (done.reason, done.answer) == ("cancelled", "one ")


async def test_the_text_protocol_drives_models_without_native_tools() -> None:
    provider = ScriptedProvider(
        [
            ScriptedReply.of('TOOL_CALL {"name": "multiply", "arguments": {"a": 6, "b": 7}}'),
            ScriptedReply.of("The answer is 42."),
        ]
    )
    events = await run(provider, native=False)
    (step,) = finished(events)
    assert (step.tool, step.result) == ("multiply", "42")
    first, second = provider.requests
    assert first.tools == ()
    assert first.messages[0].role == "system" and "TOOL_CALL" in first.messages[0].content
    assert second.messages[-1] == ChatMessage("user", "The tool multiply returned:\n42")
    # The protocol line is not shown as text; the answer is.
    assert [e.text for e in events if isinstance(e, AgentText)] == ["The answer is 42."]
    assert isinstance(events[-1], AgentDone) and events[-1].answer == "The answer is 42."
