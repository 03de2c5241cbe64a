"""Tool calling for models without it natively (the built-in model): a plain-text protocol.

The tools and the format go into a system message. The model calls a tool by answering with
one line ``TOOL_CALL {"name": ..., "arguments": {...}}`` (anywhere in its reply; the first
such line counts); anything else is its answer. A tool's result goes back as a user turn.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from app.llm.base import ChatMessage, ToolCall, ToolSpec

MARKER = "TOOL_CALL"
_CALL = re.compile(rf"^\s*{MARKER}\s*(\{{.*\}})\s*$", re.MULTILINE)


def instructions(specs: Sequence[ToolSpec]) -> str:
    """The system message that teaches the protocol and lists the tools."""
    lines = [
        "You can use tools. To call one, reply with exactly one line and nothing else:",
        f'{MARKER} {{"name": "<tool name>", "arguments": {{...}}}}',
        "You will then get the tool's result and can call another tool or answer.",
        "When you can answer, reply normally without that line.",
        "Tools:",
    ]
    for spec in specs:
        schema = json.dumps(spec.parameters.get("properties", {}), separators=(",", ":"))
        lines.append(f"- {spec.name}: {spec.description} Arguments: {schema}")
    return "\n".join(lines)


def parse(text: str, call_id: str) -> ToolCall | None:
    """The first tool call in a reply, or None when the reply is an answer.

    A line with the marker but unreadable JSON is still a call (to a tool named ``""`` when
    no name can be read), so the loop reports the bad arguments to the model instead of
    showing the line to the user as an answer.
    """
    match = _CALL.search(text)
    if match is None:
        if MARKER in text:
            return ToolCall(call_id, "", text[text.index(MARKER) + len(MARKER) :].strip())
        return None
    try:
        payload = json.loads(match.group(1))
    except ValueError:
        return ToolCall(call_id, "", match.group(1))
    if not isinstance(payload, dict):
        return ToolCall(call_id, "", match.group(1))
    name = payload.get("name")
    arguments = payload.get("arguments", {})
    return ToolCall(
        call_id,
        name if isinstance(name, str) else "",
        json.dumps(arguments),
    )


def result_message(call: ToolCall, result: str, *, is_error: bool) -> ChatMessage:
    """A tool's result as the user turn the model reads next."""
    label = "failed" if is_error else "returned"
    return ChatMessage("user", f"The tool {call.name or '(unnamed)'} {label}:\n{result}")
