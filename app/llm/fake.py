"""A scripted provider for tests and demos. It speaks the real interface, with no model.

Use it in code with a list of :class:`ScriptedReply`, or from a JSON file of rules
(``PARLEY_FAKE_SCRIPT``) so a running app can be driven by a browser test::

    [{"match": "stop me", "reply": "...", "chunk_chars": 3, "delay_ms": 50},
     {"match": "fail", "reply": "Half a", "error": "overloaded"}]

A rule's ``match`` is a regular expression searched in the last user message; the first
rule that matches wins. With no match the provider echoes the message back.

For agent mode a rule can ask for tools, and another answer once they have run::

    [{"match": "^add up", "tool_calls": [{"name": "calculate",
                                          "arguments": {"expression": "6*7"}}]},
     {"match": "^add up", "after_tool": true, "reply": "It is 42."}]

``tool_calls`` are asked for after the rule's text (each call's id is ``call_<n>``). A rule
with ``"after_tool": true`` matches only a request whose last message is a tool's result;
any other rule only one whose last message is not, so a rule that calls a tool is not
played again when the loop comes back with the result.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from app.errors import (
    AuthenticationFailed,
    BadRequest,
    ProviderConnectionError,
    ProviderError,
    ProviderOverloaded,
    ProviderTimeout,
    RateLimited,
    StreamInterrupted,
)
from app.llm.base import (
    ChatRequest,
    Finish,
    FinishReason,
    StreamEvent,
    TextDelta,
    ToolCall,
    Usage,
)

ERRORS: dict[str, type[ProviderError]] = {
    "overloaded": ProviderOverloaded,
    "rate_limited": RateLimited,
    "timeout": ProviderTimeout,
    "connection": ProviderConnectionError,
    "auth": AuthenticationFailed,
    "bad_request": BadRequest,
    "interrupted": StreamInterrupted,
}


@dataclass(frozen=True, slots=True)
class ScriptedReply:
    """One scripted reply: its chunks, pacing, and how it ends."""

    chunks: tuple[str, ...]
    delay: float = 0.0
    first_delay: float = 0.0
    error: ProviderError | None = None
    usage: Usage | None = None
    finish: FinishReason = "stop"
    tool_calls: tuple[ToolCall, ...] = ()  # asked for after the text; finish is then tool_use

    @classmethod
    def of(cls, text: str, *, chunk_chars: int = 4, **kwargs: object) -> ScriptedReply:
        chunks = tuple(text[i : i + chunk_chars] for i in range(0, len(text), chunk_chars))
        return cls(chunks=chunks, **kwargs)  # type: ignore[arg-type]


@dataclass
class ScriptedProvider:
    """Plays scripted replies, in order or chosen per request; records every request."""

    replies: Sequence[ScriptedReply] | Callable[[ChatRequest], ScriptedReply]
    name: str = "fake"
    requests: list[ChatRequest] = field(default_factory=list)
    _next: int = 0

    def _choose(self, request: ChatRequest) -> ScriptedReply:
        if callable(self.replies):
            return self.replies(request)
        if self._next >= len(self.replies):
            raise AssertionError("ScriptedProvider ran out of scripted replies")
        reply = self.replies[self._next]
        self._next += 1
        return reply

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        self.requests.append(request)
        reply = self._choose(request)
        if reply.first_delay:
            await asyncio.sleep(reply.first_delay)
        # Like a real model, stop at max_tokens (a chunk counts as a token here).
        limit = request.max_tokens or len(reply.chunks)
        chunks = reply.chunks[:limit]
        for i, chunk in enumerate(chunks):
            if i and reply.delay:
                await asyncio.sleep(reply.delay)
            yield TextDelta(chunk)
        if reply.error is not None:
            raise reply.error
        for call in reply.tool_calls:
            yield call
        text = "".join(chunks)
        prompt = sum(len(m.content.split()) for m in request.messages)
        yield reply.usage or Usage(input_tokens=prompt, output_tokens=len(text.split()))
        if len(chunks) < len(reply.chunks):
            yield Finish("length")
        else:
            yield Finish("tool_use" if reply.tool_calls else reply.finish)


@dataclass(frozen=True, slots=True)
class Rule:
    pattern: re.Pattern[str]
    reply: ScriptedReply
    after_tool: bool = False  # matches only right after a tool's result (see the docstring)


def _tool_calls(path: Path, raw: object) -> tuple[ToolCall, ...]:
    """A rule's ``tool_calls``: a list of ``{"name": ..., "arguments": {...}}``."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ValueError(f"{path}: tool_calls must be a list")
    calls: list[ToolCall] = []
    for n, item in enumerate(raw, start=1):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ValueError(f"{path}: each tool call needs a name")
        arguments = json.dumps(item.get("arguments", {}))
        calls.append(ToolCall(f"call_{n}", item["name"], arguments))
    return tuple(calls)


def load_rules(path: Path) -> list[Rule]:
    """Read a JSON rule file (see the module docstring). Raises ValueError when malformed."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(raw, list):
        raise ValueError(f"{path}: expected a JSON list of rules")
    rules: list[Rule] = []
    for item in raw:
        error_name = item.get("error")
        if error_name is not None and error_name not in ERRORS:
            raise ValueError(f"{path}: unknown error {error_name!r}; use one of {sorted(ERRORS)}")
        reply = ScriptedReply.of(
            str(item.get("reply", "")),
            chunk_chars=int(item.get("chunk_chars", 4)),
            delay=float(item.get("delay_ms", 0)) / 1000,
            first_delay=float(item.get("first_delay_ms", 0)) / 1000,
            error=ERRORS[error_name](item.get("error_message")) if error_name else None,
            tool_calls=_tool_calls(path, item.get("tool_calls")),
        )
        pattern = re.compile(str(item.get("match", ".*")), re.IGNORECASE)
        rules.append(Rule(pattern, reply, after_tool=bool(item.get("after_tool", False))))
    return rules


def rule_provider(rules: Sequence[Rule], *, name: str = "fake") -> ScriptedProvider:
    """A provider that answers by the first matching rule, or echoes the message."""

    def choose(request: ChatRequest) -> ScriptedReply:
        last = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
        after_tool = bool(request.messages) and request.messages[-1].role == "tool"
        for rule in rules:
            if rule.after_tool == after_tool and rule.pattern.search(last):
                return rule.reply
        return ScriptedReply.of(f"You said: {last}", delay=0.02)

    return ScriptedProvider(choose, name=name)
