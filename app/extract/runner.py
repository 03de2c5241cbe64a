"""Structured extraction through Parley's provider interface, so every call goes through the
router (failover, retries, the call log under feature "extract") and the response cache.

How the model is made to answer in the schema depends on what it can do:

- ``tools`` (Anthropic, OpenAI): the schema is a tool the model must call
  (``ChatRequest.tool_choice``); the call's arguments are the answer.
- ``json_schema`` (the built-in model, OpenAI-compatible servers): ``response_schema`` asks
  for a JSON reply; llama.cpp turns the schema into a grammar, OpenAI into JSON-schema mode.

The answer is validated with the extractor's Pydantic class. When validation fails, the
model is shown the errors and asked again, at most ``max_retries`` times; then
:class:`ExtractionFailed` names the fields that were wrong.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ValidationError

from app.agent.tools import describe_validation_error
from app.errors import ParleyError
from app.extract.schemas import EXTRACTORS, Extractor
from app.llm.base import ChatMessage, ChatRequest, Provider, TextDelta, ToolCall, ToolSpec

FEATURE = "extract"
Mode = Literal["tools", "json_schema"]


class ExtractionFailed(ParleyError):
    user_message = "The model's answer did not fit the schema."

    def __init__(self, message: str, *, fields: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.fields = fields


@dataclass(frozen=True, slots=True)
class Extraction:
    extractor: str
    value: BaseModel
    attempts: int


def _spec(extractor: Extractor) -> ToolSpec:
    return ToolSpec(
        extractor.name,
        (extractor.schema.__doc__ or extractor.label).strip(),
        extractor.schema.model_json_schema(),
    )


def _instructions(extractor: Extractor, mode: Mode) -> str:
    how = (
        f"Call the tool {extractor.name} with what you extract."
        if mode == "tools"
        else "Answer with one JSON object that matches this JSON schema, and nothing else:\n"
        + json.dumps(extractor.schema.model_json_schema())
    )
    return f"Extract structured data from the user's text. {_task(extractor)} {how}"


def _task(extractor: Extractor) -> str:
    return (extractor.schema.__doc__ or "").strip()


async def extract(
    provider: Provider,
    *,
    model: str,
    extractor: str,
    text: str,
    mode: Mode = "tools",
    max_retries: int = 2,
    metadata: dict[str, str] | None = None,
) -> Extraction:
    """Run one extractor over ``text``. Raises :class:`ExtractionFailed` or a
    :class:`~app.errors.ProviderError`."""
    chosen = EXTRACTORS.get(extractor)
    if chosen is None:
        raise ExtractionFailed(f"No extractor named {extractor!r}. Try: {', '.join(EXTRACTORS)}.")
    spec = _spec(chosen)
    messages = [ChatMessage("system", _instructions(chosen, mode)), ChatMessage("user", text)]
    problem = ""
    fields: tuple[str, ...] = ()
    for attempt in range(1, max_retries + 2):
        request = ChatRequest(
            model=model,
            messages=tuple(messages),
            temperature=0,
            metadata={**(metadata or {}), "feature": FEATURE, "extractor": chosen.name},
            tools=(spec,) if mode == "tools" else (),
            tool_choice=chosen.name if mode == "tools" else None,
            response_schema=spec.parameters if mode == "json_schema" else None,
        )
        parts: list[str] = []
        call: ToolCall | None = None
        async for event in provider.stream(request):
            if isinstance(event, TextDelta):
                parts.append(event.text)
            elif isinstance(event, ToolCall) and event.name == chosen.name and call is None:
                call = event
        raw = call.arguments if call is not None else "".join(parts)
        try:
            value = chosen.schema.model_validate_json(_json_part(raw))
        except ValidationError as exc:
            problem = describe_validation_error(exc)
            fields = tuple(".".join(str(p) for p in e["loc"]) for e in exc.errors())
        else:
            return Extraction(chosen.name, value, attempt)
        if call is not None:
            messages.append(ChatMessage("assistant", "", tool_calls=(call,)))
            messages.append(
                ChatMessage("tool", f"Invalid: {problem}", tool_call_id=call.id, is_error=True)
            )
        else:
            messages.append(ChatMessage("assistant", raw))
        messages.append(
            ChatMessage("user", f"That did not fit the schema ({problem}). Try again, fixed.")
        )
    named = ", ".join(f or "(the whole answer)" for f in fields)
    raise ExtractionFailed(
        f"{chosen.label}: the model's answer was still invalid after {max_retries + 1} "
        f"tries. Field(s): {named}. {problem}",
        fields=fields,
    )


def _json_part(raw: str) -> str:
    """The JSON object in a reply, without a Markdown fence or words around it."""
    start, end = raw.find("{"), raw.rfind("}")
    return raw[start : end + 1] if 0 <= start < end else raw
