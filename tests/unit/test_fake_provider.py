"""The scripted provider behaves like a model where tests rely on it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel

from app.agent import AgentDone, FunctionTool, StepFinished, Toolbox, run_agent
from app.llm.base import ChatMessage, ChatRequest, Finish, TextDelta
from app.llm.fake import ScriptedProvider, ScriptedReply, load_rules, rule_provider


async def test_the_scripted_provider_stops_at_max_tokens() -> None:
    provider = ScriptedProvider([ScriptedReply.of("abcdefghij", chunk_chars=2)])
    request = ChatRequest(model="fake", messages=(), max_tokens=3)
    events = [e async for e in provider.stream(request)]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "abcdef"
    assert events[-1] == Finish("length")


RULES = [
    {
        "match": "^add up",
        "reply": "Let me add. ",
        "tool_calls": [{"name": "calculate", "arguments": {"expression": "6*7"}}],
    },
    {"match": "^add up", "after_tool": True, "reply": "It is 42."},
]


async def test_rules_play_a_tool_call_and_answer_after_its_result(tmp_path: Path) -> None:
    """A rule file drives the real agent loop: the calling rule once, then the answer."""
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(RULES), encoding="utf-8")
    provider = rule_provider(load_rules(path))
    calculate = FunctionTool("calculate", "Arithmetic.", Expression, _calculate)
    events = [
        e
        async for e in run_agent(
            provider,
            model="fake",
            messages=(ChatMessage("user", "add up six sevens"),),
            toolbox=Toolbox([calculate]),
        )
    ]
    (step,) = [e for e in events if isinstance(e, StepFinished)]
    assert (step.tool, json.loads(step.arguments), step.result) == (
        "calculate",
        {"expression": "6*7"},
        "42",
    )
    done = events[-1]
    assert isinstance(done, AgentDone)
    assert (done.reason, done.answer) == ("answered", "It is 42.")
    assert len(provider.requests) == 2
    assert provider.requests[1].messages[-1].role == "tool"


@pytest.mark.parametrize(
    ("tool_calls", "message"),
    [("calculate", "tool_calls must be a list"), ([{"arguments": {}}], "needs a name")],
)
def test_a_malformed_tool_call_rule_is_refused(
    tmp_path: Path, tool_calls: object, message: str
) -> None:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps([{"match": "x", "tool_calls": tool_calls}]), encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_rules(path)


class Expression(BaseModel):
    expression: str


async def _calculate(args: Expression) -> str:
    return "42" if args.expression == "6*7" else "?"
