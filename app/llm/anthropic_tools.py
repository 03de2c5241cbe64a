"""Tool calling in Anthropic's Messages API shape: ``tools`` and ``tool_choice`` in the
request, an assistant turn's calls as ``tool_use`` blocks, and results as ``tool_result``
blocks in the next user turn. Plain dicts, no SDK: :mod:`app.llm.anthropic_api` sends them.
"""

from __future__ import annotations

import json
from typing import Any

from app.llm.base import ChatMessage, ChatRequest


def tool_use_blocks(message: ChatMessage) -> list[dict[str, Any]]:
    """An assistant turn that called tools: its text, then one ``tool_use`` block per call."""
    blocks: list[dict[str, Any]] = []
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    for call in message.tool_calls:
        try:
            arguments = json.loads(call.arguments or "{}")
        except ValueError:
            arguments = {}
        blocks.append(
            {
                "type": "tool_use",
                "id": call.id,
                "name": call.name,
                "input": arguments if isinstance(arguments, dict) else {},
            }
        )
    return blocks


def add_tool_result(turns: list[dict[str, Any]], message: ChatMessage) -> None:
    """A tool's result goes back as a ``tool_result`` block in a user turn; the results of
    one assistant turn's calls share that user turn, as the Messages API requires."""
    block: dict[str, Any] = {
        "type": "tool_result",
        "tool_use_id": message.tool_call_id,
        "content": message.content,
    }
    if message.is_error:
        block["is_error"] = True
    last = turns[-1] if turns else None
    if (
        last is not None
        and last["role"] == "user"
        and isinstance(last["content"], list)
        and all(b.get("type") == "tool_result" for b in last["content"])
    ):
        last["content"].append(block)
    else:
        turns.append({"role": "user", "content": [block]})


def tool_params(request: ChatRequest) -> dict[str, Any]:
    """``tools`` and ``tool_choice`` for the Messages API (nothing when no tools are offered)."""
    if not request.tools:
        return {}
    params: dict[str, Any] = {
        "tools": [
            {"name": t.name, "description": t.description, "input_schema": t.parameters}
            for t in request.tools
        ]
    }
    if request.tool_choice:
        params["tool_choice"] = {"type": "tool", "name": request.tool_choice}
    return params
