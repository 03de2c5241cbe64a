"""Structured output with Instructor, over Parley's own provider interface. The one module
that imports ``instructor``.

Instructor is built to patch an SDK client's ``create``. Here the function it patches is
Parley's: it turns the chat-completion arguments Instructor prepares (the messages, and the
response model as a forced tool or as a JSON-schema ``response_format``) into a
:class:`~app.llm.base.ChatRequest`, streams that through the :class:`~app.llm.base.Provider`
it was given, and hands the reply back to Instructor shaped as a chat completion. So
Instructor does what it is for: the tool schema from the Pydantic class
(``generate_openai_schema``), validation, re-asking with its own messages when validation
fails, and bounded retries (tenacity). It never reaches a vendor itself: the provider is the
registry's, so each try goes through the guards, the router, the cache and the call log, and
whichever adapter answers (Anthropic ``tool_use``, OpenAI ``tool_calls`` or JSON schema,
llama.cpp's JSON-schema grammar) maps the request as it does for any other call.

The chat-completion shape is Instructor's common language (its OpenAI handlers), not a
vendor: Parley's adapters translate it like any request, so one pair of Instructor modes
serves every provider. ``tools`` is Instructor's ``Mode.TOOLS``; ``json_schema`` its
``Mode.JSON_SCHEMA``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

import instructor
from instructor.core.exceptions import (
    IncompleteOutputException,
    InstructorRetryException,
    ResponseParsingError,
)
from pydantic import BaseModel, ValidationError

from app.errors import ParleyError, ProviderError
from app.llm.base import (
    ChatMessage,
    ChatRequest,
    ErrorEvent,
    Finish,
    Provider,
    TextDelta,
    ToolCall,
    ToolSpec,
)

Mode = Literal["tools", "json_schema"]
MODES: dict[Mode, instructor.Mode] = {
    "tools": instructor.Mode.TOOLS,
    "json_schema": instructor.Mode.JSON_SCHEMA,
}
WHOLE = "(the whole answer)"  # the field named when the answer was not JSON at all

T = TypeVar("T", bound=BaseModel)


class StructuredOutputInvalid(ParleyError):
    """The model's answer still did not validate after the last retry (or was cut off).
    ``fields``: the dotted paths of the fields that were wrong, in the last answer."""

    user_message = "The model's answer did not fit the schema."

    def __init__(self, message: str, *, fields: tuple[str, ...] = (), attempts: int = 0) -> None:
        super().__init__(message)
        self.fields = fields
        self.attempts = attempts


@dataclass(frozen=True, slots=True)
class Structured(Generic[T]):
    value: T
    attempts: int  # 1 when the first answer validated


# ----- the reply as Instructor reads it (the chat-completion shape, duck-typed) ---------------


class _Function(BaseModel):
    name: str
    arguments: str


class _ToolCall(BaseModel):
    id: str
    type: Literal["function"] = "function"
    function: _Function


class _Message(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str | None = None
    tool_calls: list[_ToolCall] | None = None


class _Choice(BaseModel):
    index: int = 0
    message: _Message
    finish_reason: str


class _Completion(BaseModel):
    choices: list[_Choice]


# ----- Instructor's arguments to a ChatRequest, and a provider's stream to a completion -----


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: only text is ever sent here
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
    return ""


def _message(raw: Mapping[str, Any]) -> ChatMessage:
    role = raw["role"]
    if role == "tool":  # only Instructor's re-ask sends one: the validation errors
        return ChatMessage(
            "tool", _text(raw.get("content")), tool_call_id=raw["tool_call_id"], is_error=True
        )
    calls = tuple(
        ToolCall(c["id"], c["function"]["name"], c["function"]["arguments"])
        for c in raw.get("tool_calls") or ()
    )
    return ChatMessage(role, _text(raw.get("content")), tool_calls=calls)


def to_request(kwargs: Mapping[str, Any], *, model: str, metadata: dict[str, str]) -> ChatRequest:
    """The request for one try, from the arguments Instructor passes its ``create``."""
    tools = tuple(
        ToolSpec(f["name"], f.get("description", ""), f["parameters"])
        for f in (t["function"] for t in kwargs.get("tools") or ())
    )
    choice = kwargs.get("tool_choice")
    answer_format = kwargs.get("response_format") or {}
    schema = (
        answer_format["json_schema"]["schema"]
        if answer_format.get("type") == "json_schema"
        else None
    )
    return ChatRequest(
        model=model,
        messages=tuple(_message(m) for m in kwargs["messages"]),
        temperature=kwargs.get("temperature"),
        max_tokens=kwargs.get("max_tokens"),
        metadata=dict(metadata),
        tools=tools,
        tool_choice=choice["function"]["name"] if isinstance(choice, Mapping) else None,
        response_schema=schema,
    )


async def _complete(provider: Provider, request: ChatRequest) -> _Completion:
    parts: list[str] = []
    calls: list[_ToolCall] = []
    finish = "stop"
    async for event in provider.stream(request):
        if isinstance(event, TextDelta):
            parts.append(event.text)
        elif isinstance(event, ToolCall):
            function = _Function(name=event.name, arguments=event.arguments)
            calls.append(_ToolCall(id=event.id, function=function))
        elif isinstance(event, Finish):
            finish = event.reason
        elif isinstance(event, ErrorEvent):
            raise event.error
    message = _Message(content="".join(parts) or None, tool_calls=calls or None)
    return _Completion(choices=[_Choice(message=message, finish_reason=finish)])


def _openai_message(message: ChatMessage) -> dict[str, str]:
    if message.images or message.tool_calls or message.role == "tool":
        raise ValueError("structured output takes text messages only")
    return {"role": message.role, "content": message.content}


# ----- the use case -------------------------------------------------------------------------


async def structured(
    provider: Provider,
    *,
    model: str,
    response_model: type[T],
    messages: Sequence[ChatMessage],
    mode: Mode = "tools",
    max_retries: int = 2,
    metadata: dict[str, str] | None = None,
    temperature: float = 0,
) -> Structured[T]:
    """Have the model answer with a ``response_model``: Instructor validates, re-asks at
    most ``max_retries`` times, and then :class:`StructuredOutputInvalid` names the fields.
    A provider failure raises its :class:`~app.errors.ProviderError` (not retried here:
    the router retries and fails over)."""
    attempts = 0

    async def create(**kwargs: Any) -> _Completion:
        nonlocal attempts
        attempts += 1
        return await _complete(provider, to_request(kwargs, model=model, metadata=metadata or {}))

    client = instructor.AsyncInstructor(
        client=None, create=instructor.patch(create=create, mode=MODES[mode]), mode=MODES[mode]
    )
    try:
        value = await client.create(
            response_model=response_model,
            messages=[_openai_message(m) for m in messages],  # type: ignore[misc]
            max_retries=max_retries,
            strict=False,  # JSON's lax rules, as model_validate_json: "1" is no int, 1 a float
            temperature=temperature,
        )
    except IncompleteOutputException as exc:
        raise StructuredOutputInvalid(
            "The answer was cut off at the model's token limit.", attempts=attempts
        ) from exc
    except InstructorRetryException as exc:
        if isinstance(exc.__cause__, ProviderError):
            raise exc.__cause__ from None
        raise _invalid(exc, attempts) from exc
    return Structured(_clean(value, response_model), attempts)


def _clean(value: object, response_model: type[T]) -> T:
    """The value as the class asked for: Instructor answers with an instance of its own
    subclass of it (with its schema helpers), carrying the raw completion."""
    if not isinstance(value, response_model):
        raise TypeError(f"Instructor returned {type(value).__name__}")
    vars(value).pop("_raw_response", None)
    return response_model.model_validate(value.model_dump())


def _invalid(exc: InstructorRetryException, attempts: int) -> StructuredOutputInvalid:
    last = exc.failed_attempts[-1].exception if exc.failed_attempts else exc.__cause__
    if isinstance(last, ValidationError):
        fields = tuple(
            dict.fromkeys(".".join(str(p) for p in e["loc"]) or WHOLE for e in last.errors())
        )
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or WHOLE}: {e['msg']}" for e in last.errors()
        )
    elif isinstance(last, ResponseParsingError):
        fields, problems = (WHOLE,), "the model did not answer in the schema"
    else:
        fields, problems = (), str(last or exc)
    tries = exc.n_attempts or attempts
    return StructuredOutputInvalid(
        f"The model's answer was still invalid after {tries} {'try' if tries == 1 else 'tries'}. "
        f"Field(s): {', '.join(fields) or WHOLE}. {problems}",
        fields=fields,
        attempts=tries,
    )
