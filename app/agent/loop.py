"""The agent loop: the model decides, calls a tool, observes the result, and repeats, until it
answers or a limit stops it.

One use case, top to bottom in :func:`run_agent`:

1. Ask the model, offering the tools: natively (``ChatRequest.tools``) or, for models
   without tool calling, through :mod:`app.agent.text_protocol`. Each call carries
   ``metadata["feature"] = "agent"``, so the call log files it (tokens, cost) under "agent".
2. No tool call in the reply: that reply is the answer; the run ends ``answered``.
3. Otherwise run each call in order, each a step: :class:`StepStarted`, then
   :class:`StepFinished` with the result or the error and the duration. An unknown tool,
   bad arguments or a failing tool is an error *result*: the model sees it and goes on.
4. Repeat, until a limit: ``max_iterations`` model calls, ``max_tokens`` over the run, or
   ``max_seconds`` of wall time; then :class:`AgentDone` says which.

Cancellation is immediate: setting ``cancel`` (or cancelling the consuming task) stops the
model's stream or the running tool at its next await, and the run ends ``cancelled``. Every
event is a frozen dataclass with :meth:`as_dict`, for streaming to a UI and storing.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from app.agent import text_protocol
from app.agent.tools import Toolbox, ToolError, parse_arguments
from app.errors import ProviderError
from app.llm.base import ChatMessage, ChatRequest, Provider, TextDelta, ToolCall, Usage

FEATURE = "agent"
StopReason = Literal["answered", "iterations", "tokens", "time", "cancelled", "error"]
StepStatus = Literal["ok", "error", "cancelled"]


@dataclass(frozen=True, slots=True)
class AgentLimits:
    max_iterations: int = 8  # model calls per run
    max_tokens: int = 50_000  # input + output tokens over the run
    max_seconds: float = 120.0  # wall time of the run
    tool_timeout: float = 30.0  # one tool call
    max_result_chars: int = 8_000  # a tool result is cut to this before the model reads it
    step_max_tokens: int | None = None  # max_tokens of each model call (provider default)


class _Event:
    def as_dict(self) -> dict[str, Any]:
        return {"type": type(self).__name__, **dataclasses.asdict(self)}  # type: ignore[call-overload]


@dataclass(frozen=True, slots=True)
class AgentText(_Event):
    """Text of the model's reply, as it streams (the answer, or words before a tool call)."""

    text: str


@dataclass(frozen=True, slots=True)
class StepStarted(_Event):
    index: int  # 1-based over the run
    call_id: str
    tool: str
    arguments: str  # JSON text, as the model sent it


@dataclass(frozen=True, slots=True)
class StepFinished(_Event):
    index: int
    call_id: str
    tool: str
    arguments: str
    status: StepStatus
    result: str  # what the model reads: the output, or the error's message
    error: str | None
    duration_ms: int


@dataclass(frozen=True, slots=True)
class AgentDone(_Event):
    reason: StopReason
    answer: str
    iterations: int
    steps: int
    input_tokens: int
    output_tokens: int
    error: str | None = None


AgentEvent = AgentText | StepStarted | StepFinished | AgentDone


class _Stopped(Exception):
    def __init__(self, reason: StopReason) -> None:
        super().__init__(reason)
        self.reason: StopReason = reason


T = TypeVar("T")


