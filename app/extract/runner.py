"""Structured extraction through Parley's provider interface, with Instructor
(:mod:`app.llm.structured`), so every call goes through the router (failover, retries, the
call log under feature "extract"), the guards and the response cache.

How the model is made to answer in the schema depends on what it can do:

- ``tools`` (Anthropic, OpenAI): the schema is a tool the model must call
  (``ChatRequest.tool_choice``); the call's arguments are the answer.
- ``json_schema`` (the built-in model, OpenAI-compatible servers): ``response_schema`` asks
  for a JSON reply; llama.cpp turns the schema into a grammar, OpenAI into JSON-schema mode.

Instructor validates the answer with the extractor's Pydantic class. When validation fails,
it shows the model the errors and asks again (its own re-ask messages), at most
``max_retries`` times; then :class:`ExtractionFailed` names the fields that were wrong.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from pydantic import BaseModel

from app.errors import ParleyError
from app.extract.schemas import EXTRACTORS, Extractor
from app.llm.base import ChatMessage, Provider
from app.llm.structured import Mode, StructuredOutputInvalid, structured

FEATURE = "extract"


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


def _instructions(extractor: Extractor, mode: Mode) -> str:
    task = (extractor.schema.__doc__ or "").strip()
    how = (
        "Answer by calling the tool you are given."
        if mode == "tools"
        else "Answer with one JSON object that matches this JSON schema, and nothing else:\n"
        + json.dumps(extractor.schema.model_json_schema())
    )
    return f"Extract structured data from the user's text. {task} {how}"


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
    try:
        done = await structured(
            provider,
            model=model,
            response_model=chosen.schema,
            messages=(
                ChatMessage("system", _instructions(chosen, mode)),
                ChatMessage("user", text),
            ),
            mode=mode,
            max_retries=max_retries,
            metadata={**(metadata or {}), "feature": FEATURE, "extractor": chosen.name},
        )
    except StructuredOutputInvalid as exc:
        raise ExtractionFailed(f"{chosen.label}: {exc.message}", fields=exc.fields) from exc
    return Extraction(chosen.name, done.value, done.attempts)