async def _race(
    work: Awaitable[T], cancel: asyncio.Event, deadline: float, *, late: StopReason = "time"
) -> T:
    """``work``'s result, unless ``cancel`` is set or ``deadline`` passes first (then the
    work is cancelled and awaited, and :class:`_Stopped` says why)."""
    task = asyncio.ensure_future(work)
    waiter = asyncio.ensure_future(cancel.wait())
    try:
        timeout = max(0.0, deadline - time.monotonic())
        done, _ = await asyncio.wait(
            {task, waiter}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if task in done:
            return task.result()
        raise _Stopped("cancelled" if cancel.is_set() else late)
    finally:
        for pending in (task, waiter):
            if not pending.done():
                pending.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await pending


async def run_agent(
    provider: Provider,
    *,
    model: str,
    messages: Sequence[ChatMessage],
    toolbox: Toolbox,
    limits: AgentLimits = AgentLimits(),
    native_tools: bool = True,
    cancel: asyncio.Event | None = None,
    metadata: Mapping[str, str] | None = None,
) -> AsyncIterator[AgentEvent]:
    """Run the loop; yield its events, ending with exactly one :class:`AgentDone`."""
    cancel = cancel or asyncio.Event()
    deadline = time.monotonic() + limits.max_seconds
    history = list(messages)
    if not native_tools and len(toolbox):
        history.insert(0, ChatMessage("system", text_protocol.instructions(toolbox.specs())))
    used = Usage()
    steps = 0
    text = ""

    def done(reason: StopReason, iterations: int, error: str | None = None) -> AgentDone:
        return AgentDone(
            reason, text, iterations, steps, used.input_tokens, used.output_tokens, error
        )

    for iteration in range(1, limits.max_iterations + 1):
        request = ChatRequest(
            model=model,
            messages=tuple(history),
            max_tokens=limits.step_max_tokens,
            metadata={**(metadata or {}), "feature": FEATURE},
            tools=toolbox.specs() if native_tools else (),
        )
        parts: list[str] = []
        calls: list[ToolCall] = []
        stream = aiter(provider.stream(request))
        try:
            while True:
                try:
                    event = await _race(anext(stream), cancel, deadline)
                except StopAsyncIteration:
                    break
                if isinstance(event, TextDelta):
                    parts.append(event.text)
                    if native_tools:
                        yield AgentText(event.text)
                elif isinstance(event, ToolCall):
                    calls.append(event)
                elif isinstance(event, Usage):
                    used = Usage(
                        used.input_tokens + event.input_tokens,
                        used.output_tokens + event.output_tokens,
                    )
        except _Stopped as stop:
            text = "".join(parts)
            yield done(stop.reason, iteration)
            return
        except ProviderError as exc:
            text = "".join(parts)
            yield done("error", iteration, exc.message)
            return
        finally:
            close = getattr(stream, "aclose", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()
        text = "".join(parts)
        if not native_tools:
            parsed = text_protocol.parse(text, f"call_{iteration}")
            calls = [parsed] if parsed is not None else []
            if parsed is None and text:
                yield AgentText(text)
        if not calls:
            yield done("answered", iteration)
            return
        if used.input_tokens + used.output_tokens >= limits.max_tokens:
            yield done("tokens", iteration)
            return
        history.append(
            ChatMessage("assistant", text, tool_calls=tuple(calls))
            if native_tools
            else ChatMessage("assistant", text)
        )
        for call in calls:
            steps += 1
            yield StepStarted(steps, call.id, call.name, call.arguments)
            started = time.monotonic()
            status: StepStatus = "ok"
            error: str | None = None
            try:
                result = await _run_tool(toolbox, call, cancel, deadline, limits)
            except _Stopped as stop:
                ms = round((time.monotonic() - started) * 1000)
                message = "Cancelled." if stop.reason == "cancelled" else "Out of time."
                yield StepFinished(
                    steps, call.id, call.name, call.arguments, "cancelled", "", message, ms
                )
                yield done(stop.reason, iteration)
                return
            except ToolError as exc:
                status, error, result = "error", exc.message, exc.message
            ms = round((time.monotonic() - started) * 1000)
            result = _cut(result, limits.max_result_chars)
            yield StepFinished(steps, call.id, call.name, call.arguments, status, result, error, ms)
            if native_tools:
                history.append(
                    ChatMessage("tool", result, tool_call_id=call.id, is_error=status == "error")
                )
            else:
                history.append(
                    text_protocol.result_message(call, result, is_error=status == "error")
                )
    yield done("iterations", limits.max_iterations)


async def _run_tool(
    toolbox: Toolbox,
    call: ToolCall,
    cancel: asyncio.Event,
    deadline: float,
    limits: AgentLimits,
) -> str:
    """One call's result text. Raises :class:`ToolError` (unknown tool, bad arguments, the
    tool's own failure or timeout) or :class:`_Stopped` (cancelled, or the run's time is up)."""
    tool = toolbox.get(call.name)
    if tool is None:
        known = ", ".join(toolbox.names) or "none"
        raise ToolError(f"Unknown tool {call.name!r}. Available tools: {known}.")
    arguments = parse_arguments(call.arguments)
    tool_deadline = time.monotonic() + limits.tool_timeout
    try:
        return await _race(tool.call(arguments), cancel, min(deadline, tool_deadline), late="time")
    except _Stopped as stop:
        if stop.reason == "time" and tool_deadline < deadline:
            raise ToolError(
                f"The tool {call.name} did not finish within {limits.tool_timeout:g} s."
            ) from None
        raise
    except ToolError:
        raise
    except Exception as exc:  # a tool's bug or an unexpected failure is the model's to see
        raise ToolError(f"The tool {call.name} failed: {exc}") from exc


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[cut: {len(text) - limit} more characters]"
